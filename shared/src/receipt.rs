//! Signed view receipts (DESIGN.md, "The auditor's report"): what one audience record did with
//! one document, signed by the instance key so an auditor can check it offline against
//! `GET /.well-known/sealpost-keys`.
//!
//! A receipt is one JSON object with a member `signature` =
//! `{"alg": "Ed25519", "keyId": "…", "value": "<base64url, no padding>"}`. The signed bytes are
//!
//! ```text
//! sealpost-receipt-v1\n{canonical JSON of the receipt without its "signature" member}
//! ```
//!
//! Canonical JSON is RFC 8785 (JCS) for the values a receipt holds (strings, integers,
//! booleans, null, arrays, objects; never a fraction): members sorted by name, no whitespace,
//! strings escaped as `serde_json` writes them (`\"`, `\\`, `\b \f \n \r \t`, other control
//! characters as `\u00xx`, everything else as UTF-8), which is JCS's rule. So the signature
//! does not depend on how the file was pretty-printed or on member order, but any change of a
//! value breaks it. The prefix keeps a receipt signature from ever being taken for another
//! signature of the same key (signed responses sign `{date}\n{sha256}`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::SigningKey;
use crate::published_keys::{ED25519, KeySet, SignatureError};

/// The signed bytes' prefix, naming the format.
pub const CONTEXT: &[u8] = b"sealpost-receipt-v1\n";

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt is not a JSON object")]
    NotAnObject,
    #[error("the receipt has no signature member {{\"alg\", \"keyId\", \"value\"}}")]
    NoSignature,
    #[error("the receipt holds a number that is not an integer, which no receipt does")]
    Fraction,
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// `receipt` (an object without `signature`) with its signature member added.
pub fn sign(key: &SigningKey, mut receipt: Map<String, Value>) -> Result<Value, ReceiptError> {
    receipt.remove("signature");
    let message = signed_bytes(&receipt)?;
    let value = URL_SAFE_NO_PAD.encode(key.sign(&message));
    let signature = serde_json::json!({"alg": ED25519, "keyId": key.key_id(), "value": value});
    receipt.insert("signature".to_owned(), signature);
    Ok(Value::Object(receipt))
}

/// Checks `receipt` (the parsed file) against `keys`; the key id it names must be among them.
pub fn verify(receipt: &Value, keys: &KeySet) -> Result<(), ReceiptError> {
    let mut body = receipt
        .as_object()
        .ok_or(ReceiptError::NotAnObject)?
        .clone();
    let signature = body.remove("signature").ok_or(ReceiptError::NoSignature)?;
    let field = |name: &str| signature.get(name).and_then(Value::as_str);
    let (Some(alg), Some(key_id), Some(value)) = (field("alg"), field("keyId"), field("value"))
    else {
        return Err(ReceiptError::NoSignature);
    };
    if alg != ED25519 {
        return Err(SignatureError::Algorithm(alg.to_owned()).into());
    }
    keys.verify(key_id, &signed_bytes(&body)?, value)?;
    Ok(())
}

/// [`CONTEXT`] followed by the canonical JSON of `body`.
pub fn signed_bytes(body: &Map<String, Value>) -> Result<Vec<u8>, ReceiptError> {
    let mut out = CONTEXT.to_vec();
    write_object(&mut out, body)?;
    Ok(out)
}

fn write_object(out: &mut Vec<u8>, object: &Map<String, Value>) -> Result<(), ReceiptError> {
    let mut members: Vec<(&String, &Value)> = object.iter().collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (position, (name, value)) in members.into_iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_scalar(out, &Value::String(name.clone()))?;
        out.push(b':');
        write_canonical(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) -> Result<(), ReceiptError> {
    match value {
        Value::Object(object) => write_object(out, object),
        Value::Array(items) => {
            out.push(b'[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_canonical(out, item)?;
            }
            out.push(b']');
            Ok(())
        }
        Value::Number(number) if !(number.is_i64() || number.is_u64()) => {
            Err(ReceiptError::Fraction)
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_scalar(out: &mut Vec<u8>, scalar: &Value) -> Result<(), ReceiptError> {
    // Writing a string, integer, boolean or null into a Vec cannot fail.
    serde_json::to_writer(out, scalar).map_err(|_| ReceiptError::NotAnObject)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn body() -> Map<String, Value> {
        json!({"z": [1, "a\n\u{1}é"], "a": {"y": null, "b": true}})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn canonical_bytes_sort_members_and_drop_whitespace() {
        let bytes = signed_bytes(&body()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "sealpost-receipt-v1\n{\"a\":{\"b\":true,\"y\":null},\"z\":[1,\"a\\n\\u0001é\"]}"
        );
    }

    #[test]
    fn a_signed_receipt_verifies_and_a_changed_one_does_not() {
        let key = SigningKey::generate().unwrap();
        let keys = KeySet::of(&key);
        let signed = sign(&key, body()).unwrap();
        let pretty = serde_json::to_string_pretty(&signed).unwrap();
        verify(&serde_json::from_str(&pretty).unwrap(), &keys).unwrap();
        let changed = pretty.replace("true", "false");
        assert!(verify(&serde_json::from_str(&changed).unwrap(), &keys).is_err());
        let other = KeySet::of(&SigningKey::generate().unwrap());
        assert!(verify(&signed, &other).is_err());
        let mut unsigned = signed.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert!(matches!(
            verify(&unsigned, &keys),
            Err(ReceiptError::NoSignature)
        ));
        let fraction = json!({"n": 1.5}).as_object().cloned().unwrap();
        assert!(matches!(sign(&key, fraction), Err(ReceiptError::Fraction)));
    }
}
