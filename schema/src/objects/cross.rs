//! The rules that span objects, each in its own function (one test each, in `cross_tests`).
//!
//! They run on parsed objects, so each rule only states the relation it is about.

use super::ObjectError;
use super::audience::Audience;
use super::challenge::{Challenge, Scheme, Source};
use super::json::error;
use super::landingpage::LandingPage;
use super::records::Records;

/// Every cross-object rule, in a fixed order so the first broken one is reported.
pub(crate) fn check(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
    landingpage: Option<&LandingPage>,
) -> Result<(), ObjectError> {
    octet_stream_needs_literal_challenge(audience, challenge)?;
    field_sources_need_records(audience, challenge)?;
    digest_fields_hold_userid(audience, challenge)?;
    match_field_in_records(audience, challenge)?;
    landing_variables_in_records(audience, landingpage)
}

/// The challenge's sources with their member names.
fn sources(challenge: &Challenge) -> Vec<(&'static str, &Source)> {
    match challenge {
        Challenge::HttpAuth { access, .. } => vec![("access", access)],
        Challenge::OAuth {
            consumer, access, ..
        } => vec![("consumer", consumer), ("access", access)],
    }
}

fn records(audience: Option<&Audience>) -> Option<&Records> {
    audience.and_then(Audience::records)
}

/// Rule 1: a `field` source (access or consumer) needs a `records` audience that has the field.
pub(crate) fn field_sources_need_records(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
) -> Result<(), ObjectError> {
    let Some(challenge) = challenge else {
        return Ok(());
    };
    for (name, source) in sources(challenge) {
        let Some(field) = source.field() else {
            continue;
        };
        let path = format!("challenge.data.{name}.value");
        match records(audience) {
            None => {
                return Err(error(
                    path,
                    format!(
                        "names an audience field, but a challenge {name} of type \"field\" needs an audience of type \"records\" and the document has none"
                    ),
                ));
            }
            Some(records) if !records.has_field(field) => {
                return Err(error(
                    path,
                    format!("names the field {field:?}, which the audience records do not have"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Rule 2: an `octet-stream` audience needs a challenge whose sources are all `literal`.
///
/// The gateway cannot match a viewer against opaque data, so with no challenge anyone
/// holding the placeholder would pass; and there are no fields for a `field` source to read
/// (spec: "the challenge must use challenge.data.access.type = literal").
pub(crate) fn octet_stream_needs_literal_challenge(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
) -> Result<(), ObjectError> {
    let Some(Audience::OctetStream { .. }) = audience else {
        return Ok(());
    };
    let Some(challenge) = challenge else {
        return Err(error(
            "challenge",
            "is required with an octet-stream audience: viewers cannot be matched against opaque data, so without a challenge anyone holding the placeholder would see the document",
        ));
    };
    match sources(challenge)
        .into_iter()
        .find(|(_, source)| source.field().is_some())
    {
        Some((name, _)) => Err(error(
            format!("challenge.data.{name}.type"),
            "must be \"literal\" with an octet-stream audience, which has no fields to read",
        )),
        None => Ok(()),
    }
}

/// Rule 3: with HTTP-Auth `digest` and a `field` access, every record's value of that field
/// is `userid:passwd`, because the digest needs the userid (RFC 2617).
pub(crate) fn digest_fields_hold_userid(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
) -> Result<(), ObjectError> {
    let Some(Challenge::HttpAuth {
        scheme: Scheme::Digest,
        access: Source::Field(field),
        ..
    }) = challenge
    else {
        return Ok(());
    };
    let Some(records) = records(audience) else {
        return Ok(());
    }; // rule 1 reports this
    match records
        .iter()
        .position(|record| record.get(field).is_some_and(|value| !value.contains(':')))
    {
        Some(index) => Err(error(
            format!("audience.data.records[{index}].{field}"),
            "must be \"userid:passwd\": the HTTP-Auth challenge reads it with the digest scheme, which needs the userid (RFC 2617)",
        )),
        None => Ok(()),
    }
}

/// Rule 4: an OAuth `match.field` is a field of a `records` audience.
pub(crate) fn match_field_in_records(
    audience: Option<&Audience>,
    challenge: Option<&Challenge>,
) -> Result<(), ObjectError> {
    let Some(Challenge::OAuth {
        identity_match: Some(identity_match),
        ..
    }) = challenge
    else {
        return Ok(());
    };
    let field = &identity_match.field;
    match records(audience) {
        None => Err(error(
            "challenge.data.match.field",
            "needs an audience of type \"records\" to match the identity against, and the document has none",
        )),
        Some(records) if !records.has_field(field) => Err(error(
            "challenge.data.match.field",
            format!("names the field {field:?}, which the audience records do not have"),
        )),
        Some(_) => Ok(()),
    }
}

/// Rule 5: a landing-page template's variables are fields of the `records` audience; with no
/// such audience, the template may have no variables.
pub(crate) fn landing_variables_in_records(
    audience: Option<&Audience>,
    landingpage: Option<&LandingPage>,
) -> Result<(), ObjectError> {
    let Some(landingpage) = landingpage else {
        return Ok(());
    };
    for variable in landingpage.variables() {
        match records(audience) {
            None => {
                return Err(error(
                    "landingpage.href",
                    format!(
                        "uses the variable {variable:?}, but only fields of a \"records\" audience can fill a landing-page template and the document has none"
                    ),
                ));
            }
            Some(records) if !records.has_field(variable) => {
                return Err(error(
                    "landingpage.href",
                    format!(
                        "uses the variable {variable:?}, which is not a field of the audience records"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
