//! The background job queue for administrators (the "manage automation" capability): jobs
//! newest first with counts per status, one job, retry a dead letter, cancel a queued job;
//! recurring schedules, listed and created or changed by name.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::jobs::{Job, JobQuery, JobStatus, ScheduleInput};
use relata_domain::{FieldError, FieldErrorCode};

use crate::json::ApiJson;
use crate::params::{path_id, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// Jobs newest first (`before`: the id of the last job of the previous page), with how many
/// jobs there are in each status.
#[utoipa::path(get, path = "/api/v1/jobs", operation_id = "list_background_jobs", tag = "automation",
    params(("status" = Option<String>, Query, description = "queued, running, done, failed (dead letters) or cancelled"),
        ("kind" = Option<String>, Query, description = "only jobs of this kind"),
        ("before" = Option<String>, Query, description = "only jobs older than this job id (the next page)"),
        ("limit" = Option<usize>, Query, description = "1-500, default 50")),
    responses((status = 200, description = "`{data: [job], counts: {queued, running, done, failed, cancelled}}`"),
        (status = 403), (status = 422, description = "an unknown status")))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let status = match params.get("status") {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "status",
                FieldErrorCode::InvalidOption,
                "is queued, running, done, failed or cancelled",
            ))
        })?),
    };
    let before = match params.get("before") {
        Some(b) => Some(uuid::Uuid::parse_str(b).map_err(|_| {
            ApiError::field(FieldError::new(
                "before",
                FieldErrorCode::WrongType,
                "is the id of a job",
            ))
        })?),
        None => None,
    };
    let query = JobQuery {
        status,
        kind: params.get("kind").cloned(),
        before,
        limit: usize_param(&params, "limit")?.unwrap_or(50),
    };
    let jobs = state.core.list_jobs(&actor, query).await?;
    let counts: serde_json::Map<String, Json> = state
        .core
        .job_counts(&actor)
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
        .collect();
    Ok(axum::Json(
        json!({ "data": jobs.iter().map(job_json).collect::<Vec<_>>(), "counts": counts }),
    )
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobBody {
    /// A kind `GET /api/v1/schedules` lists.
    pub kind: String,
    #[serde(default)]
    pub payload: Option<Json>,
    /// Not before this time (RFC 3339); now when omitted.
    #[serde(default)]
    pub run_at: Option<String>,
    /// Higher runs first; 0 when omitted.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Tries before it is a dead letter (1-100); 8 when omitted.
    #[serde(default)]
    pub max_attempts: Option<i32>,
    /// At most one job per kind and key, ever.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"jobs": [{"kind": "jobs.purge"}]}))]
pub struct EnqueueBody {
    /// 1-1,000 jobs, enqueued together or not at all.
    pub jobs: Vec<JobBody>,
}

/// Enqueue jobs by hand — run the nightly purge now, or queue work from a script — all in one
/// transaction. A job whose idempotency key exists already is skipped.
#[utoipa::path(post, path = "/api/v1/jobs", operation_id = "enqueue_background_jobs", tag = "automation", request_body = EnqueueBody,
    responses((status = 201, description = "`{ids: [..]}`, the jobs enqueued"), (status = 403),
        (status = 422, description = "`jobs.N.kind`, `jobs.N.run_at`… named with the problem")))]
pub async fn enqueue_jobs(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<EnqueueBody>,
) -> ApiResult<Response> {
    let now = state.core.clock.now();
    let mut errors = Vec::new();
    let mut batch = Vec::with_capacity(body.jobs.len());
    for (i, j) in body.jobs.into_iter().enumerate() {
        let mut job =
            relata_core::jobs::NewJob::new(&j.kind, j.payload.unwrap_or_else(|| json!({})), now);
        if let Some(at) = &j.run_at {
            match relata_domain::value::parse_datetime(at) {
                Some(t) => job.run_at = t,
                None => errors.push(FieldError::new(
                    format!("jobs.{i}.run_at"),
                    FieldErrorCode::InvalidDatetime,
                    "is a date and time such as 2026-12-24T09:00:00Z",
                )),
            }
        }
        job.priority = j.priority.unwrap_or(0);
        job.max_attempts = j.max_attempts.unwrap_or(job.max_attempts);
        job.idempotency_key = j.idempotency_key;
        batch.push(job);
    }
    if !errors.is_empty() {
        return Err(relata_core::CoreError::Validation(errors).into());
    }
    let ids = state.core.enqueue_jobs_as(&actor, batch).await?;
    let ids: Vec<String> = ids.iter().map(uuid::Uuid::to_string).collect();
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(json!({ "ids": ids })),
    )
        .into_response())
}

