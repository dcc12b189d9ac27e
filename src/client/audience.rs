//! `--audience FILE.csv --token-fields F,…`: a `records` audience (spec, "Audience
//! Specification") from a CSV file.
//!
//! The mapping: the header row names the fields; each further row is one record, every column
//! a string field (an empty cell is the empty string); `--token-fields a,b` becomes the
//! viewer token `{?a,b}`, in that order, and each must be a column. So
//!
//! ```text
//! email_address,first_name,telephone
//! h.piltdown@ipo.st,Harry,4154445511
//! ```
//! with `--token-fields telephone,first_name` is
//! `{"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records":
//! [{"email_address": "h.piltdown@ipo.st", "first_name": "Harry", "telephone": "4154445511"}]}}`.
//! The server checks the rest (field names, the token's uniqueness, the size limit).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::usage;

/// The audience JSON of the CSV at `path` with viewer token `token_fields`.
pub fn from_csv(path: &Path, token_fields: &[String]) -> anyhow::Result<Value> {
    let bad = |detail: String| usage(format!("--audience {}: {detail}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_owned)
        .collect();
    check_token_fields(&headers, token_fields).map_err(bad)?;
    let mut records = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", row + 2)))?;
        let fields: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(name, value)| (name.clone(), Value::String(value.to_owned())))
            .collect();
        records.push(Value::Object(fields));
    }
    if records.is_empty() {
        return Err(bad("no records after the header row".into()));
    }
    Ok(json!({
        "type": "records",
        "viewerToken": format!("{{?{}}}", token_fields.join(",")),
        "data": {"records": records},
    }))
}

/// Every token field is a distinct column; at least one.
fn check_token_fields(headers: &[String], token_fields: &[String]) -> Result<(), String> {
    if token_fields.is_empty() || token_fields.iter().any(String::is_empty) {
        return Err("--token-fields names no column".into());
    }
    if let Some(missing) = token_fields.iter().find(|f| !headers.contains(f)) {
        return Err(format!(
            "--token-fields names {missing:?}, which is not a column (columns: {})",
            headers.join(",")
        ));
    }
    for (i, field) in token_fields.iter().enumerate() {
        if token_fields[..i].contains(field) {
            return Err(format!("--token-fields names {field:?} twice"));
        }
    }
    if let Some((i, name)) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| headers[..*i].contains(h))
    {
        return Err(format!(
            "column {} ({name:?}) repeats an earlier column",
            i + 1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn audience(csv: &str, fields: &[&str]) -> anyhow::Result<Value> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        from_csv(file.path(), &fields)
    }

    #[test]
    fn rows_become_records_and_the_token_fields_the_viewer_token() {
        let value = audience(
            "email_address,first_name,telephone\nh@ipo.st,Harry,4154445511\nm@ipo.st,\"Mary, Jr\",\n",
            &["telephone", "first_name"],
        )
        .unwrap();
        assert_eq!(value["type"], "records");
        assert_eq!(value["viewerToken"], "{?telephone,first_name}");
        let records = value["data"]["records"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["telephone"], "4154445511");
        assert_eq!(records[1]["first_name"], "Mary, Jr");
        assert_eq!(records[1]["telephone"], "");
    }

    #[test]
    fn bad_token_fields_and_ragged_rows_are_usage_errors() {
        for (csv, fields) in [
            ("a,b\n1,2\n", &["c"][..]),
            ("a,b\n1,2\n", &["a", "a"][..]),
            ("a,a\n1,2\n", &["a"][..]),
            ("a,b\n1,2\n3\n", &["a"][..]),
            ("a,b\n", &["a"][..]),
        ] {
            let error = audience(csv, fields).unwrap_err();
            assert!(
                error.downcast_ref::<super::super::UsageError>().is_some(),
                "{csv}"
            );
        }
    }
}
