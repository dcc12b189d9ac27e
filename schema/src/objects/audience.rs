//! The audience object (spec, "Audience Specification") and the PUT rule of footnote 4.

use std::collections::HashSet;

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::ObjectError;
use super::json::{Members, error};
use super::records::{Records, parse_records};
use super::template::{Modifier, Operator, Syntax, parse};

/// Who may view a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// `"type": "octet-stream"`: opaque data for the fulfillment service. The spec lets its
    /// `viewerToken` be any string and does not check it.
    OctetStream {
        viewer_token: Option<String>,
        /// The base64 text as sent (standard alphabet; it decodes).
        data: String,
    },
    /// `"type": "records"`: one record of string fields per viewer.
    Records {
        viewer_token: Option<ViewerToken>,
        records: Records,
    },
}

impl Audience {
    /// The JSON `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Audience::OctetStream { .. } => "octet-stream",
            Audience::Records { .. } => "records",
        }
    }

    /// The `viewerToken` as written (both types keep its text), `None` when absent or `null`:
    /// what the placeholder href appends.
    pub fn viewer_token(&self) -> Option<&str> {
        match self {
            Audience::OctetStream { viewer_token, .. } => viewer_token.as_deref(),
            Audience::Records { viewer_token, .. } => {
                viewer_token.as_ref().map(ViewerToken::as_str)
            }
        }
    }

    /// The records, for a `records` audience.
    pub fn records(&self) -> Option<&Records> {
        match self {
            Audience::Records { records, .. } => Some(records),
            Audience::OctetStream { .. } => None,
        }
    }
}

/// The viewer-token template of a `records` audience: one RFC 6570 form-style query
/// expression such as `{?telephone,first_name}`.
///
/// Invariant: exactly one expression, operator `?`, at least one variable, no modifiers,
/// no variable twice, nothing outside the braces. (That every variable is a field of the
/// records is checked with the audience, which owns both.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerToken {
    source: String,
    variables: Vec<String>,
}

impl ViewerToken {
    /// Parses a viewer-token template; the error is a sentence for an [`ObjectError`].
    pub fn parse(text: &str) -> Result<Self, String> {
        const SHAPE: &str =
            "must be one form-style query expression such as {?telephone,first_name}";
        let parsed = parse(text, Syntax::Uri)?;
        let [expression] = parsed.expressions.as_slice() else {
            return Err(format!("{SHAPE}, with exactly one expression"));
        };
        if parsed.has_literals {
            return Err(format!("{SHAPE}, with nothing outside the braces"));
        }
        if expression.operator != Operator::Query {
            return Err(format!("{SHAPE}: the expression must start with `?`"));
        }
        let mut variables: Vec<String> = Vec::with_capacity(expression.vars.len());
        let mut seen = HashSet::new();
        for var in &expression.vars {
            if var.modifier != Modifier::None {
                return Err(format!(
                    "{SHAPE}: the variable {:?} may not have a `:n` or `*` modifier",
                    var.name
                ));
            }
            if !seen.insert(var.name.as_str()) {
                return Err(format!("names the variable {:?} twice", var.name));
            }
            variables.push(var.name.clone());
        }
        Ok(Self {
            source: text.to_owned(),
            variables,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }
}

/// Standard base64 alphabet; padding optional, since producers' encoders differ on it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses a (non-null) audience object.
pub fn parse_audience(value: &Value) -> Result<Audience, ObjectError> {
    let members = Members::new(value, "audience", &["type", "viewerToken", "data"])?;
    let type_name = members.required_str("type")?;
    let viewer_token = members.optional_str("viewerToken")?;
    match type_name {
        "octet-stream" => {
            let data = members.required_str("data")?;
            if data.is_empty() || BASE64.decode(data).is_err() {
                return Err(error(
                    "audience.data",
                    "must be a non-empty base64 string (RFC 4648 standard alphabet, no line breaks)",
                ));
            }
            Ok(Audience::OctetStream {
                viewer_token: viewer_token.map(str::to_owned),
                data: data.to_owned(),
            })
        }
        "records" => {
            let viewer_token = viewer_token
                .map(|text| {
                    ViewerToken::parse(text).map_err(|detail| error("audience.viewerToken", detail))
                })
                .transpose()?;
            let data = Members::new(members.required("data")?, "audience.data", &["records"])?;
            let records = parse_records(data.required("records")?, "audience.data.records")?;
            let variables = viewer_token
                .as_ref()
                .map_or(&[][..], ViewerToken::variables);
            if let Some(missing) = variables.iter().find(|name| !records.has_field(name)) {
                return Err(error(
                    "audience.viewerToken",
                    format!(
                        "names the variable {missing:?}, which is not a field of the audience records"
                    ),
                ));
            }
            Ok(Audience::Records {
                viewer_token,
                records,
            })
        }
        _ => Err(error(
            "audience.type",
            "must be \"octet-stream\" or \"records\"",
        )),
    }
}

/// Footnote 4: a PUT of the audience may not change its `type`, nor set a `viewerToken`
/// that differs from the stored one; setting it to `null` (or leaving it out) is allowed.
/// Returns the 409 detail when refused.
///
/// The type and token are compared as stored JSON, exactly: the placeholder href embeds the
/// token template as written, and only a POST can hand out a new placeholder. A PUT that
/// would add an audience where none is stored (or remove it, with `null`) changes the type
/// too, and is refused. `new` need not be valid: this check can run before parsing.
pub fn audience_put_conflict(stored: Option<&Value>, new: &Value) -> Option<String> {
    const HOW: &str = "change the audience type and viewerToken with POST /documents/{docId}, together with the \
                       challenge, which checks them and returns a new placeholder";
    let stored = stored.filter(|v| !v.is_null());
    let new = Some(new).filter(|v| !v.is_null());
    match (stored, new) {
        (Some(_), None) => return Some(format!("PUT may not remove the audience; {HOW}")),
        (None, Some(_)) => {
            return Some(format!(
                "PUT may not add an audience to a document that has none; {HOW}"
            ));
        }
        _ => {}
    }
    if member(stored, "type") != member(new, "type") {
        return Some(format!("PUT may not change the audience type; {HOW}"));
    }
    match member(new, "viewerToken") {
        Some(token) if Some(token) != member(stored, "viewerToken") => Some(format!(
            "PUT may not change the audience viewerToken, except to set it to null; {HOW}"
        )),
        _ => None,
    }
}

/// Member `name` of `object`, absent when missing or `null`.
pub(crate) fn member<'a>(object: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    object.and_then(|o| o.get(name)).filter(|m| !m.is_null())
}
