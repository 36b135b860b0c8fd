//! The organisation: the role hierarchy (销售总监 → 区域经理 → 销售代表) and teams with their
//! members.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::access::org::RoleInput;
use relata_domain::access::Capability;

use super::{Tab, chrome, form_errors};
use crate::error::WebError;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct RoleRow {
    pub id: String,
    pub name: String,
    /// Depth in the hierarchy, for indentation.
    pub depth: usize,
    pub parent: String,
}

pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub members: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings/org.html")]
struct OrgPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    roles: Vec<RoleRow>,
    teams: Vec<TeamRow>,
    users: Vec<(String, String)>,
    errors: Vec<String>,
}

impl RoleRow {
    pub fn indent(&self) -> String {
        "— ".repeat(self.depth)
    }
}

pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    render(&state, &viewer, Vec::new()).await
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.org").to_owned(),
        "/settings/org",
        Capability::ManageUsers,
    )?;
    let core_err = |e| WebError::core(e, tr);
    let roles = state
        .core
        .list_roles(&viewer.actor)
        .await
        .map_err(core_err)?;
    let teams = state
        .core
        .list_teams(&viewer.actor)
        .await
        .map_err(core_err)?;
    let users = state
        .core
        .list_users(&viewer.actor)
        .await
        .map_err(core_err)?;
    // the hierarchy depth-first, each role under its parent
    let mut ordered = Vec::new();
    fn walk(
        parent: Option<&str>,
        depth: usize,
        all: &[relata_core::access::org::RoleView],
        out: &mut Vec<RoleRow>,
    ) {
        let mut children: Vec<_> = all
            .iter()
            .filter(|r| r.parent_id.as_deref() == parent)
            .collect();
        children.sort_by(|a, b| a.name.cmp(&b.name));
        for r in children {
            out.push(RoleRow {
                id: r.id.clone(),
                name: r.name.clone(),
                depth,
                parent: parent
                    .and_then(|p| all.iter().find(|x| x.id == p))
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
            });
            if depth < 32 {
                walk(Some(&r.id), depth + 1, all, out);
            }
        }
    }
    walk(None, 0, &roles, &mut ordered);
    let name_of = |id: &str| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let page = OrgPage {
        chrome,
        tabs,
        roles: ordered,
        teams: teams
            .iter()
            .map(|t| TeamRow {
                id: t.id.clone(),
                name: t.name.clone(),
                members: t.members.iter().map(|m| (m.clone(), name_of(m))).collect(),
            })
            .collect(),
        users: users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect(),
        errors: errors.clone(),
    };
    Ok(html_unless(page.render(), !errors.is_empty()))
}

/// Runs an organisation change; its errors are shown on the page.
async fn outcome(
    state: &WebState,
    viewer: &Viewer,
    result: Result<(), relata_core::CoreError>,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(see_other("/settings/org")),
        Err(e) => {
            let errors = form_errors(viewer, e)?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            render(state, viewer, errors).await
        }
    }
}

fn uuid(viewer: &Viewer, s: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(s).map_err(|_| WebError::NotFound(viewer.tr()))
}

pub async fn create_role(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    let input = RoleInput {
        name: form.first("name").unwrap_or_default().to_owned(),
        parent_id: form
            .text("parent_id")
            .and_then(|p| Uuid::parse_str(&p).ok()),
    };
    let result = state
        .core
        .create_role(&viewer.actor, input)
        .await
        .map(|_| ());
    outcome(&state, &viewer, result).await
}

pub async fn delete_role(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageUsers)?;
    let id = uuid(&viewer, &id)?;
    let result = state.core.delete_role(&viewer.actor, id).await;
    outcome(&state, &viewer, result).await
}

pub async fn create_team(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    let result = state
        .core
        .create_team(&viewer.actor, form.first("name").unwrap_or_default())
        .await
        .map(|_| ());
    outcome(&state, &viewer, result).await
}

pub async fn delete_team(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageUsers)?;
    let id = uuid(&viewer, &id)?;
    let result = state.core.delete_team(&viewer.actor, id).await;
    outcome(&state, &viewer, result).await
}

pub async fn team_member(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageUsers)?;
    let team = uuid(&viewer, &id)?;
    let user = uuid(&viewer, form.first("user_id").unwrap_or_default())?;
    let member = form.first("member") != Some("false");
    let result = state
        .core
        .set_team_member(&viewer.actor, team, user, member)
        .await;
    outcome(&state, &viewer, result).await
}
