//! Hostile and malformed viewer requests: every one gets a clear 4xx (or the normal answer),
//! never a 5xx, and nothing an attacker sends reaches a log line unescaped.

use serde_json::json;

use super::*;
use crate::common::{Db, on_both_databases};

on_both_databases!(hostile_requests_never_get_a_5xx);

async fn hostile_requests_never_get_a_5xx(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let landing = json!({"type": "url", "href": "https://{+city}/x{?first_name,telephone}"});
    let doc = create(
        &app,
        &token,
        b"hostile",
        &[
            ("audience", audience()),
            ("challenge", digest(field("pin"))),
            ("landingpage", landing),
        ],
    )
    .await;
    let base = format!("{}/{}", app.gateway, doc.placeholder);
    let long = "x".repeat(20_000);
    let queries = [
        "?telephone=4154445511&first_name=Harry&%ff%fe=%00".to_owned(),
        "?telephone=%E2%80%AE&first_name=%0d%0aSet-Cookie:x".to_owned(),
        format!("?telephone={long}&first_name=Harry"),
        "?=&&&==&telephone&first_name".to_owned(),
        "?telephone=4154445511&first_name=Harry&".to_owned() + &"a=b&".repeat(500),
        "?%".to_owned(),
    ];
    let client = no_redirects();
    for query in &queries {
        let response = client.get(format!("{base}{query}")).send().await.unwrap();
        assert!(
            response.status().is_client_error(),
            "{query}: {}",
            response.status()
        );
    }
    let authorizations = [
        "Digest".to_owned(),
        "Digest username=".to_owned(),
        "Digest username=\"harry\", realm=\"Reports\", nonce=\"\", uri=\"/\", response=\"\", qop=auth, nc=zz, cnonce=\"\"".to_owned(),
        format!("Digest username=\"{long}\""),
        "Basic".to_owned(),
        "Basic !!!".to_owned(),
        "Basic /w==".to_owned(),
        "Bearer x".to_owned(),
        "Digest a=\"\\".to_owned(),
    ];
    for authorization in &authorizations {
        let response = client
            .get(harry(&app, &doc))
            .header("authorization", authorization.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization}");
    }
    let paths = [
        "/l/".to_owned(),
        "/l/%00".to_owned(),
        format!("/l/{long}"),
        "/..%2f..%2fetc%2fpasswd".to_owned(),
        format!("/{long}"),
        "/%ZZ".to_owned(),
        "/a/b/c".to_owned(),
    ];
    for path in &paths {
        let response = client
            .get(format!("{}{path}", app.gateway))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    // The right viewer still gets in afterwards, and every line of the log has nine columns.
    let lines = gateway_lines(&app).await;
    assert!(lines.len() >= queries.len() + authorizations.len() + paths.len());
    for line in &lines {
        assert_eq!(line.split('\t').count(), 9, "{line}");
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
}
