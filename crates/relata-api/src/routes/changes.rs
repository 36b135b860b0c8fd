//! `/api/v1/changes`: the change feed in commit order.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use relata_core::Actor;
use relata_domain::{FieldError, FieldErrorCode};

use crate::params::{i64_param, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// Changes after a sequence number, oldest first.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes",
    params(("after" = Option<i64>, Query, description = "return events with seq greater than this (default 0)"),
           ("limit" = Option<usize>, Query, description = "1-1000, default 100"),
           ("object" = Option<String>, Query, description = "only this object")),
    responses((status = 200, description = "`{\"data\": [{seq, object, record_id, kind, actor, at, changes}], \"next_after\": seq}`"),
              (status = 404, description = "no such object"),
              (status = 422, description = "after or limit is not valid; errors name the parameter")))]
pub async fn changes(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let after = i64_param(&params, "after")?.unwrap_or(0);
    let limit = usize_param(&params, "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(FieldError::new(
            "limit",
            FieldErrorCode::TooLarge,
            "must be between 1 and 1000",
        )));
    }
    let events = state
        .core
        .changes(&actor, after, limit, params.get("object").cloned())
        .await?;
    let next_after = events.last().map(|e| e.seq).unwrap_or(after);
    Ok(axum::Json(json!({ "data": events, "next_after": next_after })).into_response())
}
