//! Assignment rules for administrators (the "manage automation" capability), applying one
//! to a record, and users' time away (out of office), which the rules respect.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::assignment::AssignmentInput;

use crate::json::ApiJson;
use crate::params::path_id;
use crate::problem::ApiResult;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Leads by region",
    "object": "lead",
    "definition": {
        "strategy": "round_robin",
        "entries": [
            {"condition": "city in (上海, 杭州, 南京)", "users": ["…", "…"]},
            {"users": ["…"]}
        ],
        "working_hours": {"time_zone": "Asia/Shanghai", "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"},
        "fallback_user": "…"
    }
}))]
pub struct AssignmentBody {
    pub name: String,
    pub object: String,
    /// `{strategy: round_robin | load_balanced, entries: [{condition?, users}], open_condition?, working_hours?, fallback_user?}`
    #[schema(value_type = Object)]
    pub definition: Json,
}

impl From<AssignmentBody> for AssignmentInput {
    fn from(b: AssignmentBody) -> Self {
        AssignmentInput {
            name: b.name,
            object: b.object,
            definition: b.definition,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub record_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwayBody {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Every assignment rule.
#[utoipa::path(get, path = "/api/v1/assignment_rules", tag = "automation",
    responses((status = 200, description = "`{data: [rule]}`"), (status = 403)))]
pub async fn list_assignment_rules(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let rules = state.core.assignment_rules(&actor).await?;
    Ok(axum::Json(json!({ "data": rules })).into_response())
}

/// Create an assignment rule.
#[utoipa::path(post, path = "/api/v1/assignment_rules", tag = "automation", request_body = AssignmentBody,
    responses((status = 201, description = "the rule"), (status = 403),
        (status = 422, description = "each problem named: `entries[0].condition`, `working_hours.days`…")))]
pub async fn create_assignment_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<AssignmentBody>,
) -> ApiResult<Response> {
    let rule = state
        .core
        .save_assignment_rule(&actor, None, body.into())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(rule)).into_response())
}

/// One assignment rule.
#[utoipa::path(get, path = "/api/v1/assignment_rules/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the rule"), (status = 403), (status = 404)))]
pub async fn get_assignment_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let rule = state
        .core
        .assignment_rule(&actor, path_id("assignment rule", &id)?)
        .await?;
    Ok(axum::Json(rule).into_response())
}

/// Replace an assignment rule's name and definition (its turn counter stays).
#[utoipa::path(put, path = "/api/v1/assignment_rules/{id}", tag = "automation", params(("id" = String, Path)),
    request_body = AssignmentBody,
    responses((status = 200, description = "the rule"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_assignment_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignmentBody>,
) -> ApiResult<Response> {
    let rule = state
        .core
        .save_assignment_rule(&actor, Some(path_id("assignment rule", &id)?), body.into())
        .await?;
    Ok(axum::Json(rule).into_response())
}

/// Delete an assignment rule.
#[utoipa::path(delete, path = "/api/v1/assignment_rules/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_assignment_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_assignment_rule(&actor, path_id("assignment rule", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Give a record to whom the rule picks now; answers who and why (`entry`, `fallback`,
/// `nobody`).
#[utoipa::path(post, path = "/api/v1/assignment_rules/{id}/assign", tag = "automation",
    params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, description = "`{owner_id, by, entry}`"), (status = 403), (status = 404)))]
pub async fn assign_by_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> ApiResult<Response> {
    let assigned = state
        .core
        .assign_by_rule(
            &actor,
            path_id("assignment rule", &id)?,
            path_id("record", &body.record_id)?,
        )
        .await?;
    Ok(axum::Json(assigned).into_response())
}

/// Mark a user away (out of office): assignment rules pass them by meanwhile. Users set
/// their own; user administrators anyone's.
#[utoipa::path(put, path = "/api/v1/users/{id}/away", tag = "automation", params(("id" = String, Path)),
    request_body = AwayBody,
    responses((status = 200, description = "the time away"), (status = 403), (status = 404), (status = 422)))]
pub async fn set_away(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AwayBody>,
) -> ApiResult<Response> {
    let away = state
        .core
        .set_away(
            &actor,
            path_id("user", &id)?,
            body.starts_at,
            body.ends_at,
            body.note,
        )
        .await?;
    Ok(axum::Json(away).into_response())
}

/// End a user's time away.
#[utoipa::path(delete, path = "/api/v1/users/{id}/away", tag = "automation", params(("id" = String, Path)),
    responses((status = 204), (status = 403)))]
pub async fn clear_away(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.core.clear_away(&actor, path_id("user", &id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
