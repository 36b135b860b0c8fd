//! Tags on records: the tags of an object with counts, a record's tags, tagging and untagging
//! records (one or many at once), and renaming, recolouring or deleting a tag. Filter by a
//! tag anywhere the filter language is taken: `tagged VIP`.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use relata_core::Actor;

use crate::json::ApiJson;
use crate::params::{path_id, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn tag_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::params::path_id("tag", raw)
}

/// The tags of an object, by name, each with the number of live records carrying it that
/// the caller may see.
#[utoipa::path(get, path = "/api/v1/tags", tag = "records",
    params(("object" = String, Query, description = "the object whose tags to list")),
    responses((status = 200, description = "`{data: [{id, object, name, colour, created_by, count}]}`"),
        (status = 404, description = "no such object"), (status = 422, description = "no object named")))]
pub async fn list_tags(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let object = params.get("object").ok_or_else(|| {
        ApiError::field(relata_domain::FieldError::new(
            "object",
            relata_domain::FieldErrorCode::Required,
            "name the object whose tags to list",
        ))
    })?;
    let tags = state.core.tags(&actor, object).await?;
    Ok(axum::Json(json!({ "data": tags })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ids": ["0193b7e0-0000-7000-8000-000000000001"], "name": "重点客户", "colour": "red"}))]
pub struct TagBody {
    /// The records to tag (1-1000); omitted when the path names the record.
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// The tag's name; a tag of that name is created when the object has none.
    pub name: String,
    /// A new tag's colour: grey (default), red, orange, yellow, green, teal, blue, purple, pink.
    #[serde(default)]
    pub colour: Option<String>,
}

/// Tag records the caller may edit (all of them or, on any error, none).
#[utoipa::path(post, path = "/api/v1/records/{object}/tags", tag = "records",
    params(("object" = String, Path)), request_body = TagBody,
    responses((status = 200, description = "the tag"), (status = 403, description = "a record the caller may not edit"),
        (status = 404, description = "a record that does not exist or is not visible"), (status = 422)))]
pub async fn tag_many(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<TagBody>,
) -> ApiResult<Response> {
    let tag = state
        .core
        .tag_records(
            &actor,
            &object,
            &body.ids,
            &body.name,
            body.colour.as_deref(),
        )
        .await?;
    Ok(axum::Json(tag).into_response())
}

/// A record's tags.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/tags", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [{id, object, name, colour, created_by}]}`"), (status = 404)))]
pub async fn record_tags(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let tags = state.core.record_tags(&actor, &object, id).await?;
    Ok(axum::Json(json!({ "data": tags })).into_response())
}

/// Tag one record (`ids` in the body, if given, must be empty).
#[utoipa::path(post, path = "/api/v1/records/{object}/{id}/tags", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)), request_body = TagBody,
    responses((status = 200, description = "the tag"), (status = 403), (status = 404), (status = 422)))]
pub async fn tag_record(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TagBody>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    if !body.ids.is_empty() {
        return Err(ApiError::field(relata_domain::FieldError::new(
            "ids",
            relata_domain::FieldErrorCode::InvalidOption,
            "the path names the record; tag several with POST /api/v1/records/{object}/tags",
        )));
    }
    let tag = state
        .core
        .tag_records(&actor, &object, &[id], &body.name, body.colour.as_deref())
        .await?;
    Ok(axum::Json(tag).into_response())
}

/// Take a tag off one record.
#[utoipa::path(delete, path = "/api/v1/records/{object}/{id}/tags/{tag_id}", tag = "records",
    params(("object" = String, Path), ("id" = String, Path), ("tag_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn untag_record(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id, tag)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&object, &id)?;
    state
        .core
        .untag_records(&actor, tag_id(&tag)?, &[id])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIds {
    /// 1-1000 record ids.
    pub ids: Vec<Uuid>,
}

/// Take a tag off several records the caller may edit (all of them or none).
#[utoipa::path(post, path = "/api/v1/tags/{id}/remove", tag = "records",
    params(("id" = String, Path)), request_body = RecordIds,
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
pub async fn untag_many(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordIds>,
) -> ApiResult<StatusCode> {
    state
        .core
        .untag_records(&actor, tag_id(&id)?, &body.ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "战略客户", "colour": "purple"}))]
pub struct TagChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
}

/// Rename or recolour a tag (its creator, or an administrator of metadata).
#[utoipa::path(patch, path = "/api/v1/tags/{id}", tag = "records",
    params(("id" = String, Path)), request_body = TagChange,
    responses((status = 200, description = "the tag"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_tag(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagChange>,
) -> ApiResult<Response> {
    let tag = state
        .core
        .update_tag(
            &actor,
            tag_id(&id)?,
            body.name.as_deref(),
            body.colour.as_deref(),
        )
        .await?;
    Ok(axum::Json(tag).into_response())
}

/// Delete a tag, taking it off every record (its creator, or an administrator of metadata).
#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "records",
    params(("id" = String, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_tag(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.core.delete_tag(&actor, tag_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
