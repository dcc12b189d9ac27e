//! Issue 20, item 2: the download pipeline through a handle (`GET {vault}/h/{handle}`) — reads
//! in batches of segments, several in flight, decrypted off the async workers — must stay
//! byte-exact at every batch and segment boundary, must never send a byte of a segment that
//! fails authentication, and must stay correct under many concurrent downloads.

use crate::common::{Db, SEGMENT, TestApp, on_both_databases, pseudo_random};

on_both_databases!(
    whole_downloads_and_ranges_cross_every_boundary_byte_for_byte,
    a_tampered_segment_in_a_later_batch_ends_the_body_before_its_plaintext,
    many_concurrent_downloads_are_all_correct,
);

/// The object header, then segments of `SEGMENT` plaintext bytes plus a 16-byte tag.
const HEADER: usize = 16;
const SEALED_SEGMENT: usize = SEGMENT + 16;
/// ~9 MiB and a short last segment: more than a few batches of any size the vault reads (its
/// first batch is 16 segments, later ones up to 4 MiB).
const SIZE: usize = 144 * SEGMENT + 777;

/// Uploads `content` and returns a handle URL for it.
async fn handle_for(app: &TestApp, name: &str, content: Vec<u8>) -> String {
    let token = app.login().await;
    let record = app.upload(&token, name, content).await;
    app.handle_url(record["id"].as_str().unwrap(), 600).await
}

