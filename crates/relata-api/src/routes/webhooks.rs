//! Outbound webhooks for administrators (the "manage automation" capability): subscribe a
//! URL to an object's events with an optional condition, see each webhook's delivery log,
//! send a delivery again. The signing secret is answered once, when the webhook is created.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::webhooks::WebhookInput;

use crate::json::ApiJson;
use crate::params::{path_id, query_map, usize_param};
use crate::problem::ApiResult;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ERP sync", "url": "https://erp.example.com/hooks/relata", "object": "contact", "events": ["created", "updated"], "filter": "city eq \"上海\""}))]
pub struct WebhookBody {
    pub name: String,
    /// http:// or https:// address the events are POSTed to.
    pub url: String,
    pub object: String,
    /// created, updated, deleted, restored
    pub events: Vec<String>,
    /// Only records meeting this condition (filter language, JSON or compact form).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Json>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

impl From<WebhookBody> for WebhookInput {
    fn from(b: WebhookBody) -> Self {
        WebhookInput {
            name: b.name,
            url: b.url,
            object: b.object,
            events: b.events,
            filter: b.filter,
            enabled: b.enabled,
        }
    }
}

/// Every webhook, with whether it is enabled and why it was disabled.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "automation",
    responses((status = 200, description = "`{data: [webhook]}`"), (status = 403)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let hooks = state.core.webhooks(&actor).await?;
    Ok(axum::Json(json!({ "data": hooks })).into_response())
}

/// Subscribe a URL to an object's events. The answer carries the signing `secret`, shown
/// this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "automation", request_body = WebhookBody,
    responses((status = 201, description = "the webhook and its `secret`"), (status = 403),
        (status = 422, description = "`name`, `url`, `object`, `events` or `filter` named with the problem")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    let (hook, secret) = state.core.create_webhook(&actor, body.into()).await?;
    let mut out = serde_json::to_value(&hook).unwrap_or(Json::Null);
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the webhook"), (status = 403), (status = 404)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let hook = state.core.webhook(&actor, path_id("webhook", &id)?).await?;
    Ok(axum::Json(hook).into_response())
}

/// Change a webhook; enabling a disabled one starts its failure count afresh.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "automation", params(("id" = String, Path)),
    request_body = WebhookBody,
    responses((status = 200, description = "the webhook"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    let hook = state
        .core
        .update_webhook(&actor, path_id("webhook", &id)?, body.into())
        .await?;
    Ok(axum::Json(hook).into_response())
}

/// Delete a webhook and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_webhook(&actor, path_id("webhook", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A webhook's deliveries, newest first: payload, status (pending, delivered, failed), tries,
/// the receiver's last answer.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "automation",
    params(("id" = String, Path), ("limit" = Option<usize>, Query, description = "1-500, default 50")),
    responses((status = 200, description = "`{data: [delivery]}`"), (status = 403), (status = 404)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let limit = usize_param(&params, "limit")?.unwrap_or(50);
    let list = state
        .core
        .webhook_deliveries(&actor, path_id("webhook", &id)?, limit)
        .await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

/// Send a delivery again, with the same delivery id.
#[utoipa::path(post, path = "/api/v1/webhook_deliveries/{id}/replay", tag = "automation",
    params(("id" = String, Path)),
    responses((status = 200, description = "the delivery, pending"), (status = 403), (status = 404)))]
pub async fn replay_delivery(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let d = state
        .core
        .replay_delivery(&actor, path_id("delivery", &id)?)
        .await?;
    Ok(axum::Json(d).into_response())
}
