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
}

/// One recipient per record of a `records` audience, in record order (each with its token
/// when the audience has a viewer token: the tokens `POST /documents/{docId}/links` seals);
/// otherwise one recipient with no fields and an empty token.
pub fn recipients(audience: Option<&Audience>, delivery_id: &str) -> Vec<NewRecipient> {
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
                    (Some(index as i64), Viewer { fields, token })
                })
                .collect()
        }
        None => vec![(None, Viewer::default())],
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

/// The variables of one attempt, first match winning: Sealpost's own (`link`, `placeholder`,
/// `docId`), then the viewer's record fields, then the deliver request's form fields. So a
/// record's value is never replaced by a form field of the same name.
pub fn variables<'a>(
    own: &'a [(&'static str, String)],
    viewer: &'a Viewer,
    form: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    own.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain(viewer.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .chain(form.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .collect()
}
