#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::parse_landingpage;

fn page(href: &str) -> Value {
    json!({"type": "url", "href": href})
}

fn refused(value: Value) -> String {
    parse_landingpage(&value).unwrap_err().field
}

#[test]
fn the_spec_example_parses_and_exposes_its_variables() {
    let page = parse_landingpage(&page("https://{location}{?audienceFields}")).unwrap();
    assert_eq!(page.variables(), ["location", "audienceFields"]);
    let page = parse_landingpage(
        &json!({"type": "url", "href": "https://pages.example.com/welcome{?first_name,telephone}"}),
    )
    .unwrap();
    assert_eq!(page.variables(), ["first_name", "telephone"]);
    assert!(
        parse_landingpage(&self::page("https://pages.example.com/"))
            .unwrap()
            .variables()
            .is_empty()
    );
}

#[test]
fn type_must_be_url() {
    assert_eq!(
        refused(json!({"type": "html", "href": "https://x.example/"})),
        "landingpage.type"
    );
    assert_eq!(
        refused(json!({"href": "https://x.example/"})),
        "landingpage.type"
    );
}

#[test]
fn unknown_members_are_refused_by_name() {
    assert_eq!(
        refused(json!({"type": "url", "href": "https://x.example/", "height": 300})),
        "landingpage.height"
    );
    assert_eq!(
        refused(json!({"type": "url", "data": "https://x.example/"})),
        "landingpage.data"
    );
}

#[test]
fn href_must_be_a_valid_template() {
    for href in [
        "https://x.example/{a",
        "https://x.example/{}",
        "https://x.example/{@a}",
        "https://x.example/a b",
        "https://x.example/\"q\"",
    ] {
        assert_eq!(refused(page(href)), "landingpage.href", "{href}");
    }
    assert_eq!(
        refused(json!({"type": "url", "href": ["https://x.example/"]})),
        "landingpage.href"
    );
}

#[test]
fn href_scheme_is_https_written_out() {
    for href in [
        "http://x.example/",
        "{scheme}://x.example/",
        "{+url}",
        "//x.example/",
        "javascript:alert(1)",
        "https:x.example",
        "https:///path",
    ] {
        assert_eq!(refused(page(href)), "landingpage.href", "{href}");
    }
    assert!(parse_landingpage(&page("HTTPS://x.example/")).is_ok());
}

#[test]
fn href_carries_no_credentials() {
    assert_eq!(
        refused(page("https://user:pw@x.example/")),
        "landingpage.href"
    );
    assert_eq!(
        refused(page("https://trusted.example@{host}/")),
        "landingpage.href"
    );
}
