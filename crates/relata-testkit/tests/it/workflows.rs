//! Workflow rules (issue 8): triggers from the change feed judged on the record as it was
//! right after each change; conditions; steps that set fields by formula, create follow-up
//! tasks, notify, wait (days pass on a manual clock in milliseconds) and start other rules;
//! versions that running instances keep; date-relative and scheduled triggers; loop
//! protection; test runs; run history; and definitions refused at save time.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use crate::common;
use relata_domain::ManualClock;

use relata_jobs::Runner;
use relata_testkit::TestApp;

async fn setup() -> (TestApp, Arc<ManualClock>, Arc<Runner>) {
    common::app_on_clock(Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(), 4).await
}

async fn rule(app: &TestApp, object: &str, name: &str, definition: Json) -> String {
    let made = app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": name, "object": object, "definition": definition}),
        )
        .await;
    made.assert_status(201);
    made.body["id"].as_str().unwrap().to_owned()
}

async fn runs(app: &TestApp, query: &str) -> Vec<Json> {
    let r = app.get(&format!("/api/v1/workflow_runs?{query}")).await;
    r.assert_status(200);
    r.body["data"].as_array().unwrap().clone()
}

/// The messages of workflow notifications in the bell.
async fn notified(app: &TestApp) -> Vec<String> {
    let bell = app.get("/api/v1/me/notifications").await;
    bell.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "workflow.notify")
        .map(|n| n["detail"]["message"].as_str().unwrap().to_owned())
        .collect()
}

/// The errors a definition is refused with, as "field: message".
async fn refused(app: &TestApp, definition: Json) -> Vec<String> {
    let r = app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": "Bad", "object": "opportunity", "definition": definition}),
        )
        .await;
    r.assert_status(422);
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

async fn record(app: &TestApp, object: &str, id: &Json) -> Json {
    let r = app
        .get(&format!(
            "/api/v1/records/{object}/{}",
            id.as_str().unwrap()
        ))
        .await;
    r.assert_status(200);
    r.body.clone()
}

#[tokio::test]
async fn a_large_deal_changing_stage_gets_a_follow_up_task_a_note_and_a_notification() {
    let (app, _clock, runner) = setup().await;
    let id = rule(
        &app,
        "opportunity",
        "Large deal changes stage",
        json!({
            "trigger": {"type": "field_changed", "fields": ["stage"]},
            "condition": "amount gte 1000000",
            "time_zone": "Asia/Shanghai",
            "steps": [
                {"type": "update_fields", "set": {
                    "next_step": {"formula": "concat('Review ', name, ' at ', stage)"},
                    "probability": {"formula": "if(stage = 'negotiation', 80, 40)"}
                }},
                {"type": "create_record", "object": "task", "set": {
                    "subject": {"formula": "'Follow up: ' & name"},
                    "due_date": {"formula": "add_days(today(), 2)"},
                    "opportunity_id": {"formula": "id"},
                    "priority": "high"
                }},
                {"type": "notify", "to": ["owner"], "message": "{{ name }} is now {{ stage }} ({{ amount }})"}
            ]
        }),
    )
    .await;
    let big = app
        .create(
            "opportunity",
            &json!({"name": "华东集采", "amount": "2000000", "stage": "prospecting"}),
        )
        .await;
    let small = app
        .create(
            "opportunity",
            &json!({"name": "Tiny", "amount": "10", "stage": "prospecting"}),
        )
        .await;
    runner.run_due().await.unwrap();

    let now_big = record(&app, "opportunity", &big["id"]).await;
    assert_eq!(now_big["next_step"], "Review 华东集采 at prospecting");
    assert_eq!(now_big["probability"], json!("40.00"));
    assert!(
        record(&app, "opportunity", &small["id"]).await["next_step"].is_null(),
        "the condition keeps small deals out"
    );
    let tasks = app
        .get(&format!(
            "/api/v1/records/task?filter=opportunity_id eq {}",
            big["id"].as_str().unwrap()
        ))
        .await;
    tasks.assert_status(200);
    let tasks = tasks.body["data"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["subject"], "Follow up: 华东集采");
    // 09:00 in Shanghai on 7 December, plus two days
    assert_eq!(tasks[0]["due_date"], "2026-12-09");
    assert_eq!(tasks[0]["priority"], "high");
    let texts = notified(&app).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("华东集采 is now prospecting (2000000"),
        "{texts:?}"
    );

    // history: one run, three steps logged; the rule's own update does not start it again
    let history = runs(&app, &format!("record_id={}", big["id"].as_str().unwrap())).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["status"], "done");
    assert_eq!(history[0]["rule_id"], json!(id));
    assert_eq!(history[0]["log"].as_array().unwrap().len(), 3);
    assert!(
        runs(
            &app,
            &format!("record_id={}", small["id"].as_str().unwrap())
        )
        .await
        .is_empty()
    );

    // a stage change fires again; a change of another field does not
    app.patch(
        &format!(
            "/api/v1/records/opportunity/{}",
            big["id"].as_str().unwrap()
        ),
        &json!({"stage": "negotiation"}),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!(
            "/api/v1/records/opportunity/{}",
            big["id"].as_str().unwrap()
        ),
        &json!({"name": "华东集采二期"}),
    )
    .await
    .assert_status(200);
    runner.run_due().await.unwrap();
    let now_big = record(&app, "opportunity", &big["id"]).await;
    assert_eq!(now_big["next_step"], "Review 华东集采二期 at negotiation");
    assert_eq!(now_big["probability"], json!("80.00"));
    let history = runs(&app, &format!("rule_id={id}")).await;
    assert_eq!(history.len(), 2, "{history:?}");

    let backlog = app.get("/api/v1/workflow_backlog").await;
    backlog.assert_status(200);
    assert_eq!(
        backlog.body,
        json!({"events_behind": 0, "queued_runs": 0, "waiting_runs": 0})
    );

    // why: the rule holds for the big deal, not for the small one
    let why = app
        .get(&format!(
            "/api/v1/records/opportunity/{}/workflows",
            small["id"].as_str().unwrap()
        ))
        .await;
    why.assert_status(200);
    assert_eq!(why.body["data"][0]["condition_holds"], false);
    assert_eq!(why.body["data"][0]["runs"], json!([]));
}

