//! The API is never open: every `/api` route needs a valid bearer token; health and docs are
//! public.

use crate::common;

use common::{assert_no_leak, count};
use relata_testkit::{Client, Resp, TestApp};
use reqwest::Method;
use serde_json::json;

/// Every `/api` route, with real path parameters.
fn api_routes(id: &str) -> Vec<(Method, String)> {
    let rec = format!("/api/v1/records/account/{id}");
    vec![
        (Method::GET, "/api/v1/records/account".into()),
        (Method::POST, "/api/v1/records/account".into()),
        (Method::GET, rec.clone()),
        (Method::PATCH, rec.clone()),
        (Method::DELETE, rec.clone()),
        (Method::POST, format!("{rec}/restore")),
        (Method::GET, format!("{rec}/history")),
        (Method::POST, "/api/v1/records/account/bulk".into()),
        (Method::GET, "/api/v1/meta/objects".into()),
        (Method::POST, "/api/v1/meta/objects".into()),
        (Method::GET, "/api/v1/meta/objects/account".into()),
        (Method::POST, "/api/v1/meta/objects/account/fields".into()),
        (
            Method::PATCH,
            "/api/v1/meta/objects/account/fields/tax_id".into(),
        ),
        (
            Method::DELETE,
            "/api/v1/meta/objects/account/fields/tax_id".into(),
        ),
        (Method::GET, "/api/v1/search?q=Acme".into()),
        (Method::GET, "/api/v1/changes?after=0".into()),
        (Method::GET, "/api/v1/openapi.json".into()),
    ]
}

/// A body each write route would accept from an admin.
fn body_for(method: &Method, path: &str) -> Option<serde_json::Value> {
    match *method {
        Method::GET | Method::DELETE => None,
        _ if path.ends_with("/bulk") => Some(json!({"key": "id", "records": [{"name": "Sneaky"}]})),
        _ if path.ends_with("/meta/objects") => {
            Some(json!({"api_name": "sneaky", "label": "S", "plural_label": "Ss"}))
        }
        _ if path.ends_with("/fields") => {
            Some(json!({"api_name": "sneaky", "type": "text", "label": "S"}))
        }
        _ if path.contains("/fields/") => Some(json!({"label": "Sneaky"})),
        _ => Some(json!({"name": "Sneaky"})),
    }
}

#[track_caller]
fn assert_unauthenticated(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    r.assert_problem(401, "unauthenticated");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer"),
        "{what}"
    );
    assert_no_leak(r);
}

async fn send_with_auth(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
) -> Resp {
    let anonymous: Client = app.anonymous();
    let body = body_for(&method, path);
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    anonymous.send(method, path, body.as_ref(), &headers).await
}

async fn seeded(app: &TestApp) -> String {
    common::add_field(
        app,
        "account",
        json!({"api_name": "tax_id", "type": "text", "label": "Tax ID"}),
    )
    .await;
    let a = app.create("account", &json!({"name": "Acme"})).await;
    common::id_of(&a)
}

#[tokio::test]
async fn every_api_route_needs_a_token() {
    let app = TestApp::spawn().await;
    let id = seeded(&app).await;
    let meta_before = app.get("/api/v1/meta/objects").await.body;
    for (method, path) in api_routes(&id) {
        let r = send_with_auth(&app, method.clone(), &path, None).await;
        assert_unauthenticated(&r, &format!("{method} {path} without a token"));
    }
    // nothing was written by any of them
    assert_eq!(count(&app, "account").await, 1);
    assert_eq!(app.get("/api/v1/meta/objects").await.body, meta_before);
    let a = app.get(&format!("/api/v1/records/account/{id}")).await;
    assert_eq!(a.body["name"], "Acme");
    assert_eq!(a.body["version"], 1);
}

#[tokio::test]
async fn a_garbage_or_malformed_token_is_refused() {
    let app = TestApp::spawn().await;
    let id = seeded(&app).await;
    let wrong_scheme = format!("Basic {}", app.token);
    let almost = format!("Bearer {}x", app.token);
    for auth in [
        "Bearer garbage",
        "Bearer ",
        "Bearer relata_0000000000000000000000000000000000000000",
        "Bearer ' OR '1'='1",
        wrong_scheme.as_str(),
        app.token.as_str(),
        almost.as_str(),
    ] {
        for (method, path) in api_routes(&id) {
            let r = send_with_auth(&app, method.clone(), &path, Some(auth)).await;
            assert_unauthenticated(&r, &format!("{method} {path} with {auth:?}"));
        }
    }
    assert_eq!(count(&app, "account").await, 1);
}

#[tokio::test]
async fn the_real_token_opens_every_route() {
    let app = TestApp::spawn().await;
    let id = seeded(&app).await;
    let auth = format!("Bearer {}", app.token);
    for (method, path) in api_routes(&id) {
        let r = send_with_auth(&app, method.clone(), &path, Some(&auth)).await;
        assert_ne!(r.status, 401, "{method} {path}: {}", r.text);
        assert!(r.status < 500, "{method} {path}: {}", r.text);
    }
}

#[tokio::test]
async fn every_documented_route_needs_a_token() {
    // Routes added later are covered too: walk the OpenAPI document.
    let app = TestApp::spawn().await;
    let id = seeded(&app).await;
    let doc = app.get("/api/v1/openapi.json").await;
    doc.assert_status(200);
    let paths = doc.body["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10);
    for (template, ops) in paths {
        let path = template
            .replace("{object}", "account")
            .replace("{id}", &id)
            .replace("{field}", "tax_id")
            .replace("{user}", &id)
            .replace("{set}", &id)
            .replace("{share}", &id);
        for (method, op) in ops.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // signing in is the one public operation under /api, and says so
            if !path.starts_with("/api/") || op["security"] == serde_json::json!([{}]) {
                continue;
            }
            let r = send_with_auth(&app, m.clone(), &path, None).await;
            assert_unauthenticated(&r, &format!("{m} {template}"));
        }
    }
}

#[tokio::test]
async fn health_and_docs_are_public() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let h = anonymous.get("/healthz").await;
    h.assert_status(200);
    assert_eq!(h.body["status"], "ok");
    let d = anonymous.get("/docs").await;
    d.assert_status(200);
    assert!(
        d.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        d.header("content-type")
    );
    // but the public pages give away no data
    app.create("account", &json!({"name": "Secret Co"})).await;
    assert!(!anonymous.get("/docs").await.text.contains("Secret Co"));
}
