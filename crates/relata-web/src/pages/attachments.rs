//! Attachments in the web UI: the record page's list with its upload form, the download, and
//! the removal. Every check — visibility, edit access, size, what the file is — is the
//! service's (`Core::attach` and friends).

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::attachments::Attachment;

use super::upload_form::read;
use super::{readable_object, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// One attached file as the record page lists it.
pub struct Line {
    pub id: String,
    pub file_name: String,
    pub size: String,
    pub meta: String,
}

/// A size as people read it.
fn size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
    }
}

/// The files of a record for its page (none, logged, when they cannot be read).
pub async fn lines(state: &WebState, viewer: &Viewer, object: &str, id: Uuid) -> Vec<Line> {
    let found: Vec<Attachment> = match state.core.attachments(&viewer.actor, object, id).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = ?e, "listing attachments failed");
            return Vec::new();
        }
    };
    let users = state
        .core
        .user_names(found.iter().filter_map(|a| a.created_by).collect())
        .await
        .unwrap_or_default();
    found
        .into_iter()
        .map(|a| Line {
            id: a.id.to_string(),
            size: size(a.bytes),
            meta: {
                let who = a
                    .created_by
                    .and_then(|u| users.get(&u).map(|b| b.name.clone()))
                    .unwrap_or_default();
                let when = viewer.fmt.datetime(&a.created_at);
                if who.is_empty() {
                    when
                } else {
                    format!("{when} · {who}")
                }
            },
            file_name: a.file_name,
        })
        .collect()
}

/// `POST /o/{object}/{id}/attachments` (multipart): attaches the file, back to the record.
pub async fn upload(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
    req: Request,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let record = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let refused = |message: String, status: StatusCode| {
        super::record::render_refused(&state, &viewer, object.name(), &id, message, status)
    };
    let upload = match read(req).await {
        Ok(u) => u,
        Err((partial, status)) => {
            if !partial.csrf_ok(&viewer) {
                return Err(WebError::Csrf(tr));
            }
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                tr.t("attachments.too_large")
            } else {
                tr.t("attachments.broken")
            };
            return refused(message.to_owned(), status).await;
        }
    };
    if !upload.csrf_ok(&viewer) {
        return Err(WebError::Csrf(tr));
    }
    if upload.file_name.is_empty() && upload.data.is_empty() {
        return refused(
            tr.t("attachments.no_file").to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state
        .core
        .attach(
            &viewer.actor,
            object.name(),
            record,
            &upload.file_name,
            upload.data,
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/o/{}/{record}?saved=attached",
            object.name()
        ))),
        Err(CoreError::Validation(errors)) => {
            let why = errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            refused(
                tr.tf(
                    "attachments.refused",
                    &[("name", &upload.file_name), ("why", &why)],
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

/// `GET /attachments/{id}`: the file, when the viewer may see its record.
pub async fn download(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let (attachment, data) = state
        .core
        .attachment_file(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok((attachment.download_headers(), data).into_response())
}

/// `POST /attachments/{id}/delete`: removes the file, back to its record.
pub async fn delete(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let back = posted
        .form
        .first("back")
        .filter(|b| b.starts_with("/o/") && !b.contains("//"))
        .unwrap_or("/")
        .to_owned();
    state
        .core
        .delete_attachment(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&back))
}
