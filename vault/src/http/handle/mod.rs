//! `GET`/`HEAD {vault}/h/{handle}`: check the handle, find its document, stream the content.
//!
//! - `range`: the `Range` / `If-Range` decisions.
//! - `disposition`: the sanitised `Content-Disposition`, `inline` only for passive types.
//! - `response`: the success headers (with [`content_headers`], shared with the producer API)
//!   and the verified body.
//! - `error`: [`ViewError`], the one error type of these routes.

mod disposition;
mod error;
mod range;
mod response;

use actix_web::http::{Method, header};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schema::Download;
use shared::handle::{HandleClaims, HandleError};

pub use error::ViewError;
use range::Plan;
pub use response::content_headers;

use super::VaultService;
use super::access::Facts;
use crate::error::VaultError;

/// Mounts `/h/{handle}`: GET and HEAD; any other method is 405 with `Allow: GET, HEAD`.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/h/{handle}")
            .route(web::get().to(serve))
            .route(web::head().to(serve))
            .default_service(web::to(method_not_allowed)),
    );
}

/// Every path the vault does not serve: a 404 exactly like a bad handle's.
pub async fn not_found() -> Result<HttpResponse, ViewError> {
    Err(ViewError::NoSuchHandle { reason: "no route" })
}

async fn method_not_allowed() -> Result<HttpResponse, ViewError> {
    Err(ViewError::MethodNotAllowed)
}

async fn serve(
    request: HttpRequest,
    service: web::Data<VaultService>,
    handle: web::Path<String>,
) -> Result<HttpResponse, ViewError> {
    let mut facts = Facts::default();
    let result = answer(&request, &service, &handle, &mut facts).await;
    request.extensions_mut().insert(facts);
    result
}

async fn answer(
    request: &HttpRequest,
    service: &VaultService,
    handle: &str,
    facts: &mut Facts,
) -> Result<HttpResponse, ViewError> {
    let Download {
        document,
        object,
        signature,
    } = resolve(service, handle, Utc::now(), facts).await?;
    let (document, signature) = (&document, signature.as_ref());
    let size = u64::try_from(document.size).map_err(|_| ViewError::NoSuchDocument)?;
    if request.method() == Method::HEAD {
        return Ok(response::head(document, size, signature));
    }
    let text = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let if_range = text(header::IF_RANGE);
    let honoured =
        range::if_range_holds(if_range, &response::etag(document), document.last_modified);
    let plan = match text(header::RANGE) {
        Some(value) if honoured => range::plan(Some(value), size),
        _ => Plan::Whole,
    };
    let vault = &service.vault;
    match (plan, object) {
        (Plan::Whole, Some(object)) => {
            let reader = vault.read_loaded(object).await?;
            Ok(response::whole(document, reader, signature))
        }
        (Plan::Part { start, end }, Some(object)) => {
            let reader = vault.read_range_loaded(object, start, end).await?;
            Ok(response::part(document, start, end, reader))
        }
        (Plan::Unsatisfiable, _) => Err(ViewError::InvalidRange { size }),
        // The object row is gone (the document is being deleted): as the vault's own read.
        (Plan::Whole | Plan::Part { .. }, None) => Err(VaultError::NotFound.into()),
    }
}

/// The document `handle` names, when it may be served at `now`. Records in `facts` what the
/// access log may know: a verified handle's nonce, document and object, and the document's
/// producer once the document is found (an expired handle's too, so its owner sees the
/// attempt). The document comes with its object row and content signature, in one query.
async fn resolve(
    service: &VaultService,
    handle: &str,
    now: DateTime<Utc>,
    facts: &mut Facts,
) -> Result<Download, ViewError> {
    let (claims, expired) = match service.handles.verify(handle, now) {
        Ok(claims) => (claims, false),
        Err(HandleError::Expired(claims)) => (*claims, true),
        Err(refused) => return Err(refused.into()),
    };
    facts.nonce = Some(claims.nonce);
    facts.document_id = Some(claims.document.clone());
    facts.key = Some(claims.object.clone());
    let download = service
        .documents
        .download(&claims.document)
        .await
        .map_err(ViewError::Unavailable)?;
    if let Some(Download { document, .. }) = &download {
        facts.producer_id = Some(document.producer_id.clone());
        if document.object_key == claims.object {
            facts.object_size = u64::try_from(document.size).ok();
        }
    }
    if expired {
        return Err(ViewError::ExpiredHandle);
    }
    let download = download.ok_or(ViewError::NoSuchDocument)?;
    servable(&download.document, &claims, now)?;
    Ok(download)
}

/// Whether the document a valid handle names may be served at `now`: still the content the
/// handle was minted for, under the same access rules, not expired.
fn servable(
    document: &schema::DocumentRecord,
    claims: &HandleClaims,
    now: DateTime<Utc>,
) -> Result<(), ViewError> {
    if document.object_key != claims.object {
        return Err(ViewError::ContentReplaced);
    }
    // Checked on the row just read (no second query): a handle minted before the audience or
    // challenge last changed is refused, whoever it was issued to.
    if document.access_version.cast_unsigned() != claims.access_version {
        return Err(ViewError::AccessChanged);
    }
    if document.expiration <= now {
        return Err(ViewError::DocumentExpired);
    }
    Ok(())
}
