//! The 360° timeline on the web: the record page's panel (its newest items) and the full
//! timeline page, filtered by kind and paged. Both show what `Core::timeline` returns, so
//! the page, the panel and the API cannot disagree about what a user may see.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_core::timeline::{CREATED, FIELD_CHANGE, TimelineItem, TimelinePage, TimelineRequest};
use relata_domain::Value;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::value::ParseContext;

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// Items on the record page's panel; the full page shows more.
pub const PANEL_ITEMS: usize = 20;
const PAGE_ITEMS: usize = 50;
/// Fields of a related record shown beside its name on its item.
const SUMMARY_FIELDS: usize = 2;

pub struct Event {
    pub when: String,
    pub who: String,
    pub text: String,
    /// A few key values of the related record ("Proposal · ¥120,000.00").
    pub summary: String,
    pub href: Option<String>,
    /// `change`, `created`, `task`, `note`…
    pub kind: String,
}

/// The newest items of a record's timeline, for the record page (empty, logged, when the
/// timeline cannot be read: the rest of the page still shows).
pub async fn panel(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    id: Uuid,
) -> (Vec<Event>, bool) {
    let req = TimelineRequest {
        limit: Some(PANEL_ITEMS),
        ..TimelineRequest::default()
    };
    match state
        .core
        .timeline(&viewer.actor, object.name(), id, req)
        .await
    {
        Ok(page) => {
            let more = page.next_cursor.is_some();
            (events(state, viewer, object, page.items).await, more)
        }
        Err(e) => {
            tracing::warn!(error = ?e, object = object.name(), "the timeline failed");
            (Vec::new(), false)
        }
    }
}

/// Items as the viewer reads them: in their language and time zone, users by name.
pub async fn events(
    state: &WebState,
    viewer: &Viewer,
    subject: &ObjectDef,
    items: Vec<TimelineItem>,
) -> Vec<Event> {
    let tr = viewer.tr();
    let mut users: Vec<Uuid> = items.iter().filter_map(|i| i.actor).collect();
    for item in items.iter().filter(|i| i.kind == FIELD_CHANGE) {
        for key in ["old_value", "new_value"] {
            if let Some(u) = item.detail[key]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
            {
                users.push(u);
            }
        }
    }
    users.sort_unstable();
    users.dedup();
    let user_names = state.core.user_names(users).await.unwrap_or_default();
    let user = |u: &Uuid| user_names.get(u).map(|b| b.name.clone());
    let schema = state.core.schema();
    let ctx = ParseContext::default();
    let shown = |object: &ObjectDef, f: &FieldDef, v: &Json| -> String {
        if v.is_null() {
            return tr.t("value.empty").to_owned();
        }
        match Value::parse(f, v, &ctx) {
            Ok(Value::Ref(u)) if f.field_type == FieldType::UserLookup => {
                user(&u).unwrap_or_else(|| u.to_string())
            }
            Ok(value) => viewer.fmt.value(object, f, &value),
            Err(_) => v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string()),
        }
    };
    items
        .into_iter()
        .filter_map(|item| {
            let who = item.actor.as_ref().and_then(user).unwrap_or_default();
            let when = viewer.fmt.datetime(&item.at);
            let event = match item.kind.as_str() {
                FIELD_CHANGE => {
                    let field = subject.field(item.detail["field"].as_str()?)?;
                    Event {
                        when,
                        who,
                        text: tr.tf(
                            "timeline.changed",
                            &[
                                ("field", &tr.field_label(subject, field)),
                                ("old", &shown(subject, field, &item.detail["old_value"])),
                                ("new", &shown(subject, field, &item.detail["new_value"])),
                            ],
                        ),
                        summary: String::new(),
                        href: None,
                        kind: "change".into(),
                    }
                }
                relata_core::email::TIMELINE_KIND => email_event(&tr, &item, when, who),
                CREATED => Event {
                    when,
                    who,
                    text: tr.tf("timeline.created", &[("object", &tr.object_label(subject))]),
                    summary: String::new(),
                    href: None,
                    kind: "created".into(),
                },
                _ => {
                    let child = schema.object(&item.object)?;
                    let title = if item.title.is_empty() {
                        tr.t("value.untitled").to_owned()
                    } else {
                        item.title.clone()
                    };
                    let summary: Vec<String> = child
                        .live_fields()
                        .filter(|f| !f.system)
                        .filter(|f| {
                            matches!(
                                f.field_type,
                                FieldType::Picklist | FieldType::Currency | FieldType::Date
                            )
                        })
                        .filter(|f| !item.detail[f.name()].is_null())
                        .take(SUMMARY_FIELDS)
                        .map(|f| shown(child, f, &item.detail[f.name()]))
                        .collect();
                    Event {
                        when,
                        who,
                        text: format!("{}: {title}", tr.object_label(child)),
                        summary: summary.join(" · "),
                        href: Some(format!("/o/{}/{}", child.name(), item.record_id)),
                        kind: child.name().to_owned(),
                    }
                }
            };
            Some(event)
        })
        .collect()
}

