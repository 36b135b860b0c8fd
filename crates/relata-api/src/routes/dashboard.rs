//! Dashboards: figures computed over what the caller may see.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_core::dashboard::Amounts;

use crate::params::{query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn amounts(a: &Amounts) -> Json {
    a.iter()
        .map(|(currency, amount)| json!({"currency": currency, "amount": amount.to_string()}))
        .collect()
}

/// The sales dashboard of one pipeline (default: the first active) over the last `days`
/// (default 90): the pipeline by stage now (count, amounts, weighted amounts; `reached`:
/// deals created in the period that got at least this far, and `conversion` from the stage
/// before, in percent), activities per rep, leads by source (with how many converted), and
/// the open deals by age.
#[utoipa::path(get, path = "/api/v1/dashboards/sales", tag = "sales",
    params(("pipeline" = Option<String>, Query), ("days" = Option<u32>, Query)),
    responses((status = 200, description = "`{pipeline, since, stages, activities, lead_sources, ageing}`"),
        (status = 404, description = "no such pipeline")))]
pub async fn sales(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let days = usize_param(&params, "days")?.unwrap_or(90);
    let days = u32::try_from(days)
        .ok()
        .filter(|d| (1..=relata_core::dashboard::MAX_DAYS).contains(d))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_days",
                format!("days must be 1-{}", relata_core::dashboard::MAX_DAYS),
            )
        })?;
    let d = state
        .core
        .sales_dashboard(&actor, params.get("pipeline").map(String::as_str), days)
        .await?;
    let stages: Vec<Json> = d
        .stages
        .iter()
        .map(|s| {
            json!({"stage": s.stage, "label": s.label, "count": s.count,
                   "amounts": amounts(&s.amounts), "weighted": amounts(&s.weighted),
                   "reached": s.reached, "conversion": s.conversion.map(|c| format!("{c:.1}"))})
        })
        .collect();
    let ageing: Vec<Json> = d
        .ageing
        .iter()
        .map(|a| {
            json!({"from_days": a.from_days, "to_days": a.to_days, "count": a.count,
                   "amounts": amounts(&a.amounts)})
        })
        .collect();
    Ok(axum::Json(json!({
        "pipeline": d.pipeline.name, "since": d.since, "stages": stages,
        "activities": d.activities, "lead_sources": d.lead_sources, "ageing": ageing
    }))
    .into_response())
}
