//! Outbound webhooks (issue 8) against a receiver on loopback: signed deliveries of the
//! events a webhook asked for, only for records meeting its condition; a receiver that fails
//! is retried, and deliveries of one record keep their order; replay; a webhook whose
//! deliveries keep failing is disabled and its creator told; bad definitions refused.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value as Json, json};
use sha2::Sha256;

use crate::common;
use relata_domain::ManualClock;

use relata_jobs::Runner;
use relata_testkit::TestApp;

/// What the receiver was sent, and what it answers.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answer: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        r.answer.store(200, Ordering::SeqCst);
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push((headers, body));
                    StatusCode::from_u16(state.answer.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, format!("http://{addr}/hook"))
    }

    fn bodies(&self) -> Vec<Json> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    }
}

fn verify(secret: &str, headers: &HeaderMap, body: &str) {
    let sig = headers["x-relata-signature"].to_str().unwrap();
    let (t, v1) = sig.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "signature of {body}"
    );
}

async fn setup() -> (TestApp, Arc<ManualClock>, Arc<Runner>) {
    common::app_on_clock(Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(), 4).await
}

#[tokio::test]
async fn signed_deliveries_of_matching_records_retried_in_order_and_replayed() {
    let (app, clock, runner) = setup().await;
    let (receiver, url) = Receiver::start().await;
    let made = app
        .post(
            "/api/v1/webhooks",
            &json!({"name": "ERP", "url": url, "object": "contact", "events": ["created", "updated"],
                "filter": "city eq \"上海\""}),
        )
        .await;
    made.assert_status(201);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let hook = made.body["id"].as_str().unwrap().to_owned();
    assert!(
        app.get(&format!("/api/v1/webhooks/{hook}"))
            .await
            .body
            .get("secret")
            .is_none(),
        "the secret is shown once"
    );

    let shanghai = app
        .create("contact", &json!({"name": "张伟", "city": "上海"}))
        .await;
    app.create("contact", &json!({"name": "李娜", "city": "北京"}))
        .await;
    runner.run_due().await.unwrap();
    let bodies = receiver.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "only the record meeting the condition: {bodies:?}"
    );
    assert_eq!(bodies[0]["event"], "contact.created");
    assert_eq!(bodies[0]["record_id"], shanghai["id"]);
    assert_eq!(bodies[0]["changes"]["name"], "张伟");
    {
        let got = receiver.got.lock().unwrap();
        let (headers, body) = &got[0];
        verify(&secret, headers, body);
        assert_eq!(headers["x-relata-event"], "contact.created");
        assert_eq!(
            headers["x-relata-delivery"].to_str().unwrap(),
            bodies[0]["id"].as_str().unwrap()
        );
    }

    // the receiver fails: two updates of the record wait, in order, until it is back
    receiver.answer.store(500, Ordering::SeqCst);
    let url_a = format!(
        "/api/v1/records/contact/{}",
        shanghai["id"].as_str().unwrap()
    );
    app.patch(&url_a, &json!({"title": "经理"}))
        .await
        .assert_status(200);
    app.patch(&url_a, &json!({"title": "总监"}))
        .await
        .assert_status(200);
    runner.run_due().await.unwrap();
    let titles: Vec<Json> = receiver
        .bodies()
        .iter()
        .skip(1)
        .map(|b| b["changes"]["title"]["new"].clone())
        .collect();
    assert_eq!(
        titles,
        vec![json!("经理")],
        "the second waits for the first"
    );
    receiver.answer.store(200, Ordering::SeqCst);
    for _ in 0..4 {
        clock.advance(chrono::Duration::minutes(5));
        runner.run_due().await.unwrap();
    }
    let titles: Vec<Json> = receiver
        .bodies()
        .iter()
        .skip(1)
        .map(|b| b["changes"]["title"]["new"].clone())
        .collect();
    assert_eq!(titles, vec![json!("经理"), json!("经理"), json!("总监")]);

    let log = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"))
        .await;
    log.assert_status(200);
    let log = log.body["data"].as_array().unwrap().clone();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
    let retried = log
        .iter()
        .find(|d| d["payload"]["changes"]["title"]["new"] == "经理")
        .unwrap();
    assert_eq!(retried["attempts"], 2);

    // replayed by hand: the same delivery id again
    let created = log
        .iter()
        .find(|d| d["event"] == "contact.created")
        .unwrap();
    let id = created["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/webhook_deliveries/{id}/replay"),
        &json!({}),
    )
    .await
    .assert_status(200);
    runner.run_due().await.unwrap();
    let last = receiver.got.lock().unwrap().last().unwrap().0.clone();
    assert_eq!(last["x-relata-delivery"].to_str().unwrap(), id);
}

