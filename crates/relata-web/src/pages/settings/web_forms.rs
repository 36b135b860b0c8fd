//! Web-to-lead forms for administrators who manage automation (issue 9): the list with each
//! form's public link and counts, a short form to start one (a name and an object; the form
//! then asks the object's name field), and each form's page, where every field a visitor can
//! answer is a row — asked or not, its label, required, its place — beside the redirect or
//! thank-you, the source, the assignment rule, the auto-response, the spam settings, and the
//! snippet to embed the form in a website. Everything is saved through the same service as
//! `PUT /api/v1/web_forms/{id}`, which checks it again.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_core::web_forms::{WebForm, WebFormInput};
use relata_domain::ObjectDef;
use relata_domain::access::Capability;
use relata_domain::web_form::{FormDef, answerable};

use super::{Tab, chrome, error_for, form_errors, general_errors, told};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct FormRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub link: String,
    pub created: i64,
    pub spam: i64,
    pub failed: i64,
    pub state: String,
}

/// One answerable field of the form's object, as a row of the form's page.
pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub asked: bool,
    pub custom_label: String,
    pub required: bool,
    /// Required by the object itself: always asked and required.
    pub must: bool,
    pub position: usize,
}

/// What the form's page shows and what was typed into it.
#[derive(Default)]
pub struct SettingsForm {
    pub name: String,
    pub enabled: bool,
    pub title: String,
    pub redirect_url: String,
    pub thank_you: String,
    pub source: String,
    pub assignment_rule_id: String,
    pub auto_response_template_id: String,
    pub min_fill_seconds: String,
    pub max_per_address_per_hour: String,
    pub errors: Vec<(String, String)>,
}

impl SettingsForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(
            &self.errors,
            &[
                "name",
                "definition.fields",
                "definition.title",
                "definition.redirect_url",
                "definition.thank_you",
                "definition.source",
                "definition.assignment_rule_id",
                "definition.auto_response_template_id",
                "definition.min_fill_seconds",
                "definition.max_per_address_per_hour",
            ],
        )
    }
}

#[derive(Template)]
#[template(path = "settings/web_forms.html")]
struct ListPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    forms: Vec<FormRow>,
    objects: Vec<(String, String)>,
    name: String,
    object: String,
    errors: Vec<(String, String)>,
}

impl ListPage {
    fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "settings/web_form.html")]
struct FormPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    object_label: String,
    link: String,
    snippet: String,
    fields: Vec<FieldRow>,
    sources: Vec<(String, String)>,
    rules: Vec<(String, String)>,
    templates: Vec<(String, String)>,
    form: SettingsForm,
}

fn public_link(state: &WebState, key: &str) -> String {
    format!(
        "{}/f/{key}",
        state.core.settings.public_url.trim_end_matches('/')
    )
}

/// `GET /settings/forms`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    list(&state, &viewer, String::new(), "lead".into(), Vec::new()).await
}

async fn list(
    state: &WebState,
    viewer: &Viewer,
    name: String,
    object: String,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("web_forms.title").to_owned(),
        "/settings/forms",
        Capability::ManageAutomation,
    )?;
    let forms = state
        .core
        .web_forms(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let objects = state
        .core
        .schema()
        .objects()
        .filter(|o| {
            viewer
                .actor
                .may(o.name(), relata_domain::access::Operation::Create)
        })
        .map(|o| (o.name().to_owned(), tr.object_label(o)))
        .collect();
    let page = ListPage {
        chrome,
        tabs,
        forms: forms
            .iter()
            .map(|f| FormRow {
                id: f.id.to_string(),
                name: f.name.clone(),
                object: f.object.clone(),
                link: public_link(state, &f.public_key),
                created: f.created,
                spam: f.spam,
                failed: f.failed,
                state: tr
                    .t(if f.enabled {
                        "webhooks.on"
                    } else {
                        "webhooks.off"
                    })
                    .to_owned(),
            })
            .collect(),
        objects,
        name,
        object,
        errors,
    };
    Ok(html(page.render()))
}