/// One job: its kind, payload, status, tries and last error.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", operation_id = "get_background_job", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the job"), (status = 403), (status = 404)))]
pub async fn get_job(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.core.get_job(&actor, path_id("job", &id)?).await?;
    Ok(axum::Json(job_json(&job)).into_response())
}

/// Put a failed (dead-lettered) or cancelled job back in the queue, due now, its tries
/// counted afresh.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", operation_id = "retry_background_job", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the job, queued"), (status = 403), (status = 404),
        (status = 409, description = "the job is not failed or cancelled")))]
pub async fn retry_job(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.core.retry_job(&actor, path_id("job", &id)?).await?;
    Ok(axum::Json(job_json(&job)).into_response())
}

/// Cancel a job that has not started.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", operation_id = "cancel_background_job", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the job, cancelled"), (status = 403), (status = 404),
        (status = 409, description = "the job is not queued")))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.core.cancel_job(&actor, path_id("job", &id)?).await?;
    Ok(axum::Json(job_json(&job)).into_response())
}

/// A job as the API shows it: times in RFC 3339.
fn job_json(j: &Job) -> Json {
    let t = |d: &Option<chrono::DateTime<chrono::Utc>>| {
        d.as_ref().map(relata_domain::value::format_datetime)
    };
    json!({
        "id": j.id.to_string(),
        "kind": j.kind,
        "payload": j.payload,
        "priority": j.priority,
        "status": j.status,
        "run_at": relata_domain::value::format_datetime(&j.run_at),
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "idempotency_key": j.idempotency_key,
        "schedule_id": j.schedule_id.map(|s| s.to_string()),
        "locked_by": j.locked_by,
        "locked_until": t(&j.locked_until),
        "last_error": j.last_error,
        "created_at": relata_domain::value::format_datetime(&j.created_at),
        "started_at": t(&j.started_at),
        "finished_at": t(&j.finished_at),
    })
}

/// Recurring schedules by name, each with its next and last run.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "automation",
    responses((status = 200, description = "`{data: [{id, name, kind, payload, cron, time_zone, enabled, next_run_at, last_run_at}], kinds: [..]}`"), (status = 403)))]
pub async fn list_schedules(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let schedules = state.core.schedules(&actor).await?;
    Ok(axum::Json(json!({ "data": schedules, "kinds": state.core.job_kinds() })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "noop", "cron": "0 9 * * 1-5", "time_zone": "Asia/Shanghai"}))]
pub struct ScheduleBody {
    /// The kind of job enqueued at each time (`kinds` in the listing).
    pub kind: String,
    /// The job's payload.
    #[serde(default)]
    pub payload: Option<Json>,
    /// Five fields: minute hour day-of-month month day-of-week, or @hourly, @daily …
    pub cron: String,
    /// IANA zone the expression is read in; UTC when omitted.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// Create or change the schedule called `name`. A cron expression that cannot be read, or
/// never fires, and an unknown zone or job kind are refused naming the field.
#[utoipa::path(put, path = "/api/v1/schedules/{name}", tag = "automation", params(("name" = String, Path)),
    request_body = ScheduleBody,
    responses((status = 200, description = "the schedule, with its next run"), (status = 403),
        (status = 422, description = "`cron`, `time_zone`, `kind` or `name` named with the problem")))]
pub async fn put_schedule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<Response> {
    let schedule = state
        .core
        .put_schedule(
            &actor,
            ScheduleInput {
                name,
                kind: body.kind,
                payload: body.payload.unwrap_or_else(|| json!({})),
                cron: body.cron,
                time_zone: body.time_zone.unwrap_or_else(|| "UTC".into()),
                enabled: body.enabled,
            },
        )
        .await?;
    Ok(axum::Json(schedule).into_response())
}
