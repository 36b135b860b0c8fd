//! Imports of CSV and XLSX files: upload a file (a draft job), look at how its columns would
//! be mapped, start it (or a dry run of it) with the importer's choices, follow its progress,
//! read what became of each row, download the error report, cancel, undo.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use relata_core::import::{ImportJob, ImportRequest};
use relata_core::{Actor, CoreError};
use relata_domain::{FieldError, FieldErrorCode};

use crate::json::ApiJson;
use crate::params::{i64_param, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::routes::admin::{JsonObject, id_param};
use crate::state::AppState;

async fn with_outcomes(state: &AppState, actor: &Actor, job: ImportJob) -> ApiResult<Response> {
    let outcomes = state.core.import_outcomes(actor, job.id).await?;
    let mut body = serde_json::to_value(&job)
        .map_err(|e| ApiError::from(CoreError::Internal(e.to_string())))?;
    body["outcomes"] = json!(outcomes);
    Ok(axum::Json(body).into_response())
}

/// Uploads a file to import into `object`: the body is the file itself (CSV in UTF-8 or
/// GB18030/GBK, or XLSX), at most the server's body limit (`max_body_bytes`), streamed to
/// disk as it arrives. The answer is a draft job; its
/// preview shows how the columns would be mapped, and `start` runs it.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports",
    params(("object" = String, Query, description = "the object to import into"),
           ("file_name" = String, Query, description = "the file's name; its extension (.csv, .xlsx) tells the format"),
           ("format" = Option<String>, Query, description = "csv or xlsx, when the name does not tell")),
    request_body(content = Vec<u8>, description = "the file", content_type = "application/octet-stream"),
    responses((status = 201, description = "the draft job: `{id, object, status: \"draft\", file_name, format, file_bytes, …}`"),
        (status = 403, description = "no import right on the object"), (status = 404, description = "no such object"),
        (status = 413, description = "the file is larger than the body limit"),
        (status = 422, description = "the file is empty, or not a CSV or XLSX file that can be read")))]
pub async fn upload_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let required = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| {
                ApiError::field(FieldError::new(
                    name,
                    FieldErrorCode::Required,
                    "is required",
                ))
            })
    };
    let (object, file_name) = (required("object")?, required("file_name")?);
    // the body goes to a temporary file as it arrives: an upload of any size costs a buffer
    let internal =
        |e: std::io::Error| ApiError::from(CoreError::Internal(format!("spooling an upload: {e}")));
    let spool = tempfile::NamedTempFile::new().map_err(internal)?;
    let mut file = tokio::fs::File::from_std(spool.reopen().map_err(internal)?);
    let (mut stream, mut bytes) = (body.into_data_stream(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                "the request body could not be read to its end",
            )
        })?;
        bytes += chunk.len();
        if bytes > state.max_body_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this server accepts",
            ));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    drop(file);
    let reader = std::fs::File::open(spool.path()).map_err(internal)?;
    let job = state
        .core
        .create_import(
            &actor,
            &object,
            &file_name,
            params.get("format").map(String::as_str),
            reader,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(job)).into_response())
}

/// The caller's import jobs, newest first (an administrator's: everyone's).
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports",
    params(("limit" = Option<usize>, Query, description = "1-200, default 50")),
    responses((status = 200, description = "`{\"data\": [job]}`")))]
pub async fn list_imports(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let limit = usize_param(&params, "limit")?.unwrap_or(50);
    let jobs = state.core.import_jobs(&actor, limit).await?;
    Ok(axum::Json(json!({ "data": jobs })).into_response())
}

/// One job: its status, progress (`rows_done` of `total_rows`), counts of created, updated,
/// unchanged, skipped and failed rows, and `outcomes` (after an undo: `undone` and `kept`).
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports",
    params(("id" = String, Path)),
    responses((status = 200, description = "the job"), (status = 404)))]
pub async fn get_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state
        .core
        .import_job(&actor, id_param("import", &id)?)
        .await?;
    with_outcomes(&state, &actor, job).await
}

