//! `sealpost links DOC [--csv] [--key-file F]`: the document's sealed links
//! (`POST /documents/{docId}/links`), one a line; with `--csv`, each audience record's fields
//! then its `link`; with `--key-file`, each link ends in the top-secret key's `#k=…` fragment
//! (added here: the key never goes to the server).

use serde_json::{Value, json};

use super::args::Links;
use super::http::Api;
use super::{print_result, usage};

/// Runs `sealpost links`.
pub async fn run(args: &Links) -> anyhow::Result<()> {
    let fragment = args
        .key_file
        .as_deref()
        .map(super::e2e::read_key_file)
        .transpose()?;
    check_doc(&args.doc)?;
    let api = Api::connect(&args.remote).await?;
    let mut links = fetch(&api, &args.doc).await?;
    if let Some(fragment) = &fragment {
        add_fragment(&mut links, fragment);
    }
    if args.csv {
        let audience = fetch_audience(&api, &args.doc).await?;
        print!("{}", to_csv(&links, &audience)?);
        return Ok(());
    }
    let text: String = hrefs(&links).map(|href| format!("{href}\n")).collect();
    print_result(args.remote.json, &json!({ "links": links }), Some(text));
    Ok(())
}

/// The `links` array of `POST /documents/{doc}/links` (no body: one link per record).
pub async fn fetch(api: &Api, doc: &str) -> anyhow::Result<Vec<Value>> {
    let url = api.url(&format!("/documents/{}/links", doc));
    let (_, answer) = api.send_json(|| Ok(api.client.post(&url))).await?;
    match answer.get("links").and_then(Value::as_array) {
        Some(links) => Ok(links.clone()),
        None => anyhow::bail!("the server's answer has no links array"),
    }
}

/// The document's audience JSON (`null` when it has none).
async fn fetch_audience(api: &Api, doc: &str) -> anyhow::Result<Value> {
    let url = api.url(&format!("/documents/{}/audience", doc));
    let (status, _, body) =
        api.send(|| Ok(api.client.get(&url)))
            .await
            .or_else(|error| match error.downcast_ref::<super::Refused>() {
                Some(refused) if refused.status == 404 => Ok((
                    reqwest::StatusCode::NOT_FOUND,
                    Default::default(),
                    bytes::Bytes::new(),
                )),
                _ => Err(error),
            })?;
    if status == reqwest::StatusCode::NOT_FOUND || body.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Appends `#k=…` to every link's `href`.
pub fn add_fragment(links: &mut [Value], fragment: &str) {
    for link in links {
        if let Some(href) = link.get("href").and_then(Value::as_str) {
            let href = format!("{href}#{fragment}");
            link["href"] = Value::String(href);
        }
    }
}

/// The `href`s of `links`.
pub fn hrefs(links: &[Value]) -> impl Iterator<Item = &str> {
    links
        .iter()
        .filter_map(|link| link.get("href").and_then(Value::as_str))
}

/// Checks a docId is base64url text before it goes into a path (so `../x` is a usage error,
/// never a request elsewhere); the server answers 404 for a well-formed unknown one.
pub fn check_doc(doc: &str) -> anyhow::Result<()> {
    let ok = !doc.is_empty()
        && doc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(usage(format!("{doc:?} is not a document id (base64url)")))
    }
}

/// CSV: the columns of the audience's records (in the first record's order), then `link`;
/// one row per link, its record's values (empty for a link that names no record).
fn to_csv(links: &[Value], audience: &Value) -> anyhow::Result<String> {
    let records = audience
        .pointer("/data/records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let columns: Vec<String> = records
        .first()
        .and_then(Value::as_object)
        .map(|first| first.keys().cloned().collect())
        .unwrap_or_default();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(columns.iter().map(String::as_str).chain(["link"]))?;
    for link in links {
        let record = link
            .get("record")
            .and_then(Value::as_u64)
            .and_then(|i| records.get(usize::try_from(i).ok()?));
        let cell = |column: &String| {
            record
                .and_then(|r| r.get(column))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        let mut row: Vec<String> = columns.iter().map(cell).collect();
        row.push(link["href"].as_str().unwrap_or_default().to_owned());
        writer.write_record(&row)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
