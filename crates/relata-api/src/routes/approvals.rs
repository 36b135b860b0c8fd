//! Approvals (审批): processes, submitting a record, deciding, recalling; and revising a
//! quote into a new version.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_core::Actor;
use relata_core::approvals::Process;

use crate::json::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn process_of(body: Json) -> ApiResult<Process> {
    serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not an approval process: {e}")))
}

/// Every approval process (administrators of automation).
#[utoipa::path(get, path = "/api/v1/approval-processes", tag = "approvals",
    responses((status = 200, description = "`{data: [{id, name, object, condition, steps: [{name, approvers: {users: [id]} | {role: id}, mode: any|all}], active}]}`"), (status = 403)))]
pub async fn list_processes(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let data = state.core.approval_processes(&actor).await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Create an approval process: the records of `object` that match `condition` (a filter,
/// e.g. `{"field": "discount_percent_total", "op": "gt", "value": 20}`) go through `steps`
/// in order; each step is decided by any one (`any`) or every one (`all`) of its approvers.
#[utoipa::path(post, path = "/api/v1/approval-processes", tag = "approvals",
    request_body(content = Object, description = "a process",
        example = json!({"name": "Discounts over 20 %", "object": "quote",
            "condition": {"field": "discount_percent_total", "op": "gt", "value": 20},
            "steps": [{"name": "Sales manager", "approvers": {"users": ["0190…"]}, "mode": "any"}]})),
    responses((status = 201, description = "the process"), (status = 403), (status = 422)))]
pub async fn create_process(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let mut process = process_of(body)?;
    process.id = Uuid::nil();
    let saved = state.core.save_approval_process(&actor, process).await?;
    Ok((StatusCode::CREATED, axum::Json(saved)).into_response())
}

/// Replace an approval process (requests already made keep running on its steps).
#[utoipa::path(put, path = "/api/v1/approval-processes/{id}", tag = "approvals",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "the process"),
    responses((status = 200, description = "the process"), (status = 403), (status = 422)))]
pub async fn save_process(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let mut process = process_of(body)?;
    process.id = id;
    Ok(axum::Json(state.core.save_approval_process(&actor, process).await?).into_response())
}

/// Delete an approval process with no pending request (409 `process_in_use`: make it
/// inactive instead).
#[utoipa::path(delete, path = "/api/v1/approval-processes/{id}", tag = "approvals",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_process(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    state.core.delete_approval_process(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct Submit {
    object: String,
    record_id: Uuid,
    #[serde(default)]
    comment: Option<String>,
}

/// Submit a record (one the caller may edit) for approval. With no process for it, it is
/// approved at once: `{approval_status: "approved", request: null}`.
#[utoipa::path(post, path = "/api/v1/approvals", tag = "approvals",
    request_body(content = Object, description = "`{object, record_id, comment?}`"),
    responses((status = 201, description = "`{approval_status, request}`"), (status = 404),
        (status = 422, description = "already in approval or approved")))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let s: Submit = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("{e}")))?;
    let request = state
        .core
        .submit_for_approval(&actor, &s.object, s.record_id, s.comment)
        .await?;
    let status = if request.is_some() {
        "pending"
    } else {
        "approved"
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"approval_status": status, "request": request})),
    )
        .into_response())
}

/// The pending requests waiting for the caller's decision.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals",
    responses((status = 200, description = "`{data: [request]}`")))]
pub async fn mine(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let data = state.core.my_approvals(&actor).await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// One request with its decisions (for someone who may read its record).
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "`{request, decisions}`"), (status = 404)))]
pub async fn get_request(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let (request, decisions) = state.core.approval_request(&actor, id).await?;
    Ok(axum::Json(json!({"request": request, "decisions": decisions})).into_response())
}

/// Approves or rejects, with the body's optional `comment`.
async fn decide(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    body: &Json,
    approve: bool,
) -> ApiResult<Response> {
    let comment = body
        .get("comment")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .filter(|c| !c.trim().is_empty());
    let r = state
        .core
        .decide_approval(actor, id, approve, comment)
        .await?;
    Ok(axum::Json(r).into_response())
}

/// Approve the current step of a request (one of its approvers), with an optional comment.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{comment?}`"),
    responses((status = 200, description = "the request"), (status = 403), (status = 422)))]
pub async fn approve(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    decide(&state, &actor, id, &body, true).await
}

/// Reject a request (one of its current approvers); a comment says why.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/reject", tag = "approvals",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{comment}`"),
    responses((status = 200, description = "the request"), (status = 403), (status = 422)))]
pub async fn reject(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    decide(&state, &actor, id, &body, false).await
}

/// Take a pending request back (its submitter): the record is a draft again.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/recall", tag = "approvals",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "the request"), (status = 403), (status = 422)))]
pub async fn recall(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    Ok(axum::Json(state.core.recall_approval(&actor, id).await?).into_response())
}

/// Revise a quote into its next version: a draft with the old version's lines and these
/// changes; the old version is kept, replaced (`superseded_at`).
#[utoipa::path(post, path = "/api/v1/quotes/{id}/revise", tag = "approvals",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "quote fields to change, e.g. `{header_discount_percent: 15}`"),
    responses((status = 201, description = "the new version"), (status = 404),
        (status = 409, description = "`quote_superseded`"), (status = 422)))]
pub async fn revise_quote(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let record = state.core.revise_quote(&actor, id, body).await?;
    let def = state.core.object(relata_domain::pricing::QUOTE)?;
    Ok((StatusCode::CREATED, axum::Json(record.to_json(&def, None))).into_response())
}

/// The quote as a PDF (A4, bilingual by default; `lang=en` or `lang=zh-CN` for one language):
/// the seller, the customer, the lines and totals, the terms.
#[utoipa::path(get, path = "/api/v1/quotes/{id}/pdf", tag = "approvals",
    params(("id" = Uuid, Path), ("lang" = Option<String>, Query, description = "en, zh-CN or both")),
    responses((status = 200, description = "application/pdf", content_type = "application/pdf"), (status = 404)))]
pub async fn quote_pdf(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Response> {
    let language = relata_core::quotes::render::language(query.get("lang").map(String::as_str))?;
    let (name, bytes) = state.core.quote_pdf(&actor, id, language).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct SendQuoteBody {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// Mail a quote to the customer as a PDF (kept on the quote as an attachment): to `to`, or
/// the quote's contact; a draft becomes sent — one that still needs approval is refused
/// (422 on `status`) before anything is mailed.
#[utoipa::path(post, path = "/api/v1/quotes/{id}/send", tag = "approvals",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{to?, subject?, message?, lang?: en|zh-CN|both}`"),
    responses((status = 202, description = "the queued mail"), (status = 400, description = "`mail_not_configured`, `no_recipient`, `invalid_language`"),
        (status = 404), (status = 409, description = "`quote_not_sendable`"), (status = 422)))]
pub async fn send_quote(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let b: SendQuoteBody = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not a quote mail: {e}")))?;
    let language = relata_core::quotes::render::language(b.lang.as_deref())?;
    let input = relata_core::quotes::send::SendQuote {
        to: b.to,
        subject: b.subject,
        message: b.message,
        language,
    };
    let mail = state.core.send_quote(&actor, id, input).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(mail)).into_response())
}
