//! The writer and the verifier together, on real zips.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use async_zip::base::read1::seek::ZipArchiveReader;
use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use chrono::Utc;
use schema::audit::{GENESIS, chain};
use schema::{LogKind, LogLine, ProducerId, RepoError};
use tokio::io::{AsyncReadExt as _, BufReader};
use tokio_util::compat::{FuturesAsyncReadCompatExt as _, TokioAsyncReadCompatExt as _};

use super::write::Scope;
use super::*;
use crate::keys::SigningKey;

fn lines(kind: LogKind, n: usize) -> Vec<Result<LogLine, RepoError>> {
    let mut prev = GENESIS.to_owned();
    (0..n)
        .map(|i| {
            let fields = format!("-\t{}\t{i}\tx", kind.name());
            let link = chain(&prev, &fields);
            let line = LogLine {
                seq: i as i64,
                producer_id: None,
                document_id: None,
                time: Utc::now(),
                fields,
                prev: std::mem::replace(&mut prev, link.clone()),
                chain: link,
            };
            Ok(line)
        })
        .collect()
}

async fn export(dir: &Path, key: &SigningKey) -> (std::path::PathBuf, Manifest) {
    let path = dir.join("export.zip");
    let scope = Scope {
        producer: ProducerId::random(),
        document: None,
        from: None,
        to: Utc::now(),
        generated_at: Utc::now(),
    };
    let file = tokio::fs::File::create(&path).await.unwrap();
    let mut writer = ExportWriter::new(file, scope, dir);
    for (kind, n) in LogKind::ALL.into_iter().zip([3, 0, 2500]) {
        let stream = futures_util::stream::iter(lines(kind, n));
        writer.write_log(kind, stream).await.unwrap();
    }
    let (_, manifest) = writer.finish(key).await.unwrap();
    (path, manifest)
}

/// Every entry's name and bytes, in order.
async fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
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

async fn repack(path: &Path, entries: &[(String, Vec<u8>)]) {
    let file = tokio::fs::File::create(path).await.unwrap();
    let mut zip = ZipFileWriter::with_tokio(file);
    for (name, bytes) in entries {
        let entry = ZipEntryBuilder::new(name.clone().into(), Compression::Stored);
        zip.write_entry_whole(entry, bytes).await.unwrap();
    }
    zip.close().await.unwrap();
}

#[tokio::test]
async fn an_export_verifies_and_its_manifest_says_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let (path, manifest) = export(dir.path(), &key).await;
    let report = verify(&path, &KeySet::of(&key)).await.unwrap();
    assert_eq!(report.manifest, manifest);
    let names: Vec<String> = entries(&path).await.into_iter().map(|e| e.0).collect();
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
    let vault = &manifest.logs[2];
    assert_eq!(
        (vault.records, vault.first_prev.as_deref()),
        (2500, Some(GENESIS))
    );
    assert_eq!(manifest.logs[1].records, 0);
    assert_eq!(manifest.logs[1].head, None);
    // Only the spooled chain files were temporary, and they are gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn changed_manifests_foreign_keys_and_odd_entries_fail() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let keys = KeySet::of(&key);
    let (path, _) = export(dir.path(), &key).await;
    let original = entries(&path).await;

    let other = KeySet::of(&SigningKey::generate().unwrap());
    let error = verify(&path, &other).await.unwrap_err().to_string();
    assert!(error.contains("not among the keys given"), "{error}");

    let mut changed = original.clone();
    let text = String::from_utf8(changed[6].1.clone()).unwrap();
    changed[6].1 = text
        .replacen("\"records\": 3", "\"records\": 2", 1)
        .into_bytes();
    repack(&path, &changed).await;
    let error = verify(&path, &keys).await.unwrap_err().to_string();
    assert!(
        error.starts_with("manifest.sig: the signature does not verify"),
        "{error}"
    );

    let mut extra = original.clone();
    extra.push(("notes.txt".into(), b"hi".to_vec()));
    repack(&path, &extra).await;
    let error = verify(&path, &keys).await.unwrap_err().to_string();
    assert!(error.contains("unexpected entry \"notes.txt\""), "{error}");

    let mut twice = original.clone();
    twice.insert(1, original[0].clone());
    repack(&path, &twice).await;
    let error = verify(&path, &keys).await.unwrap_err().to_string();
    assert_eq!(error, "the zip holds api.log more than once");

    // Stored instead of deflated, same bytes: still fine.
    repack(&path, &original).await;
    verify(&path, &keys).await.unwrap();

    // A flipped byte in the 2000th vault line.
    let mut flipped = original.clone();
    let offset = flipped[2]
        .1
        .split(|b| *b == b'\n')
        .take(1999)
        .map(|line| line.len() + 1)
        .sum::<usize>();
    flipped[2].1[offset + 2] ^= 0x01;
    repack(&path, &flipped).await;
    let error = verify(&path, &keys).await.unwrap_err().to_string();
    assert_eq!(error, "vault.log line 2000: altered");

    // A missing final newline, which no line check sees, is caught by the file's digest.
    let mut appended = original;
    appended[3].1.pop();
    repack(&path, &appended).await;
    let error = verify(&path, &keys).await.unwrap_err().to_string();
    assert_eq!(error, "api.chain: its SHA-256 does not match the manifest");
}
