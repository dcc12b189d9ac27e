#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{Challenge, IdentityMatch, Provider, Scheme, Source, parse_challenge};

fn refused(value: Value) -> String {
    parse_challenge(&value).unwrap_err().field
}

fn http_auth(scheme: &str, access: Value) -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Acme statements", "scheme": scheme, "access": access}})
}

fn oauth() -> Value {
    json!({"type": "OAuth", "data": {
        "provider": {"href": "https://accounts.example.com"},
        "consumer": {"type": "literal", "value": "client-id-123"},
        "access": {"type": "field", "value": "secret"}
    }})
}

#[test]
fn the_spec_http_auth_shapes_parse() {
    let basic = parse_challenge(&http_auth(
        "basic",
        json!({"type": "field", "value": "telephone"}),
    ))
    .unwrap();
    assert_eq!(
        basic,
        Challenge::HttpAuth {
            realm: "Acme statements".into(),
            scheme: Scheme::Basic,
            access: Source::Field("telephone".into())
        }
    );
    let digest = parse_challenge(&http_auth(
        "digest",
        json!({"type": "literal", "value": "harry:s3cret"}),
    ))
    .unwrap();
    assert!(matches!(
        digest,
        Challenge::HttpAuth {
            scheme: Scheme::Digest,
            access: Source::Literal(_),
            ..
        }
    ));
}

#[test]
fn the_spec_oauth_shape_parses_with_the_design_additions() {
    assert!(parse_challenge(&oauth()).is_ok());
    let mut value = oauth();
    value["data"]["provider"]["authorize"] = json!("https://accounts.example.com/authorize");
    value["data"]["provider"]["token"] = json!("https://accounts.example.com/token");
    value["data"]["scope"] = json!("openid email");
    value["data"]["match"] = json!({"claim": "email", "field": "email_address"});
    let Challenge::OAuth {
        provider,
        consumer,
        scope,
        identity_match,
        ..
    } = parse_challenge(&value).unwrap()
    else {
        panic!("not OAuth")
    };
    assert_eq!(
        provider,
        Provider {
            href: "https://accounts.example.com".into(),
            authorize: Some("https://accounts.example.com/authorize".into()),
            token: Some("https://accounts.example.com/token".into()),
        }
    );
    assert_eq!(consumer, Source::Literal("client-id-123".into()));
    assert_eq!(scope.as_deref(), Some("openid email"));
    assert_eq!(
        identity_match,
        Some(IdentityMatch {
            claim: "email".into(),
            field: "email_address".into()
        })
    );
}

#[test]
fn type_must_be_http_auth_or_oauth() {
    assert_eq!(
        refused(json!({"type": "http-auth", "data": {}})),
        "challenge.type"
    );
    assert_eq!(refused(json!({"data": {}})), "challenge.type");
    assert_eq!(refused(json!({"type": "OAuth"})), "challenge.data");
}

#[test]
fn unknown_members_are_refused_by_name() {
    let mut value = http_auth("basic", json!({"type": "literal", "value": "pw"}));
    value["data"]["provider"] = json!({"href": "https://x.example"});
    assert_eq!(refused(value), "challenge.data.provider");
    assert_eq!(
        refused(http_auth(
            "basic",
            json!({"type": "literal", "value": "pw", "hint": "x"})
        )),
        "challenge.data.access.hint"
    );
    let mut value = oauth();
    value["data"]["match"] = json!({"claim": "email", "field": "email_address", "strict": true});
    assert_eq!(refused(value), "challenge.data.match.strict");
}

#[test]
fn scheme_must_be_basic_or_digest() {
    assert_eq!(
        refused(http_auth(
            "Basic",
            json!({"type": "literal", "value": "pw"})
        )),
        "challenge.data.scheme"
    );
    assert_eq!(
        refused(http_auth(
            "bearer",
            json!({"type": "literal", "value": "pw"})
        )),
        "challenge.data.scheme"
    );
}

#[test]
fn source_type_must_be_literal_or_field() {
    assert_eq!(
        refused(http_auth("basic", json!({"type": "header", "value": "pw"}))),
        "challenge.data.access.type"
    );
    assert_eq!(
        refused(http_auth("basic", json!({"value": "pw"}))),
        "challenge.data.access.type"
    );
}

#[test]
fn source_value_must_be_a_non_empty_string() {
    assert_eq!(
        refused(http_auth("basic", json!({"type": "literal", "value": ""}))),
        "challenge.data.access.value"
    );
    assert_eq!(
        refused(http_auth("basic", json!({"type": "field", "value": 3}))),
        "challenge.data.access.value"
    );
    assert_eq!(
        refused(http_auth("basic", json!({"type": "field"}))),
        "challenge.data.access.value"
    );
    assert_eq!(
        refused(http_auth("basic", json!("pw"))),
        "challenge.data.access"
    );
}

