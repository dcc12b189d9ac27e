#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{Audience, parse_audience};

/// The field path of the error `value` is refused with.
fn refused(value: Value) -> String {
    parse_audience(&value).unwrap_err().field
}

/// The spec's records example, with a few more records.
fn records_example() -> Value {
    json!({
        "type": "records",
        "viewerToken": "{?telephone,first_name}",
        "data": {"records": [
            {"email_address": "h.piltdown@ipo.st", "first_name": "Harry", "last_name": "Piltdown", "telephone": "4154445511"},
            {"email_address": "z.ok@ipo.st", "first_name": "Zoë", "last_name": "Ok", "telephone": "4154445512"},
            {"email_address": "a.b@ipo.st", "first_name": "Al", "last_name": "B", "telephone": "4154445513"},
            {"email_address": "c.d@ipo.st", "first_name": "Cy", "last_name": "D", "telephone": "4154445514"}
        ]}
    })
}

fn with_records(records: Value) -> Value {
    json!({"type": "records", "viewerToken": null, "data": {"records": records}})
}

#[test]
fn the_spec_records_example_parses() {
    let Audience::Records {
        viewer_token,
        records,
    } = parse_audience(&records_example()).unwrap()
    else {
        panic!("not a records audience")
    };
    let token = viewer_token.unwrap();
    assert_eq!(token.as_str(), "{?telephone,first_name}");
    assert_eq!(token.variables(), ["telephone", "first_name"]);
    assert_eq!(records.len(), 4);
    assert_eq!(records.get(1).unwrap().get("first_name"), Some("Zoë"));
    let found: Vec<usize> = records
        .matching(&[("telephone", "4154445513"), ("first_name", "Al")])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found, [2]);
}

#[test]
fn the_spec_octet_stream_example_parses() {
    let value = json!({"type": "octet-stream", "viewerToken": "{?email_address}", "data": "aGVsbG8gd29ybGQ="});
    let audience = parse_audience(&value).unwrap();
    assert_eq!(
        audience,
        Audience::OctetStream {
            viewer_token: Some("{?email_address}".into()),
            data: "aGVsbG8gd29ybGQ=".into()
        }
    );
}

#[test]
fn type_must_be_octet_stream_or_records() {
    assert_eq!(
        refused(json!({"type": "csv", "data": "x"})),
        "audience.type"
    );
    assert_eq!(refused(json!({"data": "aGk="})), "audience.type");
    assert_eq!(refused(json!({"type": 7, "data": "aGk="})), "audience.type");
    assert_eq!(refused(json!([1, 2])), "audience");
}

#[test]
fn unknown_members_are_refused_by_name() {
    let mut value = records_example();
    value["viewertoken"] = json!("{?telephone}");
    assert_eq!(refused(value), "audience.viewertoken");
    let mut value = records_example();
    value["data"]["count"] = json!(4);
    assert_eq!(refused(value), "audience.data.count");
}

#[test]
fn octet_stream_data_must_be_base64() {
    let audience = |data: Value| json!({"type": "octet-stream", "viewerToken": null, "data": data});
    assert_eq!(refused(audience(json!("not base64!"))), "audience.data");
    assert_eq!(refused(audience(json!(""))), "audience.data");
    assert_eq!(refused(audience(json!({"records": []}))), "audience.data");
    assert_eq!(refused(json!({"type": "octet-stream"})), "audience.data");
    assert!(
        parse_audience(&audience(json!("aGk"))).is_ok(),
        "padding is optional"
    );
}

#[test]
fn octet_stream_viewer_token_is_not_checked() {
    for token in [json!("{?email_address}"), json!("anything {"), json!(null)] {
        let value = json!({"type": "octet-stream", "viewerToken": token, "data": "aGk="});
        assert!(parse_audience(&value).is_ok(), "{token}");
    }
    let value = json!({"type": "octet-stream", "viewerToken": 5, "data": "aGk="});
    assert_eq!(refused(value), "audience.viewerToken");
}

#[test]
fn records_must_be_a_non_empty_array() {
    assert_eq!(refused(with_records(json!([]))), "audience.data.records");
    assert_eq!(
        refused(with_records(json!({"a": "b"}))),
        "audience.data.records"
    );
    assert_eq!(
        refused(json!({"type": "records", "data": {}})),
        "audience.data.records"
    );
    assert_eq!(
        refused(json!({"type": "records", "data": "aGk="})),
        "audience.data"
    );
}

#[test]
fn each_record_must_be_an_object() {
    assert_eq!(
        refused(with_records(json!([{"a": "1"}, "a=2"]))),
        "audience.data.records[1]"
    );
}

#[test]
fn record_values_must_be_strings() {
    let error = parse_audience(&with_records(json!([{"telephone": 4154445511_u64}]))).unwrap_err();
    assert_eq!(error.field, "audience.data.records[0].telephone");
    assert!(error.detail.contains("string"), "{}", error.detail);
    assert!(
        !error.detail.contains("4154445511"),
        "values are not echoed"
    );
    assert_eq!(
        refused(with_records(json!([{"a": "1"}, {"a": null}]))),
        "audience.data.records[1].a"
    );
}

#[test]
fn records_must_share_the_same_field_names() {
    let mut value = records_example();
    value["data"]["records"][3]
        .as_object_mut()
        .unwrap()
        .remove("last_name");
    let error = parse_audience(&value).unwrap_err();
    assert_eq!(error.field, "audience.data.records[3]");
    assert!(error.detail.contains("last_name"), "{}", error.detail);
    let mut value = records_example();
    value["data"]["records"][2]["zip"] = json!("94110");
    assert_eq!(refused(value), "audience.data.records[2]");
}

#[test]
fn viewer_token_must_be_one_query_expression_and_nothing_else() {
    for token in [
        "{telephone}",
        "{&telephone}",
        "{+telephone}",
        "x{?telephone}",
        "{?telephone}x",
        "{?telephone}{?first_name}",
        "?telephone",
        "",
    ] {
        let mut value = records_example();
        value["viewerToken"] = json!(token);
        assert_eq!(refused(value), "audience.viewerToken", "{token}");
    }
}

#[test]
fn viewer_token_variables_have_no_modifiers() {
    for token in [
        "{?telephone:3}",
        "{?telephone*}",
        "{?first_name,telephone:10}",
    ] {
        let mut value = records_example();
        value["viewerToken"] = json!(token);
        assert_eq!(refused(value), "audience.viewerToken", "{token}");
    }
}

#[test]
fn viewer_token_variables_are_not_repeated() {
    let mut value = records_example();
    value["viewerToken"] = json!("{?telephone,telephone}");
    let error = parse_audience(&value).unwrap_err();
    assert_eq!(error.field, "audience.viewerToken");
    assert!(error.detail.contains("twice"), "{}", error.detail);
}

#[test]
fn viewer_token_variables_must_be_record_fields() {
    let mut value = records_example();
    value["viewerToken"] = json!("{?telephone,zip}");
    let error = parse_audience(&value).unwrap_err();
    assert_eq!(error.field, "audience.viewerToken");
    assert!(error.detail.contains("\"zip\""), "{}", error.detail);
}

#[test]
fn records_viewer_token_may_be_null_or_absent() {
    let mut value = records_example();
    value["viewerToken"] = Value::Null;
    assert!(parse_audience(&value).is_ok());
    value.as_object_mut().unwrap().remove("viewerToken");
    assert!(parse_audience(&value).is_ok());
}
