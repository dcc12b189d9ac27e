//! The fulfillment object: the formats DESIGN.md fixes where the spec left them open
//! ("Object formats the spec left open").
//!
//! Every template is checked now (RFC 6570, see [`super::template`]); its variables are
//! not, because they name the deliver request's form fields, which only exist at delivery.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ObjectError;
use super::json::{Members, error, kind, object, string};
use super::template::{Syntax, Template};
use super::tokens::{is_email_address, is_media_type, is_tchar};
use super::url::{Schemes, check_template_prefix};

/// The default `contentType` of an HTTP fulfillment.
pub const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

/// How delivery reaches the fulfillment service. (No fulfillment is `null`, i.e. `None`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfillment {
    /// `"type": "http"`: a filled template sent with POST, per record or in one batch.
    Http {
        /// `http(s)://` written out; the host may come from a variable.
        href: Template,
        method: Method,
        /// Header name (an HTTP token, unique ignoring case, not one the sender owns such
        /// as `Content-Type` or `Host`) → one-line printable-ASCII template.
        headers: BTreeMap<String, Template>,
        /// A media type; defaults to [`FORM_URLENCODED`].
        content_type: String,
        /// Strict URI syntax: no literal `{`, `}`, `"` or space, so a form body stays one
        /// by construction and values are always percent-encoded into it. Defaults to empty.
        body: Template,
        /// One request for all records (`records` expanded as a list) instead of one each.
        batch: bool,
    },
    /// `"type": "email"`: one message per record over SMTP.
    Email {
        /// A plain ASCII address, `local@domain`.
        from: String,
        /// One-line template, e.g. `{email_address}`.
        to: Template,
        /// One-line template.
        subject: Template,
        /// Multi-line text template.
        body: Template,
    },
    /// `"type": "xmlrpc"`: one call per record.
    XmlRpc {
        href: Template,
        /// XML-RPC method name: letters, digits, `_`, `.`, `:`, `/`.
        method_name: String,
        /// String parameters, as multi-line text templates.
        params: Vec<Template>,
    },
}

/// The HTTP method of an HTTP fulfillment: only POST, as the spec says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
}

/// Headers the HTTP client sets itself; a template may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "expect",
    "host",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Parses a (non-null) fulfillment object.
pub fn parse_fulfillment(value: &Value) -> Result<Fulfillment, ObjectError> {
    let type_value = object(value, "fulfillment")?
        .get("type")
        .filter(|v| !v.is_null())
        .ok_or_else(|| error("fulfillment.type", "is required"))?;
    match string(type_value, "fulfillment.type")? {
        "http" => parse_http(value),
        "email" => parse_email(value),
        "xmlrpc" => parse_xmlrpc(value),
        _ => Err(error(
            "fulfillment.type",
            "must be \"http\", \"email\" or \"xmlrpc\"",
        )),
    }
}

fn template(members: &Members<'_>, name: &str, syntax: Syntax) -> Result<Template, ObjectError> {
    template_at(members.required_str(name)?, &members.path(name), syntax)
}

fn template_at(text: &str, path: &str, syntax: Syntax) -> Result<Template, ObjectError> {
    Template::parse(text, syntax).map_err(|detail| error(path, detail))
}

fn href(members: &Members<'_>) -> Result<Template, ObjectError> {
    let href = template(members, "href", Syntax::Uri)?;
    check_template_prefix(&href, Schemes::HttpOrHttps)
        .map_err(|detail| error(members.path("href"), detail))?;
    Ok(href)
}

