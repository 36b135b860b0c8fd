//! Pipelines (their stages and what each asks for) and the kanban of each.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_core::pipelines::board::BoardRequest;
use relata_core::records::read::ListPage;
use relata_domain::ObjectDef;
use relata_domain::opportunity::pipeline::Pipeline;

use crate::json::ApiJson;
use crate::params::{bool_param, filter_param, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::routes::records::fields_param;
use crate::state::AppState;

/// Every pipeline, and whether they are still the standard ones.
#[utoipa::path(get, path = "/api/v1/pipelines", tag = "sales",
    responses((status = 200, description = "`{pipelines: [{name, label, active, stages: [{value, probability, forecast_category, required_fields}]}], standard}`")))]
pub async fn list_pipelines(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
) -> ApiResult<Response> {
    let p = state.core.pipelines()?;
    Ok(axum::Json(json!({"pipelines": p.pipelines, "standard": p.standard})).into_response())
}

/// One pipeline with its stages.
#[utoipa::path(get, path = "/api/v1/pipelines/{name}", tag = "sales",
    params(("name" = String, Path)),
    responses((status = 200, description = "the pipeline"), (status = 404)))]
pub async fn get_pipeline(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(axum::Json(state.core.pipeline(&name)?).into_response())
}

/// Create or replace a pipeline (administrators of metadata). Its stages are open stages
/// in order, then `closed_won` (100, closed) and `closed_lost` (0, omitted); a stage new to
/// the stage picklist is added with its `label`. `required_fields` of a stage must be
/// filled for a deal to reach it or any later open stage. A stage cannot leave a pipeline
/// while deals of the pipeline are at it (409 `stage_in_use`).
#[utoipa::path(put, path = "/api/v1/pipelines/{name}", tag = "sales",
    params(("name" = String, Path)),
    request_body(content = Object, description = "`{label, active, stages: [{value, label?, probability, forecast_category, required_fields}]}`",
        example = json!({"label": "Project", "stages": [
            {"value": "initiation", "label": "Initiation", "probability": 10, "forecast_category": "pipeline"},
            {"value": "bidding", "label": "Bidding", "probability": 50, "forecast_category": "best_case", "required_fields": ["amount", "close_date"]},
            {"value": "closed_won", "probability": 100, "forecast_category": "closed", "required_fields": ["win_reason"]},
            {"value": "closed_lost", "probability": 0, "forecast_category": "omitted"}]})),
    responses((status = 200, description = "the pipeline as saved"), (status = 403),
        (status = 409, description = "`stage_in_use`"),
        (status = 422, description = "each problem named, e.g. `stages.2.required_fields`")))]
pub async fn save_pipeline(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(mut body): ApiJson<Json>,
) -> ApiResult<Response> {
    if let Some(map) = body.as_object_mut() {
        map.insert("name".into(), Json::String(name));
    }
    let pipeline: Pipeline = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not a pipeline: {e}")))?;
    let saved = state.core.save_pipeline(&actor, pipeline).await?;
    Ok(axum::Json(saved).into_response())
}

/// Delete a pipeline no live deal is in (409 `pipeline_in_use` otherwise: make it inactive
/// instead, which keeps its deals moving but takes no new ones).
#[utoipa::path(delete, path = "/api/v1/pipelines/{name}", tag = "sales",
    params(("name" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_pipeline(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.core.delete_pipeline(&actor, &name).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

fn board_request(params: &HashMap<String, String>) -> ApiResult<BoardRequest> {
    Ok(BoardRequest {
        filter: filter_param(params.get("filter"))?,
        per_column: usize_param(params, "per_column")?,
        closed: bool_param(params, "closed")?,
        sort: params.get("sort").cloned().filter(|s| !s.is_empty()),
    })
}

fn page_json(object: &ObjectDef, page: &ListPage, fields: Option<&[String]>) -> Json {
    let data: Vec<Json> = page
        .records
        .iter()
        .map(|r| r.to_json(object, fields))
        .collect();
    json!({"data": data, "next_cursor": page.next_cursor})
}

/// The kanban of a pipeline: one column per open stage (`closed=true`: the closed ones
/// too), each with the count and amount totals (per currency) of every deal the caller may
/// see at it, and its first page of `per_column` deals (default 20, at most 100). Page a
/// column on with `/board/{stage}?cursor=`. `filter`, `sort` and `fields` as for lists.
#[utoipa::path(get, path = "/api/v1/pipelines/{name}/board", tag = "sales",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{pipeline, columns: [{stage, label, probability, count, amounts: [{currency, amount}], data, next_cursor}]}`"),
        (status = 404)))]
pub async fn board(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let req = board_request(&params)?;
    let board = state.core.board(&actor, &name, req).await?;
    let fields = fields_param(&board.object, params.get("fields"))?;
    let columns: Vec<Json> = board
        .columns
        .iter()
        .map(|c| {
            let mut column = page_json(&board.object, &c.page, fields.as_deref());
            column["stage"] = json!(c.stage);
            column["label"] = json!(c.label);
            column["probability"] = json!(c.probability);
            column["count"] = json!(c.count);
            column["amounts"] = c
                .sums
                .iter()
                .map(|(currency, amount)| json!({"currency": currency, "amount": amount.to_string()}))
                .collect();
            column
        })
        .collect();
    Ok(axum::Json(json!({"pipeline": board.pipeline, "columns": columns})).into_response())
}

/// The next page of one column of a pipeline's kanban.
#[utoipa::path(get, path = "/api/v1/pipelines/{name}/board/{stage}", tag = "sales",
    params(("name" = String, Path), ("stage" = String, Path)),
    responses((status = 200, description = "`{data, next_cursor}`"), (status = 404)))]
pub async fn board_column(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((name, stage)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let req = board_request(&params)?;
    let cursor = params.get("cursor").cloned().filter(|c| !c.is_empty());
    let page = state
        .core
        .board_column(&actor, &name, &stage, &req, cursor)
        .await?;
    let object = state.core.object(relata_domain::opportunity::OBJECT)?;
    let fields = fields_param(&object, params.get("fields"))?;
    Ok(axum::Json(page_json(&object, &page, fields.as_deref())).into_response())
}

/// A deal's stage history: each stage it was at, when it entered and left, and the days it
/// spent there (to now for the current one).
#[utoipa::path(get, path = "/api/v1/opportunities/{id}/stages", tag = "sales",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{data: [{stage, label, entered_at, left_at, days}]}`"),
        (status = 404)))]
pub async fn stage_history(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = crate::params::path_id("opportunity", &id)?;
    let periods = state.core.stage_history(&actor, id).await?;
    let object = state.core.object(relata_domain::opportunity::OBJECT)?;
    let data: Vec<Json> = periods
        .iter()
        .map(|p| {
            json!({"stage": p.stage,
                   "label": relata_domain::opportunity::pipeline::stage_label(&object, &p.stage),
                   "entered_at": relata_domain::value::format_datetime(&p.entered_at),
                   "left_at": p.left_at.as_ref().map(relata_domain::value::format_datetime),
                   "days": p.days.to_string()})
        })
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}
