//! Sales targets (销售目标) with live attainment, and the forecast (销售预测): by category per
//! rep, adjustments and manager overrides with their history, and its weekly trend.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_core::Actor;
use relata_core::targets::Target;

use crate::json::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    team: Option<Uuid>,
    user_id: Option<Uuid>,
}

fn period(q: &PeriodQuery) -> ApiResult<String> {
    q.period.clone().filter(|p| !p.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            "period is required (2026-12, 2026-Q4 or 2026)",
        )
    })
}

/// The targets of a period the caller may see — theirs, their teams', their department's,
/// the company's, and those of the people beneath them — each with its actual and
/// attainment computed now.
#[utoipa::path(get, path = "/api/v1/targets", tag = "forecasting",
    params(("period" = String, Query, description = "2026-12, 2026-Q4 or 2026")),
    responses((status = 200, description = "`{data: [{id, assignee: {type: user|team|department|company, id?|name?}, period, metric: won_amount|won_count|payments_collected|new_customers, target, currency, actual, attainment, members}]}`"), (status = 400), (status = 422)))]
pub async fn list_targets(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let data = state.core.target_progress(&actor, &period(&q)?).await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Set a target (administrators of users): a second one for the same assignee, period and
/// metric replaces the first.
#[utoipa::path(post, path = "/api/v1/targets", tag = "forecasting",
    request_body(content = Object, description = "a target",
        example = json!({"assignee": {"type": "team", "id": "0190…"}, "period": "2026-Q4",
            "metric": "won_amount", "target": "3000000", "currency": "CNY"})),
    responses((status = 201, description = "the target"), (status = 403), (status = 422)))]
pub async fn save_target(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let target: Target = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not a target: {e}")))?;
    let saved = state.core.save_target(&actor, target).await?;
    Ok((StatusCode::CREATED, axum::Json(saved)).into_response())
}

/// Remove a target (administrators of users).
#[utoipa::path(delete, path = "/api/v1/targets/{id}", tag = "forecasting",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_target(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    state.core.delete_target(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The forecast of a period: per rep (the caller and those beneath them, or a team's
/// members) the deals closing in it by category — computed, the rep's adjustment, the
/// manager's override — the weighted pipeline, the call (closed + commit), and the
/// won-amount target with its attainment; in the roll-up currency.
#[utoipa::path(get, path = "/api/v1/forecast", tag = "forecasting",
    params(("period" = String, Query), ("team" = Option<Uuid>, Query)),
    responses((status = 200, description = "`{period, currency, reps: [{user_id, categories: {closed|commit|best_case|pipeline: {computed, adjusted, overridden}}, weighted, call, target, attainment}], totals, weighted, call, target, attainment}`"), (status = 400), (status = 404), (status = 422)))]
pub async fn forecast(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let f = state.core.forecast(&actor, &period(&q)?, q.team).await?;
    Ok(axum::Json(f).into_response())
}

#[derive(Debug, Deserialize)]
pub struct AdjustBody {
    user_id: Uuid,
    period: String,
    category: String,
    amount: Decimal,
    #[serde(default)]
    note: Option<String>,
}

/// Adjust a rep's figure of one category (commit, best_case or pipeline): the rep's own
/// adjustment, or — made by their manager or an administrator of users — an override that
/// stands over it.
#[utoipa::path(post, path = "/api/v1/forecast/adjustments", tag = "forecasting",
    request_body(content = Object, description = "`{user_id, period, category, amount, note?}`"),
    responses((status = 201, description = "the adjustment"), (status = 403), (status = 422)))]
pub async fn adjust_forecast(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let b: AdjustBody = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not an adjustment: {e}")))?;
    let a = state
        .core
        .adjust_forecast(&actor, b.user_id, &b.period, &b.category, b.amount, b.note)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(a)).into_response())
}

/// Every adjustment and override of a rep's forecast for a period, oldest first.
#[utoipa::path(get, path = "/api/v1/forecast/history", tag = "forecasting",
    params(("period" = String, Query), ("user_id" = Uuid, Query)),
    responses((status = 200, description = "`{data: [{id, user_id, period, category, amount, currency, is_override, note, by_user, at}]}`"), (status = 400), (status = 404)))]
pub async fn forecast_history(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let user = q
        .user_id
        .ok_or_else(|| ApiError::bad_request("invalid_parameter", "user_id is required"))?;
    let data = state
        .core
        .forecast_history(&actor, user, &period(&q)?)
        .await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// How the forecast of a period moved: the weekly snapshots, per category, added up over
/// the people the caller's forecast shows (or a team's).
#[utoipa::path(get, path = "/api/v1/forecast/trend", tag = "forecasting",
    params(("period" = String, Query), ("team" = Option<Uuid>, Query)),
    responses((status = 200, description = "`{data: [{taken_on, categories: {closed, commit, best_case, pipeline}}]}`"), (status = 400), (status = 404)))]
pub async fn forecast_trend(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let data = state
        .core
        .forecast_trend(&actor, &period(&q)?, q.team)
        .await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}
