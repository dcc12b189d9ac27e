//! Real clients against the gateway: curl, python-requests and headless Chromium, plus the
//! Digest rules (stale nonce, request URI, replayed counter) driven by hand.

use std::path::Path;
use std::process::Command;

use gateway::challenge::digest::{Algorithm, Credentials};
use serde_json::Value;

use super::*;
use crate::browser::run_browser_script;
use crate::common::{Db, on_both_databases};

on_both_databases!(
    curl_basic_and_digest,
    python_requests_basic_and_digest,
    digest_stale_nonce_wrong_uri_and_replayed_counter,
    curl_sees_every_refusal_and_the_lock,
);

/// `curl` with `args`, returning (status, redirect URL).
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8(output.stdout).unwrap();
    let (status, location) = text.split_once(' ').unwrap();
    (status.parse().unwrap(), location.to_owned())
}

async fn curl_basic_and_digest(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let basic_doc = create(
        &app,
        &token,
        b"curl basic",
        &[
            ("audience", audience()),
            ("challenge", basic(field("code"))),
        ],
    )
    .await;
    let digest_doc = create(
        &app,
        &token,
        b"curl digest",
        &[
            ("audience", audience()),
            ("challenge", digest(field("pin"))),
        ],
    )
    .await;
    let (basic_url, digest_url) = (harry(&app, &basic_doc), harry(&app, &digest_doc));
    let results = tokio::task::spawn_blocking(move || {
        [
            curl(&["--basic", "-u", "harry:tiger", &basic_url]),
            curl(&["--basic", "-u", "harry:lion", &basic_url]),
            curl(&["--digest", "-u", "harry:s3cret", &digest_url]),
            curl(&["--digest", "-u", "harry:wrong", &digest_url]),
            curl(&["--digest", "-u", "jane:hunter2", &digest_url]),
        ]
    })
    .await
    .unwrap();
    let statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [303, 401, 303, 401, 401]);
    for location in [&results[0].1, &results[2].1] {
        assert!(
            location.starts_with(&format!("{}/h/", app.vault)),
            "{location}"
        );
    }
    let bytes = reqwest::get(&results[2].1)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), b"curl digest");
}

async fn curl_sees_every_refusal_and_the_lock(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"curl refusals",
        &[
            ("audience", audience()),
            ("challenge", basic(field("code"))),
        ],
    )
    .await;
    let gateway = app.gateway.clone();
    let (unknown, stranger, harry_url) = (
        format!("{gateway}/AAAAAAAAAAAAAAAAAAAAAA"),
        format!("{gateway}/{}?telephone=1&first_name=x", doc.placeholder),
        harry(&app, &doc),
    );
    let results = tokio::task::spawn_blocking(move || {
        let mut results = vec![
            curl(&[&unknown]),
            curl(&["-u", "x:tiger", &stranger]),
            curl(&[&harry_url]),
        ];
        for _ in 0..5 {
            results.push(curl(&["--basic", "-u", "harry:wrong", &harry_url]));
        }
        results.push(curl(&["--basic", "-u", "harry:tiger", &harry_url]));
        results
    })
    .await
    .unwrap();
    let statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
    // The stranger is answered like a member with a wrong password (issue 14, finding 2).
    assert_eq!(statuses, [404, 401, 401, 401, 401, 401, 401, 429, 429]);
}

