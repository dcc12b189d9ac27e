//! RFC 6570 URI templates, checked when a producer stores them.
//!
//! Two checks, both must pass:
//! 1. A strict parser of the RFC 6570 level-4 grammar, written here: it yields the
//!    expressions (operator, variable names, modifiers) that the audience and landing-page
//!    rules need, and it refuses what the expander would let through (a `{` inside an
//!    expression, the reserved operators `= , ! @ |`, varnames outside `ALPHA / DIGIT / _ /
//!    pct-encoded` with single dots between).
//! 2. `stduritemplate::expand` with no variables: the same crate expands the template at
//!    delivery and at the gateway, so a template it refuses is refused now, with a 422,
//!    rather than failing later for every viewer. It returns `Err`, never panics (DESIGN.md).
//!
//! Parsing is linear in the template's length, and templates are bounded by
//! [`MAX_TEMPLATE_LEN`], so hostile input costs little.

use std::collections::{HashMap, HashSet};

use super::expression::{check_varname, parse_expression};

/// Longest template accepted, in bytes. Generous for an email body, small enough that a
/// stored object stays cheap to expand for every audience record.
pub const MAX_TEMPLATE_LEN: usize = 64 * 1024;

/// Which characters may appear outside expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// The RFC 6570 `literals` rule: a URI (no space, `"`, `<`, `>`, `\`, `^`, `` ` ``,
    /// `|`, and `%` only as a percent-encoded octet). For hrefs and request bodies, so
    /// what is sent is a well-formed URI or form body by construction.
    Uri,
    /// Any character but `{`, `}` and control characters: one line of text (an email
    /// subject or address, a header value).
    Line,
    /// As [`Syntax::Line`], plus tab, carriage return and line feed (an email body).
    Text,
}

/// An expression's operator (RFC 6570 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `{var}`
    Simple,
    /// `{+var}`
    Reserved,
    /// `{#var}`
    Fragment,
    /// `{.var}`
    Label,
    /// `{/var}`
    Path,
    /// `{;var}`
    PathParameter,
    /// `{?var}`
    Query,
    /// `{&var}`
    QueryContinuation,
}

/// A value modifier (RFC 6570 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    None,
    /// `:n`, 1 ≤ n ≤ 9999.
    Prefix(u16),
    /// `*`
    Explode,
}

/// One variable of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarSpec {
    pub name: String,
    pub modifier: Modifier,
}

/// One `{…}` of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub operator: Operator,
    /// Never empty.
    pub vars: Vec<VarSpec>,
}

/// A template as parsed: its expressions and what surrounds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) expressions: Vec<Expression>,
    /// The text before the first expression (all of it when there is none).
    pub(crate) literal_prefix_len: usize,
    /// Whether any character stands outside the expressions.
    pub(crate) has_literals: bool,
}

/// A URI template that both the strict grammar and the expander accept.
///
/// Invariant: `source` parses under the [`Syntax`] it was built with, and `variables` are
/// its variable names, each once, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    variables: Vec<String>,
    literal_prefix_len: usize,
}

