//! Workflow rules on the write path (issue 8: with 50 active rules, single creates keep
//! ≥ 70% of their speed): 50 rules of every change trigger over contacts, accounts and
//! opportunities, most of which a new contact does not meet and a few it does (contacts in
//! 上海 get a description set by formula and their owner a notification), then the time
//! until the engine has judged every event and finished every run.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::load::Api;

/// The rules: `count` of them, cycling through these shapes.
fn definitions(count: usize) -> Vec<(String, &'static str, Json)> {
    let skip = json!([{"type": "update_fields", "set": {"description": "x"}}]);
    let shapes: Vec<(&str, Json)> = vec![
        (
            "contact",
            json!({"trigger": {"type": "created"}, "condition": "city eq NoSuchCity", "steps": skip}),
        ),
        (
            "contact",
            json!({"trigger": {"type": "created_or_updated"}, "condition": "title eq 'Chief Nothing Officer'", "steps": skip}),
        ),
        (
            "contact",
            json!({"trigger": {"type": "field_changed", "fields": ["title"]}, "condition": "department eq NoSuchDepartment", "steps": skip}),
        ),
        (
            "contact",
            json!({"trigger": {"type": "condition_met"}, "condition": "email eq 'nobody@nowhere.invalid'", "steps": skip}),
        ),
        (
            "account",
            json!({"trigger": {"type": "created"}, "condition": "industry eq technology", "steps": skip}),
        ),
        (
            "opportunity",
            json!({"trigger": {"type": "field_changed", "fields": ["stage"]}, "condition": "amount gte 1000000", "steps": skip}),
        ),
        (
            "contact",
            json!({"trigger": {"type": "updated"}, "condition": "title eq NoSuchTitle", "steps": skip}),
        ),
        (
            "account",
            json!({"trigger": {"type": "condition_met"}, "condition": "level eq a", "steps": skip}),
        ),
        (
            "opportunity",
            json!({"trigger": {"type": "created"}, "condition": "name eq NoSuchDeal", "steps": skip}),
        ),
        (
            "contact",
            json!({"trigger": {"type": "created"}, "condition": "city eq 'NoSuchTown' and title eq 'CEO'", "steps": skip}),
        ),
    ];
    let mut out: Vec<(String, &'static str, Json)> = (0..count.saturating_sub(2))
        .map(|i| {
            let (object, def) = &shapes[i % shapes.len()];
            (format!("Bench rule {i}"), *object, def.clone())
        })
        .collect();
    out.push((
        "Shanghai contacts: describe".into(),
        "contact",
        json!({"trigger": {"type": "created"}, "condition": "city eq 上海",
            "steps": [{"type": "update_fields", "set": {"description": {"formula": "'Shanghai: ' & name"}}}]}),
    ));
    out.push((
        "Shanghai contacts: tell the owner".into(),
        "contact",
        json!({"trigger": {"type": "created"}, "condition": "city eq 上海",
            "steps": [{"type": "notify", "to": ["owner"], "message": "New contact in Shanghai: {{ name }}"}]}),
    ));
    out
}

/// Creates `count` enabled rules through the API.
pub async fn create_rules(api: &Api, count: usize) -> anyhow::Result<()> {
    for (name, object, definition) in definitions(count) {
        let r = api
            .post(
                "/api/v1/workflow_rules",
                &json!({"name": name, "object": object, "definition": definition}),
            )
            .await
            .with_context(|| format!("creating the rule {name}"))?;
        if r["id"].as_str().is_none() {
            bail!("the rule {name} was refused: {r}");
        }
    }
    Ok(())
}

/// What the engine left to do, and how long it took to do it.
pub struct CatchUp {
    pub events_behind: i64,
    pub queued_runs: i64,
    pub seconds: f64,
}

/// Waits (at most `limit`) until every event is judged and no run is queued.
pub async fn catch_up(api: &Api, limit: Duration) -> anyhow::Result<CatchUp> {
    let started = Instant::now();
    let first = api.get("/api/v1/workflow_backlog").await?;
    loop {
        let b = api.get("/api/v1/workflow_backlog").await?;
        let behind = b["events_behind"].as_i64().unwrap_or(0);
        let queued = b["queued_runs"].as_i64().unwrap_or(0);
        if behind == 0 && queued == 0 {
            return Ok(CatchUp {
                events_behind: first["events_behind"].as_i64().unwrap_or(0),
                queued_runs: first["queued_runs"].as_i64().unwrap_or(0),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        if started.elapsed() > limit {
            bail!("the rules had not caught up after {limit:?}: {b}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
