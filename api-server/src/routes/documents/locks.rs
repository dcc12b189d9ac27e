//! `DELETE /documents/{docId}/locks`: the producer's reset of the gateway's brute-force locks.

use actix_web::{HttpResponse, web};

use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;

/// Forgets every failed challenge and lock of the document's viewers, the hard cap included
/// (after 50 failures a pair stays locked until this is called). 204 whether or not anything
/// was locked; 404/410 as for the document itself.
#[utoipa::path(
    delete,
    path = "/documents/{doc_id}/locks",
    operation_id = "resetLocks",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    responses(
        (status = 204, description = "Every lock of the document's viewers forgotten"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn reset(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = documents::find(&context, &principal, &path).await?;
    let pairs = context
        .repo
        .reset_challenge_locks(&principal.producer, &record.id)
        .await?;
    tracing::info!(document = %record.id.as_str(), pairs, "challenge locks reset by the producer");
    Ok(HttpResponse::NoContent().finish())
}
