//! Data quality in the web UI: the weakest records of an object (`/o/{object}/quality`), each
//! with its score and the key fields it lacks, linked to the record to complete it.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use relata_core::records::quality::MAX_WEAKEST;
use relata_domain::{ObjectDef, Value};

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

pub struct Row {
    pub href: String,
    pub name: String,
    pub score: u8,
    pub missing: String,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityPage {
    chrome: Chrome,
    object: String,
    plural: String,
    rows: Vec<Row>,
}

/// The missing key fields by their labels, in the viewer's language.
pub fn missing_labels(viewer: &Viewer, object: &ObjectDef, missing: &[String]) -> String {
    let tr = viewer.tr();
    missing
        .iter()
        .filter_map(|m| object.field(m))
        .map(|f| tr.field_label(object, f))
        .collect::<Vec<_>>()
        .join(tr.t("quality.separator"))
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let (def, found) = state
        .core
        .weakest_records(&viewer.actor, object.name(), MAX_WEAKEST)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let rows = found
        .iter()
        .map(|(r, q)| Row {
            href: format!(
                "/o/{}/{}",
                def.name(),
                r.id().map(|i| i.to_string()).unwrap_or_default()
            ),
            name: match r.get(def.name_field.as_str()) {
                Value::Text(t) if !t.is_empty() => t.clone(),
                _ => tr.t("value.untitled").to_owned(),
            },
            score: q.score,
            missing: missing_labels(&viewer, &def, &q.missing),
        })
        .collect();
    let plural = tr.object_plural(&def);
    let page = QualityPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf("quality.title", &[("plural", &plural)]),
            def.name(),
        ),
        object: def.name().to_owned(),
        plural,
        rows,
    };
    Ok(html(page.render()))
}
