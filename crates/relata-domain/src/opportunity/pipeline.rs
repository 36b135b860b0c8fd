//! Pipelines (销售流程): an opportunity follows one of several — new business, renewal, a
//! project sale — each with its own open stages in order, what each stage means for the
//! forecast, and the fields a deal must have before it may reach a stage.
//!
//! Every pipeline ends in the same two closed stages (`closed_won`, `closed_lost`), so
//! "won" means one thing in every report, forecast and pool rule, whatever road led there.
//! A stage is a value of the one `stage` picklist: pipelines share a stage when they list
//! the same value, and a filter on `stage` reads the same in all of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{FORECAST_CATEGORIES, LOST, STAGE, STAGES, WON};
use crate::error::{FieldError, FieldErrorCode as Code};
use crate::meta::ObjectDef;
use crate::{ApiName, Record, Value};

/// The opportunity field naming its pipeline.
pub const PIPELINE: &str = "pipeline";
/// The pipeline installed with Relata; it has the standard stages.
pub const STANDARD: &str = "new_business";
pub const MAX_PIPELINES: usize = 20;
pub const MAX_STAGES: usize = 30;
pub const MAX_REQUIRED_FIELDS: usize = 20;

/// One pipeline, as an administrator set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Its API name: the value of the opportunity's `pipeline` field.
    pub name: String,
    pub label: String,
    /// An inactive pipeline takes no new opportunities; those in it keep moving.
    #[serde(default = "yes")]
    pub active: bool,
    /// Open stages in order, then `closed_won` and `closed_lost`.
    pub stages: Vec<Stage>,
}

fn yes() -> bool {
    true
}

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// The `stage` picklist value.
    pub value: String,
    /// The label of a stage new to the `stage` picklist (ignored for one it has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The probability (%) a deal reaching this stage takes unless the write gives one.
    pub probability: u32,
    /// The forecast category a deal reaching this stage takes unless the write gives one.
    pub forecast_category: String,
    /// Fields a deal must have filled to reach this stage (and every later open stage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_fields: Vec<String>,
}

impl Pipeline {
    pub fn stage(&self, value: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.value == value)
    }

    /// The open stages, in order.
    pub fn open_stages(&self) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(|s| !is_closed(&s.value))
    }

    /// The fields a deal must have to reach `stage`: those of every stage up to it, since
    /// skipping a stage must not skip what it asks for. A lost deal is asked only what
    /// `closed_lost` itself asks: it need not have got far.
    pub fn required_for(&self, stage: &str) -> Vec<&str> {
        if stage == LOST {
            return self
                .stage(LOST)
                .map(|s| s.required_fields.iter().map(String::as_str).collect())
                .unwrap_or_default();
        }
        let mut out: Vec<&str> = Vec::new();
        for s in self.stages.iter().filter(|s| s.value != LOST) {
            for f in &s.required_fields {
                if !out.contains(&f.as_str()) {
                    out.push(f);
                }
            }
            if s.value == stage {
                return out;
            }
        }
        Vec::new()
    }

    /// The problems of this pipeline for `object` (the opportunity), each naming its part.
    pub fn problems(&self, object: &ObjectDef) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = ApiName::parse("name", &self.name) {
            errors.push(e);
        }
        if self.label.trim().is_empty() || self.label.chars().count() > 80 {
            errors.push(FieldError::new("label", Code::Required, "1-80 characters"));
        }
        let open = self.open_stages().count();
        if open == 0 || self.stages.len() > MAX_STAGES {
            errors.push(FieldError::new(
                "stages",
                Code::InvalidOption,
                format!("1-{} open stages, then {WON} and {LOST}", MAX_STAGES - 2),
            ));
        }
        let tail: Vec<&str> = self
            .stages
            .iter()
            .skip(open)
            .map(|s| s.value.as_str())
            .collect();
        if tail != [WON, LOST] {
            errors.push(FieldError::new(
                "stages",
                Code::InvalidOption,
                format!("must end with {WON} then {LOST}, after every open stage"),
            ));
        }
        let mut seen = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            let at = |part: &str| format!("stages.{i}.{part}");
            if let Err(mut e) = ApiName::parse("", &s.value) {
                e.field = at("value");
                errors.push(e);
            }
            if seen.contains(&s.value.as_str()) {
                errors.push(FieldError::new(
                    at("value"),
                    Code::Duplicate,
                    format!("'{}' is already a stage of this pipeline", s.value),
                ));
            }
            seen.push(&s.value);
            errors.extend(stage_meaning_problems(s, &at));
            if s.required_fields.len() > MAX_REQUIRED_FIELDS {
                errors.push(FieldError::new(
                    at("required_fields"),
                    Code::TooLarge,
                    format!("at most {MAX_REQUIRED_FIELDS} fields"),
                ));
            }
            for name in &s.required_fields {
                // (probability and forecast category are what the stage itself brings)
                let stamped = [
                    STAGE,
                    PIPELINE,
                    super::PROBABILITY,
                    super::FORECAST_CATEGORY,
                ];
                let usable = object
                    .field(name)
                    .is_some_and(|f| !f.archived && !f.system && !stamped.contains(&f.name()));
                if !usable {
                    errors.push(FieldError::new(
                        at("required_fields"),
                        Code::UnknownField,
                        format!(
                            "'{}' has no field '{name}' a stage can ask for",
                            object.name()
                        ),
                    ));
                }
            }
        }
        errors
    }
}

