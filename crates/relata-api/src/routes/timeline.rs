//! `/api/v1/records/{object}/{id}/timeline`: the 360° timeline of a record.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::timeline::{TimelineItem, TimelineRequest};

use crate::params::{path_id, query_map, usize_param};
use crate::problem::ApiResult;
use crate::state::AppState;

/// One item of a timeline.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the wire form, built as JSON below
pub struct TimelineItemSchema {
    /// When it happened (RFC 3339, UTC, microseconds).
    at: String,
    /// `created`, `field_change`, or the API name of the related record's object (`task`,
    /// `note`, `opportunity`, `contact`, a custom object…).
    kind: String,
    /// The object and id of the record the item opens.
    object: String,
    record_id: String,
    /// The related record's name, or the changed field's API name.
    title: String,
    /// The user who did it.
    actor: Option<String>,
    /// `{field, old_value, new_value}` for a field change; the related record's fields
    /// (those the caller may see) for a related record; null for the creation.
    detail: serde_json::Value,
}

/// A page of a timeline.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TimelinePageSchema {
    data: Vec<TimelineItemSchema>,
    /// Opaque cursor of the next page; null on the last page.
    next_cursor: Option<String>,
    /// Every kind of item this timeline can hold for the caller.
    kinds: Vec<String>,
}

fn item_json(item: &TimelineItem) -> serde_json::Value {
    json!({
        "at": relata_domain::value::format_datetime(&item.at),
        "kind": item.kind,
        "object": item.object,
        "record_id": item.record_id.to_string(),
        "title": item.title,
        "actor": item.actor.map(|a| a.to_string()),
        "detail": item.detail,
    })
}

/// The 360° timeline of a record, newest first: its creation, changes of its tracked
/// fields, and the records that point at it (tasks, notes, opportunities, contacts, custom
/// objects with a lookup to it). Only what the caller may see is included: related records
/// under their own visibility, fields hidden from the caller left out.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/timeline", tag = "records",
    params(("object" = String, Path), ("id" = String, Path),
        ("kinds" = Option<String>, Query, description = "comma-separated kinds to include (e.g. task,note); all when absent"),
        ("limit" = Option<usize>, Query, description = "page size, 1-200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = TimelinePageSchema),
        (status = 400, description = "the cursor is not valid"),
        (status = 404, description = "no such record, or not visible"),
        (status = 422, description = "an unknown kind or a bad limit")))]
pub async fn timeline(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let params = query_map(raw.as_deref())?;
    let req = TimelineRequest {
        kinds: params
            .get("kinds")
            .map(|k| k.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        limit: usize_param(&params, "limit")?,
        cursor: params.get("cursor").cloned().filter(|c| !c.is_empty()),
    };
    let page = state.core.timeline(&actor, &object, id, req).await?;
    let data: Vec<_> = page.items.iter().map(item_json).collect();
    Ok(axum::Json(json!({
        "data": data,
        "next_cursor": page.next_cursor,
        "kinds": page.kinds,
    }))
    .into_response())
}