fn python_requests(scheme: &str, url: &str, user: &str, password: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/requests_auth.py");
    let output = Command::new("python3")
        .arg(script)
        .args([scheme, url, user, password])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn python_requests_basic_and_digest(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let basic_doc = create(
        &app,
        &token,
        b"py basic",
        &[("challenge", basic(literal("opensesame")))],
    )
    .await;
    let digest_doc = create(
        &app,
        &token,
        b"py digest",
        &[
            ("audience", audience()),
            ("challenge", digest(field("pin"))),
        ],
    )
    .await;
    let basic_url = format!("{}/{}", app.gateway, basic_doc.placeholder);
    let digest_url = harry(&app, &digest_doc);
    let results = tokio::task::spawn_blocking(move || {
        [
            python_requests("basic", &basic_url, "ignored", "opensesame"),
            python_requests("basic", &basic_url, "ignored", "nope"),
            python_requests("digest", &digest_url, "harry", "s3cret"),
            python_requests("digest", &digest_url, "harry", "nope"),
        ]
    })
    .await
    .unwrap();
    assert_eq!(results[0]["status"], 303);
    assert_eq!(results[0]["body_hex"], hex(b"py basic"));
    assert_eq!(results[1]["status"], 401);
    assert_eq!(results[2]["status"], 303, "{}", results[2]);
    assert_eq!(results[2]["body_hex"], hex(b"py digest"));
    assert_eq!(results[3]["status"], 401);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `name="value"` of a challenge header.
fn param(header: &str, name: &str) -> String {
    let start = header.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    header[start..start + header[start..].find('"').unwrap()].to_owned()
}

/// An `Authorization: Digest` value for `uri`, as a client knowing the password computes it.
fn digest_authorization(
    challenge: &str,
    uri: &str,
    nc: &str,
    user: &str,
    password: &str,
) -> String {
    let mut credentials = Credentials {
        username: user.into(),
        realm: param(challenge, "realm"),
        nonce: param(challenge, "nonce"),
        uri: uri.into(),
        response: String::new(),
        algorithm: Algorithm::Sha256,
        cnonce: "0a4f113b".into(),
        nc: nc.into(),
        opaque: Some(param(challenge, "opaque")),
    };
    credentials.response = credentials.expected_response("GET", password);
    format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm=SHA-256, qop=auth, nc={nc}, cnonce=\"{}\", response=\"{}\", opaque=\"{}\"",
        credentials.username,
        credentials.realm,
        credentials.nonce,
        credentials.cnonce,
        credentials.response,
        credentials.opaque.unwrap_or_default()
    )
}

async fn digest_stale_nonce_wrong_uri_and_replayed_counter(db: Db) {
    let app = TestApp::spawn_with(db, &[("gateway.digest_nonce_secs", "1")]).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"digest rules",
        &[("challenge", digest(literal("ann:pw")))],
    )
    .await;
    let path = format!("/{}", doc.placeholder);
    let url = format!("{}{path}", app.gateway);
    let client = no_redirects();
    let first = client.get(&url).send().await.unwrap();
    let challenge = first.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let send = |authorization: String| {
        client
            .get(&url)
            .header("authorization", authorization)
            .send()
    };
    let ok = send(digest_authorization(
        &challenge, &path, "00000001", "ann", "pw",
    ))
    .await
    .unwrap();
    assert_eq!(ok.status(), 303);
    // The same counter again is a replay: challenged afresh.
    let replay = send(digest_authorization(
        &challenge, &path, "00000001", "ann", "pw",
    ))
    .await
    .unwrap();
    assert_eq!(replay.status(), 401);
    let next = send(digest_authorization(
        &challenge, &path, "00000002", "ann", "pw",
    ))
    .await
    .unwrap();
    assert_eq!(next.status(), 303);
    // Credentials for another URI: 400.
    let other = send(digest_authorization(
        &challenge,
        "/elsewhere",
        "00000003",
        "ann",
        "pw",
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 400);
    // A wrong user id is a failure.
    let wrong_user = send(digest_authorization(
        &challenge, &path, "00000004", "bob", "pw",
    ))
    .await
    .unwrap();
    assert_eq!(wrong_user.status(), 401);
    // Once the nonce expired, right credentials get stale=true (no prompt in a browser).
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let stale = send(digest_authorization(
        &challenge, &path, "00000005", "ann", "pw",
    ))
    .await
    .unwrap();
    assert_eq!(stale.status(), 401);
    let again = stale.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(again.ends_with("stale=true"), "{again}");
    let fresh = send(digest_authorization(&again, &path, "00000001", "ann", "pw"))
        .await
        .unwrap();
    assert_eq!(fresh.status(), 303);
}

#[tokio::test]
async fn chromium_opens_a_sealed_link_answers_basic_and_downloads() {
    chromium_flow(basic(field("code")), "harry", "tiger", "landing-basic.png").await;
}

#[tokio::test]
async fn chromium_answers_a_digest_challenge() {
    chromium_flow(
        digest(field("pin")),
        "harry",
        "s3cret",
        "landing-digest.png",
    )
    .await;
}

/// Sealed link → challenge answered through the driver → landing page (screenshot) → click the
/// handle link → the downloaded bytes are exactly the uploaded ones.
async fn chromium_flow(
    challenge: Value,
    user: &'static str,
    password: &'static str,
    shot_name: &str,
) {
    let app = TestApp::spawn(Db::Sqlite).await;
    let token = app.login().await;
    let content = b"exact bytes \x00\x01\xfe for Chromium\n".to_vec();
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(content.clone())
                .file_name("note.bin")
                .mime_str("application/octet-stream")
                .unwrap(),
        )
        .text("audience", audience().to_string())
        .text("challenge", challenge.to_string());
    let response = app.upload_form(&token, form).await;
    assert_eq!(response.status(), 201);
    let placeholder = placeholder_id(&response.json().await.unwrap());
    let keys = shared::sealed::SealKeys::load_or_create(
        &app.data_dir().join(shared::sealed::SEAL_KEYS_FILE),
    )
    .unwrap();
    let sealed = keys
        .seal(&shared::sealed::SealedLink {
            placeholder: placeholder.clone(),
            viewer_token: vec![
                ("telephone".into(), "4154445511".into()),
                ("first_name".into(), "Harry".into()),
            ],
        })
        .unwrap();
    let url = format!("{}/l/{sealed}", app.gateway);
    // The screenshot goes to the test output, not the repository.
    let shot_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gateway-screenshots");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join(shot_name);
    let shot_arg = shot.display().to_string();
    let result = tokio::task::spawn_blocking(move || {
        run_browser_script("gateway-viewer.mjs", &[&url, user, password, &shot_arg])
    })
    .await
    .unwrap();
    assert_eq!(result["landingStatus"], 200, "{result}");
    assert_eq!(result["lang"], "en");
    assert!(
        result["handleUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/h/", app.vault))
    );
    assert_eq!(result["documentStatus"], 200);
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(result["documentBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(body, content);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "screenshot at {}",
        shot.display()
    );
    let _ = placeholder;
}
