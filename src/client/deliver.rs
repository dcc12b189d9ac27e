//! `sealpost deliver DOC [--field NAME=VALUE]… [--wait]`: `POST /documents/{docId}/deliver`
//! (the fields as its `multipart/form-data`, under one `Idempotency-Key` for every attempt),
//! then with `--wait` polls the delivery until no recipient is queued, a progress bar over the
//! recipients on a terminal. Prints the delivery's status JSON; with `--wait`, exits 1 when a
//! recipient failed.

use std::time::Duration;

use serde_json::Value;

use super::args::Deliver;
use super::http::{Api, idempotency_key};
use super::links::check_doc;
use super::multipart::Form;
use super::{FailedAfterResult, print_result, progress, usage};

/// How often `--wait` asks for the status.
const POLL: Duration = Duration::from_millis(500);

/// Runs `sealpost deliver`.
pub async fn run(args: &Deliver) -> anyhow::Result<()> {
    check_doc(&args.doc)?;
    let fields = parse_fields(&args.fields)?;
    let api = Api::connect(&args.remote).await?;
    let mut status = start(&api, &args.doc, &fields).await?;
    if args.wait {
        status = wait(&api, &args.doc, status).await?;
    }
    print_result(args.remote.json, &status, None);
    let failed = count(&status, "failed");
    if args.wait && failed > 0 {
        return Err(FailedAfterResult(format!(
            "{failed} recipient(s) failed (see the status above)"
        ))
        .into());
    }
    Ok(())
}

/// `NAME=VALUE` pairs (a usage error for one without `=` or with an empty name).
fn parse_fields(fields: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    fields
        .iter()
        .map(|field| match field.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(usage(format!("--field {field:?}: expected NAME=VALUE"))),
        })
        .collect()
}

/// `POST …/deliver`: the new delivery's status.
async fn start(api: &Api, doc: &str, fields: &[(String, String)]) -> anyhow::Result<Value> {
    let key = idempotency_key();
    let mut form = Form::new();
    for (name, value) in fields {
        form.text(name, value, false);
    }
    let url = api.url(&format!("/documents/{doc}/deliver"));
    let (_, status) = api
        .send_json(|| {
            let request = api.client.post(&url).header("Idempotency-Key", &key);
            // No fields: no body at all (a multipart body needs a part, RFC 2046 §5.1.1).
            if fields.is_empty() {
                return Ok(request);
            }
            Ok(request
                .header(reqwest::header::CONTENT_TYPE, form.content_type())
                .header(reqwest::header::CONTENT_LENGTH, form.text_len())
                .body(form.text_body()))
        })
        .await?;
    Ok(status)
}

/// Polls `GET /documents/{doc}/deliveries/{id}` until nothing is queued.
async fn wait(api: &Api, doc: &str, mut status: Value) -> anyhow::Result<Value> {
    let id = status
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the delivery's status has no id"))?;
    check_doc(id)?;
    let href = api.url(&format!("/documents/{doc}/deliveries/{id}"));
    let total = status
        .get("recipients")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    let bar = progress::recipients(total);
    loop {
        let done = count(&status, "sent") + count(&status, "failed");
        bar.set_position(done);
        bar.set_message(format!("({} failed)", count(&status, "failed")));
        if status["state"] == "done" {
            break;
        }
        tokio::time::sleep(POLL).await;
        (_, status) = api.send_json(|| Ok(api.client.get(&href))).await?;
    }
    bar.finish();
    Ok(status)
}

/// `counts.{name}` of a status.
fn count(status: &Value, name: &str) -> u64 {
    status
        .pointer(&format!("/counts/{name}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}
