//! `/api/v1/search`: global search across objects, grouped by object, best matches first.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_domain::{FieldError, FieldErrorCode};

use crate::params::{query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// Search names, emails, phones, companies and notes.
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(("q" = String, Query, description = "2+ characters of a Chinese name, 4+ digits of a phone, an email or word prefix"),
           ("objects" = Option<String>, Query, description = "comma-separated objects to search (default: all)"),
           ("limit" = Option<usize>, Query, description = "hits per object, 1-100, default 10")),
    responses((status = 200, description = "`{\"query\", \"data\": [{object, label, hits: [{id, name, rank, record}]}]}`; rank is exact, prefix or substring"),
              (status = 422, description = "q missing or too long, or limit out of range; errors name the parameter")))]
pub async fn search(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let q = params
        .get("q")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::field(FieldError::new(
            "q",
            FieldErrorCode::Required,
            "is required",
        )));
    }
    if q.chars().count() > 200 {
        return Err(ApiError::field(FieldError::new(
            "q",
            FieldErrorCode::TooLong,
            "is longer than 200 characters",
        )));
    }
    let limit = usize_param(&params, "limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field(FieldError::new(
            "limit",
            FieldErrorCode::TooLarge,
            "must be between 1 and 100",
        )));
    }
    let objects: Option<Vec<String>> = params.get("objects").map(|o| {
        o.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let groups = state.core.search(&actor, &q, objects, limit).await?;
    let data: Vec<Json> = groups
        .iter()
        .map(|g| {
            let hits: Vec<Json> = g
                .hits
                .iter()
                .map(|h| {
                    json!({
                        "id": h.record.id().map(|u| u.to_string()),
                        "name": h.record.get(g.object.name_field.as_str()).to_json(),
                        "rank": h.rank,
                        "record": h.record.to_json(&g.object, None),
                    })
                })
                .collect();
            json!({ "object": g.object.name(), "label": g.object.plural_label, "hits": hits })
        })
        .collect();
    Ok(axum::Json(json!({ "query": q, "data": data })).into_response())
}