#[tokio::test]
async fn a_condition_becoming_true_fires_once_even_when_the_record_moved_on() {
    let (app, _clock, runner) = setup().await;
    rule(
        &app,
        "opportunity",
        "Won",
        json!({
            "trigger": {"type": "condition_met"},
            "condition": "stage eq closed_won",
            "steps": [{"type": "create_record", "object": "task", "set": {
                "subject": {"formula": "'Kick-off: ' & name"}, "opportunity_id": {"formula": "id"}}}]
        }),
    )
    .await;
    let opp = app
        .create("opportunity", &json!({"name": "A", "stage": "proposal"}))
        .await;
    let path = format!(
        "/api/v1/records/opportunity/{}",
        opp["id"].as_str().unwrap()
    );
    // won, then lost again before the fan-out reads either change
    for stage in ["negotiation", "closed_won", "closed_lost"] {
        app.patch(
            &path,
            &json!({"stage": stage, "win_reason": "price", "loss_reason": "timing"}),
        )
        .await
        .assert_status(200);
    }
    runner.run_due().await.unwrap();
    // still won-then-lost: a further change while lost does not fire
    app.patch(&path, &json!({"next_step": "call"}))
        .await
        .assert_status(200);
    runner.run_due().await.unwrap();
    let history = runs(&app, &format!("record_id={}", opp["id"].as_str().unwrap())).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0]["trigger"]
            .as_str()
            .unwrap()
            .starts_with("condition_met"),
        "{history:?}"
    );
    let tasks = app.get("/api/v1/records/task").await;
    assert_eq!(tasks.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(tasks.body["data"][0]["subject"], "Kick-off: A");
}

