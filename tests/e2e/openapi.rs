//! `GET /openapi.json` (issue 18, item 4): public, signed like every answer, OpenAPI 3.1 with
//! exactly the operations of `api_server::routes::ROUTES` (so the document cannot drift from
//! the routes), the two security schemes, and the parts of the document forms. schemathesis
//! checks live answers against it (`tests/schemathesis/run`, from `scripts/test`).

use std::collections::BTreeSet;

use api_server::routes::{Access, ROUTES};
use serde_json::Value;
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::sha256_hex;

use crate::common::{Db, TestApp, on_both_databases};
use crate::logs_export::keys;

on_both_databases!(
    the_document_is_public_signed_and_describes_every_route,
    the_document_only_answers_get,
);

const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

async fn the_document_is_public_signed_and_describes_every_route(db: Db) {
    let app = TestApp::spawn(db).await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    let body = response.bytes().await.unwrap();
    let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
    let date = headers[SIGNATURE_DATE_HEADER].to_str().unwrap();
    content_signature::verify(&keys(&app).await, signature, date, &sha256_hex(&body)).unwrap();

    let document: Value = serde_json::from_slice(&body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    let mut described = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|method| item.get(**method).is_some()) {
            described.insert((method.to_uppercase(), path.clone()));
            let operation = &item[*method];
            let route = ROUTES
                .iter()
                .find(|route| route.path == path && route.method.eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is not in ROUTES"));
            let secured = operation.get("security").is_some();
            assert_eq!(secured, route.access != Access::Public, "{method} {path}");
            if secured {
                let answers = operation["responses"].as_object().unwrap();
                for status in ["401", "403", "429"] {
                    let problem = &answers[status]["content"]["application/problem+json"];
                    assert!(problem.is_object(), "{method} {path} {status}");
                }
            }
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.method.to_owned(), route.path.to_owned()))
        .collect();
    assert_eq!(described, routes);

    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["login_token"]["type"], "http");
    assert_eq!(schemes["login_token"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");

    let upload = &document["paths"]["/documents"]["post"]["requestBody"]["content"];
    let form = &upload["multipart/form-data"]["schema"]["$ref"];
    let form = form.as_str().unwrap().rsplit('/').next().unwrap();
    let parts = document["components"]["schemas"][form]["properties"]
        .as_object()
        .unwrap();
    for part in [
        "document",
        "name",
        "expiration",
        "audience",
        "challenge",
        "fulfillment",
        "landingpage",
        "metadata",
    ] {
        assert!(
            parts.contains_key(part),
            "POST /documents names the part {part}"
        );
    }
    let created = &document["paths"]["/documents"]["post"]["responses"]["201"];
    assert_eq!(
        created["links"]["GetDocument"]["operationId"], "getDocument",
        "stateful testing follows POST /documents to its record"
    );
}

async fn the_document_only_answers_get(db: Db) {
    let app = TestApp::spawn(db).await;
    let response = app
        .client
        .post(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    assert!(response.headers().contains_key(SIGNATURE_HEADER));
}
