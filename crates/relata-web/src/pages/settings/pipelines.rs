//! Pipelines (销售流程) for administrators of metadata: the list, each with its stages in
//! order and what each asks for, a form to start a new one from the standard stages, and a
//! page per pipeline to set its label, whether it takes new deals, and its stages (order,
//! probability, forecast category, required fields; new stages on blank rows). Every
//! problem shows on the row it belongs to; the pipeline is saved through the same core
//! service as the API, which checks it again.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use relata_domain::access::Capability;
use relata_domain::meta::ObjectDef;
use relata_domain::opportunity::pipeline::{self, Pipeline};
use relata_domain::opportunity::{FORECAST_CATEGORIES, FORECAST_CATEGORY, OBJECT, STAGE};

use super::pipeline_form::{PipelineForm, StageRow, field_choices, refusal, save_form};
use super::{Tab, chrome, error_for, told};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::{Chrome, html_unless};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// One stage of a pipeline in the list.
pub struct StageLine {
    pub label: String,
    pub probability: u32,
    pub category: String,
    /// The labels of the fields it asks for, joined.
    pub required: String,
}

/// A pipeline in the list.
pub struct PipelineCard {
    pub name: String,
    pub label: String,
    pub active: bool,
    pub stages: Vec<StageLine>,
}

/// The new-pipeline form.
#[derive(Default)]
pub struct NewPipeline {
    pub name: String,
    pub label: String,
    pub errors: Vec<(String, String)>,
}

impl NewPipeline {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        super::general_errors(&self.errors, &["name", "label"])
    }
}

#[derive(Template)]
#[template(path = "settings/pipelines.html")]
struct PipelinesPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    pipelines: Vec<PipelineCard>,
    /// Still the standard pipelines, never saved.
    standard: bool,
    /// Why a delete was refused.
    refused: Vec<String>,
    form: NewPipeline,
}

#[derive(Template)]
#[template(path = "settings/pipeline.html")]
struct PipelinePage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    title: String,
    form: PipelineForm,
    /// Open forecast categories: (value, label).
    categories: Vec<(String, String)>,
    /// Fields a stage may ask for: (name, label).
    fields: Vec<(String, String)>,
    /// Every value of the stage picklist: (value, label).
    stage_values: Vec<(String, String)>,
    labels: Labels,
}

impl PipelinePage {
    /// The labels of the fields a row asks for, joined (or a dash).
    fn summary(&self, row: &StageRow) -> String {
        let labels: Vec<&str> = self
            .fields
            .iter()
            .filter(|(name, _)| row.requires(name))
            .map(|(_, label)| label.as_str())
            .collect();
        if labels.is_empty() {
            "—".to_owned()
        } else {
            labels.join(", ")
        }
    }
}

/// Stage and forecast category labels in the viewer's language.
struct Labels {
    stages: HashMap<String, String>,
    categories: HashMap<String, String>,
}