impl Template {
    /// Parses `source`; the error is a sentence fit for [`super::ObjectError::detail`].
    pub fn parse(source: &str, syntax: Syntax) -> Result<Self, String> {
        let parsed = parse(source, syntax)?;
        let mut seen = HashSet::new();
        let variables = (parsed.expressions.iter().flat_map(|e| &e.vars))
            .filter(|var| seen.insert(var.name.as_str()))
            .map(|var| var.name.clone())
            .collect();
        Ok(Self {
            source: source.to_owned(),
            variables,
            literal_prefix_len: parsed.literal_prefix_len,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, each once, in order of first appearance.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The text before the first expression: the part of a URL no variable can change.
    pub fn literal_prefix(&self) -> &str {
        &self.source[..self.literal_prefix_len]
    }
}

/// Whether `name` is an RFC 6570 variable name (`ALPHA / DIGIT / _ / pct-encoded`, single dots
/// between): what may stand in a template's braces, so what a viewer-token field may be called.
pub fn is_varname(name: &str) -> bool {
    check_varname(name).is_ok()
}

/// Parses `source` under the strict grammar, then asks the expander to accept it too.
pub(crate) fn parse(source: &str, syntax: Syntax) -> Result<Parsed, String> {
    if source.len() > MAX_TEMPLATE_LEN {
        return Err(format!("is longer than {MAX_TEMPLATE_LEN} bytes"));
    }
    let parsed = parse_strict(source, syntax)?;
    stduritemplate::expand(source, &HashMap::new())
        .map_err(|e| format!("is not a valid RFC 6570 URI template ({e})"))?;
    Ok(parsed)
}

fn parse_strict(source: &str, syntax: Syntax) -> Result<Parsed, String> {
    let mut expressions = Vec::new();
    let mut literal_prefix_len = None;
    let mut has_literals = false;
    let mut chars = source.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' => {
                literal_prefix_len.get_or_insert(at);
                let start = at + 1;
                let end = loop {
                    match chars.next() {
                        Some((end, '}')) => break end,
                        Some((_, '{')) | None => return Err(unclosed(source, at)),
                        Some(_) => {}
                    }
                };
                let expression = parse_expression(&source[start..end]).map_err(|e| {
                    format!(
                        "{e} in the expression at character {}",
                        position(source, at)
                    )
                })?;
                expressions.push(expression);
            }
            '}' => {
                return Err(format!(
                    "has a `}}` without a matching `{{` at character {}",
                    position(source, at)
                ));
            }
            '%' if syntax == Syntax::Uri => {
                let hex =
                    |next: Option<(usize, char)>| next.is_some_and(|(_, h)| h.is_ascii_hexdigit());
                if !(hex(chars.next()) && hex(chars.next())) {
                    return Err(format!(
                        "has a `%` that does not start a percent-encoded octet at character {}",
                        position(source, at)
                    ));
                }
                has_literals = true;
            }
            c if literal_allowed(c, syntax) => has_literals = true,
            c => {
                return Err(format!(
                    "has a character not allowed in {} at character {} (U+{:04X})",
                    match syntax {
                        Syntax::Uri => "a URI template",
                        Syntax::Line => "a one-line template",
                        Syntax::Text => "a text template",
                    },
                    position(source, at),
                    u32::from(c)
                ));
            }
        }
    }
    Ok(Parsed {
        expressions,
        literal_prefix_len: literal_prefix_len.unwrap_or(source.len()),
        has_literals,
    })
}

/// 1-based character position of byte offset `at`, for error messages.
fn position(source: &str, at: usize) -> usize {
    source[..at].chars().count() + 1
}

fn unclosed(source: &str, at: usize) -> String {
    format!(
        "has an expression opened at character {} that is never closed",
        position(source, at)
    )
}

/// RFC 6570 §2.1 `literals`, or the looser text rules.
///
/// The RFC's ABNF leaves out the apostrophe (`%x26 / %x28-3B`), a sub-delim RFC 3986 allows
/// anywhere in a URI; the published test suite takes it as a literal (`'{var}'` →
/// `'value'`), and so does this parser.
fn literal_allowed(c: char, syntax: Syntax) -> bool {
    match syntax {
        Syntax::Uri => match c {
            '!'
            | '#'
            | '$'
            | '&'
            | '\''
            | '('..=';'
            | '='
            | '?'..='['
            | ']'
            | '_'
            | 'a'..='z'
            | '~' => true,
            _ => is_ucschar(c) || is_iprivate(c),
        },
        Syntax::Line => !c.is_control(),
        Syntax::Text => !c.is_control() || matches!(c, '\t' | '\r' | '\n'),
    }
}

fn is_ucschar(c: char) -> bool {
    matches!(u32::from(c),
        0xA0..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFEF | 0x10000..=0x1FFFD | 0x20000..=0x2FFFD
        | 0x30000..=0x3FFFD | 0x40000..=0x4FFFD | 0x50000..=0x5FFFD | 0x60000..=0x6FFFD
        | 0x70000..=0x7FFFD | 0x80000..=0x8FFFD | 0x90000..=0x9FFFD | 0xA0000..=0xAFFFD
        | 0xB0000..=0xBFFFD | 0xC0000..=0xCFFFD | 0xD0000..=0xDFFFD | 0xE1000..=0xEFFFD)
}

fn is_iprivate(c: char) -> bool {
    matches!(u32::from(c), 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}
