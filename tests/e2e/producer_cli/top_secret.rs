//! `upload --top-secret` and `get` (issue 21, items 1 and 5): the file is sealed by the CLI,
//! the server stores only `sealpost-e2e-v1` bytes (which differ from the plaintext), `get`
//! without the key refuses and writes nothing, with a wrong key fails and writes nothing, and
//! with the key restores the file byte for byte. Sizes: empty, exactly one 64 KiB segment, one
//! byte more, and 100 MiB (streamed from and to disk).

use std::io::{Read as _, Write as _};
use std::path::Path;

use serde_json::Value;

use super::Producer;
use crate::common::{Db, TestApp, on_both_databases, pseudo_random};

on_both_databases!(
    small_top_secret_files_round_trip_only_with_their_key,
    a_passphrase_document_round_trips_with_the_passphrase,
    a_100_mib_top_secret_file_round_trips,
);

const SEGMENT: usize = 64 * 1024;

/// Uploads `file` with `--top-secret` (and `extra`): the record and the printed links.
async fn upload_top_secret(
    producer: &Producer,
    file: &str,
    extra: &[&str],
) -> (Value, Vec<String>) {
    let mut args = vec!["upload", file, "--top-secret", "--json"];
    args.extend_from_slice(extra);
    let out = producer.run(&args).await.ok().json();
    let links = out["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap().to_owned())
        .collect();
    (out["record"].clone(), links)
}

/// `get URL -o NAME` with `extra`: the run; asserts nothing partial is left when it fails.
async fn get(producer: &Producer, url: &str, name: &str, extra: &[&str]) -> super::Run {
    let out = producer.path(name);
    let mut args = vec!["get", url, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = producer.run(&args).await;
    if run.code != 0 {
        assert!(!out.exists(), "a failed get left {name}");
        assert_no_partial_files(producer.dir.path());
    }
    run
}

fn assert_no_partial_files(dir: &Path) {
    let partial: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

async fn small_top_secret_files_round_trip_only_with_their_key(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let token = app.login().await;
    for (i, len) in [0, SEGMENT, SEGMENT + 1].into_iter().enumerate() {
        let content = pseudo_random(len, 7 + i as u64);
        let file = producer.file(&format!("secret-{i}.txt"), &content);
        let key_file = producer.path(&format!("key-{i}"));
        let (record, links) = upload_top_secret(
            &producer,
            &file,
            &["--save-key", key_file.to_str().unwrap()],
        )
        .await;
        let id = record["id"].as_str().unwrap();
        assert_eq!(record["mediaType"], shared::e2e::MEDIA_TYPE);
        assert_eq!(
            record["name"], "top-secret",
            "the real name travels encrypted"
        );
        let fragment = std::fs::read_to_string(&key_file).unwrap();
        crate::secrets::record("e2e key", fragment.trim());
        assert_eq!(links.len(), 1);
        assert!(
            links[0].ends_with(&format!("#{}", fragment.trim())),
            "{}",
            links[0]
        );
        let metadata = app
            .get_json(&token, &format!("/documents/{id}/metadata"))
            .await;
        assert_eq!(metadata["sensitivity"], "top-secret");
        let stored = app.download(&token, id).await.unwrap();
        assert!(stored.starts_with(b"sealpost-e2e"));
        assert_ne!(stored, content);
        if len >= 32 {
            assert!(!stored.windows(32).any(|w| w == &content[..32]));
        }

        let url = app.handle_url(id, 300).await;
        let no_key = get(&producer, &url, "nokey.txt", &[]).await;
        assert_eq!(no_key.code, 1, "{}", no_key.stderr);
        assert!(no_key.stderr.contains("top-secret"), "{}", no_key.stderr);
        let wrong = shared::e2e::E2eKey::random().to_fragment();
        let wrong_run = get(&producer, &url, "wrong.txt", &["--key", &wrong]).await;
        assert_eq!(wrong_run.code, 1, "{}", wrong_run.stderr);

        let key_arg = format!("@{}", key_file.display());
        let out = get(
            &producer,
            &url,
            &format!("out-{i}.txt"),
            &["--key", &key_arg, "--json"],
        )
        .await
        .ok()
        .json();
        assert_eq!(out["name"], format!("secret-{i}.txt"));
        assert_eq!(out["mediaType"], "text/plain");
        assert_eq!(
            std::fs::read(producer.path(&format!("out-{i}.txt"))).unwrap(),
            content
        );
        // A viewer's link with its #k=… (the gateway's landing page, or its redirect) works too.
        get(&producer, &links[0], &format!("link-{i}.txt"), &[])
            .await
            .ok();
        assert_eq!(
            std::fs::read(producer.path(&format!("link-{i}.txt"))).unwrap(),
            content
        );
        // `links --key-file` gives the same fragment again.
        let again = producer
            .run(&["links", id, "--key-file", key_file.to_str().unwrap()])
            .await
            .ok();
        assert!(
            again.stdout.trim().ends_with(fragment.trim()),
            "{}",
            again.stdout
        );
    }
}

async fn a_passphrase_document_round_trips_with_the_passphrase(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let passphrase = "correct horse battery staple, cli21";
    crate::secrets::record("e2e passphrase", passphrase);
    let pass_file = producer.file("pass.txt", format!("{passphrase}\n").as_bytes());
    let content = pseudo_random(SEGMENT * 2 + 5, 99);
    let file = producer.file("plan.pdf", &content);
    let (record, links) =
        upload_top_secret(&producer, &file, &["--passphrase-file", &pass_file]).await;
    assert!(
        !links[0].contains('#'),
        "a passphrase link carries no key: {}",
        links[0]
    );
    let url = app.handle_url(record["id"].as_str().unwrap(), 300).await;
    let wrong = producer.file("wrong.txt", b"not the passphrase\n");
    let run = get(&producer, &url, "w.pdf", &["--passphrase-file", &wrong]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    get(
        &producer,
        &url,
        "plan-out.pdf",
        &["--passphrase-file", &pass_file],
    )
    .await
    .ok();
    assert_eq!(
        std::fs::read(producer.path("plan-out.pdf")).unwrap(),
        content
    );
}

/// 100 MiB of pseudo-random bytes written to `path` a MiB at a time.
fn write_large(path: &Path, mib: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    for i in 0..mib {
        file.write_all(&pseudo_random(1 << 20, i as u64 + 1))
            .unwrap();
    }
}

/// Whether two files hold the same bytes (compared a MiB at a time).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x);
        let m = read_full(&mut b, &mut y);
        if n != m || x[..n] != y[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).unwrap() {
            0 => break,
            n => filled += n,
        }
    }
    filled
}

async fn a_100_mib_top_secret_file_round_trips(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let plain = producer.path("big.bin");
    write_large(&plain, 100);
    let key_file = producer.path("big.key");
    let (record, _) = upload_top_secret(
        &producer,
        plain.to_str().unwrap(),
        &["--save-key", key_file.to_str().unwrap()],
    )
    .await;
    let plain_len = 100u64 << 20;
    let segments = (plain_len + 4 + 7 + 24).div_ceil(SEGMENT as u64);
    let sealed_len = 48 + plain_len + 4 + 7 + 24 + 16 * segments;
    assert_eq!(
        record["size"], sealed_len,
        "big.bin + application/octet-stream"
    );
    let url = app.handle_url(record["id"].as_str().unwrap(), 600).await;
    let key_arg = format!("@{}", key_file.display());
    get(&producer, &url, "big.out", &["--key", &key_arg])
        .await
        .ok();
    assert!(same_bytes(&plain, &producer.path("big.out")));
}
