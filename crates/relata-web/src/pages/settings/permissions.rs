//! Profiles and permission sets: per object create / read / edit / delete / view all /
//! modify all / import / export, per field hidden / read / edit (field-level security, one
//! object at a time), and the administrative capabilities.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::access::sets::{SetInput, SetView};
use relata_domain::access::{Capability, FieldAccess, Grants, ObjectPerm};

use super::{Tab, chrome, form_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

const OPS: [&str; 8] = [
    "create",
    "read",
    "edit",
    "delete",
    "view_all",
    "modify_all",
    "import",
    "export",
];
const CAPABILITIES: [Capability; 4] = [
    Capability::ManageUsers,
    Capability::ManageMetadata,
    Capability::ManageAutomation,
    Capability::ViewAudit,
];

fn op(perm: &ObjectPerm, name: &str) -> bool {
    match name {
        "create" => perm.create,
        "read" => perm.read,
        "edit" => perm.edit,
        "delete" => perm.delete,
        "view_all" => perm.view_all,
        "modify_all" => perm.modify_all,
        "import" => perm.import,
        _ => perm.export,
    }
}

fn set_op(perm: &mut ObjectPerm, name: &str, on: bool) {
    match name {
        "create" => perm.create = on,
        "read" => perm.read = on,
        "edit" => perm.edit = on,
        "delete" => perm.delete = on,
        "view_all" => perm.view_all = on,
        "modify_all" => perm.modify_all = on,
        "import" => perm.import = on,
        _ => perm.export = on,
    }
}

pub struct GridRow {
    pub object: String,
    pub label: String,
    pub ops: Vec<(String, bool)>,
}

pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub access: &'static str,
}

#[derive(Template)]
#[template(path = "settings/permissions.html")]
struct SetsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    sets: Vec<SetView>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings/permission_set.html")]
struct SetPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    set: SetView,
    ops: Vec<(String, String)>,
    grid: Vec<GridRow>,
    capabilities: Vec<(String, String, bool)>,
    field_object: String,
    field_objects: Vec<(String, String)>,
    fields: Vec<FieldRow>,
    errors: Vec<String>,
}

pub async fn list(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    render_list(&state, &viewer, Vec::new()).await
}

