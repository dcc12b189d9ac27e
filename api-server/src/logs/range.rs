//! The `start_date` / `end_date` of `GET /logs`: inclusive bounds, each an ISO date (the whole
//! UTC day) or an RFC 3339 time.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::error::ApiError;

/// The instants an export covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// `None`: from the beginning.
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
}

#[derive(Clone, Copy)]
enum Bound {
    Start,
    End,
}

impl Range {
    /// A missing start is the beginning; a missing end, or one in the future, is `now` (nothing
    /// later exists yet, and the manifest then says exactly what the export covers). A start
    /// after the end is 400 naming `start_date`; a malformed date is 400 naming its parameter.
    pub fn parse(
        start: Option<&str>,
        end: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        let from = start
            .map(|text| bound("start_date", text, Bound::Start))
            .transpose()?;
        let end = end
            .map(|text| bound("end_date", text, Bound::End))
            .transpose()?;
        let to = end.map_or(now, |end| end.min(now));
        if let Some(from) = from
            && from > to
        {
            let what = if end.is_some_and(|end| end <= now) {
                "end_date"
            } else {
                "the present"
            };
            return Err(ApiError::bad_request(
                "start_date",
                format!("start_date is after {what}"),
            ));
        }
        Ok(Self { from, to })
    }
}

fn bound(field: &str, text: &str, which: Bound) -> Result<DateTime<Utc>, ApiError> {
    if text.len() == 10
        && let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
    {
        let start = day.and_time(NaiveTime::MIN).and_utc();
        return Ok(match which {
            Bound::Start => start,
            Bound::End => start + TimeDelta::days(1) - TimeDelta::milliseconds(1),
        });
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(
                field,
                format!(
                    "{field} must be an ISO date (2026-11-29: the whole UTC day) or an RFC 3339 \
                     time (2026-11-29T08:30:00Z)"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn field(error: ApiError) -> String {
        match error {
            ApiError::BadRequest { field, .. } => field.unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_cover_whole_days_and_times_are_exact() {
        let now = at("2030-01-01T00:00:00Z");
        let range = Range::parse(Some("2026-11-29"), Some("2026-11-29"), now).unwrap();
        assert_eq!(range.from, Some(at("2026-11-29T00:00:00Z")));
        assert_eq!(range.to, at("2026-11-29T23:59:59.999Z"));
        let range = Range::parse(
            Some("2026-11-29T08:30:00+01:00"),
            Some("2026-11-29T09:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(range.from, Some(at("2026-11-29T07:30:00Z")));
        assert_eq!(range.to, at("2026-11-29T09:00:00Z"));
    }

    #[test]
    fn missing_bounds_are_the_beginning_and_now() {
        let now = at("2026-11-29T12:00:00Z");
        assert_eq!(
            Range::parse(None, None, now).unwrap(),
            Range {
                from: None,
                to: now
            }
        );
        assert_eq!(Range::parse(None, Some("2031-01-01"), now).unwrap().to, now);
    }

    #[test]
    fn bad_dates_name_their_parameter() {
        let now = at("2026-11-29T12:00:00Z");
        for (start, end, expected) in [
            (Some("yesterday"), None, "start_date"),
            (None, Some("2026-13-01"), "end_date"),
            (Some("2026-1-5"), None, "start_date"),
            (Some(""), None, "start_date"),
            (Some("2026-11-29"), Some("2026-11-28"), "start_date"),
            (Some("2026-11-30"), None, "start_date"),
        ] {
            assert_eq!(field(Range::parse(start, end, now).unwrap_err()), expected);
        }
        // A start on the current day is fine: it is not after now.
        assert!(Range::parse(Some("2026-11-29"), None, now).is_ok());
    }
}