/// `GET url` with an optional `Range`; (status, `Content-Range`, body) — the body must be whole.
async fn fetch(app: &TestApp, url: &str, range: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut request = app.client.get(url);
    if let Some(range) = range {
        request = request.header("range", format!("bytes={range}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_range = response
        .headers()
        .get("content-range")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        content_range,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// Range requests (`first-last`, `first-`, `-suffix`) and the inclusive bytes each must return.
fn cases(n: usize) -> Vec<(String, usize, usize)> {
    let mut cases = vec![
        ("0-0".to_owned(), 0, 0),
        (format!("{}-{}", n - 1, n - 1), n - 1, n - 1),
        ("-1".to_owned(), n - 1, n - 1),
        (format!("-{}", SEGMENT + 1), n - SEGMENT - 1, n - 1),
        (format!("-{}", 3 << 20), n - (3 << 20), n - 1),
        (format!("{}-", 5 * SEGMENT + 3), 5 * SEGMENT + 3, n - 1),
        (format!("100-{}", n - 101), 100, n - 101),
    ];
    // Across segment and batch boundaries: 16 segments (the first batch) and multiples of it.
    for segments in [1, 15, 16, 17, 32, 48, 64, 65, 128] {
        let at = segments * SEGMENT;
        cases.push((format!("{}-{}", at - 1, at), at - 1, at));
        cases.push((format!("{}-{}", at - 10, at + 9), at - 10, at + 9));
    }
    // Spanning two or more later batches, starting and ending mid-segment.
    cases.push((
        format!("{}-{}", 20 * SEGMENT + 5, 90 * SEGMENT + 6),
        20 * SEGMENT + 5,
        90 * SEGMENT + 6,
    ));
    cases.push((
        format!("{}-{}", 63 * SEGMENT + 1, 66 * SEGMENT - 1),
        63 * SEGMENT + 1,
        66 * SEGMENT - 1,
    ));
    cases
}

async fn whole_downloads_and_ranges_cross_every_boundary_byte_for_byte(db: Db) {
    let app = TestApp::spawn(db).await;
    let content = pseudo_random(SIZE, 2001);
    let url = handle_for(&app, "pipeline.bin", content.clone()).await;

    let (status, _, body) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    assert!(
        body == content,
        "whole: {} bytes back of {SIZE}",
        body.len()
    );

    for (range, first, last) in cases(SIZE) {
        let (status, content_range, body) = fetch(&app, &url, Some(&range)).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(
            content_range.as_deref(),
            Some(format!("bytes {first}-{last}/{SIZE}").as_str()),
            "{range}"
        );
        assert!(
            body == content[first..=last],
            "{range}: {} bytes back, expected {}",
            body.len(),
            last - first + 1
        );
    }
}

/// Reads a response's body until it ends or breaks: (bytes received, whether it broke).
async fn read_until_broken(mut response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => return (received, false),
            Err(_) => return (received, true),
        }
    }
}

async fn a_tampered_segment_in_a_later_batch_ends_the_body_before_its_plaintext(db: Db) {
    let app = TestApp::spawn(db).await;
    let content = pseudo_random(SIZE, 2002);
    let url = handle_for(&app, "tampered.bin", content.clone()).await;
    let files = app.object_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let original = app.read_object(&files[0]);
    // Segment 100 is well past the first batch (checked before the status line) and past the
    // second: its damage shows mid-body, after earlier batches went out.
    let bad = 100;
    let mut stored = original.clone();
    stored[HEADER + bad * SEALED_SEGMENT + 1234] ^= 0x04;
    app.write_object(&files[0], &stored);

    // The whole document, then ranges that start before the bad segment and run into it.
    for (range, start) in [
        (None, 0),
        (Some(format!("bytes=0-{}", SIZE - 1)), 0),
        (
            Some(format!("bytes={}-", 17 * SEGMENT + 9)),
            17 * SEGMENT + 9,
        ),
        (
            Some(format!("bytes={}-{}", 70 * SEGMENT, bad * SEGMENT + 5)),
            70 * SEGMENT,
        ),
    ] {
        let mut request = app.client.get(&url);
        if let Some(range) = &range {
            request = request.header("range", range);
        }
        let response = request.send().await.unwrap();
        assert!(
            [200, 206].contains(&response.status().as_u16()),
            "{range:?}: {}",
            response.status()
        );
        let (received, broke) = read_until_broken(response).await;
        assert!(
            broke,
            "{range:?}: the body ended cleanly after {} bytes",
            received.len()
        );
        // Only authenticated plaintext went out: a prefix of the true content that stops at or
        // before the bad segment's first byte.
        assert!(
            start + received.len() <= bad * SEGMENT,
            "{range:?}: {} bytes received, past the bad segment",
            received.len()
        );
        assert!(
            received == content[start..start + received.len()],
            "{range:?}: the bytes received are not the document's"
        );
    }

    // A range wholly before the damage is served; restored, the whole document is again.
    let (status, _, body) = fetch(
        &app,
        &url,
        Some(&format!("{}-{}", 40 * SEGMENT, 99 * SEGMENT)),
    )
    .await;
    assert_eq!(status, 206);
    assert!(body == content[40 * SEGMENT..=99 * SEGMENT]);
    app.write_object(&files[0], &original);
    let (status, _, body) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    assert!(body == content, "intact again");
}

async fn many_concurrent_downloads_are_all_correct(db: Db) {
    let app = TestApp::spawn(db).await;
    let size = 48 * SEGMENT + 321;
    let content = pseudo_random(size, 2003);
    let token = app.login().await;
    let record = app.upload(&token, "crowd.bin", content.clone()).await;
    let id = record["id"].as_str().unwrap();
    let mut downloads = Vec::new();
    for client in 0..24_usize {
        // Each viewer its own handle; every third asks for a range across the first batch's end.
        let url = app.handle_url(id, 600).await;
        let range = (client % 3 == 2)
            .then(|| format!("{}-{}", 16 * SEGMENT - client, 40 * SEGMENT + client));
        let client_app = app.client.clone();
        downloads.push(tokio::spawn(async move {
            let mut request = client_app.get(&url);
            if let Some(range) = &range {
                request = request.header("range", format!("bytes={range}"));
            }
            let response = request.send().await.unwrap();
            (
                client,
                response.status().as_u16(),
                response.bytes().await.unwrap(),
            )
        }));
    }
    for download in downloads {
        let (client, status, body) = download.await.unwrap();
        if client % 3 == 2 {
            assert_eq!(status, 206, "client {client}");
            assert!(
                body == content[16 * SEGMENT - client..=40 * SEGMENT + client],
                "client {client}"
            );
        } else {
            assert_eq!(status, 200, "client {client}");
            assert!(body == content, "client {client}: {} bytes", body.len());
        }
    }
}
