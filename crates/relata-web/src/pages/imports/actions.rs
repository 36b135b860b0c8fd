//! The buttons of an import job — start (a dry run, for real, or a dry run again for real),
//! cancel, undo — each a CSRF-checked form that answers with the job page and a one-time
//! message, and the error report as a CSV download.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use relata_core::CoreError;

use super::job::{mappable, render};
use super::job_of;
use super::mapping::{self, Choices, start_error_text};
use crate::error::WebError;
use crate::notice;
use crate::pages::see_other;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

fn back_with(viewer: &Viewer, id: uuid::Uuid, message: &str) -> Response {
    see_other(&notice::redirect_with(
        &viewer.csrf,
        &format!("/imports/{id}"),
        message,
    ))
}

/// `POST /imports/{id}/start`: the mapping form (`run=dry` checks, `run=real` imports), or
/// `again=real` to run a finished dry run for real with the choices it ran with.
pub async fn start(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let (job, object) = job_of(&state, &viewer, &id).await?;
    if !mappable(&job) {
        return Ok(back_with(&viewer, job.id, tr.t("import.already_started")));
    }
    let preview = state
        .core
        .import_preview(&viewer.actor, job.id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let targets = mapping::targets(&viewer, &object);
    // "import for real" after a dry run sends no mapping: it runs with the dry run's own
    let again = form.first("again") == Some("real");
    let choices = (!again).then(|| Choices::from_form(&form, preview.headings.len()));
    let request = match (&choices, job.options.as_ref()) {
        (Some(c), kept) => {
            if let Some(twice) = c.twice_chosen() {
                let label = targets
                    .iter()
                    .find(|(v, _)| v == twice)
                    .map_or(twice, |(_, l)| l.as_str());
                let message = tr.tf("import.two_columns", &[("field", label)]);
                return render(
                    &state,
                    &viewer,
                    &job,
                    &object,
                    Some((c.clone(), vec![message])),
                    None,
                )
                .await;
            }
            c.request(&preview.headings, kept, form.first("run") != Some("real"))
        }
        (None, Some(options)) => Choices::again(options, &preview.headings),
        (None, None) => return Ok(back_with(&viewer, job.id, tr.t("import.already_started"))),
    };
    let (dry_run, key) = (request.dry_run, request.key.clone().unwrap_or_default());
    let refused = |messages: Vec<String>| {
        let shown = choices
            .clone()
            .unwrap_or_else(|| Choices::of_job(job.options.as_ref(), &preview, &targets));
        render(
            &state,
            &viewer,
            &job,
            &object,
            Some((shown, messages)),
            None,
        )
    };
    match state
        .core
        .start_import(&viewer.actor, job.id, request)
        .await
    {
        Ok(_) => Ok(back_with(
            &viewer,
            job.id,
            if dry_run {
                tr.t("import.dry_run_started")
            } else {
                tr.t("import.started")
            },
        )),
        Err(CoreError::Validation(errors)) => {
            let messages = errors
                .iter()
                .map(|e| start_error_text(tr, &object, &key, e))
                .collect();
            refused(messages).await
        }
        Err(CoreError::Forbidden { .. }) => {
            refused(vec![tr.t("import.mode_forbidden").to_owned()]).await
        }
        Err(CoreError::Conflict { .. }) => {
            Ok(back_with(&viewer, job.id, tr.t("import.already_started")))
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

/// `POST /imports/{id}/cancel`: stops a queued or running job after the batch in hand.
pub async fn cancel(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let (job, _) = job_of(&state, &viewer, &id).await?;
    let message = match state.core.cancel_import(&viewer.actor, job.id).await {
        Ok(_) => tr.t("import.cancelled"),
        Err(CoreError::Conflict { .. }) => tr.t("import.already_settled"),
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(back_with(&viewer, job.id, message))
}

/// `POST /imports/{id}/undo`: undoes a real import in the background.
pub async fn undo(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let (job, _) = job_of(&state, &viewer, &id).await?;
    let message = match state.core.undo_import(&viewer.actor, job.id).await {
        Ok(_) => tr.t("import.undo_started"),
        Err(CoreError::Conflict { .. }) => tr.t("import.cannot_undo"),
        Err(CoreError::Forbidden { .. }) => {
            return Err(WebError::Forbidden(
                tr,
                tr.t("error.may_not_change").to_owned(),
            ));
        }
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(back_with(&viewer, job.id, message))
}

/// `GET /imports/{id}/errors.csv`: the failed and skipped rows as they were in the file,
/// each with its row number and what was wrong.
pub async fn errors_csv(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (job, _) = job_of(&state, &viewer, &id).await?;
    let csv = state
        .core
        .import_error_report(&viewer.actor, job.id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{}-errors.csv\"", job.id),
        ),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, csv).into_response())
}
