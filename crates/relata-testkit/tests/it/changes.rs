//! The change feed, `GET /api/v1/changes?after=SEQ`: every committed write — create, update,
//! delete, restore, purge, bulk upsert — is one event, in commit order, with increasing
//! sequence numbers; `after` and `limit` page through it without gaps or repeats, even while
//! writers are committing; a write that fails leaves no event.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{add_field, assert_no_leak, id_of, last_seq};
use relata_testkit::{Client, Resp, TestApp};
use reqwest::Method;
use serde_json::{Value as Json, json};

/// One page of the feed: its events and `next_after`.
async fn page(client: &Client, query: &str) -> (Vec<Json>, i64) {
    let r = client.get(&format!("/api/v1/changes?{query}")).await;
    r.assert_status(200);
    let data = r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {}", r.text))
        .clone();
    let next = r.body["next_after"]
        .as_i64()
        .unwrap_or_else(|| panic!("no next_after in {}", r.text));
    (data, next)
}

fn seq(event: &Json) -> i64 {
    event["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {event}"))
}

/// Every event after `after`, read in pages of `limit`, checking each page as it comes.
async fn events_after(client: &Client, after: i64, limit: usize) -> Vec<Json> {
    let mut events = Vec::new();
    let mut cursor = after;
    loop {
        let (data, next) = page(client, &format!("after={cursor}&limit={limit}")).await;
        assert!(
            data.len() <= limit,
            "{} events for limit {limit}",
            data.len()
        );
        let Some(last) = data.last() else {
            assert_eq!(next, cursor, "an empty page keeps the position");
            return events;
        };
        assert_eq!(next, seq(last), "next_after is the last event's seq");
        assert!(
            data.iter().all(|e| seq(e) > cursor),
            "only events after {cursor}"
        );
        cursor = next;
        events.extend(data);
    }
}

#[track_caller]
fn assert_strictly_increasing(events: &[Json]) {
    for pair in events.windows(2) {
        assert!(
            seq(&pair[0]) < seq(&pair[1]),
            "seq must increase: {} then {}",
            pair[0],
            pair[1]
        );
    }
}

