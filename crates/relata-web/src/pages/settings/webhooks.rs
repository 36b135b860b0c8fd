//! Outbound webhooks for administrators who manage automation: the list, a form to subscribe
//! a URL to an object's events (the signing secret shown once, on the page that answers the
//! form, never in a link), and each webhook's page with its settings and delivery log, where
//! a delivery can be sent again.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::webhooks::{Delivery, EVENTS, Webhook, WebhookInput};
use relata_domain::access::Capability;

use super::{Tab, chrome, error_for, form_errors, general_errors, told};
use crate::error::WebError;
use crate::pages::{Chrome, html};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct HookRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub object: String,
    pub events: String,
    pub state: String,
}

pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub answer: String,
    pub error: String,
    pub created_at: String,
}

/// The webhook form: what was typed and what was wrong with it.
#[derive(Default)]
pub struct HookForm {
    pub name: String,
    pub url: String,
    pub object: String,
    pub events: Vec<String>,
    pub filter: String,
    pub enabled: bool,
    pub errors: Vec<(String, String)>,
}

impl HookForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, &["name", "url", "object", "events", "filter"])
    }

    pub fn has(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    fn of(hook: &Webhook) -> HookForm {
        HookForm {
            name: hook.name.clone(),
            url: hook.url.clone(),
            object: hook.object.clone(),
            events: hook.events.clone(),
            filter: match &hook.filter {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
            enabled: hook.enabled,
            errors: Vec::new(),
        }
    }

    fn from_post(form: &crate::form::FormData) -> HookForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        HookForm {
            name: field("name"),
            url: field("url"),
            object: field("object"),
            events: form.all("events").into_iter().map(str::to_owned).collect(),
            filter: field("filter"),
            enabled: form.first("enabled").is_some(),
            errors: Vec::new(),
        }
    }

    fn input(&self) -> WebhookInput {
        WebhookInput {
            name: self.name.clone(),
            url: self.url.clone(),
            object: self.object.clone(),
            events: self.events.clone(),
            filter: Some(self.filter.clone())
                .filter(|f| !f.is_empty())
                .map(serde_json::Value::String),
            enabled: self.enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "settings/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    hooks: Vec<HookRow>,
    objects: Vec<(String, String)>,
    events: Vec<&'static str>,
    form: HookForm,
    /// Just created: its secret, shown this once.
    secret: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    disabled_reason: String,
    objects: Vec<(String, String)>,
    events: Vec<&'static str>,
    form: HookForm,
    deliveries: Vec<DeliveryRow>,
}

fn objects(state: &WebState, viewer: &Viewer) -> Vec<(String, String)> {
    let tr = viewer.tr();
    state
        .core
        .schema()
        .objects()
        .filter(|o| {
            viewer
                .actor
                .may(o.name(), relata_domain::access::Operation::Read)
        })
        .map(|o| (o.name().to_owned(), tr.object_label(o)))
        .collect()
}

/// `GET /settings/webhooks`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let form = HookForm {
        events: vec!["created".into(), "updated".into()],
        enabled: true,
        ..Default::default()
    };
    list(&state, &viewer, form, None).await
}

async fn list(
    state: &WebState,
    viewer: &Viewer,
    form: HookForm,
    secret: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("webhooks.title").to_owned(),
        "/settings/webhooks",
        Capability::ManageAutomation,
    )?;
    let hooks = state
        .core
        .webhooks(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let page = WebhooksPage {
        chrome,
        tabs,
        hooks: hooks
            .iter()
            .map(|h| HookRow {
                id: h.id.to_string(),
                name: h.name.clone(),
                url: h.url.clone(),
                object: h.object.clone(),
                events: h.events.join(", "),
                state: if h.enabled {
                    tr.t("webhooks.on").to_owned()
                } else {
                    tr.t("webhooks.off").to_owned()
                },
            })
            .collect(),
        objects: objects(state, viewer),
        events: EVENTS.to_vec(),
        form,
        secret,
    };
    Ok(html(page.render()))
}

/// `POST /settings/webhooks`: subscribes; the answer shows the secret once.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let typed = HookForm::from_post(&form);
    match state
        .core
        .create_webhook(&viewer.actor, typed.input())
        .await
    {
        Ok((_, secret)) => {
            let fresh = HookForm {
                events: vec!["created".into(), "updated".into()],
                enabled: true,
                ..Default::default()
            };
            list(&state, &viewer, fresh, Some(secret)).await
        }
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            list(&state, &viewer, HookForm { errors, ..typed }, None).await
        }
    }
}

/// `GET /settings/webhooks/{id}`: settings and delivery log.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let hook = state
        .core
        .webhook(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    show(&state, &viewer, &hook, HookForm::of(&hook)).await
}

async fn show(
    state: &WebState,
    viewer: &Viewer,
    hook: &Webhook,
    form: HookForm,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        hook.name.clone(),
        "/settings/webhooks",
        Capability::ManageAutomation,
    )?;
    let deliveries = state
        .core
        .webhook_deliveries(&viewer.actor, hook.id, 100)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let page = WebhookPage {
        chrome,
        tabs,
        id: hook.id.to_string(),
        disabled_reason: hook.disabled_reason.clone().unwrap_or_default(),
        objects: objects(state, viewer),
        events: EVENTS.to_vec(),
        form,
        deliveries: deliveries
            .iter()
            .map(|d: &Delivery| DeliveryRow {
                id: d.id.to_string(),
                event: d.event.clone(),
                status: tr.t(&format!("webhooks.status_{}", d.status)).to_owned(),
                attempts: d.attempts,
                answer: d.response_status.map(|s| s.to_string()).unwrap_or_default(),
                error: d.last_error.clone().unwrap_or_default(),
                created_at: viewer.fmt.datetime(&d.created_at),
            })
            .collect(),
    };
    Ok(html(page.render()))
}

/// `POST /settings/webhooks/{id}`: saves the settings (`action=save`) or deletes the webhook
/// (`action=delete`).
pub async fn save(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    if form.first("action") == Some("delete") {
        state
            .core
            .delete_webhook(&viewer.actor, id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        return Ok(told(&viewer, "/settings/webhooks", "webhooks.deleted"));
    }
    let typed = HookForm::from_post(&form);
    match state
        .core
        .update_webhook(&viewer.actor, id, typed.input())
        .await
    {
        Ok(_) => Ok(told(
            &viewer,
            &format!("/settings/webhooks/{id}"),
            "webhooks.saved",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            let hook = state
                .core
                .webhook(&viewer.actor, id)
                .await
                .map_err(|e| WebError::core(e, tr))?;
            show(&state, &viewer, &hook, HookForm { errors, ..typed }).await
        }
    }
}

/// `POST /settings/webhook-deliveries/{id}/replay`: sends a delivery again.
pub async fn replay(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let d = state
        .core
        .replay_delivery(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(told(
        &viewer,
        &format!("/settings/webhooks/{}", d.webhook_id),
        "webhooks.replayed",
    ))
}
