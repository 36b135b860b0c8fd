//! Merging duplicate records: the plan a reviewer sees, the merge itself, the merges into a
//! record that can still be undone, and the undo.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_core::records::merge::{MergeInfo, MergeRequest};
use relata_domain::dedupe::merge::MergeStrategy;
use relata_domain::{FieldError, FieldErrorCode};

use crate::json::ApiJson;
use crate::params::{if_match, path_id, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn info_json(m: &MergeInfo) -> Json {
    json!({
        "id": m.id.to_string(),
        "object": m.object,
        "survivor_id": m.survivor.to_string(),
        "merged": m.merged.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "actor": m.actor.map(|a| a.to_string()),
        "at": relata_domain::value::format_datetime(&m.at),
        "undo_until": relata_domain::value::format_datetime(&m.undo_until),
    })
}

/// What merging records into this one would keep: the records side by side (this one
/// first), and for each field whose value is chosen, the record it would come from by
/// default (`most_recent`: the most recently updated record with a value; `most_complete`:
/// the record with most fields filled). Needs edit access to this record and full access to
/// the others.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/merge", tag = "records",
    params(("object" = String, Path), ("id" = String, Path, description = "the record that survives"),
        ("with" = String, Query, description = "comma-separated ids of the records to merge into it"),
        ("strategy" = Option<String>, Query, description = "most_recent (default) or most_complete")),
    responses((status = 200, description = "`{records: [...], fields: [...], sources: {field: id}, suggested_survivor}`"),
        (status = 403, description = "a record the caller sees but may not change"),
        (status = 404, description = "no such record, or not visible"),
        (status = 422, description = "no records named, the record itself among them, or too many")))]
pub async fn plan(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let params = query_map(raw.as_deref())?;
    let mut others = Vec::new();
    for (i, part) in params
        .get("with")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .enumerate()
    {
        others.push(uuid::Uuid::parse_str(part.trim()).map_err(|_| {
            ApiError::from(relata_core::CoreError::from(FieldError::new(
                format!("with[{i}]"),
                FieldErrorCode::WrongType,
                "must be a record id",
            )))
        })?);
    }
    let strategy = match params.get("strategy").map(String::as_str) {
        None | Some("") | Some("most_recent") => MergeStrategy::MostRecent,
        Some("most_complete") => MergeStrategy::MostComplete,
        Some(_) => {
            return Err(relata_core::CoreError::from(FieldError::new(
                "strategy",
                FieldErrorCode::InvalidOption,
                "must be most_recent or most_complete",
            ))
            .into());
        }
    };
    let plan = state
        .core
        .merge_plan(&actor, &object, id, others, strategy)
        .await?;
    Ok(axum::Json(json!({
        "records": plan.records.iter().map(|r| r.to_json(&plan.object, None)).collect::<Vec<_>>(),
        "fields": plan.fields,
        "sources": plan.sources.iter().map(|(f, id)| (f.clone(), json!(id.to_string()))).collect::<serde_json::Map<_, _>>(),
        "suggested_survivor": plan.suggested_survivor.to_string(),
    }))
    .into_response())
}

/// Merge records into this one. Body: `{"records": [id, …], "values": {"field": id}, "strategy":
/// "most_recent" | "most_complete"}`. Each field takes the value of the record named in
/// `values`, or the strategy's default; every record of any object pointing at a merged record
/// is re-pointed here, shares move here, and the merged records go to the recycle bin. One
/// transaction, audited; undo with `POST /api/v1/merges/{id}/undo` within `merge_undo_days`.
#[utoipa::path(post, path = "/api/v1/records/{object}/{id}/merge", tag = "records",
    params(("object" = String, Path), ("id" = String, Path, description = "the record that survives"),
        ("If-Match" = Option<String>, Header, description = "the surviving record's version")),
    request_body(content = crate::routes::admin::JsonObject, description = "`{records, values, strategy}`"),
    responses((status = 200, description = "`{merge_id, record, merged, reparented, shares_moved, undo_until}`"),
        (status = 403, description = "the caller may not edit this record or delete one of the others; nothing changed"),
        (status = 404, description = "no such record, or not visible"),
        (status = 412, description = "the record changed since the version in If-Match"),
        (status = 422, description = "a bad request, each problem named")))]
pub async fn merge(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let mut req = MergeRequest::from_json(&body)?;
    req.expected_version = if_match(&headers)?;
    let outcome = state.core.merge_records(&actor, &object, id, req).await?;
    let def = state.core.object(&object)?;
    Ok(axum::Json(json!({
        "merge_id": outcome.merge_id.to_string(),
        "record": outcome.record.to_json(&def, None),
        "merged": outcome.merged.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "reparented": outcome.reparented,
        "shares_moved": outcome.shares_moved,
        "undo_until": relata_domain::value::format_datetime(&outcome.undo_until),
    }))
    .into_response())
}

/// The merges into this record that can still be undone, newest first.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/merges", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [{id, object, survivor_id, merged, actor, at, undo_until}]}`"),
        (status = 404, description = "no such record, or not visible")))]
pub async fn merges(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let found = state.core.merges_into(&actor, &object, id).await?;
    Ok(
        axum::Json(json!({"data": found.iter().map(info_json).collect::<Vec<_>>()}))
            .into_response(),
    )
}

/// Undo a merge: the merged records come back from the recycle bin, the surviving record's
/// fields the merge changed go back (unless edited since), and related records and shares
/// go back to the records they were moved from (unless moved since).
#[utoipa::path(post, path = "/api/v1/merges/{id}/undo", tag = "records",
    params(("id" = String, Path, description = "merge_id of the merge")),
    responses((status = 200, description = "`{record, kept}`: the surviving record as it is now, and its fields the undo left alone (edited since, or not the caller's to change)"),
        (status = 403, description = "the caller may not change these records"),
        (status = 404, description = "no such merge, or its record is not visible"),
        (status = 409, description = "undone already, past the undo window, or a merged record was purged since")))]
pub async fn undo(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id("merge", &id)?;
    let undone = state.core.undo_merge(&actor, id).await?;
    Ok(axum::Json(json!({
        "record": undone.record.to_json(&undone.object, None),
        "kept": undone.kept,
    }))
    .into_response())
}
