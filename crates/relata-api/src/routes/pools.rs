//! Pools (公海): setting them up, claiming from them, returning to them, handing out and
//! putting in, and a record's history in them. A pool's records themselves are listed by
//! the record API (`filter=pool_id = …` shows what a member may see).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use relata_core::Actor;
use relata_core::pools::{MoveOutcome, PoolInput, pool_json};

use crate::json::ApiJson;
use crate::params::path_id;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "华南公海", "object": "account", "is_default": true,
    "rules": {
        "reclaim": [{"no_follow_up_days": 30, "warn_days_before": 3}, {"level": "a", "no_follow_up_days": 60, "no_won_deal_days": 180, "warn_days_before": 7}],
        "max_owned": [{"max": 200}, {"level": "a", "max": 20}],
        "max_claims_per_day": 10,
        "reclaim_cooldown_days": 30
    },
    "members": [{"kind": "role_and_subordinates", "id": "…"}, {"kind": "user", "id": "…", "can_assign": true}]
}))]
pub struct PoolBody {
    pub name: String,
    /// `lead` or `account`
    pub object: String,
    #[schema(value_type = Object)]
    #[serde(default)]
    pub rules: serde_json::Value,
    #[serde(default)]
    pub is_default: bool,
    #[schema(value_type = Vec<Object>)]
    #[serde(default)]
    pub members: Vec<serde_json::Value>,
}

impl PoolBody {
    fn input(self) -> Result<PoolInput, ApiError> {
        let rules = if self.rules.is_null() {
            json!({})
        } else {
            self.rules
        };
        let value = json!({"name": self.name, "object": self.object, "rules": rules,
            "is_default": self.is_default, "members": self.members});
        serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request("invalid_body", format!("the pool is malformed: {e}"))
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsBody {
    /// The records (at most 500).
    pub ids: Vec<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub ids: Vec<Uuid>,
    /// The user who gets them.
    pub user_id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    /// `lead` or `account`
    pub object: String,
    pub ids: Vec<Uuid>,
    /// Why they go back (required).
    pub reason: String,
}

/// Per-record results; a move where every record was refused answers 409 with the first
/// refusal's code, so a single claim over a limit reads as an error.
fn moved(results: Vec<MoveOutcome>) -> Response {
    let n = results.iter().filter(|r| r.done).count();
    if n == 0
        && let Some(first) = results.first()
    {
        let code = first.code.unwrap_or("refused");
        let message = first.message.clone().unwrap_or_default();
        let mut body = json!({
            "type": format!("https://relata.dev/problems/{code}"),
            "title": "Refused",
            "status": 409,
            "code": code,
            "detail": message,
        });
        body["results"] = json!(results);
        return (
            StatusCode::CONFLICT,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            axum::Json(body),
        )
            .into_response();
    }
    axum::Json(json!({"done": n, "results": results})).into_response()
}

/// The pools the caller may claim from (every pool for administrators of metadata).
#[utoipa::path(get, path = "/api/v1/pools", tag = "sales",
    responses((status = 200, description = "`{data: [pool]}`")))]
pub async fn list_pools(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let pools = state.core.pools(&actor).await?;
    let data: Vec<_> = pools.iter().map(pool_json).collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Create a pool (administrators of metadata). Reclaim rules per customer level (accounts)
/// or rating (leads): a rule without a level governs the levels no rule names.
#[utoipa::path(post, path = "/api/v1/pools", tag = "sales", request_body = PoolBody,
    responses((status = 201, description = "the pool"), (status = 403),
        (status = 422, description = "each problem named, e.g. `rules.reclaim.0.warn_days_before`")))]
pub async fn create_pool(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<PoolBody>,
) -> ApiResult<Response> {
    let pool = state.core.save_pool(&actor, None, body.input()?).await?;
    Ok((StatusCode::CREATED, axum::Json(pool_json(&pool))).into_response())
}

