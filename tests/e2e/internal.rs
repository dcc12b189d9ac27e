//! The vault's internal object API: refused without the service credential, absent when the
//! vault runs inside `sealpost up`, and as atomic across the process boundary as in-process.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use reqwest::StatusCode;
use sealpost::instance::{GATEWAY_KEY_FILE, Instance};
use shared::config::Settings;
use shared::service::Running;
use vault::VaultError;
use vault::internal::{RemoteVault, ServiceCredential};

use crate::common::{Db, FreshDatabase, files_under, on_both_databases, pseudo_random};

on_both_databases!(
    the_internal_api_refuses_missing_or_wrong_credentials,
    the_internal_api_is_absent_inside_sealpost_up,
    failed_remote_uploads_leave_nothing_before_they_answer,
    a_separate_vault_sweeps_only_orphans_past_the_grace,
    calls_straddling_the_vaults_keep_alive_never_meet_a_closed_connection,
);

const OBJECTS: &str = "/internal/v1/objects";
/// A well-formed object key that names nothing.
const NO_SUCH_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// Settings for a vault of its own on a fresh database (`extra` overrides last), and the
/// database (keep it until the test ends).
pub async fn vault_settings(
    db: Db,
    dir: &Path,
    extra: &[(&str, &str)],
) -> (Settings, FreshDatabase) {
    let data_dir = dir.join("data");
    let database = db.fresh_database(&data_dir).await;
    let mut overrides: Vec<(&str, String)> = vec![
        ("data_dir", data_dir.display().to_string()),
        ("database.url", database.to_string()),
        ("api.addr", "127.0.0.1:0".into()),
        ("gateway.addr", "127.0.0.1:0".into()),
        ("vault.addr", "127.0.0.1:0".into()),
        ("workers", "1".into()),
    ];
    overrides.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    std::fs::create_dir_all(&data_dir).unwrap();
    shared::keys::SigningKey::load_or_create(&data_dir.join(GATEWAY_KEY_FILE)).unwrap();
    let settings = Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides);
    (settings.unwrap(), database)
}

fn client_for(vault: &Running, settings: &Settings) -> RemoteVault {
    let credential = ServiceCredential::from_settings(settings, false).unwrap();
    RemoteVault::new(&format!("http://{}", vault.addr), credential).unwrap()
}

/// A body of `chunks` × 64 KiB, failing after them with `fail_with` when given.
fn body(
    chunks: usize,
    fail_with: Option<&'static str>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
    let mut items: Vec<Result<Bytes, std::io::Error>> = (0..chunks)
        .map(|n| Ok(Bytes::from(pseudo_random(64 * 1024, n as u64 + 1))))
        .collect();
    if let Some(message) = fail_with {
        items.push(Err(std::io::Error::other(message)));
    }
    stream::iter(items)
}

async fn orphan_rows(settings: &Settings) -> usize {
    let repo = schema::connect(&settings.database_url()).await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    repo.orphan_objects(later).await.unwrap().len()
}

async fn the_internal_api_refuses_missing_or_wrong_credentials(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _database) = vault_settings(db, dir.path(), &[]).await;
    let vault = vault::standalone::start(&settings).await.unwrap();
    let base = format!("http://{}{OBJECTS}", vault.addr);
    let token = ServiceCredential::from_settings(&settings, false).unwrap();
    let wrong = ServiceCredential::generate().unwrap();
    let http = reqwest::Client::new();
    let requests = |authorization: Option<String>| {
        let key_url = format!("{base}/{NO_SUCH_KEY}");
        [
            http.post(format!("{base}?max_size=100"))
                .header("content-type", vault::internal::frames::MEDIA_TYPE)
                .body(vec![0u8; 3]),
            http.get(&key_url),
            http.delete(&key_url),
            http.delete(format!("{key_url}/blob")),
        ]
        .map(|request| match &authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        })
    };
    for authorization in [
        None,
        Some(format!("Bearer {}", wrong.expose())),
        Some(format!("Basic {}", token.expose())),
        Some(format!("Bearer {}x", token.expose())),
        Some("Bearer ".to_owned()),
    ] {
        for request in requests(authorization.clone()) {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{authorization:?}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
        }
    }
    // With the credential: the same requests reach the API (nothing named exists).
    let statuses: Vec<StatusCode> = futures_util::future::join_all(
        requests(Some(format!("Bearer {}", token.expose())))
            .map(|request| async { request.send().await.unwrap().status() }),
    )
    .await;
    assert_eq!(
        statuses,
        [400, 404, 204, 204],
        "frames without END; no such key; deletes are idempotent"
    );
    let malformed = http
        .get(format!("{base}/..%2F..%2Fetc"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 404);
    let unframed = http
        .post(format!("{base}?max_size=100"))
        .bearer_auth(token.expose())
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(unframed.status(), 415);
    vault.stop().await;
}

