//! `Idempotency-Key` on POST: a retry with the same key and body gets the first response again
//! and writes nothing; the same key with another request is refused.

use crate::common;

use common::{DbState, count, id_of, last_seq};
use relata_testkit::TestApp;
use reqwest::Method;
use serde_json::{Value as Json, json};

async fn post_with_key(app: &TestApp, path: &str, body: &Json, key: &str) -> relata_testkit::Resp {
    app.send(Method::POST, path, Some(body), &[("idempotency-key", key)])
        .await
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_response_without_a_second_write() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "张伟", "email": "zhang.wei@example.com"});
    let first = post_with_key(&app, "/api/v1/records/contact", &body, "create-zw-1").await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let seq = last_seq(&app).await;

    for _ in 0..3 {
        let again = post_with_key(&app, "/api/v1/records/contact", &body, "create-zw-1").await;
        assert_eq!(again.status, 201);
        assert_eq!(again.text, first.text, "the very same body");
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(
            again.header("content-type").as_deref(),
            Some("application/json")
        );
    }
    assert_eq!(count(&app, "contact").await, 1, "only one record exists");
    assert_eq!(last_seq(&app).await, seq, "no second change event");
    let got = app
        .get(&format!("/api/v1/records/contact/{}", id_of(&first.body)))
        .await;
    assert_eq!(got.body, first.body);

    // another key is another request
    let second = post_with_key(&app, "/api/v1/records/contact", &body, "create-zw-2").await;
    second.assert_status(201);
    assert_ne!(second.body["id"], first.body["id"]);
    assert_eq!(count(&app, "contact").await, 2);
    // and no key at all is never deduplicated
    app.create("contact", &body).await;
    assert_eq!(count(&app, "contact").await, 3);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_refused() {
    let app = TestApp::spawn().await;
    post_with_key(
        &app,
        "/api/v1/records/contact",
        &json!({"name": "张伟"}),
        "key-1",
    )
    .await
    .assert_status(201);
    let before = DbState::capture(&app, &["contact", "account"]).await;
    // a different body
    let r = post_with_key(
        &app,
        "/api/v1/records/contact",
        &json!({"name": "李娜"}),
        "key-1",
    )
    .await;
    r.assert_problem(422, "idempotency_key_reused");
    assert_eq!(r.header("idempotent-replayed"), None);
    // the same body to another endpoint
    let r = post_with_key(
        &app,
        "/api/v1/records/account",
        &json!({"name": "张伟"}),
        "key-1",
    )
    .await;
    r.assert_problem(422, "idempotency_key_reused");
    before.assert_unchanged(&app, "a reused key").await;
    // the original still replays
    let r = post_with_key(
        &app,
        "/api/v1/records/contact",
        &json!({"name": "张伟"}),
        "key-1",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("idempotent-replayed").as_deref(), Some("true"));
}

#[tokio::test]
async fn a_failed_request_replays_its_problem() {
    let app = TestApp::spawn().await;
    let bad = json!({"name": "张伟", "email": "nope"});
    let first = post_with_key(&app, "/api/v1/records/contact", &bad, "bad-1").await;
    first.assert_problem(422, "validation_failed");
    let again = post_with_key(&app, "/api/v1/records/contact", &bad, "bad-1").await;
    again.assert_problem(422, "validation_failed");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body["errors"], first.body["errors"]);
    assert_eq!(count(&app, "contact").await, 0);
}

#[tokio::test]
async fn bulk_and_restore_are_idempotent_too() {
    let app = TestApp::spawn().await;
    let body = json!({"key": "sku", "records": [
        {"name": "Widget", "sku": "W-1"},
        {"name": "Gadget", "sku": "G-1"},
    ]});
    let first = post_with_key(&app, "/api/v1/records/product/bulk", &body, "bulk-1").await;
    first.assert_status(200);
    assert_eq!(first.body["created"], 2);
    let seq = last_seq(&app).await;
    let again = post_with_key(&app, "/api/v1/records/product/bulk", &body, "bulk-1").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text, "still says created: 2");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(last_seq(&app).await, seq);
    assert_eq!(count(&app, "product").await, 2);

    let id = first.body["results"][0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/records/product/{id}"))
        .await
        .assert_status(204);
    let path = format!("/api/v1/records/product/{id}/restore");
    let restored = post_with_key(&app, &path, &json!({}), "restore-1").await;
    restored.assert_status(200);
    // without the key a second restore would be a 409; with it, the first answer comes back
    let again = post_with_key(&app, &path, &json!({}), "restore-1").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, restored.text);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_write_once() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "并发测试"});
    let mut handles = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let body = body.clone();
        handles.push(tokio::spawn(async move {
            client
                .send(
                    Method::POST,
                    "/api/v1/records/account",
                    Some(&body),
                    &[("idempotency-key", "race-1")],
                )
                .await
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            201 => ids.push(r.body["id"].clone()),
            409 => {
                r.assert_problem(409, "idempotency_key_in_progress");
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one record: {ids:?}");
    assert_eq!(count(&app, "account").await, 1);
}

#[tokio::test]
async fn a_bad_key_is_a_400() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(256);
    let r = post_with_key(
        &app,
        "/api/v1/records/account",
        &json!({"name": "Acme"}),
        &long,
    )
    .await;
    r.assert_problem(400, "invalid_idempotency_key");
    assert_eq!(count(&app, "account").await, 0);
}
