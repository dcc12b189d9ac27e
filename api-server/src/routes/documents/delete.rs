//! `DELETE /documents/{docId}`: the record and every byte of its content.

use actix_web::{HttpResponse, web};

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;

pub async fn delete(
    context: web::Data<ApiContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    documents::delete(&context, &principal, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