#[tokio::test]
async fn a_waiting_run_keeps_its_version_and_wakes_when_the_clock_says() {
    let (app, clock, runner) = setup().await;
    let id = rule(
        &app,
        "account",
        "Two-step",
        json!({
            "trigger": {"type": "created"},
            "steps": [
                {"type": "update_fields", "set": {"description": "one"}},
                {"type": "wait", "days": 2},
                {"type": "update_fields", "set": {"description": "two"}}
            ]
        }),
    )
    .await;
    let acct = app.create("account", &json!({"name": "Acme"})).await;
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &acct["id"]).await["description"],
        "one"
    );
    let history = runs(&app, &format!("rule_id={id}")).await;
    assert_eq!(history[0]["status"], "waiting");
    assert_eq!(history[0]["step"], 1);

    // version 2 changes the steps; the waiting run keeps version 1's
    app.put(
        &format!("/api/v1/workflow_rules/{id}"),
        &json!({"name": "Two-step", "object": "account", "definition": {
            "trigger": {"type": "created"},
            "steps": [{"type": "update_fields", "set": {"description": "v2"}}]
        }}),
    )
    .await
    .assert_status(200);
    let versions = app
        .get(&format!("/api/v1/workflow_rules/{id}/versions"))
        .await;
    assert_eq!(versions.body["data"].as_array().unwrap().len(), 2);

    // a change to the record wakes the run to look, but a timed wait stays parked
    app.patch(
        &format!("/api/v1/records/account/{}", acct["id"].as_str().unwrap()),
        &json!({"city": "Hangzhou"}),
    )
    .await
    .assert_status(200);
    clock.advance(chrono::Duration::hours(47));
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &acct["id"]).await["description"],
        "one"
    );
    clock.advance(chrono::Duration::hours(1));
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &acct["id"]).await["description"],
        "two"
    );
    let history = runs(&app, &format!("rule_id={id}")).await;
    assert_eq!(history[0]["status"], "done");
    assert_eq!(history[0]["version"], 1);
}

#[tokio::test]
async fn a_date_relative_rule_fires_at_its_hour_and_follows_a_moved_date() {
    let (app, clock, runner) = setup().await;
    rule(
        &app,
        "opportunity",
        "Three days before close",
        json!({
            "trigger": {"type": "date_reached", "field": "close_date", "offset_days": -3, "at_hour": 9},
            "time_zone": "Asia/Shanghai",
            "steps": [{"type": "notify", "to": ["owner"], "message": "{{ name }} closes on {{ close_date }}"}]
        }),
    )
    .await;
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "Renewal", "stage": "proposal", "close_date": "2026-12-20"}),
        )
        .await;
    runner.run_due().await.unwrap();
    let path = format!(
        "/api/v1/records/opportunity/{}",
        opp["id"].as_str().unwrap()
    );
    // moved before the first one was due: the old run ends, a new one follows the date
    app.patch(&path, &json!({"close_date": "2026-12-25"}))
        .await
        .assert_status(200);
    runner.run_due().await.unwrap();
    // 17 December 09:00 in Shanghai (01:00 UTC) was the old date
    clock.set(Utc.with_ymd_and_hms(2026, 12, 17, 1, 0, 0).unwrap());
    runner.run_due().await.unwrap();
    assert!(notified(&app).await.is_empty());
    clock.set(Utc.with_ymd_and_hms(2026, 12, 22, 0, 59, 0).unwrap());
    runner.run_due().await.unwrap();
    assert!(notified(&app).await.is_empty(), "not before 09:00 local");
    clock.set(Utc.with_ymd_and_hms(2026, 12, 22, 1, 0, 0).unwrap());
    runner.run_due().await.unwrap();
    assert_eq!(
        notified(&app).await,
        ["Renewal closes on 2026-12-25".to_owned()]
    );
    let history = runs(&app, &format!("record_id={}", opp["id"].as_str().unwrap())).await;
    let of = |seq: i64| history.iter().find(|r| r["seq"] == seq).unwrap();
    // the run planned at creation ended when the date moved; the update's run fired
    assert_eq!(of(1)["status"], "skipped", "{history:?}");
    assert!(
        of(1)["error"]
            .as_str()
            .unwrap()
            .contains("close_date changed")
    );
    assert_eq!(of(2)["status"], "done", "{history:?}");
}

