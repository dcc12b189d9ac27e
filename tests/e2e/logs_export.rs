//! `GET /logs{/docId}`: the signed zip of a producer's three audit logs (streamed, signed
//! inside), and its offline verification — the library function and `sealpost logs verify` —
//! on untouched and tampered copies; scoping by document, dates and producer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_zip::base::read1::seek::ZipArchiveReader;
use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use schema::audit::chain;
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::{KeySet, Manifest};
use tokio::io::{AsyncReadExt as _, BufReader};
use tokio_util::compat::{FuturesAsyncReadCompatExt as _, TokioAsyncReadCompatExt as _};

use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{create, fetch_handle, no_redirects};

on_both_databases!(
    an_export_verifies_and_tampering_is_named,
    exports_are_scoped_by_document_dates_and_producer,
    document_records_are_signed,
);

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// The instance's published keys (no credentials needed).
pub async fn keys(app: &TestApp) -> KeySet {
    let response = app
        .client
        .get(app.url("/.well-known/sealpost-keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Downloads an export to `file`; returns its file name. The zip is streamed (no
/// `Content-Length`) and signed inside (`manifest.sig`), not by response headers.
pub async fn download(
    app: &TestApp,
    token: &str,
    path: &str,
    _keys: &KeySet,
    file: &Path,
) -> String {
    let response = app.get(token, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.get("content-length").is_none());
    assert!(headers.get(SIGNATURE_HEADER).is_none());
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    std::fs::write(file, &body).unwrap();
    let disposition = header("content-disposition");
    let name = disposition.strip_prefix("attachment; filename=\"").unwrap();
    name.strip_suffix('"').unwrap().to_owned()
}

/// Every entry of a zip: name and bytes, in order.
pub async fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = BufReader::new(tokio::fs::File::open(path).await.unwrap()).compat();
    let mut zip = ZipArchiveReader::open(file).await.unwrap();
    let names: Vec<String> = zip
        .cdrs()
        .iter()
        .map(|cdr| String::from_utf8(cdr.insecure_file_name.as_bytes().to_vec()).unwrap())
        .collect();
    let mut out = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        let mut bytes = Vec::new();
        let reader = zip.file(index).await.unwrap();
        reader.compat().read_to_end(&mut bytes).await.unwrap();
        out.push((name, bytes));
    }
    out
}

pub fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let (_, bytes) = entries.iter().find(|(n, _)| n == name).unwrap();
    std::str::from_utf8(bytes).unwrap()
}

fn manifest(entries: &[(String, Vec<u8>)]) -> Manifest {
    serde_json::from_str(entry(entries, "manifest.json")).unwrap()
}

/// Writes `entries` as a new zip at `path`, with the lines of the entries named in `changes`
/// replaced.
async fn repack(path: &Path, entries: &[(String, Vec<u8>)], changes: &[(&str, &[String])]) {
    let file = tokio::fs::File::create(path).await.unwrap();
    let mut zip = ZipFileWriter::with_tokio(file);
    for (name, bytes) in entries {
        let bytes = match changes.iter().find(|(changed, _)| changed == name) {
            Some((_, lines)) => lines
                .iter()
                .map(|line| format!("{line}\n"))
                .collect::<String>()
                .into_bytes(),
            None => bytes.clone(),
        };
        let builder = ZipEntryBuilder::new(name.clone().into(), Compression::Deflate);
        zip.write_entry_whole(builder, &bytes).await.unwrap();
    }
    zip.close().await.unwrap();
}

