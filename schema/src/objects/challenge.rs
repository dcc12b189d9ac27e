//! The challenge object (spec, "Challenge Specification"), the OAuth additions of
//! DESIGN.md, and the PUT rule of footnote 5.

use std::fmt;

use serde_json::Value;

use super::ObjectError;
use super::audience::member;
use super::json::{Members, error};
use super::tokens::{check_realm, check_scope};
use super::url::{Schemes, check_url};

/// How a viewer proves who they are. (No challenge is `null`, i.e. `None`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `"type": "HTTP-Auth"`: the gateway runs Basic or Digest authentication itself.
    HttpAuth {
        /// Printable ASCII without `"` or `\`, at most 256 characters: it is written into a
        /// `WWW-Authenticate` header as a quoted string, so nothing in it can end the quote
        /// or the header, and every HTTP library accepts it.
        realm: String,
        scheme: Scheme,
        /// The user-pass string (literal) or the audience field holding it.
        access: Source,
    },
    /// `"type": "OAuth"`: the viewer signs in at an OAuth / OpenID provider.
    OAuth {
        provider: Provider,
        /// The Consumer Key (client id), or the audience field holding it.
        consumer: Source,
        /// The Shared Secret (client secret), or the audience field holding it.
        access: Source,
        /// `data.scope`: space-separated scope tokens; `None` means the default.
        scope: Option<String>,
        /// `data.match`: which claim of the signed-in identity must equal which field of
        /// the viewer's record.
        identity_match: Option<IdentityMatch>,
    },
}

/// `data.scheme` of an HTTP-Auth challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `"basic"`
    Basic,
    /// `"digest"`: a literal `access.value` (or every value of the `access` field) is
    /// `userid:passwd`, because the digest needs the userid (RFC 2617).
    Digest,
}

/// `{"type": "literal" | "field", "value": "…"}`; the value is never empty.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// The secret itself. Never printed by `Debug`.
    Literal(String),
    /// The name of the audience-record field that holds it.
    Field(String),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Literal(_) => f.write_str("Literal(<redacted>)"),
            Source::Field(name) => f.debug_tuple("Field").field(name).finish(),
        }
    }
}

impl Source {
    /// The field name, for a `field` source.
    pub fn field(&self) -> Option<&str> {
        match self {
            Source::Field(name) => Some(name),
            Source::Literal(_) => None,
        }
    }
}

/// `data.provider` of an OAuth challenge.
///
/// Every href is an absolute `https://` URL without credentials or fragment. `http://` is
/// accepted only for a loopback host (127.0.0.0/8, `[::1]`, `localhost`), so tests and a
/// provider on the same machine can run without a certificate; nothing else may receive the
/// client secret in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The provider (OpenID issuer) URI.
    pub href: String,
    /// Authorization endpoint, given together with `token` when there is no discovery.
    pub authorize: Option<String>,
    /// Token endpoint, given together with `authorize`.
    pub token: Option<String>,
}

/// `data.match` of an OAuth challenge; both names non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityMatch {
    pub claim: String,
    pub field: String,
}

/// Parses a (non-null) challenge object.
pub fn parse_challenge(value: &Value) -> Result<Challenge, ObjectError> {
    let members = Members::new(value, "challenge", &["type", "data"])?;
    match members.required_str("type")? {
        "HTTP-Auth" => parse_http_auth(members.required("data")?),
        "OAuth" => parse_oauth(members.required("data")?),
        _ => Err(error(
            "challenge.type",
            "must be \"HTTP-Auth\" or \"OAuth\"",
        )),
    }
}

fn parse_http_auth(data: &Value) -> Result<Challenge, ObjectError> {
    let members = Members::new(data, "challenge.data", &["realm", "scheme", "access"])?;
    let realm = members.required_str("realm")?;
    check_realm(realm).map_err(|detail| error("challenge.data.realm", detail))?;
    let scheme = match members.required_str("scheme")? {
        "basic" => Scheme::Basic,
        "digest" => Scheme::Digest,
        _ => {
            return Err(error(
                "challenge.data.scheme",
                "must be \"basic\" or \"digest\"",
            ));
        }
    };
    let access = parse_source(members.required("access")?, "challenge.data.access")?;
    if let (Scheme::Digest, Source::Literal(user_pass)) = (scheme, &access)
        && !user_pass.contains(':')
    {
        return Err(error(
            "challenge.data.access.value",
            "must be \"userid:passwd\" with the digest scheme, which needs the userid (RFC 2617)",
        ));
    }
    Ok(Challenge::HttpAuth {
        realm: realm.to_owned(),
        scheme,
        access,
    })
}

