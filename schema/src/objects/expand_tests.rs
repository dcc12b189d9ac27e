//! `Template::expand`: RFC 6570 with string values, the reserved-expansion correction, and
//! hostile values that must neither panic nor break out of a URI.
#![allow(clippy::unwrap_used)]

use super::expand::{MAX_EXPANSION_LEN, Var};
use super::template::{Syntax, Template};

fn uri(text: &str) -> Template {
    Template::parse(text, Syntax::Uri).unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
}

fn expand(text: &str, values: &[(&str, &str)]) -> String {
    uri(text).expand(values).unwrap()
}

/// Whether `text` is made only of what a URI may hold: unreserved and reserved characters and
/// pct-encoded triplets.
fn is_uri_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, &b)| match b {
        b'%' => {
            bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
        }
        b => b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b),
    })
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            out.push(u8::from_str_radix(&text[at + 1..at + 3], 16).unwrap());
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    out
}

#[test]
fn values_are_percent_encoded() {
    let values = [("first_name", "Zoë"), ("telephone", "+1 555/0100&x=y")];
    assert_eq!(
        expand("https://gw.example/p{?telephone,first_name}", &values),
        "https://gw.example/p?telephone=%2B1%20555%2F0100%26x%3Dy&first_name=Zo%C3%AB"
    );
    assert_eq!(expand("{first_name}", &values), "Zo%C3%AB");
    assert_eq!(expand("{/first_name}", &values), "/Zo%C3%AB");
    assert_eq!(expand("{;first_name}", &values), ";first_name=Zo%C3%AB");
}

#[test]
fn reserved_and_fragment_keep_reserved_characters_and_triplets() {
    let values = [("path", "/foo/bar?x=1&y=%2F"), ("name", "a b")];
    assert_eq!(expand("{+path}", &values), "/foo/bar?x=1&y=%2F");
    assert_eq!(expand("{#path}", &values), "#/foo/bar?x=1&y=%2F");
    assert_eq!(expand("{+name}", &values), "a%20b");
    assert_eq!(
        expand("{path}", &values),
        "%2Ffoo%2Fbar%3Fx%3D1%26y%3D%252F"
    );
    assert_eq!(
        expand("{+gateway}/l/x", &[("gateway", "h.example:8443")]),
        "h.example:8443/l/x"
    );
}

#[test]
fn reserved_expansion_encodes_what_a_uri_cannot_hold() {
    // std-uritemplate 2.0.13 alone copies these as they are (see the `expand` module).
    for (value, expected) in [
        ("% x", "%25%20x"),
        ("a\"b<c>", "a%22b%3Cc%3E"),
        (
            "x\r\nBcc: evil@example.com",
            "x%0D%0ABcc:%20evil@example.com",
        ),
        ("{y}|`^\\", "%7By%7D%7C%60%5E%5C"),
        ("%é a", "%25%C3%A9%20a"),
        ("100%", "100%25"),
        ("%4%41", "%254%41"),
    ] {
        assert_eq!(expand("{+x}", &[("x", value)]), expected, "{value:?}");
        assert_eq!(
            expand("{#x}", &[("x", value)]),
            format!("#{expected}"),
            "{value:?}"
        );
    }
}

#[test]
fn prefixes_count_characters_not_bytes() {
    let zoe = [
        ("first_name", "Zoë"),
        ("greek", "ΑΒΓ"),
        ("emoji", "\u{1F600}x"),
    ];
    assert_eq!(expand("{first_name:2}", &zoe), "Zo");
    assert_eq!(expand("{first_name:3}", &zoe), "Zo%C3%AB");
    assert_eq!(expand("{first_name:30}", &zoe), "Zo%C3%AB");
    assert_eq!(expand("{greek:1}", &zoe), "%CE%91");
    assert_eq!(expand("{+greek:1}", &zoe), "%CE%91");
    assert_eq!(expand("{#greek:2}", &zoe), "#%CE%91%CE%92");
    assert_eq!(expand("{?greek:1}", &zoe), "?greek=%CE%91");
    assert_eq!(expand("{emoji:1}", &zoe), "%F0%9F%98%80");
    // Cut first, then encode: a space inside the prefix is one character.
    assert_eq!(expand("{+x:2}", &[("x", "a b")]), "a%20");
    // Each occurrence keeps its own modifier.
    assert_eq!(
        expand("{+greek,greek:1}", &zoe),
        "%CE%91%CE%92%CE%93,%CE%91"
    );
}

#[test]
fn undefined_and_empty_values_follow_the_rfc() {
    let values = [("empty", ""), ("x", "1024")];
    assert_eq!(expand("X{undef}Y", &values), "XY");
    assert_eq!(expand("{+undef}{#undef}", &values), "");
    assert_eq!(expand("{?undef,x}", &values), "?x=1024");
    assert_eq!(expand("{?empty}", &values), "?empty=");
    assert_eq!(expand("{;empty}", &values), ";empty");
    assert_eq!(expand("{#empty}", &values), "#");
    assert_eq!(expand("{+undef,x}", &values), "1024");
    assert_eq!(
        expand("{x,y}", &[("x", "a"), ("x", "b")]),
        "a",
        "first wins"
    );
}

