//! Two requests with one key at once: the second, sent while the first's body is still
//! streaming, is 409 and does nothing; the first completes; a retry then replays it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::{HEADER, answer, documents, post};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(a_request_while_the_first_runs_is_409_and_one_document_is_made);

/// One upload's multipart body under `boundary`, cut in two: up to the middle of the document
/// part, and the rest.
fn body(boundary: &str) -> (String, String) {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nslow.pdf\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"slow.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF first half"
    );
    let tail = format!(" and second half\r\n--{boundary}--\r\n");
    (head, tail)
}

fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The first request, its body held open after the head: its answer, and the sender of the
/// rest of its body.
type Running = (
    tokio::task::JoinHandle<(u16, Vec<Option<String>>, serde_json::Value)>,
    mpsc::Sender<Bytes>,
);

async fn start_first(app: &TestApp, token: &str, head: &str) -> Running {
    let (sender, receiver) = mpsc::channel::<Bytes>(4);
    sender.send(Bytes::from(head.to_owned())).await.unwrap();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), receiver))
    });
    let first = post(app, token, "/documents", "slow")
        .header("content-type", content_type("first-boundary-1"))
        .body(reqwest::Body::wrap_stream(stream));
    (tokio::spawn(answer(first)), sender)
}

/// Starts the first request and returns once it holds the key. A probe with the key that
/// fails fast (not multipart: 415, which releases a key it took) answers 409 once the first
/// request holds it. Should a probe hold the key at the instant the first request asks for
/// it, the first is refused (409) and is started again.
async fn first_holding_the_key(app: &TestApp, token: &str, head: &str) -> Running {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut first, mut sender) = start_first(app, token, head).await;
    loop {
        assert!(
            Instant::now() < deadline,
            "the first request never held the key"
        );
        if first.is_finished() {
            let (status, _, problem) = first.await.unwrap();
            assert_eq!(status, 409, "a probe held the key: {problem}");
            (first, sender) = start_first(app, token, head).await;
        }
        let probe = post(app, token, "/documents", "slow")
            .header("content-type", "text/plain")
            .body("probe");
        let (status, _, problem) = answer(probe).await;
        if status == 409 {
            assert!(
                problem["detail"].as_str().unwrap().contains(HEADER),
                "{problem}"
            );
            return (first, sender);
        }
        assert_eq!(status, 415, "{problem}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_request_while_the_first_runs_is_409_and_one_document_is_made(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let (head, tail) = body("first-boundary-1");
    let (first, sender) = first_holding_the_key(&app, &token, &head).await;

    // The same upload (another boundary) while the first runs: 409, nothing done.
    let (head, tail_again) = body("second-boundary-22");
    let whole = format!("{head}{tail_again}");
    let second = || {
        post(&app, &token, "/documents", "slow")
            .header("content-type", content_type("second-boundary-22"))
            .body(whole.clone())
    };
    let (status, ..) = answer(second()).await;
    assert_eq!(status, 409);

    sender.send(Bytes::from(tail)).await.unwrap();
    drop(sender);
    let (status, headers, record) = first.await.unwrap();
    assert_eq!(status, 201, "{record}");
    assert_eq!(documents(&app, &token).await, 1, "one document only");

    // Now the same request is answered from the first: same record, nothing new.
    let (status, again_headers, again) = answer(second()).await;
    assert_eq!((status, &again["id"]), (201, &record["id"]));
    assert_eq!(again_headers, headers);
    assert_eq!(again["name"], json!("slow.pdf"));
    assert_eq!(documents(&app, &token).await, 1);
}