/// A closed stage means what it means everywhere; an open one may not claim to be closed.
fn stage_meaning_problems(s: &Stage, at: &dyn Fn(&str) -> String) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let fixed = match s.value.as_str() {
        WON => Some((100, "closed")),
        LOST => Some((0, "omitted")),
        _ => None,
    };
    if s.probability > 100 || fixed.is_some_and(|(p, _)| p != s.probability) {
        errors.push(FieldError::new(
            at("probability"),
            Code::InvalidOption,
            match fixed {
                Some((p, _)) => format!("is always {p} at {}", s.value),
                None => "must be 0-100".to_owned(),
            },
        ));
    }
    let known = FORECAST_CATEGORIES
        .iter()
        .any(|(c, _)| *c == s.forecast_category);
    let wrong = match fixed {
        Some((_, category)) => category != s.forecast_category,
        None => !known || s.forecast_category == "closed",
    };
    if wrong {
        errors.push(FieldError::new(
            at("forecast_category"),
            Code::InvalidOption,
            match fixed {
                Some((_, c)) => format!("is always {c} at {}", s.value),
                None => "must be pipeline, best_case, commit or omitted".to_owned(),
            },
        ));
    }
    errors
}

/// A stage's label as the `stage` picklist has it.
pub fn stage_label(object: &ObjectDef, stage: &str) -> String {
    object
        .field(STAGE)
        .and_then(|f| f.picklist_value(stage))
        .map_or_else(|| stage.to_owned(), |v| v.label.clone())
}

pub fn is_closed(stage: &str) -> bool {
    stage == WON || stage == LOST
}

/// The pipeline Relata installs: the standard stages, asking for no fields.
pub fn standard_pipelines() -> Vec<Pipeline> {
    vec![Pipeline {
        name: STANDARD.to_owned(),
        label: "New business".to_owned(),
        active: true,
        stages: STAGES
            .iter()
            .map(|(value, _, probability, category)| Stage {
                value: (*value).to_owned(),
                label: None,
                probability: *probability,
                forecast_category: (*category).to_owned(),
                required_fields: Vec::new(),
            })
            .collect(),
    }]
}

/// The pipelines of the opportunity object: as an administrator set them, else the standard.
pub fn pipelines(object: &ObjectDef) -> std::borrow::Cow<'_, [Pipeline]> {
    match &object.pipelines {
        Some(p) if !p.is_empty() => std::borrow::Cow::Borrowed(p),
        _ => std::borrow::Cow::Owned(standard_pipelines()),
    }
}

/// Where a new opportunity starts when the write does not say: the first active pipeline,
/// at its first stage.
pub fn fill_new(pipelines: &[Pipeline], values: &mut BTreeMap<String, Value>) {
    let given = match values.get(PIPELINE) {
        Some(Value::Text(name)) => pipelines.iter().find(|p| &p.name == name),
        _ => None,
    };
    let Some(pipeline) = given.or_else(|| pipelines.iter().find(|p| p.active)) else {
        return;
    };
    if given.is_none() {
        values.insert(PIPELINE.to_owned(), Value::Text(pipeline.name.clone()));
    }
    if values.get(STAGE).is_none_or(Value::is_null)
        && let Some(first) = pipeline.stages.first()
    {
        values.insert(STAGE.to_owned(), Value::Text(first.value.clone()));
    }
}

/// The problems of moving an opportunity (`before`; `None`: new) by `changes` within its
/// pipeline: the stage must be one of the pipeline's, a new pipeline must be active, and a
/// deal reaching a stage must have the fields that stage (or one before it) asks for.
/// Checked only when the stage or the pipeline changes: a deal already at a stage whose
/// requirements an admin has since widened can still be edited.
pub fn check_move(
    object: &ObjectDef,
    before: Option<&Record>,
    changes: &BTreeMap<String, Value>,
) -> Vec<FieldError> {
    let pipelines = pipelines(object);
    let changed = |f: &str| {
        changes
            .get(f)
            .is_some_and(|v| before.is_none_or(|b| b.get(f) != v))
    };
    if !changed(STAGE) && !changed(PIPELINE) {
        return Vec::new();
    }
    let Some(name) = Record::text_after(before, changes, PIPELINE) else {
        return vec![FieldError::new(
            PIPELINE,
            Code::Required,
            "an opportunity must be in a pipeline",
        )];
    };
    let Some(pipeline) = pipelines.iter().find(|p| p.name == name) else {
        return vec![FieldError::new(
            PIPELINE,
            Code::UnknownPicklistValue,
            format!("there is no pipeline '{name}'"),
        )];
    };
    if changed(PIPELINE) && !pipeline.active {
        return vec![FieldError::new(
            PIPELINE,
            Code::InactivePicklistValue,
            format!("the {} pipeline takes no new opportunities", pipeline.label),
        )];
    }
    let Some(stage) = Record::text_after(before, changes, STAGE) else {
        return vec![FieldError::new(
            STAGE,
            Code::Required,
            "an opportunity needs a stage",
        )];
    };
    if pipeline.stage(stage).is_none() {
        return vec![FieldError::new(
            STAGE,
            Code::InvalidTransition,
            format!(
                "'{stage}' is not a stage of the {} pipeline",
                pipeline.label
            ),
        )];
    }
    pipeline
        .required_for(stage)
        .into_iter()
        .filter(|f| {
            let after = changes.get(*f).or_else(|| before.map(|b| b.get(f)));
            after.is_none_or(|v| {
                v.is_null()
                    || matches!(v, Value::Text(t) if t.trim().is_empty())
                    || matches!(v, Value::Multi(m) if m.is_empty())
            })
        })
        .map(|f| {
            FieldError::new(
                f,
                Code::Required,
                format!(
                    "is required to reach the {} stage",
                    stage_label(object, stage)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
