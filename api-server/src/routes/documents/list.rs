//! `GET /documents`: browse (low-security instances only).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use schema::DocumentId;
use serde::Deserialize;
use serde_json::json;
use shared::config::SecurityMode;

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Page size used when the caller gives no `limit`: every document is listed, fetched in
/// pages of this size.
const PAGE: u32 = 1000;

#[derive(Deserialize)]
pub struct Paging {
    limit: Option<u32>,
    after: Option<String>,
}

pub async fn list(
    context: web::Data<ApiContext>,
    principal: Principal,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    if context.security == SecurityMode::High {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let mut after = match paging.after.as_deref() {
        Some(text) => Some(
            DocumentId::parse(text)
                .map_err(|_| ApiError::bad_request("after", "must be a docId"))?,
        ),
        None => None,
    };
    let mut remaining = paging.limit;
    let mut documents = Vec::new();
    loop {
        let page_size = remaining.map_or(PAGE, |left| left.min(PAGE));
        if page_size == 0 {
            break;
        }
        let page = context
            .repo
            .list_documents(&principal.producer, after.as_ref(), page_size)
            .await?;
        let full = page.len() == page_size as usize;
        after = page.last().map(|(id, _)| id.clone());
        remaining = remaining.map(|left| left - page.len() as u32);
        documents.extend(
            page.into_iter()
                .map(|(id, name)| json!({ id.as_str(): name })),
        );
        if !full {
            break;
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(json!({"msg": "list of retrieved documents", "documents": documents}).to_string()))
}
