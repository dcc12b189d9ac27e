//! A spec object held both as the producer wrote it and as it parsed: what a document record
//! carries for its audience, challenge, fulfillment and landing page, decoded once when the
//! row is read (or the producer's part is received) instead of at every use.
//!
//! Why keep the JSON beside the typed value: the parsed types keep what the services act on,
//! not the text (the `type` tag, `null` members, member order and number spellings are gone),
//! yet the producer API must hand back exactly what it was given (`GET
//! /documents/{docId}/{part}`), the PUT rules of footnotes 4 and 5 compare the stored JSON as
//! written, and the sealed columns store that JSON unchanged, so old rows and new ones read
//! alike. The two never disagree: both are set together, only by [`Typed::parse`].

use std::fmt;

use serde_json::Value;

use super::{
    Audience, Challenge, Fulfillment, LandingPage, ObjectError, parse_audience, parse_challenge,
    parse_fulfillment, parse_landingpage,
};

/// A spec object that parses from its (non-null) JSON.
pub trait SpecObject: Sized {
    /// The object's name as a document part and column (`"audience"`, …).
    const NAME: &'static str;

    /// The object's `parse_*`.
    fn parse(value: &Value) -> Result<Self, ObjectError>;
}

impl SpecObject for Audience {
    const NAME: &'static str = "audience";
    fn parse(value: &Value) -> Result<Self, ObjectError> {
        parse_audience(value)
    }
}

impl SpecObject for Challenge {
    const NAME: &'static str = "challenge";
    fn parse(value: &Value) -> Result<Self, ObjectError> {
        parse_challenge(value)
    }
}

impl SpecObject for Fulfillment {
    const NAME: &'static str = "fulfillment";
    fn parse(value: &Value) -> Result<Self, ObjectError> {
        parse_fulfillment(value)
    }
}

impl SpecObject for LandingPage {
    const NAME: &'static str = "landingpage";
    fn parse(value: &Value) -> Result<Self, ObjectError> {
        parse_landingpage(value)
    }
}

/// A parsed spec object and the JSON it was parsed from.
///
/// Invariant: `value` is what `T::parse(&json)` returned, so equality compares the JSON alone
/// (two objects are the same when the producer wrote the same thing).
#[derive(Clone)]
pub struct Typed<T> {
    value: T,
    json: Value,
}

impl<T: SpecObject> Typed<T> {
    /// Parses `json`; the error names the broken member, as [`super::validate`] would.
    pub fn parse(json: Value) -> Result<Self, ObjectError> {
        let value = T::parse(&json)?;
        Ok(Self { value, json })
    }

    /// Parses an optional object: absent or `null` is `None` (as [`super::validate`] has it).
    pub fn parse_present(json: Option<Value>) -> Result<Option<Self>, ObjectError> {
        json.filter(|json| !json.is_null())
            .map(Self::parse)
            .transpose()
    }
}

impl<T> Typed<T> {
    /// The parsed object.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The JSON exactly as the producer wrote it (and as it is stored).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The parsed object, for a reader that never needs the JSON.
    pub fn into_value(self) -> T {
        self.value
    }
}

impl<T> PartialEq for Typed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

/// Shows the parsed value only: the typed objects' own `Debug` redacts their secrets (a
/// challenge's literal password), which the raw JSON would print.
impl<T: fmt::Debug> fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Typed").field(&self.value).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_the_json_as_written_beside_the_parsed_value() {
        let written = json!({"href": "https://pages.example.com/{?first_name}", "type": "url"});
        let page = Typed::<LandingPage>::parse(written.clone()).unwrap();
        assert_eq!(page.json(), &written);
        assert_eq!(page.value().variables(), ["first_name"]);
    }

    #[test]
    fn absent_and_null_are_none_and_invalid_names_the_member() {
        assert_eq!(Typed::<Audience>::parse_present(None).unwrap(), None);
        assert_eq!(
            Typed::<Audience>::parse_present(Some(Value::Null)).unwrap(),
            None
        );
        let error = Typed::<Challenge>::parse(json!({"type": "field"})).unwrap_err();
        assert_eq!(error.field, "challenge.type");
    }

    #[test]
    fn debug_hides_a_literal_secret() {
        let challenge = Typed::<Challenge>::parse(json!({"type": "HTTP-Auth", "data": {
            "realm": "r", "scheme": "basic", "access": {"type": "literal", "value": "s3cret"}}}))
        .unwrap();
        assert!(!format!("{challenge:?}").contains("s3cret"));
    }
}
