//! Downloads of a list view or of the records ticked in it, as CSV, Excel (XLSX) or, for
//! contacts, vCard: the same streamed, audited, permission-checked export as the API's, with
//! column headings in the viewer's language.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use relata_core::export::{ExportFormat, ExportRequest, Header};
use relata_domain::ObjectDef;

use super::readable_object;
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// `GET /o/{object}/export?format=…&<the list's query>`: the records of the view.
pub async fn view(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let object = readable_object(&state, &viewer, &name)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let format = pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map_or("csv", |(_, v)| v.as_str());
    let (filter, sort, fields) = super::list::view_of(&state, &viewer, &object, &pairs).await;
    let request = ExportRequest {
        filter,
        sort,
        fields,
        ..base_request(&viewer, &object, format)?
    };
    start(&state, &viewer, &object, request).await
}

/// The ticked records of a list, from its bulk form.
pub async fn picked(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    format: &str,
    ids: Vec<Uuid>,
) -> Result<Response, WebError> {
    let request = ExportRequest {
        ids,
        ..base_request(viewer, object, format)?
    };
    start(state, viewer, object, request).await
}

fn base_request(
    viewer: &Viewer,
    object: &ObjectDef,
    format: &str,
) -> Result<ExportRequest, WebError> {
    let tr = viewer.tr();
    let format = ExportFormat::parse(format).map_err(|e| WebError::core(e, tr))?;
    let labels: HashMap<String, String> = object
        .live_fields()
        .map(|f| (f.name().to_owned(), tr.field_label(object, f)))
        .collect();
    Ok(ExportRequest {
        header: Header::Labels {
            fields: labels,
            currency: tr.t("export.currency").to_owned(),
            name: tr.t("export.name").to_owned(),
        },
        ..ExportRequest::new(format)
    })
}

async fn start(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    request: ExportRequest,
) -> Result<Response, WebError> {
    let export = state
        .core
        .export(&viewer.actor, object.name(), request)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    Ok(attachment(export))
}

/// The export as a streamed attachment.
pub fn attachment(export: relata_core::export::Export) -> Response {
    let headers = export.download_headers();
    (headers, Body::from_stream(export.into_stream())).into_response()
}