/// `(kind, object, record_id)` of each event.
fn summary(events: &[Json]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["object"].as_str().unwrap_or_default().to_owned(),
                e["record_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn event(kind: &str, object: &str, id: &str) -> (String, String, String) {
    (kind.to_owned(), object.to_owned(), id.to_owned())
}

async fn bulk(app: &TestApp, object: &str, body: &Json) -> Resp {
    app.post(&format!("/api/v1/records/{object}/bulk"), body)
        .await
}

fn result_ids(r: &Resp) -> Vec<String> {
    r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| x["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_kind_of_write_is_one_event_in_commit_order() {
    let app = TestApp::spawn().await;
    let start = last_seq(&app).await;

    let contact = app
        .create(
            "contact",
            &json!({"name": "张伟", "email": "zhang.wei@example.com"}),
        )
        .await;
    let c = id_of(&contact);
    let path = format!("/api/v1/records/contact/{c}");
    app.patch(&path, &json!({"email": "wei.zhang@example.com"}))
        .await
        .assert_status(200);
    // the same value again changes nothing, so it is no event
    app.patch(&path, &json!({"email": "wei.zhang@example.com"}))
        .await
        .assert_status(200);
    app.delete(&path).await.assert_status(204);
    app.post(&format!("{path}/restore"), &json!({}))
        .await
        .assert_status(200);

    let first = bulk(
        &app,
        "product",
        &json!({"key": "sku", "records": [
            {"sku": "W-1", "name": "Widget"},
            {"sku": "G-1", "name": "Gadget"},
        ]}),
    )
    .await;
    first.assert_status(200);
    let [w, g] = <[String; 2]>::try_from(result_ids(&first)).unwrap();
    let second = bulk(
        &app,
        "product",
        &json!({"key": "sku", "records": [
            {"sku": "W-1", "name": "Widget Pro"},
            {"sku": "G-1", "name": "Gadget"},
            {"sku": "N-1", "name": "Nut"},
        ]}),
    )
    .await;
    second.assert_status(200);
    assert_eq!(
        (
            &second.body["updated"],
            &second.body["unchanged"],
            &second.body["created"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    let n = result_ids(&second)[2].clone();
    let product = format!("/api/v1/records/product/{g}");
    app.delete(&product).await.assert_status(204);
    app.delete(&format!("{product}?purge=true"))
        .await
        .assert_status(204);

    let events = events_after(&app.client, start, 1000).await;
    assert_eq!(
        summary(&events),
        [
            event("created", "contact", &c),
            event("updated", "contact", &c),
            event("deleted", "contact", &c),
            event("restored", "contact", &c),
            event("created", "product", &w),
            event("created", "product", &g),
            event("updated", "product", &w),
            event("created", "product", &n),
            event("deleted", "product", &g),
            event("purged", "product", &g),
        ]
    );
    assert_strictly_increasing(&events);

    // what each event says
    let admin = contact["created_by"].as_str().expect("created_by");
    for e in &events {
        assert_eq!(e["actor"], admin, "{e}");
        let at = e["at"].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "at is a timestamp: {e}"
        );
    }
    assert_eq!(events[0]["changes"]["name"], "张伟");
    assert_eq!(events[0]["changes"]["email"], "zhang.wei@example.com");
    assert_eq!(
        events[1]["changes"],
        json!({"email": {"old": "zhang.wei@example.com", "new": "wei.zhang@example.com"}})
    );
    for i in [2, 3, 8, 9] {
        assert_eq!(events[i]["changes"], json!({}), "{}", events[i]);
    }
    assert_eq!(
        events[6]["changes"],
        json!({"name": {"old": "Widget", "new": "Widget Pro"}})
    );

    // `object` narrows the feed and keeps the order
    let (products, _) = page(&app.client, &format!("after={start}&object=product")).await;
    assert_eq!(summary(&products), summary(&events[4..]));
    let (contacts, _) = page(&app.client, &format!("after={start}&object=contact")).await;
    assert_eq!(summary(&contacts), summary(&events[..4]));
    app.get("/api/v1/changes?object=no_such_object")
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn after_and_limit_page_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let start = last_seq(&app).await;
    let records: Vec<Json> = (0..130)
        .map(|i| json!({"sku": format!("P-{i:03}"), "name": format!("产品 {i}")}))
        .collect();
    let r = bulk(&app, "product", &json!({"key": "sku", "records": records})).await;
    r.assert_status(200);
    let ids = result_ids(&r);

    let all = events_after(&app.client, start, 1000).await;
    assert_eq!(all.len(), 130);
    assert_strictly_increasing(&all);
    // one call's events come in the order of its records
    let feed_ids: Vec<String> = summary(&all).into_iter().map(|(_, _, id)| id).collect();
    assert_eq!(feed_ids, ids);

    // the default page is 100 events
    let (first, next) = page(&app.client, &format!("after={start}")).await;
    assert_eq!(first, all[..100]);
    assert_eq!(next, seq(&all[99]));
    // any page size reads the same events, each once
    for limit in [1, 7, 64, 129, 130, 1000] {
        assert_eq!(
            events_after(&app.client, start, limit).await,
            all,
            "limit {limit}"
        );
    }
    // resuming in the middle gives exactly the rest
    let (rest, _) = page(&app.client, &format!("after={}&limit=1000", seq(&all[64]))).await;
    assert_eq!(rest, all[65..]);
    // at or past the end: nothing, and the position stays
    let end = seq(&all[129]);
    for after in [end, end + 1, i64::MAX] {
        let (data, next) = page(&app.client, &format!("after={after}")).await;
        assert!(data.is_empty(), "after={after}: {data:?}");
        assert_eq!(next, after);
    }
    // `after` defaults to the beginning
    let (from_start, _) = page(&app.client, "limit=1000").await;
    assert!(
        from_start.ends_with(&all),
        "no `after` reads from the start"
    );

    // the limit is 1..=1000
    for limit in ["0", "1001", "-1", "ten"] {
        let r = app.get(&format!("/api/v1/changes?limit={limit}")).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.error_fields(), ["limit"], "limit={limit}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_each_appear_once_and_a_live_reader_misses_nothing() {
    let app = TestApp::spawn().await;
    let start = last_seq(&app).await;

    // A reader follows the feed while the writers commit: an event that became visible after
    // a later one would be skipped by `after` for good.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let client = app.client.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = start;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let (data, next) = page(&client, &format!("after={cursor}&limit=50")).await;
                if data.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    continue;
                }
                cursor = next;
                seen.extend(data);
            }
        })
    };

    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = app.client.clone();
        writers.push(tokio::spawn(async move {
            let mut created = Vec::new();
            let mut shared_won = 0;
            for i in 0..EACH {
                let body = json!({"name": format!("写入者{w} 联系人{i}")});
                let r = client.post("/api/v1/records/contact", &body).await;
                r.assert_status(201);
                created.push(id_of(&r.body));
                if i == 5 {
                    // every writer tries the same SKU once: one wins, seven fail in the same
                    // commit groups as the others' successful writes
                    let p = json!({"sku": "SHARED", "name": format!("共享 {w}")});
                    let r = client.post("/api/v1/records/product", &p).await;
                    if r.status == 201 {
                        shared_won += 1;
                        created.push(id_of(&r.body));
                    } else {
                        r.assert_problem(422, "validation_failed");
                        assert_eq!(r.error_code("sku").as_deref(), Some("duplicate"));
                    }
                }
            }
            (created, shared_won)
        }));
    }
    let mut committed = Vec::new();
    let mut shared_won = 0;
    for w in writers {
        let (ids, won) = w.await.expect("writer");
        committed.extend(ids);
        shared_won += won;
    }
    assert_eq!(shared_won, 1, "exactly one writer gets the shared SKU");
    done.store(true, Ordering::SeqCst);
    let seen_live = reader.await.expect("reader");

    let events = events_after(&app.client, start, 1000).await;
    assert_eq!(events.len(), WRITERS * EACH + 1);
    assert_strictly_increasing(&events);
    let mut per_record: HashMap<String, usize> = HashMap::new();
    for (kind, _, id) in summary(&events) {
        assert_eq!(kind, "created");
        *per_record.entry(id).or_default() += 1;
    }
    assert_eq!(per_record.len(), committed.len());
    for id in &committed {
        assert_eq!(per_record.get(id), Some(&1), "{id} appears exactly once");
    }
    assert_eq!(
        seen_live, events,
        "the reader that followed the feed live saw every event once, in order"
    );
}

