//! Sending a mail from a record's page: the templates for the record's object, to the
//! record's address or one typed in. It goes through the same path as the API and the rules
//! (`Core::send_email`), so an opt-out is honoured here too and said as such.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::email::SendRequest;
use relata_domain::{ObjectDef, Record, Value};

use super::{readable_object, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// The "send an email" panel of a record page.
pub struct Composer {
    /// (id, name) of the active templates for the record's object.
    pub templates: Vec<(String, String)>,
    /// The record's own address, the default receiver.
    pub to: String,
}

/// The panel, when the object's records have an address and there are templates for them.
pub async fn composer(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
) -> Option<Composer> {
    object.field("email")?;
    let templates = state
        .core
        .email_templates(&viewer.actor, Some(object.name().to_owned()))
        .await
        .ok()?;
    let templates: Vec<(String, String)> = templates
        .into_iter()
        .filter(|t| t.active && t.object.is_some())
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    if templates.is_empty() {
        return None;
    }
    let to = match record.get("email") {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    };
    Some(Composer { templates, to })
}

/// `POST /o/{object}/{id}/email`: queues the mail, back to the record.
pub async fn send(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let record = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let template = form
        .first("template_id")
        .and_then(|t| Uuid::parse_str(t).ok());
    let request = SendRequest {
        object: object.name().to_owned(),
        record_id: record,
        template_id: template,
        to: form
            .first("to")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        track: true,
        ..Default::default()
    };
    let refused = |message: String, status: StatusCode| {
        super::record::render_refused(&state, &viewer, object.name(), &id, message, status)
    };
    match state.core.send_email(&viewer.actor, &request, None).await {
        Ok(_) => Ok(see_other(&format!(
            "/o/{}/{record}?saved=emailed",
            object.name()
        ))),
        Err(CoreError::Validation(errors)) => {
            let why: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
            refused(
                tr.tf("email.refused", &[("why", &why.join("; "))]),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(CoreError::Conflict { message, .. }) => {
            refused(
                tr.tf("email.refused", &[("why", &message)]),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(CoreError::BadRequest {
            code: "mail_not_configured",
            ..
        }) => {
            refused(
                tr.t("email.not_configured").to_owned(),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}
