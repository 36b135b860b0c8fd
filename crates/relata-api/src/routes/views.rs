//! Saved list views, recently opened records and grouped totals: what the web UI keeps and
//! shows, available to API clients too.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;

use crate::json::ApiJson;
use crate::params::{filter_param, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "上海客户", "query": "f0=city&o0=eq&v0=上海&sort=-created_at", "shared": false}))]
pub struct ViewBody {
    pub name: String,
    /// The list's query string as the web UI writes it (filter rows, sort, columns).
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub shared: bool,
}

/// My saved views of an object and those others shared.
#[utoipa::path(get, path = "/api/v1/views/{object}", tag = "records", params(("object" = String, Path)),
    responses((status = 200, description = "`{\"data\": [{id, object, name, owner_id, shared, query}]}`")))]
pub async fn list_views(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
) -> ApiResult<Response> {
    let views = state.core.saved_views(&actor, &object).await?;
    Ok(axum::Json(json!({ "data": views })).into_response())
}

/// Save a list view (a view of mine with the same name is replaced).
#[utoipa::path(post, path = "/api/v1/views/{object}", tag = "records", params(("object" = String, Path)), request_body = ViewBody,
    responses((status = 201, description = "the view"), (status = 422)))]
pub async fn save_view(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<ViewBody>,
) -> ApiResult<Response> {
    let view = state
        .core
        .save_view(&actor, &object, &body.name, &body.query, body.shared)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

/// Delete a saved view (its owner, or an administrator of metadata).
#[utoipa::path(delete, path = "/api/v1/views/{object}/{id}", tag = "records", params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete_view(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_object, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::from(relata_core::CoreError::not_found(format!("view {id}"))))?;
    state.core.delete_view(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records I opened lately in the web UI, newest first (ids only; names through the record
/// API, which applies visibility).
#[utoipa::path(get, path = "/api/v1/me/recent", tag = "me",
    responses((status = 200, description = "`{\"data\": [{object, id, viewed_at}]}`")))]
pub async fn recent(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let items = state.core.recent_items(&actor, 50).await?;
    let data: Vec<Json> = items
        .iter()
        .map(|i| {
            json!({
                "object": i.object,
                "id": i.record_id.to_string(),
                "viewed_at": relata_domain::value::format_datetime(&i.viewed_at),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Counts (and totals of a number or currency field) of the visible live records, grouped
/// by one field: the pipeline by stage, leads by source.
#[utoipa::path(get, path = "/api/v1/records/{object}/aggregate", tag = "records",
    params(("object" = String, Path),
        ("group_by" = String, Query, description = "a picklist, boolean, text, date, lookup or user field"),
        ("sum" = Option<String>, Query, description = "a currency, decimal, integer or percent field to total"),
        ("filter" = Option<String>, Query, description = "as for lists")),
    responses((status = 200, description = "`{\"data\": [{key, count, sums: [{currency, amount}]}], \"truncated\": bool}`, largest groups first; at most 200 groups, `truncated` when the smallest were left out"), (status = 422)))]
pub async fn aggregate(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let group_by = params.get("group_by").cloned().unwrap_or_default();
    let filter = filter_param(params.get("filter"))?;
    let (_, groups) = state
        .core
        .aggregate(
            &actor,
            &object,
            &group_by,
            params.get("sum").map(String::as_str),
            filter,
        )
        .await?;
    let data: Vec<Json> = groups
        .buckets
        .iter()
        .map(|b| {
            json!({
                "key": b.key.to_json(),
                "count": b.count,
                "sums": b.sums.iter().map(|(c, d)| json!({"currency": c, "amount": d.to_string()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "data": data, "truncated": groups.truncated })).into_response())
}

/// My notifications, newest first, with the number unread (records assigned or transferred
/// to me by someone else).
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "me",
    responses((status = 200, description = "`{\"data\": [{id, kind, object, record_id, actor_id, detail, created_at, read}], \"unread\": n}`")))]
pub async fn notifications(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let (list, unread) = state.core.my_notifications(&actor, 100).await?;
    let data: Vec<Json> = list
        .iter()
        .map(|n| {
            json!({
                "id": n.id.to_string(),
                "kind": n.kind,
                "object": n.object,
                "record_id": n.record_id.map(|u| u.to_string()),
                "actor_id": n.actor_id.map(|u| u.to_string()),
                "detail": n.detail,
                "created_at": relata_domain::value::format_datetime(&n.created_at),
                "read": n.read,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "data": data, "unread": unread })).into_response())
}

/// Mark all my notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "me", responses((status = 204)))]
pub async fn read_notifications(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<StatusCode> {
    state.core.mark_notifications_read(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
