//! Reading a JSON object member by member, so that every error names its dotted path.
//!
//! Members are checked against an allow-list before anything else is read: a producer who
//! writes `viewertoken` or `acess` gets a 422 naming the typo instead of a silently ignored
//! setting (which, for a challenge, could mean a weaker check than intended). A member whose
//! value is `null` counts as absent.

use serde_json::{Map, Value};

use super::ObjectError;

/// Builds an [`ObjectError`].
pub(crate) fn error(field: impl Into<String>, detail: impl Into<String>) -> ObjectError {
    ObjectError {
        field: field.into(),
        detail: detail.into(),
    }
}

/// The JSON type of `value`, with its article, for error sentences.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `value` as an object, or an error naming `path`.
pub(crate) fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, ObjectError> {
    value
        .as_object()
        .ok_or_else(|| error(path, format!("must be a JSON object, not {}", kind(value))))
}

/// `value` as a string, or an error naming `path`.
pub(crate) fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, ObjectError> {
    value
        .as_str()
        .ok_or_else(|| error(path, format!("must be a string, not {}", kind(value))))
}

/// The members of one JSON object, all of them named in an allow-list.
pub(crate) struct Members<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Members<'a> {
    /// Refuses `value` unless it is an object whose members are all in `allowed`.
    pub(crate) fn new(value: &'a Value, path: &str, allowed: &[&str]) -> Result<Self, ObjectError> {
        let map = object(value, path)?;
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(error(
                format!("{path}.{unknown}"),
                format!(
                    "is not a known member; the members allowed here are {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Self {
            map,
            path: path.to_owned(),
        })
    }

    /// The dotted path of member `name`.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// Member `name`, absent when missing or `null`.
    pub(crate) fn optional(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    /// Member `name`, which must be present and not `null`.
    pub(crate) fn required(&self, name: &str) -> Result<&'a Value, ObjectError> {
        self.optional(name)
            .ok_or_else(|| error(self.path(name), "is required"))
    }

    /// Member `name` as a string, which must be present.
    pub(crate) fn required_str(&self, name: &str) -> Result<&'a str, ObjectError> {
        string(self.required(name)?, &self.path(name))
    }

    /// Member `name` as a string, absent when missing or `null`.
    pub(crate) fn optional_str(&self, name: &str) -> Result<Option<&'a str>, ObjectError> {
        self.optional(name)
            .map(|value| string(value, &self.path(name)))
            .transpose()
    }

    /// Member `name` as a non-empty string, which must be present.
    pub(crate) fn non_empty_str(&self, name: &str) -> Result<&'a str, ObjectError> {
        let text = self.required_str(name)?;
        if text.is_empty() {
            return Err(error(self.path(name), "must not be empty"));
        }
        Ok(text)
    }
}
