//! Opportunities (商机): what a stage means for the forecast, and what closing one asks for.
//!
//! Each standard stage carries a default probability and forecast category; moving an
//! opportunity to a stage sets both unless the same write gives its own, and stamps when the
//! stage changed (time in stage; the full stage history is the field history of `stage`).
//! Closing asks why: a won deal its `win_reason`, a lost one its `loss_reason` — what sales
//! management reads to learn from both.

pub mod pipeline;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::error::{FieldError, FieldErrorCode as Code};
use crate::{Record, Value};

pub const OBJECT: &str = "opportunity";
pub const STAGE: &str = "stage";
pub const PROBABILITY: &str = "probability";
pub const FORECAST_CATEGORY: &str = "forecast_category";
pub const STAGE_CHANGED_AT: &str = "stage_changed_at";
pub const WIN_REASON: &str = "win_reason";
pub const LOSS_REASON: &str = "loss_reason";
pub const WON: &str = "closed_won";
pub const LOST: &str = "closed_lost";

/// The standard stages: value, label, default probability (%), forecast category.
pub const STAGES: &[(&str, &str, u32, &str)] = &[
    ("prospecting", "Prospecting", 10, "pipeline"),
    ("qualification", "Qualification", 20, "pipeline"),
    ("needs_analysis", "Needs analysis", 40, "pipeline"),
    ("proposal", "Proposal", 60, "best_case"),
    ("negotiation", "Negotiation", 80, "commit"),
    (WON, "Closed won", 100, "closed"),
    (LOST, "Closed lost", 0, "omitted"),
];

pub const FORECAST_CATEGORIES: &[(&str, &str)] = &[
    ("pipeline", "Pipeline"),
    ("best_case", "Best case"),
    ("commit", "Commit"),
    ("closed", "Closed"),
    ("omitted", "Omitted"),
];

pub const WIN_REASONS: &[(&str, &str)] = &[
    ("product", "Product fit"),
    ("price", "Price"),
    ("relationship", "Relationship"),
    ("service", "Service and support"),
    ("brand", "Brand and references"),
    ("other", "Other"),
];

pub const LOSS_REASONS: &[(&str, &str)] = &[
    ("price", "Price"),
    ("competitor", "Lost to a competitor"),
    ("no_budget", "No budget"),
    ("no_decision", "No decision"),
    ("timing", "Timing"),
    ("product_fit", "Product fit"),
    ("relationship", "Relationship"),
    ("other", "Other"),
];

/// The problems of writing `changes` to an opportunity that was `before` (`None`: new).
/// Checked by the one write path, so an edit, a bulk upsert, an import and a workflow
/// action close deals alike.
pub fn check_write(before: Option<&Record>, changes: &BTreeMap<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let closing = |stage: &str| {
        changes.get(STAGE) == Some(&Value::Text(stage.to_owned()))
            && before.is_none_or(|b| b.get(STAGE) != &Value::Text(stage.to_owned()))
    };
    for (stage, reason, what) in [(WON, WIN_REASON, "won"), (LOST, LOSS_REASON, "lost")] {
        let cleared = matches!(changes.get(reason), Some(Value::Null))
            && Record::text_after(before, changes, STAGE) == Some(stage);
        if (closing(stage) || cleared) && Record::text_after(before, changes, reason).is_none() {
            errors.push(FieldError::new(
                reason,
                Code::Required,
                format!("is required when the opportunity is {what}"),
            ));
        }
    }
    errors
}

/// What moving to a new stage sets besides it: the stage's probability and forecast
/// category in the deal's pipeline (unless the write gives its own) and when the stage
/// changed.
pub fn stage_stamps(
    pipelines: &[pipeline::Pipeline],
    before: Option<&Record>,
    changes: &BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Vec<(String, Value)> {
    let moved = |field: &str| {
        changes
            .get(field)
            .is_some_and(|v| before.is_none_or(|b| b.get(field) != v))
    };
    // a deal moved to another pipeline at the same stage takes that pipeline's numbers
    let stage_moved = moved(STAGE);
    if !stage_moved && !moved(pipeline::PIPELINE) {
        return Vec::new();
    }
    let Some(stage) = Record::text_after(before, changes, STAGE) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if stage_moved {
        out.push((STAGE_CHANGED_AT.to_owned(), Value::Datetime(now)));
    }
    let in_pipeline = Record::text_after(before, changes, pipeline::PIPELINE)
        .and_then(|name| pipelines.iter().find(|p| p.name == name))
        .and_then(|p| p.stage(stage))
        .map(|s| (s.probability, s.forecast_category.as_str()));
    let standard = || {
        STAGES
            .iter()
            .find(|s| s.0 == stage)
            .map(|(_, _, p, c)| (*p, *c))
    };
    if let Some((probability, category)) = in_pipeline.or_else(standard) {
        if !changes.contains_key(PROBABILITY) {
            out.push((
                PROBABILITY.to_owned(),
                // as a percent field stores it: two decimal places
                Value::Decimal(Decimal::new(i64::from(probability) * 100, 2)),
            ));
        }
        if !changes.contains_key(FORECAST_CATEGORY) {
            out.push((
                FORECAST_CATEGORY.to_owned(),
                Value::Text(category.to_owned()),
            ));
        }
    }
    out
}

/// One stretch of a deal's life at one stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StagePeriod {
    pub stage: String,
    pub entered_at: DateTime<Utc>,
    /// `None`: the deal is still at it.
    pub left_at: Option<DateTime<Utc>>,
    /// Time at the stage (to `now` for the current one), in days with one decimal.
    pub days: Decimal,
}

/// A deal's stages in order with the time spent at each, from its creation (`created_at`)
/// and its stage changes `(at, from, to)`, oldest first; a deal that never moved has been at
/// `current` all along.
pub fn stage_periods(
    created_at: DateTime<Utc>,
    current: Option<&str>,
    changes: &[(DateTime<Utc>, Option<String>, Option<String>)],
    now: DateTime<Utc>,
) -> Vec<StagePeriod> {
    let days = |from: DateTime<Utc>, to: DateTime<Utc>| {
        (Decimal::from((to - from).num_seconds().max(0)) / Decimal::from(86_400)).round_dp(1)
    };
    let mut out = Vec::new();
    let mut stage = changes
        .first()
        .map_or_else(|| current.map(str::to_owned), |c| c.1.clone());
    let mut since = created_at;
    for (at, _, to) in changes {
        if let Some(s) = stage.take() {
            out.push(StagePeriod {
                stage: s,
                entered_at: since,
                left_at: Some(*at),
                days: days(since, *at),
            });
        }
        stage = to.clone();
        since = *at;
    }
    if let Some(s) = stage {
        out.push(StagePeriod {
            stage: s,
            entered_at: since,
            left_at: None,
            days: days(since, now),
        });
    }
    out
}

#[cfg(test)]
mod tests;
