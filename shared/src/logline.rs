//! Access-log lines (DESIGN.md, "Logs"): tab-separated columns, `-` for an absent or empty
//! value, and escapes so that no value can add a column or a line.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};

/// A log time: RFC 3339 UTC with milliseconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The seven columns the API and gateway logs share (DESIGN.md): docId, end-time, start-time,
/// remote-IP, method, request-URI, HTTP-status; `None` values are `-`.
pub struct RequestHead<'a> {
    pub document: Option<&'a str>,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub remote: Option<IpAddr>,
    pub method: &'a str,
    pub uri: &'a str,
    pub status: Option<u16>,
}

impl RequestHead<'_> {
    /// The seven columns, joined and escaped.
    pub fn line(&self) -> String {
        join_columns(&[
            self.document.map(str::to_owned),
            self.end.map(time),
            Some(time(self.start)),
            self.remote.map(|ip| ip.to_string()),
            Some(self.method.to_owned()),
            Some(self.uri.to_owned()),
            self.status.map(|status| status.to_string()),
        ])
    }
}

/// Joins `columns` with tabs, each escaped, `-` for `None` or an empty value.
pub fn join_columns<S: AsRef<str>>(columns: &[Option<S>]) -> String {
    let mut line = String::with_capacity(256);
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            line.push('\t');
        }
        match column.as_ref().map(AsRef::as_ref) {
            None | Some("") => line.push('-'),
            Some(value) => escape_into(&mut line, value),
        }
    }
    line
}

/// Appends `value` with the log's escapes: `\` → `\\`, tab → `\t`, newline → `\n`, carriage
/// return → `\r`, any other control character → `\xHH`. A value can therefore never add a
/// column or a line, and the original text is recoverable.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_and_escapes() {
        let line = join_columns(&[Some("a\tb"), None, Some(""), Some("x\\y\nz\u{7}")]);
        assert_eq!(line, "a\\tb\t-\t-\tx\\\\y\\nz\\x07");
    }
}
