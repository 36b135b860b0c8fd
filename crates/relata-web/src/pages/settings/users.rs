//! Users: the list, a new user, and one user's settings — name, email, language, time zone,
//! role, profile, extra permission sets, department, administrator, active, a new password,
//! and unlocking after too many failed sign-ins.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_core::access::users::UserView;
use relata_domain::access::Capability;

use super::{Tab, chrome, error_for, form_errors, general_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    users: Vec<UserView>,
    roles: Vec<(String, String)>,
    profiles: Vec<(String, String)>,
    form: FormData,
    errors: Vec<(String, String)>,
    general: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings/user.html")]
struct UserPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    user: UserView,
    roles: Vec<(String, String)>,
    profiles: Vec<(String, String)>,
    sets: Vec<(String, String, bool)>,
    errors: Vec<(String, String)>,
    general: Vec<String>,
}

impl UsersPage {
    fn value(&self, name: &str) -> &str {
        self.form.first(name).unwrap_or("")
    }
    fn error(&self, name: &str) -> &str {
        error_for(&self.errors, name)
    }
    fn role_name(&self, id: &Option<String>) -> String {
        name_of(&self.roles, id)
    }
    fn profile_name(&self, id: &Option<String>) -> String {
        name_of(&self.profiles, id)
    }
}

impl UserPage {
    fn error(&self, name: &str) -> &str {
        error_for(&self.errors, name)
    }
    fn is(&self, a: &Option<String>, b: &str) -> bool {
        a.as_deref() == Some(b)
    }
}

fn name_of(list: &[(String, String)], id: &Option<String>) -> String {
    id.as_ref()
        .and_then(|id| list.iter().find(|(i, _)| i == id))
        .map(|(_, n)| n.clone())
        .unwrap_or_default()
}

const FIELDS: &[&str] = &[
    "name",
    "email",
    "locale",
    "time_zone",
    "role_id",
    "profile_id",
    "department",
    "password",
];

/// Roles, profiles and other permission sets, as (id, name).
async fn choices(
    state: &WebState,
    viewer: &Viewer,
) -> Result<
    (
        Vec<(String, String)>,
        Vec<(String, String)>,
        Vec<(String, String)>,
    ),
    WebError,
> {
    let tr = viewer.tr();
    let roles = state
        .core
        .list_roles(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let sets = state
        .core
        .list_permission_sets(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let profiles = sets
        .iter()
        .filter(|s| s.is_profile)
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let extra = sets
        .iter()
        .filter(|s| !s.is_profile)
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    Ok((roles, profiles, extra))
}

/// The user fields of a form as the user service's JSON (empty choices clear them).
fn user_json(form: &FormData, creating: bool) -> Json {
    let mut map = Map::new();
    for key in ["name", "email", "locale", "time_zone"] {
        if let Some(v) = form.first(key) {
            map.insert(key.into(), json!(v.trim()));
        }
    }
    for key in ["role_id", "profile_id", "department"] {
        if let Some(v) = form.first(key) {
            let v = v.trim();
            if !(creating && v.is_empty()) {
                map.insert(key.into(), if v.is_empty() { Json::Null } else { json!(v) });
            }
        }
    }
    for key in ["is_admin", "active"] {
        if let Some(v) = form.last(key) {
            map.insert(key.into(), json!(v == "true"));
        }
    }
    if let Some(p) = form.first("password").filter(|p| !p.is_empty()) {
        map.insert("password".into(), json!(p));
    }
    Json::Object(map)
}

pub async fn list(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    render_list(&state, &viewer, FormData::default(), Vec::new()).await
}

async fn render_list(
    state: &WebState,
    viewer: &Viewer,
    form: FormData,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.users").to_owned(),
        "/settings/users",
        Capability::ManageUsers,
    )?;
    let users = state
        .core
        .list_users(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let (roles, profiles, _) = choices(state, viewer).await?;
    let failed = !errors.is_empty();
    let general = general_errors(&errors, FIELDS);
    let page = UsersPage {
        chrome,
        tabs,
        users,
        roles,
        profiles,
        form,
        errors,
        general,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    match state
        .core
        .create_user(&viewer.actor, user_json(&form, true))
        .await
    {
        Ok(user) => Ok(see_other(&format!("/settings/users/{}", user.id))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            render_list(&state, &viewer, form, errors).await
        }
    }
}

pub async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    render_user(&state, &viewer, &id, Vec::new()).await
}

async fn render_user(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    super::require(viewer, Capability::ManageUsers)?;
    let id = Uuid::parse_str(id).map_err(|_| WebError::NotFound(tr))?;
    let user = state
        .core
        .get_user(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let (chrome, tabs) = chrome(
        state,
        viewer,
        user.name.clone(),
        "/settings/users",
        Capability::ManageUsers,
    )?;
    let (roles, profiles, extra) = choices(state, viewer).await?;
    let sets = extra
        .into_iter()
        .map(|(id, name)| {
            let on = user.permission_sets.contains(&id);
            (id, name, on)
        })
        .collect();
    let failed = !errors.is_empty();
    let general = general_errors(&errors, FIELDS);
    let page = UserPage {
        chrome,
        tabs,
        user,
        roles,
        profiles,
        sets,
        errors,
        general,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn update(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    super::require(&viewer, Capability::ManageUsers)?;
    let uid = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    if let Err(e) = state
        .core
        .update_user(&viewer.actor, uid, user_json(&form, false))
        .await
    {
        let errors = form_errors(&viewer, e)?;
        return render_user(&state, &viewer, &id, errors).await;
    }
    // the extra permission sets: assign the ticked, remove the others
    if form.has("sets:present") {
        let current = state
            .core
            .get_user(&viewer.actor, uid)
            .await
            .map_err(|e| WebError::core(e, tr))?
            .permission_sets;
        let (_, _, extra) = choices(&state, &viewer).await?;
        let ticked = form.all("sets");
        for (set, _) in extra {
            let want = ticked.contains(&set.as_str());
            let has = current.contains(&set);
            if want != has {
                let set_id = Uuid::parse_str(&set).map_err(|_| WebError::NotFound(tr))?;
                state
                    .core
                    .assign_permission_set(&viewer.actor, uid, set_id, want)
                    .await
                    .map_err(|e| WebError::core(e, tr))?;
            }
        }
    }
    Ok(see_other(&format!("/settings/users/{id}?saved=1")))
}

pub async fn unlock(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    super::require(&viewer, Capability::ManageUsers)?;
    let uid = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .unlock_user(&viewer.actor, uid)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!("/settings/users/{id}")))
}
