//! The JSON sub-resources of a document record.

use schema::DocumentRecord;
use schema::objects::{SpecObject, Typed};
use serde_json::Value;

use crate::error::ApiError;
use crate::form::DocumentForm;

/// `audience`, `fulfillment`, `challenge`, `landingpage` or `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Audience,
    Fulfillment,
    Challenge,
    LandingPage,
    Metadata,
}

/// The document's access version after the change from `before` to `after`: moved on when who
/// may read it changed (the audience or the challenge, issue 14 finding 6), so the vault refuses
/// the handles minted before; kept otherwise. Metadata, fulfillment, landing page, name and
/// expiration leave handles valid (the vault checks the expiration on the row it reads).
/// New content needs no move: a handle names its object, and the vault refuses replaced content.
pub fn next_access_version(before: &DocumentRecord, after: &DocumentRecord) -> i64 {
    if before.audience != after.audience || before.challenge != after.challenge {
        before.access_version.wrapping_add(1)
    } else {
        before.access_version
    }
}

/// The order `objects::validate` parses the objects in (then the metadata, never parsed).
const PARSE_ORDER: [Part; 5] = [
    Part::Audience,
    Part::Challenge,
    Part::LandingPage,
    Part::Fulfillment,
    Part::Metadata,
];

/// The JSON parts a form gave (each `Some(None)` for a `null` part), taken out of it.
pub fn take_parts(form: &mut DocumentForm) -> Vec<(Part, Option<Value>)> {
    [
        (Part::Audience, form.audience.take()),
        (Part::Fulfillment, form.fulfillment.take()),
        (Part::Challenge, form.challenge.take()),
        (Part::LandingPage, form.landingpage.take()),
        (Part::Metadata, form.metadata.take()),
    ]
    .into_iter()
    .filter_map(|(part, value)| value.map(|value| (part, value)))
    .collect()
}

/// A spec object given as JSON (`None` or `null`: no object), parsed.
fn typed<T: SpecObject>(value: Option<Value>) -> Result<Option<Typed<T>>, ApiError> {
    Typed::parse_present(value).map_err(|error| ApiError::Invalid {
        field: error.field,
        detail: error.detail,
    })
}

impl Part {
    /// In the spec's order.
    pub const ALL: [Part; 5] = [
        Self::Audience,
        Self::Fulfillment,
        Self::Challenge,
        Self::LandingPage,
        Self::Metadata,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|part| part.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Audience => "audience",
            Self::Fulfillment => "fulfillment",
            Self::Challenge => "challenge",
            Self::LandingPage => "landingpage",
            Self::Metadata => "metadata",
        }
    }

    /// The part's JSON as the producer wrote it (`None`: no object).
    pub fn get(self, record: &DocumentRecord) -> Option<&Value> {
        match self {
            Self::Audience => record.audience.as_ref().map(Typed::json),
            Self::Fulfillment => record.fulfillment.as_ref().map(Typed::json),
            Self::Challenge => record.challenge.as_ref().map(Typed::json),
            Self::LandingPage => record.landingpage.as_ref().map(Typed::json),
            Self::Metadata => record.metadata.as_ref(),
        }
    }

    /// Sets the part, parsing a spec object (422 naming the broken member). The cross-object
    /// rules are left to `validate_objects`, which every write runs on the whole result.
    pub fn set(self, record: &mut DocumentRecord, value: Option<Value>) -> Result<(), ApiError> {
        match self {
            Self::Audience => record.audience = typed(value)?,
            Self::Fulfillment => record.fulfillment = typed(value)?,
            Self::Challenge => record.challenge = typed(value)?,
            Self::LandingPage => record.landingpage = typed(value)?,
            Self::Metadata => record.metadata = value,
        }
        Ok(())
    }

    /// Sets each given part. The spec objects are parsed in the order `objects::validate`
    /// parses them (audience, challenge, landing page, fulfillment), so a write with several
    /// invalid parts names the same one it always did.
    pub fn set_all(
        record: &mut DocumentRecord,
        parts: &[(Part, Option<Value>)],
    ) -> Result<(), ApiError> {
        for part in PARSE_ORDER {
            for (_, value) in parts.iter().filter(|(given, _)| *given == part) {
                part.set(record, value.clone())?;
            }
        }
        Ok(())
    }
}
