#![allow(clippy::unwrap_used)]

use super::ViewerToken;
use super::template::{MAX_TEMPLATE_LEN, Syntax, Template};

fn ok(text: &str) -> Template {
    Template::parse(text, Syntax::Uri).unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
}

#[test]
fn level_4_templates_are_accepted() {
    for text in [
        "",
        "https://x.example/",
        "{var}",
        "{+path}/here",
        "{#frag}",
        "X{.list*}",
        "{/path:3,x}",
        "{;keys*}",
        "{?x,y}{&z}",
        "{a.b_c1}",
        "{a%20b}",
        "https://x.example/%C3%A9t%C3%A9{?q}",
        "https://x.example/été/{x}",
        "{x:9999}",
        "'{var}'", // the apostrophe: see `literal_allowed`
    ] {
        ok(text);
    }
}

#[test]
fn variables_are_listed_once_in_order() {
    let template = ok("https://x.example/{b}/{a,b}{?c*,a:2}");
    assert_eq!(template.variables(), ["b", "a", "c"]);
    assert_eq!(template.literal_prefix(), "https://x.example/");
    assert_eq!(
        ok("https://x.example/").literal_prefix(),
        "https://x.example/"
    );
}

#[test]
fn malformed_templates_are_refused_cleanly() {
    for text in [
        "{",
        "}",
        "{}",
        "{?}",
        "https://x/{a",
        "https://x/a}",
        "{a{b}",
        "{a}}",
        "{@a}",
        "{=a}",
        "{,a}",
        "{a,}",
        "{a,,b}",
        "{!a}",
        "{|a}",
        "{a:0}",
        "{a:01}",
        "{a:10000}",
        "{a:}",
        "{a:x}",
        "{a*:3}",
        "{a:3*}",
        "{a**}",
        "{.a.}",
        "{a..b}",
        "{.a}{..b}",
        "{a-b}",
        "{a b}",
        "{a%2}",
        "{a%zz}",
        "{é}",
        "{?a;b}",
        "{$}",
    ] {
        let error = Template::parse(text, Syntax::Uri).unwrap_err();
        assert!(!error.is_empty(), "{text:?}");
    }
}

#[test]
fn viewer_token_hostile_shapes_are_refused() {
    for text in [
        "{",
        "}",
        "{?}",
        "{?a,a}",
        "{?a:3}",
        "{?a*}",
        "{+a}",
        "{a}",
        "https://x/{a",
        "{?a}{?b}",
        " {?a}",
        "{?a} ",
        "{?a,}",
    ] {
        assert!(ViewerToken::parse(text).is_err(), "{text:?}");
    }
    assert_eq!(
        ViewerToken::parse("{?a,b.c,d_1}").unwrap().variables(),
        ["a", "b.c", "d_1"]
    );
}

#[test]
fn uri_syntax_refuses_what_a_uri_cannot_hold() {
    for text in [
        "a b", "a\"b", "a<b", "a>b", "a\\b", "a^b", "a`b", "a|b", "100%", "%4", "%zz", "a\nb",
        "a\u{7f}",
    ] {
        assert!(Template::parse(text, Syntax::Uri).is_err(), "{text:?}");
    }
}

#[test]
fn line_and_text_syntax_allow_prose() {
    let subject = "Your statement, {first_name} — 100% \"ready\" <now>";
    assert!(Template::parse(subject, Syntax::Line).is_ok());
    assert!(Template::parse("a\r\nb", Syntax::Line).is_err());
    assert!(Template::parse("Hello {first_name},\r\n\tbye\n", Syntax::Text).is_ok());
    assert!(Template::parse("a\u{0}b", Syntax::Text).is_err());
    assert!(Template::parse("a { b", Syntax::Text).is_err());
}

#[test]
fn errors_name_the_character_position() {
    let error = Template::parse("https://x/é{a", Syntax::Uri).unwrap_err();
    assert!(error.contains("character 12"), "{error}");
}

#[test]
fn overlong_templates_are_refused() {
    let text = format!("https://x.example/{}", "a".repeat(MAX_TEMPLATE_LEN));
    assert!(
        Template::parse(&text, Syntax::Uri)
            .unwrap_err()
            .contains("longer")
    );
}