#[tokio::test]
async fn a_rule_that_retriggers_itself_stops_at_the_depth_limit() {
    let (app, _clock, runner) = setup().await;
    let id = rule(
        &app,
        "account",
        "Counter",
        json!({
            "trigger": {"type": "updated"},
            "steps": [{"type": "update_fields", "set": {"employees": {"formula": "coalesce(employees, 0) + 1"}}}]
        }),
    )
    .await;
    let acct = app.create("account", &json!({"name": "Loop Ltd"})).await;
    app.patch(
        &format!("/api/v1/records/account/{}", acct["id"].as_str().unwrap()),
        &json!({"city": "Suzhou"}),
    )
    .await
    .assert_status(200);
    for _ in 0..10 {
        runner.run_due().await.unwrap();
    }
    let history = runs(&app, &format!("rule_id={id}")).await;
    let done = history.iter().filter(|r| r["status"] == "done").count();
    let skipped: Vec<&Json> = history
        .iter()
        .filter(|r| r["status"] == "skipped")
        .collect();
    // the person's change (depth 0) and five rule-made changes ran; the sixth was cut
    assert_eq!(done, 6, "{history:?}");
    assert_eq!(skipped.len(), 1, "{history:?}");
    assert!(
        skipped[0]["error"]
            .as_str()
            .unwrap()
            .contains("loop protection")
    );
    assert_eq!(record(&app, "account", &acct["id"]).await["employees"], 6);
}

#[tokio::test]
async fn a_test_run_shows_what_would_happen_without_doing_it() {
    let (app, _clock, runner) = setup().await;
    let acct = app
        .create(
            "account",
            &json!({"name": "Parent Co", "industry": "manufacturing"}),
        )
        .await;
    let id = rule(
        &app,
        "opportunity",
        "Manual",
        json!({
            "trigger": {"type": "manual"},
            "condition": "amount gt 100",
            "steps": [
                {"type": "update_fields", "set": {"next_step": {"formula": "upper(account_id.name)"}}},
                {"type": "wait", "hours": 4},
                {"type": "notify", "to": ["owner"], "message": "Check {{ account_id.industry }}"}
            ]
        }),
    )
    .await;
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "X", "amount": "50", "account_id": acct["id"]}),
        )
        .await;
    let test = app
        .post(
            &format!("/api/v1/workflow_rules/{id}/test"),
            &json!({"record_id": opp["id"]}),
        )
        .await;
    test.assert_status(200);
    assert_eq!(test.body["condition_holds"], false);
    assert_eq!(
        test.body["steps"][0]["would"]["set"]["next_step"],
        "PARENT CO"
    );
    assert_eq!(
        test.body["steps"][2]["would"]["message"],
        "Check manufacturing"
    );
    runner.run_due().await.unwrap();
    assert!(record(&app, "opportunity", &opp["id"]).await["next_step"].is_null());
    assert!(
        runs(&app, &format!("rule_id={id}")).await.is_empty(),
        "a manual rule waits to be started"
    );

    // started by hand, it runs to the wait
    app.post(
        &format!("/api/v1/workflow_rules/{id}/start"),
        &json!({"record_id": opp["id"]}),
    )
    .await
    .assert_status(202);
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "opportunity", &opp["id"]).await["next_step"],
        "PARENT CO"
    );
}

#[tokio::test]
async fn a_scheduled_rule_runs_on_every_record_meeting_its_condition() {
    let (app, clock, runner) = setup().await;
    rule(
        &app,
        "opportunity",
        "Daily nudge",
        json!({
            "trigger": {"type": "schedule", "cron": "0 9 * * *"},
            "time_zone": "Asia/Shanghai",
            "condition": "stage eq negotiation",
            "steps": [{"type": "update_fields", "set": {"next_step": "chase"}}]
        }),
    )
    .await;
    let a = app
        .create("opportunity", &json!({"name": "A", "stage": "negotiation"}))
        .await;
    let b = app
        .create("opportunity", &json!({"name": "B", "stage": "proposal"}))
        .await;
    runner.run_due().await.unwrap();
    assert!(record(&app, "opportunity", &a["id"]).await["next_step"].is_null());
    // 8 December 09:00 in Shanghai
    clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 1, 0, 0).unwrap());
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "opportunity", &a["id"]).await["next_step"],
        "chase"
    );
    assert!(record(&app, "opportunity", &b["id"]).await["next_step"].is_null());
}

