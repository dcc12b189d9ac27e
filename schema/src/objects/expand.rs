//! Expanding a stored template with one viewer's string values: the one expansion the gateway
//! (landing pages, document requests) and delivery (fulfillment templates) call.
//!
//! `stduritemplate` does the RFC 6570 work; it passes the published uritemplate-test suite
//! (`schema/tests/rfc6570.rs`). One correction is made here. In reserved (`{+x}`) and fragment
//! (`{#x}`) expansion, `std-uritemplate` 2.0.13 copies every ASCII character of a value other
//! than `%` and space as it is — `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, CR, LF and
//! the other controls — and after a `%` that starts no pct-encoded triplet it copies even
//! spaces. RFC 6570 §3.2.3 lets only unreserved and reserved characters and pct-encoded
//! triplets through; everything else must be pct-encoded. Left alone, a record value could
//! break out of a URL, a form body or a header line (`{+name}` with `"x\r\nBcc: …"`). So the
//! values of `+` and `#` expressions are made safe first: the prefix modifier cuts the value
//! as the RFC says (in characters of the value as given), then every character the RFC would
//! not copy is pct-encoded, and the expander sees only characters it handles correctly.
//!
//! Expressions expand independently (RFC 6570 §3.2.1), so the template is expanded one
//! expression at a time; that is what lets each `+`/`#` expression get its own safe values,
//! and what bounds the output: past [`MAX_EXPANSION_LEN`] bytes expansion stops with an error
//! instead of building a huge string (`{x}{x}{x}…` over a long value).

use std::collections::HashMap;

use stduritemplate::Value;

use super::expression::parse_expression;
use super::template::{Modifier, Operator, Template};

/// Longest expansion produced, in bytes: far beyond any URL, form body or email a template
/// should make, small enough that a hostile template and record cost little.
pub const MAX_EXPANSION_LEN: usize = 1 << 20;

