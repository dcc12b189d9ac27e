//! `GET /openapi.json`: the API's OpenAPI 3.1 document, generated from the code.
//!
//! Each handler carries its `#[utoipa::path]` (method, path, parameters, request body, the
//! statuses it answers); [`ApiDoc`] gathers them. What every route shares is added here from
//! [`ROUTES`], so it cannot disagree with what `crate::auth` enforces: the security
//! requirement of each non-public route and the answers of the credential checks (401 no or a
//! bad credential, 403 a missing scope or an address outside the allowlist, 429 over the rate
//! limit). Every 4xx and 5xx answer is `application/problem+json` ([`schemas::Problem`]).
//!
//! The unit tests below and `tests/e2e/openapi.rs` check that the document has exactly the
//! operations of [`ROUTES`]; `tests/schemathesis/run` checks live answers against it.

mod idempotency;
pub mod schemas;

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, SecurityRequirement};

use crate::routes::{self, Access, ROUTES};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The security scheme of a login token (`Authorization: Bearer`, from `POST /login`).
pub const LOGIN_TOKEN: &str = "login_token";
/// The security scheme of an API key (`x-api-key`, from `POST /keys`).
pub const API_KEY: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sealpost API",
        description = "The producer API of Sealpost, a secure document vault (the ArmoredEnvoy \
                       API). Every answer is signed (`x-sealpost-signature`, verified with the \
                       keys at `/.well-known/sealpost-keys`).",
    ),
    paths(
        routes::login::login,
        routes::login::logout,
        routes::documents::list::list,
        routes::documents::create::create,
        routes::documents::read::record,
        routes::documents::write::update,
        routes::documents::delete::delete,
        routes::documents::read::content,
        routes::documents::write::replace_content,
        routes::documents::delete::content,
        routes::documents::links::create,
        routes::documents::deliver::deliver,
        routes::documents::deliver::status,
        routes::documents::locks::reset,
        routes::documents::read::sub_resource,
        routes::documents::write::put_part,
        routes::documents::delete::part,
        routes::logs::all_documents,
        routes::logs::one_document,
        routes::logs::keys,
        routes::views::report,
        routes::views::receipt,
        routes::keys::list,
        routes::keys::create,
        routes::keys::revoke,
        routes::producer::keys::list_keys,
        routes::producer::keys::add_key,
        routes::producer::keys::remove_key,
        routes::producer::allowlist::get_allowlist,
        routes::producer::allowlist::put_allowlist,
        document,
    ),
    components(schemas(schemas::Problem)),
    modifiers(&FromRouteTable),
)]
pub struct ApiDoc;

/// The document, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut json = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    camel_case_links(&mut json);
    json.to_string()
});

/// utoipa 5.5 writes a Link object's fields in snake case (`operation_id`); OpenAPI (and so
/// schemathesis's stateful phase) reads `operationId`, `operationRef`, `requestBody`.
fn camel_case_links(document: &mut serde_json::Value) {
    let Some(paths) = document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let Some(links) = response
            .get_mut("links")
            .and_then(|links| links.as_object_mut())
        else {
            continue;
        };
        for link in links
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(snake) {
                    link.insert(camel.to_owned(), value);
                }
            }
        }
    }
}

/// This document: OpenAPI 3.1, generated from the handlers' annotations and the route table.
/// Public (no credential), signed like every answer.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type(mime::APPLICATION_JSON)
        .body(DOCUMENT.as_str())
}

/// Adds what [`ROUTES`] says of every route: security schemes and requirements, the
/// credential checks' answers, problem+json bodies for every error status.
struct FromRouteTable;

impl Modify for FromRouteTable {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            LOGIN_TOKEN,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The token `POST /login` returns in `Authorization` (also accepted as \
                         `Basic base64(token)`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An API key from `POST /keys` (also accepted as `Authorization: Bearer \
                 base64(name:key)`).",
            ))),
        );
        idempotency::describe(openapi);
        for route in ROUTES {
            if let Some(operation) = operation_mut(openapi, route.method, route.path) {
                complete(operation, route);
            }
        }
    }
}

