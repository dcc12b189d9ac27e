//! The spec's JSON for a document record ("Insert a document", response), plus `name`,
//! `mediaType`, `size` and `lastModified` (DESIGN.md).

use chrono::{DateTime, SecondsFormat, Utc};
use schema::DocumentRecord;
use serde_json::{Value, json};

use crate::context::Links;

/// The sub-resources a record links to, in the spec's order.
pub const SUB_RESOURCES: [&str; 5] = [
    "audience",
    "fulfillment",
    "challenge",
    "landingpage",
    "metadata",
];

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn http_date(time: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(time.into())
}

pub fn self_href(links: &Links, record: &DocumentRecord) -> String {
    format!("{}/documents/{}", links.api_root, record.id)
}

/// `{gateway}/{placeholderId}` followed by the audience's `viewerToken` template, which the
/// sender of the link fills in (spec, Insert, footnote 1).
pub fn placeholder_href(links: &Links, record: &DocumentRecord) -> String {
    let template = record
        .audience
        .as_ref()
        .and_then(|audience| audience.value().viewer_token())
        .unwrap_or("");
    format!(
        "{}/{}{}",
        links.gateway_root, record.placeholder_id, template
    )
}

pub fn record(links: &Links, record: &DocumentRecord) -> Value {
    let base = self_href(links, record);
    let mut link_map = serde_json::Map::new();
    link_map.insert("self".into(), json!({"href": base, "rel": "self"}));
    link_map.insert(
        "document".into(),
        json!({"href": format!("{base}/document"), "rel": "edit"}),
    );
    for name in crate::documents::Part::ALL.map(crate::documents::Part::name) {
        link_map.insert(
            name.into(),
            json!({"href": format!("{base}/{name}"), "rel": "edit"}),
        );
    }
    link_map.insert(
        "placeholder".into(),
        json!({"href": placeholder_href(links, record), "rel": "alternate"}),
    );
    json!({
        "id": record.id,
        "name": record.name,
        "mediaType": record.media_type,
        "size": record.size,
        "hash": {"algorithm": record.hash_algorithm, "value": record.hash_value},
        "expiration": rfc3339(record.expiration),
        "lastModified": rfc3339(record.last_modified),
        // The environment of the credential that created it (DESIGN, "Environments").
        "environment": record.environment.as_str(),
        "links": link_map,
    })
}