/// `POST /settings/forms`: a new form asking the object's name field, opened for editing.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let name = form.first("name").unwrap_or_default().trim().to_owned();
    let object = form.first("object").unwrap_or_default().to_owned();
    let first_fields = state.core.object(&object).ok().map(|o| starting_fields(&o));
    let input = WebFormInput {
        name: name.clone(),
        object: object.clone(),
        enabled: false,
        definition: json!({"fields": first_fields.unwrap_or_default()}),
    };
    match state.core.save_web_form(&viewer.actor, None, input).await {
        Ok(made) => Ok(told(
            &viewer,
            &format!("/settings/forms/{}", made.id),
            "web_forms.created",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            list(&state, &viewer, name, object, errors).await
        }
    }
}

/// What a new form asks: the fields the object requires, its name field, and an email and a
/// phone field when it has them.
fn starting_fields(object: &ObjectDef) -> Vec<Json> {
    let mut names: Vec<String> = object
        .live_fields()
        .filter(|f| !f.system && f.required && f.default.is_none())
        .map(|f| f.name().to_owned())
        .collect();
    for wanted in [object.name_field.as_str(), "company", "email", "phone"] {
        if object
            .field(wanted)
            .is_some_and(|f| !f.system && answerable(f.field_type))
            && !names.iter().any(|n| n == wanted)
        {
            names.push(wanted.to_owned());
        }
    }
    names
        .into_iter()
        .map(|n| json!({"field": n, "required": n == object.name_field.as_str()}))
        .collect()
}

/// `GET /settings/forms/{id}`.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let form = state
        .core
        .web_form(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let def = FormDef::parse(&form.definition)
        .map_err(|e| WebError::core(relata_core::CoreError::field(e), viewer.tr()))?;
    let typed = SettingsForm {
        name: form.name.clone(),
        enabled: form.enabled,
        title: def.title.clone().unwrap_or_default(),
        redirect_url: def.redirect_url.clone().unwrap_or_default(),
        thank_you: def.thank_you.clone().unwrap_or_default(),
        source: def.source.clone().unwrap_or_default(),
        assignment_rule_id: def
            .assignment_rule_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        auto_response_template_id: def
            .auto_response_template_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        min_fill_seconds: def.min_fill_seconds.to_string(),
        max_per_address_per_hour: def.max_per_address_per_hour.to_string(),
        errors: Vec::new(),
    };
    let asked: Vec<(String, Option<String>, bool)> = def
        .fields
        .iter()
        .map(|f| (f.field.clone(), f.label.clone(), f.required))
        .collect();
    show(&state, &viewer, &form, typed, &asked).await
}

async fn show(
    state: &WebState,
    viewer: &Viewer,
    form: &WebForm,
    typed: SettingsForm,
    asked: &[(String, Option<String>, bool)],
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        form.name.clone(),
        "/settings/forms",
        Capability::ManageAutomation,
    )?;
    let object = state
        .core
        .object(&form.object)
        .map_err(|e| WebError::core(e, tr))?;
    // the asked fields first, in their order, then the others
    let mut fields: Vec<FieldRow> = object
        .live_fields()
        .filter(|f| !f.system && answerable(f.field_type))
        .map(|f| {
            let at = asked.iter().position(|(n, _, _)| n == f.name());
            let must = f.required && f.default.is_none();
            FieldRow {
                name: f.name().to_owned(),
                label: tr.field_label(&object, f),
                asked: at.is_some() || must,
                custom_label: at.and_then(|i| asked[i].1.clone()).unwrap_or_default(),
                required: must || at.is_some_and(|i| asked[i].2),
                must,
                position: at.map_or(usize::MAX, |i| i + 1),
            }
        })
        .collect();
    fields.sort_by_key(|f| (!f.asked, f.position));
    for (i, f) in fields.iter_mut().enumerate() {
        f.position = i + 1;
    }
    let sources = object
        .field("source")
        .map(|def| {
            def.values
                .iter()
                .filter(|v| v.active)
                .map(|v| (v.value.clone(), tr.pick_label(&object, def, &v.value)))
                .collect()
        })
        .unwrap_or_default();
    let rules = state
        .core
        .assignment_rules(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?
        .into_iter()
        .filter(|r| r.object == form.object)
        .map(|r| (r.id.to_string(), r.name))
        .collect();
    let templates = state
        .core
        .email_templates(&viewer.actor, Some(form.object.clone()))
        .await
        .map_err(|e| WebError::core(e, tr))?
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    let link = public_link(state, &form.public_key);
    let page = FormPage {
        chrome,
        tabs,
        id: form.id.to_string(),
        object_label: tr.object_label(&object),
        snippet: format!(
            "<iframe src=\"{link}\" title=\"{}\" style=\"width:100%;max-width:40rem;height:40rem;border:0\"></iframe>",
            form.name.replace('"', "&quot;")
        ),
        link,
        fields,
        sources,
        rules,
        templates,
        form: typed,
    };
    Ok(html(page.render()))
}

