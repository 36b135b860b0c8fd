//! The page of one import job, which follows it through its life: a draft shows the mapping
//! step; a queued, running or undoing job a progress bar that refreshes itself (our script
//! reads the page again; without script a `<meta refresh>` does) and a cancel button; a
//! finished job its counts and per-row errors, the error report, and "import for real"
//! after a dry run (whose mapping can also be changed and checked again) or "undo" after a
//! real import.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use relata_core::import::{ImportJob, ImportStatus};
use relata_domain::ObjectDef;
use relata_domain::access::Operation;

use super::mapping::{self, Choices, MappingForm};
use super::results::{self, Results};
use super::{job_of, mode_label, status_label};
use crate::error::WebError;
use crate::notice;
use crate::pages::{Chrome, html};
use crate::session::Viewer;
use crate::state::WebState;

pub struct Progress {
    pub heading: &'static str,
    pub value: i64,
    /// Rows to go through, once counted; the bar is indeterminate before.
    pub max: Option<i64>,
    pub text: String,
    pub counts: String,
    pub can_cancel: bool,
}

#[derive(Template)]
#[template(path = "imports/job.html")]
struct JobPage {
    chrome: Chrome,
    id: String,
    object: String,
    plural: String,
    status: &'static str,
    uploaded: String,
    dry_run: bool,
    /// How the job ran (or runs), once started.
    mode: Option<&'static str>,
    progress: Option<Progress>,
    results: Option<Results>,
    mapping: Option<MappingForm>,
    can_run_real: bool,
    can_undo: bool,
}

/// `GET /imports/{id}`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (job, object) = job_of(&state, &viewer, &id).await?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let notice = notice::read(&viewer.csrf, &pairs);
    render(&state, &viewer, &job, &object, None, notice).await
}

/// Whether a job is at the mapping step: a draft, or a dry run that finished (it may be
/// changed and checked again, or run for real).
pub fn mappable(job: &ImportJob) -> bool {
    job.status == ImportStatus::Draft
        || (job.dry_run && job.status.is_settled() && job.status != ImportStatus::Undone)
}

/// The page of `job`; `posted` holds the choices of a mapping form the service refused, and
/// why (the page then answers 422).
pub async fn render(
    state: &WebState,
    viewer: &Viewer,
    job: &ImportJob,
    object: &ObjectDef,
    posted: Option<(Choices, Vec<String>)>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let mapping = if mappable(job) {
        let preview = state
            .core
            .import_preview(&viewer.actor, job.id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        let targets = mapping::targets(viewer, object);
        let (choices, errors) = match posted {
            Some(p) => p,
            None => (
                Choices::of_job(job.options.as_ref(), &preview, &targets),
                Vec::new(),
            ),
        };
        Some(MappingForm::new(
            viewer, object, &preview, targets, &choices, errors,
        ))
    } else {
        None
    };
    let failed = mapping.as_ref().is_some_and(|m| !m.errors.is_empty());
    let settled = job.status.is_settled() && job.status != ImportStatus::Draft;
    let results = if settled {
        Some(results::of(state, viewer, job, object).await?)
    } else {
        None
    };
    let progress = if job.status.is_settled() {
        None
    } else {
        Some(progress_of(state, viewer, job).await?)
    };
    let may = |op| viewer.actor.may(object.name(), op);
    let wrote = job.tally.created + job.tally.updated > 0;
    let page = JobPage {
        chrome: Chrome::new(
            state,
            viewer,
            tr.tf("import.job_title", &[("name", &job.file_name)]),
            object.name(),
        )
        .with_notice(notice),
        id: job.id.to_string(),
        object: object.name().to_owned(),
        plural: tr.object_plural(object),
        status: status_label(tr, job.status),
        uploaded: fmt.datetime(&job.created_at),
        dry_run: job.dry_run && job.status != ImportStatus::Draft,
        mode: job.options.as_ref().map(|o| mode_label(tr, o.mode)),
        progress,
        results,
        mapping,
        can_run_real: settled && mappable(job) && job.options.is_some(),
        can_undo: !job.dry_run
            && matches!(
                job.status,
                ImportStatus::Done | ImportStatus::Failed | ImportStatus::Cancelled
            )
            && wrote
            && may(Operation::Delete)
            && may(Operation::Edit),
    };
    let mut response = html(page.render());
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

async fn progress_of(
    state: &WebState,
    viewer: &Viewer,
    job: &ImportJob,
) -> Result<Progress, WebError> {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let (value, max) = if job.status == ImportStatus::Undoing {
        // an undo goes back over the rows that wrote a record
        let outcomes = state
            .core
            .import_outcomes(&viewer.actor, job.id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        let n = |k: &str| outcomes.get(k).copied().unwrap_or(0);
        let max = job.tally.created + job.tally.updated;
        ((n("undone") + n("kept")).min(max), Some(max))
    } else {
        (job.rows_done, job.total_rows)
    };
    // a bar needs a positive maximum; without one it shows work going on
    let max = max.filter(|m| *m > 0);
    Ok(Progress {
        heading: match job.status {
            ImportStatus::Queued => tr.t("import.queued_heading"),
            ImportStatus::Undoing => tr.t("import.undoing_heading"),
            _ if job.dry_run => tr.t("import.checking_heading"),
            _ => tr.t("import.running_heading"),
        },
        value,
        max,
        text: match max {
            Some(max) => tr.tf(
                "import.progress_rows",
                &[("done", &fmt.integer(value)), ("total", &fmt.integer(max))],
            ),
            None => tr.tf(
                "import.progress_uncounted",
                &[("done", &fmt.integer(value))],
            ),
        },
        counts: tr.tf(
            "import.result_summary",
            &[
                ("created", &fmt.integer(job.tally.created)),
                ("updated", &fmt.integer(job.tally.updated)),
                ("failed", &fmt.integer(job.tally.failed)),
            ],
        ),
        can_cancel: matches!(job.status, ImportStatus::Queued | ImportStatus::Running),
    })
}
