//! Sealed links for a document's viewers (`POST /documents/{docId}/links`): for producers who
//! mail their own links. Each link is `{gateway}/l/{sealed}`, the seal holding the document's
//! current placeholder id and one viewer's token fields (`shared::sealed`), so no personal data
//! stands in the link. A later `POST /documents/{docId}` issues a new placeholder, and links
//! sealed before it stop resolving, as the placeholder href itself does.

use schema::DocumentRecord;
use schema::objects::Typed;
use serde::Serialize;
use serde_json::Value;
use shared::sealed::{MAX_SEALED_LEN, SealedLink};

use super::viewers::{self, Token};
use crate::context::ApiContext;
use crate::error::ApiError;

/// One sealed link, and the audience record it names (for a `records` audience with a
/// viewer token). Serialized as the response's `{"href": …, "record": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
}

/// The links for `record`: with no `body`, one per audience record (or one with an empty
/// token when the audience names no viewer token); with a `{"viewers": […]}` body, one per
/// entry. See `routes::documents::links` for the rules, which this applies.
pub fn links(
    context: &ApiContext,
    record: &DocumentRecord,
    body: Option<&Value>,
) -> Result<Vec<Link>, ApiError> {
    let audience = record.audience.as_ref().map(Typed::value);
    let tokens = match body {
        None => viewers::every_record(audience),
        Some(body) => viewers::given(audience, body)?,
    };
    let placeholder = record.placeholder_id.as_str();
    tokens
        .into_iter()
        .enumerate()
        .map(|(index, token)| seal(context, placeholder, token, body.is_some(), index))
        .collect()
}

fn seal(
    context: &ApiContext,
    placeholder: &str,
    token: Token,
    given: bool,
    index: usize,
) -> Result<Link, ApiError> {
    let record = token.record;
    let sealed = context
        .seal_keys
        .seal(&SealedLink {
            placeholder: placeholder.to_owned(),
            viewer_token: token.fields,
        })
        .map_err(ApiError::internal)?;
    if sealed.len() > MAX_SEALED_LEN {
        // The gateway refuses longer seals unread; a link it cannot open is no link.
        let field = match (given, record) {
            (true, _) => format!("viewers[{index}]"),
            (false, Some(record)) => format!("audience.data.records[{record}]"),
            (false, None) => "audience".to_owned(),
        };
        return Err(ApiError::invalid(
            &field,
            format!(
                "its viewer-token values are too long for a sealed link (over {MAX_SEALED_LEN} \
                 characters once sealed; about 3000 bytes of names and values fit)"
            ),
        ));
    }
    Ok(Link {
        href: format!("{}/l/{sealed}", context.links.gateway_root),
        record,
    })
}