#[tokio::test]
async fn bad_definitions_are_refused_at_save_time_naming_the_place() {
    let (app, _clock, _runner) = setup().await;
    let step = json!([{"type": "update_fields", "set": {"next_step": "x"}}]);
    let e = refused(
        &app,
        json!({"trigger": {"type": "created"}, "condition": "colour eq red", "steps": step}),
    )
    .await;
    assert!(
        e[0].starts_with("condition") && e[0].contains("colour"),
        "{e:?}"
    );
    let e = refused(
        &app,
        json!({"trigger": {"type": "schedule", "cron": "every day"}, "steps": step}),
    )
    .await;
    assert!(e[0].starts_with("trigger.cron"), "{e:?}");
    let e = refused(
        &app,
        json!({"trigger": {"type": "date_reached", "field": "name"}, "steps": step}),
    )
    .await;
    assert!(e[0].contains("not a date"), "{e:?}");
    let e = refused(&app, json!({"trigger": {"type": "created"}, "steps": [
        {"type": "update_fields", "set": {"nope": "x", "created_at": "2026-01-01", "stage": "flying",
            "next_step": {"formula": "concat(name,"}, "amount": {"formula": "name"}}},
        {"type": "create_record", "object": "task", "set": {"priority": "high"}},
        {"type": "notify", "to": ["owner"], "message": "{{ nothing }}"},
        {"type": "wait"}
    ]}))
    .await;
    let places: Vec<&str> = e.iter().map(|m| m.split(':').next().unwrap()).collect();
    for want in [
        "steps[0].set.nope",
        "steps[0].set.created_at",
        "steps[0].set.stage",
        "steps[0].set.next_step",
        "steps[0].set.amount",
        "steps[1].set.subject",
        "steps[2].message",
        "steps[3]",
    ] {
        assert!(places.contains(&want), "{want} missing in {e:?}");
    }
    let unknown = app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": "Bad", "object": "opportunity", "definition": {"trigger": {"type": "sometimes"}, "steps": step}}),
        )
        .await;
    unknown.assert_status(422);
    assert!(unknown.text.contains("sometimes"), "{}", unknown.text);
}

