//! Atomic insertion: after any failed insertion no part of the content remains.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::cli::Daemon;
use crate::common::{Db, TestApp, document_form, files_under, on_both_databases};

on_both_databases!(
    a_bad_part_after_the_document_leaves_nothing,
    a_client_disconnect_mid_upload_leaves_nothing,
    kill_9_mid_upload_leaves_nothing_after_restart,
    a_storage_error_leaves_nothing,
);

/// Object rows no document references (pending or orphaned uploads).
async fn orphan_rows(database_url: &str) -> usize {
    let repo = schema::connect(database_url).await.unwrap();
    repo.orphan_objects(Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap()
        .len()
}

async fn a_bad_part_after_the_document_leaves_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let form = document_form("a.pdf", vec![5; 300_000]).text("challenge", "\"not an object\"");
    let response = app.upload_form(&token, form).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["field"],
        "challenge"
    );
    assert!(app.object_files().is_empty(), "{:?}", app.object_files());
    assert_eq!(orphan_rows(&app.settings.database_url()).await, 0);
}

/// Starts a multipart upload over a raw socket, sends `bytes` of the document part, and
/// returns the socket without finishing the body.
pub async fn start_upload(api: std::net::SocketAddr, token: &str, bytes: usize) -> TcpStream {
    let mut socket = TcpStream::connect(api).await.unwrap();
    let head = format!(
        "POST /documents HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 1000000000\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"document\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let mut sent = 0;
    while sent < bytes {
        socket.write_all(&chunk).await.unwrap();
        sent += chunk.len();
    }
    socket.flush().await.unwrap();
    socket
}

/// Waits until the object store holds something (the upload is really under way): a file
/// under `objects`, or an object or pending upload of an S3 store.
async fn wait_for_some_object(objects: impl Fn() -> Vec<std::path::PathBuf>) {
    for _ in 0..100 {
        if !objects().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the upload never reached the object store");
}

async fn a_client_disconnect_mid_upload_leaves_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let socket = start_upload(app.instance.as_ref().unwrap().api_addr, &token, 12 << 20).await;
    wait_for_some_object(|| app.object_files()).await;
    drop(socket);
    assert!(
        app.wait_for_no_objects(10).await.is_empty(),
        "{:?}",
        app.object_files()
    );
    for _ in 0..50 {
        if orphan_rows(&app.settings.database_url()).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(orphan_rows(&app.settings.database_url()).await, 0);
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"], serde_json::json!([]));
}

async fn kill_9_mid_upload_leaves_nothing_after_restart(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let database_url = db.fresh_database(&data_dir).await;
    let daemon = Daemon::start(&data_dir, &database_url);
    let token = daemon.login().await;
    let socket = start_upload(daemon.api_addr, &token, 12 << 20).await;
    let objects = data_dir.join(sealpost::instance::OBJECTS_DIR);
    wait_for_some_object(|| files_under(&objects)).await;
    daemon.kill_9();
    drop(socket);
    assert!(
        !files_under(&objects).is_empty(),
        "the crash left a partial object behind"
    );

    let daemon = Daemon::start(&data_dir, &database_url);
    assert!(
        files_under(&objects).is_empty(),
        "{:?}",
        files_under(&objects)
    );
    assert_eq!(orphan_rows(&database_url).await, 0);
    daemon.terminate();
}

async fn a_storage_error_leaves_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let objects = app.data_dir().join(sealpost::instance::OBJECTS_DIR);
    // A regular file where the store's directory should be: every write to the store fails
    // (permissions would not do: the tests may run as root).
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();
    let response = app
        .upload_form(&token, document_form("a.pdf", vec![3; 200_000]))
        .await;
    assert_eq!(response.status(), 500);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["detail"], "the server could not complete the request",
        "no internals in 5xx bodies"
    );
    std::fs::remove_file(&objects).unwrap();
    std::fs::create_dir(&objects).unwrap();
    assert_eq!(orphan_rows(&app.settings.database_url()).await, 0);
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"], serde_json::json!([]));
    assert_eq!(
        app.upload_form(&token, document_form("b.pdf", vec![3; 10]))
            .await
            .status(),
        201,
        "recovers"
    );
}
