//! Progress bars (issue 21, item 1): under a pseudo-terminal (`script` from util-linux) the
//! upload draws a bar on stderr (bytes, rate, time left); through pipes nothing but the
//! result is printed.

use super::Producer;
use crate::common::{Db, TestApp, on_both_databases, pseudo_random};

on_both_databases!(a_terminal_gets_a_progress_bar_and_a_pipe_none);

/// `arg` quoted for `sh`.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

async fn a_terminal_gets_a_progress_bar_and_a_pipe_none(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let file = producer.file("bar.bin", &pseudo_random(3 << 20, 5));
    let args = [
        super::BINARY,
        "upload",
        &file,
        "--api",
        &app.api,
        "--key",
        producer.key.to_str().unwrap(),
    ];
    let command: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let output = tokio::process::Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env("RUST_BACKTRACE", "0")
        .env_remove("SEALPOST_API_KEY")
        .current_dir(producer.dir.path())
        .output()
        .await
        .expect("script (util-linux) runs");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{terminal}");
    assert!(terminal.contains("upload ["), "no bar: {terminal}");
    assert!(
        terminal.contains("3.00 MiB/3.00 MiB"),
        "no byte counts: {terminal}"
    );
    assert!(terminal.contains("/s"), "no rate: {terminal}");

    let piped = producer.run(&["upload", &file]).await.ok();
    assert!(
        piped.stderr.is_empty(),
        "stderr through a pipe: {}",
        piped.stderr
    );
    let record: serde_json::Value = serde_json::from_str(&piped.stdout).unwrap();
    assert_eq!(record["size"], 3 << 20);
}
