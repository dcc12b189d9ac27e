//! The `Idempotency-Key` header on the routes that honour it ([`crate::idempotency::ROUTES`]),
//! and its answers: 400 (a malformed key), 409 (a request with the key still running), 422
//! (the key used for another request).

use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi as Document, RefOr, Required, Response};

use crate::idempotency::key::{HEADER, MAX_KEY_CHARS};

const DESCRIPTION: &str = "A key of the client's choosing (IETF httpapi draft; a Structured \
    Field string, quotes optional): a retry with the same key and the same request (method, \
    path, body bytes) within 24 hours answers the first answer again (`Idempotent-Replayed: \
    true`) without doing the work again. Keys are per producer and environment; only 2xx \
    answers are kept.";

/// Adds the header and its answers to each route that honours it.
pub fn describe(openapi: &mut Document) {
    for (method, path) in crate::idempotency::ROUTES {
        let Some(operation) = super::operation_mut(openapi, method, path) else {
            continue;
        };
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_KEY_CHARS + 2))
            .pattern(Some("^[ -~]+$"));
        let parameter = ParameterBuilder::new()
            .name(HEADER)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(DESCRIPTION))
            .schema(Some(schema))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(parameter);
        for (status, description) in [
            (
                "400",
                "A malformed request (or `Idempotency-Key`, named in `field`)",
            ),
            (
                "409",
                "A request with this `Idempotency-Key` is still in progress",
            ),
            (
                "422",
                "A part that does not validate, or an `Idempotency-Key` used for a different request (named in `field`)",
            ),
        ] {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::T(Response::new(description)));
        }
    }
}
