//! Issue 20, the upload pipeline: SHA-1 and SHA-256 hashed on threads of their own
//! (`vault::cipher::OffThreadDigest`, chunks handed over in 256 KiB batches under a 1 MiB
//! budget) while the request's task seals into reserved 256 KiB buffers and 5 MiB parts.
//! Sizes around each of those boundaries round-trip byte for byte with the right SHA-1 and a
//! content signature over the right SHA-256; concurrent uploads never mix their digests; a
//! body that breaks off mid-document and a body over the limit leave no row and no blob.
//! A local store's objects are written with direct I/O in 4 KiB-aligned pieces (1 MiB
//! hand-overs, the tail padded and the file cut back): each stored file is exactly the
//! ciphertext, and no staging file (`<key>#<n>`) remains.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::sha256_hex;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{
    Db, SEGMENT, TestApp, document_form, on_both_databases, pseudo_random, sha1_hex,
};
use crate::logs_export::keys;

on_both_databases!(
    sizes_around_the_pipeline_boundaries_round_trip,
    concurrent_uploads_keep_their_own_digests,
    stored_files_hold_exactly_the_ciphertext,
    a_body_broken_off_mid_document_leaves_nothing,
    over_the_limit_is_refused_and_leaves_nothing,
);

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Uploads `content`, then checks the record's size and SHA-1, the bytes read back through
/// the API, and the handle endpoint's signature over their SHA-256.
async fn round_trip(app: &TestApp, token: &str, content: Vec<u8>) {
    let size = content.len();
    let record = app
        .upload(token, &format!("p{size}.bin"), content.clone())
        .await;
    assert_eq!(record["size"], size);
    assert_eq!(record["hash"]["value"], sha1_hex(&content), "size {size}");
    let id = record["id"].as_str().unwrap();
    let back = app.download(token, id).await.unwrap();
    assert!(back == content, "size {size}: {} bytes back", back.len());
    let whole = app
        .client
        .get(app.handle_url(id, 300).await)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    let header = |name: &str| whole.headers()[name].to_str().unwrap().to_owned();
    let (signature, date) = (header(SIGNATURE_HEADER), header(SIGNATURE_DATE_HEADER));
    content_signature::verify(&keys(app).await, &signature, &date, &sha256_hex(&content))
        .unwrap_or_else(|error| panic!("size {size}: {error}"));
}

async fn sizes_around_the_pipeline_boundaries_round_trip(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let sizes = [
        0,
        1,
        SEGMENT - 1,
        SEGMENT,
        SEGMENT + 1,
        256 * KIB - 1, // a digest batch, and the buffer handed to the store
        256 * KIB,
        256 * KIB + 1,
        768 * KIB + 1, // the most one chunk may hold of a digest's budget
        MIB + 1,       // a digest's whole budget
        5 * MIB - 1,   // a store part
        5 * MIB + SEGMENT + 1,
    ];
    for (n, size) in sizes.into_iter().enumerate() {
        round_trip(&app, &token, pseudo_random(size, n as u64 + 11)).await;
    }
}

/// Stored length of a `plaintext`-byte object: header, plaintext, one tag per segment (an
/// empty object still has its one empty segment).
fn ciphertext_len(plaintext: usize) -> u64 {
    let segments = plaintext.div_ceil(SEGMENT).max(1);
    (16 + plaintext + 16 * segments) as u64
}

async fn stored_files_hold_exactly_the_ciphertext(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    // Ciphertext of exactly 4 KiB (a direct write without padding) and of exactly one local
    // hand-over (1 MiB), each with a neighbour on either side; and several hand-overs.
    let (page, hand_over) = (4096 - 32, MIB - 16 - 16 * (MIB / SEGMENT));
    let sizes = [
        page - 1,
        page,
        page + 1,
        hand_over - 1,
        hand_over,
        hand_over + 1,
        3 * MIB + 4097,
    ];
    for (n, size) in sizes.into_iter().enumerate() {
        round_trip(&app, &token, pseudo_random(size, n as u64 + 31)).await;
    }
    let files = app.object_files();
    let staging: Vec<_> = files
        .iter()
        .filter(|path| path.to_string_lossy().contains('#'))
        .collect();
    assert!(staging.is_empty(), "staging files left: {staging:?}");
    let mut stored: Vec<u64> = files
        .iter()
        .map(|path| app.read_object(path).len() as u64)
        .collect();
    let mut expected: Vec<u64> = sizes.into_iter().map(ciphertext_len).collect();
    stored.sort_unstable();
    expected.sort_unstable();
    assert_eq!(stored, expected);
}

async fn concurrent_uploads_keep_their_own_digests(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let uploads = (0..4u64).map(|n| {
        let content = pseudo_random(2 * MIB + n as usize * 1000, n + 101);
        round_trip(&app, &token, content)
    });
    futures_util::future::join_all(uploads).await;
}

/// Object rows no document references (pending or orphaned uploads).
async fn orphan_rows(app: &TestApp) -> usize {
    let repo = app.repo().await;
    let until = Utc::now() + chrono::Duration::hours(1);
    repo.orphan_objects(until).await.unwrap().len()
}

/// Waits up to 10 s for no object file and no object row.
async fn assert_nothing_left(app: &TestApp) {
    assert!(
        app.wait_for_no_objects(10).await.is_empty(),
        "{:?}",
        app.object_files()
    );
    for _ in 0..100 {
        if orphan_rows(app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(orphan_rows(app).await, 0);
}

/// A complete request whose document part stops after `bytes` without its closing boundary:
/// the multipart body fails mid-document once the digests and the store are under way.
async fn broken_upload(api: std::net::SocketAddr, token: &str, bytes: usize) -> String {
    let part = "--XyZ\r\nContent-Disposition: form-data; name=\"document\"; \
                filename=\"cut.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let head = format!(
        "POST /documents HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{part}",
        part.len() + bytes
    );
    let mut socket = TcpStream::connect(api).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&pseudo_random(bytes, 5)).await.unwrap();
    socket.flush().await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut answer));
    read.await.unwrap().unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

async fn a_body_broken_off_mid_document_leaves_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let api = app.instance.as_ref().unwrap().api_addr;
    for bytes in [300 * KIB, 7 * MIB + 3] {
        let answer = broken_upload(api, &token, bytes).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{bytes}: {answer}");
        assert_nothing_left(&app).await;
    }
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"], serde_json::json!([]));
}

async fn over_the_limit_is_refused_and_leaves_nothing(db: Db) {
    let limit = 3 * MIB + 5;
    let setting = limit.to_string();
    let app = TestApp::spawn_with(db, &[("api.max_document_bytes", setting.as_str())]).await;
    let token = app.login().await;
    for size in [limit + 1, limit + 4 * MIB] {
        let form = document_form("big.bin", pseudo_random(size, 9));
        let response = app.upload_form(&token, form).await;
        assert_eq!(response.status(), 413, "size {size}");
        assert_eq!(response.json::<Value>().await.unwrap()["field"], "document");
        assert_nothing_left(&app).await;
    }
    round_trip(&app, &token, pseudo_random(limit, 10)).await;
    assert_eq!(app.object_files().len(), 1);
}
