//! Background jobs for administrators who manage automation: how many jobs wait, run, ended
//! or failed for good; the jobs of one status newest first, each with its tries and last
//! error, retried or cancelled from here; and the recurring schedules, created or changed
//! with a cron expression read in a time zone.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::jobs::{Job, JobQuery, JobStatus, ScheduleInput};
use relata_domain::access::Capability;

use super::{Tab, chrome, error_for, form_errors, general_errors};
use crate::error::WebError;
use crate::notice;
use crate::pages::{Chrome, html, see_other};
use crate::session::Posted;
use crate::session::Viewer;
use crate::state::WebState;

const PAGE: usize = 50;

pub struct StatusLink {
    pub label: String,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub tries: String,
    pub run_at: String,
    pub created_at: String,
    pub error: String,
    pub payload: String,
    pub retry: bool,
    pub cancel: bool,
}

pub struct ScheduleRow {
    pub name: String,
    pub kind: String,
    pub cron: String,
    pub time_zone: String,
    pub enabled: bool,
    pub next_run: String,
    pub last_run: String,
}

/// What the schedule form shows: what was typed, and what was wrong with it.
#[derive(Default)]
pub struct ScheduleForm {
    pub name: String,
    pub kind: String,
    pub cron: String,
    pub time_zone: String,
    pub enabled: bool,
    pub errors: Vec<(String, String)>,
}

impl ScheduleForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, &["name", "kind", "cron", "time_zone"])
    }
}

#[derive(Template)]
#[template(path = "settings/jobs.html")]
struct JobsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    statuses: Vec<StatusLink>,
    jobs: Vec<JobRow>,
    older_href: Option<String>,
    schedules: Vec<ScheduleRow>,
    kinds: Vec<String>,
    form: ScheduleForm,
}

#[derive(serde::Deserialize)]
pub struct JobsParams {
    status: Option<String>,
    before: Option<Uuid>,
}

/// `GET /settings/jobs`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(p): Query<JobsParams>,
) -> Result<Response, WebError> {
    let form = ScheduleForm {
        time_zone: viewer.fmt.tz.name().to_owned(),
        enabled: true,
        ..Default::default()
    };
    render(&state, &viewer, &p, form).await
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    p: &JobsParams,
    form: ScheduleForm,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("jobs.title").to_owned(),
        "/settings/jobs",
        Capability::ManageAutomation,
    )?;
    let status = p.status.as_deref().and_then(JobStatus::parse);
    let core = &state.core;
    let fail = |e| WebError::core(e, tr);
    let counts = core.job_counts(&viewer.actor).await.map_err(fail)?;
    let jobs = core
        .list_jobs(
            &viewer.actor,
            JobQuery {
                status,
                kind: None,
                before: p.before,
                limit: PAGE,
            },
        )
        .await
        .map_err(fail)?;
    let schedules = core.schedules(&viewer.actor).await.map_err(fail)?;
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.as_ref()
            .map(|t| viewer.fmt.datetime(t))
            .unwrap_or_default()
    };
    let mut statuses = vec![StatusLink {
        label: tr.t("jobs.all").to_owned(),
        count: counts.iter().map(|(_, n)| n).sum(),
        href: "/settings/jobs".into(),
        current: status.is_none(),
    }];
    statuses.extend(counts.iter().map(|(s, n)| StatusLink {
        label: tr.t(&format!("jobs.status_{}", s.as_str())).to_owned(),
        count: *n,
        href: format!("/settings/jobs?status={}", s.as_str()),
        current: status == Some(*s),
    }));
    let older_href = (jobs.len() == PAGE)
        .then(|| jobs.last().map(|j| j.id))
        .flatten()
        .map(|last| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(s) = status {
                q.append_pair("status", s.as_str());
            }
            q.append_pair("before", &last.to_string());
            format!("/settings/jobs?{}", q.finish())
        });
    let page = JobsPage {
        chrome,
        tabs,
        statuses,
        jobs: jobs
            .iter()
            .map(|j: &Job| JobRow {
                id: j.id.to_string(),
                kind: j.kind.clone(),
                status: tr
                    .t(&format!("jobs.status_{}", j.status.as_str()))
                    .to_owned(),
                tries: format!("{}/{}", j.attempts, j.max_attempts),
                run_at: viewer.fmt.datetime(&j.run_at),
                created_at: viewer.fmt.datetime(&j.created_at),
                error: j.last_error.clone().unwrap_or_default(),
                payload: if j.payload.as_object().is_some_and(|m| m.is_empty()) {
                    String::new()
                } else {
                    j.payload.to_string()
                },
                retry: matches!(j.status, JobStatus::Failed | JobStatus::Cancelled),
                cancel: j.status == JobStatus::Queued,
            })
            .collect(),
        older_href,
        schedules: schedules
            .iter()
            .map(|s| ScheduleRow {
                name: s.name.clone(),
                kind: s.kind.clone(),
                cron: s.cron.clone(),
                time_zone: s.time_zone.clone(),
                enabled: s.enabled,
                next_run: when(&s.next_run_at),
                last_run: when(&s.last_run_at),
            })
            .collect(),
        kinds: core.job_kinds(),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/jobs/{id}/{action}`: `retry` a failed or cancelled job, or `cancel` a
/// queued one; back to the list with what happened.
pub async fn act(
    State(state): State<WebState>,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let result = match action.as_str() {
        "retry" => state.core.retry_job(&viewer.actor, id).await,
        "cancel" => state.core.cancel_job(&viewer.actor, id).await,
        _ => return Err(WebError::NotFound(tr)),
    };
    let message = match result {
        Ok(job) => tr.tf(&format!("jobs.{action}_done"), &[("kind", &job.kind)]),
        Err(relata_core::CoreError::Conflict { message, .. }) => message,
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(see_other(&notice::redirect_with(
        &viewer.csrf,
        "/settings/jobs",
        &message,
    )))
}

/// `POST /settings/schedules`: creates or changes the schedule named in the form; a mistake
/// shows the page again with what was typed and each problem beside its field.
pub async fn save_schedule(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
    let typed = ScheduleForm {
        name: field("name"),
        kind: field("kind"),
        cron: field("cron"),
        time_zone: field("time_zone"),
        enabled: form.first("enabled").is_some(),
        errors: Vec::new(),
    };
    let input = ScheduleInput {
        name: typed.name.clone(),
        kind: typed.kind.clone(),
        payload: serde_json::json!({}),
        cron: typed.cron.clone(),
        time_zone: typed.time_zone.clone(),
        enabled: typed.enabled,
    };
    match state.core.put_schedule(&viewer.actor, input).await {
        Ok(s) => {
            let tr = viewer.tr();
            let message = tr.tf("jobs.schedule_saved", &[("name", &s.name)]);
            Ok(see_other(&notice::redirect_with(
                &viewer.csrf,
                "/settings/jobs#schedules",
                &message,
            )))
        }
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            let params = JobsParams {
                status: None,
                before: None,
            };
            render(&state, &viewer, &params, ScheduleForm { errors, ..typed }).await
        }
    }
}