/// A variable's value: a string, or a list of strings (RFC 6570 §2.3), e.g. one item per
/// audience record in a batch delivery.
#[derive(Debug, Clone, Copy)]
pub enum Var<'a> {
    Text(&'a str),
    List(&'a [String]),
}

impl Template {
    /// Expands the template with `values` (name, value), as RFC 6570 does with string
    /// variables: a name with no value is undefined (it expands to nothing), and of a name
    /// given twice the first value counts. Never panics; the error is a sentence for a log or
    /// a problem detail (it never repeats a value), returned when the expansion would exceed
    /// [`MAX_EXPANSION_LEN`].
    pub fn expand(&self, values: &[(&str, &str)]) -> Result<String, String> {
        let vars: Vec<(&str, Var<'_>)> = values
            .iter()
            .map(|(name, value)| (*name, Var::Text(value)))
            .collect();
        self.expand_vars(&vars)
    }

    /// [`expand`](Self::expand) with list values too. A list is expanded as RFC 6570 says
    /// (`{x}` joins the items with commas, `{?x*}` repeats `x=`); an empty list is undefined;
    /// a prefix modifier (`{x:3}`) applies to each item of a list.
    pub fn expand_vars(&self, values: &[(&str, Var<'_>)]) -> Result<String, String> {
        let mut bound: HashMap<&str, Var<'_>> = HashMap::with_capacity(values.len());
        for (name, value) in values {
            if matches!(value, Var::List(items) if items.is_empty()) {
                continue;
            }
            bound.entry(name).or_insert(*value);
        }
        let mut out = String::with_capacity(self.as_str().len());
        let mut rest = self.as_str();
        while let Some(open) = rest.find('{') {
            literal(&rest[..open], &mut out)?;
            let close = rest[open..]
                .find('}')
                .map(|at| open + at)
                .ok_or("the template has an unclosed expression")?;
            expression(&rest[open + 1..close], &bound, &mut out)?;
            check_len(&out)?;
            rest = &rest[close + 1..];
        }
        literal(rest, &mut out)?;
        check_len(&out)?;
        Ok(out)
    }
}

fn check_len(out: &str) -> Result<(), String> {
    if out.len() > MAX_EXPANSION_LEN {
        return Err(format!(
            "the expansion is longer than {MAX_EXPANSION_LEN} bytes"
        ));
    }
    Ok(())
}

/// Text between expressions: copied, or pct-encoded where a URI cannot hold it (§3.1).
fn literal(text: &str, out: &mut String) -> Result<(), String> {
    if !text.is_empty() {
        out.push_str(&run(text, &HashMap::new())?);
    }
    Ok(())
}

/// One `{…}` (the text between the braces).
fn expression(body: &str, bound: &HashMap<&str, Var<'_>>, out: &mut String) -> Result<(), String> {
    let parsed = parse_expression(body).map_err(|e| format!("an expression {e}"))?;
    let mut substitutions = HashMap::new();
    let text = match parsed.operator {
        Operator::Reserved | Operator::Fragment => {
            // Values renamed `v0`, `v1`, … so that each occurrence carries its own cut value
            // (`{+x,x:2}`); `+` and `#` never write the names out.
            let mut names = Vec::with_capacity(parsed.vars.len());
            for (index, var) in parsed.vars.iter().enumerate() {
                let Some(value) = bound.get(var.name.as_str()) else {
                    continue;
                };
                let safe = |text: &str| {
                    let cut = match var.modifier {
                        Modifier::Prefix(n) => prefix(text, usize::from(n)),
                        Modifier::None | Modifier::Explode => text,
                    };
                    Value::String(reserved_safe(cut))
                };
                let alias = format!("v{index}");
                let value = match value {
                    Var::Text(text) => safe(text),
                    Var::List(items) => Value::List(items.iter().map(|item| safe(item)).collect()),
                };
                substitutions.insert(alias.clone(), value);
                names.push(if matches!(var.modifier, Modifier::Explode) {
                    format!("{alias}*")
                } else {
                    alias
                });
            }
            let operator = if parsed.operator == Operator::Reserved {
                '+'
            } else {
                '#'
            };
            format!("{{{operator}{}}}", names.join(","))
        }
        _ => {
            for var in &parsed.vars {
                let value = match bound.get(var.name.as_str()) {
                    Some(Var::Text(text)) => Value::String((*text).to_owned()),
                    Some(Var::List(items)) => {
                        let cut = |item: &String| match var.modifier {
                            Modifier::Prefix(n) => prefix(item, usize::from(n)).to_owned(),
                            Modifier::None | Modifier::Explode => item.clone(),
                        };
                        Value::List(items.iter().map(|item| Value::String(cut(item))).collect())
                    }
                    None => continue,
                };
                substitutions.insert(var.name.clone(), value);
            }
            let lists_cut = parsed.vars.iter().any(|var| {
                matches!(var.modifier, Modifier::Prefix(_))
                    && matches!(bound.get(var.name.as_str()), Some(Var::List(_)))
            });
            if lists_cut {
                // The items were cut here; the expander refuses a prefix on a list.
                format!("{{{}}}", strip_prefixes(body))
            } else {
                format!("{{{body}}}")
            }
        }
    };
    if text == "{+}" || text == "{#}" {
        return Ok(()); // every variable undefined: the expression expands to nothing
    }
    out.push_str(&run(&text, &substitutions)?);
    Ok(())
}

/// `body` (an expression) without its `:n` prefix modifiers.
fn strip_prefixes(body: &str) -> String {
    body.split(',')
        .map(|part| part.split(':').next().unwrap_or(part))
        .collect::<Vec<_>>()
        .join(",")
}

fn run(template: &str, substitutions: &HashMap<String, Value>) -> Result<String, String> {
    stduritemplate::expand(template, substitutions)
        .map_err(|e| format!("the template could not be expanded ({e})"))
}

/// The first `n` characters of `value` (RFC 6570 §2.4.1 counts characters, not bytes).
fn prefix(value: &str, n: usize) -> &str {
    value
        .char_indices()
        .nth(n)
        .map_or(value, |(at, _)| &value[..at])
}

/// `value` with every ASCII character that reserved expansion may not copy (anything but
/// unreserved, reserved and a `%` that starts a pct-encoded triplet) pct-encoded. Other
/// characters are left to the expander, which pct-encodes them all.
fn reserved_safe(value: &str) -> String {
    let bytes = value.as_bytes();
    let hex_at = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
    let mut safe = String::with_capacity(value.len());
    for (at, c) in value.char_indices() {
        let copy = match c {
            '%' => hex_at(at + 1) && hex_at(at + 2),
            c if !c.is_ascii() => true,
            c => {
                c.is_ascii_alphanumeric()
                    || "-._~".contains(c)
                    || ":/?#[]@".contains(c)
                    || "!$&'()*+,;=".contains(c)
            }
        };
        if copy {
            safe.push(c);
        } else {
            // Only ASCII reaches here: one byte.
            safe.push_str(&format!("%{:02X}", u32::from(c)));
        }
    }
    safe
}
