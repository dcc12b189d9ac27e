//! Hostile input: nothing a producer sends may panic or take long.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::template::{Syntax, Template};
use super::{
    DocumentObjects, ViewerToken, parse_audience, parse_challenge, parse_fulfillment,
    parse_landingpage, validate,
};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

#[test]
fn random_templates_never_panic_and_accepted_ones_expand() {
    const ALPHABET: &[char] = &[
        '{',
        '}',
        '?',
        '+',
        '#',
        '.',
        '/',
        ';',
        '&',
        ',',
        ':',
        '*',
        'a',
        'b',
        '1',
        '0',
        '9',
        '%',
        '2',
        'F',
        'é',
        'ë',
        '\u{1F600}',
        ' ',
        '@',
        '=',
        '!',
        '|',
        '-',
        '_',
        '\n',
        '"',
    ];
    let values: HashMap<String, stduritemplate::Value> = [
        (
            "a".to_owned(),
            stduritemplate::Value::String("Zoë \u{1F600}%2F/?&=".to_owned()),
        ),
        (
            "b".to_owned(),
            stduritemplate::Value::List(vec![stduritemplate::Value::String("ë".into())]),
        ),
    ]
    .into_iter()
    .collect();
    let mut rng = Rng(0x5EA1_9057);
    let mut accepted = 0;
    for _ in 0..30_000 {
        let len = rng.below(20);
        let text: String = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        let _ = ViewerToken::parse(&text);
        for syntax in [Syntax::Uri, Syntax::Line, Syntax::Text] {
            if Template::parse(&text, syntax).is_ok() {
                accepted += 1;
                // Expansion with multibyte values and prefix modifiers must not panic either.
                let _ = stduritemplate::expand(&text, &values);
            }
        }
    }
    assert!(
        accepted > 1000,
        "the generator should reach valid templates too ({accepted})"
    );
}

#[test]
fn hostile_templates_in_objects_are_refused_cleanly() {
    for href in [
        "{",
        "}",
        "{?}",
        "{?a,a}",
        "{?a:3}",
        "{?a*}",
        "{+a}",
        "https://x/{a",
        "https://x/{a:99999}",
    ] {
        let audience =
            json!({"type": "records", "viewerToken": href, "data": {"records": [{"a": "1"}]}});
        assert_eq!(
            parse_audience(&audience).unwrap_err().field,
            "audience.viewerToken",
            "{href}"
        );
        let page = json!({"type": "url", "href": href});
        assert_eq!(
            parse_landingpage(&page).unwrap_err().field,
            "landingpage.href",
            "{href}"
        );
    }
}

#[test]
fn a_large_audience_parses_quickly() {
    let records: Vec<Value> = (0..100_000)
        .map(|i| json!({"email_address": format!("v{i}@example.com"), "telephone": format!("{i:010}"), "first_name": "Zoë"}))
        .collect();
    let audience = json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": records}});
    let start = Instant::now();
    let parsed = parse_audience(&audience).unwrap();
    assert_eq!(parsed.records().unwrap().len(), 100_000);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_long_template_full_of_expressions_is_cheap() {
    let body = "a={a}&".repeat(60 * 1024 / 7);
    let fulfillment = json!({"type": "http", "href": "https://x.example/", "body": body});
    let start = Instant::now();
    assert!(parse_fulfillment(&fulfillment).is_ok());
    assert!(start.elapsed() < Duration::from_secs(2));
    let too_long =
        json!({"type": "http", "href": "https://x.example/", "body": "a".repeat(1 << 20)});
    assert_eq!(
        parse_fulfillment(&too_long).unwrap_err().field,
        "fulfillment.body"
    );
}

/// As deep as `serde_json` parses by default (its recursion limit is 128).
fn deep() -> Value {
    let depth = 120;
    serde_json::from_str(&format!("{}{}", "[".repeat(depth), "]".repeat(depth))).unwrap()
}

#[test]
fn deep_json_anywhere_is_refused_without_panicking() {
    let audience = json!({"type": "records", "data": {"records": [{"a": deep()}]}});
    assert_eq!(
        parse_audience(&audience).unwrap_err().field,
        "audience.data.records[0].a"
    );
    let audience = json!({"type": "records", "data": {"records": deep()}});
    assert_eq!(
        parse_audience(&audience).unwrap_err().field,
        "audience.data.records[0]"
    );
    let challenge = json!({"type": "HTTP-Auth", "data": deep()});
    assert_eq!(
        parse_challenge(&challenge).unwrap_err().field,
        "challenge.data"
    );
    let challenge = json!({"type": "OAuth", "data": {"provider": deep()}});
    assert_eq!(
        parse_challenge(&challenge).unwrap_err().field,
        "challenge.data.provider"
    );
    let page = json!({"type": "url", "href": "https://x.example/", "x": deep()});
    assert_eq!(parse_landingpage(&page).unwrap_err().field, "landingpage.x");
    let fulfillment = json!({"type": deep()});
    assert_eq!(
        parse_fulfillment(&fulfillment).unwrap_err().field,
        "fulfillment.type"
    );
    let value = deep();
    let objects = DocumentObjects {
        audience: Some(&value),
        challenge: Some(&value),
        landingpage: Some(&value),
        fulfillment: Some(&value),
    };
    assert_eq!(validate(&objects).unwrap_err().field, "audience");
}

#[test]
fn huge_strings_are_refused_or_accepted_without_panicking() {
    let huge = "x".repeat(1 << 20);
    let audience =
        json!({"type": "records", "viewerToken": huge, "data": {"records": [{"a": huge}]}});
    assert_eq!(
        parse_audience(&audience).unwrap_err().field,
        "audience.viewerToken"
    );
    let challenge =
        json!({"type": "OAuth", "data": {"provider": {"href": format!("https://{huge}")}}});
    assert_eq!(
        parse_challenge(&challenge).unwrap_err().field,
        "challenge.data.provider.href"
    );
    let challenge = json!({"type": "HTTP-Auth", "data": {"realm": huge, "scheme": "basic", "access": {"type": "literal", "value": "pw"}}});
    assert_eq!(
        parse_challenge(&challenge).unwrap_err().field,
        "challenge.data.realm"
    );
}

#[test]
fn many_distinct_variables_are_cheap() {
    let names: Vec<String> = (0..8_000).map(|i| format!("v{i}")).collect();
    let href = format!("https://x.example/{{?{}}}", names.join(","));
    let start = Instant::now();
    assert!(Template::parse(&href, Syntax::Uri).is_ok());
    assert!(ViewerToken::parse(&format!("{{?{}}}", names.join(","))).is_ok());
    let records = json!([names
        .iter()
        .map(|n| (n.clone(), json!("1")))
        .collect::<serde_json::Map<_, _>>()]);
    let audience = json!({"type": "records", "viewerToken": format!("{{?{}}}", names.join(",")), "data": {"records": records}});
    assert!(parse_audience(&audience).is_ok());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
