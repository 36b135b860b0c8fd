//! The pipeline form of the settings pages (`super::pipelines`): a row per stage as an
//! administrator typed it, read into the domain's `Pipeline` in the order of the rows'
//! numbers, and the problems of either put back on the row they were typed on (the service
//! names a stage by its place in the list it was given, which has no blank or removed rows).

use relata_core::CoreError;
use relata_domain::meta::ObjectDef;
use relata_domain::opportunity::pipeline::{PIPELINE, Pipeline, Stage, is_closed};
use relata_domain::opportunity::{FORECAST_CATEGORY, LOST, PROBABILITY, STAGE, WON};

use super::{error_for, form_errors, general_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::pages::inputs::field_error_text;
use crate::session::Viewer;
use crate::state::WebState;

/// Empty rows offered below the open stages, for adding more.
const BLANK_ROWS: usize = 2;
/// The most rows a form reads (the service takes far fewer stages; it says so).
const MAX_ROWS: usize = 100;

/// One stage as typed.
#[derive(Default, Clone)]
pub struct StageRow {
    pub value: String,
    /// The label of a stage new to the stage picklist.
    pub label: String,
    /// A stage the pipeline had when the form was shown: its value is fixed.
    pub existing: bool,
    /// Where the stage goes among the open stages; blank is last.
    pub order: String,
    pub probability: String,
    pub forecast_category: String,
    pub required: Vec<String>,
    pub remove: bool,
}

impl StageRow {
    /// `closed_won` or `closed_lost`: always there, probability and category fixed.
    pub fn closed(&self) -> bool {
        self.existing && is_closed(&self.value)
    }

    pub fn requires(&self, field: &str) -> bool {
        self.required.iter().any(|f| f == field)
    }

    fn blank(&self) -> bool {
        !self.existing
            && self.value.is_empty()
            && self.label.is_empty()
            && self.probability.is_empty()
            && self.order.is_empty()
            && self.required.is_empty()
    }

    fn fixed(value: &str) -> StageRow {
        StageRow {
            value: value.to_owned(),
            existing: true,
            ..StageRow::default()
        }
    }
}

/// The probability and forecast category every pipeline gives a closed stage.
fn fixed_meaning(value: &str) -> Option<(u32, &'static str)> {
    match value {
        WON => Some((100, "closed")),
        LOST => Some((0, "omitted")),
        _ => None,
    }
}

/// The pipeline form: what was typed and what was wrong with it.
pub struct PipelineForm {
    pub name: String,
    pub label: String,
    pub active: bool,
    /// Open stages (then blank rows), then `closed_won` and `closed_lost`.
    pub rows: Vec<StageRow>,
    pub errors: Vec<(String, String)>,
}

impl PipelineForm {
    /// The form of a saved pipeline.
    pub(super) fn of(pipeline: &Pipeline) -> PipelineForm {
        let mut open = 0;
        let rows = pipeline
            .stages
            .iter()
            .map(|s| {
                let order = if is_closed(&s.value) {
                    String::new()
                } else {
                    open += 1;
                    open.to_string()
                };
                StageRow {
                    value: s.value.clone(),
                    label: String::new(),
                    existing: true,
                    order,
                    probability: s.probability.to_string(),
                    forecast_category: s.forecast_category.clone(),
                    required: s.required_fields.clone(),
                    remove: false,
                }
            })
            .collect();
        PipelineForm {
            name: pipeline.name.clone(),
            label: pipeline.label.clone(),
            active: pipeline.active,
            rows,
            errors: Vec::new(),
        }
        .normalized()
    }

    /// The form as posted for pipeline `name` (which the path names, not the form).
    pub(super) fn from_post(form: &FormData, name: &str) -> PipelineForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        let rows = field("stage_rows")
            .parse::<usize>()
            .unwrap_or(0)
            .min(MAX_ROWS);
        let required = |i: usize| {
            let mut fields: Vec<String> = Vec::new();
            for f in form.all(&format!("stage{i}_required")) {
                if !f.is_empty() && !fields.iter().any(|x| x == f) {
                    fields.push(f.to_owned());
                }
            }
            fields
        };
        PipelineForm {
            name: name.to_owned(),
            label: field("label"),
            active: form.last("active") == Some("true"),
            rows: (0..rows)
                .map(|i| StageRow {
                    value: field(&format!("stage{i}_value")),
                    label: field(&format!("stage{i}_label")),
                    existing: form.last(&format!("stage{i}_existing")) == Some("true"),
                    order: field(&format!("stage{i}_order")),
                    probability: field(&format!("stage{i}_probability")),
                    forecast_category: field(&format!("stage{i}_forecast_category")),
                    required: required(i),
                    remove: form.last(&format!("stage{i}_remove")) == Some("true"),
                })
                .collect(),
            errors: Vec::new(),
        }
        .normalized()
    }

    /// Open rows first, topped up with blank rows, then exactly one `closed_won` and one
    /// `closed_lost` row with their fixed meaning. Problems are found after this, so the
    /// row numbers they name are those shown.
    fn normalized(mut self) -> PipelineForm {
        let (closed, mut open): (Vec<StageRow>, Vec<StageRow>) =
            self.rows.into_iter().partition(StageRow::closed);
        let blanks = open.iter().rev().take_while(|r| r.blank()).count();
        open.extend(std::iter::repeat_n(
            StageRow::default(),
            BLANK_ROWS.saturating_sub(blanks),
        ));
        for value in [WON, LOST] {
            let mut row = closed
                .iter()
                .find(|r| r.value == value)
                .cloned()
                .unwrap_or_else(|| StageRow::fixed(value));
            if let Some((probability, category)) = fixed_meaning(value) {
                row.probability = probability.to_string();
                category.clone_into(&mut row.forecast_category);
            }
            row.order.clear();
            row.remove = false;
            open.push(row);
        }
        self.rows = open;
        self
    }

    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// The problem with row `i` at `part` (`value`, `order`, `probability`…).
    pub fn row_error(&self, i: &usize, part: &str) -> &str {
        self.error(&format!("stages.{i}.{part}"))
    }

    /// A problem of the stages as a whole (their number, the closed stages at the end).
    pub fn stages_error(&self) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| f == "stages")
            .map_or("", |(_, m)| m.as_str())
    }

    /// Problems not tied to a field of the form.
    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, &["name", "label", "active", "stages"])
    }

    /// The pipeline the rows describe, the form row of each of its stages, and the
    /// problems found reading the rows (named by form row).
    fn pipeline(&self, tr: Tr) -> (Pipeline, Vec<usize>, Vec<(String, String)>) {
        let mut errors = Vec::new();
        let mut open: Vec<(i64, usize)> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            if r.closed() || r.blank() || r.remove {
                continue;
            }
            let order = if r.order.is_empty() {
                i64::MAX
            } else if let Ok(n) = r.order.parse::<i64>() {
                n
            } else {
                let text = tr.t("pipelines.whole_number").to_owned();
                errors.push((format!("stages.{i}.order"), text));
                i64::MAX
            };
            open.push((order, i));
        }
        // a stable sort: rows of one number keep the order they were shown in
        open.sort_by_key(|(order, _)| *order);
        let placement: Vec<usize> = open
            .into_iter()
            .map(|(_, i)| i)
            .chain((0..self.rows.len()).filter(|i| self.rows[*i].closed()))
            .collect();
        let stages = placement
            .iter()
            .map(|&i| {
                let r = &self.rows[i];
                if !r.existing && r.value.is_empty() {
                    let text = tr.t("pipelines.value_required").to_owned();
                    errors.push((format!("stages.{i}.value"), text));
                }
                let (probability, category) = match fixed_meaning(&r.value).filter(|_| r.closed()) {
                    Some((p, c)) => (p, c.to_owned()),
                    None => {
                        let p = r.probability.parse::<u32>().unwrap_or_else(|_| {
                            let text = tr.t("pipelines.percent").to_owned();
                            errors.push((format!("stages.{i}.probability"), text));
                            0
                        });
                        (p, r.forecast_category.clone())
                    }
                };
                Stage {
                    value: r.value.clone(),
                    label: Some(r.label.clone()).filter(|l| !r.existing && !l.is_empty()),
                    probability,
                    forecast_category: category,
                    required_fields: r.required.clone(),
                }
            })
            .collect();
        let pipeline = Pipeline {
            name: self.name.clone(),
            label: self.label.clone(),
            active: self.active,
            stages,
        };
        (pipeline, placement, errors)
    }
}

