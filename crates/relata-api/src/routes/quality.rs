//! Data quality: a record's score, and an object's weakest records.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use relata_core::Actor;
use relata_domain::Value;

use crate::params::{path_id, query_map, usize_param};
use crate::problem::ApiResult;
use crate::state::AppState;

/// The live records the caller may see with the lowest data-quality scores, weakest first:
/// each with its score (0–100, weighted completeness of the object's key fields — for a
/// contact a phone or mobile, an email, the account…) and the key fields it lacks.
#[utoipa::path(get, path = "/api/v1/records/{object}/quality", tag = "records",
    params(("object" = String, Path), ("limit" = Option<usize>, Query, description = "1-200, default 50")),
    responses((status = 200, description = "`{data: [{id, name, score, missing, record}]}`"),
        (status = 404, description = "no such object"), (status = 422, description = "a bad limit")))]
pub async fn weakest_records(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let limit = usize_param(&params, "limit")?.unwrap_or(50);
    let (def, found) = state.core.weakest_records(&actor, &object, limit).await?;
    let data: Vec<_> = found
        .iter()
        .map(|(r, q)| {
            json!({
                "id": r.id().map(|i| i.to_string()),
                "name": match r.get(def.name_field.as_str()) { Value::Text(t) => Some(t.clone()), _ => None },
                "score": q.score,
                "missing": q.missing,
                "record": r.to_json(&def, None),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// A record's data-quality score and the key fields it lacks.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/quality", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{score, missing}`"), (status = 404, description = "no such record, or not visible")))]
pub async fn record_quality(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let q = state.core.record_quality(&actor, &object, id).await?;
    Ok(axum::Json(json!({"score": q.score, "missing": q.missing})).into_response())
}
