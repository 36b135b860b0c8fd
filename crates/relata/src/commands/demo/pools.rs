//! Pools (公海) a newcomer finds working in the demo: one for accounts and one for leads,
//! every rep a member and the administrator their manager, with some of the leads waiting
//! in the lead pool to be claimed.

use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use relata_core::pools::PoolInput;
use relata_core::{Actor, Core};

/// Every `EVERY`th lead starts in the lead pool instead of with a rep.
const EVERY: usize = 5;

pub fn create(
    core: &Arc<Core>,
    rt: &tokio::runtime::Runtime,
    actor: &Actor,
    reps: &[String],
    leads: &[String],
) -> anyhow::Result<()> {
    let existing = rt
        .block_on(core.pools(actor))
        .map_err(|e| anyhow::anyhow!("reading pools: {e}"))?;
    if !existing.is_empty() {
        return Ok(()); // a database that has pools keeps its own
    }
    let mut members: Vec<serde_json::Value> = reps
        .iter()
        .map(|id| json!({"kind": "user", "id": id}))
        .collect();
    members.push(json!({"kind": "user", "id": actor.user_id.0.to_string(), "can_assign": true}));
    let pools = [
        (
            "公海 · Accounts",
            "account",
            json!({
                "reclaim": [
                    {"no_follow_up_days": 30, "warn_days_before": 3},
                    {"level": "a", "no_follow_up_days": 60, "no_won_deal_days": 180, "warn_days_before": 7}
                ],
                "max_owned": [{"max": 200}, {"level": "a", "max": 30}],
                "max_claims_per_day": 20,
                "reclaim_cooldown_days": 30
            }),
        ),
        (
            "线索公海 · Leads",
            "lead",
            json!({
                "reclaim": [{"no_follow_up_days": 14, "warn_days_before": 2}],
                "max_owned": [{"max": 300}],
                "max_claims_per_day": 50,
                "reclaim_cooldown_days": 7
            }),
        ),
    ];
    let mut lead_pool = None;
    for (name, object, rules) in pools {
        let input: PoolInput = serde_json::from_value(json!({
            "name": name, "object": object, "is_default": true, "rules": rules, "members": members
        }))
        .context("a demo pool")?;
        let pool = rt
            .block_on(core.save_pool(actor, None, input))
            .map_err(|e| anyhow::anyhow!("creating the demo pool {name}: {e}"))?;
        if object == "lead" {
            lead_pool = Some(pool.id);
        }
    }
    let waiting: Vec<uuid::Uuid> = leads
        .iter()
        .step_by(EVERY)
        .filter_map(|id| id.parse().ok())
        .collect();
    if let Some(pool) = lead_pool {
        for chunk in waiting.chunks(relata_core::pools::MAX_PER_MOVE) {
            rt.block_on(core.add_to_pool(actor, pool, chunk.to_vec()))
                .map_err(|e| anyhow::anyhow!("putting demo leads in the pool: {e}"))?;
        }
    }
    Ok(())
}
