//! Whose viewer tokens go into sealed links: every audience record, or the entries of a
//! `{"viewers": […]}` body, each checked against the document's audience.
//!
//! Problem details never repeat a value the producer sent (values are personal data); they
//! name the entry and field at fault (`viewers[2].telephone`).

use std::collections::{BTreeMap, HashMap};

use schema::objects::{Audience, Records, Syntax, Template, is_varname};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most entries a `viewers` body may hold.
pub const MAX_VIEWERS: usize = 10_000;

/// One viewer's token: the fields and values to seal, in order, and the audience record it
/// names (for a `records` audience with a viewer token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub fields: Vec<(String, String)>,
    pub record: Option<usize>,
}

/// What a viewer token is made of, for one document's audience.
enum Shape<'a> {
    /// A `records` audience with a viewer token: exactly its variables, the values of one record.
    Records {
        variables: &'a [String],
        records: &'a Records,
        /// Each record's token values → the first record with them, so matching 10,000
        /// entries against as many records stays linear.
        index: HashMap<Vec<&'a str>, usize>,
    },
    /// An `octet-stream` audience: any fields (the spec leaves its token unchecked), sealed in
    /// the order of the token template's variables, then by name.
    Open { order: Vec<String> },
    /// No audience, or a `records` one whose viewer token is null: the token is empty.
    Empty,
}

impl<'a> Shape<'a> {
    fn of(audience: Option<&'a Audience>) -> Self {
        match audience {
            Some(Audience::Records {
                viewer_token: Some(token),
                records,
            }) => {
                let variables = token.variables();
                let mut index = HashMap::with_capacity(records.len());
                for (at, record) in records.iter().enumerate() {
                    let values = variables.iter().map(|name| record.get(name).unwrap_or(""));
                    index.entry(values.collect()).or_insert(at);
                }
                Shape::Records {
                    variables,
                    records,
                    index,
                }
            }
            Some(Audience::OctetStream { viewer_token, .. }) => Shape::Open {
                order: viewer_token
                    .as_deref()
                    .and_then(|text| Template::parse(text, Syntax::Uri).ok())
                    .map(|template| template.variables().to_vec())
                    .unwrap_or_default(),
            },
            Some(Audience::Records {
                viewer_token: None, ..
            })
            | None => Shape::Empty,
        }
    }
}

/// Without a body: one token per record of a `records` audience with a viewer token, in
/// record order; otherwise one empty token.
pub fn every_record(audience: Option<&Audience>) -> Vec<Token> {
    match Shape::of(audience) {
        Shape::Records {
            variables, records, ..
        } => records
            .iter()
            .enumerate()
            .map(|(index, record)| Token {
                fields: variables
                    .iter()
                    .map(|name| (name.clone(), record.get(name).unwrap_or("").to_owned()))
                    .collect(),
                record: Some(index),
            })
            .collect(),
        Shape::Open { .. } | Shape::Empty => vec![Token {
            fields: Vec::new(),
            record: None,
        }],
    }
}

/// The tokens of a `{"viewers": [{"name": "value", …}, …]}` body (a JSON object), one per
/// entry, in order (422 naming the member at fault).
pub fn given(audience: Option<&Audience>, body: &Value) -> Result<Vec<Token>, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
    if let Some(other) = object.keys().find(|name| name.as_str() != "viewers") {
        return Err(ApiError::invalid(
            &member_path("", other),
            "is not a member of a links request (only `viewers`)",
        ));
    }
    let entries = object
        .get("viewers")
        .ok_or_else(|| ApiError::invalid("viewers", "is required"))?
        .as_array()
        .ok_or_else(|| ApiError::invalid("viewers", "must be an array of objects"))?;
    if entries.len() > MAX_VIEWERS {
        return Err(ApiError::invalid(
            "viewers",
            format!("may hold at most {MAX_VIEWERS} entries; send several requests"),
        ));
    }
    let shape = Shape::of(audience);
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = format!("viewers[{index}]");
            let fields = entry.as_object().ok_or_else(|| {
                ApiError::invalid(&at, "must be an object of viewer-token fields")
            })?;
            let fields = strings(fields, &at)?;
            token(&shape, fields, &at)
        })
        .collect()
}

/// The entry's fields, every value a string.
fn strings<'v>(
    fields: &'v Map<String, Value>,
    at: &str,
) -> Result<BTreeMap<&'v str, &'v str>, ApiError> {
    fields
        .iter()
        .map(|(name, value)| match value.as_str() {
            Some(text) => Ok((name.as_str(), text)),
            None => Err(ApiError::invalid(
                &member_path(at, name),
                "must be a string: viewer-token values are strings",
            )),
        })
        .collect()
}

fn token(shape: &Shape<'_>, fields: BTreeMap<&str, &str>, at: &str) -> Result<Token, ApiError> {
    match shape {
        Shape::Records {
            variables, index, ..
        } => {
            if let Some(extra) = fields
                .keys()
                .find(|name| !variables.iter().any(|v| v == *name))
            {
                return Err(ApiError::invalid(
                    &member_path(at, extra),
                    "is not a variable of the audience's viewerToken",
                ));
            }
            let mut wanted = Vec::with_capacity(variables.len());
            for name in *variables {
                let value = fields.get(name.as_str()).ok_or_else(|| {
                    ApiError::invalid(
                        &member_path(at, name),
                        "is required: a viewerToken variable",
                    )
                })?;
                wanted.push((name.as_str(), *value));
            }
            let values: Vec<&str> = wanted.iter().map(|(_, value)| *value).collect();
            let record = *index
                .get(&values)
                .ok_or_else(|| ApiError::invalid(at, "matches no audience record"))?;
            Ok(Token {
                fields: wanted
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
                record: Some(record),
            })
        }
        Shape::Open { order } => {
            if let Some(bad) = fields.keys().find(|name| !is_varname(name)) {
                return Err(ApiError::invalid(
                    &member_path(at, bad),
                    "is not an RFC 6570 variable name (letters, digits, `_`, %XX, single dots)",
                ));
            }
            let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(order.len());
            let mut fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            // Sorted by name already (a BTreeMap); a stable sort keeps that among equals.
            fields.sort_by_key(|(name, _)| rank(name));
            Ok(Token {
                fields,
                record: None,
            })
        }
        Shape::Empty => match fields.keys().next() {
            Some(name) => Err(ApiError::invalid(
                &member_path(at, name),
                "the audience has no viewerToken, so an entry takes no fields: send {}",
            )),
            None => Ok(Token {
                fields: Vec::new(),
                record: None,
            }),
        },
    }
}

/// `at.name` for a plain name, `at["name"]` (JSON-quoted, cut short) for any other.
fn member_path(at: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match (plain, at.is_empty()) {
        (true, true) => name.to_owned(),
        (true, false) => format!("{at}.{name}"),
        (false, _) => {
            let short: String = name.chars().take(64).collect();
            format!("{at}[{}]", Value::String(short))
        }
    }
}
