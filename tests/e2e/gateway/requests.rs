//! Document requests: which placeholders answer, audience matching, handles and the log.

use serde_json::json;

use super::*;
use crate::common::{Db, on_both_databases};

on_both_databases!(
    no_audience_gives_a_handle_to_the_holder,
    dead_placeholders_all_answer_the_same_404,
    records_audience_selects_exactly_one_record,
    octet_stream_audience_does_not_check_the_token,
    sealed_links_redirect_to_the_document_request,
    every_request_leaves_one_log_record,
    one_viewing_is_joined_across_gateway_and_vault_logs,
);

async fn no_audience_gives_a_handle_to_the_holder(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"public bytes", &[]).await;
    let client = no_redirects();
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(fetch_handle(response).await, b"public bytes");
    // Other methods, HEAD included (it would mint a handle nobody reads): 405 with Allow.
    for method in [reqwest::Method::HEAD, reqwest::Method::POST] {
        let response = client.request(method, &url).send().await.unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET");
    }
}

async fn dead_placeholders_all_answer_the_same_404(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let client = no_redirects();
    let replaced = create(&app, &token, b"a", &[]).await;
    let update = reqwest::multipart::Form::new().text("name", "renamed.pdf");
    let response = app
        .client
        .post(app.url(&format!("/documents/{}", replaced.id)))
        .bearer_auth(&token)
        .multipart(update)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let deleted = create(&app, &token, b"b", &[]).await;
    let response = app
        .delete(&token, &format!("/documents/{}", deleted.id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let expiring = create_expiring(&app, &token, &soon).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut bodies = Vec::new();
    for path in [
        replaced.placeholder.as_str(),
        deleted.placeholder.as_str(),
        expiring.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "not-an-id",
        "%00%ff",
    ] {
        let response = client
            .get(format!("{}/{path}", app.gateway))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        bodies.push(response.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "404 pages differ"
    );
}

async fn create_expiring(app: &TestApp, token: &str, expiration: &str) -> String {
    let form =
        document_form("soon.pdf", b"soon".to_vec()).text("expiration", expiration.to_owned());
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201);
    placeholder_id(&response.json().await.unwrap())
}

async fn records_audience_selects_exactly_one_record(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"for members", &[("audience", audience())]).await;
    let client = no_redirects();
    let response = client.get(harry(&app, &doc)).send().await.unwrap();
    assert_eq!(fetch_handle(response).await, b"for members");
    let base = format!("{}/{}", app.gateway, doc.placeholder);
    for query in [
        "",
        "?telephone=4154445511",
        "?telephone=4154445511&first_name=Jane",
        "?telephone=4154445511&first_name=harry",
        "?telephone=4154445511&telephone=4154445511&first_name=Harry",
        "?telephone=%ff&first_name=Harry",
    ] {
        let response = client.get(format!("{base}{query}")).send().await.unwrap();
        assert_eq!(response.status(), 403, "{query}");
    }
    // Extra parameters and any order are fine; the encoding of the template is understood.
    let response = client
        .get(format!("{base}?utm=x&first_name=Jane&telephone=4154445512"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // Two records sharing the token values: the gateway refuses to guess.
    let twins = json!({"type": "records", "viewerToken": "{?first_name}", "data": {"records": [
        {"first_name": "Sam", "pin": "1"}, {"first_name": "Sam", "pin": "2"}, {"first_name": "Ann", "pin": "3"}
    ]}});
    let doc = create(&app, &token, b"twins", &[("audience", twins)]).await;
    let base = format!("{}/{}", app.gateway, doc.placeholder);
    let ambiguous = client
        .get(format!("{base}?first_name=Sam"))
        .send()
        .await
        .unwrap();
    assert_eq!(ambiguous.status(), 403);
    let single = client
        .get(format!("{base}?first_name=Ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 303);
}

async fn octet_stream_audience_does_not_check_the_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let audience =
        json!({"type": "octet-stream", "viewerToken": "{?email_address}", "data": "aGVsbG8="});
    let doc = create(
        &app,
        &token,
        b"opaque",
        &[
            ("audience", audience),
            ("challenge", basic(literal("opensesame"))),
        ],
    )
    .await;
    let response = no_redirects()
        .get(format!(
            "{}/{}?anything=at-all",
            app.gateway, doc.placeholder
        ))
        .basic_auth("whoever", Some("opensesame"))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(response).await, b"opaque");
}

async fn sealed_links_redirect_to_the_document_request(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"sealed", &[("audience", audience())]).await;
    let keys = shared::sealed::SealKeys::load_or_create(
        &app.data_dir().join(shared::sealed::SEAL_KEYS_FILE),
    )
    .unwrap();
    let sealed = keys
        .seal(&shared::sealed::SealedLink {
            placeholder: doc.placeholder.clone(),
            viewer_token: vec![
                ("telephone".into(), "4154445511".into()),
                ("first_name".into(), "Harry".into()),
            ],
        })
        .unwrap();
    let client = no_redirects();
    let response = client
        .get(format!("{}/l/{sealed}", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/{}?telephone=4154445511&first_name=Harry", doc.placeholder)
    );
    let response = client
        .get(format!("{}{location}", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(response).await, b"sealed");
    // Junk, truncated and tampered seals: 404, like an unknown placeholder.
    let mut tampered = sealed.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    for seal in [
        "junk".to_owned(),
        sealed[..sealed.len() - 3].to_owned(),
        String::from_utf8(tampered).unwrap(),
        "A".repeat(5000),
    ] {
        let response = client
            .get(format!("{}/l/{seal}", app.gateway))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{seal}");
    }
}

async fn every_request_leaves_one_log_record(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"logged", &[("audience", audience())]).await;
    let client = no_redirects();
    let before = gateway_lines(&app).await.len();
    let urls = [
        harry(&app, &doc),
        format!(
            "{}/{}?telephone=nobody&first_name=x",
            app.gateway, doc.placeholder
        ),
        format!("{}/l/some-secret-seal", app.gateway),
        format!("{}/junk/path?q=secret", app.gateway),
        format!("{}/", app.gateway),
    ];
    for url in &urls {
        client.get(url).send().await.unwrap();
    }
    let lines = gateway_lines(&app).await;
    assert_eq!(lines.len() - before, urls.len(), "{lines:#?}");
    let new = &lines[before..];
    for line in new {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 9, "{line}");
        assert!(
            !line.contains("4154445511") && !line.contains("secret"),
            "{line}"
        );
    }
    let first: Vec<&str> = new[0].split('\t').collect();
    assert_eq!(first[0], doc.id);
    assert_eq!((first[3], first[4]), ("127.0.0.1", "GET"));
    let (path, correlation) = first[5].split_once(" -> ").unwrap();
    assert_eq!(path, format!("/{}", doc.placeholder));
    assert!(correlation.starts_with("/h/<redacted:"), "{correlation}");
    assert_eq!((first[6], first[7]), ("303", "1"));
    assert_ne!(first[8], "-");
    let second: Vec<&str> = new[1].split('\t').collect();
    assert_eq!((second[6], second[7]), ("403", "2"));
    let sealed: Vec<&str> = new[2].split('\t').collect();
    assert_eq!(
        (sealed[0], sealed[5], sealed[6], sealed[7], sealed[8]),
        ("-", "/l/<redacted>", "404", "-", "-")
    );
}

/// The handle's nonce is the correlation id: the gateway's record of the request that issued
/// the handle names it after the path, the vault's record of the download shows it in place of
/// the handle, and neither shows the handle itself.
async fn one_viewing_is_joined_across_gateway_and_vault_logs(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"joined", &[("audience", audience())]).await;
    let response = no_redirects().get(harry(&app, &doc)).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(fetch_handle(response).await, b"joined");
    let handle = location.rsplit('/').next().unwrap().to_owned();
    app.stop().await;

    let gateway = gateway_lines(&app).await;
    let issued: Vec<&str> = gateway.last().unwrap().split('\t').collect();
    let nonce = issued[5]
        .strip_prefix(&format!("/{} -> /h/<redacted:", doc.placeholder))
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{issued:?}"));
    assert_eq!(nonce.len(), 22, "{nonce}");
    let vault = crate::vault_log::all_lines(&app).await;
    let downloads: Vec<&String> = vault
        .iter()
        .filter(|line| line.contains(&format!("/h/<redacted:{nonce}>")))
        .collect();
    assert_eq!(downloads.len(), 1, "{vault:#?}");
    assert_eq!(downloads[0].split('\t').nth(7), Some("200"));
    for line in gateway.iter().chain(&vault) {
        assert!(!line.contains(&handle), "{line}");
    }
}
