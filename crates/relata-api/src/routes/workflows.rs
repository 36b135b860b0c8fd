//! Workflow rules for administrators (the "manage automation" capability): define, version,
//! enable and disable rules; try one against a record; start one by hand; see the runs of a
//! rule or a record, and why a rule did or did not fire on a record.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::workflow::{RuleInput, RunQuery, status};

use crate::json::ApiJson;
use crate::params::{path_id, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Large deal changes stage",
    "object": "opportunity",
    "definition": {
        "trigger": {"type": "field_changed", "fields": ["stage"]},
        "condition": "amount >= 1000000",
        "steps": [{"type": "notify", "to": ["owner_manager"], "message": "{{ name }} is now {{ stage }}"}]
    }
}))]
pub struct RuleBody {
    pub name: String,
    pub object: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// `{trigger, condition?, steps, time_zone?}`: see docs/api.md, "Workflow rules".
    #[schema(value_type = Object)]
    pub definition: Json,
}

fn enabled() -> bool {
    true
}

impl From<RuleBody> for RuleInput {
    fn from(b: RuleBody) -> Self {
        RuleInput {
            name: b.name,
            object: b.object,
            enabled: b.enabled,
            definition: b.definition,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    pub record_id: String,
    /// A draft definition to try instead of the saved one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Json>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    pub record_id: String,
}

/// Every rule.
#[utoipa::path(get, path = "/api/v1/workflow_rules", tag = "automation",
    responses((status = 200, description = "`{data: [rule]}`"), (status = 403)))]
pub async fn list_workflow_rules(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let rules = state.core.workflow_rules(&actor).await?;
    Ok(axum::Json(json!({ "data": rules })).into_response())
}

/// Create a rule (version 1). It acts with the access of whoever saves it.
#[utoipa::path(post, path = "/api/v1/workflow_rules", tag = "automation", request_body = RuleBody,
    responses((status = 201, description = "the rule"), (status = 403),
        (status = 422, description = "every problem, named by where it is: `steps[1].set.amount`")))]
pub async fn create_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<RuleBody>,
) -> ApiResult<Response> {
    let rule = state.core.create_workflow_rule(&actor, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(rule)).into_response())
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/workflow_rules/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the rule"), (status = 403), (status = 404)))]
pub async fn get_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let rule = state
        .core
        .workflow_rule(&actor, path_id("rule", &id)?)
        .await?;
    Ok(axum::Json(rule).into_response())
}

/// Save a rule again: a changed definition is a new version; running instances keep theirs.
#[utoipa::path(put, path = "/api/v1/workflow_rules/{id}", tag = "automation", params(("id" = String, Path)),
    request_body = RuleBody,
    responses((status = 200, description = "the rule"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RuleBody>,
) -> ApiResult<Response> {
    let rule = state
        .core
        .update_workflow_rule(&actor, path_id("rule", &id)?, body.into())
        .await?;
    Ok(axum::Json(rule).into_response())
}

/// Delete a rule and its versions (its runs stay in the history).
#[utoipa::path(delete, path = "/api/v1/workflow_rules/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_workflow_rule(&actor, path_id("rule", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Every saved version of a rule, newest first.
#[utoipa::path(get, path = "/api/v1/workflow_rules/{id}/versions", tag = "automation",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{data: [version]}`"), (status = 403), (status = 404)))]
pub async fn list_workflow_versions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let versions = state
        .core
        .workflow_versions(&actor, path_id("rule", &id)?)
        .await?;
    Ok(axum::Json(json!({ "data": versions })).into_response())
}

/// What the rule (or a draft `definition`) would do to a record now; nothing is written.
#[utoipa::path(post, path = "/api/v1/workflow_rules/{id}/test", tag = "automation",
    params(("id" = String, Path)), request_body = TestBody,
    responses((status = 200, description = "whether the condition holds, and each step's effect"),
        (status = 403), (status = 404), (status = 422)))]
pub async fn test_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestBody>,
) -> ApiResult<Response> {
    let report = state
        .core
        .test_workflow_rule(
            &actor,
            path_id("rule", &id)?,
            path_id("record", &body.record_id)?,
            body.definition,
        )
        .await?;
    Ok(axum::Json(report).into_response())
}

