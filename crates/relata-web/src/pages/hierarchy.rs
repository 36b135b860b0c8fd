//! The hierarchy page: an account group as an indented tree, each row with the figures of
//! its whole subtree (contacts, open pipeline, won business), from `Core::hierarchy`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::hierarchy::Figure;

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

pub struct Row {
    pub href: String,
    pub name: String,
    /// Indentation, in levels.
    pub depth: usize,
    pub current: bool,
    pub figures: Vec<String>,
}

#[derive(Template)]
#[template(path = "hierarchy.html")]
struct HierarchyPage {
    chrome: Chrome,
    object: String,
    id: String,
    title: String,
    headings: Vec<String>,
    rows: Vec<Row>,
    truncated: bool,
}

fn shown(viewer: &Viewer, f: &Figure) -> String {
    let mut parts = vec![viewer.fmt.integer(f.count)];
    parts.extend(f.sums.iter().map(|(c, a)| viewer.fmt.money(a, c)));
    parts.join(" · ")
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let tree = state
        .core
        .hierarchy(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let title = tree
        .nodes
        .iter()
        .find(|n| n.id == id)
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let rows = tree
        .nodes
        .iter()
        .map(|n| Row {
            href: format!("/o/{}/{}", object.name(), n.id),
            name: if n.name.is_empty() {
                tr.t("value.untitled").to_owned()
            } else {
                n.name.clone()
            },
            depth: n.depth,
            current: n.id == id,
            figures: n.total.iter().map(|f| shown(&viewer, f)).collect(),
        })
        .collect();
    let page = HierarchyPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf("hierarchy.title", &[("name", &title)]),
            object.name(),
        ),
        object: object.name().to_owned(),
        id: id.to_string(),
        title,
        headings: tree
            .rollups
            .iter()
            .map(|k| tr.t(&format!("hierarchy.{k}")).to_owned())
            .collect(),
        rows,
        truncated: tree.truncated,
    };
    Ok(html(page.render()))
}
