//! `POST /documents`: insert a document (spec, "Insert a document into ArmoredEnvoy").

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::form::DocumentForm;
use crate::representation;

pub async fn create(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    mut multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    let form = DocumentForm::read(&mut multipart, &context).await?;
    let record = documents::create(&context, &principal, form).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LAST_MODIFIED,
            representation::http_date(record.last_modified),
        ))
        .insert_header((
            header::CONTENT_LOCATION,
            representation::self_href(&context.links, &record),
        ))
        .json(representation::record(&context.links, &record)))
}
