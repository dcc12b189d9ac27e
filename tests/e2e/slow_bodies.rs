//! Slow and greedy clients (issue 14, finding 5): trickled heads and bodies are cut within the
//! configured timeouts, a slow but honest upload still completes (an idle timeout, not a total
//! one, for document bodies), and one address holding many connections leaves the service
//! answering others. Raw TCP, so the test controls every byte's timing.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::common::{Db, TestApp, on_both_databases, pseudo_random, sha1_hex};

on_both_databases!(a_slow_honest_upload_completes);

/// Short timeouts so the tests are quick; the margins below are generous (a loaded machine).
const SHORT: &[(&str, &str)] = &[
    ("server.header_timeout_secs", "2"),
    ("server.keep_alive_secs", "2"),
    ("server.body_idle_timeout_secs", "3"),
    ("server.small_body_timeout_secs", "5"),
];
/// What a cut may take beyond its timeout.
const MARGIN: Duration = Duration::from_secs(6);

fn authority(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// Reads until the server closes the connection; `Err(text so far)` if it is still open after
/// `limit`.
async fn until_closed(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> Result<String, String> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return Ok(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return Err(String::from_utf8_lossy(&received).into_owned()),
        }
    }
}

/// Writes `byte` every `every` until a write fails (the server closed) or `count` were sent.
fn trickle(mut writer: OwnedWriteHalf, byte: u8, every: Duration, count: usize) {
    tokio::spawn(async move {
        for _ in 0..count {
            tokio::time::sleep(every).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });
}

fn multipart_head(path: &str, host: &str, token: Option<&str>, length: usize) -> String {
    let auth = token.map_or(String::new(), |token| {
        format!("Authorization: Bearer {token}\r\n")
    });
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// The attack as reported: `POST /login` with its body trickled at one byte every 10 s (under
/// the idle timeout's reach only if it is shorter: here 3 s), then one byte a second (the idle
/// timeout never fires; the small-body total of 5 s does). Both answer 408 and close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_login_body_is_cut() {
    let app = TestApp::spawn_with(Db::Sqlite, SHORT).await;
    let host = authority(&app.api);
    for (every, limit) in [(10, 3), (1, 5)] {
        let stream = TcpStream::connect(host).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        writer
            .write_all(multipart_head("/login", host, None, 10_000).as_bytes())
            .await
            .unwrap();
        writer.write_all(b"--XyZ\r\n").await.unwrap();
        let started = Instant::now();
        trickle(writer, b'a', Duration::from_secs(every), 10_000);
        let limit = Duration::from_secs(limit) + MARGIN;
        let answer = until_closed(&mut reader, limit)
            .await
            .unwrap_or_else(|so_far| {
                panic!("a body trickled every {every}s still open after {limit:?}: {so_far:?}")
            });
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(started.elapsed() >= Duration::from_secs(2), "cut too early");
    }
}

/// An authenticated upload that sends for longer than the small-body total (so no total
/// timeout applies to it), then stops: cut by the idle timeout, 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_cut_by_the_idle_timeout() {
    let app = TestApp::spawn_with(Db::Sqlite, SHORT).await;
    let token = app.login().await;
    let host = authority(&app.api);
    let stream = TcpStream::connect(host).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = multipart_head("/documents", host, Some(&token), 100 << 20);
    writer.write_all(head.as_bytes()).await.unwrap();
    writer
        .write_all(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.pdf\"\r\n\
              Content-Type: application/pdf\r\n\r\n",
        )
        .await
        .unwrap();
    // 8 s of steady sending, longer than the 5 s small-body total: not cut.
    let sending = Instant::now();
    while sending.elapsed() < Duration::from_secs(8) {
        writer.write_all(&[b'x'; 1024]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut probe = [0_u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(10), reader.read(&mut probe))
            .await
            .is_err(),
        "an upload that kept sending was answered"
    );
    // Then silence (the connection held open): cut within the 3 s idle timeout.
    let limit = Duration::from_secs(3) + MARGIN;
    let answer = until_closed(&mut reader, limit)
        .await
        .unwrap_or_else(|so_far| panic!("a stalled upload still open after {limit:?}: {so_far:?}"));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    drop(writer);
}

/// 64 MiB at 2 MiB/s (about 32 s, far over every timeout but the idle one, which it never
/// reaches): stored, and downloaded intact.
async fn a_slow_honest_upload_completes(db: Db) {
    let app = TestApp::spawn_with(db, SHORT).await;
    let token = app.login().await;
    let content = pseudo_random(64 << 20, 14);
    let expected = sha1_hex(&content);
    let chunks: Vec<Vec<u8>> = content.chunks(256 << 10).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::unfold(chunks.into_iter(), |mut chunks| async move {
        let chunk = chunks.next()?;
        tokio::time::sleep(Duration::from_millis(125)).await;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), 64 << 20)
        .file_name("slow.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let started = Instant::now();
    let response = app
        .upload_form(&token, Form::new().part("document", part))
        .await;
    let took = started.elapsed();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert!(
        took >= Duration::from_secs(25),
        "not slow after all: {took:?}"
    );
    let record: serde_json::Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap();
    let downloaded = app.download(&token, id).await.unwrap();
    assert_eq!(sha1_hex(&downloaded), expected);
}

/// Request heads trickled: the first head of a connection is cut by the header timeout, and so
/// is the next head on a kept-alive connection (actix-web bounds only the first), on every
/// service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_heads_are_cut() {
    let app = TestApp::spawn_with(Db::Sqlite, SHORT).await;
    for base in [&app.api, &app.gateway, &app.vault] {
        let host = authority(base);
        // The first head.
        let stream = TcpStream::connect(host).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        writer
            .write_all(format!("GET /x HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
            .await
            .unwrap();
        trickle(writer, b'X', Duration::from_millis(500), 10_000);
        let limit = Duration::from_secs(2) + MARGIN;
        until_closed(&mut reader, limit)
            .await
            .unwrap_or_else(|_| panic!("{base}: a trickled first head open after {limit:?}"));

        // A full request, answered, then the next head trickled on the same connection.
        let mut stream = TcpStream::connect(host).await.unwrap();
        stream
            .write_all(format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert!(head.starts_with(b"HTTP/1.1 4"), "{base}: answered");
        let (mut reader, mut writer) = stream.into_split();
        writer
            .write_all(format!("GET /x HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
            .await
            .unwrap();
        trickle(writer, b'X', Duration::from_millis(500), 10_000);
        let limit = Duration::from_secs(4) + MARGIN;
        until_closed(&mut reader, limit).await.unwrap_or_else(|_| {
            panic!("{base}: a trickled head on a kept-alive connection open after {limit:?}")
        });
    }
}

/// One address (127.0.0.1) holding its cap of connections on each service: its next
/// connection is closed at once, while another address (127.0.0.2, loopback too) is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_at_its_connection_cap_leaves_the_service_to_others() {
    let app = TestApp::spawn_with(
        Db::Sqlite,
        &[
            ("server.header_timeout_secs", "60"),
            ("server.max_connections_per_address", "4"),
        ],
    )
    .await;
    for base in [&app.api, &app.gateway, &app.vault] {
        let host = authority(base);
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut stream = TcpStream::connect(host).await.unwrap();
            stream.write_all(b"GET /x HTTP/1.1\r\n").await.unwrap();
            held.push(stream);
        }
        let mut over = TcpStream::connect(host).await.unwrap();
        let _ = over.write_all(b"GET /x HTTP/1.1\r\n").await;
        // Shut at accept: well before any timeout could close it.
        until_closed(&mut over, Duration::from_secs(2))
            .await
            .unwrap_or_else(|_| panic!("{base}: a connection over the address's cap still open"));

        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut other = socket.connect(host.parse().unwrap()).await.unwrap();
        other
            .write_all(
                format!("GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let answer = until_closed(&mut other, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 4"), "{base}: {answer}");
        // The held connections are still there (not cut by the cap).
        for stream in &mut held {
            let mut probe = [0_u8; 1];
            assert!(
                tokio::time::timeout(Duration::from_millis(50), stream.read(&mut probe))
                    .await
                    .is_err(),
                "{base}: a held connection was closed"
            );
        }
    }
}
