//! The spec's JSON objects: audience, challenge, landing page and fulfillment, parsed into
//! types that cannot hold an invalid combination, plus the rules that span them.
//!
//! # Layout
//! - [`audience`], [`challenge`], [`landingpage`], [`fulfillment`]: one `parse_*` per object,
//!   each refusing what its own section of the spec (or DESIGN.md, where the spec left the
//!   format open) forbids. [`audience`] and [`challenge`] also hold the PUT rules of the
//!   spec's footnotes 4 and 5.
//! - [`records`]: the rows of a `records` audience.
//! - [`template`]: RFC 6570 templates (strict grammar + the `std-uritemplate` expander);
//!   `expand` adds [`Template::expand`], the one expansion the gateway and delivery call.
//! - `expression` (one `{…}`) and `tokens` (HTTP tokens, media types, email addresses,
//!   realms, scopes): the small grammars behind the above.
//! - `url`: absolute `http(s)` URLs and the fixed start of URL templates.
//! - `cross`: the cross-object rules, run by [`validate`].
//! - `json`: member-by-member reading with dotted error paths.
//! - `typed`: [`Typed`], an object as written beside what it parsed to; what a document
//!   record holds, decoded once when its row is read.
//!
//! # How the API uses it
//! A `null` object is `None` and never reaches a `parse_*`. After every write the API runs
//! [`validate`] on the document's whole resulting state and answers 422 (problem+json naming
//! [`ObjectError::field`]) when it fails; before a PUT of the audience or challenge it asks
//! [`audience_put_conflict`] / [`challenge_put_conflict`] and answers 409 when they object.
//!
//! Members not defined for an object are refused (a producer wants a typo caught, not
//! ignored), except inside audience records, whose fields are the producer's own. Error
//! details never repeat a secret or a record value.

pub mod audience;
pub mod challenge;
mod cross;
mod expand;
mod expression;
pub mod fulfillment;
mod json;
pub mod landingpage;
pub mod records;
pub mod template;
mod tokens;
mod typed;
mod url;

#[cfg(test)]
mod audience_tests;
#[cfg(test)]
mod challenge_tests;
#[cfg(test)]
mod cross_tests;
#[cfg(test)]
mod expand_tests;
#[cfg(test)]
mod fulfillment_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod landingpage_tests;
#[cfg(test)]
mod put_tests;
#[cfg(test)]
mod template_tests;

use serde_json::Value;

pub use audience::{Audience, ViewerToken, audience_put_conflict, parse_audience};
pub use challenge::{
    Challenge, IdentityMatch, Provider, Scheme, Source, challenge_put_conflict, parse_challenge,
};
pub use expand::{MAX_EXPANSION_LEN, Var};
pub use fulfillment::{Fulfillment, Method, parse_fulfillment};
pub use landingpage::{LandingPage, parse_landingpage};
pub use records::{Record, Records};
pub use template::{Syntax, Template, is_varname};
pub use typed::{SpecObject, Typed};

/// A rule broken by a producer's object: `field` is a dotted path naming what is wrong
/// (`"audience.viewerToken"`, `"challenge.data.access.value"`,
/// `"audience.data.records[3].telephone"`, `"landingpage.href"`, …), `detail` a sentence
/// saying why. The API answers 422 problem+json with them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct ObjectError {
    pub field: String,
    pub detail: String,
}

/// The objects of one document as stored (or about to be): `None` for an absent or `null`
/// object. (`Some(&Value::Null)` is treated as `None` too.)
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentObjects<'a> {
    pub audience: Option<&'a Value>,
    pub challenge: Option<&'a Value>,
    pub landingpage: Option<&'a Value>,
    pub fulfillment: Option<&'a Value>,
}

/// Parses every object present and checks the cross-object rules; run on the document's
/// whole state after every write, so no sequence of PUTs can reach a state a single POST
/// could not.
///
/// The rules (numbered as in `cross`; checked in the order 2, 1, 3, 4, 5 so that an
/// `octet-stream` audience gets the more specific message; the first broken one is reported):
/// 1. a challenge `access` / `consumer` of type `field` needs a `records` audience that has
///    the field (`challenge.data.{access,consumer}.value`);
/// 2. an `octet-stream` audience needs a challenge (`challenge`), with `literal` access and,
///    for OAuth, consumer (`challenge.data.{access,consumer}.type`);
/// 3. HTTP-Auth `digest` with `field` access: every record's value of that field holds `:`
///    (`audience.data.records[i].<field>`);
/// 4. an OAuth `match.field` is a field of the `records` audience (`challenge.data.match.field`);
/// 5. landing-page template variables are fields of the `records` audience, and there are
///    none without one (`landingpage.href`).
///
/// There is deliberately no other rule. In particular a document with neither audience nor
/// challenge is valid: it is the spec's Confidential level, where "possession of a document
/// request is sufficient" — the unguessable placeholder is the credential. A `records`
/// audience with no challenge is valid too (the viewer token must match a record).
pub fn validate(objects: &DocumentObjects<'_>) -> Result<(), ObjectError> {
    let audience = present(objects.audience).map(parse_audience).transpose()?;
    let challenge = present(objects.challenge)
        .map(parse_challenge)
        .transpose()?;
    let landingpage = present(objects.landingpage)
        .map(parse_landingpage)
        .transpose()?;
    present(objects.fulfillment)
        .map(parse_fulfillment)
        .transpose()?;
    cross::check(audience.as_ref(), challenge.as_ref(), landingpage.as_ref())
}

/// The cross-object rules of [`validate`] alone, over objects already parsed (a document
/// record holds them typed, so a write re-checks the rules without parsing again).
pub fn check_rules(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
    landingpage: Option<&LandingPage>,
) -> Result<(), ObjectError> {
    cross::check(audience, challenge, landingpage)
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}
