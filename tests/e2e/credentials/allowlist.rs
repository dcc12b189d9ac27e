//! The IP allowlist (issue 16, item 5): `GET`/`PUT /producer/allowlist`, enforced on every
//! credential and on `POST /login` (PEM key and assertion alike), from a second loopback source
//! address (127.0.0.2); and the one client-address rule (`api.trusted_proxies`): `Forwarded` /
//! `X-Forwarded-For` count only from a trusted peer, for the allowlist, the gateway's address
//! limits and the API's, the gateway's and the vault's logs.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    the_allowlist_refuses_and_allows_by_source_address,
    put_validates_normalises_and_refuses_a_lockout,
    forwarded_headers_count_only_from_a_trusted_proxy,
    the_gateway_and_vault_logs_use_the_same_rule,
    a_second_api_process_follows_a_change_within_a_second,
    the_gateway_limits_the_forwarded_address,
    invalid_trusted_proxies_stop_start_up,
);

/// The second loopback source address the suite sends from.
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A client whose connections come from `source`.
fn client_from(source: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .build()
        .unwrap()
}

/// `PUT /producer/allowlist` with `list` as `token`, from `client`, with `extra` headers.
async fn put_allowlist(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    list: Value,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client
        .put(app.url("/producer/allowlist"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(list.to_string());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// `GET /documents/{id}` as `token` from `client` with `extra` headers: the status.
async fn get_document(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> u16 {
    let mut request = client
        .get(app.url(&format!("/documents/{id}")))
        .bearer_auth(token);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// `POST /login` with the default producer's key from `client` with `extra` headers.
async fn login_from(app: &TestApp, client: &reqwest::Client, extra: &[(&str, &str)]) -> u16 {
    let form = Form::new()
        .text("key", app.default_key())
        .text("email", "operator@example.com");
    let mut request = client.post(app.url("/login")).multipart(form);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    if let Some(token) = response.headers().get("authorization") {
        for part in token.to_str().unwrap().split(' ') {
            crate::secrets::record("login token", part);
        }
    }
    response.status().as_u16()
}

/// `POST /login` with a signed assertion (the key never travels) from `client`: the status.
async fn assertion_login_from(app: &TestApp, client: &reqwest::Client) -> u16 {
    let jwt = super::assertion::assertion(app, &app.default_key(), "default");
    let form = Form::new().text("assertion", jwt);
    let response = client.post(app.url("/login")).multipart(form).send().await;
    let response = response.unwrap();
    if let Some(token) = response.headers().get("authorization") {
        crate::secrets::record("login token", token.to_str().unwrap());
    }
    response.status().as_u16()
}

async fn the_allowlist_refuses_and_allows_by_source_address(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = app.upload(&token, "a.txt", b"allow".to_vec()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (here, other) = (&app.client, &client_from(OTHER));
    assert_eq!(app.get_json(&token, "/producer/allowlist").await, json!([]));
    assert_eq!(get_document(&app, other, &token, &id, &[]).await, 200);

    let response = put_allowlist(
        &app,
        here,
        &token,
        json!(["127.0.0.1", "2001:db8::/32"]),
        &[],
    )
    .await;
    assert_eq!(response.status(), 200);
    let stored = json!(["127.0.0.1/32", "2001:db8::/32"]);
    assert_eq!(response.json::<Value>().await.unwrap(), stored);
    assert_eq!(app.get_json(&token, "/producer/allowlist").await, stored);

    // From 127.0.0.2: refused on a document route and at login, with a problem naming it.
    let response = other
        .get(app.url(&format!("/documents/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("127.0.0.2") && detail.contains("not allowed"),
        "{detail}"
    );
    assert_eq!(login_from(&app, other, &[]).await, 403);
    assert_eq!(assertion_login_from(&app, other).await, 403);
    // A spoofed header changes nothing: no proxy is trusted.
    let spoofed = [
        ("x-forwarded-for", "127.0.0.1"),
        ("forwarded", "for=127.0.0.1"),
    ];
    assert_eq!(get_document(&app, other, &token, &id, &spoofed).await, 403);
    assert_eq!(login_from(&app, other, &spoofed).await, 403);
    // From 127.0.0.1: allowed.
    assert_eq!(get_document(&app, here, &token, &id, &[]).await, 200);
    assert_eq!(login_from(&app, here, &[]).await, 200);

    // A list that holds 127.0.0.2 lets it in at once.
    let response = put_allowlist(&app, here, &token, json!(["127.0.0.0/30"]), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(get_document(&app, other, &token, &id, &[]).await, 200);
    assert_eq!(login_from(&app, other, &[]).await, 200);
    assert_eq!(assertion_login_from(&app, other).await, 200);

    // Another producer's list is its own: the default one's does not touch it.
    put_allowlist(&app, here, &token, json!(["127.0.0.1"]), &[]).await;
    let key = app.add_producer("other").await;
    let form = Form::new().text("key", key).text("email", "o@example.com");
    let response = other
        .post(app.url("/login"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for part in response.headers()["authorization"]
        .to_str()
        .unwrap()
        .split(' ')
    {
        crate::secrets::record("login token", part);
    }

    // `[]` lifts the restriction.
    let response = put_allowlist(&app, here, &token, json!([]), &[]).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(get_document(&app, other, &token, &id, &[]).await, 200);
}

async fn put_validates_normalises_and_refuses_a_lockout(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let here = &app.client;

    let response = put_allowlist(&app, here, &token, json!(["127.0.0.1", "nope"]), &[]).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "allowlist[1]", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("nope"),
        "{problem}"
    );
    for bad in [json!(["10.0.0.0/33"]), json!(["::1/129"]), json!([""])] {
        let response = put_allowlist(&app, here, &token, bad.clone(), &[]).await;
        assert_eq!(response.status(), 422, "{bad}");
    }
    for bad in [json!({"allow": []}), json!("127.0.0.1"), json!([1])] {
        let response = put_allowlist(&app, here, &token, bad.clone(), &[]).await;
        assert_eq!(response.status(), 400, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], "allowlist", "{problem}");
    }
    let too_many: Vec<String> = (0..1001)
        .map(|n| format!("10.{}.{}.0/24", n / 256, n % 256))
        .collect();
    let response = put_allowlist(&app, here, &token, json!(too_many), &[]).await;
    assert_eq!(response.status(), 422);

    // A list without the caller's own address would lock it out: 409, nothing stored.
    let response = put_allowlist(&app, here, &token, json!(["10.0.0.0/8", "::1"]), &[]).await;
    assert_eq!(response.status(), 409);
    let detail = response.json::<Value>().await.unwrap()["detail"].to_string();
    assert!(detail.contains("127.0.0.1"), "{detail}");
    assert_eq!(app.get_json(&token, "/producer/allowlist").await, json!([]));

    // Host bits are cleared, bare addresses are one host, IPv6 alike; the order is kept.
    let list = json!(["127.0.0.9/8", " ::1 ", "2001:DB8::1/48"]);
    let response = put_allowlist(&app, here, &token, list, &[]).await;
    assert_eq!(response.status(), 200);
    let stored = json!(["127.0.0.0/8", "::1/128", "2001:db8::/48"]);
    assert_eq!(response.json::<Value>().await.unwrap(), stored);
    assert_eq!(app.get_json(&token, "/producer/allowlist").await, stored);

    // Without credentials: 401, whatever the body.
    let response = here
        .put(app.url("/producer/allowlist"))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn forwarded_headers_count_only_from_a_trusted_proxy(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.trusted_proxies", "127.0.0.1/32")]).await;
    let token = app.login().await;
    let id = app.upload(&token, "a.txt", b"proxied".to_vec()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (proxy, other) = (&app.client, &client_from(OTHER));
    let client_a = [("x-forwarded-for", "192.0.2.10")];

    // Behind the trusted proxy the header names the client: the list must hold it, not the
    // proxy.
    let list = json!(["192.0.2.0/24"]);
    assert_eq!(
        put_allowlist(&app, proxy, &token, list.clone(), &[])
            .await
            .status(),
        409
    );
    assert_eq!(
        put_allowlist(&app, proxy, &token, list, &client_a)
            .await
            .status(),
        200
    );

    assert_eq!(get_document(&app, proxy, &token, &id, &client_a).await, 200);
    assert_eq!(login_from(&app, proxy, &client_a).await, 200);
    let chain = [("x-forwarded-for", "198.51.100.1, 192.0.2.10, 127.0.0.1")];
    assert_eq!(get_document(&app, proxy, &token, &id, &chain).await, 200);
    let forwarded = [(
        "forwarded",
        "for=192.0.2.10;proto=http, for=\"127.0.0.1:4711\"",
    )];
    assert_eq!(
        get_document(&app, proxy, &token, &id, &forwarded).await,
        200
    );
    for refused in [
        &[("x-forwarded-for", "198.51.100.1")][..],
        &[("x-forwarded-for", "192.0.2.10, 198.51.100.1")][..],
        &[("x-forwarded-for", "not an address")][..],
        &[("forwarded", "for=_hidden")][..],
        &[][..],
    ] {
        assert_eq!(
            get_document(&app, proxy, &token, &id, refused).await,
            403,
            "{refused:?}"
        );
    }
    // The same header from an untrusted peer is ignored.
    assert_eq!(get_document(&app, other, &token, &id, &client_a).await, 403);
    assert_eq!(login_from(&app, other, &client_a).await, 403);

    // The API log's remote-IP column follows the same rule.
    let list = json!([]);
    assert_eq!(
        put_allowlist(&app, proxy, &token, list, &client_a)
            .await
            .status(),
        200
    );
    let spoofed = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(get_document(&app, other, &token, &id, &spoofed).await, 200);
    let proxied = [("x-forwarded-for", "203.0.113.8")];
    assert_eq!(get_document(&app, proxy, &token, &id, &proxied).await, 200);
    let remotes: Vec<String> = crate::delivery::api_log(&app, &id)
        .await
        .iter()
        .map(|line| line.split('\t').nth(3).unwrap().to_owned())
        .collect();
    for expected in ["192.0.2.10", "127.0.0.2", "203.0.113.8"] {
        assert!(
            remotes.iter().any(|r| r == expected),
            "{expected} in {remotes:?}"
        );
    }
    assert!(!remotes.iter().any(|r| r == "203.0.113.7"), "{remotes:?}");
}

async fn the_gateway_and_vault_logs_use_the_same_rule(db: Db) {
    let mut app = TestApp::spawn_with(db, &[("api.trusted_proxies", "127.0.0.1/32")]).await;
    let (proxy, other) = (&app.client, &client_from(OTHER));
    for (client, forwarded) in [(proxy, "203.0.113.21"), (other, "203.0.113.22")] {
        let xff = ("x-forwarded-for", forwarded);
        let url = format!("{}/allowlist-probe", app.gateway);
        client.get(url).header(xff.0, xff.1).send().await.unwrap();
        let url = format!("{}/allowlist-probe", app.vault);
        client.get(url).header(xff.0, xff.1).send().await.unwrap();
    }
    app.stop().await;

    let probes = |lines: Vec<String>, remote_at: usize| -> Vec<String> {
        lines
            .iter()
            .filter(|line| line.contains("/allowlist-probe"))
            .map(|line| line.split('\t').nth(remote_at).unwrap().to_owned())
            .collect()
    };
    let gateway = probes(crate::gateway::gateway_lines(&app).await, 3);
    assert_eq!(gateway, ["203.0.113.21", "127.0.0.2"]);
    let vault = probes(crate::vault_log::all_lines(&app).await, 2);
    assert_eq!(vault, ["203.0.113.21", "127.0.0.2"]);
}

/// A second instance on the same database and data directory (a scaled-out API process):
/// it caches the list it read, and a `PUT` answered by the first reaches it within a second
/// (the cache's lifetime; asserted after 1.1 s, a bound that a loaded machine only loosens).
async fn a_second_api_process_follows_a_change_within_a_second(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let second = sealpost::instance::Instance::start(&app.settings)
        .await
        .unwrap();
    let second_api = format!("http://{}", second.api_addr);
    let other = client_from(OTHER);
    let from_other = || {
        other
            .get(format!("{second_api}/producer/allowlist"))
            .bearer_auth(&token)
            .send()
    };
    // The second process reads (and keeps) the empty list.
    assert_eq!(from_other().await.unwrap().status(), 200);

    let list = json!(["127.0.0.1"]);
    let response = put_allowlist(&app, &app.client, &token, list, &[]).await;
    assert_eq!(response.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(from_other().await.unwrap().status(), 403);

    // And back: lifted on the first, the second lets 127.0.0.2 in again.
    let response = put_allowlist(&app, &app.client, &token, json!([]), &[]).await;
    assert_eq!(response.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(from_other().await.unwrap().status(), 200);
    second.stop().await;
}

/// The gateway's per-address failure limit counts the address the trusted proxy names: one
/// client behind the proxy is refused (429), another behind the same proxy is not.
async fn the_gateway_limits_the_forwarded_address(db: Db) {
    use crate::gateway::{basic, create, literal, no_redirects};
    let settings = [
        ("api.trusted_proxies", "127.0.0.1/32"),
        ("gateway.address_failures_per_hour", "2"),
    ];
    let app = TestApp::spawn_with(db, &settings).await;
    let token = app.login().await;
    let client = no_redirects();
    let attempt = async |forwarded: &str, password: &str| {
        let doc = create(&app, &token, b"x", &[("challenge", basic(literal("pw")))]).await;
        let url = format!("{}/{}", app.gateway, doc.placeholder);
        let request = client.get(&url).basic_auth("", Some(password));
        let response = request.header("x-forwarded-for", forwarded).send().await;
        response.unwrap().status().as_u16()
    };
    assert_eq!(attempt("203.0.113.40", "no").await, 401);
    assert_eq!(attempt("203.0.113.40", "no").await, 429);
    assert_eq!(attempt("203.0.113.40", "pw").await, 429);
    assert_eq!(attempt("203.0.113.41", "pw").await, 303);
}

async fn invalid_trusted_proxies_stop_start_up(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut settings = app.settings.clone();
    settings.api.trusted_proxies = vec!["127.0.0.1/32".into(), "localhost".into()];
    settings.api.addr = "127.0.0.1:0".parse().unwrap();
    let Err(error) = sealpost::instance::Instance::start(&settings).await else {
        panic!("an instance started with trusted_proxies = localhost");
    };
    let message = format!("{error:#}");
    assert!(
        message.contains("api.trusted_proxies: \"localhost\""),
        "{message}"
    );
}
