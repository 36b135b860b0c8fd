//! The audit log viewer: sign-ins, failed sign-ins, lockouts, changes to users, roles,
//! teams, permissions, sharing and metadata — newest first, filtered by action or user, and
//! paged back through time.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::audit::AuditQuery;
use relata_domain::access::Capability;

use super::{Tab, chrome};
use crate::error::WebError;
use crate::pages::{Chrome, html};
use crate::session::Viewer;
use crate::state::WebState;

const PAGE: usize = 50;

pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    pub who: String,
    pub action: String,
    pub source: String,
    pub client: String,
    pub target: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "settings/audit.html")]
struct AuditPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    entries: Vec<EntryRow>,
    action: String,
    older_href: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(p): Query<AuditParams>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        &state,
        &viewer,
        tr.t("settings.audit").to_owned(),
        "/settings/audit",
        Capability::ViewAudit,
    )?;
    let action = p.action.clone().unwrap_or_default().trim().to_owned();
    let entries = state
        .core
        .audit_entries(
            &viewer.actor,
            AuditQuery {
                action: Some(action.clone()).filter(|a| !a.is_empty()),
                actor: p.actor.as_deref().and_then(|a| Uuid::parse_str(a).ok()),
                before: p.before,
                newest_first: true,
                limit: PAGE,
                ..AuditQuery::default()
            },
        )
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let ids: Vec<Uuid> = entries
        .iter()
        .filter_map(|e| e.actor.as_deref().and_then(|a| Uuid::parse_str(a).ok()))
        .collect();
    let names: HashMap<Uuid, String> = state
        .core
        .user_names(ids)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(id, u)| (id, u.name))
        .collect();
    let older_href = (entries.len() == PAGE)
        .then(|| entries.last().map(|e| e.seq))
        .flatten()
        .map(|seq| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if !action.is_empty() {
                q.append_pair("action", &action);
            }
            if let Some(a) = &p.actor {
                q.append_pair("actor", a);
            }
            q.append_pair("before", &seq.to_string());
            format!("/settings/audit?{}", q.finish())
        });
    let page = AuditPage {
        chrome,
        tabs,
        entries: entries
            .into_iter()
            .map(|e| EntryRow {
                seq: e.seq,
                at: relata_domain::value::parse_datetime(&e.at)
                    .map(|t| viewer.fmt.datetime(&t))
                    .unwrap_or(e.at),
                who: e
                    .actor
                    .as_deref()
                    .and_then(|a| Uuid::parse_str(a).ok())
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| e.actor.unwrap_or_default()),
                action: e.action,
                source: e.source,
                client: e.client_addr.unwrap_or_default(),
                target: match (e.object, e.record_id) {
                    (Some(o), Some(r)) => format!("{o} {r}"),
                    (Some(o), None) => o,
                    (None, Some(r)) => r,
                    (None, None) => String::new(),
                },
                detail: if e.detail.as_object().is_some_and(|m| m.is_empty()) {
                    String::new()
                } else {
                    e.detail.to_string()
                },
            })
            .collect(),
        action,
        older_href,
    };
    Ok(html(page.render()))
}
