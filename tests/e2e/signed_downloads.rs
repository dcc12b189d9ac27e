//! Signed downloads (DESIGN.md, "Signed responses"): a whole answer of the handle endpoint,
//! GET or HEAD, carries the instance key's signature over the content's SHA-256, made when the
//! content was stored (through `POST /documents` or `PUT …/document`); a partial answer
//! carries none. Verified with the key `GET /.well-known/sealpost-keys` publishes.

use reqwest::header::HeaderMap;
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::{KeySet, sha256_hex};

use crate::common::{Db, TestApp, on_both_databases, pseudo_random};
use crate::logs_export::keys;

on_both_databases!(whole_downloads_are_signed_over_their_content);

fn verify(keys: &KeySet, headers: &HeaderMap, content: &[u8]) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .ok_or_else(|| format!("no {name}"))
    };
    let (signature, date) = (header(SIGNATURE_HEADER)?, header(SIGNATURE_DATE_HEADER)?);
    httpdate::parse_http_date(&date).map_err(|error| error.to_string())?;
    content_signature::verify(keys, &signature, &date, &sha256_hex(content))
        .map_err(|e| e.to_string())
}

async fn whole_downloads_are_signed_over_their_content(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let keys = keys(&app).await;
    let content = pseudo_random(150 * 1024, 77);
    let record = app.upload(&token, "signed.bin", content.clone()).await;
    let id = record["id"].as_str().unwrap().to_owned();
    let url = app.handle_url(&id, 300).await;

    let whole = app.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    let body = whole.bytes().await.unwrap();
    assert_eq!(body.as_ref(), content.as_slice());
    verify(&keys, &headers, &body).unwrap();
    assert!(verify(&keys, &headers, b"other bytes").is_err());

    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    verify(&keys, head.headers(), &content).unwrap();

    let part = (app.client.get(&url))
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert!(part.headers().get(SIGNATURE_HEADER).is_none());
    assert!(part.headers().get(SIGNATURE_DATE_HEADER).is_none());

    // Replaced content is signed anew; the old signature does not cover it.
    let replacement = b"a,b\n1,2\n".to_vec();
    let put = (app.client)
        .put(app.url(&format!("/documents/{id}/document")))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(replacement.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let url = app.handle_url(&id, 300).await;
    let whole = app.client.get(&url).send().await.unwrap();
    let headers = whole.headers().clone();
    assert_eq!(
        whole.bytes().await.unwrap().as_ref(),
        replacement.as_slice()
    );
    verify(&keys, &headers, &replacement).unwrap();
    assert!(verify(&keys, &headers, &content).is_err());
}
