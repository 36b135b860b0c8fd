//! Workflow rules for administrators who manage automation: the list with each rule's state
//! and failures, a form to define one (its definition as JSON, the API's form, with a
//! working example to start from), and each rule's page with its settings and latest runs.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::workflow::{Rule, RuleInput, RunQuery};
use relata_domain::access::Capability;

use super::{Tab, chrome, error_for, form_errors, general_errors, told};
use crate::error::WebError;
use crate::pages::{Chrome, html};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// What a new rule's definition starts as: one that works on any installation.
const EXAMPLE: &str = r#"{
  "trigger": {"type": "field_changed", "fields": ["stage"]},
  "condition": "amount gte 1000000",
  "steps": [
    {"type": "notify", "to": ["owner_manager", "owner"], "message": "{{ name }} moved to {{ stage }}"}
  ]
}"#;

pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub trigger: String,
    pub state: String,
    pub version: i64,
    pub failures: i64,
    pub last_error: String,
}

pub struct RunRow {
    pub started_at: String,
    pub record: String,
    pub trigger: String,
    pub status: String,
    pub step: i64,
    pub error: String,
}

/// The rule form: what was typed and what was wrong with it.
#[derive(Default)]
pub struct RuleForm {
    pub name: String,
    pub object: String,
    pub definition: String,
    pub enabled: bool,
    pub errors: Vec<(String, String)>,
}

impl RuleForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// Problems inside the definition (`steps[1].set.amount: …`) and any other.
    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, &["name", "object"])
    }

    fn of(rule: &Rule) -> RuleForm {
        RuleForm {
            name: rule.name.clone(),
            object: rule.object.clone(),
            definition: serde_json::to_string_pretty(&rule.definition).unwrap_or_default(),
            enabled: rule.enabled,
            errors: Vec::new(),
        }
    }

    fn from_post(form: &crate::form::FormData) -> RuleForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        RuleForm {
            name: field("name"),
            object: field("object"),
            definition: field("definition"),
            enabled: form.first("enabled").is_some(),
            errors: Vec::new(),
        }
    }

    /// The input, or the form with the reason its definition is not JSON.
    fn input(&self, viewer: &Viewer) -> Result<RuleInput, Vec<(String, String)>> {
        match serde_json::from_str(&self.definition) {
            Ok(definition) => Ok(RuleInput {
                name: self.name.clone(),
                object: self.object.clone(),
                enabled: self.enabled,
                definition,
            }),
            Err(e) => Err(vec![(
                "definition".into(),
                format!("{} {e}", viewer.tr().t("workflows.not_json")),
            )]),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    rules: Vec<RuleRow>,
    objects: Vec<(String, String)>,
    form: RuleForm,
}

#[derive(Template)]
#[template(path = "settings/workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    version: i64,
    last_error: String,
    objects: Vec<(String, String)>,
    form: RuleForm,
    runs: Vec<RunRow>,
}

fn objects(state: &WebState, viewer: &Viewer) -> Vec<(String, String)> {
    let tr = viewer.tr();
    state
        .core
        .schema()
        .objects()
        .map(|o| (o.name().to_owned(), tr.object_label(o)))
        .collect()
}

fn trigger_of(rule: &Rule) -> String {
    rule.definition["trigger"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `GET /settings/workflows`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let form = RuleForm {
        object: "opportunity".into(),
        definition: EXAMPLE.into(),
        enabled: true,
        ..Default::default()
    };
    list(&state, &viewer, form).await
}

async fn list(state: &WebState, viewer: &Viewer, form: RuleForm) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("workflows.title").to_owned(),
        "/settings/workflows",
        Capability::ManageAutomation,
    )?;
    let rules = state
        .core
        .workflow_rules(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let page = WorkflowsPage {
        chrome,
        tabs,
        rules: rules
            .iter()
            .map(|r| RuleRow {
                id: r.id.to_string(),
                name: r.name.clone(),
                object: r.object.clone(),
                trigger: trigger_of(r),
                state: tr
                    .t(if r.enabled {
                        "workflows.on"
                    } else {
                        "workflows.off"
                    })
                    .to_owned(),
                version: r.version,
                failures: r.failures,
                last_error: r.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        objects: objects(state, viewer),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/workflows`: defines a rule.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let typed = RuleForm::from_post(&form);
    let input = match typed.input(&viewer) {
        Ok(i) => i,
        Err(errors) => return list(&state, &viewer, RuleForm { errors, ..typed }).await,
    };
    match state.core.create_workflow_rule(&viewer.actor, input).await {
        Ok(rule) => Ok(told(
            &viewer,
            &format!("/settings/workflows/{}", rule.id),
            "workflows.saved",
        )),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            list(&state, &viewer, RuleForm { errors, ..typed }).await
        }
    }
}

/// `GET /settings/workflows/{id}`: settings and latest runs.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let rule = state
        .core
        .workflow_rule(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    show(&state, &viewer, &rule, RuleForm::of(&rule)).await
}

async fn show(
    state: &WebState,
    viewer: &Viewer,
    rule: &Rule,
    form: RuleForm,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        rule.name.clone(),
        "/settings/workflows",
        Capability::ManageAutomation,
    )?;
    let runs = state
        .core
        .workflow_runs(
            &viewer.actor,
            RunQuery {
                rule_id: Some(rule.id),
                limit: 100,
                ..RunQuery::default()
            },
        )
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let page = WorkflowPage {
        chrome,
        tabs,
        id: rule.id.to_string(),
        version: rule.version,
        last_error: rule.last_error.clone().unwrap_or_default(),
        objects: objects(state, viewer),
        form,
        runs: runs
            .iter()
            .map(|r| RunRow {
                started_at: viewer.fmt.datetime(&r.started_at),
                record: r
                    .record_id
                    .map(|id| format!("/o/{}/{id}", r.object))
                    .unwrap_or_default(),
                trigger: r.trigger.clone(),
                status: tr.t(&format!("workflows.status_{}", r.status)).to_owned(),
                step: r.step.max(0),
                error: r.error.clone().unwrap_or_default(),
            })
            .collect(),
    };
    Ok(html(page.render()))
}

/// `POST /settings/workflows/{id}`: saves the rule (`action=save`, a new version when the
/// definition changed) or deletes it (`action=delete`).
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
            .delete_workflow_rule(&viewer.actor, id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        return Ok(told(&viewer, "/settings/workflows", "workflows.deleted"));
    }
    let typed = RuleForm::from_post(&form);
    let rule = state
        .core
        .workflow_rule(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let result = match typed.input(&viewer) {
        Ok(input) => state
            .core
            .update_workflow_rule(&viewer.actor, id, input)
            .await
            .map_err(|e| form_errors(&viewer, e)),
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(_) => Ok(told(
            &viewer,
            &format!("/settings/workflows/{id}"),
            "workflows.saved",
        )),
        Err(errors) => {
            let errors = errors?;
            show(&state, &viewer, &rule, RuleForm { errors, ..typed }).await
        }
    }
}
