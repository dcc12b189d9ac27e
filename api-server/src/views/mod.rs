//! The auditor's report (DESIGN.md, "The auditor's report"): per audience record of a
//! document, who was delivered, opened, passed or failed the challenge, got handles and
//! downloaded — `GET /documents/{docId}/views` — and a signed receipt for one record,
//! `GET /documents/{docId}/views/{n}/receipt`.
//!
//! The rows come from the attribution tables the gateway and vault write with their log lines
//! (migration 0019, `schema::views`): three grouped, indexed statements per report whatever
//! the audience size, merged here with the audience's records in record order and written out
//! a chunk of rows at a time ([`render`]). A record is named by its index in the audience
//! (0-based, as the delivery jobs name it) and by its viewer-token fields only: other fields
//! (a password, say) never appear.
//!
//! Layout: [`render`] (JSON and CSV rows), [`receipt`] (the signed receipt).

pub mod receipt;
pub mod render;

use std::sync::Arc;

use schema::DocumentRecord;
use schema::objects::Audience;
use schema::views::ViewReport;

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// A document's report, ready to render: the token field names, each record's values of
/// them, and the grouped rows.
#[derive(Debug, Clone)]
pub struct Report {
    pub document: String,
    pub token_fields: Vec<String>,
    /// One entry per audience record, in record order: its viewer-token values.
    pub viewers: Vec<Vec<String>>,
    pub grouped: ViewReport,
}

/// The report of the caller's document `id` (404 for anyone else's, 410 once expired).
pub async fn report(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
) -> Result<Report, ApiError> {
    let document = crate::documents::find(context, principal, id).await?;
    let grouped = context.repo.view_report(&document.id).await?;
    let (token_fields, viewers) = viewers(&document);
    Ok(Report {
        document: document.id.as_str().to_owned(),
        token_fields,
        viewers,
        grouped,
    })
}

/// The signature headers' values (`x-sealpost-signature`, its date) over the report's body in
/// `format`, made over the digest of a first writing (off the async workers) so that the body
/// can stream: the signing middleware leaves a signed answer as it is, and would otherwise
/// hold the whole report (at most 16 MiB: a 100,000-record audience's report is larger). An
/// encrypted answer (payload encryption) drops this signature and is signed again over the
/// sealed bytes.
pub async fn sign(
    context: &ApiContext,
    report: &Arc<Report>,
    format: render::Format,
) -> Result<(String, String), ApiError> {
    let writing = Arc::clone(report);
    let digest = tokio::task::spawn_blocking(move || render::sha256_hex(writing, format))
        .await
        .map_err(ApiError::internal)?;
    Ok(context.signer.sign_digest(&digest))
}

/// The viewer-token field names of the document's `records` audience and each record's values
/// of them (no fields without a viewer token; no records without a `records` audience).
pub fn viewers(document: &DocumentRecord) -> (Vec<String>, Vec<Vec<String>>) {
    let Some(Audience::Records {
        viewer_token,
        records,
    }) = document.audience.as_ref().map(|a| a.value())
    else {
        return (Vec::new(), Vec::new());
    };
    let fields = viewer_token
        .as_ref()
        .map(|token| token.variables().to_vec())
        .unwrap_or_default();
    let values = records
        .iter()
        .map(|record| {
            (fields.iter())
                .map(|name| record.get(name).unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    (fields, values)
}
