//! The timeline figure (issue 7): one account with 10,000 items on its 360° timeline —
//! tasks, notes, opportunities and contacts pointing at it, and changes of its tracked
//! fields — in the loaded database; the first page of its timeline read over the API.

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::load::Api;

/// Items on the account's timeline, its creation included.
pub const ITEMS: u64 = 10_000;
/// Changes of the account's tracked fields among them (each a change of its level).
const CHANGES: u64 = 100;
const BATCH: u64 = 1_000;

/// Related records by object, with the number of each; together with the changes and the
/// creation they make [`ITEMS`].
const RELATED: [(&str, u64); 4] = [
    ("task", 4_000),
    ("note", 3_000),
    ("opportunity", 1_500),
    ("contact", 1_399),
];

fn record(object: &str, account: &str, i: u64) -> Json {
    match object {
        "task" => json!({
            "subject": format!("回访 #{i}"),
            "status": (["not_started", "in_progress", "completed"][(i % 3) as usize]),
            "account_id": account,
        }),
        "note" => json!({
            "title": format!("Meeting notes #{i}"),
            "body": "预算与决策链已确认 / budget and decision chain confirmed",
            "account_id": account,
        }),
        "opportunity" => json!({
            "name": format!("华远 CRM 项目 {i}"),
            "stage": (["prospecting", "proposal", "negotiation"][(i % 3) as usize]),
            "amount": {"amount": (10_000 + i * 100).to_string(), "currency": "CNY"},
            "account_id": account,
        }),
        _ => json!({
            "name": format!("联系人 {i}"),
            "email": format!("timeline.{i}@example.com"),
            "account_id": account,
        }),
    }
}

/// Creates the account and its items; answers the account's id.
pub async fn prepare(api: &Api) -> anyhow::Result<String> {
    let account = api
        .post(
            "/api/v1/records/account",
            &json!({"name": "时间线基准客户 Timeline Benchmark Ltd", "level": "c"}),
        )
        .await?;
    let id = account["id"]
        .as_str()
        .context("the account has no id")?
        .to_owned();
    for (object, count) in RELATED {
        let mut from = 0;
        while from < count {
            let to = (from + BATCH).min(count);
            let records: Vec<Json> = (from..to).map(|i| record(object, &id, i)).collect();
            let answer = api
                .post(
                    &format!("/api/v1/records/{object}/bulk"),
                    &json!({"key": "id", "mode": "all_or_nothing", "records": records}),
                )
                .await?;
            let created = answer["created"].as_u64().unwrap_or(0);
            if created != to - from {
                bail!("{object} {from}..{to}: created {created}");
            }
            from = to;
        }
    }
    for i in 0..CHANGES {
        api.patch(
            &format!("/api/v1/records/account/{id}"),
            &json!({"level": (["a", "b", "c"][(i % 3) as usize])}),
        )
        .await?;
    }
    Ok(id)
}

const _: () = assert!(
    RELATED[0].1 + RELATED[1].1 + RELATED[2].1 + RELATED[3].1 + CHANGES + 1 == ITEMS,
    "the items must add up"
);