#[test]
fn realm_is_short_printable_ascii_without_quote_or_backslash() {
    let with_realm = |realm: &str| {
        let mut value = http_auth("basic", json!({"type": "literal", "value": "pw"}));
        value["data"]["realm"] = json!(realm);
        value
    };
    for realm in [
        "",
        "a\"b",
        "a\\b",
        "a\r\nSet-Cookie: x",
        "tab\there",
        "Zoë's files",
        &"r".repeat(257),
    ] {
        assert_eq!(
            refused(with_realm(realm)),
            "challenge.data.realm",
            "{realm:?}"
        );
    }
    assert!(parse_challenge(&with_realm(&"r".repeat(256))).is_ok());
    assert!(parse_challenge(&with_realm("Acme (statements) 2024: it's yours")).is_ok());
}

#[test]
fn digest_literal_access_must_hold_userid_and_password() {
    let error = parse_challenge(&http_auth(
        "digest",
        json!({"type": "literal", "value": "onlypassword"}),
    ))
    .unwrap_err();
    assert_eq!(error.field, "challenge.data.access.value");
    assert!(
        !error.detail.contains("onlypassword"),
        "secrets are not echoed"
    );
    assert!(
        parse_challenge(&http_auth(
            "basic",
            json!({"type": "literal", "value": "onlypassword"})
        ))
        .is_ok()
    );
}

#[test]
fn provider_hrefs_are_https_or_loopback_http() {
    let with_href = |href: &str| {
        let mut value = oauth();
        value["data"]["provider"]["href"] = json!(href);
        value
    };
    for good in [
        "https://accounts.example.com/realms/x",
        "https://accounts.example.com:8443",
        "http://127.0.0.1:8080/issuer",
        "http://127.9.9.9",
        "http://[::1]:9000",
        "http://localhost:3000",
        "HTTP://LOCALHOST",
    ] {
        assert!(parse_challenge(&with_href(good)).is_ok(), "{good}");
    }
    for bad in [
        "http://accounts.example.com",
        "http://10.0.0.1",
        "http://[::2]",
        "http://localhost.example.com",
        "ftp://accounts.example.com",
        "accounts.example.com",
        "/issuer",
        "https://",
        "https://user:pw@accounts.example.com",
        "https://accounts.example.com/#frag",
        "https://accounts.example.com:0",
        "https://accounts.example.com:99999",
        "https://bad_host.example.com",
        "https://accounts.example.com/a b",
        "https://accounts.example.com/%zz",
    ] {
        assert_eq!(
            refused(with_href(bad)),
            "challenge.data.provider.href",
            "{bad}"
        );
    }
    let mut value = oauth();
    value["data"]["provider"]["token"] = json!("http://example.com/token");
    assert_eq!(refused(value), "challenge.data.provider.token");
    assert_eq!(refused(with_href("")), "challenge.data.provider.href");
}

#[test]
fn provider_authorize_and_token_come_together() {
    let mut value = oauth();
    value["data"]["provider"]["authorize"] = json!("https://accounts.example.com/authorize");
    assert_eq!(refused(value), "challenge.data.provider.token");
    let mut value = oauth();
    value["data"]["provider"]["token"] = json!("https://accounts.example.com/token");
    assert_eq!(refused(value), "challenge.data.provider.authorize");
}

#[test]
fn scope_is_space_separated_scope_tokens() {
    for scope in [
        "",
        "openid  email",
        " openid",
        "openid\temail",
        "a\"b",
        "a\\b",
    ] {
        let mut value = oauth();
        value["data"]["scope"] = json!(scope);
        assert_eq!(refused(value), "challenge.data.scope", "{scope:?}");
    }
}

#[test]
fn match_needs_a_claim_and_a_field() {
    let mut value = oauth();
    value["data"]["match"] = json!({"claim": "email"});
    assert_eq!(refused(value), "challenge.data.match.field");
    let mut value = oauth();
    value["data"]["match"] = json!({"claim": "", "field": "email_address"});
    assert_eq!(refused(value), "challenge.data.match.claim");
}

#[test]
fn oauth_needs_provider_consumer_and_access() {
    for member in ["provider", "consumer", "access"] {
        let mut value = oauth();
        value["data"].as_object_mut().unwrap().remove(member);
        assert_eq!(refused(value), format!("challenge.data.{member}"));
    }
}

#[test]
fn debug_never_prints_a_literal_secret() {
    let challenge = parse_challenge(&http_auth(
        "basic",
        json!({"type": "literal", "value": "hunter2"}),
    ))
    .unwrap();
    let printed = format!("{challenge:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(format!("{:?}", Source::Field("telephone".into())).contains("telephone"));
}
