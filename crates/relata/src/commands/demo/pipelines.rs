//! Pipelines a newcomer finds in the demo beside the standard one: renewals (续约) and
//! project sales (项目型销售), the latter asking for an amount and a close date before a
//! bid and a primary contact before contracting; some of the generated deals follow them.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use relata_core::{Actor, Core};
use relata_domain::opportunity::pipeline::Pipeline;

/// Every `EVERY`th deal is a renewal, and the one after it a project.
const EVERY: usize = 5;

fn definitions() -> Vec<Json> {
    vec![
        json!({"name": "renewal", "label": "续约 · Renewal", "stages": [
            {"value": "renewal_review", "label": "续约评估 · Renewal review", "probability": 40, "forecast_category": "pipeline"},
            {"value": "renewal_quote", "label": "续约报价 · Renewal quote", "probability": 70, "forecast_category": "best_case",
             "required_fields": ["amount"]},
            {"value": "negotiation", "probability": 85, "forecast_category": "commit"},
            {"value": "closed_won", "probability": 100, "forecast_category": "closed"},
            {"value": "closed_lost", "probability": 0, "forecast_category": "omitted"}
        ]}),
        json!({"name": "project", "label": "项目型 · Project", "stages": [
            {"value": "initiation", "label": "立项 · Initiation", "probability": 10, "forecast_category": "pipeline"},
            {"value": "bidding", "label": "投标 · Bidding", "probability": 40, "forecast_category": "best_case",
             "required_fields": ["amount", "close_date"]},
            {"value": "contracting", "label": "合同谈判 · Contracting", "probability": 80, "forecast_category": "commit",
             "required_fields": ["contact_id"]},
            {"value": "closed_won", "probability": 100, "forecast_category": "closed"},
            {"value": "closed_lost", "probability": 0, "forecast_category": "omitted"}
        ]}),
    ]
}

/// Saves the demo pipelines unless the database has pipelines of its own.
pub fn create(core: &Arc<Core>, rt: &tokio::runtime::Runtime, actor: &Actor) -> anyhow::Result<()> {
    if !core.pipelines()?.standard {
        return Ok(());
    }
    for definition in definitions() {
        let pipeline: Pipeline = serde_json::from_value(definition)?;
        let name = pipeline.name.clone();
        rt.block_on(core.save_pipeline(actor, pipeline))
            .map_err(|e| anyhow::anyhow!("saving the {name} pipeline: {e}"))?;
    }
    Ok(())
}

/// Puts the `i`th generated deal (made with the standard stages) into its pipeline, at the
/// stage of that pipeline nearest to where it stood.
pub fn place(i: usize, deal: &mut Json) {
    let (pipeline, map): (&str, fn(&str) -> &'static str) = match i % EVERY {
        0 => ("renewal", |s| match s {
            "prospecting" | "qualification" | "needs_analysis" => "renewal_review",
            "proposal" => "renewal_quote",
            "negotiation" => "negotiation",
            "closed_won" => "closed_won",
            _ => "closed_lost",
        }),
        1 if deal["contact_id"].is_string() => ("project", |s| match s {
            "prospecting" | "qualification" => "initiation",
            "needs_analysis" | "proposal" => "bidding",
            "negotiation" => "contracting",
            "closed_won" => "closed_won",
            _ => "closed_lost",
        }),
        _ => return,
    };
    let Some(map_obj) = deal.as_object_mut() else {
        return;
    };
    let stage = map_obj
        .get("stage")
        .and_then(Json::as_str)
        .map(map)
        .unwrap_or("closed_lost");
    map_obj.insert("pipeline".into(), json!(pipeline));
    map_obj.insert("stage".into(), json!(stage));
    // the pipeline's stage brings its own probability
    map_obj.remove("probability");
}
