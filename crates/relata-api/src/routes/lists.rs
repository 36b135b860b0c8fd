//! Lists of records: static lists (members added by hand) and dynamic segments (a saved
//! condition). Members are read, counted and exported through the record API with the filter
//! `in_list <id>`, so they follow the caller's visibility like every other list.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;
use uuid::Uuid;

use relata_core::Actor;
use relata_core::lists::{ListChange, ListKind};
use relata_domain::filter::{Filter, compact, json as filter_json};
use relata_domain::{FieldError, FieldErrorCode};

use crate::json::ApiJson;
use crate::params::{bool_param, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::routes::tags::RecordIds;
use crate::state::AppState;

fn list_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::params::path_id("list", raw)
}

/// A condition in the JSON form (an object) or the compact form (a string).
fn condition(value: &Json) -> Result<Filter, ApiError> {
    Ok(match value {
        Json::String(s) => compact::parse(s)?,
        Json::Object(_) => filter_json::parse(value)?,
        _ => {
            return Err(ApiError::field(FieldError::new(
                "filter",
                FieldErrorCode::InvalidFilter,
                "is a filter in the JSON form (an object) or the compact form (a string)",
            )));
        }
    })
}

/// Lists of an object (or of every object the caller may read), by name.
#[utoipa::path(get, path = "/api/v1/lists", tag = "records",
    params(("object" = Option<String>, Query, description = "only lists of this object"),
        ("counts" = Option<bool>, Query, description = "count each list's members the caller may see (up to 100,000)")),
    responses((status = 200, description = "`{data: [{id, object, name, description, kind, filter, owner_id, created_at, updated_at, count?}]}`"),
        (status = 404, description = "no such object")))]
pub async fn list_lists(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let counts = bool_param(&params, "counts")?;
    let lists = state
        .core
        .lists(&actor, params.get("object").map(String::as_str), counts)
        .await?;
    Ok(axum::Json(json!({ "data": lists })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"object": "account", "name": "上海大客户", "kind": "dynamic",
    "filter": "city eq 上海 and has opportunity (amount gt 100000 and stage ne closed_lost)"}))]
pub struct NewList {
    pub object: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `static` (default) or `dynamic` (a segment).
    #[serde(default)]
    pub kind: Option<String>,
    /// A segment's condition: the JSON form (an object) or the compact form (a string).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: Option<Json>,
}

/// Create a static list or a segment.
#[utoipa::path(post, path = "/api/v1/lists", tag = "records", request_body = NewList,
    responses((status = 201, description = "the list"), (status = 404, description = "no such object"),
        (status = 422, description = "a bad name, kind or condition")))]
pub async fn create_list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<NewList>,
) -> ApiResult<Response> {
    let kind = match body.kind.as_deref() {
        None => ListKind::Static,
        Some(k) => ListKind::parse(k).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "kind",
                FieldErrorCode::InvalidOption,
                "is static or dynamic",
            ))
        })?,
    };
    let change = ListChange {
        name: Some(body.name),
        description: Some(body.description),
        filter: body.filter.as_ref().map(condition).transpose()?,
    };
    let list = state
        .core
        .create_list(&actor, &body.object, kind, change)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(list)).into_response())
}

/// A list, with the number of its members the caller may see.
#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "the list with `count`"), (status = 404)))]
pub async fn get_list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let list = state.core.record_list(&actor, list_id(&id)?).await?;
    Ok(axum::Json(list).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUpdate {
    #[serde(default)]
    pub name: Option<String>,
    /// A new description; null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// A segment's new condition.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: Option<Json>,
}

/// A field that is present, even as null (`Some(None)`), as against absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Rename a list, change its description or (a segment's) condition (its owner, or an
/// administrator of metadata).
#[utoipa::path(patch, path = "/api/v1/lists/{id}", tag = "records", params(("id" = String, Path)),
    request_body = ListUpdate,
    responses((status = 200, description = "the list"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ListUpdate>,
) -> ApiResult<Response> {
    let change = ListChange {
        name: body.name,
        description: body.description,
        filter: body.filter.as_ref().map(condition).transpose()?,
    };
    let list = state
        .core
        .update_list(&actor, list_id(&id)?, change)
        .await?;
    Ok(axum::Json(list).into_response())
}

/// Delete a list (its owner, or an administrator of metadata); its records stay.
#[utoipa::path(delete, path = "/api/v1/lists/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.core.delete_list(&actor, list_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add records the caller may see to a static list (all of them or none).
#[utoipa::path(post, path = "/api/v1/lists/{id}/members", tag = "records", params(("id" = String, Path)),
    request_body = RecordIds,
    responses((status = 200, description = "`{added}`: how many were not members yet"),
        (status = 403), (status = 404), (status = 409, description = "a segment, whose members its condition decides"),
        (status = 422)))]
pub async fn add_members(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordIds>,
) -> ApiResult<Response> {
    let added = state
        .core
        .add_to_list(&actor, list_id(&id)?, &body.ids)
        .await?;
    Ok(axum::Json(json!({ "added": added })).into_response())
}

/// Take records out of a static list.
#[utoipa::path(post, path = "/api/v1/lists/{id}/members/remove", tag = "records", params(("id" = String, Path)),
    request_body = RecordIds,
    responses((status = 200, description = "`{removed}`: how many were members"),
        (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn remove_members(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordIds>,
) -> ApiResult<Response> {
    let removed = state
        .core
        .remove_from_list(&actor, list_id(&id)?, &body.ids)
        .await?;
    Ok(axum::Json(json!({ "removed": removed })).into_response())
}
