//! An object's duplicate rule in settings (`/settings/objects/{object}/duplicates`): which
//! fields are compared and how, how much each counts, the score from which records are
//! likely duplicates, and whether a likely duplicate is shown (warn) or refused (block).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use relata_domain::access::Capability;
use relata_domain::dedupe::{Comparator, MatchField, MatchRule, RuleAction};

use super::{Tab, chrome, form_errors};
use crate::error::WebError;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Rows of field groups the form offers.
const ROWS: usize = 6;
const COMPARATORS: [&str; 6] = [
    "exact",
    "email",
    "phone",
    "company_name",
    "person_name",
    "fuzzy",
];

pub struct RuleRow {
    pub fields: String,
    pub comparator: String,
    pub weight: String,
}

#[derive(Template)]
#[template(path = "settings/matching.html")]
struct MatchingPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    object: String,
    object_label: String,
    standard: bool,
    active: bool,
    block: bool,
    threshold: String,
    rows: Vec<RuleRow>,
    comparators: Vec<(String, String)>,
    errors: Vec<String>,
    /// The object has an active rule a job can run by.
    has_rule: bool,
    /// Recent duplicate jobs: (link, description).
    jobs: Vec<(String, String)>,
}

fn comparator_name(c: Comparator) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let jobs = state
        .core
        .duplicate_jobs(&viewer.actor, Some(&name))
        .await
        .unwrap_or_default();
    let tr = viewer.tr();
    let jobs = jobs
        .iter()
        .take(5)
        .map(|j| {
            (
                format!("/settings/duplicate-jobs/{}", j.id),
                format!(
                    "{} · {} · {}",
                    viewer.fmt.datetime(&j.created_at),
                    tr.t(&format!("dedupe_job.status_{}", j.status)),
                    tr.tf("dedupe_job.groups", &[("n", &j.groups.to_string())])
                ),
            )
        })
        .collect();
    render(&state, &viewer, &name, None, Vec::new(), jobs)
}

fn render(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    shown: Option<MatchRule>,
    errors: Vec<String>,
    jobs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = state
        .core
        .object(name)
        .map_err(|_| WebError::NotFound(tr))?;
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("matching.title").to_owned(),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let rule = shown
        .or_else(|| object.matching_rule.clone())
        .or_else(|| MatchRule::standard(object.name()));
    let mut rows: Vec<RuleRow> = rule
        .as_ref()
        .map(|r| {
            r.fields
                .iter()
                .map(|f| RuleRow {
                    fields: f.fields.join(", "),
                    comparator: comparator_name(f.comparator),
                    weight: f.weight.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    rows.resize_with(ROWS.max(rows.len()), || RuleRow {
        fields: String::new(),
        comparator: "exact".into(),
        weight: String::new(),
    });
    let failed = !errors.is_empty();
    let page = MatchingPage {
        chrome,
        tabs,
        object: object.name().to_owned(),
        object_label: tr.object_plural(&object),
        standard: object.matching_rule.is_none(),
        active: rule.as_ref().is_none_or(|r| r.active),
        block: rule.as_ref().is_some_and(|r| r.action == RuleAction::Block),
        threshold: rule
            .as_ref()
            .map_or("0.85".into(), |r| r.threshold.to_string()),
        rows,
        comparators: COMPARATORS
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    tr.t(&format!("matching.cmp_{c}")).to_owned(),
                )
            })
            .collect(),
        errors,
        has_rule: MatchRule::of(&object).is_some(),
        jobs,
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/objects/{object}/duplicates`: saves the rule, or (`reset`) returns the
/// object to its standard rule.
pub async fn save(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let tr = viewer.tr();
    let rule = if form.first("reset").is_some() {
        None
    } else {
        let mut fields = Vec::new();
        let mut errors = Vec::new();
        for i in 0..ROWS.max(form.all("fields").len()) {
            let names: Vec<String> = form
                .all("fields")
                .get(i)
                .copied()
                .unwrap_or_default()
                .split([',', '，', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if names.is_empty() {
                continue;
            }
            let comparator = form.all("comparator").get(i).copied().unwrap_or("exact");
            let comparator: Option<Comparator> =
                serde_json::from_value(serde_json::Value::String(comparator.to_owned())).ok();
            let weight = form
                .all("weight")
                .get(i)
                .and_then(|w| w.trim().parse::<f64>().ok());
            match (comparator, weight) {
                (Some(comparator), Some(weight)) => fields.push(MatchField {
                    fields: names,
                    comparator,
                    weight,
                }),
                _ => errors.push(tr.tf("matching.bad_row", &[("n", &(i + 1).to_string())])),
            }
        }
        let threshold = form
            .first("threshold")
            .and_then(|t| t.trim().parse::<f64>().ok());
        let rule = MatchRule {
            object: name.clone(),
            fields,
            threshold: threshold.unwrap_or(0.0),
            action: if form.first("action") == Some("block") {
                RuleAction::Block
            } else {
                RuleAction::Warn
            },
            active: form.first("active").is_some(),
        };
        if !errors.is_empty() {
            return render(&state, &viewer, &name, Some(rule), errors, Vec::new());
        }
        Some(rule)
    };
    let shown = rule.clone();
    match state
        .core
        .set_matching_rule(&viewer.actor, &name, rule)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/settings/objects/{name}/duplicates?saved=1"
        ))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?
                .into_iter()
                .map(|(f, m)| if f.is_empty() { m } else { format!("{f}: {m}") })
                .collect();
            render(&state, &viewer, &name, shown, errors, Vec::new())
        }
    }
}
