//! The deliver request's refusals: each a problem naming the field, nothing queued.

use serde_json::{Value, json};

use super::{bearer, deliver, post_deliver, three_records, upload};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(refusals_name_the_field, other_producers_see_404);

fn http() -> Value {
    json!({"type": "http", "href": "http://127.0.0.1:9/hook", "body": "to={email_address}"})
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

async fn refusals_name_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let none = upload(&app, &token, &three_records(), &Value::Null).await;
    let problem_409 = problem(post_deliver(&app, &token, &none, &[]).await, 409).await;
    assert!(
        problem_409["detail"]
            .as_str()
            .unwrap()
            .contains("no fulfillment"),
        "{problem_409}"
    );

    let id = upload(&app, &token, &three_records(), &http()).await;
    for (fields, status, field) in [
        (vec![("link", "x")], 422, "link"),
        (vec![("docId", "x")], 422, "docId"),
        (vec![("not-a-var", "x")], 422, "not-a-var"),
        (vec![("smtp_url", "smtp://127.0.0.1:25")], 422, "smtp_url"),
        (vec![("a", "1"), ("a", "2")], 400, "a"),
    ] {
        let body = problem(post_deliver(&app, &token, &id, &fields).await, status).await;
        assert_eq!(body["field"], field, "{body}");
    }
    let big = "x".repeat(64 * 1024 + 1);
    let body = problem(post_deliver(&app, &token, &id, &[("a", &big)]).await, 413).await;
    assert_eq!(body["field"], "a");
    let json_body = app
        .client
        .post(app.url(&format!("/documents/{id}/deliver")))
        .bearer_auth(&token)
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    problem(json_body, 415).await;
    let get = app
        .get(&token, &format!("/documents/{id}/deliver"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);

    let email = json!({"type": "email", "from": "d@sealpost.example", "to": "{+email_address}", "subject": "s", "body": "{+link}"});
    let mail = upload(&app, &token, &three_records(), &email).await;
    let body = problem(post_deliver(&app, &token, &mail, &[]).await, 422).await;
    assert_eq!(
        body["field"], "smtp_url",
        "no SMTP server here nor in the config"
    );
    for bad in ["http://127.0.0.1:25", "smtp://", "smtp://h/path"] {
        let body = problem(
            post_deliver(&app, &token, &mail, &[("smtp_url", bad)]).await,
            422,
        )
        .await;
        assert_eq!(body["field"], "smtp_url");
        assert!(
            !body.to_string().contains(bad) || bad == "smtp://",
            "the URL is not echoed: {body}"
        );
    }

    // Unauthenticated: 401; nothing of the above queued a job.
    let anonymous = app
        .client
        .post(app.url(&format!("/documents/{id}/deliver")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let repo = app.repo().await;
    let now = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(
        repo.claim_delivery_jobs(now, now, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn other_producers_see_404(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = upload(&app, &token, &three_records(), &http()).await;
    let location = deliver(&app, &token, &id, &[]).await;
    let other_key = app.add_producer("other").await;
    let other = app.login_with(&other_key).await;
    problem(post_deliver(&app, &other, &id, &[]).await, 404).await;
    let response = app
        .client
        .get(&location)
        .header("Authorization", bearer(&other))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let unknown = format!(
        "{}/documents/{id}/deliveries/AAAAAAAAAAAAAAAAAAAAAA",
        app.api
    );
    let response = app
        .client
        .get(&unknown)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let junk = format!("{}/documents/{id}/deliveries/..%2F", app.api);
    let response = app
        .client
        .get(&junk)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