/// `lines` without line `index` (0-based).
fn without(lines: &[String], index: usize) -> Vec<String> {
    let mut lines = lines.to_vec();
    lines.remove(index);
    lines
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The library's verdict on the export at `path`: `Ok` or the error message.
pub async fn verdict(path: &Path, keys: &KeySet) -> Result<Manifest, String> {
    shared::logzip::verify(path, keys)
        .await
        .map(|report| report.manifest)
        .map_err(|error| error.to_string())
}

/// `sealpost logs verify FILE --key KEY`: (success, stdout, stderr).
async fn run_verify(file: &Path, key: &str) -> (bool, String, String) {
    let output = tokio::process::Command::new(BINARY)
        .args(["logs", "verify"])
        .arg(file)
        .args(["--key", key])
        .output()
        .await
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

/// Waits until the producer's vault log holds `count` records (it is written in batches).
async fn wait_for_vault_lines(app: &TestApp, token: &str, keys: &KeySet, dir: &Path, count: u64) {
    let file = dir.join("poll.zip");
    for _ in 0..100 {
        download(app, token, "/logs", keys, &file).await;
        if manifest(&entries(&file).await).logs[2].records >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the vault log never held {count} records");
}

async fn an_export_verifies_and_tampering_is_named(db: Db) {
    let app = TestApp::spawn_with(db, &[("vault.log_flush_secs", "1")]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.login().await;
    let alpha = create(&app, &token, b"alpha", &[]).await;
    let beta = create(&app, &token, b"beta", &[]).await;
    // API, gateway and vault records of both documents.
    let record = app.get(&token, &format!("/documents/{}", alpha.id));
    assert_eq!(record.send().await.unwrap().status(), 200);
    let client = no_redirects();
    let request = |placeholder: &str| client.get(format!("{}/{placeholder}", app.gateway)).send();
    assert_eq!(
        fetch_handle(request(&alpha.placeholder).await.unwrap()).await,
        b"alpha"
    );
    assert_eq!(request(&alpha.placeholder).await.unwrap().status(), 303);
    assert_eq!(request(&beta.placeholder).await.unwrap().status(), 303);
    let handle = app.handle_url(&beta.id, 300).await;
    assert_eq!(app.client.get(&handle).send().await.unwrap().status(), 200);
    let keys = keys(&app).await;
    wait_for_vault_lines(&app, &token, &keys, dir.path(), 2).await;

    let path = dir.path().join("export.zip");
    let name = download(&app, &token, "/logs", &keys, &path).await;
    assert!(name.starts_with("sealpost-logs-beginning-"), "{name}");
    assert!(name.ends_with("Z.zip"), "{name}");
    let all = entries(&path).await;
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "api.log",
            "gateway.log",
            "vault.log",
            "api.chain",
            "gateway.chain",
            "vault.chain",
            "manifest.json",
            "manifest.sig"
        ]
    );
    let manifest = manifest(&all);
    assert_eq!(
        (manifest.doc_id.as_deref(), manifest.from.as_deref()),
        (None, None)
    );
    assert_eq!(manifest.key_id, keys.keys[0].key_id);
    for log in &manifest.logs {
        let text = entry(&all, &log.file);
        let chains = entry(&all, &log.chain_file);
        assert_eq!(shared::logzip::sha256_hex(text.as_bytes()), log.sha256);
        assert_eq!(
            shared::logzip::sha256_hex(chains.as_bytes()),
            log.chain_sha256
        );
        assert_eq!(text.lines().count() as u64, log.records, "{}", log.file);
        let mut expected_prev = log.first_prev.clone();
        for (line, pair) in text.lines().zip(chains.lines()) {
            let (prev, link) = pair.split_once('\t').unwrap();
            assert_eq!(Some(prev), expected_prev.as_deref(), "{line}");
            assert_eq!(chain(prev, line), link, "{line}");
            expected_prev = Some(link.to_owned());
        }
        assert_eq!(expected_prev, log.head);
    }
    let api = lines_of(entry(&all, "api.log"));
    let gateway = lines_of(entry(&all, "gateway.log"));
    let vault = lines_of(entry(&all, "vault.log"));
    assert!(api.len() >= 4, "{api:#?}"); // login, two uploads, the read, the polls
    assert!(
        api.iter()
            .all(|l| l.split('\t').nth(8) == Some(&manifest.producer_id))
    );
    assert_eq!(gateway.len(), 3, "{gateway:#?}");
    assert!(
        gateway
            .iter()
            .all(|l| l.split('\t').nth(8) == Some(&manifest.producer_id))
    );
    assert_eq!(vault.len(), 2, "{vault:#?}");
    assert!(vault[0].starts_with(&alpha.id) && vault[1].starts_with(&beta.id));
    assert_eq!(verdict(&path, &keys).await, Ok(manifest.clone()));

    // Tampered copies: each names the first bad record.
    let tampered = dir.path().join("tampered.zip");
    let mut flipped = gateway.clone();
    let mut bytes = flipped[1].clone().into_bytes();
    bytes[30] ^= 0x01; // inside the end time
    flipped[1] = String::from_utf8(bytes).unwrap();
    repack(&tampered, &all, &[("gateway.log", &flipped)]).await;
    let altered = verdict(&tampered, &keys).await;
    assert_eq!(altered.unwrap_err(), "gateway.log line 2: altered");
    let (ok, _, stderr) = run_verify(&tampered, &app.url("/.well-known/sealpost-keys")).await;
    assert!(
        !ok && stderr.contains("gateway.log line 2: altered"),
        "{stderr}"
    );

    // Line 2 deleted from both files (deleting it from gateway.log alone reads the same).
    let gateway_chains = lines_of(entry(&all, "gateway.chain"));
    let (fewer, fewer_chains) = (without(&gateway, 1), without(&gateway_chains, 1));
    let changes = [
        ("gateway.log", &fewer[..]),
        ("gateway.chain", &fewer_chains[..]),
    ];
    repack(&tampered, &all, &changes).await;
    let removed = verdict(&tampered, &keys).await;
    assert_eq!(removed.unwrap_err(), "gateway.log: removed before line 2");
    repack(&tampered, &all, &changes[..1]).await;
    let removed = verdict(&tampered, &keys).await;
    assert_eq!(removed.unwrap_err(), "gateway.log: removed before line 2");

    // A forged line, chained properly after line 1, in both files.
    let forged = gateway[0].replacen("\t127.0.0.1\t", "\t10.9.9.9\t", 1);
    let prev = gateway_chains[0].split_once('\t').unwrap().1.to_owned();
    let mut more_chains = gateway_chains.clone();
    more_chains.insert(1, format!("{prev}\t{}", chain(&prev, &forged)));
    let mut more = gateway.clone();
    more.insert(1, forged);
    let changes = [
        ("gateway.log", &more[..]),
        ("gateway.chain", &more_chains[..]),
    ];
    repack(&tampered, &all, &changes).await;
    let inserted = verdict(&tampered, &keys).await;
    assert_eq!(inserted.unwrap_err(), "gateway.log: inserted at line 2");

    // The manifest itself: any change breaks its signature.
    let changed = entry(&all, "manifest.json").replacen("\"records\": 3,", "\"records\": 2,", 1);
    assert_ne!(changed, entry(&all, "manifest.json"));
    repack(&tampered, &all, &[("manifest.json", &lines_of(&changed))]).await;
    let signature = verdict(&tampered, &keys).await.unwrap_err();
    assert!(
        signature.starts_with("manifest.sig: the signature does not verify"),
        "{signature}"
    );

    // The real binary, on the untouched file, with a saved copy of the keys and with the URL.
    let key_file: PathBuf = dir.path().join("sealpost-keys.json");
    std::fs::write(&key_file, serde_json::to_vec(&keys).unwrap()).unwrap();
    let (ok, stdout, stderr) = run_verify(&path, key_file.to_str().unwrap()).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("verified: signed by key"), "{stdout}");
    assert!(
        stdout.contains("gateway.log: 3 records, from the chain's start"),
        "{stdout}"
    );
    let (ok, _, stderr) = run_verify(&path, &app.api).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run_verify(&tampered, key_file.to_str().unwrap()).await;
    assert!(
        !ok && stderr.contains("manifest.sig: the signature does not verify"),
        "{stderr}"
    );
}

async fn exports_are_scoped_by_document_dates_and_producer(db: Db) {
    let app = TestApp::spawn(db).await;
    let dir = tempfile::tempdir().unwrap();
    let started = chrono::Utc::now();
    let token = app.login().await;
    let alpha = create(&app, &token, b"alpha", &[]).await;
    let beta = create(&app, &token, b"beta", &[]).await;
    let client = no_redirects();
    for placeholder in [
        &alpha.placeholder,
        &beta.placeholder,
        &alpha.placeholder,
        &alpha.placeholder,
    ] {
        let response = client
            .get(format!("{}/{placeholder}", app.gateway))
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 303);
    }
    let keys = keys(&app).await;

    // One document: only its lines, hit numbers 1, 2, 3 in the gateway log.
    let path = dir.path().join("alpha.zip");
    let name = download(&app, &token, &format!("/logs/{}", alpha.id), &keys, &path).await;
    assert!(name.ends_with(&format!("-{}.zip", alpha.id)), "{name}");
    let all = entries(&path).await;
    let manifest = verdict(&path, &keys).await.unwrap();
    assert_eq!(manifest.doc_id.as_deref(), Some(alpha.id.as_str()));
    let gateway = lines_of(entry(&all, "gateway.log"));
    let hits: Vec<&str> = gateway
        .iter()
        .map(|l| l.split('\t').nth(7).unwrap())
        .collect();
    assert_eq!(hits, ["1", "2", "3"]);
    let api = lines_of(entry(&all, "api.log"));
    assert!(!api.is_empty());
    for line in api.iter().chain(&gateway) {
        assert!(line.starts_with(&format!("{}\t", alpha.id)), "{line}");
    }
    // A line taken out of a one-document export shows as a gap in the hit numbers.
    let fewer_chains = without(&lines_of(entry(&all, "gateway.chain")), 1);
    let fewer = without(&gateway, 1);
    let tampered = dir.path().join("tampered.zip");
    let changes = [
        ("gateway.log", &fewer[..]),
        ("gateway.chain", &fewer_chains[..]),
    ];
    repack(&tampered, &all, &changes).await;
    let removed = verdict(&tampered, &keys).await;
    assert_eq!(removed.unwrap_err(), "gateway.log: removed before line 2");

    // A date range: an ISO date for the whole day, an RFC 3339 end.
    let day = started.date_naive().format("%Y-%m-%d").to_string();
    let end = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let query = format!("/logs?start_date={day}&end_date={end}");
    let path = dir.path().join("range.zip");
    let name = download(&app, &token, &query, &keys, &path).await;
    assert!(
        name.starts_with(&format!("sealpost-logs-{}T000000Z-", day.replace('-', ""))),
        "{name}"
    );
    let manifest = verdict(&path, &keys).await.unwrap();
    assert_eq!(manifest.from, Some(format!("{day}T00:00:00.000Z")));
    assert_eq!(manifest.to, end);
    assert_eq!(manifest.logs[1].records, 4);
    let past = "/logs?start_date=2000-01-01&end_date=2000-01-02";
    download(&app, &token, past, &keys, &path).await;
    let manifest = verdict(&path, &keys).await.unwrap();
    assert!(
        manifest
            .logs
            .iter()
            .all(|log| log.records == 0 && log.head.is_none())
    );

    // A deleted document keeps its audit trail.
    let deleted = app.delete(&token, &format!("/documents/{}", beta.id));
    assert_eq!(deleted.send().await.unwrap().status(), 204);
    let path = dir.path().join("beta.zip");
    download(&app, &token, &format!("/logs/{}", beta.id), &keys, &path).await;
    assert_eq!(verdict(&path, &keys).await.unwrap().logs[1].records, 1);

    // Another producer's document, a malformed id: 404.
    let other = app.login_with(&app.add_producer("other").await).await;
    let theirs = create(&app, &other, b"theirs", &[]).await;
    for id in [theirs.id.as_str(), "not-an-id"] {
        let response = app
            .get(&token, &format!("/logs/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
    }
    download(&app, &other, &format!("/logs/{}", theirs.id), &keys, &path).await;

    // Bad dates: 400 problem+json naming the parameter.
    for (query, field) in [
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-13-01", "end_date"),
        ("start_date=2026-11-29&end_date=2026-11-28", "start_date"),
        ("start_date=2999-01-01", "start_date"),
    ] {
        let response = app
            .get(&token, &format!("/logs?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field, "{query}");
    }
    let anonymous = app.client.get(app.url("/logs")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let post = app
        .client
        .post(app.url("/logs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

/// `GET /documents/{docId}` carries the signed-response headers over exactly its body.
async fn document_records_are_signed(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let keys = keys(&app).await;
    let record = app.upload(&token, "signed.pdf", b"signed".to_vec()).await;
    let path = format!("/documents/{}", record["id"].as_str().unwrap());
    let response = app.get(&token, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    assert_eq!(headers["content-type"], "application/json");
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let (signature, date) = (header(SIGNATURE_HEADER), header(SIGNATURE_DATE_HEADER));
    assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
    let digest = shared::logzip::sha256_hex(&body);
    content_signature::verify(&keys, &signature, &date, &digest).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["id"], record["id"]);
    let altered = shared::logzip::sha256_hex(&[&body[..], b" "].concat());
    assert!(content_signature::verify(&keys, &signature, &date, &altered).is_err());
}
