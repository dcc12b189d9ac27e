//! Content at rest: byte-exact round trips, encryption, tamper detection.

use std::path::PathBuf;

use crate::common::{
    Db, SEGMENT, TestApp, files_under, on_both_databases, pseudo_random, sha1_hex,
};

on_both_databases!(
    round_trips_are_byte_exact,
    plaintext_never_reaches_the_data_directory,
    tampered_objects_never_read_back
);

/// The object header, then segments of `SEGMENT` plaintext bytes plus a 16-byte tag.
const HEADER: usize = 16;
const SEALED_SEGMENT: usize = SEGMENT + 16;

async fn round_trips_are_byte_exact(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    for (n, size) in [
        0,
        1,
        SEGMENT - 1,
        SEGMENT,
        SEGMENT + 1,
        3 * SEGMENT,
        50 << 20,
    ]
    .into_iter()
    .enumerate()
    {
        let content = pseudo_random(size, n as u64 + 1);
        let record = app
            .upload(&token, &format!("r{size}.bin"), content.clone())
            .await;
        assert_eq!(record["size"], size);
        assert_eq!(record["hash"]["value"], sha1_hex(&content), "size {size}");
        let back = app
            .download(&token, record["id"].as_str().unwrap())
            .await
            .unwrap();
        assert!(back == content, "size {size}: {} bytes back", back.len());
    }
}

async fn plaintext_never_reaches_the_data_directory(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let marker = b"SEALPOST-PLAINTEXT-MARKER-7f3a9c";
    let content: Vec<u8> = marker
        .iter()
        .copied()
        .cycle()
        .take(3 * SEGMENT + 123)
        .collect();
    let record = app.upload(&token, "innocent.txt", content.clone()).await;
    assert_eq!(
        app.download(&token, record["id"].as_str().unwrap())
            .await
            .unwrap(),
        content
    );
    let check = |files: Vec<PathBuf>| {
        assert!(!files.is_empty());
        for file in files {
            // SQLite removes its -shm/-wal files on close: a file may vanish after the listing.
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "marker found in {}",
                file.display()
            );
        }
    };
    check(files_under(&app.data_dir()));
    app.stop().await;
    check(files_under(&app.data_dir()));
}

/// The stored object of the only document in the store.
fn only_object(app: &TestApp) -> PathBuf {
    let files = app.object_files();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

async fn tampered_objects_never_read_back(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let content = pseudo_random(3 * SEGMENT + 5, 9);
    let record = app.upload(&token, "t.bin", content.clone()).await;
    let id = record["id"].as_str().unwrap();
    let path = only_object(&app);
    let original = app.read_object(&path);
    assert_eq!(original.len(), HEADER + 4 * 16 + content.len());

    let mut flipped = original.clone();
    flipped[HEADER + SEALED_SEGMENT + 100] ^= 0x01;
    let mut swapped = original.clone();
    swapped[HEADER..HEADER + 2 * SEALED_SEGMENT].rotate_left(SEALED_SEGMENT);
    let truncated = original[..HEADER + 2 * SEALED_SEGMENT].to_vec();
    let mut header = original.clone();
    header[8] ^= 0x80;
    for (case, bytes) in [
        ("flip", flipped),
        ("swap", swapped),
        ("truncate", truncated),
        ("header", header),
    ] {
        app.write_object(&path, &bytes);
        let result = app.download(&token, id).await;
        assert!(
            result.is_err(),
            "{case}: read back {} bytes",
            result.map(|b| b.len()).unwrap_or(0)
        );
    }
    app.write_object(&path, &original);
    assert_eq!(
        app.download(&token, id).await.unwrap(),
        content,
        "intact again"
    );
}