fn parse_http(value: &Value) -> Result<Fulfillment, ObjectError> {
    let members = Members::new(
        value,
        "fulfillment",
        &[
            "type",
            "href",
            "method",
            "headers",
            "contentType",
            "body",
            "batch",
        ],
    )?;
    let href = href(&members)?;
    let method = match members.optional_str("method")? {
        None | Some("POST") => Method::Post,
        Some(_) => {
            return Err(error(
                "fulfillment.method",
                "must be \"POST\", the only method supported",
            ));
        }
    };
    let headers = match members.optional("headers") {
        None => BTreeMap::new(),
        Some(headers) => parse_headers(headers)?,
    };
    let content_type = members
        .optional_str("contentType")?
        .unwrap_or(FORM_URLENCODED);
    if !is_media_type(content_type) {
        return Err(error(
            "fulfillment.contentType",
            "must be a media type such as application/x-www-form-urlencoded",
        ));
    }
    let body = match members.optional_str("body")? {
        None => template_at("", "fulfillment.body", Syntax::Uri)?,
        Some(text) => template_at(text, "fulfillment.body", Syntax::Uri)?,
    };
    let batch = match members.optional("batch") {
        None => false,
        Some(Value::Bool(batch)) => *batch,
        Some(other) => {
            return Err(error(
                "fulfillment.batch",
                format!("must be true or false, not {}", kind(other)),
            ));
        }
    };
    Ok(Fulfillment::Http {
        href,
        method,
        headers,
        content_type: content_type.to_owned(),
        body,
        batch,
    })
}

fn parse_headers(value: &Value) -> Result<BTreeMap<String, Template>, ObjectError> {
    let mut headers = BTreeMap::new();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in object(value, "fulfillment.headers")? {
        let path = format!("fulfillment.headers.{name}");
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(error(
                path,
                "is not a valid HTTP header name (RFC 9110 token)",
            ));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(error(
                path,
                "is set by Sealpost itself and may not be given (use contentType for Content-Type)",
            ));
        }
        if seen.contains(&lower) {
            return Err(error(
                path,
                "names a header already given (header names ignore case)",
            ));
        }
        let text = string(value, &path)?;
        if !text.chars().all(|c| c == '\t' || matches!(c, ' '..='~')) {
            return Err(error(
                path,
                "must be printable ASCII: it becomes an HTTP header value",
            ));
        }
        headers.insert(name.clone(), template_at(text, &path, Syntax::Line)?);
        seen.push(lower);
    }
    Ok(headers)
}

fn parse_email(value: &Value) -> Result<Fulfillment, ObjectError> {
    let members = Members::new(
        value,
        "fulfillment",
        &["type", "from", "to", "subject", "body"],
    )?;
    let from = members.required_str("from")?;
    if !is_email_address(from) {
        return Err(error(
            "fulfillment.from",
            "must be a plain email address such as documents@example.com",
        ));
    }
    let to = template(&members, "to", Syntax::Line)?;
    if to.as_str().trim().is_empty() {
        return Err(error("fulfillment.to", "must not be empty"));
    }
    let subject = template(&members, "subject", Syntax::Line)?;
    let body = template(&members, "body", Syntax::Text)?;
    Ok(Fulfillment::Email {
        from: from.to_owned(),
        to,
        subject,
        body,
    })
}

fn parse_xmlrpc(value: &Value) -> Result<Fulfillment, ObjectError> {
    let members = Members::new(
        value,
        "fulfillment",
        &["type", "href", "methodName", "params"],
    )?;
    let href = href(&members)?;
    let method_name = members.non_empty_str("methodName")?;
    let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/');
    if method_name.len() > 256 || !method_name.chars().all(name_ok) {
        return Err(error(
            "fulfillment.methodName",
            "may hold only letters, digits, `_`, `.`, `:` and `/` (XML-RPC)",
        ));
    }
    let params = match members.optional("params") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("fulfillment.params[{i}]");
                template_at(string(item, &path)?, &path, Syntax::Text)
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(error(
                "fulfillment.params",
                format!("must be an array of strings, not {}", kind(other)),
            ));
        }
    };
    Ok(Fulfillment::XmlRpc {
        href,
        method_name: method_name.to_owned(),
        params,
    })
}
