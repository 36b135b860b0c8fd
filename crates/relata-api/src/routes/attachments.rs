//! Files attached to records: upload, list, download, remove.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use relata_core::Actor;
use relata_domain::{FieldError, FieldErrorCode};

use crate::params::{path_id, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// Attach a file to a record. The body is the file; `file_name` names it. What the file is
/// is read from its content (documents, spreadsheets, presentations, images, archives, text
/// are accepted; programs and web pages are not), at most `attachment_max_mb`. Needs edit
/// access to the record.
#[utoipa::path(post, path = "/api/v1/records/{object}/{id}/attachments", tag = "records",
    params(("object" = String, Path), ("id" = String, Path),
        ("file_name" = String, Query, description = "the file's name")),
    request_body(content = Vec<u8>, description = "the file", content_type = "application/octet-stream"),
    responses((status = 201, description = "`{id, object, record_id, file_name, content_type, bytes, sha256, created_by, created_at}`"),
        (status = 403, description = "the caller may not edit the record"),
        (status = 404, description = "no such record, or not visible"),
        (status = 413, description = "larger than the body limit"),
        (status = 422, description = "no name, empty, too large, or not a kind of file that can be attached")))]
pub async fn attach_file(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let params = query_map(raw.as_deref())?;
    let name = params.get("file_name").cloned().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::field(FieldError::new(
            "file_name",
            FieldErrorCode::Required,
            "is required",
        )));
    }
    let attachment = state
        .core
        .attach(&actor, &object, id, &name, body.to_vec())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(attachment)).into_response())
}

/// The files attached to a record, newest first.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/attachments", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [attachment]}`"), (status = 404, description = "no such record, or not visible")))]
pub async fn list_attachments(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let found = state.core.attachments(&actor, &object, id).await?;
    Ok(axum::Json(json!({ "data": found })).into_response())
}

/// Download an attached file (always as an attachment, with the type its content has).
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "records",
    params(("id" = String, Path)),
    responses((status = 200, description = "the file"), (status = 404, description = "no such file, or its record is not visible")))]
pub async fn download_attachment(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id("attachment", &id)?;
    let (attachment, data) = state.core.attachment_file(&actor, id).await?;
    Ok((attachment.download_headers(), data).into_response())
}

/// Remove an attached file. Needs edit access to its record.
#[utoipa::path(delete, path = "/api/v1/attachments/{id}", tag = "records",
    params(("id" = String, Path)),
    responses((status = 204, description = "removed"), (status = 403, description = "the caller may not edit the record"),
        (status = 404, description = "no such file, or its record is not visible")))]
pub async fn remove_attachment(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id("attachment", &id)?;
    state.core.delete_attachment(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