#[test]
fn literals_are_copied_or_encoded() {
    assert_eq!(
        expand("https://x.example/été/{x}", &[("x", "1")]),
        "https://x.example/%C3%A9t%C3%A9/1"
    );
    let text = Template::parse("Hello {first_name}, see {+link}", Syntax::Text).unwrap();
    assert_eq!(
        text.expand(&[("first_name", "Ann"), ("link", "https://gw.example/l/abc")])
            .unwrap(),
        "Hello Ann, see https://gw.example/l/abc"
    );
}

#[test]
fn the_output_is_bounded() {
    let long = "é".repeat(200_000); // 1.2 MB once encoded
    let error = uri("{x}").expand(&[("x", &long)]).unwrap_err();
    assert!(error.contains("longer than"), "{error}");
    assert!(!error.contains('é'), "errors never repeat a value");
    let many = "{x}".repeat(10_000);
    assert!(uri(&many).expand(&[("x", &"a".repeat(1000))]).is_err());
    let fits = "a".repeat(MAX_EXPANSION_LEN / 3 - 1);
    assert_eq!(uri("{x}").expand(&[("x", &fits)]).unwrap(), fits);
}

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

/// Audience-record and landing-page-like hostile values: control characters, `%` sequences
/// whole and broken, braces, quotes, multibyte and astral characters, very long runs.
#[test]
fn hostile_values_never_panic_nor_break_out_of_a_uri() {
    const PIECES: &[&str] = &[
        "%",
        "%2",
        "%2F",
        "%zz",
        "%%",
        "{",
        "}",
        "{x}",
        "\"",
        "'",
        "<",
        ">",
        "\\",
        "^",
        "`",
        "|",
        " ",
        "\t",
        "\r\n",
        "\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "é",
        "ë",
        "Ω",
        "\u{1F600}",
        "\u{FEFF}",
        "\u{E000}",
        "\u{10FFFD}",
        "a",
        "Z",
        "0",
        "-",
        ".",
        "_",
        "~",
        ":",
        "/",
        "?",
        "#",
        "[",
        "]",
        "@",
        "!",
        "$",
        "&",
        "(",
        ")",
        "*",
        "+",
        ",",
        ";",
        "=",
    ];
    let templates: Vec<Template> = [
        "https://x.example/{a}{+b}{#c}{.a}{/b}{;c}{?a,b}{&c}",
        "{a:1}{+b:2}{#c:3}{?a:4,b:5,c:6}",
        "{+a,b,c}{#c,b,a}{a*}{+b*}",
        "https://x.example{/a*}{?c*}",
    ]
    .iter()
    .map(|t| uri(t))
    .collect();
    let mut rng = Rng(0x5EA1_9057);
    for round in 0..3000 {
        let mut value = || {
            let len = if round % 100 == 0 {
                4000
            } else {
                rng.below(12)
            };
            (0..len)
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect::<String>()
        };
        let (a, b, c) = (value(), value(), value());
        let values = [("a", a.as_str()), ("b", b.as_str()), ("c", c.as_str())];
        for template in &templates {
            let out = template.expand(&values).unwrap();
            assert!(
                is_uri_text(&out),
                "{:?} with {values:?} gave {out:?}",
                template.as_str()
            );
        }
        // Simple expansion is reversible: the value comes back byte for byte.
        let simple = uri("{a}").expand(&values).unwrap();
        assert_eq!(percent_decode(&simple), a.as_bytes());
    }
}

#[test]
fn long_values_and_many_names_expand_quickly() {
    let started = std::time::Instant::now();
    let value = "%{é}\u{0}".repeat(50_000);
    for text in ["{x}", "{+x}", "{#x:9999}", "{?x,y,z}"] {
        let out = uri(text).expand(&[("x", &value), ("y", "1")]);
        if let Ok(out) = out {
            assert!(is_uri_text(&out));
        }
    }
    let names: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("n{i}"), format!("v{i}")))
        .collect();
    let values: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        uri("{?n9999,n0}").expand(&values).unwrap(),
        "?n9999=v9999&n0=v0"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn list_values_expand_as_rfc_6570_lists() {
    let items = ["a b".to_owned(), "c/d".to_owned()];
    let expand = |source: &str, value: Var<'_>| {
        Template::parse(source, Syntax::Line)
            .unwrap()
            .expand_vars(&[("x", value), ("y", Var::Text("1"))])
            .unwrap()
    };
    assert_eq!(expand("{x}", Var::List(&items)), "a%20b,c%2Fd");
    assert_eq!(expand("{?x*}", Var::List(&items)), "?x=a%20b&x=c%2Fd");
    assert_eq!(expand("{?x,y}", Var::List(&items)), "?x=a%20b,c%2Fd&y=1");
    assert_eq!(expand("{+x}", Var::List(&items)), "a%20b,c/d");
    assert_eq!(expand("{x:1}", Var::List(&items)), "a,c");
    assert_eq!(expand("{+x:1,y}", Var::List(&items)), "a,c,1");
    // An empty list is undefined.
    assert_eq!(expand("{?x,y}", Var::List(&[])), "?y=1");
}
