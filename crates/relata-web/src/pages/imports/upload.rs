//! The first step of an import: the upload form of an object, with the viewer's recent
//! imports of it, and the upload itself — a multipart form (the CSRF token, then the file)
//! that keeps the file as a draft job and leads to its column mapping. A file refused at
//! upload (not CSV or XLSX, empty, unreadable, too large) is reported on the form.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use relata_core::CoreError;
use relata_core::import::source::FileFormat;
use relata_domain::access::Operation;
use relata_domain::{FieldError, FieldErrorCode, ObjectDef};

use super::JobLine;
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::upload_form::read;
use crate::pages::{Chrome, html, readable_object, see_other};
use crate::session::{Viewer, constant_time_eq};
use crate::state::WebState;

/// Recent imports listed under the form.
const RECENT: usize = 10;

#[derive(Template)]
#[template(path = "imports/upload.html")]
struct UploadPage {
    chrome: Chrome,
    object: String,
    plural: String,
    error: Option<String>,
    jobs: Vec<JobLine>,
    /// The jobs table has no "by" column here: these are the viewer's own.
    everyone: bool,
}

/// The object of an import page, if the viewer may import into it.
pub fn importable(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
) -> Result<Arc<ObjectDef>, WebError> {
    let tr = viewer.tr();
    let object = readable_object(state, viewer, name)?;
    if !viewer.actor.may(object.name(), Operation::Import) {
        return Err(WebError::Forbidden(
            tr,
            tr.tf(
                "import.not_allowed",
                &[("plural", &tr.object_plural(&object))],
            ),
        ));
    }
    Ok(object)
}

/// `GET /o/{object}/import`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let object = importable(&state, &viewer, &name)?;
    render(&state, &viewer, &object, None, StatusCode::OK).await
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let me = viewer.actor.user_id.0;
    let jobs = state
        .core
        .import_jobs(&viewer.actor, 200)
        .await
        .map_err(|e| WebError::core(e, tr))?
        .iter()
        .filter(|j| j.object == object.name() && j.actor_id == me)
        .take(RECENT)
        .map(|j| JobLine::of(viewer, state, j, String::new()))
        .collect();
    let plural = tr.object_plural(object);
    let page = UploadPage {
        chrome: Chrome::new(
            state,
            viewer,
            tr.tf("import.title", &[("plural", &plural)]),
            object.name(),
        ),
        object: object.name().to_owned(),
        plural,
        error,
        jobs,
        everyone: false,
    };
    let mut response = html(page.render());
    *response.status_mut() = status;
    Ok(response)
}

/// `POST /o/{object}/import` (multipart): keeps the file as a draft job and goes to it.
pub async fn upload(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = importable(&state, &viewer, &name)?;
    let csrf_ok = |sent: &Option<String>| {
        sent.as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), viewer.csrf.as_bytes()))
    };
    let upload = match read(req).await {
        Ok(u) => u,
        Err((partial, status)) => {
            if !csrf_ok(&partial.csrf) {
                return Err(WebError::Csrf(tr));
            }
            let (message, status) = if status == StatusCode::PAYLOAD_TOO_LARGE {
                (tr.t("import.error_too_large"), status)
            } else {
                (tr.t("import.error_broken"), StatusCode::BAD_REQUEST)
            };
            return render(&state, &viewer, &object, Some(message.to_owned()), status).await;
        }
    };
    if !csrf_ok(&upload.csrf) {
        return Err(WebError::Csrf(tr));
    }
    let refuse = |message: String| {
        render(
            &state,
            &viewer,
            &object,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if upload.file_name.is_empty() && upload.data.is_empty() {
        return refuse(tr.t("import.no_file").to_owned()).await;
    }
    // the two refusals a person meets most, said before the file is read
    if FileFormat::parse(&upload.file_name).is_err() {
        return refuse(tr.tf("import.error_format", &[("name", &upload.file_name)])).await;
    }
    if upload.data.is_empty() {
        return refuse(tr.t("import.error_empty").to_owned()).await;
    }
    let created = state
        .core
        .create_import(
            &viewer.actor,
            object.name(),
            &upload.file_name,
            None,
            std::io::Cursor::new(upload.data),
        )
        .await;
    match created {
        Ok(job) => Ok(see_other(&format!("/imports/{}", job.id))),
        Err(CoreError::Validation(errors)) => {
            let message = errors
                .first()
                .map(|e| upload_error_text(tr, e, &upload.file_name))
                .unwrap_or_default();
            refuse(message).await
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

/// Why the service refused a file, in the viewer's language; what the catalog has no words
/// for is quoted as the service said it.
fn upload_error_text(tr: Tr, e: &FieldError, file_name: &str) -> String {
    match (e.field.as_str(), e.code) {
        ("format", FieldErrorCode::InvalidOption) => {
            tr.tf("import.error_format", &[("name", file_name)])
        }
        // an empty file was refused above: what is left without headings is the first row
        ("file", FieldErrorCode::Required) => tr.t("import.error_no_headings").to_owned(),
        _ => tr.tf("import.error_unreadable", &[("detail", &e.message)]),
    }
}
