//! Conditional requests (`?lastModified=`) and racing writers.

use serde_json::Value;

use crate::common::{Db, TestApp, on_both_databases};
use crate::updates::{id_of, upload_full};

on_both_databases!(
    conditional_put_of_the_content,
    conditional_delete,
    malformed_last_modified_is_400,
    racing_conditional_writes_have_exactly_one_winner,
);

async fn last_modified(app: &TestApp, token: &str, id: &str) -> String {
    let response = app
        .get(token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    response.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn put_content(
    app: &TestApp,
    token: &str,
    id: &str,
    since: Option<&str>,
    body: &'static [u8],
) -> u16 {
    let mut request = app
        .client
        .put(app.url(&format!("/documents/{id}/document")))
        .bearer_auth(token);
    if let Some(since) = since {
        request = request.query(&[("lastModified", since)]);
    }
    request
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn conditional_put_of_the_content(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let first = last_modified(&app, &token, &id).await;
    assert_eq!(
        put_content(&app, &token, &id, Some(&first), b"two").await,
        204,
        "unmodified since: written"
    );
    let second = last_modified(&app, &token, &id).await;
    assert!(
        httpdate::parse_http_date(&second).unwrap() > httpdate::parse_http_date(&first).unwrap()
    );
    assert_eq!(
        put_content(&app, &token, &id, Some(&first), b"three").await,
        304,
        "modified since: refused"
    );
    assert_eq!(
        app.download(&token, &id).await.unwrap(),
        b"two",
        "nothing changed"
    );
    assert_eq!(
        app.object_files().len(),
        1,
        "the refused content left nothing"
    );
    assert_eq!(
        put_content(
            &app,
            &token,
            &id,
            Some("Tue, 01 Jan 2999 00:00:00 GMT"),
            b"four"
        )
        .await,
        204
    );
    assert_eq!(put_content(&app, &token, &id, None, b"five").await, 204);
    assert_eq!(app.download(&token, &id).await.unwrap(), b"five");
}

async fn conditional_delete(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let stale = "Mon, 01 Jan 2001 00:00:00 GMT";
    let response = app
        .delete(&token, &format!("/documents/{id}"))
        .query(&[("lastModified", stale)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(
        app.download(&token, &id).await.unwrap(),
        b"v1",
        "not deleted"
    );
    let current = last_modified(&app, &token, &id).await;
    let response = app
        .delete(&token, &format!("/documents/{id}"))
        .query(&[("lastModified", current)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(app.object_files().is_empty());
}

async fn malformed_last_modified_is_400(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    for bad in ["yesterday", "2030-01-01T00:00:00Z", ""] {
        let response = app
            .delete(&token, &format!("/documents/{id}"))
            .query(&[("lastModified", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], "lastModified");
        assert_eq!(put_content(&app, &token, &id, Some(bad), b"x").await, 400);
    }
    assert_eq!(app.download(&token, &id).await.unwrap(), b"v1");
}

/// Two writers race with the same `?lastModified=`: each time exactly one wins (204) and the
/// other is refused (304), and the stored content is the winner's.
async fn racing_conditional_writes_have_exactly_one_winner(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    for round in 0..100 {
        let since = last_modified(&app, &token, &id).await;
        let (a, b) = tokio::join!(
            put_content(&app, &token, &id, Some(&since), b"writer A"),
            put_content(&app, &token, &id, Some(&since), b"writer B"),
        );
        let mut statuses = [a, b];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 304], "round {round}");
        let expected: &[u8] = if a == 204 { b"writer A" } else { b"writer B" };
        assert_eq!(
            app.download(&token, &id).await.unwrap(),
            expected,
            "round {round}"
        );
    }
    assert_eq!(app.object_files().len(), 1, "losers left nothing");
}
