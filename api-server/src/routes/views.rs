//! `GET /documents/{docId}/views{?format}` (the auditor's report) and
//! `GET /documents/{docId}/views/{n}/receipt` (one record's signed receipt); scope `logs`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::content_signature::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

use super::method_not_allowed;
use crate::auth::{Authorized, Logs};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::views::{self, render};

/// Registered before `/documents/{doc_id}/{part}`, which would take `views` for a part name.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/documents/{doc_id}/views")
                .route(web::get().to(report))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/documents/{doc_id}/views/{n}/receipt")
                .route(web::get().to(receipt))
                .default_service(method_not_allowed("GET")),
        );
}

#[derive(Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

/// One row per audience record, in record order: its viewer-token fields, delivery, requests
/// (first, last, count), challenge passes and failures, handles, downloads and last address.
#[utoipa::path(
    get,
    path = "/documents/{doc_id}/views",
    operation_id = "getViews",
    tag = "logs",
    params(("doc_id" = String, Path, description = "The document's id"),
        ("format" = Option<String>, Query, description = "`csv` for CSV (RFC 4180); JSON when absent or `json`")),
    responses(
        (status = 200, description = "The report: `{\"document\", \"viewerToken\", \"records\": [{\"record\", \"viewer\", \"delivered\", \"opened\", \"challenge\", \"handles\", \"downloads\", \"lastAddress\"}]}`, or the same as CSV",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A `format` other than `json` or `csv`"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn report(
    context: web::Data<ApiContext>,
    principal: Authorized<Logs>,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = match query.format.as_deref() {
        None | Some("json") => render::Format::Json,
        Some("csv") => render::Format::Csv,
        Some(_) => return Err(ApiError::bad_request("format", "must be json or csv")),
    };
    let report = Arc::new(views::report(&context, &principal, &path).await?);
    let content_type = match format {
        render::Format::Json => "application/json",
        render::Format::Csv => "text/csv; charset=utf-8; header=present",
    };
    let (signature, date) = views::sign(&context, &report, format).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((SIGNATURE_HEADER, signature))
        .insert_header((SIGNATURE_DATE_HEADER, date))
        .streaming(render::body(report, format)))
}

/// Record `n`'s receipt (0-based, as in the report), signed by the instance key: its
/// requests, handles and downloads; `"downloaded": "never"` when it downloaded nothing.
#[utoipa::path(
    get,
    path = "/documents/{doc_id}/views/{n}/receipt",
    operation_id = "getViewReceipt",
    tag = "logs",
    params(("doc_id" = String, Path, description = "The document's id"),
        ("n" = String, Path, description = "The record's index in the audience, from 0")),
    responses(
        (status = 200, description = "The receipt, with its `signature` member (`sealpost receipt verify`)",
            content((Object = "application/json"))),
        (status = 404, description = "No such document (or another producer's), or no record `n`"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn receipt(
    context: web::Data<ApiContext>,
    principal: Authorized<Logs>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (doc_id, n) = path.into_inner();
    let receipt = views::receipt::receipt(&context, &principal, &doc_id, &n).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(receipt))
}
