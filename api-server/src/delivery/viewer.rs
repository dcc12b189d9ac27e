//! One recipient: the audience record its templates are filled from and the viewer-token
//! fields its sealed link holds, kept with its job (`delivery_jobs.viewer`), and the template
//! variables of one attempt.

use schema::objects::Audience;
use schema::repo::delivery::NewRecipient;
use serde::{Deserialize, Serialize};

use crate::documents::viewers;

/// Names Sealpost sets for every recipient; form fields may not take them.
pub const RESERVED: [&str; 3] = ["link", "placeholder", "docId"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The audience record's fields (empty without a `records` audience).
    pub fields: Vec<(String, String)>,
    /// The viewer-token fields to seal (empty when the audience names no viewer token).
    pub token: Vec<(String, String)>,
    /// A batch delivery's one recipient: every record's viewer, in record order (empty
    /// otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Viewer>,
    /// An `octet-stream` audience's `data`, the base64 text as the producer sent it (spec:
    /// "base64-encoded string to be passed to fulfillment service"): the template variable
    /// `data`, and an XML-RPC `<base64>` parameter where a template is exactly `{data}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The variable an `octet-stream` audience's data fills.
pub const DATA: &str = "data";

/// One recipient per record of a `records` audience, in record order (each with its token
/// when the audience has a viewer token: the tokens `POST /documents/{docId}/links` seals);
/// otherwise one recipient with no fields and an empty token. With `batch`, one recipient
/// holding every record's viewer as its members.
pub fn recipients(
    audience: Option<&Audience>,
    delivery_id: &str,
    batch: bool,
) -> Vec<NewRecipient> {
    let each = one_per_record(audience, delivery_id);
    if !batch || audience.and_then(Audience::records).is_none() {
        return each;
    }
    let members = each
        .into_iter()
        .filter_map(|recipient| serde_json::from_value(recipient.viewer).ok())
        .collect();
    let viewer = Viewer {
        members,
        ..Viewer::default()
    };
    vec![NewRecipient {
        record: None,
        idempotency_key: format!("{delivery_id}.0"),
        viewer: serde_json::to_value(&viewer).unwrap_or_default(),
    }]
}

fn one_per_record(audience: Option<&Audience>, delivery_id: &str) -> Vec<NewRecipient> {
    let viewers: Vec<(Option<i64>, Viewer)> = match audience.and_then(Audience::records) {
        Some(records) => {
            let tokens = viewers::every_record(audience);
            records
                .iter()
                .enumerate()
                .map(|(index, record)| {
                    // `every_record` gives one token per record, in record order.
                    let token = tokens
                        .get(index)
                        .filter(|token| token.record == Some(index))
                        .map(|token| token.fields.clone())
                        .unwrap_or_default();
                    let fields = record
                        .iter()
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect();
                    let viewer = Viewer {
                        fields,
                        token,
                        ..Viewer::default()
                    };
                    (Some(index as i64), viewer)
                })
                .collect()
        }
        None => vec![(None, octet_stream(audience))],
    };
    viewers
        .into_iter()
        .enumerate()
        .map(|(seq, (record, viewer))| NewRecipient {
            record,
            idempotency_key: format!("{delivery_id}.{seq}"),
            viewer: serde_json::to_value(&viewer).unwrap_or_default(),
        })
        .collect()
}

/// The one recipient of an audience without records: with the data of an `octet-stream` one.
fn octet_stream(audience: Option<&Audience>) -> Viewer {
    match audience {
        Some(Audience::OctetStream { data, .. }) => Viewer {
            data: Some(data.clone()),
            ..Viewer::default()
        },
        _ => Viewer::default(),
    }
}

/// The variables of one attempt, first match winning: Sealpost's own (`link`, `placeholder`,
/// `docId`), then an `octet-stream` audience's `data`, then the viewer's record fields, then
/// the deliver request's form fields. So a record's value is never replaced by a form field of
/// the same name.
pub fn variables<'a>(
    own: &'a [(&'static str, String)],
    viewer: &'a Viewer,
    form: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    own.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain(viewer.data.iter().map(|data| (DATA, data.as_str())))
        .chain(viewer.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .chain(form.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use schema::objects::parse_audience;
    use serde_json::json;

    use super::*;

    #[test]
    fn one_recipient_per_record_with_its_token() {
        let audience = parse_audience(&json!({"type": "records", "viewerToken": "{?first_name}",
            "data": {"records": [{"first_name": "Ann", "email": "a@x"}, {"first_name": "Bo", "email": "b@x"}]}}))
        .unwrap();
        let recipients = recipients(Some(&audience), "D", false);
        assert_eq!(recipients.len(), 2);
        assert_eq!(recipients[1].record, Some(1));
        assert_eq!(recipients[1].idempotency_key, "D.1");
        let viewer: Viewer = serde_json::from_value(recipients[0].viewer.clone()).unwrap();
        assert_eq!(viewer.token, [("first_name".to_owned(), "Ann".to_owned())]);
        assert_eq!(viewer.fields.len(), 2);
        // Without an audience: one recipient, no fields, an empty token.
        let none = super::recipients(None, "D", false);
        assert_eq!((none.len(), none[0].record), (1, None));
        // A batch: one recipient whose members are the records' viewers, in order.
        let batch = super::recipients(Some(&audience), "D", true);
        assert_eq!((batch.len(), batch[0].record), (1, None));
        assert_eq!(batch[0].idempotency_key, "D.0");
        let viewer: Viewer = serde_json::from_value(batch[0].viewer.clone()).unwrap();
        assert_eq!(viewer.members.len(), 2);
        assert_eq!(
            viewer.members[1].token,
            [("first_name".to_owned(), "Bo".to_owned())]
        );
    }

    #[test]
    fn an_octet_stream_audience_fills_data() {
        let audience =
            parse_audience(&json!({"type": "octet-stream", "viewerToken": null, "data": "AP8="}))
                .unwrap();
        let recipients = recipients(Some(&audience), "D", false);
        assert_eq!(recipients.len(), 1);
        let viewer: Viewer = serde_json::from_value(recipients[0].viewer.clone()).unwrap();
        assert_eq!(viewer.data.as_deref(), Some("AP8="));
        let form = [("data".to_owned(), "form".to_owned())];
        let values = variables(&[], &viewer, &form);
        assert_eq!(values[0], ("data", "AP8="), "the audience's data wins");
        // A stored recipient from before (no `data`) still reads.
        let old: Viewer = serde_json::from_value(json!({"fields": [], "token": []})).unwrap();
        assert_eq!(old.data, None);
    }

    #[test]
    fn own_values_then_record_then_form() {
        let own = [("link", "L".to_owned())];
        let viewer = Viewer {
            fields: vec![("name".into(), "record".into())],
            ..Viewer::default()
        };
        let form = [
            ("name".to_owned(), "form".to_owned()),
            ("x".into(), "1".into()),
        ];
        let values = variables(&own, &viewer, &form);
        let template =
            schema::objects::Template::parse("{link}-{name}-{x}", schema::objects::Syntax::Line)
                .unwrap();
        assert_eq!(template.expand(&values).unwrap(), "L-record-1");
    }
}
