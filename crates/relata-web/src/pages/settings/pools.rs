//! Pools (公海) for administrators of metadata: the list, and a form per pool — its name, the
//! object it holds (fixed once made), whether it is the object's default pool, its members
//! (users by email; teams and roles by id), reclaim rules and owned limits as rows per
//! level, the most claims a day and the cooldown. Every problem is shown beside the field and
//! row it belongs to; the pool is saved through the same core service as the API, which
//! checks it again.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::pool;

use super::pool_form::{LevelGroup, PoolForm, save_form};
use super::{Tab, chrome, form_errors, told};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::{Chrome, html_unless};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// A pool in the list.
pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub is_default: bool,
    pub members: usize,
}

#[derive(Template)]
#[template(path = "settings/pools.html")]
struct PoolsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    pools: Vec<PoolRow>,
    objects: Vec<(String, String)>,
    levels: Vec<LevelGroup>,
    form: PoolForm,
}

#[derive(Template)]
#[template(path = "settings/pool.html")]
struct PoolPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    objects: Vec<(String, String)>,
    levels: Vec<LevelGroup>,
    form: PoolForm,
}

fn objects(state: &WebState, tr: Tr) -> Vec<(String, String)> {
    pool::OBJECTS
        .iter()
        .filter_map(|o| {
            state
                .core
                .schema()
                .object(o)
                .map(|d| (o.to_string(), tr.object_label(d)))
        })
        .collect()
}

/// The levels a rule or limit may name: the object's level field's values (of both
/// objects while the object is still to be chosen).
fn levels(state: &WebState, tr: Tr, form: &PoolForm) -> Vec<LevelGroup> {
    let schema = state.core.schema();
    pool::OBJECTS
        .iter()
        .filter(|o| !form.fixed_object || **o == form.object)
        .filter_map(|o| {
            let object = schema.object(o)?;
            let field = object.field(pool::level_field(o))?;
            Some(LevelGroup {
                label: format!(
                    "{} · {}",
                    tr.object_label(object),
                    tr.field_label(object, field)
                ),
                values: field
                    .values
                    .iter()
                    .map(|v| (v.value.clone(), tr.pick_label(object, field, &v.value)))
                    .collect(),
            })
        })
        .collect()
}

/// `GET /settings/pools`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    list(&state, &viewer, PoolForm::default()).await
}

async fn list(state: &WebState, viewer: &Viewer, form: PoolForm) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("pools.settings_title").to_owned(),
        "/settings/pools",
        Capability::ManageMetadata,
    )?;
    let pools = state
        .core
        .pools(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let labels: HashMap<String, String> = objects(state, tr).into_iter().collect();
    let rows = pools
        .iter()
        .map(|p| PoolRow {
            id: p.id.to_string(),
            name: p.name.clone(),
            object: labels
                .get(&p.object)
                .cloned()
                .unwrap_or_else(|| p.object.clone()),
            is_default: p.is_default,
            members: p.members.len(),
        })
        .collect();
    let failed = !form.errors.is_empty();
    let page = PoolsPage {
        chrome,
        tabs,
        pools: rows,
        objects: objects(state, tr),
        levels: levels(state, tr, &form),
        form,
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/pools`: creates a pool and opens it.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let typed = PoolForm::from_post(&form);
    match save_form(&state, &viewer, None, &typed).await? {
        Ok(pool) => Ok(told(
            &viewer,
            &format!("/settings/pools/{}", pool.id),
            "pools.saved",
        )),
        Err(errors) => {
            list(
                &state,
                &viewer,
                PoolForm { errors, ..typed }.with_blank_rows(),
            )
            .await
        }
    }
}

/// `GET /settings/pools/{id}`.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    super::require(&viewer, Capability::ManageMetadata)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    let pool = state
        .core
        .pool(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let form = PoolForm::of(&state, &pool).await;
    show(&state, &viewer, id, form, notice)
}

fn show(
    state: &WebState,
    viewer: &Viewer,
    id: Uuid,
    form: PoolForm,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        form.name.clone(),
        "/settings/pools",
        Capability::ManageMetadata,
    )?;
    let failed = !form.errors.is_empty();
    let page = PoolPage {
        chrome: chrome.with_notice(notice),
        tabs,
        id: id.to_string(),
        objects: objects(state, tr),
        levels: levels(state, tr, &form),
        form,
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/pools/{id}`: saves the pool (`action=save`) or deletes an empty one
/// (`action=delete`).
pub async fn save(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let tr = viewer.tr();
    let stored = state
        .core
        .pool(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    if form.first("action") == Some("delete") {
        return match state.core.delete_pool(&viewer.actor, id).await {
            Ok(()) => Ok(told(&viewer, "/settings/pools", "pools.deleted")),
            Err(e) => {
                let errors = form_errors(&viewer, e)?;
                let shown = PoolForm::of(&state, &stored).await;
                show(&state, &viewer, id, PoolForm { errors, ..shown }, None)
            }
        };
    }
    let typed = PoolForm {
        object: stored.object,
        fixed_object: true,
        ..PoolForm::from_post(&form)
    };
    match save_form(&state, &viewer, Some(id), &typed).await? {
        Ok(_) => Ok(told(
            &viewer,
            &format!("/settings/pools/{id}"),
            "pools.saved",
        )),
        Err(errors) => show(
            &state,
            &viewer,
            id,
            PoolForm { errors, ..typed }.with_blank_rows(),
            None,
        ),
    }
}