/// The form's rows as posted: `ask.<field>`, `label.<field>`, `required.<field>`,
/// `position.<field>`; asked fields in the order of their positions.
fn posted_fields(form: &FormData) -> Vec<(String, Option<String>, bool)> {
    let mut rows: Vec<(usize, String, Option<String>, bool)> = form
        .all("ask")
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let label = form
                .first(&format!("label.{name}"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned);
            let required = form.first(&format!("required.{name}")).is_some();
            let position = form
                .first(&format!("position.{name}"))
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(1_000 + i);
            (position, name.to_owned(), label, required)
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|(_, n, l, r)| (n, l, r)).collect()
}

/// `POST /settings/forms/{id}`: saves (`action=save`) or deletes (`action=delete`).
pub async fn save(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let stored = state
        .core
        .web_form(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    if form.first("action") == Some("delete") {
        state
            .core
            .delete_web_form(&viewer.actor, id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        return Ok(told(&viewer, "/settings/forms", "web_forms.deleted"));
    }
    let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
    let typed = SettingsForm {
        name: field("name"),
        enabled: form.first("enabled").is_some(),
        title: field("title"),
        redirect_url: field("redirect_url"),
        thank_you: field("thank_you"),
        source: field("source"),
        assignment_rule_id: field("assignment_rule_id"),
        auto_response_template_id: field("auto_response_template_id"),
        min_fill_seconds: field("min_fill_seconds"),
        max_per_address_per_hour: field("max_per_address_per_hour"),
        errors: Vec::new(),
    };
    let asked = posted_fields(&form);
    let mut definition = json!({
        "fields": asked.iter().map(|(n, l, r)| {
            let mut f = json!({"field": n, "required": r});
            if let Some(l) = l {
                f["label"] = json!(l);
            }
            f
        }).collect::<Vec<_>>(),
    });
    for (key, value) in [
        ("title", &typed.title),
        ("redirect_url", &typed.redirect_url),
        ("thank_you", &typed.thank_you),
        ("source", &typed.source),
        ("assignment_rule_id", &typed.assignment_rule_id),
        (
            "auto_response_template_id",
            &typed.auto_response_template_id,
        ),
    ] {
        if !value.is_empty() {
            definition[key] = json!(value);
        }
    }
    // numbers typed wrong are the definition's problem to name, on their own input
    for (key, value) in [
        ("min_fill_seconds", &typed.min_fill_seconds),
        ("max_per_address_per_hour", &typed.max_per_address_per_hour),
    ] {
        if !value.is_empty() {
            definition[key] = value
                .parse::<u64>()
                .map_or_else(|_| json!(value), |n| json!(n));
        }
    }
    let input = WebFormInput {
        name: typed.name.clone(),
        object: stored.object.clone(),
        enabled: typed.enabled,
        definition,
    };
    match state
        .core
        .save_web_form(&viewer.actor, Some(id), input)
        .await
    {
        Ok(_) => Ok(told(
            &viewer,
            &format!("/settings/forms/{id}"),
            "web_forms.saved",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            show(
                &state,
                &viewer,
                &stored,
                SettingsForm { errors, ..typed },
                &asked,
            )
            .await
        }
    }
}
