//! The PUT rules of the spec's footnotes 4 (audience) and 5 (challenge).
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{audience_put_conflict, challenge_put_conflict};

fn audience(type_name: &str, viewer_token: Value) -> Value {
    json!({"type": type_name, "viewerToken": viewer_token, "data": {"records": [{"telephone": "1", "zip": "2"}]}})
}

fn challenge(consumer: &str, access: &str) -> Value {
    json!({"type": "OAuth", "data": {
        "provider": {"href": "https://accounts.example.com"},
        "consumer": {"type": consumer, "value": "client_id"},
        "access": {"type": access, "value": "secret"}
    }})
}

#[test]
fn audience_type_change_is_a_conflict() {
    let stored = audience("records", json!("{?telephone}"));
    let new = json!({"type": "octet-stream", "viewerToken": "{?telephone}", "data": "aGk="});
    let detail = audience_put_conflict(Some(&stored), &new).unwrap();
    assert!(detail.contains("type"), "{detail}");
    assert!(detail.contains("POST"), "{detail}");
}

#[test]
fn audience_viewer_token_change_is_a_conflict() {
    let stored = audience("records", json!("{?telephone}"));
    let new = audience("records", json!("{?telephone,zip}"));
    assert!(
        audience_put_conflict(Some(&stored), &new)
            .unwrap()
            .contains("viewerToken")
    );
    let stored_null = audience("records", Value::Null);
    assert!(
        audience_put_conflict(Some(&stored_null), &new).is_some(),
        "setting a token where none was"
    );
}

#[test]
fn audience_viewer_token_set_to_null_is_allowed() {
    let stored = audience("records", json!("{?telephone}"));
    assert_eq!(
        audience_put_conflict(Some(&stored), &audience("records", Value::Null)),
        None
    );
    let mut absent = audience("records", Value::Null);
    absent.as_object_mut().unwrap().remove("viewerToken");
    assert_eq!(audience_put_conflict(Some(&stored), &absent), None);
}

#[test]
fn audience_with_same_type_and_token_is_allowed() {
    let stored = audience("records", json!("{?telephone}"));
    let mut new = audience("records", json!("{?telephone}"));
    new["data"]["records"] = json!([{"telephone": "3", "zip": "4"}]);
    assert_eq!(audience_put_conflict(Some(&stored), &new), None);
}

#[test]
fn audience_added_or_removed_by_put_is_a_conflict() {
    let new = audience("records", Value::Null);
    assert!(audience_put_conflict(None, &new).is_some());
    assert!(audience_put_conflict(Some(&Value::Null), &new).is_some());
    assert!(audience_put_conflict(Some(&new), &Value::Null).is_some());
    assert_eq!(audience_put_conflict(None, &Value::Null), None);
}

#[test]
fn challenge_access_literal_to_field_is_a_conflict() {
    let detail = challenge_put_conflict(
        Some(&challenge("literal", "literal")),
        &challenge("literal", "field"),
    )
    .unwrap();
    assert!(detail.contains("challenge.data.access.type"), "{detail}");
}

#[test]
fn challenge_consumer_literal_to_field_is_a_conflict() {
    let detail = challenge_put_conflict(
        Some(&challenge("literal", "literal")),
        &challenge("field", "literal"),
    )
    .unwrap();
    assert!(detail.contains("challenge.data.consumer.type"), "{detail}");
}

#[test]
fn challenge_access_field_to_literal_is_allowed() {
    assert_eq!(
        challenge_put_conflict(
            Some(&challenge("literal", "field")),
            &challenge("literal", "literal")
        ),
        None
    );
}

#[test]
fn challenge_consumer_field_to_literal_is_allowed() {
    assert_eq!(
        challenge_put_conflict(
            Some(&challenge("field", "literal")),
            &challenge("literal", "literal")
        ),
        None
    );
}

#[test]
fn challenge_unchanged_sources_are_allowed() {
    for (consumer, access) in [
        ("literal", "literal"),
        ("field", "field"),
        ("field", "literal"),
    ] {
        let stored = challenge(consumer, access);
        assert_eq!(
            challenge_put_conflict(Some(&stored), &challenge(consumer, access)),
            None
        );
    }
}

#[test]
fn challenge_http_auth_access_literal_to_field_is_a_conflict() {
    let http_auth = |kind: &str| json!({"type": "HTTP-Auth", "data": {"realm": "r", "scheme": "basic", "access": {"type": kind, "value": "telephone"}}});
    assert!(challenge_put_conflict(Some(&http_auth("literal")), &http_auth("field")).is_some());
    assert_eq!(
        challenge_put_conflict(Some(&http_auth("field")), &http_auth("literal")),
        None
    );
}

#[test]
fn challenge_without_a_stored_literal_is_left_to_validate() {
    assert_eq!(
        challenge_put_conflict(None, &challenge("field", "field")),
        None
    );
    assert_eq!(
        challenge_put_conflict(Some(&json!({"type": "bogus"})), &json!(42)),
        None
    );
}
