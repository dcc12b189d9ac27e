//! `POST /documents`: insert a document (spec, "Insert a document into ArmoredEnvoy").

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::form::DocumentForm;
use crate::idempotency;
use crate::openapi::schemas::{DocumentRecord, NewDocumentForm};
use crate::representation;

/// Inserts a document: the content streams into the vault encrypted, the record is created
/// atomically with it (a failed insertion leaves nothing behind). 201 with the record,
/// `Last-Modified` and `Content-Location`; 400/413/415/422 for a bad form, naming the part.
#[utoipa::path(
    post,
    path = "/documents",
    operation_id = "createDocument",
    tag = "documents",
    request_body(content = NewDocumentForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The new record", body = DocumentRecord,
            headers(
                ("Last-Modified" = String, description = "The record's time, an HTTP-date"),
                ("Content-Location" = String, description = "`{apiRoot}/documents/{docId}`"),
            ),
            links(
                ("GetDocument" = (operation_id = "getDocument", parameters(("doc_id" = "$response.body#/id")))),
                ("UpdateDocument" = (operation_id = "updateDocument", parameters(("doc_id" = "$response.body#/id")))),
                ("DeleteDocument" = (operation_id = "deleteDocument", parameters(("doc_id" = "$response.body#/id")))),
                ("GetContent" = (operation_id = "getContent", parameters(("doc_id" = "$response.body#/id")))),
                ("ReplaceContent" = (operation_id = "replaceContent", parameters(("doc_id" = "$response.body#/id")))),
                ("GetPart" = (operation_id = "getPart", parameters(("doc_id" = "$response.body#/id")))),
                ("PutPart" = (operation_id = "putPart", parameters(("doc_id" = "$response.body#/id")))),
                ("DeletePart" = (operation_id = "deletePart", parameters(("doc_id" = "$response.body#/id")))),
                ("CreateLinks" = (operation_id = "createLinks", parameters(("doc_id" = "$response.body#/id")))),
                ("Deliver" = (operation_id = "deliver", parameters(("doc_id" = "$response.body#/id")))),
                ("ResetLocks" = (operation_id = "resetLocks", parameters(("doc_id" = "$response.body#/id")))),
                ("GetDocumentLogs" = (operation_id = "getDocumentLogs", parameters(("doc_id" = "$response.body#/id")))),
            ),
        ),
        (status = 400, description = "A malformed form or part, an unknown or repeated part"),
        (status = 413, description = "A part larger than its limit"),
        (status = 415, description = "Not multipart/form-data"),
        (status = 422, description = "A part that does not validate (named in `field`)"),
    ),
)]
pub async fn create(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (context, principal, headers) = (&context, &principal, request.headers());
    idempotency::run(context, principal, &request, payload, |body| async move {
        let mut multipart = Multipart::new(headers, body);
        let form = DocumentForm::read(&mut multipart, context).await?;
        let record = documents::create(context, principal, form).await?;
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
    })
    .await
}