/// One pool the caller belongs to or administers.
#[utoipa::path(get, path = "/api/v1/pools/{id}", tag = "sales", params(("id" = String, Path)),
    responses((status = 200, description = "the pool"), (status = 404)))]
pub async fn get_pool(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let pool = state.core.pool(&actor, path_id("pool", &id)?).await?;
    Ok(axum::Json(pool_json(&pool)).into_response())
}

/// Replace a pool's name, rules and members (its object stays).
#[utoipa::path(put, path = "/api/v1/pools/{id}", tag = "sales", params(("id" = String, Path)),
    request_body = PoolBody,
    responses((status = 200, description = "the pool"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_pool(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PoolBody>,
) -> ApiResult<Response> {
    let id = path_id("pool", &id)?;
    let pool = state
        .core
        .save_pool(&actor, Some(id), body.input()?)
        .await?;
    Ok(axum::Json(pool_json(&pool)).into_response())
}

/// Delete an empty pool.
#[utoipa::path(delete, path = "/api/v1/pools/{id}", tag = "sales", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "`pool_not_empty`")))]
pub async fn delete_pool(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_pool(&actor, path_id("pool", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Claim records of the pool for yourself, each within the pool's limits: records owned
/// per level, claims per day, and the cooldown after you returned or lost a record.
#[utoipa::path(post, path = "/api/v1/pools/{id}/claim", tag = "sales", params(("id" = String, Path)),
    request_body = IdsBody,
    responses((status = 200, description = "`{done, results: [{id, done, code?, message?}]}`"),
        (status = 403, description = "not a member"), (status = 404),
        (status = 409, description = "every record refused: `owned_limit`, `daily_claim_limit`, `cooldown` or `not_in_pool`, with `results`")))]
pub async fn claim(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IdsBody>,
) -> ApiResult<Response> {
    let results = state
        .core
        .claim_from_pool(&actor, path_id("pool", &id)?, body.ids)
        .await?;
    Ok(moved(results))
}

/// Hand records of the pool to a user (the pool's managers), within the owned limit.
#[utoipa::path(post, path = "/api/v1/pools/{id}/assign", tag = "sales", params(("id" = String, Path)),
    request_body = AssignBody,
    responses((status = 200, description = "`{done, results}`"), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn assign(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> ApiResult<Response> {
    let results = state
        .core
        .assign_from_pool(&actor, path_id("pool", &id)?, body.ids, body.user_id)
        .await?;
    Ok(moved(results))
}

/// Put records into the pool, taking them from their owners (the pool's managers).
#[utoipa::path(post, path = "/api/v1/pools/{id}/add", tag = "sales", params(("id" = String, Path)),
    request_body = IdsBody,
    responses((status = 200, description = "`{done, results}`"), (status = 403), (status = 404), (status = 409)))]
pub async fn add(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IdsBody>,
) -> ApiResult<Response> {
    let results = state
        .core
        .add_to_pool(&actor, path_id("pool", &id)?, body.ids)
        .await?;
    Ok(moved(results))
}

/// Give your records back to the pool they came from (else the default pool), saying why.
#[utoipa::path(post, path = "/api/v1/pools/return", tag = "sales", request_body = ReturnBody,
    responses((status = 200, description = "`{done, results}`"), (status = 404), (status = 409), (status = 422, description = "no reason")))]
pub async fn return_records(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ReturnBody>,
) -> ApiResult<Response> {
    let results = state
        .core
        .return_to_pool(&actor, &body.object, body.ids, &body.reason)
        .await?;
    Ok(moved(results))
}

/// Who held a record when, and why it moved (claimed, returned with its reason, assigned,
/// reclaimed, warned), oldest first.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/pool_history", tag = "sales",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [{pool_id, action, user_id, actor_id, reason, at}]}`"), (status = 404)))]
pub async fn pool_history(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let events = state.core.pool_history(&actor, &object, id).await?;
    Ok(axum::Json(json!({ "data": events })).into_response())
}
