//! `/documents` and `/documents/{docId}/…`.

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod deliver;
pub(crate) mod links;
pub(crate) mod list;
pub(crate) mod locks;
pub(crate) mod read;
pub(crate) mod write;

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::method_not_allowed;
use crate::documents::Part;
use crate::error::ApiError;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/documents")
                .route(web::post().to(create::create))
                .route(web::get().to(list::list))
                .default_service(method_not_allowed("GET, POST")),
        )
        .service(
            web::resource("/documents/{doc_id}")
                .route(web::get().to(read::record))
                .route(web::post().to(write::update))
                .route(web::delete().to(delete::delete))
                .default_service(method_not_allowed("GET, POST, DELETE")),
        )
        .service(
            web::resource("/documents/{doc_id}/document")
                .route(web::get().to(read::content))
                .route(web::put().to(write::replace_content))
                .route(web::delete().to(delete::content))
                .default_service(method_not_allowed("GET, PUT, DELETE")),
        )
        .service(
            web::resource("/documents/{doc_id}/links")
                .route(web::post().to(links::create))
                .default_service(method_not_allowed("POST")),
        )
        .service(
            web::resource("/documents/{doc_id}/deliver")
                .route(web::post().to(deliver::deliver))
                .default_service(method_not_allowed("POST")),
        )
        .service(
            web::resource("/documents/{doc_id}/deliveries/{id}")
                .route(web::get().to(deliver::status))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/documents/{doc_id}/locks")
                .route(web::delete().to(locks::reset))
                .default_service(method_not_allowed("DELETE")),
        )
        .service(
            web::resource("/documents/{doc_id}/{part}")
                .route(web::get().to(read::sub_resource))
                .route(web::put().to(write::put_part))
                .route(web::delete().to(delete::part))
                .default_service(method_not_allowed("GET, PUT, DELETE")),
        );
}

#[derive(Deserialize)]
struct Conditional {
    #[serde(rename = "lastModified")]
    last_modified: Option<String>,
}

/// `?lastModified=` (an HTTP-date, the format of `Last-Modified`), when given.
fn unmodified_since(request: &HttpRequest) -> Result<Option<DateTime<Utc>>, ApiError> {
    let query = web::Query::<Conditional>::from_query(request.query_string())
        .map_err(|_| ApiError::bad_request("lastModified", "malformed query string"))?;
    query
        .into_inner()
        .last_modified
        .map(|text| {
            httpdate::parse_http_date(&text)
                .map(DateTime::<Utc>::from)
                .map_err(|_| {
                    ApiError::bad_request(
                        "lastModified",
                        "must be an HTTP-date, as in Last-Modified",
                    )
                })
        })
        .transpose()
}

/// `{docId}/{part}` with `part` one of the JSON sub-resources (404 otherwise).
fn part_path(path: web::Path<(String, String)>) -> Result<(String, Part), ApiError> {
    let (id, part) = path.into_inner();
    Ok((id, Part::parse(&part).ok_or(ApiError::NotFound)?))
}