async fn the_internal_api_is_absent_inside_sealpost_up(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _database) = vault_settings(db, dir.path(), &[]).await;
    let instance = Instance::start(&settings).await.unwrap();
    // The service token file is the vault binary's; `sealpost up` neither needs nor makes one.
    let token = ServiceCredential::generate().unwrap();
    for path in [
        format!("{OBJECTS}/{NO_SUCH_KEY}"),
        format!("{OBJECTS}?max_size=1"),
    ] {
        let response = reqwest::Client::new()
            .get(format!("http://{}{path}", instance.vault_addr))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    instance.stop().await;
}

async fn failed_remote_uploads_leave_nothing_before_they_answer(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _database) = vault_settings(db, dir.path(), &[]).await;
    let vault = vault::standalone::start(&settings).await.unwrap();
    let remote = client_for(&vault, &settings);
    let objects = settings.data_dir.join(sealpost::instance::OBJECTS_DIR);

    // Checked the moment each call returns: no waiting for a clean-up to catch up.
    let broken = remote
        .put(body(40, Some("client went away")), 1 << 30)
        .await;
    assert!(matches!(broken, Err(VaultError::Source(_))), "{broken:?}");
    assert_eq!(files_under(&objects), Vec::<std::path::PathBuf>::new());
    assert_eq!(orphan_rows(&settings).await, 0);

    let too_large = remote.put(body(40, None), 39 * 64 * 1024 + 5).await;
    assert!(
        matches!(too_large, Err(VaultError::TooLarge { .. })),
        "{too_large:?}"
    );
    assert!(files_under(&objects).is_empty());
    assert_eq!(orphan_rows(&settings).await, 0);

    let discarded = remote.put(body(3, None), 1 << 30).await.unwrap();
    assert_eq!(files_under(&objects).len(), 1);
    discarded.discard().await;
    assert!(files_under(&objects).is_empty());

    // Dropped without `keep` (the record never committed): deleted in the background.
    drop(remote.put(body(2, None), 1 << 30).await.unwrap());
    for _ in 0..100 {
        if files_under(&objects).is_empty() && orphan_rows(&settings).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(files_under(&objects).is_empty());
    assert_eq!(orphan_rows(&settings).await, 0);

    // A wrong credential fails the upload and stores nothing.
    let impostor = RemoteVault::new(
        &format!("http://{}", vault.addr),
        ServiceCredential::generate().unwrap(),
    )
    .unwrap();
    let refused = impostor.put(body(2, None), 1 << 30).await;
    assert!(matches!(refused, Err(VaultError::Remote(_))), "{refused:?}");
    assert!(files_under(&objects).is_empty());
    vault.stop().await;
}

async fn a_separate_vault_sweeps_only_orphans_past_the_grace(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _database) = vault_settings(db, dir.path(), &[]).await;
    let vault = vault::standalone::start(&settings).await.unwrap();
    let remote = client_for(&vault, &settings);
    // Stored and kept, but no document refers to it: what a caller that died before its
    // commit leaves, and also what a live upload looks like just before its commit.
    let object = remote.put(body(1, None), 1 << 20).await.unwrap();
    let key = object.key().clone();
    object.keep();
    vault.stop().await;

    // Restarting with the default grace (one day) leaves it: it may be someone's upload.
    let vault = vault::standalone::start(&settings).await.unwrap();
    let remote = client_for(&vault, &settings);
    assert!(remote.read(&key).await.is_ok());
    vault.stop().await;

    let mut settings = settings;
    settings.vault.orphan_grace_secs = Some(0);
    let vault = vault::standalone::start(&settings).await.unwrap();
    let remote = client_for(&vault, &settings);
    assert!(matches!(remote.read(&key).await, Err(VaultError::NotFound)));
    vault.stop().await;
}

/// A caller must not reuse a connection the vault may be closing for idleness at that moment:
/// a streamed upload cannot be replayed, so that race (hyperium/hyper#2136) was a rare 500 on
/// `POST /documents` in the split wiring. The client keeps an idle connection for half the
/// vault's keep-alive, counted here at a proxy that sees every connection.
async fn calls_straddling_the_vaults_keep_alive_never_meet_a_closed_connection(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _database) =
        vault_settings(db, dir.path(), &[("server.keep_alive_secs", "4")]).await;
    let vault = vault::standalone::start(&settings).await.unwrap();
    let (proxy, connections) = counting_proxy(vault.addr).await;
    let credential = ServiceCredential::from_settings(&settings, false).unwrap();
    let remote = RemoteVault::trusting(
        &format!("http://{proxy}"),
        credential,
        None,
        Duration::from_secs(4),
    )
    .unwrap();
    let put = || async { remote.put(body(1, None), 1 << 20).await.unwrap().keep() };
    put().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    put().await;
    assert_eq!(connections.load(Ordering::SeqCst), 1, "reused while fresh");
    // Idle past half the keep-alive, still short of it: a new connection, not the old one.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    put().await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "not reused near the keep-alive"
    );
    vault.stop().await;
}

/// A TCP proxy to `target` on a loopback port of its own, and the count of connections it
/// accepted.
async fn counting_proxy(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, connections)
}
