//! Scopes (issue 16, item 2), walking `api_server::routes::ROUTES`: for each scope, a key
//! holding every scope but it is refused (403 naming it) on every route that needs it, and a key
//! holding only it gets past authorization there; no credential is 401 with `WWW-Authenticate`
//! on every route that is not public.

use api_server::routes::{Access, ROUTES, Route};
use reqwest::Method;
use schema::Scope;
use serde_json::Value;

use super::api_keys::{key_with, with_key};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    each_scope_is_required_and_sufficient_on_every_route,
    no_credential_is_401_on_every_route_that_is_not_public,
);

/// The route's path with its parameters filled: a real document where it names one.
pub fn path_of(route: &Route, doc_id: &str) -> String {
    route
        .path
        .replace("{doc_id}", doc_id)
        .replace("{part}", "metadata")
        .replace("{id}", "no-such-delivery")
        .replace("{name}", "no-such-key")
        .replace("{key_id}", "no-such-key")
        .replace("{n}", "1")
}

fn method_of(route: &Route) -> Method {
    Method::from_bytes(route.method.as_bytes()).unwrap()
}

/// The status of `route` requested with `key` (no body), its body dropped unread.
async fn status(app: &TestApp, route: &Route, doc_id: &str, key: &str) -> (u16, Value) {
    let url = app.url(&path_of(route, doc_id));
    let response = with_key(app.client.request(method_of(route), url), key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let problem = if status == 403 {
        response.json().await.unwrap()
    } else {
        Value::Null
    };
    (status, problem)
}

async fn each_scope_is_required_and_sufficient_on_every_route(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    for scope in Scope::ALL {
        let routes: Vec<&Route> = ROUTES
            .iter()
            .filter(|route| route.access == Access::Scope(scope))
            .collect();
        assert!(!routes.is_empty(), "no route needs {scope}");
        let others: Vec<&str> = Scope::ALL
            .iter()
            .filter(|other| **other != scope)
            .map(|other| other.as_str())
            .collect();
        let lacking = key_with(&app, &token, &format!("all-but-{scope}"), &others).await;
        let holding = key_with(&app, &token, &format!("only-{scope}"), &[scope.as_str()]).await;
        // A document of its own for each scope: the walk may delete it.
        let doc = app.upload(&token, "scoped.txt", b"scoped".to_vec()).await;
        let doc_id = doc["id"].as_str().unwrap();
        for route in routes {
            let what = format!("{} {} without {scope}", route.method, route.path);
            let (refused, problem) = status(&app, route, doc_id, &lacking.key).await;
            assert_eq!(refused, 403, "{what}");
            assert_eq!(problem["status"], 403, "{what}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(&format!("`{scope}`")), "{what}: {problem}");
            let (allowed, _) = status(&app, route, doc_id, &holding.key).await;
            assert!(
                allowed != 401 && allowed != 403,
                "{} {} with only {scope}: {allowed}",
                route.method,
                route.path
            );
        }
    }
}

async fn no_credential_is_401_on_every_route_that_is_not_public(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = app.upload(&token, "anonymous.txt", b"x".to_vec()).await;
    let doc_id = doc["id"].as_str().unwrap();
    for route in ROUTES.iter().filter(|route| route.access != Access::Public) {
        let url = app.url(&path_of(route, doc_id));
        let response = app
            .client
            .request(method_of(route), url)
            .send()
            .await
            .unwrap();
        let what = format!("{} {}", route.method, route.path);
        assert_eq!(response.status(), 401, "{what}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{what}"
        );
    }
}
