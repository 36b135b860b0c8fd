//! Importing CSV and XLSX files, page by page: the upload form of an object
//! ([`upload`]), the job page — the column mapping of a draft, the progress of a running job,
//! the result with its per-row errors ([`job`]) — the buttons that start, cancel and undo a
//! job and the error report ([`actions`]), and the list of the viewer's imports (here).
//! Every step is one call of relata-core's import service; the worker of `relata serve` runs
//! the jobs in the background, and these pages only follow them.

pub mod actions;
pub mod job;
pub mod mapping;
pub mod results;
pub mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use uuid::Uuid;

use relata_core::import::{ImportJob, ImportMode, ImportStatus};
use relata_domain::ObjectDef;

use super::{Chrome, html};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// Jobs listed on `/imports`.
const LISTED: usize = 100;

/// One job in a table of jobs.
pub struct JobLine {
    pub href: String,
    pub file_name: String,
    pub object: String,
    /// Who uploaded it (shown to an administrator, who sees everyone's jobs).
    pub user: String,
    pub created_at: String,
    pub status: &'static str,
    pub dry_run: bool,
    pub rows: String,
    pub result: String,
}

impl JobLine {
    pub fn of(viewer: &Viewer, state: &WebState, job: &ImportJob, user: String) -> JobLine {
        let tr = viewer.tr();
        let fmt = &viewer.fmt;
        let object = state
            .core
            .object(&job.object)
            .map(|o| tr.object_plural(&o))
            .unwrap_or_else(|_| job.object.clone());
        JobLine {
            href: format!("/imports/{}", job.id),
            file_name: job.file_name.clone(),
            object,
            user,
            created_at: fmt.datetime(&job.created_at),
            status: status_label(tr, job.status),
            dry_run: job.dry_run,
            rows: job.total_rows.map(|n| fmt.integer(n)).unwrap_or_default(),
            result: if job.status == ImportStatus::Draft {
                String::new()
            } else {
                tr.tf(
                    "import.result_summary",
                    &[
                        ("created", &fmt.integer(job.tally.created)),
                        ("updated", &fmt.integer(job.tally.updated)),
                        ("failed", &fmt.integer(job.tally.failed)),
                    ],
                )
            },
        }
    }
}

/// A job's status as the viewer reads it.
pub fn status_label(tr: Tr, status: ImportStatus) -> &'static str {
    match status {
        ImportStatus::Draft => tr.t("import.status_draft"),
        ImportStatus::Queued => tr.t("import.status_queued"),
        ImportStatus::Running => tr.t("import.status_running"),
        ImportStatus::Done => tr.t("import.status_done"),
        ImportStatus::Failed => tr.t("import.status_failed"),
        ImportStatus::Cancelled => tr.t("import.status_cancelled"),
        ImportStatus::Undoing => tr.t("import.status_undoing"),
        ImportStatus::Undone => tr.t("import.status_undone"),
    }
}

pub fn mode_label(tr: Tr, mode: ImportMode) -> &'static str {
    match mode {
        ImportMode::Create => tr.t("import.mode_create"),
        ImportMode::Update => tr.t("import.mode_update"),
        ImportMode::Upsert => tr.t("import.mode_upsert"),
    }
}

/// The job of a page's path, with its object: not found for another user's job (unless the
/// viewer is an administrator) and for a job of an object the viewer may no longer read.
pub async fn job_of(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
) -> Result<(ImportJob, Arc<ObjectDef>), WebError> {
    let tr = viewer.tr();
    let id = Uuid::parse_str(id).map_err(|_| WebError::NotFound(tr))?;
    let job = state
        .core
        .import_job(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let object = super::readable_object(state, viewer, &job.object)?;
    Ok((job, object))
}

/// Names of the users who uploaded `jobs`, for an administrator's view of everyone's jobs.
pub async fn uploaders(state: &WebState, jobs: &[ImportJob]) -> HashMap<Uuid, String> {
    let ids = jobs.iter().map(|j| j.actor_id).collect();
    state
        .core
        .user_names(ids)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(id, u)| (id, u.name))
        .collect()
}

#[derive(Template)]
#[template(path = "imports/list.html")]
struct ImportsPage {
    chrome: Chrome,
    jobs: Vec<JobLine>,
    /// The table names who uploaded each file (an administrator sees everyone's).
    everyone: bool,
}

/// `GET /imports`: the viewer's import jobs, newest first (an administrator's: everyone's).
pub async fn list(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let jobs = state
        .core
        .import_jobs(&viewer.actor, LISTED)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let everyone = viewer.actor.is_superuser();
    let names = if everyone {
        uploaders(&state, &jobs).await
    } else {
        HashMap::new()
    };
    let jobs = jobs
        .iter()
        // a job of an object the viewer may no longer read stays out of sight
        .filter(|j| {
            state.core.object(&j.object).is_ok_and(|o| {
                viewer
                    .actor
                    .may(o.name(), relata_domain::access::Operation::Read)
            })
        })
        .map(|j| {
            let user = names.get(&j.actor_id).cloned().unwrap_or_default();
            JobLine::of(&viewer, &state, j, user)
        })
        .collect();
    let page = ImportsPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("import.jobs_title").to_owned(),
            "imports",
        ),
        jobs,
        everyone,
    };
    Ok(html(page.render()))
}
