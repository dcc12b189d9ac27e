//! `GET /producer/allowlist`, `PUT /producer/allowlist`: the producer's IP allowlist
//! (issue 16, item 5; DESIGN, "Producer credentials and environments").
//!
//! The list applies to every credential of the producer, `POST /login` included
//! ([`crate::auth::client::enforce_allowlist`]). A `PUT` that would shut out the very address
//! it comes from is refused (409): nothing but the database could let the producer back in,
//! so the list must come from an address it allows (the integration's own host, say), or
//! include the caller's.

use actix_web::{HttpRequest, HttpResponse, web};
use ipnet::IpNet;

use crate::auth::client::allows;
use crate::auth::{Admin, Authorized};
use crate::context::ApiContext;
use crate::error::ApiError;

/// Most CIDRs one list may hold (422 beyond).
const MAX_ENTRIES: usize = 1000;

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/producer/allowlist")
            .route(web::get().to(get_allowlist))
            .route(web::put().to(put_allowlist)),
    );
}

/// The producer's IP allowlist: 200 with a JSON array of CIDRs (`[]`: every address may use
/// the producer's credentials). Scope `admin`.
#[utoipa::path(
    get,
    path = "/producer/allowlist",
    operation_id = "getAllowlist",
    tag = "producer",
    responses((status = 200, description = "The CIDRs", body = Vec<String>)),
)]
pub async fn get_allowlist(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
) -> Result<HttpResponse, ApiError> {
    let list = context.repo.allowlist(&principal.producer).await?;
    Ok(HttpResponse::Ok().json(texts(&list)))
}

/// Replaces the producer's IP allowlist with a JSON array of CIDRs, IPv4 and IPv6 (a bare
/// address is one host: /32 or /128; host bits are cleared), at most 1000 entries; `[]` lifts
/// the restriction. 200 with the list as stored; 400 for a body that is not a JSON array of
/// strings; 422 naming the entry that is not a CIDR; 409 when the list leaves out the address
/// the request comes from (it would lock the caller out). Scope `admin`. Takes effect at once
/// on this API process and within a second on the others.
#[utoipa::path(
    put,
    path = "/producer/allowlist",
    operation_id = "putAllowlist",
    tag = "producer",
    request_body(content = Vec<String>, content_type = "application/json"),
    responses(
        (status = 200, description = "The list as stored", body = Vec<String>),
        (status = 400, description = "Not a JSON array of strings"),
        (status = 404, description = "The producer is gone"),
        (status = 409, description = "The list leaves out the caller's address"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "An entry that is not a CIDR (named in `field`)"),
    ),
)]
pub async fn put_allowlist(
    context: web::Data<ApiContext>,
    request: HttpRequest,
    principal: Authorized<Admin>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let list = parse_list(&crate::form::opened_body(&request, body, "allowlist")?)?;
    let caller = context.auth.clients.client_address(&request);
    if !list.is_empty() && !caller.is_some_and(|address| allows(&list, address)) {
        let shown = caller.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
        return Err(ApiError::Conflict(format!(
            "the allowlist leaves out {shown}, the address of this request, and would lock \
             the caller out: include it, or send the list from an address it allows"
        )));
    }
    if !context
        .repo
        .set_allowlist(&principal.producer, &list)
        .await?
    {
        return Err(ApiError::NotFound);
    }
    context.auth.clients.forget_allowlist(&principal.producer);
    Ok(HttpResponse::Ok().json(texts(&list)))
}

/// The body as CIDRs: 400 unless a JSON array of strings, 422 naming the first bad entry.
fn parse_list(body: &[u8]) -> Result<Vec<IpNet>, ApiError> {
    let entries: Vec<String> = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "allowlist",
            "the body must be a JSON array of CIDR strings, e.g. [\"192.0.2.0/24\", \"2001:db8::/32\"]",
        )
    })?;
    if entries.len() > MAX_ENTRIES {
        return Err(ApiError::invalid(
            "allowlist",
            format!("at most {MAX_ENTRIES} entries"),
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(at, entry)| {
            shared::client_addr::parse_cidr(entry).ok_or_else(|| {
                let entry: String = entry.chars().take(64).collect();
                ApiError::invalid(
                    &format!("allowlist[{at}]"),
                    format!("{entry:?} is not an IPv4 or IPv6 CIDR or address"),
                )
            })
        })
        .collect()
}

fn texts(list: &[IpNet]) -> Vec<String> {
    list.iter().map(IpNet::to_string).collect()
}
