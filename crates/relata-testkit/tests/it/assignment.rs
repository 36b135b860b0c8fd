//! Assignment rules (issue 8): round-robin in turn, skipping who is away; by territory
//! (the first entry whose condition a lead meets); load-balanced by open leads; working
//! hours, with a fallback when nobody is available; used from a workflow rule on new
//! leads; and definitions refused naming the place.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use crate::common;
use relata_domain::ManualClock;

use relata_jobs::Runner;
use relata_testkit::TestApp;

/// Monday 7 December 2026, 09:00 in Shanghai.
async fn setup() -> (TestApp, Arc<ManualClock>, Arc<Runner>) {
    common::app_on_clock(Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(), 1).await
}

async fn reps(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let rep = app
            .user(&format!("rep{i}.assign@example.com"), json!({}))
            .await;
        out.push(rep.user_id.0.to_string());
    }
    out
}

async fn assignment_rule(app: &TestApp, definition: Json) -> String {
    let r = app
        .post(
            "/api/v1/assignment_rules",
            &json!({"name": "Leads", "object": "lead", "definition": definition}),
        )
        .await;
    r.assert_status(201);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn assign(app: &TestApp, rule: &str, lead: &Json) -> Json {
    let r = app
        .post(
            &format!("/api/v1/assignment_rules/{rule}/assign"),
            &json!({"record_id": lead["id"]}),
        )
        .await;
    r.assert_status(200);
    r.body.clone()
}

#[tokio::test]
async fn round_robin_by_territory_skips_who_is_away_and_respects_working_hours() {
    let (app, clock, _runner) = setup().await;
    let r = reps(&app, 4).await;
    let rule = assignment_rule(
        &app,
        json!({
            "strategy": "round_robin",
            "entries": [
                {"condition": "company contains 上海", "users": [r[0], r[1], r[2]]},
                {"users": [r[3]]}
            ],
            "working_hours": {"time_zone": "Asia/Shanghai", "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"},
            "fallback_user": r[3]
        }),
    )
    .await;
    let mut owners = Vec::new();
    for i in 0..4 {
        let lead = app
            .create(
                "lead",
                &json!({"name": format!("L{i}"), "company": "上海华远"}),
            )
            .await;
        let got = assign(&app, &rule, &lead).await;
        assert_eq!(got["by"], "entry");
        assert_eq!(got["entry"], 0);
        owners.push(got["owner_id"].as_str().unwrap().to_owned());
        let stored = app
            .get(&format!(
                "/api/v1/records/lead/{}",
                lead["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(stored.body["owner_id"], json!(owners[i]));
    }
    assert_eq!(
        owners,
        [r[0].clone(), r[1].clone(), r[2].clone(), r[0].clone()]
    );

    // rep 1 is away this week: their turn passes to the next
    app.put(
        &format!("/api/v1/users/{}/away", r[1]),
        &json!({"starts_at": "2026-12-07T00:00:00Z", "ends_at": "2026-12-12T00:00:00Z", "note": "年假"}),
    )
    .await
    .assert_status(200);
    let lead = app
        .create("lead", &json!({"name": "L4", "company": "上海一号"}))
        .await;
    assert_eq!(assign(&app, &rule, &lead).await["owner_id"], json!(r[2]));

    // another territory
    let north = app
        .create("lead", &json!({"name": "N", "company": "北京二号"}))
        .await;
    let got = assign(&app, &rule, &north).await;
    assert_eq!(
        (got["entry"].clone(), got["owner_id"].clone()),
        (json!(1), json!(r[3]))
    );

    // Saturday: nobody is working, the fallback gets it
    clock.set(Utc.with_ymd_and_hms(2026, 12, 12, 3, 0, 0).unwrap());
    let weekend = app
        .create("lead", &json!({"name": "W", "company": "上海三号"}))
        .await;
    let got = assign(&app, &rule, &weekend).await;
    assert_eq!(
        (got["by"].clone(), got["owner_id"].clone()),
        (json!("fallback"), json!(r[3]))
    );
}

#[tokio::test]
async fn load_balancing_gives_the_lead_to_whoever_holds_fewest_open_ones() {
    let (app, _clock, _runner) = setup().await;
    let r = reps(&app, 3).await;
    // rep 0 holds two open leads, rep 1 one open and three closed, rep 2 two open
    for (owner, status, n) in [
        (0, "new", 2),
        (1, "contacted", 1),
        (1, "unqualified", 3),
        (2, "new", 2),
    ] {
        for k in 0..n {
            app.create(
                "lead",
                &json!({"name": format!("{owner}-{status}-{k}"), "status": status, "owner_id": r[owner],
                    "unqualified_reason": (status == "unqualified").then_some("no_need")}),
            )
            .await;
        }
    }
    let rule = assignment_rule(
        &app,
        json!({"strategy": "load_balanced", "entries": [{"users": r}],
            "open_condition": "status in (new, contacted)"}),
    )
    .await;
    let lead = app.create("lead", &json!({"name": "Next"})).await;
    assert_eq!(assign(&app, &rule, &lead).await["owner_id"], json!(r[1]));
}

#[tokio::test]
async fn a_workflow_rule_assigns_every_new_lead_by_the_assignment_rule() {
    let (app, _clock, runner) = setup().await;
    let r = reps(&app, 2).await;
    let rule = assignment_rule(
        &app,
        json!({"strategy": "round_robin", "entries": [{"users": r}]}),
    )
    .await;
    app.post(
        "/api/v1/workflow_rules",
        &json!({"name": "Assign new leads", "object": "lead", "definition": {
            "trigger": {"type": "created"},
            "steps": [{"type": "assign_by_rule", "rule_id": rule}]
        }}),
    )
    .await
    .assert_status(201);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(app.create("lead", &json!({"name": format!("W{i}")})).await["id"].clone());
    }
    runner.run_due().await.unwrap();
    let mut owners = Vec::new();
    for id in &ids {
        let lead = app
            .get(&format!("/api/v1/records/lead/{}", id.as_str().unwrap()))
            .await;
        owners.push(lead.body["owner_id"].as_str().unwrap().to_owned());
    }
    let to_first = owners.iter().filter(|o| **o == r[0]).count();
    assert_eq!(to_first, 2, "two each: {owners:?}");
    assert!(owners.iter().all(|o| r.contains(o)), "{owners:?}");
}

#[tokio::test]
async fn bad_assignment_rules_are_refused_naming_the_place() {
    let (app, _clock, _runner) = setup().await;
    let r = app
        .post(
            "/api/v1/assignment_rules",
            &json!({"name": "Bad", "object": "lead", "definition": {
                "strategy": "round_robin",
                "entries": [{"condition": "colour eq red", "users": ["0190a0b0-0000-7000-8000-000000000009"]}, {"users": []}],
                "working_hours": {"time_zone": "Asia/Shanghai", "days": [8], "start": "9", "end": "18:00"}
            }}),
        )
        .await;
    r.assert_status(422);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for want in [
        "entries[1].users",
        "working_hours.days",
        "working_hours",
        "entries[0].condition",
        "entries",
    ] {
        assert!(fields.contains(&want), "{want} missing in {fields:?}");
    }
    // a saved rule keeps its object: its conditions are about that object's fields
    let good = app
        .post(
            "/api/v1/assignment_rules",
            &json!({"name": "Leads", "object": "lead", "definition": {
                "strategy": "round_robin", "entries": [{"condition": "city eq 上海", "users": [app.admin().await.user_id.0]}]}}),
        )
        .await;
    good.assert_status(201);
    let moved = app
        .put(
            &format!(
                "/api/v1/assignment_rules/{}",
                good.body["id"].as_str().unwrap()
            ),
            &json!({"name": "Leads", "object": "account", "definition": good.body["definition"]}),
        )
        .await;
    moved.assert_status(422);
    assert_eq!(moved.body["errors"][0]["field"], "object", "{}", moved.body);

    let rep = app.user("rep.assign.bad@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    rep_client
        .get("/api/v1/assignment_rules")
        .await
        .assert_status(403);
    // a rep marks themselves away, but nobody else
    rep_client
        .put(
            &format!("/api/v1/users/{}/away", rep.user_id.0),
            &json!({"starts_at": "2026-12-07T00:00:00Z", "ends_at": "2026-12-08T00:00:00Z"}),
        )
        .await
        .assert_status(200);
    rep_client
        .put(
            &format!("/api/v1/users/{}/away", app.admin().await.user_id.0),
            &json!({"starts_at": "2026-12-07T00:00:00Z", "ends_at": "2026-12-08T00:00:00Z"}),
        )
        .await
        .assert_status(403);
}
