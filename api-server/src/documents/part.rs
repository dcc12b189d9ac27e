//! The JSON sub-resources of a document record.

use schema::DocumentRecord;
use serde_json::Value;

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

    pub fn get(self, record: &DocumentRecord) -> Option<&Value> {
        self.slot_ref(record).as_ref()
    }

    pub fn set(self, record: &mut DocumentRecord, value: Option<Value>) {
        *self.slot(record) = value;
    }

    fn slot_ref(self, record: &DocumentRecord) -> &Option<Value> {
        match self {
            Self::Audience => &record.audience,
            Self::Fulfillment => &record.fulfillment,
            Self::Challenge => &record.challenge,
            Self::LandingPage => &record.landingpage,
            Self::Metadata => &record.metadata,
        }
    }

    fn slot(self, record: &mut DocumentRecord) -> &mut Option<Value> {
        match self {
            Self::Audience => &mut record.audience,
            Self::Fulfillment => &mut record.fulfillment,
            Self::Challenge => &mut record.challenge,
            Self::LandingPage => &mut record.landingpage,
            Self::Metadata => &mut record.metadata,
        }
    }
}