/// `stages.1.probability` → `stages.3.probability` when stage 1 of the saved list was
/// typed on row 3.
fn place(placement: &[usize], field: String) -> String {
    if let Some(rest) = field.strip_prefix("stages.")
        && let Some((k, tail)) = rest.split_once('.')
        && let Some(row) = k.parse::<usize>().ok().and_then(|k| placement.get(k))
    {
        return format!("stages.{row}.{tail}");
    }
    field
}

/// The fields a stage may ask for, labelled: the opportunity's fields a person fills in.
/// Those the stage itself sets (probability, forecast category) are offered only when a
/// row already asks for them, so saving the form never drops what the API set.
pub(super) fn field_choices(
    tr: Tr,
    object: &ObjectDef,
    form: &PipelineForm,
) -> Vec<(String, String)> {
    object
        .live_fields()
        .filter(|f| !f.system && f.name() != STAGE && f.name() != PIPELINE)
        .filter(|f| {
            ![PROBABILITY, FORECAST_CATEGORY].contains(&f.name())
                || form.rows.iter().any(|r| r.requires(f.name()))
        })
        .map(|f| (f.name().to_owned(), tr.field_label(object, f)))
        .collect()
}

/// A refusal of the service, by field. A conflict is worded in Chinese from its code (the
/// service words it in English, with counts the translation leaves out).
pub(super) fn refusal(viewer: &Viewer, e: CoreError) -> Result<Vec<(String, String)>, WebError> {
    let tr = viewer.tr();
    if let CoreError::Conflict { code, .. } = &e
        && tr.is_zh()
    {
        let text = match *code {
            "stage_in_use" => Some(tr.t("pipelines.stage_in_use")),
            "pipeline_in_use" => Some(tr.t("pipelines.pipeline_in_use")),
            "last_pipeline" => Some(tr.t("pipelines.last_pipeline")),
            _ => None,
        };
        if let Some(text) = text {
            return Ok(vec![(String::new(), text.to_owned())]);
        }
    }
    form_errors(viewer, e)
}

