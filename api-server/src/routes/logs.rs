//! `GET /logs{/docId}{?start_date,end_date}` (the spec's audit trail) and
//! `GET /.well-known/sealpost-keys` (the public keys that verify exports and signed responses).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::method_not_allowed;
use crate::auth::{Authorized, Logs};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::logs::{self, Range};
use crate::openapi::schemas::PublishedKeys;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/logs")
                .route(web::get().to(all_documents))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/logs/{doc_id}")
                .route(web::get().to(one_document))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/.well-known/sealpost-keys")
                .route(web::get().to(keys))
                .default_service(method_not_allowed("GET")),
        );
}

#[derive(Deserialize)]
pub struct Dates {
    start_date: Option<String>,
    end_date: Option<String>,
}

/// Every log line of the caller's documents in its environment (and, for a live credential,
/// of its requests naming no document).
#[utoipa::path(
    get,
    path = "/logs",
    operation_id = "getLogs",
    tag = "logs",
    params(("start_date" = Option<String>, Query, description = "The first day (YYYY-MM-DD) or an RFC 3339 time"),
        ("end_date" = Option<String>, Query, description = "The last day (YYYY-MM-DD) or an RFC 3339 time"),),
    responses(
        (status = 200, description = "A zip of the API, gateway and vault logs, signed inside (`manifest.sig`)",
            content(("application/zip"))),
        (status = 400, description = "A bad date or range"),
    ),
)]
pub async fn all_documents(
    context: web::Data<ApiContext>,
    principal: Authorized<Logs>,
    dates: web::Query<Dates>,
) -> Result<HttpResponse, ApiError> {
    let range = parse(&dates)?;
    let tenant = documents::tenant(&principal);
    respond(logs::export(&context, &tenant, None, range).await?)
}

/// The lines naming one of the caller's documents (deleted ones too); 404 for anyone else's.
#[utoipa::path(
    get,
    path = "/logs/{doc_id}",
    operation_id = "getDocumentLogs",
    tag = "logs",
    params(("doc_id" = String, Path, description = "The document's id"), ("start_date" = Option<String>, Query, description = "The first day (YYYY-MM-DD) or an RFC 3339 time"),
        ("end_date" = Option<String>, Query, description = "The last day (YYYY-MM-DD) or an RFC 3339 time"),),
    responses(
        (status = 200, description = "A zip of the API, gateway and vault logs, signed inside (`manifest.sig`)",
            content(("application/zip"))),
        (status = 400, description = "A bad date or range"),
        (status = 404, description = "No such document (or another producer's)"),
    ),
)]
pub async fn one_document(
    context: web::Data<ApiContext>,
    principal: Authorized<Logs>,
    path: web::Path<String>,
    dates: web::Query<Dates>,
) -> Result<HttpResponse, ApiError> {
    let tenant = documents::tenant(&principal);
    let id = logs::owned_document(&context, &tenant, &path).await?;
    principal.audit.document(&id);
    let range = parse(&dates)?;
    respond(logs::export(&context, &tenant, Some(id), range).await?)
}

fn parse(dates: &Dates) -> Result<Range, ApiError> {
    Range::parse(
        dates.start_date.as_deref(),
        dates.end_date.as_deref(),
        Utc::now(),
    )
}

/// The zip, streamed as it is written: chunked, no `Content-Length`, and no signed-response
/// headers (it is signed inside, by `manifest.sig`). A failure mid-export cuts the connection
/// (see [`logs::stream`]).
fn respond(export: logs::Export) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", export.file_name),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(export.body))
}

/// The instance's public keys, which verify signed answers, stored content signatures and
/// log exports: the current key first, then the retired ones. Public.
/// `{"keys": [{"keyId", "alg": "Ed25519", "publicKey"}]}`.
#[utoipa::path(
    get,
    path = "/.well-known/sealpost-keys",
    operation_id = "getPublishedKeys",
    tag = "meta",
    responses((status = 200, description = "The keys", body = PublishedKeys)),
)]
pub async fn keys(context: web::Data<ApiContext>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(context.signer.keys())
}
