//! The possible duplicates of a record: the records its object's matching rule scores as
//! the same customer, with the score and the fields that matched. Opened from the record
//! page, and right after a create that found some ("saved — these may be the same").

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use relata_domain::{FieldDef, ObjectDef, Record, Value};

use super::cells::{Cell, Names, cell};
use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// Fields shown beside each possible duplicate (those the rule compares, when readable).
const SHOWN: [&str; 6] = ["email", "phone", "mobile", "company", "account_id", "city"];

pub struct Row {
    pub href: String,
    /// The merge page for this record and the one the page is about.
    pub merge_href: String,
    pub name: String,
    pub score: String,
    pub matched: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "duplicates.html")]
struct DuplicatesPage {
    chrome: Chrome,
    object: String,
    id: String,
    title: String,
    just_created: bool,
    headings: Vec<String>,
    rows: Vec<Row>,
    merge_all_href: Option<String>,
}

#[derive(Deserialize)]
pub struct DuplicatesQuery {
    #[serde(default)]
    new: Option<String>,
}

pub(crate) fn title_of(object: &ObjectDef, record: &Record) -> String {
    match record.get(object.name_field.as_str()) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => String::new(),
    }
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<DuplicatesQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let record = state
        .core
        .get_record(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let (_, found) = state
        .core
        .duplicates_of_record(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let shown: Vec<&FieldDef> = SHOWN
        .iter()
        .filter_map(|n| object.field(n))
        .filter(|f| relata_core::fields::readable(&viewer.actor, &object, f.name()))
        .collect();
    let records: Vec<&Record> = found.iter().map(|d| &d.record).collect();
    let names = Names::resolve(&state, &viewer, &records, &shown).await;
    let label = |n: &str| {
        object
            .field(n)
            .map(|f| tr.field_label(&object, f))
            .unwrap_or_else(|| n.to_owned())
    };
    let rows: Vec<Row> = found
        .iter()
        .map(|d| {
            let rid = d.record.id().map(|u| u.to_string()).unwrap_or_default();
            Row {
                merge_href: format!("/o/{}/{id}/merge?with={rid}", object.name()),
                href: format!("/o/{}/{rid}", object.name()),
                name: title_of(&object, &d.record),
                score: format!("{:.0}%", d.score.score * 100.0),
                matched: d
                    .score
                    .evidence
                    .iter()
                    .map(|e| {
                        e.fields
                            .iter()
                            .map(|f| label(f))
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                cells: shown
                    .iter()
                    .map(|f| cell(&viewer, &object, f, &d.record, &names))
                    .collect(),
            }
        })
        .collect();
    let title = title_of(&object, &record);
    let page = DuplicatesPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf("duplicates.title", &[("name", &title)]),
            object.name(),
        ),
        object: object.name().to_owned(),
        id: id.to_string(),
        title,
        just_created: q.new.is_some(),
        headings: shown.iter().map(|f| tr.field_label(&object, f)).collect(),
        merge_all_href: (rows.len() > 1).then(|| {
            let all: Vec<String> = rows
                .iter()
                .filter_map(|r| r.href.rsplit('/').next().map(str::to_owned))
                .collect();
            format!("/o/{}/{id}/merge?with={}", object.name(), all.join(","))
        }),
        rows,
    };
    Ok(html(page.render()))
}