/// A mail on the timeline: who it went to or came from, and how it fared (sent, opened,
/// clicked, bounced), linking to the record it is about.
fn email_event(
    tr: &crate::i18n::Tr,
    item: &relata_core::timeline::TimelineItem,
    when: String,
    who: String,
) -> Event {
    let d = &item.detail;
    let text_of = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    let text = if d["direction"] == "in" {
        tr.tf(
            "timeline.email_in",
            &[("from", &text_of("from")), ("subject", &item.title)],
        )
    } else {
        tr.tf(
            "timeline.email_out",
            &[("to", &text_of("to")), ("subject", &item.title)],
        )
    };
    let mut summary = vec![match d["status"].as_str().unwrap_or_default() {
        "queued" => tr.t("timeline.email_queued").to_owned(),
        "failed" => tr.tf("timeline.email_failed", &[("error", &text_of("error"))]),
        "suppressed" => tr.t("timeline.email_suppressed").to_owned(),
        "bounced" => tr.tf(
            "timeline.email_bounced",
            &[("reason", &text_of("bounce_reason"))],
        ),
        "received" => tr.t("timeline.email_received").to_owned(),
        _ => tr.t("timeline.email_sent").to_owned(),
    }];
    for (key, label) in [
        ("open_count", "timeline.email_opens"),
        ("click_count", "timeline.email_clicks"),
    ] {
        let n = d[key].as_i64().unwrap_or(0);
        if n > 0 {
            summary.push(tr.tf(label, &[("n", &n.to_string())]));
        }
    }
    Event {
        when,
        who,
        text,
        summary: summary.join(" · "),
        href: Some(format!("/o/{}/{}", item.object, item.record_id)),
        kind: "email".into(),
    }
}

pub struct KindLink {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePageView {
    chrome: Chrome,
    object: String,
    id: String,
    title: String,
    kinds: Vec<KindLink>,
    events: Vec<Event>,
    older_href: Option<String>,
    newest_href: Option<String>,
}

#[derive(Deserialize)]
pub struct TimelineQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `/o/{object}/{id}/timeline`: the whole timeline, a kind at a time if asked.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let (record, _) = state
        .core
        .get_record_or_binned(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let kind = q.kind.filter(|k| !k.is_empty());
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let req = TimelineRequest {
        kinds: kind.iter().cloned().collect(),
        limit: Some(PAGE_ITEMS),
        cursor: cursor.clone(),
    };
    let TimelinePage {
        items,
        next_cursor,
        kinds,
    } = state
        .core
        .timeline(&viewer.actor, object.name(), id, req)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let base = format!("/o/{}/{id}/timeline", object.name());
    let with_kind = |k: Option<&str>, cursor: Option<&str>| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(k) = k {
            query.append_pair("kind", k);
        }
        if let Some(c) = cursor {
            query.append_pair("cursor", c);
        }
        let query = query.finish();
        if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{query}")
        }
    };
    let schema = state.core.schema();
    let mut links = vec![KindLink {
        label: tr.t("timeline.all").to_owned(),
        href: with_kind(None, None),
        current: kind.is_none(),
    }];
    links.extend(kinds.iter().map(|k| {
        KindLink {
            label: match k.as_str() {
                CREATED => tr.t("timeline.kind_created").to_owned(),
                FIELD_CHANGE => tr.t("timeline.kind_field_change").to_owned(),
                relata_core::email::TIMELINE_KIND => tr.t("timeline.kind_email").to_owned(),
                relata_core::attachments::KIND => tr.t("timeline.kind_attachment").to_owned(),
                other => schema
                    .object(other)
                    .map(|o| tr.object_plural(o))
                    .unwrap_or_else(|| other.to_owned()),
            },
            href: with_kind(Some(k), None),
            current: kind.as_deref() == Some(k.as_str()),
        }
    }));
    let title = match record.get(object.name_field.as_str()) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => tr.object_label(&object),
    };
    let view = TimelinePageView {
        chrome: Chrome::new(
            &state,
            &viewer,
            format!("{} · {title}", tr.t("record.timeline")),
            object.name(),
        ),
        object: object.name().to_owned(),
        id: id.to_string(),
        title,
        kinds: links,
        events: events(&state, &viewer, &object, items).await,
        older_href: next_cursor.map(|c| with_kind(kind.as_deref(), Some(c.as_str()))),
        newest_href: cursor.map(|_| with_kind(kind.as_deref(), None)),
    };
    Ok(html(view.render()))
}