/// Start a rule on a record by hand.
#[utoipa::path(post, path = "/api/v1/workflow_rules/{id}/start", tag = "automation",
    params(("id" = String, Path)), request_body = StartBody,
    responses((status = 202, description = "the run, queued"), (status = 403), (status = 404),
        (status = 409, description = "the rule is disabled")))]
pub async fn start_workflow_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StartBody>,
) -> ApiResult<Response> {
    let run = state
        .core
        .start_workflow(
            &actor,
            path_id("rule", &id)?,
            path_id("record", &body.record_id)?,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)).into_response())
}

/// Runs, newest first: of a rule, of a record, in a status.
#[utoipa::path(get, path = "/api/v1/workflow_runs", tag = "automation",
    params(("rule_id" = Option<String>, Query), ("record_id" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "queued, running, waiting, done, failed, skipped"),
        ("before" = Option<String>, Query, description = "runs older than this run id"),
        ("limit" = Option<usize>, Query, description = "1-500, default 50")),
    responses((status = 200, description = "`{data: [run]}`"), (status = 400), (status = 403)))]
pub async fn list_workflow_runs(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let id = |name: &str| -> Result<Option<uuid::Uuid>, ApiError> {
        params.get(name).map(|v| path_id(name, v)).transpose()
    };
    let status = params.get("status").cloned();
    if let Some(s) = &status
        && !status::ALL.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "bad_status",
            format!("status is one of {}", status::ALL.join(", ")),
        ));
    }
    let q = RunQuery {
        rule_id: id("rule_id")?,
        record_id: id("record_id")?,
        status,
        before: id("before")?,
        limit: usize_param(&params, "limit")?.unwrap_or(50),
    };
    let runs = state.core.workflow_runs(&actor, q).await?;
    Ok(axum::Json(json!({ "data": runs })).into_response())
}

/// One run: its trigger, status, and what each step did.
#[utoipa::path(get, path = "/api/v1/workflow_runs/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the run"), (status = 403), (status = 404)))]
pub async fn get_workflow_run(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let run = state
        .core
        .workflow_run(&actor, path_id("run", &id)?)
        .await?;
    Ok(axum::Json(run).into_response())
}

/// The rules on a record's object: whether each one's condition holds for the record now,
/// and its latest runs on it ("why did this fire, or not").
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/workflows", tag = "automation",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [rule on the record]}`"), (status = 403), (status = 404)))]
pub async fn record_workflows(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let rules = state
        .core
        .record_workflows(&actor, &object, path_id("record", &id)?)
        .await?;
    Ok(axum::Json(json!({ "data": rules })).into_response())
}

/// How far behind the engine is: events not yet judged against the rules, runs queued and
/// waiting.
#[utoipa::path(get, path = "/api/v1/workflow_backlog", tag = "automation",
    responses((status = 200, description = "`{events_behind, queued_runs, waiting_runs}`"), (status = 403)))]
pub async fn workflow_backlog(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let backlog = state.core.workflow_backlog(&actor).await?;
    Ok(axum::Json(backlog).into_response())
}

/// Issue the secret URL of a rule with the `inbound` trigger, shown this once (issuing
/// again retires the old one).
#[utoipa::path(post, path = "/api/v1/workflow_rules/{id}/inbound_token", tag = "automation",
    params(("id" = String, Path)),
    responses((status = 201, description = "`{token, path}`"), (status = 403), (status = 404),
        (status = 409, description = "the rule's trigger is not `inbound`")))]
pub async fn issue_inbound_token(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let url = state
        .core
        .issue_inbound_token(&actor, path_id("rule", &id)?)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(url)).into_response())
}

/// Start a rule from another system: the secret URL of a rule with the `inbound` trigger.
/// `{"record_id"}` starts it on that record; `{"record": {…}}` creates the record and starts
/// it on that. No token besides the one in the URL.
#[utoipa::path(post, path = "/api/v1/hooks/workflows/{token}", tag = "automation", security(()),
    params(("token" = String, Path)), request_body = Object,
    responses((status = 202, description = "the run, queued"), (status = 400), (status = 404),
        (status = 422, description = "the record brought has problems, each named")))]
pub async fn inbound_call(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    state
        .rate
        .check(&format!("inbound:{token}"), 600)
        .map_err(crate::problem::ApiError::from)?;
    let run = state.core.inbound_workflow_call(&token, &body).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)).into_response())
}
