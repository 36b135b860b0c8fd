//! Criteria-based sharing rules: records of an object matching a filter (the one filter
//! language, written as in a list URL) are shared with a user, a role (with or without its
//! subordinates) or a team, for reading or for editing.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::access::sharing::{RuleInput, RuleView};
use relata_domain::access::{AccessLevel, Capability, Principal};
use relata_domain::filter::{compact, json as filter_json};

use super::{Tab, chrome, form_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub filter: String,
    pub principal: String,
    pub access: String,
}

#[derive(Template)]
#[template(path = "settings/sharing.html")]
struct SharingPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    rules: Vec<RuleRow>,
    objects: Vec<(String, String)>,
    principals: Vec<(String, String)>,
    form: FormData,
    errors: Vec<String>,
}

impl SharingPage {
    fn value(&self, name: &str) -> &str {
        self.form.first(name).unwrap_or("")
    }
}

pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    render(&state, &viewer, FormData::default(), Vec::new()).await
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    form: FormData,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.sharing").to_owned(),
        "/settings/sharing",
        Capability::ManageMetadata,
    )?;
    let core_err = |e| WebError::core(e, tr);
    let rules: Vec<RuleView> = state
        .core
        .list_sharing_rules(&viewer.actor, None)
        .await
        .map_err(core_err)?;
    // principals need the user directory, roles and teams (readable with manage-users; an
    // admin with metadata rights alone sees ids)
    let users = state
        .core
        .user_directory(&viewer.actor, "", 100)
        .await
        .unwrap_or_default();
    let roles = state
        .core
        .list_roles(&viewer.actor)
        .await
        .unwrap_or_default();
    let teams = state
        .core
        .list_teams(&viewer.actor)
        .await
        .unwrap_or_default();
    let mut principals: Vec<(String, String)> = Vec::new();
    for r in &roles {
        principals.push((
            format!("role:{}", r.id),
            tr.tf("settings.principal_role", &[("name", &r.name)]),
        ));
        principals.push((
            format!("role_and_subordinates:{}", r.id),
            tr.tf("settings.principal_role_down", &[("name", &r.name)]),
        ));
    }
    for t in &teams {
        principals.push((
            format!("team:{}", t.id),
            tr.tf("settings.principal_team", &[("name", &t.name)]),
        ));
    }
    for u in &users {
        principals.push((
            format!("user:{}", u.id),
            tr.tf("settings.principal_user", &[("name", &u.name)]),
        ));
    }
    let describe = |p: &Principal| -> String {
        let key = match p {
            Principal::User(id) => format!("user:{id}"),
            Principal::Role(id) => format!("role:{id}"),
            Principal::RoleAndSubordinates(id) => format!("role_and_subordinates:{id}"),
            Principal::Team(id) => format!("team:{id}"),
        };
        principals
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| l.clone())
            .unwrap_or(key)
    };
    let schema = state.core.schema();
    let object_label = |name: &str| {
        schema
            .object(name)
            .map(|o| tr.object_plural(o))
            .unwrap_or_else(|| name.to_owned())
    };
    let page = SharingPage {
        chrome,
        tabs,
        rules: rules
            .iter()
            .map(|r| RuleRow {
                id: r.id.clone(),
                name: r.name.clone(),
                object: object_label(&r.object),
                filter: r.filter.to_string(),
                principal: describe(&r.principal),
                access: tr
                    .t(&format!("settings.share_{}", r.access.as_str()))
                    .to_owned(),
            })
            .collect(),
        objects: schema
            .objects()
            .map(|o| (o.name().to_owned(), tr.object_plural(o)))
            .collect(),
        principals,
        form,
        errors: errors.clone(),
    };
    Ok(html_unless(page.render(), !errors.is_empty()))
}

fn principal(s: &str) -> Option<Principal> {
    let (kind, id) = s.split_once(':')?;
    let id = Uuid::parse_str(id).ok()?;
    Some(match kind {
        "user" => Principal::User(id),
        "role" => Principal::Role(id),
        "role_and_subordinates" => Principal::RoleAndSubordinates(id),
        "team" => Principal::Team(id),
        _ => return None,
    })
}

pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    super::require(&viewer, Capability::ManageMetadata)?;
    let filter = match compact::parse(form.first("filter").unwrap_or_default()) {
        Ok(f) => filter_json::to_json(&f),
        Err(e) => {
            let message = format!("{}: {}", tr.t("settings.rule_filter"), e.message);
            return render(&state, &viewer, form, vec![message]).await;
        }
    };
    let Some(who) = form.first("principal").and_then(principal) else {
        let message = tr.t("settings.choose_principal").to_owned();
        return render(&state, &viewer, form, vec![message]).await;
    };
    let input = RuleInput {
        object: form.first("object").unwrap_or_default().to_owned(),
        name: form.first("name").unwrap_or_default().to_owned(),
        filter,
        principal: who,
        access: if form.first("access") == Some("edit") {
            AccessLevel::Edit
        } else {
            AccessLevel::Read
        },
    };
    match state.core.create_sharing_rule(&viewer.actor, input).await {
        Ok(_) => Ok(see_other("/settings/sharing")),
        Err(e) => {
            let errors = form_errors(&viewer, e)?
                .into_iter()
                .map(|(f, m)| if f.is_empty() { m } else { format!("{f}: {m}") })
                .collect();
            render(&state, &viewer, form, errors).await
        }
    }
}

pub async fn delete(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageMetadata)?;
    let uid = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(viewer.tr()))?;
    state
        .core
        .delete_sharing_rule(&viewer.actor, uid)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    Ok(see_other("/settings/sharing"))
}