async fn render_list(
    state: &WebState,
    viewer: &Viewer,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.permissions").to_owned(),
        "/settings/permissions",
        Capability::ManageUsers,
    )?;
    let sets = state
        .core
        .list_permission_sets(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let failed = !errors.is_empty();
    let page = SetsPage {
        chrome,
        tabs,
        sets,
        errors,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    let input = SetInput {
        name: form.first("name").unwrap_or_default().to_owned(),
        is_profile: form.last("is_profile") == Some("true"),
        grants: Grants::default(),
    };
    match state.core.create_permission_set(&viewer.actor, input).await {
        Ok(set) => Ok(see_other(&format!("/settings/permissions/{}", set.id))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            render_list(&state, &viewer, errors).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct SetQuery {
    object: Option<String>,
}

async fn find_set(state: &WebState, viewer: &Viewer, id: &str) -> Result<SetView, WebError> {
    let tr = viewer.tr();
    state
        .core
        .list_permission_sets(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(WebError::NotFound(tr))
}

pub async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<SetQuery>,
) -> Result<Response, WebError> {
    let set = find_set(&state, &viewer, &id).await?;
    render_set(&state, &viewer, set, q.object, Vec::new())
}

fn render_set(
    state: &WebState,
    viewer: &Viewer,
    set: SetView,
    object: Option<String>,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        set.name.clone(),
        "/settings/permissions",
        Capability::ManageUsers,
    )?;
    let schema = state.core.schema();
    let mut objects: Vec<_> = schema.objects().cloned().collect();
    objects.sort_by_key(|o| tr.object_plural(o));
    let grid = objects
        .iter()
        .map(|o| {
            let perm = set.grants.object(o.name());
            GridRow {
                object: o.name().to_owned(),
                label: tr.object_plural(o),
                ops: OPS
                    .iter()
                    .map(|n| ((*n).to_owned(), op(&perm, n)))
                    .collect(),
            }
        })
        .collect();
    let field_object = object
        .filter(|o| schema.object(o).is_some())
        .unwrap_or_else(|| "contact".to_owned());
    let fields = schema
        .object(&field_object)
        .map(|o| {
            o.live_fields()
                .filter(|f| !f.system)
                .map(|f| FieldRow {
                    name: f.name().to_owned(),
                    label: tr.field_label(o, f),
                    access: match set
                        .grants
                        .fields
                        .get(o.name())
                        .and_then(|m| m.get(f.name()))
                    {
                        Some(FieldAccess::Hidden) => "hidden",
                        Some(FieldAccess::Read) => "read",
                        Some(FieldAccess::Edit) | None => "edit",
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let failed = !errors.is_empty();
    let page = SetPage {
        chrome,
        tabs,
        ops: OPS
            .iter()
            .map(|n| ((*n).to_owned(), tr.t(&format!("perm.{n}")).to_owned()))
            .collect(),
        grid,
        capabilities: CAPABILITIES
            .iter()
            .map(|c| {
                (
                    c.as_str().to_owned(),
                    tr.t(&format!("capability.{}", c.as_str())).to_owned(),
                    set.grants.capabilities.contains(c),
                )
            })
            .collect(),
        field_objects: objects
            .iter()
            .map(|o| (o.name().to_owned(), tr.object_plural(o)))
            .collect(),
        field_object,
        fields,
        set,
        errors,
    };
    Ok(html_unless(page.render(), failed))
}

/// The grants a posted grid stands for: every object's ticks, the capabilities, and the
/// field access of the one object shown (other objects' field rules are kept).
fn grants_of(form: &FormData, before: &Grants, objects: &[String]) -> Grants {
    let mut grants = Grants {
        // the grant for objects not in the grid (created later) is kept
        default_objects: before.default_objects,
        objects: BTreeMap::new(),
        fields: before.fields.clone(),
        capabilities: Default::default(),
    };
    for o in objects {
        let mut perm = ObjectPerm::default();
        for n in OPS {
            set_op(
                &mut perm,
                n,
                form.all("perm").contains(&format!("{o}.{n}").as_str()),
            );
        }
        grants.objects.insert(o.clone(), perm);
    }
    for c in CAPABILITIES {
        if form.all("capability").contains(&c.as_str()) {
            grants.capabilities.insert(c);
        }
    }
    if let Some(object) = form.text("field_object") {
        let mut rules = BTreeMap::new();
        for (key, value) in form_pairs_with_prefix(form, "field.") {
            let access = match value.as_str() {
                "hidden" => FieldAccess::Hidden,
                "read" => FieldAccess::Read,
                _ => continue, // edit is the default: no rule
            };
            rules.insert(key, access);
        }
        if rules.is_empty() {
            grants.fields.remove(&object);
        } else {
            grants.fields.insert(object, rules);
        }
    }
    grants
}

fn form_pairs_with_prefix(form: &FormData, prefix: &str) -> Vec<(String, String)> {
    form.pairs()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_owned(), v.clone())))
        .collect()
}

pub async fn update(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    let set = find_set(&state, &viewer, &id).await?;
    let objects: Vec<String> = state
        .core
        .schema()
        .objects()
        .map(|o| o.name().to_owned())
        .collect();
    let input = SetInput {
        name: form.text("name").unwrap_or_else(|| set.name.clone()),
        is_profile: set.is_profile,
        grants: grants_of(&form, &set.grants, &objects),
    };
    let uid = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(viewer.tr()))?;
    let object = form.text("field_object");
    match state
        .core
        .update_permission_set(&viewer.actor, uid, input)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/settings/permissions/{id}?object={}",
            object.unwrap_or_default()
        ))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            render_set(&state, &viewer, set, object, errors)
        }
    }
}

pub async fn delete(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageUsers)?;
    let uid = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(viewer.tr()))?;
    match state.core.delete_permission_set(&viewer.actor, uid).await {
        Ok(()) => Ok(see_other("/settings/permissions")),
        Err(e) => {
            let errors = form_errors(&viewer, e)?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            render_list(&state, &viewer, errors).await
        }
    }
}