/// The operation of `method path`, if the document has it.
fn operation_mut<'a>(
    openapi: &'a mut Document,
    method: &str,
    path: &str,
) -> Option<&'a mut Operation> {
    let item = openapi.paths.paths.get_mut(path)?;
    match method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "DELETE" => item.delete.as_mut(),
        _ => None,
    }
}

/// Answers the spec describes as empty (`Response: empty`), `(method, path, status)`: they
/// carry no body, so no problem+json either.
const EMPTY_ANSWERS: &[(&str, &str, &str)] = &[
    ("GET", "/documents", "405"),
    ("DELETE", "/documents/{doc_id}/document", "409"),
];

fn complete(operation: &mut Operation, route: &routes::Route) {
    let responses = &mut operation.responses.responses;
    if route.access != Access::Public {
        operation.security = Some(vec![
            SecurityRequirement::new(LOGIN_TOKEN, Vec::<String>::new()),
            SecurityRequirement::new(API_KEY, Vec::<String>::new()),
        ]);
        for (status, description) in [
            (
                "401",
                "No credential, or a malformed, expired or revoked one",
            ),
            (
                "403",
                "The credential lacks the route's scope, or the address is outside the \
                 producer's allowlist",
            ),
            (
                "429",
                "Over the credential's rate limit (`Retry-After` says when to retry)",
            ),
        ] {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::T(Response::new(description)));
        }
    }
    for (status, response) in responses.iter_mut() {
        let empty = EMPTY_ANSWERS.contains(&(route.method, route.path, status.as_str()));
        if let RefOr::T(response) = response
            && !status.starts_with(['1', '2', '3'])
            && response.content.is_empty()
            && !empty
        {
            response.content.insert(
                PROBLEM_JSON.to_owned(),
                Content::new(Some(Ref::from_schema_name("Problem"))),
            );
        }
    }
}

/// Every `(METHOD, path)` the document describes.
pub fn operations(openapi: &Document) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in &openapi.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
            ("TRACE", &item.trace),
        ] {
            if operation.is_some() {
                found.push((method.to_owned(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_document_has_exactly_the_operations_of_the_route_table() {
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_owned(), route.path.to_owned()))
            .collect();
        routes.sort();
        assert_eq!(operations(&ApiDoc::openapi()), routes);
    }

    #[test]
    fn every_operation_has_a_unique_id_and_a_success_answer() {
        let document = ApiDoc::openapi();
        let mut ids = std::collections::BTreeSet::new();
        for route in ROUTES {
            let mut document = document.clone();
            let operation = operation_mut(&mut document, route.method, route.path).unwrap();
            let id = operation.operation_id.clone().unwrap();
            assert!(ids.insert(id.clone()), "{id} twice");
            let statuses: Vec<&String> = operation.responses.responses.keys().collect();
            // `DELETE …/document` always refuses (spec): 409.
            let always_refused = route.method == "DELETE" && route.path.ends_with("/document");
            assert!(
                always_refused || statuses.iter().any(|status| status.starts_with('2')),
                "{} {}: {statuses:?}",
                route.method,
                route.path
            );
            let secured = operation.security.is_some();
            assert_eq!(secured, route.access != Access::Public, "{}", route.path);
        }
    }

    /// `cargo test -p api-server --lib openapi::tests::print -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints the document"]
    fn print() {
        println!("{}", ApiDoc::openapi().to_pretty_json().unwrap());
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let json: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes[LOGIN_TOKEN]["scheme"], "bearer");
        assert_eq!(schemes[API_KEY]["name"], "x-api-key");
        assert_eq!(schemes[API_KEY]["in"], "header");
        let link = &json["paths"]["/documents"]["post"]["responses"]["201"]["links"]["GetDocument"];
        assert_eq!(link["operationId"], "getDocument");
        assert_eq!(link["parameters"]["doc_id"], "$response.body#/id");
    }
}
