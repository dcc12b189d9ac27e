//! The vault's S3 path against the S3 server: multipart uploads byte for byte, aligned ranged
//! reads, delete, clean failures leaving no object and no pending upload, the orphan sweep
//! listing the bucket, and a prefix.

use std::time::Duration;

use futures_util::{StreamExt as _, TryStreamExt as _};
use vault::VaultError;

use super::{S3Vault, body, new_bucket, objects, pending_uploads, read_all};
use crate::common::{Db, SEGMENT, on_both_databases, pseudo_random};

on_both_databases!(
    objects_across_several_parts_round_trip_byte_for_byte,
    ranged_reads_cross_segment_and_part_boundaries,
    delete_removes_the_object,
    a_failed_upload_leaves_no_object_and_no_pending_upload,
    the_sweep_removes_unknown_blobs_and_keeps_live_ones,
    a_prefix_keeps_everything_under_it,
    tampered_objects_fail_their_check,
);

const MIB: usize = 1024 * 1024;
/// Three 5 MiB parts and a bit (the ciphertext is a little larger still).
const LARGE: usize = 13 * MIB + 12_345;

async fn objects_across_several_parts_round_trip_byte_for_byte(db: Db) {
    let bucket = new_bucket("round-trip").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    for (len, chunk) in [(LARGE, 100_000), (1, 1), (0, 1), (SEGMENT + 1, 4096)] {
        let content = pseudo_random(len, len as u64);
        let stored = s3.vault.put(body(&content, chunk), u64::MAX).await.unwrap();
        assert_eq!(stored.size(), len as u64);
        assert_eq!(
            s3.repo.object_upload(stored.key()).await.unwrap(),
            None,
            "a finished upload forgets its multipart upload id"
        );
        let read = read_all(s3.vault.read(stored.key()).await.unwrap()).await;
        assert!(read == content, "{len} bytes read back differ");
        stored.keep();
    }
    assert_eq!(objects(&bucket).await.len(), 4);
    assert!(pending_uploads(&bucket).await.is_empty());
}

async fn ranged_reads_cross_segment_and_part_boundaries(db: Db) {
    let bucket = new_bucket("ranges").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    let content = pseudo_random(LARGE, 7);
    let stored = s3
        .vault
        .put(body(&content, 1 << 20), u64::MAX)
        .await
        .unwrap();
    let key = stored.key().clone();
    stored.keep();
    let last = LARGE as u64 - 1;
    let part = 5 * MIB as u64;
    let ranges = [
        (0, 0),
        (SEGMENT as u64 - 1, SEGMENT as u64),
        (3 * SEGMENT as u64 - 5, 5 * SEGMENT as u64 + 5),
        // The ciphertext's first and second part boundaries lie inside these.
        (part - 200_000, part + 200_000),
        (2 * part - 300_000, 2 * part + 1),
        (1, last - 1),
        // Suffix ranges: the last 1000 bytes, the last byte.
        (last - 999, last),
        (last, last),
    ];
    for (start, end) in ranges {
        let reader = s3.vault.read_range(&key, start, end).await.unwrap();
        let read = read_all(reader).await;
        let expected = &content[start as usize..=end as usize];
        assert!(read == expected, "range {start}-{end} differs");
    }
    let beyond = s3.vault.read_range(&key, LARGE as u64, LARGE as u64).await;
    assert!(matches!(beyond, Err(VaultError::InvalidRange { .. })));
}

async fn delete_removes_the_object(db: Db) {
    let bucket = new_bucket("delete").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    let content = pseudo_random(6 * MIB, 3);
    let stored = s3.vault.put(body(&content, MIB), u64::MAX).await.unwrap();
    let key = stored.key().clone();
    stored.keep();
    assert_eq!(objects(&bucket).await.len(), 1);
    s3.vault.delete(&key).await.unwrap();
    assert!(objects(&bucket).await.is_empty());
    assert!(matches!(
        s3.vault.read(&key).await,
        Err(VaultError::NotFound)
    ));
    assert_eq!(s3.rows().await, 0);
}

async fn a_failed_upload_leaves_no_object_and_no_pending_upload(db: Db) {
    let bucket = new_bucket("failures").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    // The body fails after two full parts went out.
    let content = pseudo_random(11 * MIB, 5);
    let failing = body(&content, MIB).chain(futures_util::stream::iter([Err(
        std::io::Error::other("the client went away"),
    )]));
    let failed = s3.vault.put(Box::pin(failing), u64::MAX).await;
    assert!(matches!(failed, Err(VaultError::Source(_))), "{failed:?}");
    assert_nothing_left(&s3, &bucket).await;

    // Over the size limit, after a part went out.
    let failed = s3.vault.put(body(&content, MIB), 8 * MIB as u64).await;
    assert!(
        matches!(failed, Err(VaultError::TooLarge { .. })),
        "{failed:?}"
    );
    assert_nothing_left(&s3, &bucket).await;
}

async fn assert_nothing_left(s3: &S3Vault, bucket: &str) {
    assert_eq!(pending_uploads(bucket).await, Vec::<String>::new());
    assert_eq!(objects(bucket).await, Vec::<String>::new());
    assert_eq!(s3.rows().await, 0);
}

