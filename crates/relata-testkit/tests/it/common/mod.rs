//! Helpers shared by the conformance test files: counting records, reading the change feed
//! position, and checking that error bodies do not leak internals.

#![allow(dead_code)] // each test file uses a different subset

use relata_testkit::{Resp, TestApp};
use serde_json::{Value as Json, json};

/// Number of live records of `object`, by `count=true`.
pub async fn count(app: &TestApp, object: &str) -> i64 {
    let r = app
        .get(&format!("/api/v1/records/{object}?count=true&limit=1"))
        .await;
    r.assert_status(200);
    r.body["total"]
        .as_i64()
        .unwrap_or_else(|| panic!("no total in {}", r.text))
}

/// The sequence number of the newest change-feed event (0 when there is none). Every write
/// appends an event, so an unchanged value proves nothing was written.
pub async fn last_seq(app: &TestApp) -> i64 {
    let mut after = 0;
    loop {
        let r = app
            .get(&format!("/api/v1/changes?after={after}&limit=1000"))
            .await;
        r.assert_status(200);
        let next = r.body["next_after"].as_i64().expect("next_after");
        if r.body["data"].as_array().is_none_or(|d| d.is_empty()) {
            return after;
        }
        after = next;
    }
}

/// What a failed request must not have changed: record counts and the change feed.
pub struct DbState {
    counts: Vec<(String, i64)>,
    seq: i64,
}

impl DbState {
    pub async fn capture(app: &TestApp, objects: &[&str]) -> DbState {
        let mut counts = Vec::new();
        for o in objects {
            counts.push(((*o).to_owned(), count(app, o).await));
        }
        DbState {
            counts,
            seq: last_seq(app).await,
        }
    }

    #[track_caller]
    pub fn assert_same(&self, after: &DbState, what: &str) {
        assert_eq!(self.counts, after.counts, "record counts changed by {what}");
        assert_eq!(self.seq, after.seq, "the change feed moved after {what}");
    }

    pub async fn assert_unchanged(&self, app: &TestApp, what: &str) {
        let objects: Vec<&str> = self.counts.iter().map(|(o, _)| o.as_str()).collect();
        let after = DbState::capture(app, &objects).await;
        self.assert_same(&after, what);
    }
}

/// Words that would betray SQL, the database or a panic in a client-facing body.
const INTERNAL_WORDS: &[&str] = &[
    "sql",
    "postgres",
    "constraint",
    "syntax error",
    "panicked",
    "violates",
    "database error",
    "no such table",
    "no such column",
    "db error",
    "stack backtrace",
    "relata_store",
    "relata_core",
];

/// Asserts that an error body says nothing about SQL or internals.
#[track_caller]
pub fn assert_no_leak(r: &Resp) {
    assert_no_leak_echoing(r, "");
}

/// Like [`assert_no_leak`], for a body that may quote `echoed` (the client's own input).
#[track_caller]
pub fn assert_no_leak_echoing(r: &Resp, echoed: &str) {
    let mut lower = r.text.to_lowercase();
    if !echoed.is_empty() {
        // the body is JSON: the input appears JSON-escaped
        let quoted = serde_json::to_string(echoed).unwrap_or_default();
        let inner = quoted.trim_matches('"').to_lowercase();
        lower = lower.replace(&inner, "");
    }
    for word in INTERNAL_WORDS {
        assert!(
            !lower.contains(word),
            "error body leaks internal text ({word:?}): {}",
            r.text
        );
    }
}

/// A problem with this status and code, that names `field` with `field_code`, leaks nothing.
#[track_caller]
pub fn assert_field_problem(r: &Resp, status: u16, field: &str, field_code: &str) {
    r.assert_problem(status, "validation_failed");
    assert_eq!(
        r.error_code(field).as_deref(),
        Some(field_code),
        "expected {field}: {field_code}; body: {}",
        r.text
    );
    assert_no_leak(r);
}

/// Percent-encodes a query parameter value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Adds a custom field and returns its metadata, panicking on failure.
pub async fn add_field(app: &TestApp, object: &str, def: Json) -> Json {
    let r = app
        .post(&format!("/api/v1/meta/objects/{object}/fields"), &def)
        .await;
    assert_eq!(r.status, 201, "add field {def} to {object}: {}", r.text);
    r.body
}

/// Creates a custom object and returns its metadata, panicking on failure.
pub async fn create_object(app: &TestApp, api_name: &str, label: &str, plural: &str) -> Json {
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": api_name, "label": label, "plural_label": plural}),
        )
        .await;
    assert_eq!(r.status, 201, "create object {api_name}: {}", r.text);
    r.body
}

