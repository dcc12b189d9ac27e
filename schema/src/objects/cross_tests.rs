//! One test per cross-object rule of [`super::validate`].
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{DocumentObjects, ObjectError, validate};

fn records_audience() -> Value {
    json!({
        "type": "records",
        "viewerToken": "{?telephone}",
        "data": {"records": [
            {"email_address": "h.piltdown@ipo.st", "first_name": "Harry", "telephone": "4154445511", "login": "harry:pw1"},
            {"email_address": "z.ok@ipo.st", "first_name": "Zoë", "telephone": "4154445512", "login": "zoe:pw2"}
        ]}
    })
}

fn octet_audience() -> Value {
    json!({"type": "octet-stream", "viewerToken": "{?email_address}", "data": "aGVsbG8="})
}

fn http_auth(scheme: &str, kind: &str, value: &str) -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Statements", "scheme": scheme, "access": {"type": kind, "value": value}}})
}

fn oauth(consumer: (&str, &str), access: (&str, &str)) -> Value {
    json!({"type": "OAuth", "data": {
        "provider": {"href": "https://accounts.example.com"},
        "consumer": {"type": consumer.0, "value": consumer.1},
        "access": {"type": access.0, "value": access.1}
    }})
}

fn check(
    audience: Option<&Value>,
    challenge: Option<&Value>,
    landingpage: Option<&Value>,
) -> Result<(), ObjectError> {
    validate(&DocumentObjects {
        audience,
        challenge,
        landingpage,
        fulfillment: None,
    })
}

fn field(result: Result<(), ObjectError>) -> String {
    result.unwrap_err().field
}

#[test]
fn rule_1_field_sources_need_a_records_audience_with_the_field() {
    let audience = records_audience();
    let access = http_auth("basic", "field", "telephone");
    assert!(check(Some(&audience), Some(&access), None).is_ok());
    assert_eq!(
        field(check(None, Some(&access), None)),
        "challenge.data.access.value"
    );
    let missing = http_auth("basic", "field", "password");
    assert_eq!(
        field(check(Some(&audience), Some(&missing), None)),
        "challenge.data.access.value"
    );
    let consumer = oauth(("field", "client_id"), ("literal", "secret"));
    assert_eq!(
        field(check(Some(&audience), Some(&consumer), None)),
        "challenge.data.consumer.value"
    );
    assert_eq!(
        field(check(None, Some(&consumer), None)),
        "challenge.data.consumer.value"
    );
    let both = oauth(("field", "email_address"), ("field", "telephone"));
    assert!(check(Some(&audience), Some(&both), None).is_ok());
}

#[test]
fn rule_2_octet_stream_audience_needs_a_literal_challenge() {
    let audience = octet_audience();
    assert_eq!(field(check(Some(&audience), None, None)), "challenge");
    let field_access = http_auth("basic", "field", "telephone");
    assert_eq!(
        field(check(Some(&audience), Some(&field_access), None)),
        "challenge.data.access.type"
    );
    let field_consumer = oauth(("field", "client_id"), ("literal", "secret"));
    assert_eq!(
        field(check(Some(&audience), Some(&field_consumer), None)),
        "challenge.data.consumer.type"
    );
    assert!(
        check(
            Some(&audience),
            Some(&http_auth("basic", "literal", "pw")),
            None
        )
        .is_ok()
    );
    assert!(
        check(
            Some(&audience),
            Some(&oauth(("literal", "id"), ("literal", "secret"))),
            None
        )
        .is_ok()
    );
}

#[test]
fn rule_3_digest_field_values_hold_userid_and_password() {
    let challenge = http_auth("digest", "field", "login");
    let mut audience = records_audience();
    assert!(check(Some(&audience), Some(&challenge), None).is_ok());
    audience["data"]["records"][1]["login"] = json!("no-colon");
    let error = check(Some(&audience), Some(&challenge), None).unwrap_err();
    assert_eq!(error.field, "audience.data.records[1].login");
    assert!(!error.detail.contains("no-colon"), "values are not echoed");
    let basic = http_auth("basic", "field", "login");
    assert!(check(Some(&audience), Some(&basic), None).is_ok());
}

#[test]
fn rule_4_oauth_match_field_is_a_records_field() {
    let mut challenge = oauth(("literal", "id"), ("literal", "secret"));
    challenge["data"]["match"] = json!({"claim": "email", "field": "email_address"});
    let audience = records_audience();
    assert!(check(Some(&audience), Some(&challenge), None).is_ok());
    assert_eq!(
        field(check(None, Some(&challenge), None)),
        "challenge.data.match.field"
    );
    challenge["data"]["match"]["field"] = json!("mail");
    assert_eq!(
        field(check(Some(&audience), Some(&challenge), None)),
        "challenge.data.match.field"
    );
}

#[test]
fn rule_5_landing_page_variables_are_records_fields() {
    let audience = records_audience();
    let page = json!({"type": "url", "href": "https://pages.example.com/hello{?first_name}"});
    assert!(check(Some(&audience), None, Some(&page)).is_ok());
    assert_eq!(field(check(None, None, Some(&page))), "landingpage.href");
    let octet = octet_audience();
    let literal = http_auth("basic", "literal", "pw");
    assert_eq!(
        field(check(Some(&octet), Some(&literal), Some(&page))),
        "landingpage.href"
    );
    let unknown = json!({"type": "url", "href": "https://pages.example.com/hello{?zip}"});
    assert_eq!(
        field(check(Some(&audience), None, Some(&unknown))),
        "landingpage.href"
    );
    let plain = json!({"type": "url", "href": "https://pages.example.com/hello"});
    assert!(check(None, None, Some(&plain)).is_ok());
}

#[test]
fn rule_6_no_audience_and_no_challenge_is_the_confidential_level() {
    assert!(check(None, None, None).is_ok());
    let null = Value::Null;
    assert!(check(Some(&null), Some(&null), Some(&null)).is_ok());
    assert!(
        check(Some(&records_audience()), None, None).is_ok(),
        "the viewer token alone admits"
    );
    assert!(
        check(None, Some(&http_auth("basic", "literal", "pw")), None).is_ok(),
        "a shared password, no audience"
    );
}

#[test]
fn validate_reports_each_objects_own_errors() {
    let bad = json!({"type": "url", "href": "http://pages.example.com/"});
    assert_eq!(field(check(None, None, Some(&bad))), "landingpage.href");
    let fulfillment = json!({"type": "http", "href": "{base}/send"});
    let objects = DocumentObjects {
        fulfillment: Some(&fulfillment),
        ..DocumentObjects::default()
    };
    assert_eq!(validate(&objects).unwrap_err().field, "fulfillment.href");
    let bad_audience = json!({"type": "records"});
    assert_eq!(
        field(check(Some(&bad_audience), None, None)),
        "audience.data"
    );
}
