#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::fulfillment::FORM_URLENCODED;
use super::{Fulfillment, Method, parse_fulfillment};

fn refused(value: Value) -> String {
    parse_fulfillment(&value).unwrap_err().field
}

fn http() -> Value {
    json!({
        "type": "http",
        "href": "https://mailer.example.com/send{?campaign}",
        "method": "POST",
        "headers": {"Authorization": "Bearer {+api_token}", "X-Campaign": "{campaign}"},
        "contentType": "application/x-www-form-urlencoded",
        "body": "to={email_address}&link={+link}",
        "batch": false
    })
}

fn email() -> Value {
    json!({
        "type": "email",
        "from": "documents@example.com",
        "to": "{email_address}",
        "subject": "Your statement, {first_name}",
        "body": "Hello {first_name},\n\nYour statement is ready: {+link}\n"
    })
}

fn xmlrpc() -> Value {
    json!({"type": "xmlrpc", "href": "https://imm.example.com/RPC2", "methodName": "iMM.triggerMailing", "params": ["{api_key}", "{email_address}", "{+link}"]})
}

#[test]
fn the_design_http_example_parses() {
    let Fulfillment::Http {
        href,
        method,
        headers,
        content_type,
        body,
        batch,
    } = parse_fulfillment(&http()).unwrap()
    else {
        panic!("not http")
    };
    assert_eq!(href.variables(), ["campaign"]);
    assert_eq!(method, Method::Post);
    assert_eq!(headers["Authorization"].variables(), ["api_token"]);
    assert_eq!(content_type, FORM_URLENCODED);
    assert_eq!(body.variables(), ["email_address", "link"]);
    assert!(!batch);
}

#[test]
fn http_defaults_apply() {
    let value = json!({"type": "http", "href": "http://10.0.0.5:8025/hook"});
    let Fulfillment::Http {
        method,
        headers,
        content_type,
        body,
        batch,
        ..
    } = parse_fulfillment(&value).unwrap()
    else {
        panic!("not http")
    };
    assert_eq!(
        (method, content_type.as_str(), body.as_str(), batch),
        (Method::Post, FORM_URLENCODED, "", false)
    );
    assert!(headers.is_empty());
}

#[test]
fn type_must_be_known() {
    assert_eq!(refused(json!({"type": "sms"})), "fulfillment.type");
    assert_eq!(
        refused(json!({"href": "https://x.example/"})),
        "fulfillment.type"
    );
    assert_eq!(refused(json!("http")), "fulfillment");
}

#[test]
fn unknown_members_are_refused_by_name() {
    let mut value = email();
    value["batch"] = json!(true);
    assert_eq!(refused(value), "fulfillment.batch");
    let mut value = http();
    value["content_type"] = json!("text/plain");
    assert_eq!(refused(value), "fulfillment.content_type");
}

#[test]
fn method_is_only_post() {
    for method in [json!("GET"), json!("post"), json!(1)] {
        let mut value = http();
        value["method"] = method;
        assert_eq!(refused(value), "fulfillment.method");
    }
}

#[test]
fn http_href_is_an_http_or_https_template_with_a_written_scheme() {
    for href in [
        "ftp://x.example/",
        "{base}/send",
        "https://x.example/{a",
        "https://u:p@x.example/",
        "https://x.example/a b",
    ] {
        let mut value = http();
        value["href"] = json!(href);
        assert_eq!(refused(value), "fulfillment.href", "{href}");
    }
}

#[test]
fn header_names_are_http_tokens() {
    let mut value = http();
    value["headers"] = json!({"Bad Header": "x"});
    assert_eq!(refused(value), "fulfillment.headers.Bad Header");
    let mut value = http();
    value["headers"] = json!({"": "x"});
    assert_eq!(refused(value), "fulfillment.headers.");
}

#[test]
fn header_names_the_client_owns_are_refused() {
    for name in [
        "Content-Type",
        "host",
        "Content-Length",
        "Transfer-Encoding",
    ] {
        let mut value = http();
        value["headers"] = json!({name: "x"});
        assert_eq!(refused(value), format!("fulfillment.headers.{name}"));
    }
}

#[test]
fn header_names_are_unique_ignoring_case() {
    let mut value = http();
    value["headers"] = json!({"X-Token": "a", "x-token": "b"});
    assert_eq!(refused(value), "fulfillment.headers.x-token");
}