#[tokio::test]
async fn a_run_waits_for_a_condition_then_assigns_and_starts_a_rule_that_lists_and_calls_a_webhook()
{
    let (app, clock, runner) = setup().await;
    let rep = app.user("rep.flow@example.com", json!({})).await;
    let list = app
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "Key accounts"}),
        )
        .await;
    list.assert_status(201);
    let list_id = list.body["id"].as_str().unwrap().to_owned();
    let hook = app
        .post(
            "/api/v1/webhooks",
            &json!({"name": "ERP", "url": "http://127.0.0.1:9/hook", "object": "account", "events": ["deleted"]}),
        )
        .await;
    hook.assert_status(201);
    let hook_id = hook.body["id"].as_str().unwrap().to_owned();
    let second = rule(
        &app,
        "account",
        "List and sync",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"type": "add_to_list", "list_id": list_id},
            {"type": "call_webhook", "webhook_id": hook_id}
        ]}),
    )
    .await;
    let first = rule(
        &app,
        "account",
        "Key account hand-over",
        json!({"trigger": {"type": "created"}, "steps": [
            {"type": "wait", "until": "level eq a", "days": 7},
            {"type": "assign_owner", "to": {"user": rep.user_id.0}},
            {"type": "start_rule", "rule_id": second}
        ]}),
    )
    .await;
    let key = app
        .create("account", &json!({"name": "Key Co", "level": "b"}))
        .await;
    let other = app.create("account", &json!({"name": "Other Co"})).await;
    runner.run_due().await.unwrap();
    let waiting = runs(&app, &format!("rule_id={first}&status=waiting")).await;
    assert_eq!(waiting.len(), 2, "{waiting:?}");

    // the record changes, but not to what the run waits for; then it does
    let path = format!("/api/v1/records/account/{}", key["id"].as_str().unwrap());
    app.patch(&path, &json!({"city": "Ningbo"}))
        .await
        .assert_status(200);
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &key["id"]).await["owner_id"],
        app.admin().await.user_id.0.to_string()
    );
    app.patch(&path, &json!({"level": "a"}))
        .await
        .assert_status(200);
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &key["id"]).await["owner_id"],
        rep.user_id.0.to_string()
    );
    let members = app
        .get(&format!("/api/v1/records/account?filter=in_list {list_id}"))
        .await;
    let names: Vec<&str> = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Key Co"]);
    let deliveries = app
        .get(&format!("/api/v1/webhooks/{hook_id}/deliveries"))
        .await;
    assert_eq!(deliveries.body["data"][0]["event"], "account.workflow");
    assert_eq!(
        deliveries.body["data"][0]["payload"]["record"]["name"],
        "Key Co"
    );
    let chained = runs(&app, &format!("rule_id={second}")).await;
    assert_eq!(chained.len(), 1);
    assert_eq!(chained[0]["status"], "done");
    assert_eq!(chained[0]["depth"], 1);
    let started = runs(&app, &format!("rule_id={first}&status=done")).await;
    assert_eq!(chained[0]["caused_by"], started[0]["id"]);

    // the other account never meets the condition: after seven days the run goes on anyway
    clock.advance(chrono::Duration::days(7));
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &other["id"]).await["owner_id"],
        rep.user_id.0.to_string()
    );
    assert!(
        runs(&app, &format!("rule_id={first}&status=waiting"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_inbound_call_to_a_secret_url_starts_a_rule() {
    let (app, _clock, runner) = setup().await;
    let id = rule(
        &app,
        "account",
        "From the shop",
        json!({"trigger": {"type": "inbound"}, "steps": [
            {"type": "update_fields", "set": {"description": {"formula": "'Order from the shop: ' & name"}}}
        ]}),
    )
    .await;
    let other = rule(
        &app,
        "account",
        "Not inbound",
        json!({"trigger": {"type": "manual"}, "steps": [{"type": "update_fields", "set": {"description": "x"}}]}),
    )
    .await;
    app.post(
        &format!("/api/v1/workflow_rules/{other}/inbound_token"),
        &json!({}),
    )
    .await
    .assert_status(409);
    let issued = app
        .post(
            &format!("/api/v1/workflow_rules/{id}/inbound_token"),
            &json!({}),
        )
        .await;
    issued.assert_status(201);
    let path = issued.body["path"].as_str().unwrap().to_owned();
    assert!(issued.body["token"].as_str().unwrap().starts_with("rlw_"));

    // no API token: the URL is the secret; the record comes with the call
    let anon = app.anonymous();
    let called = anon
        .post(&path, &json!({"record": {"name": "Shop Buyer Ltd"}}))
        .await;
    called.assert_status(202);
    assert_eq!(called.body["status"], "queued");
    let acct = called.body["record_id"].clone();
    // an existing record named by id
    let existing = app.create("account", &json!({"name": "Known Co"})).await;
    anon.post(&path, &json!({"record_id": existing["id"]}))
        .await
        .assert_status(202);
    runner.run_due().await.unwrap();
    assert_eq!(
        record(&app, "account", &acct).await["description"],
        "Order from the shop: Shop Buyer Ltd"
    );
    assert_eq!(
        record(&app, "account", &existing["id"]).await["description"],
        "Order from the shop: Known Co"
    );
    // a bad record is refused naming the field; a wrong or retired token is not found
    anon.post(
        &path,
        &json!({"record": {"name": "X", "employees": "many"}}),
    )
    .await
    .assert_status(422);
    anon.post(
        "/api/v1/hooks/workflows/rlw_nope",
        &json!({"record_id": existing["id"]}),
    )
    .await
    .assert_status(404);
    app.post(
        &format!("/api/v1/workflow_rules/{id}/inbound_token"),
        &json!({}),
    )
    .await
    .assert_status(201);
    anon.post(&path, &json!({"record_id": existing["id"]}))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_step_that_fails_fails_its_run_and_is_reported_on_the_rule() {
    let (app, _clock, runner) = setup().await;
    // the task's subject comes from the account's parent, which this account lacks
    let id = rule(
        &app,
        "account",
        "Task from the parent",
        json!({"trigger": {"type": "created"}, "steps": [
            {"type": "create_record", "object": "task", "set": {"subject": {"formula": "parent_id.name"}}},
            {"type": "update_fields", "set": {"description": "never reached"}}
        ]}),
    )
    .await;
    let acct = app.create("account", &json!({"name": "Orphan Co"})).await;
    runner.run_due().await.unwrap();
    let history = runs(&app, &format!("rule_id={id}")).await;
    assert_eq!(history[0]["status"], "failed", "{history:?}");
    let error = history[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("step 1 (create_record): subject"),
        "{error}"
    );
    assert!(record(&app, "account", &acct["id"]).await["description"].is_null());
    let rule = app.get(&format!("/api/v1/workflow_rules/{id}")).await;
    assert_eq!(rule.body["failures"], 1);
    assert_eq!(rule.body["last_error"], json!(error));
}