#[tokio::test]
async fn a_failed_write_leaves_no_event() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "product",
        json!({"api_name": "barcode", "type": "text", "label": "Barcode", "unique": true}),
    )
    .await;
    let contact = app
        .create(
            "contact",
            &json!({"name": "李娜", "email": "li.na@example.com"}),
        )
        .await;
    let path = format!("/api/v1/records/contact/{}", id_of(&contact));
    app.create(
        "product",
        &json!({"sku": "W-1", "name": "Widget", "barcode": "6901234567892"}),
    )
    .await;
    let start = last_seq(&app).await;

    let missing = uuid::Uuid::new_v4();
    let failures: Vec<(Resp, u16)> = vec![
        (
            app.post(
                "/api/v1/records/contact",
                &json!({"name": "王芳", "email": "nope"}),
            )
            .await,
            422,
        ),
        (
            app.post(
                "/api/v1/records/contact",
                &json!({"name": "王芳", "account_id": missing.to_string()}),
            )
            .await,
            422,
        ),
        (app.patch(&path, &json!({"email": "still nope"})).await, 422),
        (
            app.send(
                Method::PATCH,
                &path,
                Some(&json!({"name": "李娜娜"})),
                &[("if-match", "\"7\"")],
            )
            .await,
            412,
        ),
        (app.post(&format!("{path}/restore"), &json!({})).await, 409),
        (
            app.delete(&format!("/api/v1/records/contact/{missing}"))
                .await,
            404,
        ),
        // a unique value only the database can refuse
        (
            app.post(
                "/api/v1/records/product",
                &json!({"sku": "W-1", "name": "Widget again"}),
            )
            .await,
            422,
        ),
        // all or nothing: one bad record in the first pass…
        (
            bulk(
                &app,
                "product",
                &json!({"key": "sku", "records": [
                    {"sku": "A-1", "name": "A"},
                    {"sku": "B-1", "name": "B", "list_price": {"amount": "abc"}},
                ]}),
            )
            .await,
            422,
        ),
        // …or found by the database after the good ones were written in the transaction
        (
            bulk(
                &app,
                "product",
                &json!({"key": "sku", "records": [
                    {"sku": "A-1", "name": "A"},
                    {"sku": "C-1", "name": "C", "barcode": "6901234567892"},
                ]}),
            )
            .await,
            422,
        ),
    ];
    for (i, (r, status)) in failures.iter().enumerate() {
        assert_eq!(r.status, *status, "failure {i}: {}", r.text);
        assert_no_leak(r);
    }
    assert_eq!(last_seq(&app).await, start, "no failed write left an event");
    let (data, _) = page(&app.client, &format!("after={start}")).await;
    assert!(data.is_empty(), "{data:?}");

    // per record: exactly the records that were written have events
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "mode": "per_record", "records": [
            {"sku": "A-1", "name": "A"},
            {"sku": "C-1", "name": "C", "barcode": "6901234567892"},
            {"sku": "D-1", "name": "D"},
        ]}),
    )
    .await;
    r.assert_status(200);
    let ids = result_ids(&r);
    assert_eq!(r.body["results"][1]["status"], "failed", "{}", r.text);
    let events = events_after(&app.client, start, 1000).await;
    assert_eq!(
        summary(&events),
        [
            event("created", "product", &ids[0]),
            event("created", "product", &ids[2]),
        ]
    );
}

#[tokio::test]
async fn a_bad_after_is_refused_and_names_the_parameter() {
    let app = TestApp::spawn().await;
    app.create("account", &json!({"name": "Acme"})).await;
    for after in [
        "abc",
        "1.5",
        "1e3",
        "",
        "%201",
        "99999999999999999999",
        "0x10",
    ] {
        let r = app.get(&format!("/api/v1/changes?after={after}")).await;
        // Like every bad query parameter in this API: a validation problem naming it.
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.error_fields(), ["after"], "after={after}: {}", r.text);
        assert_eq!(r.error_code("after").as_deref(), Some("wrong_type"));
        assert!(r.body.get("data").is_none());
        assert_no_leak(&r);
    }
}

#[tokio::test]
async fn the_feed_needs_a_token() {
    let app = TestApp::spawn().await;
    app.create("account", &json!({"name": "Secret Co"})).await;
    let anonymous = app.anonymous();
    let garbage = Client::new(&app.base, Some("garbage".to_owned()));
    for client in [&anonymous, &garbage] {
        let r = client.get("/api/v1/changes?after=0").await;
        r.assert_problem(401, "unauthenticated");
        assert!(!r.text.contains("Secret Co"), "{}", r.text);
    }
    let (data, _) = page(&app.client, "after=0").await;
    assert_eq!(data.len(), 1, "the token holder sees the event");
}