#[test]
fn header_values_are_one_line_printable_ascii_templates() {
    for header in [
        json!("a\r\nX-Injected: 1"),
        json!("Zoë"),
        json!("{a"),
        json!(5),
    ] {
        let mut value = http();
        value["headers"] = json!({"X-A": header});
        assert_eq!(refused(value), "fulfillment.headers.X-A", "{header}");
    }
}

#[test]
fn content_type_is_a_media_type() {
    for content_type in ["json", "text/", "a b/c", "text/plain\r\nX: y", ""] {
        let mut value = http();
        value["contentType"] = json!(content_type);
        assert_eq!(
            refused(value),
            "fulfillment.contentType",
            "{content_type:?}"
        );
    }
    let mut value = http();
    value["contentType"] = json!("text/plain; charset=utf-8");
    assert!(parse_fulfillment(&value).is_ok());
}

#[test]
fn http_body_is_strict_rfc_6570() {
    for body in ["{\"to\": \"{email}\"}", "to={email", "a b={c}", "100%"] {
        let mut value = http();
        value["body"] = json!(body);
        assert_eq!(refused(value), "fulfillment.body", "{body}");
    }
}

#[test]
fn batch_is_a_boolean() {
    let mut value = http();
    value["batch"] = json!("yes");
    assert_eq!(refused(value.clone()), "fulfillment.batch");
    value["batch"] = json!(true);
    assert!(matches!(
        parse_fulfillment(&value).unwrap(),
        Fulfillment::Http { batch: true, .. }
    ));
}

#[test]
fn the_design_email_example_parses() {
    let Fulfillment::Email {
        from,
        to,
        subject,
        body,
    } = parse_fulfillment(&email()).unwrap()
    else {
        panic!("not email")
    };
    assert_eq!(from, "documents@example.com");
    assert_eq!(to.variables(), ["email_address"]);
    assert_eq!(subject.variables(), ["first_name"]);
    assert_eq!(body.variables(), ["first_name", "link"]);
}

#[test]
fn email_from_is_a_plain_address() {
    for from in [
        "documents",
        "@example.com",
        "docs@",
        "Docs <docs@example.com>",
        "do..cs@example.com",
        "docs@exa mple.com",
        "zoë@example.com",
        "{sender}",
    ] {
        let mut value = email();
        value["from"] = json!(from);
        assert_eq!(refused(value), "fulfillment.from", "{from}");
    }
    let mut value = email();
    value["from"] = json!("sealpost+noreply@localhost");
    assert!(parse_fulfillment(&value).is_ok());
}

#[test]
fn email_to_and_subject_are_one_line_templates() {
    let mut value = email();
    value["subject"] = json!("Hi\r\nBcc: everyone@example.com");
    assert_eq!(refused(value), "fulfillment.subject");
    let mut value = email();
    value["to"] = json!("");
    assert_eq!(refused(value), "fulfillment.to");
    let mut value = email();
    value["body"] = json!("Hello {first_name");
    assert_eq!(refused(value), "fulfillment.body");
    let mut value = email();
    value.as_object_mut().unwrap().remove("subject");
    assert_eq!(refused(value), "fulfillment.subject");
}

#[test]
fn the_design_xmlrpc_example_parses() {
    let Fulfillment::XmlRpc {
        href,
        method_name,
        params,
    } = parse_fulfillment(&xmlrpc()).unwrap()
    else {
        panic!("not xmlrpc")
    };
    assert_eq!(href.as_str(), "https://imm.example.com/RPC2");
    assert_eq!(method_name, "iMM.triggerMailing");
    assert_eq!(params.len(), 3);
}

#[test]
fn xmlrpc_method_name_and_params_are_checked() {
    let mut value = xmlrpc();
    value["methodName"] = json!("<evil/>");
    assert_eq!(refused(value), "fulfillment.methodName");
    let mut value = xmlrpc();
    value["methodName"] = json!("");
    assert_eq!(refused(value), "fulfillment.methodName");
    let mut value = xmlrpc();
    value["params"] = json!(["{a}", 2]);
    assert_eq!(refused(value), "fulfillment.params[1]");
    let mut value = xmlrpc();
    value["params"] = json!(["{a}", "{b"]);
    assert_eq!(refused(value), "fulfillment.params[1]");
    let mut value = xmlrpc();
    value["params"] = json!("{a}");
    assert_eq!(refused(value), "fulfillment.params");
}