/// The pipeline saved, or the problems to show on the form. When the rows themselves had
/// problems nothing is saved, but the pipeline is still checked so every problem shows at
/// once.
pub(super) async fn save_form(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    typed: &PipelineForm,
) -> Result<Result<Pipeline, Vec<(String, String)>>, WebError> {
    let tr = viewer.tr();
    let (pipeline, placement, mut errors) = typed.pipeline(tr);
    if !errors.is_empty() {
        for e in pipeline.problems(object) {
            let field = place(&placement, e.field.clone());
            if !errors.iter().any(|(f, _)| *f == field) {
                errors.push((field, field_error_text(tr, &e)));
            }
        }
        return Ok(Err(errors));
    }
    match state.core.save_pipeline(&viewer.actor, pipeline).await {
        Ok(saved) => Ok(Ok(saved)),
        Err(e) => Ok(Err(refusal(viewer, e)?
            .into_iter()
            .map(|(f, m)| (place(&placement, f), m))
            .collect())),
    }
}

#[cfg(test)]
mod tests {
    use relata_domain::opportunity::pipeline::standard_pipelines;

    use super::{PipelineForm, place};
    use crate::form::FormData;
    use crate::i18n::{Lang, Tr};

    #[test]
    fn the_services_stage_errors_land_on_the_rows_they_were_typed_on() {
        assert_eq!(
            place(&[2, 0, 5], "stages.1.probability".into()),
            "stages.0.probability"
        );
        assert_eq!(place(&[2, 0, 5], "stages.0.value".into()), "stages.2.value");
        assert_eq!(place(&[2], "stages".into()), "stages");
        assert_eq!(place(&[2], "label".into()), "label");
    }

    #[test]
    fn rows_are_saved_in_the_order_of_their_numbers_without_blank_or_removed_ones() {
        let mut form = PipelineForm::of(&standard_pipelines()[0]);
        // prospecting 1, qualification 2, needs_analysis 3, proposal 4, negotiation 5,
        // two blank rows, closed_won, closed_lost
        assert_eq!(form.rows.len(), 9);
        assert!(form.rows[7].closed() && form.rows[8].closed());
        form.rows[1].remove = true;
        "9".clone_into(&mut form.rows[0].order);
        form.rows[5] = super::StageRow {
            value: "site_visit".into(),
            label: "Site visit".into(),
            order: "3".into(),
            probability: "30".into(),
            forecast_category: "pipeline".into(),
            ..Default::default()
        };
        let (pipeline, placement, errors) = form.pipeline(Tr::new(Lang::En));
        assert!(errors.is_empty());
        let values: Vec<&str> = pipeline.stages.iter().map(|s| s.value.as_str()).collect();
        assert_eq!(
            values,
            [
                "needs_analysis",
                "site_visit",
                "proposal",
                "negotiation",
                "prospecting",
                "closed_won",
                "closed_lost"
            ]
        );
        assert_eq!(placement, [2, 5, 3, 4, 0, 7, 8]);
        assert_eq!(pipeline.stages[1].label.as_deref(), Some("Site visit"));
        assert_eq!(pipeline.stages[0].label, None);
    }

    #[test]
    fn a_posted_form_keeps_its_closed_stages_fixed_and_at_the_end() {
        let form = FormData::parse(
            b"label=Project&active=false&active=true&stage_rows=3\
              &stage0_existing=true&stage0_value=closed_won&stage0_required=win_reason\
              &stage0_probability=50\
              &stage1_value=bidding&stage1_probability=abc&stage1_forecast_category=commit\
              &stage1_required=amount&stage1_required=amount",
        );
        let typed = PipelineForm::from_post(&form, "project");
        assert!(typed.active);
        let values: Vec<&str> = typed.rows.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(values, ["bidding", "", "", "closed_won", "closed_lost"]);
        assert_eq!(typed.rows[3].probability, "100");
        assert_eq!(typed.rows[3].required, ["win_reason"]);
        assert_eq!(typed.rows[0].required, ["amount"]);
        let (_, _, errors) = typed.pipeline(Tr::new(Lang::En));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "stages.0.probability");
    }
}
