//! Saved list views and recently opened records.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use super::{Chrome, html, local_path, readable_object, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Saves the list the user is looking at (its filters, sort and columns) under a name.
pub async fn save(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let query = form.first("query").unwrap_or_default();
    // only the view's own parameters: never a cursor or a one-time message
    let kept: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(query.as_bytes())
                .filter(|(k, _)| !matches!(k.as_ref(), "cursor" | "view"))
                .filter(|(k, _)| !crate::notice::PARAMS.contains(&k.as_ref())),
        )
        .finish();
    let shared = form.last("shared") == Some("true");
    match state
        .core
        .save_view(
            &viewer.actor,
            object.name(),
            form.first("name").unwrap_or_default(),
            &kept,
            shared,
        )
        .await
    {
        Ok(view) => Ok(see_other(&view_href(object.name(), &view.query, view.id))),
        Err(relata_core::CoreError::Validation(errors)) => {
            let message = errors
                .first()
                .map(|e| super::inputs::field_error_text(tr, e))
                .unwrap_or_default();
            let back = format!("/o/{}?{kept}", object.name());
            Ok(see_other(&crate::notice::redirect_with(
                &viewer.csrf,
                &back,
                &message,
            )))
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

pub fn view_href(object: &str, query: &str, id: Uuid) -> String {
    if query.is_empty() {
        format!("/o/{object}?view={id}")
    } else {
        format!("/o/{object}?{query}&view={id}")
    }
}

pub async fn delete(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .delete_view(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&local_path(Some(&format!(
        "/o/{}",
        object.name()
    )))))
}

/// A recently opened record, named as the viewer may see it now.
pub struct Recent {
    pub href: String,
    pub name: String,
    pub object: String,
    pub when: String,
}

/// The viewer's recently opened records that they may still see.
pub async fn recent(state: &WebState, viewer: &Viewer, limit: usize) -> Vec<Recent> {
    let tr = viewer.tr();
    let items = state
        .core
        .recent_items(&viewer.actor, limit)
        .await
        .unwrap_or_default();
    let mut by_object: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for item in &items {
        by_object
            .entry(item.object.clone())
            .or_default()
            .push(item.record_id);
    }
    let mut names = std::collections::HashMap::new();
    for (object, ids) in by_object {
        if let Ok(labels) = state.core.record_labels(&viewer.actor, &object, ids).await {
            names.extend(labels);
        }
    }
    let schema = state.core.schema();
    items
        .into_iter()
        .filter_map(|item| {
            let name = names.get(&item.record_id)?.clone();
            let object = schema.object(&item.object)?;
            Some(Recent {
                href: format!("/o/{}/{}", item.object, item.record_id),
                name: if name.is_empty() {
                    tr.t("value.untitled").to_owned()
                } else {
                    name
                },
                object: tr.object_label(object),
                when: viewer.fmt.datetime(&item.viewed_at),
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "recent.html")]
struct RecentPage {
    chrome: Chrome,
    items: Vec<Recent>,
}

pub async fn recent_page(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let items = recent(&state, &viewer, 50).await;
    let page = RecentPage {
        chrome: Chrome::new(&state, &viewer, tr.t("recent.title").to_owned(), "recent"),
        items,
    };
    Ok(html(page.render()))
}
