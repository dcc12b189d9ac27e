//! The spec's object rules over HTTP: one row per rule, each answered 422 naming the field,
//! nothing stored.

use serde_json::{Value, json};

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::updates::{field_challenge, literal_challenge, records_audience};

on_both_databases!(
    every_object_rule_is_enforced,
    valid_combinations_are_accepted
);

fn http_auth(scheme: &str, kind: &str, value: &str) -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "R", "scheme": scheme, "access": {"type": kind, "value": value}}})
}

fn with(value: &Value, pointer: &str, replacement: Value) -> Value {
    let mut value = value.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match value.pointer_mut(parent).unwrap() {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = replacement,
        Value::Object(members) => {
            members.insert(key.to_owned(), replacement);
        }
        other => panic!("{pointer}: {other} has no members"),
    }
    value
}

/// Named JSON parts of a multipart form.
type Parts = Vec<(&'static str, Value)>;

/// (rule, parts, the object the problem must name)
fn rules() -> Vec<(&'static str, Parts, &'static str)> {
    let records = records_audience();
    let octet =
        json!({"type": "octet-stream", "viewerToken": "{?email_address}", "data": "aGVsbG8="});
    let oauth = json!({"type": "OAuth", "data": {"provider": {"href": "https://idp.example"}, "consumer": {"type": "literal", "value": "client"}, "access": {"type": "literal", "value": "secret"}}});
    vec![
        (
            "audience type is octet-stream or records",
            vec![("audience", with(&records, "/type", json!("people")))],
            "audience",
        ),
        (
            "records audience has records",
            vec![("audience", with(&records, "/data/records", json!([])))],
            "audience",
        ),
        (
            "records share the same field names",
            vec![(
                "audience",
                with(
                    &records,
                    "/data/records/1",
                    json!({"telephone": "1", "email_address": "x@y"}),
                ),
            )],
            "audience",
        ),
        (
            "record values are strings",
            vec![(
                "audience",
                with(&records, "/data/records/0/telephone", json!(4154445511_u64)),
            )],
            "audience",
        ),
        (
            "viewerToken is a query expression",
            vec![(
                "audience",
                with(&records, "/viewerToken", json!("{telephone}")),
            )],
            "audience",
        ),
        (
            "viewerToken variables exist in every record",
            vec![(
                "audience",
                with(&records, "/viewerToken", json!("{?telephone,shoe_size}")),
            )],
            "audience",
        ),
        (
            "viewerToken has no modifiers",
            vec![(
                "audience",
                with(&records, "/viewerToken", json!("{?telephone:3}")),
            )],
            "audience",
        ),
        (
            "octet-stream data is base64",
            vec![
                ("audience", with(&octet, "/data", json!("not base64!"))),
                ("challenge", literal_challenge()),
            ],
            "audience",
        ),
        (
            "octet-stream needs a literal challenge",
            vec![
                ("audience", octet.clone()),
                ("challenge", http_auth("basic", "field", "email_address")),
            ],
            "challenge",
        ),
        (
            "octet-stream needs a challenge",
            vec![("audience", octet.clone())],
            "challenge",
        ),
        (
            "field access needs a records audience",
            vec![("challenge", field_challenge())],
            "challenge",
        ),
        (
            "field access names a record field",
            vec![
                ("audience", records.clone()),
                ("challenge", http_auth("basic", "field", "shoe_size")),
            ],
            "challenge",
        ),
        (
            "digest literal access is userid:passwd",
            vec![("challenge", http_auth("digest", "literal", "nocolon"))],
            "challenge",
        ),
        (
            "digest field values are userid:passwd",
            vec![
                ("audience", records.clone()),
                ("challenge", http_auth("digest", "field", "telephone")),
            ],
            "audience",
        ),
        (
            "HTTP-Auth scheme is basic or digest",
            vec![("challenge", http_auth("ntlm", "literal", "a:b"))],
            "challenge",
        ),
        (
            "challenge type is HTTP-Auth or OAuth",
            vec![("challenge", json!({"type": "Kerberos", "data": {}}))],
            "challenge",
        ),
        (
            "realm has no quotes",
            vec![(
                "challenge",
                with(&literal_challenge(), "/data/realm", json!("a\"b")),
            )],
            "challenge",
        ),
        (
            "access type is literal or field",
            vec![(
                "challenge",
                with(&literal_challenge(), "/data/access/type", json!("env")),
            )],
            "challenge",
        ),
        (
            "OAuth needs provider.href",
            vec![("challenge", with(&oauth, "/data/provider", json!({})))],
            "challenge",
        ),
        (
            "OAuth field consumer needs records",
            vec![(
                "challenge",
                with(&oauth, "/data/consumer/type", json!("field")),
            )],
            "challenge",
        ),
        (
            "unknown members are refused",
            vec![(
                "challenge",
                with(&literal_challenge(), "/data/colour", json!("red")),
            )],
            "challenge",
        ),
        (
            "landing page type is url",
            vec![(
                "landingpage",
                json!({"type": "iframe", "href": "https://x.example/"}),
            )],
            "landingpage",
        ),
        (
            "landing page href is https",
            vec![(
                "landingpage",
                json!({"type": "url", "href": "http://x.example/"}),
            )],
            "landingpage",
        ),
        (
            "landing page href is a valid template",
            vec![(
                "landingpage",
                json!({"type": "url", "href": "https://x.example/{oops"}),
            )],
            "landingpage",
        ),
        (
            "landing page variables are audience fields",
            vec![
                ("audience", records.clone()),
                (
                    "landingpage",
                    json!({"type": "url", "href": "https://x.example/{?shoe_size}"}),
                ),
            ],
            "landingpage",
        ),
        (
            "fulfillment type is http, email or xmlrpc",
            vec![("fulfillment", json!({"type": "pigeon"}))],
            "fulfillment",
        ),
        (
            "fulfillment templates are valid",
            vec![(
                "fulfillment",
                json!({"type": "http", "href": "https://h.example/{x", "body": "a"}),
            )],
            "fulfillment",
        ),
        (
            "email fulfillment has a from address",
            vec![(
                "fulfillment",
                json!({"type": "email", "from": "nobody", "to": "{email_address}", "subject": "s", "body": "b"}),
            )],
            "fulfillment",
        ),
    ]
}

async fn every_object_rule_is_enforced(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let rules = rules();
    assert!(rules.len() >= 25);
    for (rule, parts, object) in rules {
        let mut form = document_form("r.pdf", b"r".to_vec());
        for (name, value) in parts {
            form = form.text(name, value.to_string());
        }
        let response = app.upload_form(&token, form).await;
        let status = response.status();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{rule}: {problem}");
        let field = problem["field"].as_str().unwrap_or_default();
        assert!(
            field.starts_with(object),
            "{rule}: the problem names {field:?}, expected {object}…"
        );
        assert!(
            !problem["detail"].as_str().unwrap_or_default().is_empty(),
            "{rule}"
        );
    }
    assert!(
        app.object_files().is_empty(),
        "refused insertions left no content"
    );
}

async fn valid_combinations_are_accepted(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let octet = json!({"type": "octet-stream", "viewerToken": null, "data": "aGVsbG8="});
    let combos: Vec<Vec<(&str, Value)>> = vec![
        vec![],
        vec![("audience", records_audience())],
        vec![
            ("audience", records_audience()),
            ("challenge", field_challenge()),
        ],
        vec![("challenge", literal_challenge())],
        vec![("audience", octet), ("challenge", literal_challenge())],
        vec![
            ("audience", records_audience()),
            ("challenge", http_auth("digest", "field", "pin")),
        ],
        vec![("challenge", http_auth("digest", "literal", "user:pass"))],
        vec![
            ("audience", records_audience()),
            (
                "landingpage",
                json!({"type": "url", "href": "https://x.example/{?email_address,telephone}"}),
            ),
        ],
        vec![(
            "fulfillment",
            json!({"type": "email", "from": "docs@example.com", "to": "{email_address}", "subject": "Your document", "body": "Open {+link}"}),
        )],
        vec![(
            "fulfillment",
            json!({"type": "xmlrpc", "href": "https://imm.example/rpc", "methodName": "triggerMailing", "params": ["{email_address}", "{+link}"]}),
        )],
    ];
    for parts in combos {
        let mut form = document_form("ok.pdf", b"ok".to_vec());
        let names: Vec<&str> = parts.iter().map(|(name, _)| *name).collect();
        for (name, value) in parts {
            form = form.text(name, value.to_string());
        }
        let response = app.upload_form(&token, form).await;
        assert_eq!(
            response.status(),
            201,
            "{names:?}: {}",
            response.text().await.unwrap()
        );
    }
}
