//! The hostile requests, one per way a producer route can be misused.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder};
use serde_json::json;

use crate::common::{TestApp, document_form};

/// A multipart body written by hand (for shapes reqwest will not produce).
fn raw_multipart(
    app: &TestApp,
    token: &str,
    path: &str,
    boundary: &str,
    body: &str,
) -> RequestBuilder {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body.to_owned())
}

pub(super) fn cases(app: &TestApp, token: &str, id: &str) -> Vec<(String, RequestBuilder)> {
    let doc = format!("/documents/{id}");
    let c = &app.client;
    let auth = |method: Method, path: &str| c.request(method, app.url(path)).bearer_auth(token);
    let upload = |form: Form| {
        c.post(app.url("/documents"))
            .bearer_auth(token)
            .multipart(form)
    };
    let update = |form: Form| c.post(app.url(&doc)).bearer_auth(token).multipart(form);
    let put_json = |part: &str, body: String| {
        c.put(app.url(&format!("{doc}/{part}")))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
    };
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long_name = "n".repeat(5000);
    let mut cases: Vec<(&str, RequestBuilder)> = vec![
        // --- POST /documents: the body ---
        (
            "no content type",
            auth(Method::POST, "/documents").body("hello"),
        ),
        (
            "json body",
            auth(Method::POST, "/documents").json(&json!({"name": "x"})),
        ),
        (
            "urlencoded body",
            auth(Method::POST, "/documents")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=x"),
        ),
        (
            "multipart without boundary",
            auth(Method::POST, "/documents")
                .header("content-type", "multipart/form-data")
                .body("--x\r\n"),
        ),
        (
            "empty multipart",
            raw_multipart(app, token, "/documents", "B", "--B--\r\n"),
        ),
        (
            "truncated multipart",
            raw_multipart(
                app,
                token,
                "/documents",
                "B",
                "--B\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a\"\r\n\r\nabc",
            ),
        ),
        (
            "part without disposition",
            raw_multipart(
                app,
                token,
                "/documents",
                "B",
                "--B\r\nContent-Type: text/plain\r\n\r\nabc\r\n--B--\r\n",
            ),
        ),
        (
            "part without name",
            raw_multipart(
                app,
                token,
                "/documents",
                "B",
                "--B\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nabc\r\n--B--\r\n",
            ),
        ),
        (
            "garbage boundary lines",
            raw_multipart(app, token, "/documents", "B", "garbage\r\n\r\n\r\n--B-"),
        ),
        (
            "nested multipart",
            raw_multipart(
                app,
                token,
                "/documents",
                "B",
                "--B\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a\"\r\nContent-Type: multipart/mixed; boundary=C\r\n\r\n--C\r\n\r\nx\r\n--C--\r\n--B--\r\n",
            ),
        ),
        (
            "no document part",
            upload(Form::new().text("name", "x.pdf")),
        ),
        (
            "two document parts",
            upload(
                document_form("a", b"a".to_vec())
                    .part("document", Part::bytes(b"b".to_vec()).file_name("b")),
            ),
        ),
        (
            "unknown part",
            upload(document_form("a", b"a".to_vec()).text("owner", "me")),
        ),
        (
            "binary name",
            upload(
                document_form("a", b"a".to_vec()).part("name", Part::bytes(vec![0xff, 0xfe, 0x00])),
            ),
        ),
        // --- names ---
        (
            "empty name",
            upload(document_form("a", b"a".to_vec()).text("name", "")),
        ),
        (
            "blank name",
            upload(document_form("a", b"a".to_vec()).text("name", "   ")),
        ),
        (
            "name with NUL",
            upload(document_form("a", b"a".to_vec()).text("name", "a\0b")),
        ),
        (
            "name with newline",
            upload(document_form("a", b"a".to_vec()).text("name", "a\r\nX-Injected: 1")),
        ),
        (
            "name with escape",
            upload(document_form("a", b"a".to_vec()).text("name", "\u{1b}[31mred")),
        ),
        (
            "very long name",
            upload(document_form("a", b"a".to_vec()).text("name", long_name.clone())),
        ),
        (
            "name climbing out",
            upload(document_form("a", b"a".to_vec()).text("name", "../../etc/passwd")),
        ),
        (
            "name climbing in the middle",
            upload(document_form("a", b"a".to_vec()).text("name", "reports/../../secret")),
        ),
        (
            "absolute name",
            upload(document_form("a", b"a".to_vec()).text("name", "/etc/passwd")),
        ),
        (
            "backslash name",
            upload(document_form("a", b"a".to_vec()).text("name", "..\\..\\boot.ini")),
        ),
        (
            "filename climbing out",
            upload(document_form("../../../x", b"a".to_vec())),
        ),
        (
            "filename with control characters",
            upload(document_form("a\u{7}b", b"a".to_vec())),
        ),
        // --- expiration ---
        (
            "expiration garbage",
            upload(document_form("a", b"a".to_vec()).text("expiration", "soon")),
        ),
        (
            "expiration in the past",
            upload(document_form("a", b"a".to_vec()).text("expiration", "1999-12-31T23:59:59Z")),
        ),
        (
            "expiration now-ish",
            upload(document_form("a", b"a".to_vec()).text("expiration", "1970-01-01T00:00:00Z")),
        ),
        (
            "expiration number",
            upload(document_form("a", b"a".to_vec()).text("expiration", "1700000000")),
        ),
        (
            "expiration absurd year",
            upload(document_form("a", b"a".to_vec()).text("expiration", "99999-01-01T00:00:00Z")),
        ),
        (
            "expiration bad month",
            upload(document_form("a", b"a".to_vec()).text("expiration", "2030-13-01T00:00:00Z")),
        ),
        (
            "expiration huge",
            upload(document_form("a", b"a".to_vec()).text("expiration", "9".repeat(5000))),
        ),
        // --- JSON parts ---
        (
            "audience array",
            upload(document_form("a", b"a".to_vec()).text("audience", "[]")),
        ),
        (
            "audience string",
            upload(document_form("a", b"a".to_vec()).text("audience", "\"records\"")),
        ),
        (
            "audience number",
            upload(document_form("a", b"a".to_vec()).text("audience", "42")),
        ),
        (
            "audience truncated",
            upload(document_form("a", b"a".to_vec()).text("audience", "{\"type\": \"rec")),
        ),
        (
            "audience deeply nested",
            upload(document_form("a", b"a".to_vec()).text("audience", deep.clone())),
        ),
        (
            "audience records not an array",
            upload(
                document_form("a", b"a".to_vec()).text(
                    "audience",
                    json!({"type": "records", "viewerToken": null, "data": {"records": {}}})
                        .to_string(),
                ),
            ),
        ),
        (
            "challenge empty object",
            upload(document_form("a", b"a".to_vec()).text("challenge", "{}")),
        ),
        (
            "challenge wrong data shape",
            upload(document_form("a", b"a".to_vec()).text(
                "challenge",
                json!({"type": "HTTP-Auth", "data": []}).to_string(),
            )),
        ),
        (
            "landingpage javascript",
            upload(document_form("a", b"a".to_vec()).text(
                "landingpage",
                json!({"type": "url", "href": "javascript:alert(1)"}).to_string(),
            )),
        ),
        (
            "metadata huge",
            upload(
                document_form("a", b"a".to_vec())
                    .text("metadata", json!({"pad": "x".repeat(2 << 20)}).to_string()),
            ),
        ),
        (
            "metadata invalid UTF-8",
            upload(
                document_form("a", b"a".to_vec())
                    .part("metadata", Part::bytes(vec![b'{', 0xc3, 0x28, b'}'])),
            ),
        ),
        (
            "metadata duplicate",
            upload(
                document_form("a", b"a".to_vec())
                    .text("metadata", "{}")
                    .text("metadata", "{}"),
            ),
        ),
        // --- ids of the wrong shape, unknown ids ---
        (
            "unknown id",
            auth(Method::GET, "/documents/AAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("short id", auth(Method::GET, "/documents/abc")),
        (
            "padded id",
            auth(Method::GET, &format!("/documents/{id}==")),
        ),
        (
            "encoded traversal",
            auth(Method::GET, "/documents/..%2F..%2Fetc%2Fpasswd/document"),
        ),
        (
            "encoded NUL",
            auth(Method::GET, &format!("/documents/{id}%00/document")),
        ),
        (
            "huge id",
            auth(Method::GET, &format!("/documents/{}", "A".repeat(10_000))),
        ),
        (
            "unknown sub-resource",
            auth(Method::GET, &format!("{doc}/owner")),
        ),
        (
            "unknown id delete",
            auth(Method::DELETE, "/documents/BBBBBBBBBBBBBBBBBBBBBB"),
        ),
        (
            "unknown id update",
            c.post(app.url("/documents/BBBBBBBBBBBBBBBBBBBBBB"))
                .bearer_auth(token)
                .multipart(Form::new().text("name", "x")),
        ),
        (
            "unknown id put",
            c.put(app.url("/documents/BBBBBBBBBBBBBBBBBBBBBB/metadata"))
                .bearer_auth(token)
                .json(&json!({})),
        ),
        // --- updates and PUTs of the existing document ---
        (
            "update past expiration",
            update(Form::new().text("expiration", "2001-01-01T00:00:00Z")),
        ),
        (
            "update bad challenge",
            update(Form::new().text("challenge", json!({"type": "HTTP-Auth"}).to_string())),
        ),
        (
            "update hostile name",
            update(Form::new().text("name", "../x")),
        ),
        (
            "update unknown part",
            update(Form::new().text("colour", "red")),
        ),
        (
            "update json body",
            c.post(app.url(&doc))
                .bearer_auth(token)
                .json(&json!({"name": "x"})),
        ),
        (
            "put record",
            c.put(app.url(&doc)).bearer_auth(token).json(&json!({})),
        ),
        ("patch record", auth(Method::PATCH, &doc)),
        (
            "put part wrong type",
            c.put(app.url(&format!("{doc}/metadata")))
                .bearer_auth(token)
                .header("content-type", "text/plain")
                .body("{}"),
        ),
        (
            "put part no type",
            c.put(app.url(&format!("{doc}/metadata")))
                .bearer_auth(token)
                .body("{}"),
        ),
        (
            "put part broken json",
            put_json("metadata", "{\"a\":".into()),
        ),
        ("put part array", put_json("audience", "[1,2,3]".into())),
        ("put part deep", put_json("metadata", deep)),
        (
            "put audience invalid",
            put_json("audience", json!({"type": "records"}).to_string()),
        ),
        (
            "put audience type change",
            put_json(
                "audience",
                json!({"type": "octet-stream", "viewerToken": null, "data": ""}).to_string(),
            ),
        ),
        ("put unknown part", put_json("owner", "{}".into())),
        (
            "put content bad date",
            c.put(app.url(&format!("{doc}/document?lastModified=tomorrow")))
                .bearer_auth(token)
                .body("x"),
        ),
        (
            "delete content",
            auth(Method::DELETE, &format!("{doc}/document")),
        ),
        (
            "delete bad date",
            auth(Method::DELETE, &format!("{doc}?lastModified=0")),
        ),
        (
            "delete audience needed by challenge",
            auth(Method::DELETE, &format!("{doc}/audience")),
        ),
        // --- browse ---
        (
            "browse bad limit",
            auth(Method::GET, "/documents?limit=abc"),
        ),
        (
            "browse negative limit",
            auth(Method::GET, "/documents?limit=-1"),
        ),
        (
            "browse bad cursor",
            auth(Method::GET, "/documents?after=%2e%2e"),
        ),
        // --- authentication ---
        ("no credentials", c.get(app.url(&doc))),
        (
            "huge token",
            c.get(app.url(&doc)).bearer_auth("x".repeat(8000)),
        ),
        (
            "token of nothing",
            c.get(app.url(&doc)).header("authorization", "Basic "),
        ),
        (
            "non-ASCII credentials",
            c.get(app.url(&doc)).header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            ),
        ),
        (
            "login empty",
            c.post(app.url("/login")).multipart(Form::new()),
        ),
        (
            "login huge key",
            c.post(app.url("/login")).multipart(
                Form::new()
                    .text("key", "k".repeat(20_000))
                    .text("email", "a@b.c"),
            ),
        ),
        (
            "login binary key",
            c.post(app.url("/login")).multipart(
                Form::new()
                    .part("key", Part::bytes(vec![0, 159, 146, 150]))
                    .text("email", "a@b.c"),
            ),
        ),
        (
            "login json",
            c.post(app.url("/login")).json(&json!({"key": "k"})),
        ),
        ("logout without token", c.post(app.url("/logout"))),
        ("get login", c.get(app.url("/login"))),
    ];
    cases.extend([("junk path", auth(Method::GET, "/%ff%fe/../../"))]);
    cases
        .into_iter()
        .map(|(name, request)| (name.to_owned(), request))
        .collect()
}
