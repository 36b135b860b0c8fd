//! Settings for administrators: objects and fields (with page layouts and org-wide
//! defaults), users, roles and teams, permission sets, sharing rules, the audit log,
//! background jobs with their schedules, and payment collection with document numbering.
//! Every page checks the capability it needs here, and every change goes through the same
//! relata-core service as the admin API, which checks it again.

pub mod assignment;
pub mod audit;
pub mod collection;
pub mod duplicate_review;
pub mod email_templates;
pub mod jobs;
pub mod matching;
pub mod objects;
pub mod org;
pub mod permissions;
mod pipeline_form;
pub mod pipelines;
mod pool_form;
pub mod pools;
pub mod sharing;
pub mod users;
pub mod web_forms;
pub mod webhooks;
pub mod workflows;

use axum::response::Response;

use relata_core::CoreError;
use relata_domain::FieldError;
use relata_domain::access::Capability;

use super::inputs::field_error_text;
use super::{Chrome, see_other};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// One tab of the settings navigation.
pub struct Tab {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

const TABS: &[(&str, &str, Capability)] = &[
    (
        "/settings/objects",
        "settings.objects",
        Capability::ManageMetadata,
    ),
    ("/settings/users", "settings.users", Capability::ManageUsers),
    ("/settings/org", "settings.org", Capability::ManageUsers),
    (
        "/settings/permissions",
        "settings.permissions",
        Capability::ManageUsers,
    ),
    (
        "/settings/sharing",
        "settings.sharing",
        Capability::ManageMetadata,
    ),
    ("/settings/audit", "settings.audit", Capability::ViewAudit),
    ("/settings/jobs", "jobs.title", Capability::ManageAutomation),
    (
        "/settings/webhooks",
        "webhooks.title",
        Capability::ManageAutomation,
    ),
    (
        "/settings/workflows",
        "workflows.title",
        Capability::ManageAutomation,
    ),
    (
        "/settings/pools",
        "pools.settings_title",
        Capability::ManageMetadata,
    ),
    (
        "/settings/pipelines",
        "pipelines.title",
        Capability::ManageMetadata,
    ),
    (
        "/settings/collection",
        "collection_settings.title",
        Capability::ManageMetadata,
    ),
    (
        "/settings/assignment",
        "assignment.title",
        Capability::ManageAutomation,
    ),
    (
        "/settings/email_templates",
        "email_templates.title",
        Capability::ManageAutomation,
    ),
    (
        "/settings/forms",
        "web_forms.title",
        Capability::ManageAutomation,
    ),
];

/// The chrome of a settings page under `tab` and the settings tabs this admin may use, if
/// the viewer holds `needs`.
pub fn chrome(
    state: &WebState,
    viewer: &Viewer,
    title: String,
    tab: &str,
    needs: Capability,
) -> Result<(Chrome, Vec<Tab>), WebError> {
    require(viewer, needs)?;
    let tr = viewer.tr();
    Ok((
        Chrome::new(state, viewer, title, "settings"),
        TABS.iter()
            .filter(|(_, _, cap)| viewer.actor.access.has(*cap))
            .map(|(href, key, _)| Tab {
                href,
                label: tr.t(key).to_owned(),
                current: *href == tab,
            })
            .collect(),
    ))
}

/// Back to `to` after a change, with the notice `key` (saved, deleted…) shown there.
pub fn told(viewer: &Viewer, to: &str, key: &str) -> Response {
    see_other(&crate::notice::redirect_with(
        &viewer.csrf,
        to,
        viewer.tr().t(key),
    ))
}

pub fn require(viewer: &Viewer, cap: Capability) -> Result<(), WebError> {
    if viewer.actor.access.has(cap) && viewer.actor.scopes.is_none() {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            viewer.tr(),
            viewer.tr().t("settings.not_admin").to_owned(),
        ))
    }
}

/// `/settings`: the first tab this admin may use.
pub async fn index(viewer: Viewer) -> Result<Response, WebError> {
    let first = TABS
        .iter()
        .find(|(_, _, cap)| viewer.actor.access.has(*cap))
        .map(|(href, _, _)| *href)
        .ok_or_else(|| {
            WebError::Forbidden(viewer.tr(), viewer.tr().t("settings.not_admin").to_owned())
        })?;
    Ok(see_other(first))
}

/// Errors of a settings form: by field for the form, or a page error for anything else.
pub fn form_errors(viewer: &Viewer, e: CoreError) -> Result<Vec<(String, String)>, WebError> {
    match e {
        CoreError::Validation(list) => Ok(list.iter().map(|e| pair(viewer, e)).collect()),
        CoreError::Conflict { message, .. } | CoreError::BadRequest { message, .. } => {
            Ok(vec![(String::new(), message)])
        }
        other => Err(WebError::core(other, viewer.tr())),
    }
}

fn pair(viewer: &Viewer, e: &FieldError) -> (String, String) {
    (e.field.clone(), field_error_text(viewer.tr(), e))
}

/// The message for `field` among `errors`, or "".
pub fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> &'a str {
    errors
        .iter()
        .find(|(f, _)| f == field || f.starts_with(&format!("{field}.")))
        .map(|(_, m)| m.as_str())
        .unwrap_or("")
}

/// Errors not tied to one of `fields` (shown at the top of the form).
pub fn general_errors(errors: &[(String, String)], fields: &[&str]) -> Vec<String> {
    errors
        .iter()
        .filter(|(f, _)| {
            !fields
                .iter()
                .any(|n| f == n || f.starts_with(&format!("{n}.")))
        })
        .map(|(f, m)| {
            if f.is_empty() {
                m.clone()
            } else {
                format!("{f}: {m}")
            }
        })
        .collect()
}
