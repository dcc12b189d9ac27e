//! `GET /documents`: the caller's `(docId, name)` pairs in id order, in its environment.

use schema::DocumentId;

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Rows fetched per query; without a `limit` every document is listed, page by page.
const PAGE: u32 = 1000;

/// At most `limit` documents (all when `None`) after the docId `after`, if given.
pub async fn list(
    context: &ApiContext,
    principal: &Principal,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<Vec<(DocumentId, String)>, ApiError> {
    let mut after = after
        .map(|text| {
            DocumentId::parse(text).map_err(|_| ApiError::bad_request("after", "must be a docId"))
        })
        .transpose()?;
    let mut remaining = limit;
    let mut documents = Vec::new();
    loop {
        let page_size = remaining.map_or(PAGE, |left| left.min(PAGE));
        if page_size == 0 {
            break;
        }
        let page = context
            .repo
            .list_documents(&super::tenant(principal), after.as_ref(), page_size)
            .await?;
        let full = page.len() == page_size as usize;
        after = page.last().map(|(id, _)| id.clone());
        remaining = remaining.map(|left| left - page.len() as u32);
        documents.extend(page);
        if !full {
            break;
        }
    }
    Ok(documents)
}