fn parse_oauth(data: &Value) -> Result<Challenge, ObjectError> {
    let members = Members::new(
        data,
        "challenge.data",
        &["provider", "consumer", "access", "scope", "match"],
    )?;
    let provider = parse_provider(members.required("provider")?)?;
    let consumer = parse_source(members.required("consumer")?, "challenge.data.consumer")?;
    let access = parse_source(members.required("access")?, "challenge.data.access")?;
    let scope = members.optional_str("scope")?;
    if let Some(scope) = scope {
        check_scope(scope).map_err(|detail| error("challenge.data.scope", detail))?;
    }
    let identity_match = match members.optional("match") {
        None => None,
        Some(value) => {
            let members = Members::new(value, "challenge.data.match", &["claim", "field"])?;
            let claim = members.non_empty_str("claim")?.to_owned();
            let field = members.non_empty_str("field")?.to_owned();
            Some(IdentityMatch { claim, field })
        }
    };
    Ok(Challenge::OAuth {
        provider,
        consumer,
        access,
        scope: scope.map(str::to_owned),
        identity_match,
    })
}

fn parse_provider(value: &Value) -> Result<Provider, ObjectError> {
    let members = Members::new(
        value,
        "challenge.data.provider",
        &["href", "authorize", "token"],
    )?;
    let href_at = |name: &str| -> Result<Option<String>, ObjectError> {
        let Some(href) = members.optional_str(name)? else {
            return Ok(None);
        };
        check_url(href, Schemes::HttpsOrLoopbackHttp)
            .map_err(|detail| error(members.path(name), detail))?;
        Ok(Some(href.to_owned()))
    };
    let href = href_at("href")?.ok_or_else(|| error(members.path("href"), "is required"))?;
    let authorize = href_at("authorize")?;
    let token = href_at("token")?;
    match (&authorize, &token) {
        (Some(_), None) => Err(error(
            members.path("token"),
            "is required when authorize is given",
        )),
        (None, Some(_)) => Err(error(
            members.path("authorize"),
            "is required when token is given",
        )),
        _ => Ok(Provider {
            href,
            authorize,
            token,
        }),
    }
}

/// `{"type": "literal" | "field", "value": "…"}` at `path`.
fn parse_source(value: &Value, path: &str) -> Result<Source, ObjectError> {
    let members = Members::new(value, path, &["type", "value"])?;
    let literal = match members.required_str("type")? {
        "literal" => true,
        "field" => false,
        _ => {
            return Err(error(
                members.path("type"),
                "must be \"literal\" or \"field\"",
            ));
        }
    };
    let text = members.non_empty_str("value")?.to_owned();
    Ok(if literal {
        Source::Literal(text)
    } else {
        Source::Field(text)
    })
}

/// Footnote 5: a PUT of the challenge may not turn `data.consumer.type` or
/// `data.access.type` from `"literal"` to `"field"` (`"field"` to `"literal"` is allowed).
/// Returns the 409 detail when refused.
///
/// Only that change is refused, as the spec states it: a PUT that adds a challenge where
/// none is stored, or switches between HTTP-Auth and OAuth, is not a literal-to-field change
/// and is left to [`super::validate`], which checks every field reference against the
/// audience after each write. `new` need not be valid: this check can run before parsing.
pub fn challenge_put_conflict(stored: Option<&Value>, new: &Value) -> Option<String> {
    ["consumer", "access"].into_iter().find_map(|source| {
        let turned = source_type(stored, source) == Some("literal") && source_type(Some(new), source) == Some("field");
        turned.then(|| {
            format!(
                "PUT may not change challenge.data.{source}.type from \"literal\" to \"field\"; send the challenge \
                 with POST /documents/{{docId}}, which checks it against the audience and returns a new placeholder"
            )
        })
    })
}

/// `data.<source>.type` of a raw challenge, when it is a string.
fn source_type<'a>(challenge: Option<&'a Value>, source: &str) -> Option<&'a str> {
    member(member(member(challenge, "data"), source), "type").and_then(Value::as_str)
}
