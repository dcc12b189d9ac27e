//! `audience.data.records`: the viewers, as rows of string fields.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ObjectError;
use super::json::{error, kind};

/// One audience member: field name → value. Field names are the producer's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(BTreeMap<String, String>);

impl Record {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether the record has field `name`.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The fields, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The field names, in order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether every `(field, value)` pair of `wanted` is in this record: the spec's lookup
    /// ("searching the records array for any match to the set of desired fields").
    pub fn matches(&self, wanted: &[(&str, &str)]) -> bool {
        wanted
            .iter()
            .all(|(field, value)| self.get(field) == Some(*value))
    }
}

/// The records of an audience.
///
/// Invariant: at least one record, and every record has exactly the same field names, so
/// "is a field of the records" means the same thing for every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records(Vec<Record>);

impl Records {
    pub fn iter(&self) -> std::slice::Iter<'_, Record> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an audience has at least one record.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Record> {
        self.0.get(index)
    }

    /// Whether `name` is a field of the records (of all of them, by the invariant).
    pub fn has_field(&self, name: &str) -> bool {
        self.0.first().is_some_and(|r| r.has(name))
    }

    /// The records matching every `(field, value)` of `wanted`, with their indexes.
    pub fn matching<'a>(
        &'a self,
        wanted: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = (usize, &'a Record)> + 'a {
        self.0
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.matches(wanted))
    }
}

/// Parses `data.records` at `path`: a non-empty array of objects of string values, all with
/// the same field names.
pub(crate) fn parse_records(value: &Value, path: &str) -> Result<Records, ObjectError> {
    let items = value.as_array().ok_or_else(|| {
        error(
            path,
            format!("must be an array of records, not {}", kind(value)),
        )
    })?;
    if items.is_empty() {
        return Err(error(path, "must hold at least one record"));
    }
    let mut records: Vec<Record> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let here = format!("{path}[{index}]");
        let object = item.as_object().ok_or_else(|| {
            error(
                &here,
                format!("must be a JSON object of fields, not {}", kind(item)),
            )
        })?;
        let mut fields = BTreeMap::new();
        for (name, value) in object {
            let text = value.as_str().ok_or_else(|| {
                error(
                    format!("{here}.{name}"),
                    format!(
                        "must be a JSON string, not {}: audience record values are strings",
                        kind(value)
                    ),
                )
            })?;
            fields.insert(name.clone(), text.to_owned());
        }
        let record = Record(fields);
        if let Some(first) = records.first() {
            check_same_fields(first, &record, &here)?;
        }
        records.push(record);
    }
    Ok(Records(records))
}

fn check_same_fields(first: &Record, record: &Record, here: &str) -> Result<(), ObjectError> {
    if let Some(missing) = first.field_names().find(|name| !record.has(name)) {
        return Err(error(
            here,
            format!(
                "lacks the field {missing:?} of record 0: every record must have the same fields"
            ),
        ));
    }
    if let Some(extra) = record.field_names().find(|name| !first.has(name)) {
        return Err(error(
            here,
            format!(
                "has the field {extra:?} that record 0 lacks: every record must have the same fields"
            ),
        ));
    }
    Ok(())
}