#[tokio::test]
async fn a_webhook_whose_deliveries_keep_failing_is_disabled_and_its_creator_told() {
    let (app, clock, runner) = setup().await;
    let (receiver, url) = Receiver::start().await;
    receiver.answer.store(503, Ordering::SeqCst);
    let made = app
        .post(
            "/api/v1/webhooks",
            &json!({"name": "Flaky", "url": url, "object": "account", "events": ["created"]}),
        )
        .await;
    made.assert_status(201);
    let hook = made.body["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        app.create("account", &json!({"name": format!("客户 {i}")}))
            .await;
    }
    for _ in 0..12 {
        runner.run_due().await.unwrap();
        clock.advance(chrono::Duration::hours(7));
    }
    let h = app.get(&format!("/api/v1/webhooks/{hook}")).await;
    assert_eq!(h.body["enabled"], false, "{}", h.text);
    assert!(
        h.body["disabled_reason"].as_str().unwrap().contains("503"),
        "{}",
        h.text
    );
    let log = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"))
        .await;
    assert!(
        log.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "failed")
    );
    let notes = app.get("/api/v1/me/notifications").await;
    assert!(
        notes.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "webhook.disabled"),
        "{}",
        notes.text
    );
    // disabled: new events are not delivered
    let before = receiver.got.lock().unwrap().len();
    app.create("account", &json!({"name": "客户 9"})).await;
    clock.advance(chrono::Duration::hours(1));
    runner.run_due().await.unwrap();
    assert_eq!(receiver.got.lock().unwrap().len(), before);
}

/// A webhook whose filter names a field since deleted is switched off with the reason, and
/// the webhook behind it in the same round still gets its events.
#[tokio::test]
async fn a_webhook_whose_filter_no_longer_works_is_switched_off_without_holding_up_others() {
    let (app, _clock, runner) = setup().await;
    let (receiver, url) = Receiver::start().await;
    app.post(
        "/api/v1/meta/objects/contact/fields",
        &json!({"api_name": "wechat_id", "type": "text", "label": "WeChat", "filterable": true}),
    )
    .await
    .assert_status(201);
    let broken = app
        .post(
            "/api/v1/webhooks",
            &json!({"name": "By WeChat", "url": url, "object": "contact", "events": ["created"],
                "filter": "wechat_id eq zhangwei88"}),
        )
        .await;
    broken.assert_status(201);
    let working = app
        .post(
            "/api/v1/webhooks",
            &json!({"name": "All", "url": url, "object": "contact", "events": ["created"]}),
        )
        .await;
    working.assert_status(201);
    app.delete("/api/v1/meta/objects/contact/fields/wechat_id")
        .await
        .assert_status(204);
    let made = app.create("contact", &json!({"name": "张伟"})).await;
    runner.run_due().await.unwrap();

    let h = app
        .get(&format!(
            "/api/v1/webhooks/{}",
            broken.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(h.body["enabled"], false, "{}", h.text);
    assert!(
        h.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("filter no longer works"),
        "{}",
        h.text
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["webhook_id"], working.body["id"]);
    assert_eq!(bodies[0]["record_id"], made["id"]);
}

#[tokio::test]
async fn bad_webhooks_are_refused_naming_the_field_and_only_automation_admins_manage_them() {
    let (app, _clock, _runner) = setup().await;
    for (body, field) in [
        (
            json!({"name": "x", "url": "ftp://example.com", "object": "contact", "events": ["created"]}),
            "url",
        ),
        (
            json!({"name": "x", "url": "https://example.com/h", "object": "planet", "events": ["created"]}),
            "object",
        ),
        (
            json!({"name": "x", "url": "https://example.com/h", "object": "contact", "events": ["exploded"]}),
            "events",
        ),
        (
            json!({"name": "x", "url": "https://example.com/h", "object": "contact", "events": ["created"], "filter": "shoe_size gt 40"}),
            "filter",
        ),
        (
            json!({"name": "", "url": "https://example.com/h", "object": "contact", "events": ["created"]}),
            "name",
        ),
    ] {
        let r = app.post("/api/v1/webhooks", &body).await;
        r.assert_status(422);
        assert_eq!(r.error_fields(), vec![field], "{body}: {}", r.text);
    }
    let rep = app.user("rep.hooks@example.com", json!({})).await;
    let rep = app.client_for(&rep).await;
    rep.get("/api/v1/webhooks").await.assert_status(403);
    rep.post(
        "/api/v1/webhooks",
        &json!({"name": "x", "url": "https://example.com/h", "object": "contact", "events": ["created"]}),
    )
    .await
    .assert_status(403);
}