/// The file's headings, the field each column would go to (`target`: `email`,
/// `account_id_name` for a lookup by name, `amount_currency` for a currency column, or null),
/// the detected encoding, and the first rows as read.
#[utoipa::path(get, path = "/api/v1/imports/{id}/preview", tag = "imports",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{headings, encoding, columns: [{heading, target, field_label}], sample: [[cell]]}`"), (status = 404)))]
pub async fn preview_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let preview = state
        .core
        .import_preview(&actor, id_param("import", &id)?)
        .await?;
    Ok(axum::Json(preview).into_response())
}

/// Starts a draft job (or a finished dry run, again or for real). Keys, all optional:
/// `columns` (heading or 1-based column number → target, `""` to skip a column; the rest
/// as guessed), `mode` (`create`, `update`, `upsert`), `key` (`id` or a unique field, for
/// update and upsert), `on_duplicate` (`skip`, `update`, `create`), `encoding` (`utf8`,
/// `gb18030`), `date_order` (`ymd`, `dmy`, `mdy`), `utc_offset_minutes` (default 480),
/// `normalise_phones` (default true), `picklist_map` (field → word → value), `dry_run`.
#[utoipa::path(post, path = "/api/v1/imports/{id}/start", tag = "imports",
    params(("id" = String, Path)),
    request_body(content = JsonObject, description = "the importer's choices"),
    responses((status = 202, description = "the queued job"), (status = 404),
        (status = 409, description = "the job is not a draft or a finished dry run"),
        (status = 422, description = "a choice is invalid; errors name it")))]
pub async fn start_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ImportRequest>,
) -> ApiResult<Response> {
    let job = state
        .core
        .start_import(&actor, id_param("import", &id)?, request)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

/// Stops a queued or running job after the batch in hand; what it wrote stays (undo
/// removes it).
#[utoipa::path(post, path = "/api/v1/imports/{id}/cancel", tag = "imports",
    params(("id" = String, Path)),
    responses((status = 200, description = "the job"), (status = 404), (status = 409, description = "the job is not queued or running")))]
pub async fn cancel_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state
        .core
        .cancel_import(&actor, id_param("import", &id)?)
        .await?;
    Ok(axum::Json(job).into_response())
}

/// Undoes a finished, failed or cancelled import in the background: records it created go
/// to the recycle bin, records it updated get their previous values back; a record changed
/// since the import wrote it is kept as it is.
#[utoipa::path(post, path = "/api/v1/imports/{id}/undo", tag = "imports",
    params(("id" = String, Path)),
    responses((status = 202, description = "the job, undoing"), (status = 404),
        (status = 409, description = "the job is not finished, or was a dry run")))]
pub async fn undo_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state
        .core
        .undo_import(&actor, id_param("import", &id)?)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

/// What became of each row, in file order: `outcome` (created, updated, unchanged, skipped,
/// failed; after an undo undone or kept), the record, and for failed and skipped rows the
/// errors and the row's cells. `outcome=problems` answers the failed and skipped rows.
#[utoipa::path(get, path = "/api/v1/imports/{id}/rows", tag = "imports",
    params(("id" = String, Path),
           ("outcome" = Option<String>, Query, description = "only rows that ended so, or `problems`"),
           ("after" = Option<i64>, Query, description = "rows after this row number (default 1, the headings)"),
           ("limit" = Option<usize>, Query, description = "1-1000, default 100")),
    responses((status = 200, description = "`{\"data\": [{row, outcome, record_id, errors, cells}], \"next_after\": row}`"), (status = 404)))]
pub async fn import_rows(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let after = i64_param(&params, "after")?.unwrap_or(1);
    let limit = usize_param(&params, "limit")?.unwrap_or(100);
    let rows = state
        .core
        .import_ledger(
            &actor,
            id_param("import", &id)?,
            params.get("outcome").cloned(),
            after,
            limit,
        )
        .await?;
    let next_after = rows.last().map_or(after, |r| r.row);
    Ok(axum::Json(json!({ "data": rows, "next_after": next_after })).into_response())
}

/// The error report: the failed and skipped rows as they were in the file, each with its row
/// number and what was wrong, as CSV (UTF-8 with a byte-order mark) — fix and import again.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors.csv", tag = "imports",
    params(("id" = String, Path)),
    responses((status = 200, description = "the report, as an attachment", content_type = "text/csv"), (status = 404)))]
pub async fn import_error_report(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id_param("import", &id)?;
    let csv = state.core.import_error_report(&actor, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-{id}-errors.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
