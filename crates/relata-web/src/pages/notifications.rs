//! The notifications page behind the bell: records assigned or transferred to me, reminders,
//! approvals asked of me and the outcome of those I asked for, newest first, each linking to
//! what it is about when I may still see it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use uuid::Uuid;

use relata_core::notifications::{ASSIGNED, TRANSFERRED};
use relata_core::reminders::NOTIFICATION as REMINDER;

use super::{Chrome, html, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// What the approval engine tells a submitter when their request is settled.
const APPROVED: &str = "approval_approved";
const REJECTED: &str = "approval_rejected";

pub struct Item {
    pub text: String,
    pub href: Option<String>,
    pub when: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    items: Vec<Item>,
    unread: i64,
}

pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (list, unread) = state
        .core
        .my_notifications(&viewer.actor, 100)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let actors = state
        .core
        .user_names(list.iter().filter_map(|n| n.actor_id).collect())
        .await
        .unwrap_or_default();
    // the records named, read with the viewer's visibility
    let mut by_object: HashMap<String, Vec<Uuid>> = HashMap::new();
    for n in &list {
        if let (Some(o), Some(r)) = (&n.object, n.record_id) {
            by_object.entry(o.clone()).or_default().push(r);
        }
    }
    let mut names = HashMap::new();
    for (object, ids) in by_object {
        if let Ok(labels) = state.core.record_labels(&viewer.actor, &object, ids).await {
            names.extend(labels);
        }
    }
    let schema = state.core.schema();
    let object_label = |o: &Option<String>| {
        o.as_deref()
            .and_then(|o| schema.object(o))
            .map(|o| tr.object_label(o))
            .unwrap_or_default()
    };
    let items = list
        .iter()
        .map(|n| {
            let who = n
                .actor_id
                .and_then(|a| actors.get(&a).map(|u| u.name.clone()))
                .unwrap_or_default();
            let (text, href) = match n.kind.as_str() {
                ASSIGNED => {
                    let visible = n
                        .record_id
                        .and_then(|r| names.get(&r).map(|name| (r, name)));
                    match visible {
                        Some((r, name)) => (
                            tr.tf(
                                "notifications.assigned",
                                &[
                                    ("who", &who),
                                    ("object", &object_label(&n.object)),
                                    ("name", name),
                                ],
                            ),
                            n.object.as_ref().map(|o| format!("/o/{o}/{r}")),
                        ),
                        None => (
                            tr.tf(
                                "notifications.assigned_hidden",
                                &[("who", &who), ("object", &object_label(&n.object))],
                            ),
                            None,
                        ),
                    }
                }
                TRANSFERRED => (
                    tr.tf(
                        "notifications.transferred",
                        &[
                            ("who", &who),
                            ("n", &n.detail["total"].as_i64().unwrap_or(0).to_string()),
                        ],
                    ),
                    None,
                ),
                REMINDER => {
                    let at = n.detail["at"]
                        .as_str()
                        .and_then(relata_domain::value::parse_datetime)
                        .map(|t| viewer.fmt.datetime(&t))
                        .unwrap_or_default();
                    // the name as the viewer may see it now, never as the job wrote it
                    match n
                        .record_id
                        .and_then(|r| names.get(&r).map(|name| (r, name)))
                    {
                        Some((r, name)) => (
                            tr.tf(
                                "notifications.reminder",
                                &[
                                    ("object", &object_label(&n.object)),
                                    ("name", name),
                                    ("at", &at),
                                ],
                            ),
                            n.object.as_ref().map(|o| format!("/o/{o}/{r}")),
                        ),
                        None => (
                            tr.tf(
                                "notifications.reminder_hidden",
                                &[("object", &object_label(&n.object)), ("at", &at)],
                            ),
                            None,
                        ),
                    }
                }
                super::approvals::REQUESTED => {
                    let object = object_label(&n.object);
                    match n
                        .record_id
                        .and_then(|r| names.get(&r).map(|name| (r, name)))
                    {
                        Some((_, name)) => (
                            tr.tf(
                                "notifications.approval_requested",
                                &[("who", &who), ("object", &object), ("name", name)],
                            ),
                            Some("/approvals".to_owned()),
                        ),
                        None => (
                            tr.tf(
                                "notifications.approval_requested_hidden",
                                &[("who", &who), ("object", &object)],
                            ),
                            Some("/approvals".to_owned()),
                        ),
                    }
                }
                kind @ (APPROVED | REJECTED) => {
                    let object = object_label(&n.object);
                    match n
                        .record_id
                        .and_then(|r| names.get(&r).map(|name| (r, name)))
                    {
                        Some((r, name)) => (
                            tr.tf(
                                if kind == APPROVED {
                                    "notifications.approval_approved"
                                } else {
                                    "notifications.approval_rejected"
                                },
                                &[("object", &object), ("name", name)],
                            ),
                            n.object.as_ref().map(|o| format!("/o/{o}/{r}")),
                        ),
                        None => (
                            tr.tf(
                                "notifications.approval_decided_hidden",
                                &[("object", &object)],
                            ),
                            None,
                        ),
                    }
                }
                relata_core::records::collection::OVERDUE_KIND => {
                    let d = &n.detail;
                    let outstanding = match (
                        d["outstanding"]["amount"]
                            .as_str()
                            .and_then(|a| a.parse::<rust_decimal::Decimal>().ok()),
                        d["outstanding"]["currency"].as_str(),
                    ) {
                        (Some(a), Some(c)) => viewer.fmt.money(&a, c),
                        _ => String::new(),
                    };
                    let due = d["due_date"]
                        .as_str()
                        .and_then(|s| s.parse::<chrono::NaiveDate>().ok())
                        .map(|day| viewer.fmt.date(&day))
                        .unwrap_or_default();
                    // only what the viewer may still see is named and linked
                    match n
                        .record_id
                        .and_then(|r| names.get(&r).map(|name| (r, name)))
                    {
                        Some((r, name)) => (
                            tr.tf(
                                "notifications.payment_overdue",
                                &[
                                    ("name", name),
                                    ("contract", d["contract"].as_str().unwrap_or("")),
                                    ("outstanding", &outstanding),
                                    ("due", &due),
                                ],
                            ),
                            Some(format!("/o/payment_plan/{r}")),
                        ),
                        None => (
                            tr.tf("notifications.payment_overdue_hidden", &[("due", &due)]),
                            None,
                        ),
                    }
                }
                other => (other.to_owned(), None),
            };
            Item {
                text,
                href,
                when: viewer.fmt.datetime(&n.created_at),
                unread: !n.read,
            }
        })
        .collect();
    let page = NotificationsPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("notifications.title").to_owned(),
            "notifications",
        ),
        items,
        unread,
    };
    Ok(html(page.render()))
}

pub async fn mark_read(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    state
        .core
        .mark_notifications_read(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    Ok(see_other("/notifications"))
}
