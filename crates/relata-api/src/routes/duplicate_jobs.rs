//! The batch duplicate job and its review queue: start a job over an object, follow it, page
//! through the groups it found (most confident first, each with the members the caller may
//! see), and merge or dismiss each group — or merge many reviewed groups at once.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use relata_core::Actor;
use relata_core::records::merge::MergeOutcome;
use relata_domain::dedupe::merge::MergeStrategy;

use crate::json::ApiJson;
use crate::params::{query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn outcome_json(o: &MergeOutcome) -> serde_json::Value {
    json!({
        "merge_id": o.merge_id.to_string(),
        "survivor_id": o.record.id().map(|i| i.to_string()),
        "merged": o.merged.iter().map(Uuid::to_string).collect::<Vec<_>>(),
        "undo_until": relata_domain::value::format_datetime(&o.undo_until),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"object": "contact"}))]
pub struct NewDuplicateJob {
    pub object: String,
}

/// Start a duplicate job over every record of an object the caller may see (administrators
/// of metadata; the object needs an active duplicate rule). It runs in the background.
#[utoipa::path(post, path = "/api/v1/duplicate_jobs", tag = "records", request_body = NewDuplicateJob,
    responses((status = 202, description = "the job, queued"), (status = 403), (status = 404, description = "no such object"),
        (status = 422, description = "the object has no active duplicate rule")))]
pub async fn start_job(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<NewDuplicateJob>,
) -> ApiResult<Response> {
    let job = state.core.start_duplicate_job(&actor, &body.object).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

/// Duplicate jobs, newest first.
#[utoipa::path(get, path = "/api/v1/duplicate_jobs", tag = "records",
    params(("object" = Option<String>, Query, description = "only jobs over this object")),
    responses((status = 200, description = "`{data: [{id, object, status, records, pairs, groups, error, created_at, started_at, finished_at}]}`"), (status = 403)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let jobs = state
        .core
        .duplicate_jobs(&actor, params.get("object").map(String::as_str))
        .await?;
    Ok(axum::Json(json!({ "data": jobs })).into_response())
}

/// A duplicate job: queued, running (with the records read so far), done or failed.
#[utoipa::path(get, path = "/api/v1/duplicate_jobs/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "the job"), (status = 403), (status = 404)))]
pub async fn get_job(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state
        .core
        .duplicate_job(&actor, crate::params::path_id("duplicate job", &id)?)
        .await?;
    Ok(axum::Json(job).into_response())
}

/// The groups a job found, most confident first: `status` open (the review queue, default),
/// merged or dismissed; each with the members the caller may see.
#[utoipa::path(get, path = "/api/v1/duplicate_jobs/{id}/groups", tag = "records",
    params(("id" = String, Path), ("status" = Option<String>, Query, description = "open (default), merged or dismissed"),
        ("limit" = Option<usize>, Query, description = "1-200, default 50"), ("offset" = Option<usize>, Query)),
    responses((status = 200, description = "`{data: [{id, confidence, status, records: [...]}]}`"), (status = 403), (status = 404)))]
pub async fn list_groups(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let status = params.get("status").map_or("open", String::as_str);
    if !["open", "merged", "dismissed"].contains(&status) {
        return Err(ApiError::field(relata_domain::FieldError::new(
            "status",
            relata_domain::FieldErrorCode::InvalidOption,
            "is open, merged or dismissed",
        )));
    }
    let job = crate::params::path_id("duplicate job", &id)?;
    let limit = usize_param(&params, "limit")?.unwrap_or(50);
    let offset = usize_param(&params, "offset")?.unwrap_or(0);
    let groups = state
        .core
        .duplicate_groups(&actor, job, status, limit, offset)
        .await?;
    let def = state.core.duplicate_job(&actor, job).await?;
    let object = state.core.object(&def.object)?;
    let data: Vec<_> = groups
        .iter()
        .map(|(g, members)| {
            json!({
                "id": g.id.to_string(),
                "confidence": (g.confidence * 1000.0).round() / 1000.0,
                "status": g.status,
                "merge_id": g.merge_id.map(|m| m.to_string()),
                "records": members.iter().map(|r| r.to_json(&object, None)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupMerge {
    /// The record that survives; the most complete one when omitted.
    #[serde(default)]
    pub survivor: Option<Uuid>,
    /// most_recent (default) or most_complete: which record's value each field keeps.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub strategy: MergeStrategy,
}

/// Merge a group's records (those the caller may see) into one; undone like any merge.
#[utoipa::path(post, path = "/api/v1/duplicate_groups/{id}/merge", tag = "records", params(("id" = String, Path)),
    request_body = GroupMerge,
    responses((status = 200, description = "`{merge_id, survivor_id, merged, undo_until}`"), (status = 403), (status = 404),
        (status = 409, description = "the group was reviewed already, or fewer than two of its records are left")))]
pub async fn merge_group(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupMerge>,
) -> ApiResult<Response> {
    let outcome = state
        .core
        .merge_duplicate_group(
            &actor,
            crate::params::path_id("duplicate group", &id)?,
            body.survivor,
            body.strategy,
        )
        .await?;
    Ok(axum::Json(outcome_json(&outcome)).into_response())
}

/// Mark a group as not duplicates.
#[utoipa::path(post, path = "/api/v1/duplicate_groups/{id}/dismiss", tag = "records", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn dismiss_group(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .dismiss_duplicate_group(&actor, crate::params::path_id("duplicate group", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkGroupMerge {
    /// 1-200 reviewed groups.
    pub groups: Vec<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub strategy: MergeStrategy,
}

/// Merge many reviewed groups, each on its own (the most complete record survives): one that
/// fails is reported and the others are merged.
#[utoipa::path(post, path = "/api/v1/duplicate_groups/merge", tag = "records", request_body = BulkGroupMerge,
    responses((status = 200, description = "`{data: [{group_id, merged: {…} | null, error: {code, detail} | null}]}`"), (status = 403), (status = 422)))]
pub async fn merge_groups(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<BulkGroupMerge>,
) -> ApiResult<Response> {
    let results = state
        .core
        .merge_duplicate_groups(&actor, &body.groups, body.strategy)
        .await?;
    let data: Vec<_> = results
        .iter()
        .map(|(id, r)| match r {
            Ok(o) => json!({"group_id": id.to_string(), "merged": outcome_json(o), "error": null}),
            Err(e) => json!({"group_id": id.to_string(), "merged": null, "error": {"code": e.code(), "detail": e.to_string()}}),
        })
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}