async fn the_sweep_removes_unknown_blobs_and_keeps_live_ones(db: Db) {
    let bucket = new_bucket("sweep").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    let live = pseudo_random(2 * MIB, 11);
    let kept = s3.vault.put(body(&live, MIB), u64::MAX).await.unwrap();
    let kept_key = kept.key().clone();
    kept.keep();
    let lost = s3.vault.put(body(&live, MIB), u64::MAX).await.unwrap();
    let lost_key = lost.key().clone();
    lost.keep();
    // A blob whose row is gone (as after a crash between deleting row and blob).
    assert!(s3.repo.delete_object(&lost_key).await.unwrap());
    assert_eq!(objects(&bucket).await.len(), 2);

    let report = s3.vault.sweep(Duration::from_secs(3600)).await.unwrap();
    assert_eq!((report.unknown_blobs, report.orphan_objects), (1, 0));
    let left = objects(&bucket).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].ends_with(kept_key.as_str()), "{left:?}");
    assert!(read_all(s3.vault.read(&kept_key).await.unwrap()).await == live);

    // Without grace, the unreferenced row goes too (no document refers to it).
    let report = s3.vault.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(report.orphan_objects, 1);
    assert!(objects(&bucket).await.is_empty());
}

async fn a_prefix_keeps_everything_under_it(db: Db) {
    let bucket = new_bucket("prefix").await;
    // Someone else's object at the bucket's root, which the sweep must leave alone.
    let foreign = format!("{}/{bucket}/objects/ab/not-ours", super::endpoint());
    let put = reqwest::Client::new().put(&foreign).body("x").send().await;
    assert!(put.unwrap().status().is_success());
    let s3 = S3Vault::open(db, &format!("s3://{bucket}/some/prefix")).await;
    let content = pseudo_random(11 * MIB, 13);
    let stored = s3.vault.put(body(&content, MIB), u64::MAX).await.unwrap();
    let key = stored.key().clone();
    stored.keep();
    assert!(read_all(s3.vault.read(&key).await.unwrap()).await == content);
    let mut listed = objects(&bucket).await;
    listed.sort();
    assert_eq!(
        listed,
        [
            "objects/ab/not-ours".to_owned(),
            format!("some/prefix/objects/{}/{key}", &key.as_str()[..2]),
        ]
    );
    let failed = s3.vault.put(body(&content, MIB), 6 * MIB as u64).await;
    assert!(matches!(failed, Err(VaultError::TooLarge { .. })));
    assert!(pending_uploads(&bucket).await.is_empty());

    s3.vault.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(objects(&bucket).await, ["objects/ab/not-ours"]);
}

/// Every tampering of the stored bytes (at the S3 server, behind the vault's back) makes the
/// read fail, promptly: a flipped bit, swapped segments, a truncation, a damaged header.
async fn tampered_objects_fail_their_check(db: Db) {
    let bucket = new_bucket("tamper").await;
    let s3 = S3Vault::open(db, &format!("s3://{bucket}")).await;
    let content = pseudo_random(3 * SEGMENT + 5, 9);
    let stored = s3.vault.put(body(&content, 4096), u64::MAX).await.unwrap();
    let key = stored.key().clone();
    stored.keep();
    let [location] = objects(&bucket).await.try_into().unwrap();
    let url = format!("{}/{bucket}/{location}", super::endpoint());
    let http = reqwest::Client::new();
    let original = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    let (header, sealed) = (16, SEGMENT + 16);
    let mut flipped = original.to_vec();
    flipped[header + sealed + 100] ^= 1;
    let mut swapped = original.to_vec();
    swapped[header..header + 2 * sealed].rotate_left(sealed);
    let truncated = original[..header + 2 * sealed].to_vec();
    let mut damaged = original.to_vec();
    damaged[8] ^= 0x80;
    for (case, bytes) in [
        ("flip", flipped),
        ("swap", swapped),
        ("truncate", truncated),
        ("header", damaged),
    ] {
        let put = put_raw(&http, &url, bytes).await;
        let status = put.status();
        assert!(
            status.is_success(),
            "{case}: {status} {}",
            put.text().await.unwrap()
        );
        let read = tokio::time::timeout(Duration::from_secs(30), async {
            let reader = s3.vault.read(&key).await?;
            let chunks: Vec<bytes::Bytes> = reader.stream.try_collect().await?;
            Ok::<_, VaultError>(chunks.concat())
        })
        .await
        .unwrap_or_else(|_| panic!("{case}: the read hung"));
        assert!(
            read.is_err(),
            "{case}: read back {:?} bytes",
            read.map(|b| b.len())
        );
        let ranged = tokio::time::timeout(Duration::from_secs(30), async {
            let reader = s3.vault.read_range(&key, 0, 3 * SEGMENT as u64).await?;
            let chunks: Vec<bytes::Bytes> = reader.stream.try_collect().await?;
            Ok::<_, VaultError>(chunks.concat())
        })
        .await
        .unwrap_or_else(|_| panic!("{case}: the ranged read hung"));
        assert!(ranged.is_err(), "{case}: ranged read succeeded");
    }
    let put = put_raw(&http, &url, original.to_vec()).await;
    assert!(put.status().is_success());
    assert!(read_all(s3.vault.read(&key).await.unwrap()).await == content);
}

/// An unsigned PUT of raw bytes. Two things matter to moto: the content type (with curl's
/// form default it parses the body as a form, and refuses or hangs), and the ACL (an object
/// written anonymously is private to nobody: every later unsigned GET or PUT of it is 403).
async fn put_raw(http: &reqwest::Client, url: &str, bytes: Vec<u8>) -> reqwest::Response {
    http.put(url)
        .header("content-type", "application/octet-stream")
        .header("x-amz-acl", "public-read-write")
        .body(bytes)
        .send()
        .await
        .unwrap()
}