impl Labels {
    fn of(tr: Tr, object: &ObjectDef) -> Labels {
        let values = |field: &str| -> HashMap<String, String> {
            object
                .field(field)
                .map(|f| {
                    f.values
                        .iter()
                        .map(|v| (v.value.clone(), tr.pick_label(object, f, &v.value)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Labels {
            stages: values(STAGE),
            categories: values(FORECAST_CATEGORY),
        }
    }

    fn stage(&self, value: &str) -> String {
        self.stages
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_owned())
    }

    fn category(&self, value: &str) -> String {
        self.categories
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_owned())
    }
}

fn opportunity(state: &WebState, tr: Tr) -> Result<std::sync::Arc<ObjectDef>, WebError> {
    state.core.object(OBJECT).map_err(|e| WebError::core(e, tr))
}

fn card(tr: Tr, object: &ObjectDef, labels: &Labels, p: &Pipeline) -> PipelineCard {
    let field_label = |name: &str| {
        object
            .field(name)
            .map_or_else(|| name.to_owned(), |f| tr.field_label(object, f))
    };
    PipelineCard {
        name: p.name.clone(),
        label: p.label.clone(),
        active: p.active,
        stages: p
            .stages
            .iter()
            .map(|s| StageLine {
                label: labels.stage(&s.value),
                probability: s.probability,
                category: labels.category(&s.forecast_category),
                required: s
                    .required_fields
                    .iter()
                    .map(|f| field_label(f))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
    }
}

/// `GET /settings/pipelines`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    list(&state, &viewer, NewPipeline::default(), Vec::new(), notice)
}

fn list(
    state: &WebState,
    viewer: &Viewer,
    form: NewPipeline,
    refused: Vec<String>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("pipelines.title").to_owned(),
        "/settings/pipelines",
        Capability::ManageMetadata,
    )?;
    let object = opportunity(state, tr)?;
    let labels = Labels::of(tr, &object);
    let all = state.core.pipelines().map_err(|e| WebError::core(e, tr))?;
    let failed = !form.errors.is_empty() || !refused.is_empty();
    let page = PipelinesPage {
        chrome: chrome.with_notice(notice),
        tabs,
        pipelines: all
            .pipelines
            .iter()
            .map(|p| card(tr, &object, &labels, p))
            .collect(),
        standard: all.standard,
        refused,
        form,
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/pipelines`: starts a pipeline with the standard stages and opens it.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let tr = viewer.tr();
    let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
    let (name, label) = (field("name"), field("label"));
    // saving replaces a pipeline of the same name: a new one must not
    let errors = if state.core.pipeline(&name).is_ok() {
        vec![(
            "name".to_owned(),
            tr.tf("pipelines.name_taken", &[("name", &name)]),
        )]
    } else {
        let stages = pipeline::standard_pipelines()
            .into_iter()
            .next()
            .map(|p| p.stages)
            .unwrap_or_default();
        let new = Pipeline {
            name: name.clone(),
            label: label.clone(),
            active: true,
            stages,
        };
        match state.core.save_pipeline(&viewer.actor, new).await {
            Ok(saved) => {
                return Ok(told(
                    &viewer,
                    &format!("/settings/pipelines/{}", saved.name),
                    "pipelines.created",
                ));
            }
            Err(e) => refusal(&viewer, e)?,
        }
    };
    let form = NewPipeline {
        name,
        label,
        errors,
    };
    list(&state, &viewer, form, Vec::new(), None)
}

/// `GET /settings/pipelines/{name}`.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    super::require(&viewer, Capability::ManageMetadata)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    let stored = state
        .core
        .pipeline(&name)
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    show(
        &state,
        &viewer,
        &stored.label,
        PipelineForm::of(&stored),
        notice,
    )
}

fn show(
    state: &WebState,
    viewer: &Viewer,
    title: &str,
    form: PipelineForm,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        title.to_owned(),
        "/settings/pipelines",
        Capability::ManageMetadata,
    )?;
    let object = opportunity(state, tr)?;
    let labels = Labels::of(tr, &object);
    let categories = FORECAST_CATEGORIES
        .iter()
        .filter(|(c, _)| *c != "closed")
        .map(|(c, _)| ((*c).to_owned(), labels.category(c)))
        .collect();
    let mut stage_values: Vec<(String, String)> = labels
        .stages
        .iter()
        .filter(|(v, _)| !pipeline::is_closed(v))
        .map(|(v, l)| (v.clone(), l.clone()))
        .collect();
    stage_values.sort();
    let failed = !form.errors.is_empty();
    let page = PipelinePage {
        chrome: chrome.with_notice(notice),
        tabs,
        title: title.to_owned(),
        fields: field_choices(tr, &object, &form),
        form,
        categories,
        stage_values,
        labels,
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/pipelines/{name}`: saves the pipeline's label, state and stages.
pub async fn save(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let tr = viewer.tr();
    // this page changes a pipeline; it does not make one
    let stored = state
        .core
        .pipeline(&name)
        .map_err(|e| WebError::core(e, tr))?;
    let object = opportunity(&state, tr)?;
    let typed = PipelineForm::from_post(&form, &stored.name);
    match save_form(&state, &viewer, &object, &typed).await? {
        Ok(saved) => Ok(told(
            &viewer,
            &format!("/settings/pipelines/{}", saved.name),
            "pipelines.saved",
        )),
        Err(errors) => show(
            &state,
            &viewer,
            &stored.label,
            PipelineForm { errors, ..typed },
            None,
        ),
    }
}

/// `POST /settings/pipelines/{name}/delete`: deletes a pipeline no deal is in; the list
/// says why when it is refused.
pub async fn delete(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageMetadata)?;
    let tr = viewer.tr();
    let stored = state
        .core
        .pipeline(&name)
        .map_err(|e| WebError::core(e, tr))?;
    match state.core.delete_pipeline(&viewer.actor, &name).await {
        Ok(()) => Ok(told(&viewer, "/settings/pipelines", "pipelines.deleted")),
        Err(e) => {
            let refused = refusal(&viewer, e)?
                .into_iter()
                .map(|(_, reason)| {
                    tr.tf(
                        "pipelines.delete_refused",
                        &[("name", &stored.label), ("reason", &reason)],
                    )
                })
                .collect();
            list(&state, &viewer, NewPipeline::default(), refused, None)
        }
    }
}
