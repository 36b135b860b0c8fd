//! Email templates for administrators who manage automation: the list, a form to write one
//! (subject, HTML and text parts with `{{ record.field }}` merge fields, checked when saved),
//! and each template's page to change or delete it.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::email::{EmailTemplate, TemplateInput};
use relata_domain::access::Capability;

use super::{Tab, chrome, error_for, form_errors, general_errors, told};
use crate::error::WebError;
use crate::pages::{Chrome, html};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

const LIST: &str = "/settings/email_templates";

pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub subject: String,
    pub active: bool,
}

/// The template form: what was typed and what was wrong with it.
#[derive(Default)]
pub struct TemplateForm {
    pub name: String,
    pub object: String,
    pub subject: String,
    pub body_html: String,
    pub body_text: String,
    pub active: bool,
    pub errors: Vec<(String, String)>,
}

impl TemplateForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(
            &self.errors,
            &["name", "object", "subject", "body_html", "body_text"],
        )
    }

    fn of(t: &EmailTemplate) -> TemplateForm {
        TemplateForm {
            name: t.name.clone(),
            object: t.object.clone().unwrap_or_default(),
            subject: t.subject.clone(),
            body_html: t.body_html.clone().unwrap_or_default(),
            body_text: t.body_text.clone(),
            active: t.active,
            errors: Vec::new(),
        }
    }

    fn from_post(form: &crate::form::FormData) -> TemplateForm {
        let field = |n: &str| form.first(n).unwrap_or_default().to_owned();
        TemplateForm {
            name: field("name").trim().to_owned(),
            object: field("object").trim().to_owned(),
            subject: field("subject"),
            body_html: field("body_html"),
            body_text: field("body_text"),
            active: form.first("active").is_some(),
            errors: Vec::new(),
        }
    }

    fn input(&self, attachment_ids: Vec<Uuid>) -> TemplateInput {
        TemplateInput {
            name: self.name.clone(),
            object: Some(self.object.clone()).filter(|o| !o.is_empty()),
            subject: self.subject.clone(),
            body_text: self.body_text.clone(),
            body_html: Some(self.body_html.clone()).filter(|h| !h.trim().is_empty()),
            attachment_ids,
            active: self.active,
        }
    }
}

#[derive(Template)]
#[template(path = "settings/email_templates.html")]
struct ListPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    templates: Vec<TemplateRow>,
    objects: Vec<(String, String)>,
    form: TemplateForm,
}

#[derive(Template)]
#[template(path = "settings/email_template.html")]
struct DetailPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    objects: Vec<(String, String)>,
    form: TemplateForm,
}

fn objects(state: &WebState, viewer: &Viewer) -> Vec<(String, String)> {
    let tr = viewer.tr();
    let mut out = vec![(String::new(), tr.t("email_templates.no_object").to_owned())];
    out.extend(
        state
            .core
            .schema()
            .objects()
            .map(|o| (o.name().to_owned(), tr.object_label(o))),
    );
    out
}

/// `GET /settings/email_templates`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let form = TemplateForm {
        object: "contact".into(),
        subject: "{{ record.name }}, …".into(),
        body_html: "<p>{{ record.name }}，您好 / Dear {{ record.name }},</p>\n<p>…</p>\n<p>{{ sender.name }}<br>{{ sender.signature }}</p>".into(),
        active: true,
        ..Default::default()
    };
    list(&state, &viewer, form).await
}

async fn list(state: &WebState, viewer: &Viewer, form: TemplateForm) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("email_templates.title").to_owned(),
        LIST,
        Capability::ManageAutomation,
    )?;
    let templates = state
        .core
        .email_templates(&viewer.actor, None)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let schema = state.core.schema();
    let page = ListPage {
        chrome,
        tabs,
        templates: templates
            .iter()
            .map(|t| TemplateRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                object: t
                    .object
                    .as_deref()
                    .and_then(|o| schema.object(o))
                    .map(|o| tr.object_label(o))
                    .unwrap_or_default(),
                subject: t.subject.clone(),
                active: t.active,
            })
            .collect(),
        objects: objects(state, viewer),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/email_templates`: writes a template.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let typed = TemplateForm::from_post(&form);
    match state
        .core
        .create_email_template(&viewer.actor, typed.input(Vec::new()))
        .await
    {
        Ok(t) => Ok(told(
            &viewer,
            &format!("{LIST}/{}", t.id),
            "email_templates.saved",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            list(&state, &viewer, TemplateForm { errors, ..typed }).await
        }
    }
}

/// `GET /settings/email_templates/{id}`.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let t = state
        .core
        .email_template(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    show(&state, &viewer, id, TemplateForm::of(&t)).await
}

async fn show(
    state: &WebState,
    viewer: &Viewer,
    id: Uuid,
    form: TemplateForm,
) -> Result<Response, WebError> {
    let (chrome, tabs) = chrome(
        state,
        viewer,
        form.name.clone(),
        LIST,
        Capability::ManageAutomation,
    )?;
    let page = DetailPage {
        chrome,
        tabs,
        id: id.to_string(),
        objects: objects(state, viewer),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/email_templates/{id}`: saves (`action=save`) or deletes the template.
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
            .delete_email_template(&viewer.actor, id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        return Ok(told(&viewer, LIST, "email_templates.deleted"));
    }
    let current = state
        .core
        .email_template(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let typed = TemplateForm::from_post(&form);
    match state
        .core
        .update_email_template(&viewer.actor, id, typed.input(current.attachment_ids))
        .await
    {
        Ok(_) => Ok(told(
            &viewer,
            &format!("{LIST}/{id}"),
            "email_templates.saved",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            show(&state, &viewer, id, TemplateForm { errors, ..typed }).await
        }
    }
}
