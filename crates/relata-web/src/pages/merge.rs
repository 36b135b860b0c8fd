//! Merging duplicates in the web UI: the records side by side with a choice per field (the
//! service's defaults preselected), the merge, and its undo from the surviving record's page.
//! The page only collects choices; `Core::merge_records` decides and checks everything.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use relata_core::records::merge::MergeRequest;
use relata_domain::dedupe::merge::MergeStrategy;
use relata_domain::{FieldDef, ObjectDef, Record, Value};

use super::cells::{Names, cell};
use super::{Chrome, html, readable_object, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct Column {
    pub id: String,
    pub name: String,
    pub href: String,
    pub survivor: bool,
    pub suggested: bool,
    /// The same merge with this record kept instead.
    pub keep_href: String,
}

pub struct Choice {
    pub id: String,
    pub text: String,
    pub checked: bool,
}

pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "merge.html")]
struct MergePage {
    chrome: Chrome,
    object: String,
    id: String,
    with: String,
    strategy: &'static str,
    other_strategy_href: String,
    other_strategy_label: String,
    columns: Vec<Column>,
    rows: Vec<FieldRow>,
    /// How many fields the records agree on (nothing to choose there).
    same_text: Option<String>,
}

#[derive(Deserialize)]
pub struct MergeQuery {
    #[serde(default)]
    with: String,
    #[serde(default)]
    strategy: Option<String>,
}

fn ids(list: &str, tr: crate::i18n::Tr) -> Result<Vec<Uuid>, WebError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Uuid::parse_str(s.trim()).map_err(|_| WebError::NotFound(tr)))
        .collect()
}

fn strategy_of(s: Option<&str>) -> MergeStrategy {
    match s {
        Some("most_complete") => MergeStrategy::MostComplete,
        _ => MergeStrategy::MostRecent,
    }
}

fn strategy_name(s: MergeStrategy) -> &'static str {
    match s {
        MergeStrategy::MostRecent => "most_recent",
        MergeStrategy::MostComplete => "most_complete",
    }
}

fn name_of(object: &ObjectDef, record: &Record) -> String {
    match record.get(object.name_field.as_str()) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => record.id().map(|i| i.to_string()).unwrap_or_default(),
    }
}

fn join(ids: &[String]) -> String {
    ids.join(",")
}

/// `/o/{object}/{id}/merge?with=a,b`: the records side by side, a choice per field.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<MergeQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let others = ids(&q.with, tr)?;
    let strategy = strategy_of(q.strategy.as_deref());
    let plan = state
        .core
        .merge_plan(&viewer.actor, object.name(), id, others, strategy)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let fields: Vec<&FieldDef> = plan.fields.iter().filter_map(|f| object.field(f)).collect();
    let records: Vec<&Record> = plan.records.iter().collect();
    let names = Names::resolve(&state, &viewer, &records, &fields).await;
    let all_ids: Vec<String> = plan
        .records
        .iter()
        .filter_map(|r| r.id())
        .map(|i| i.to_string())
        .collect();
    let base = format!("/o/{}", object.name());
    let columns = plan
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rid = all_ids.get(i).cloned().unwrap_or_default();
            let rest: Vec<String> = all_ids.iter().filter(|o| **o != rid).cloned().collect();
            Column {
                name: name_of(&object, r),
                href: format!("{base}/{rid}"),
                survivor: i == 0,
                suggested: r.id() == Some(plan.suggested_survivor),
                keep_href: format!(
                    "{base}/{rid}/merge?with={}&strategy={}",
                    join(&rest),
                    strategy_name(strategy)
                ),
                id: rid,
            }
        })
        .collect();
    let mut rows = Vec::new();
    let mut same = 0;
    for f in &fields {
        let values: Vec<&Value> = plan.records.iter().map(|r| r.get(f.name())).collect();
        if values.iter().all(|v| *v == values[0]) {
            same += 1;
            continue;
        }
        let source = plan.sources.get(f.name()).map(|u| u.to_string());
        rows.push(FieldRow {
            name: f.name().to_owned(),
            label: tr.field_label(&object, f),
            choices: plan
                .records
                .iter()
                .zip(&all_ids)
                .map(|(r, rid)| {
                    let text = cell(&viewer, &object, f, r, &names).text;
                    Choice {
                        checked: source.as_deref() == Some(rid.as_str()),
                        text: if r.get(f.name()).is_null() {
                            tr.t("value.empty").to_owned()
                        } else {
                            text
                        },
                        id: rid.clone(),
                    }
                })
                .collect(),
        });
    }
    let others_joined = join(&all_ids[1..]);
    let other = match strategy {
        MergeStrategy::MostRecent => MergeStrategy::MostComplete,
        MergeStrategy::MostComplete => MergeStrategy::MostRecent,
    };
    let view = MergePage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf(
                "merge.title",
                &[("name", &name_of(&object, &plan.records[0]))],
            ),
            object.name(),
        ),
        object: object.name().to_owned(),
        id: id.to_string(),
        other_strategy_href: format!(
            "{base}/{id}/merge?with={others_joined}&strategy={}",
            strategy_name(other)
        ),
        other_strategy_label: tr
            .t(&format!("merge.prefer_{}", strategy_name(other)))
            .to_owned(),
        with: others_joined,
        strategy: strategy_name(strategy),
        columns,
        rows,
        same_text: (same > 0).then(|| tr.tf("merge.same", &[("count", &same.to_string())])),
    };
    Ok(html(view.render()))
}

/// The merge, as chosen on the page.
pub async fn merge(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let mut req = MergeRequest {
        records: ids(form.first("with").unwrap_or_default(), tr)?,
        strategy: strategy_of(form.first("strategy")),
        ..MergeRequest::default()
    };
    for (key, value) in form.pairs() {
        if let Some(field) = key.strip_prefix("v.") {
            let source = Uuid::parse_str(value).map_err(|_| WebError::NotFound(tr))?;
            req.values.insert(field.to_owned(), source);
        }
    }
    state
        .core
        .merge_records(&viewer.actor, object.name(), id, req)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!(
        "/o/{}/{id}?saved=merged",
        object.name()
    )))
}

/// Undo of a merge into this record, from its page.
pub async fn undo(
    State(state): State<WebState>,
    Path((name, id, merge)): Path<(String, String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let merge = Uuid::parse_str(&merge).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .undo_merge(&viewer.actor, merge)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!(
        "/o/{}/{id}?saved=unmerged",
        object.name()
    )))
}
