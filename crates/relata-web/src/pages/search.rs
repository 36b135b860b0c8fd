//! Global search: a results page grouped by object (works without JavaScript), the instant
//! results under the search box, and the type-ahead of lookup and user fields. Every result
//! is filtered by the viewer's record visibility and field security in relata-core.

use askama::Template;
use axum::Json as JsonBody;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use relata_core::CoreError;
use relata_core::search::ObjectHits;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{Record, Value};

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::{Caller, Viewer};
use crate::state::WebState;

const PAGE_HITS: usize = 20;
const INSTANT_HITS: usize = 5;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
pub struct Hit {
    pub id: String,
    pub name: String,
    pub detail: String,
    pub href: String,
}

#[derive(Serialize)]
pub struct Group {
    pub object: String,
    pub label: String,
    pub hits: Vec<Hit>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    groups: Vec<Group>,
    message: Option<String>,
}

/// The name of a record and a second line: its first email or phone, else its first other
/// text field.
fn describe(object: &ObjectDef, record: &Record) -> (String, String) {
    let name = match record.get(object.name_field.as_str()) {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    };
    let detail = object
        .live_fields()
        .filter(|f| !f.system && f.name() != object.name_field.as_str())
        .filter(|f| {
            matches!(
                f.field_type,
                FieldType::Email | FieldType::Phone | FieldType::Text
            )
        })
        .find_map(|f| match record.get(f.name()) {
            Value::Text(t) if !t.is_empty() => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_default();
    (name, detail)
}

fn groups(viewer: &Viewer, found: Vec<ObjectHits>) -> Vec<Group> {
    let tr = viewer.tr();
    found
        .into_iter()
        .filter(|g| !g.hits.is_empty())
        .map(|g| Group {
            object: g.object.name().to_owned(),
            label: tr.object_plural(&g.object),
            hits: g
                .hits
                .iter()
                .filter_map(|h| {
                    let id = h.record.id()?;
                    let (name, detail) = describe(&g.object, &h.record);
                    Some(Hit {
                        id: id.to_string(),
                        name,
                        detail,
                        href: format!("/o/{}/{id}", g.object.name()),
                    })
                })
                .collect(),
        })
        .collect()
}

async fn run(
    state: &WebState,
    viewer: &Viewer,
    q: &str,
    objects: Option<Vec<String>>,
    limit: usize,
) -> Result<Result<Vec<Group>, String>, WebError> {
    match state.core.search(&viewer.actor, q, objects, limit).await {
        Ok(found) => Ok(Ok(groups(viewer, found))),
        Err(CoreError::Validation(errors)) => Ok(Err(errors
            .first()
            .map(|e| super::inputs::field_error_text(viewer.tr(), e))
            .unwrap_or_default())),
        Err(CoreError::BadRequest { message, .. }) => Ok(Err(message)),
        Err(e) => Err(WebError::core(e, viewer.tr())),
    }
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let q = query.q.trim().to_owned();
    let (groups, message) = if q.is_empty() {
        (Vec::new(), None)
    } else {
        match run(&state, &viewer, &q, None, PAGE_HITS).await? {
            Ok(g) if g.is_empty() => (g, Some(tr.tf("search.nothing", &[("q", &q)]))),
            Ok(g) => (g, None),
            Err(m) => (Vec::new(), Some(m)),
        }
    };
    let page = SearchPage {
        chrome: Chrome::new(&state, &viewer, tr.t("search.title").to_owned(), "search"),
        q,
        groups,
        message,
    };
    Ok(html(page.render()))
}

/// Instant results under the search box, as JSON for our script.
pub async fn instant(
    State(state): State<WebState>,
    Caller(viewer): Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let q = query.q.trim();
    let groups: Vec<Group> = run(&state, &viewer, q, None, INSTANT_HITS)
        .await?
        .unwrap_or_default();
    Ok(JsonBody(groups).into_response())
}

#[derive(Serialize)]
struct Choice {
    id: String,
    name: String,
    detail: String,
}

/// Type-ahead of a lookup field: visible records of one object matching what was typed.
pub async fn lookup(
    State(state): State<WebState>,
    Caller(viewer): Caller,
    Path(object): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let object = readable_object(&state, &viewer, &object)?;
    let found: Vec<Group> = run(
        &state,
        &viewer,
        query.q.trim(),
        Some(vec![object.name().to_owned()]),
        10,
    )
    .await?
    .unwrap_or_default();
    let choices: Vec<Choice> = found
        .into_iter()
        .flat_map(|g| g.hits)
        .map(|h| Choice {
            id: h.id,
            name: h.name,
            detail: h.detail,
        })
        .collect();
    Ok(JsonBody(choices).into_response())
}

/// Type-ahead of a user field: active users by name or email.
pub async fn users(
    State(state): State<WebState>,
    Caller(viewer): Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let found = state
        .core
        .user_directory(&viewer.actor, &query.q, 10)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let choices: Vec<Choice> = found
        .into_iter()
        .map(|u| Choice {
            id: u.id.to_string(),
            name: u.name,
            detail: u.email,
        })
        .collect();
    Ok(JsonBody(choices).into_response())
}
