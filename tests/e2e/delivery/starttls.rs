//! Email over STARTTLS: an SMTP server that offers STARTTLS (and refuses mail without it) gets
//! the message over TLS, its certificate checked against the trust store (here a test CA given
//! to `sealpost up` through `SSL_CERT_FILE`, which rustls' native roots honour); a server whose
//! certificate the client does not trust gets nothing.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::peers::SmtpSink;
use super::{three_records, wait_done};
use crate::cli::Daemon;
use crate::common::Db;

crate::common::on_both_databases!(starttls_is_used_when_offered_and_verified);

/// A CA and a `localhost` certificate it signed, in `dir`: (ca.pem, leaf.pem, leaf.key).
fn certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec[..],
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Sealpost test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec[..],
        &[
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

/// Starts `sealpost up` trusting `ca`, delivers the three-record audience by email to `port`,
/// and returns the final status.
async fn deliver_by_email(db: Db, dir: &Path, ca: &Path, port: u16) -> serde_json::Value {
    let data_dir = dir.join("data");
    let url = db.fresh_database(&data_dir).await;
    let ca = ca.display().to_string();
    let env = [
        ("SSL_CERT_FILE", ca.as_str()),
        ("SEALPOST__DELIVERY__POLL_MS", "50"),
        ("SEALPOST__DELIVERY__BACKOFF_BASE_MS", "50"),
        ("SEALPOST__DELIVERY__BACKOFF_MAX_MS", "100"),
        ("SEALPOST__DELIVERY__MAX_ATTEMPTS", "2"),
        ("SEALPOST__DELIVERY__TIMEOUT_MS", "3000"),
        ("SEALPOST__DELIVERY__LEASE_MS", "6000"),
    ];
    let daemon = Daemon::try_start_with_env(&data_dir, &url, &env).unwrap();
    let auth = super::bearer(&daemon.login().await);
    let fulfillment = json!({
        "type": "email",
        "from": "documents@sealpost.example",
        "to": "{+email_address}",
        "subject": "Your document",
        "body": "Open {+link}",
    });
    let smtp_url = format!("smtp://localhost:{port}");
    let location = super::daemon_deliver(
        &daemon,
        &auth,
        &three_records(),
        &fulfillment,
        &[("smtp_url", &smtp_url)],
    )
    .await;
    let client = reqwest::Client::new();
    wait_done(&client, &auth, &location, 30).await
}

async fn starttls_is_used_when_offered_and_verified(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = SmtpSink::start_with_tls(&cert, &key);
    let port = sink.peer.port;

    let trusted = dir.path().join("trusted");
    std::fs::create_dir(&trusted).unwrap();
    let status = deliver_by_email(db, &trusted, &ca, port).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    for (envelope, _) in &messages {
        assert_eq!(envelope["tls"], true, "{envelope}");
    }

    // A client that does not trust the server's certificate sends nothing (no fallback to
    // plain text): here the trust store is the leaf's own key file, which holds no CA.
    let untrusted = dir.path().join("untrusted");
    std::fs::create_dir(&untrusted).unwrap();
    let status = deliver_by_email(db, &untrusted, &key, port).await;
    assert_eq!(status["counts"]["sent"], 0, "{status}");
    assert_eq!(status["counts"]["failed"], 3, "{status}");
    assert_eq!(sink.messages().len(), 3, "nothing more arrived");
}