/// The id of a created record.
pub fn id_of(record: &Json) -> String {
    record["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_owned()
}

/// A user whose profile lets them do everything to every object but see the fields in
/// `hidden` (`{"account": ["level"], …}`).
pub async fn user_without_fields(app: &TestApp, email: &str, hidden: Json) -> relata_core::Actor {
    let admin = app.admin().await;
    let fields: serde_json::Map<String, Json> = hidden
        .as_object()
        .expect("an object of object → field names")
        .iter()
        .map(|(object, names)| {
            let per_field: serde_json::Map<String, Json> = names
                .as_array()
                .expect("field names")
                .iter()
                .map(|n| (n.as_str().expect("a name").to_owned(), json!("hidden")))
                .collect();
            (object.clone(), Json::Object(per_field))
        })
        .collect();
    let profile = app
        .core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": format!("profile of {email}"),
                "is_profile": true,
                "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                    "fields": fields
                }
            }))
            .expect("a permission set"),
        )
        .await
        .expect("create the profile");
    app.user(email, json!({"name": email, "profile_id": profile.id}))
        .await
}

/// Shares a record with a user (`access`: read or edit), as its owner or an admin.
pub async fn share(
    client: &relata_testkit::Client,
    object: &str,
    id: &str,
    with: &relata_core::Actor,
    access: &str,
) {
    client
        .post(
            &format!("/api/v1/records/{object}/{id}/shares"),
            &json!({"principal": {"kind": "user", "id": with.user_id.0.to_string()}, "access": access}),
        )
        .await
        .assert_status(201);
}

/// An app whose clock is a manual one set to `start`, and a job runner over it: the tests
/// of automation drive the queue with `run_due`, moving the clock for delayed work.
pub async fn app_on_clock(
    start: chrono::DateTime<chrono::Utc>,
    concurrency: usize,
) -> (
    TestApp,
    std::sync::Arc<relata_domain::ManualClock>,
    std::sync::Arc<relata_jobs::Runner>,
) {
    let clock = std::sync::Arc::new(relata_domain::ManualClock::new(start));
    let app = TestApp::spawn_with(relata_testkit::SpawnOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let runner = relata_jobs::Runner::new(
        app.core.clone(),
        relata_jobs::Handlers::standard(),
        relata_jobs::RunnerOptions {
            concurrency,
            lease: std::time::Duration::from_secs(300),
            ..Default::default()
        },
    );
    (app, clock, runner)
}

/// The sales dashboard's data: deals A, B, C, D made 45 days ago by the admin (B moved on
/// to proposal, C lost, D at its own 50 %), leads by source (web, web, event) and one
/// without, 李雷's connected call and the admin's finished task; today 李雷 opened deal E.
/// Returns the app and 李雷.
pub async fn sales_world() -> (TestApp, relata_core::Actor) {
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 10, 1, 2, 0, 0).unwrap();
    let (app, clock, _runner) = app_on_clock(start, 1).await;
    let deal = |name: &str, stage: &str, amount: &str| json!({"name": name, "stage": stage, "amount": amount});
    app.create("opportunity", &deal("A", "prospecting", "1000"))
        .await;
    let b = app
        .create("opportunity", &deal("B", "prospecting", "5000"))
        .await;
    let c = app
        .create("opportunity", &deal("C", "prospecting", "700"))
        .await;
    let mut d = deal("D", "proposal", "2000");
    d["probability"] = json!("50");
    app.create("opportunity", &d).await;
    for stage in ["qualification", "proposal"] {
        app.patch(
            &format!("/api/v1/records/opportunity/{}", id_of(&b)),
            &json!({"stage": stage}),
        )
        .await
        .assert_status(200);
    }
    app.patch(
        &format!("/api/v1/records/opportunity/{}", id_of(&c)),
        &json!({"stage": "closed_lost", "loss_reason": "price"}),
    )
    .await
    .assert_status(200);
    for source in [Some("web"), Some("web"), Some("event"), None] {
        let mut lead = json!({"name": "L", "company": "Co"});
        if let Some(s) = source {
            lead["source"] = json!(s);
        }
        app.create("lead", &lead).await;
    }
    let rep = app
        .user("li.lei@example.com", json!({"name": "李雷"}))
        .await;
    let rep_client = app.client_for(&rep).await;
    rep_client
        .post(
            "/api/v1/records/call",
            &json!({"subject": "cold call", "outcome": "connected"}),
        )
        .await
        .assert_status(201);
    app.create("task", &json!({"subject": "done", "status": "completed"}))
        .await;
    clock.advance(chrono::Duration::days(45));
    rep_client
        .post(
            "/api/v1/records/opportunity",
            &deal("E", "qualification", "300"),
        )
        .await
        .assert_status(201);
    (app, rep)
}

/// SQLite's plan of `sql` (`EXPLAIN QUERY PLAN`), its steps joined by `; `.
pub fn sqlite_plan(
    c: &mut dyn relata_store::Conn,
    sql: &str,
) -> Result<String, relata_store::StoreError> {
    let rows = c.query(&format!("EXPLAIN QUERY PLAN {sql}"), &[])?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get(3).and_then(|v| v.as_str().map(str::to_owned)))
        .collect::<Vec<_>>()
        .join("; "))
}
