//! The JSON form parts from flags: `--challenge`, `--fulfillment`, `--landingpage`,
//! `--metadata` each take a JSON text, or `@FILE` for a file holding one (a JSON text never
//! begins with `@`). The text is checked to be JSON here, so a typo is a usage error (exit 2)
//! naming the flag rather than a round trip; the server checks the object itself.

use std::path::Path;

use serde_json::Value;

use super::usage;

/// The JSON of flag `--{flag}`'s `value` (inline, or `@FILE`).
pub fn json_arg(flag: &str, value: &str) -> anyhow::Result<Value> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(Path::new(path))
            .map_err(|e| usage(format!("--{flag} @{path}: {e}")))?,
        None => value.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| usage(format!("--{flag}: not JSON: {e}")))
}

/// `--expires`: an RFC 3339 time or HTTP-date as given; `YYYY-MM-DD` as that day's midnight UTC.
pub fn expiration(value: &str) -> String {
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) => format!("{day}T00:00:00Z"),
        Err(_) => value.to_owned(),
    }
}

/// `metadata` with `"sensitivity": "top-secret"` set (a usage error when it is not an object).
pub fn top_secret_metadata(metadata: Option<Value>) -> anyhow::Result<Value> {
    let mut metadata = metadata.unwrap_or_else(|| Value::Object(Default::default()));
    let object = metadata
        .as_object_mut()
        .ok_or_else(|| usage("--metadata must be a JSON object with --top-secret"))?;
    object.insert("sensitivity".into(), Value::String("top-secret".into()));
    Ok(metadata)
}

/// The media type of a file named `name`, from its extension (a short list of the usual
/// document types); `application/octet-stream` otherwise.
pub fn media_type_of(name: &Path) -> &'static str {
    let extension = name
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("mp4") => "video/mp4",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("pptx") => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn json_flags_take_text_or_a_file_and_name_the_flag_when_bad() {
        assert_eq!(json_arg("metadata", "{\"a\":1}").unwrap()["a"], 1);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "{\"b\":2}").unwrap();
        let arg = format!("@{}", file.path().display());
        assert_eq!(json_arg("challenge", &arg).unwrap()["b"], 2);
        let error = json_arg("challenge", "{nope").unwrap_err();
        assert!(error.to_string().contains("--challenge"), "{error}");
        assert!(json_arg("metadata", "@/nonexistent/x.json").is_err());
    }

    #[test]
    fn top_secret_metadata_is_merged_into_an_object_only() {
        let merged = top_secret_metadata(Some(serde_json::json!({"a": 1}))).unwrap();
        assert_eq!(
            merged,
            serde_json::json!({"a": 1, "sensitivity": "top-secret"})
        );
        assert!(top_secret_metadata(Some(serde_json::json!([1]))).is_err());
        assert_eq!(expiration("2031-02-03"), "2031-02-03T00:00:00Z");
        assert_eq!(expiration("2031-02-03T01:00:00Z"), "2031-02-03T01:00:00Z");
    }
}
