//! Assignment rules for administrators who manage automation: the list, and a form per rule —
//! its object and strategy (round-robin or load-balanced), its entries (a condition in the
//! filter language and the users who take what meets it, by email in turn order), which
//! records count as open for load balancing, working hours, and a fallback user. Every
//! problem is shown on the row and field it belongs to; the rule is saved through the same
//! core service as the API, which checks it again.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_core::assignment::{AssignmentInput, AssignmentRule};
use relata_domain::access::Capability;
use relata_domain::assignment::{AssignmentDef, Strategy};

use super::{Tab, chrome, error_for, form_errors, general_errors, told};
use crate::error::WebError;
use crate::pages::{Chrome, html};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Blank entry rows offered below a rule's entries, for adding more.
const BLANK_ENTRIES: usize = 2;

/// A rule in the list.
pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub strategy: String,
    pub entries: usize,
    pub hours: String,
}

/// One entry row of the form.
#[derive(Default, Clone)]
pub struct EntryRow {
    pub condition: String,
    /// Emails, comma-separated, in turn order.
    pub users: String,
}

/// The rule form: what was typed and what was wrong with it.
pub struct RuleForm {
    pub name: String,
    pub object: String,
    pub strategy: String,
    pub entries: Vec<EntryRow>,
    pub open_condition: String,
    pub hours_on: bool,
    pub time_zone: String,
    pub days: Vec<u32>,
    pub start: String,
    pub end: String,
    pub fallback: String,
    /// A saved rule's object, which does not change (its conditions are about it).
    pub fixed_object: bool,
    pub errors: Vec<(String, String)>,
}

impl Default for RuleForm {
    fn default() -> Self {
        RuleForm {
            name: String::new(),
            object: "lead".into(),
            strategy: "round_robin".into(),
            entries: vec![EntryRow::default(); BLANK_ENTRIES],
            open_condition: String::new(),
            hours_on: false,
            time_zone: "Asia/Shanghai".into(),
            days: vec![1, 2, 3, 4, 5],
            start: "09:00".into(),
            end: "18:00".into(),
            fallback: String::new(),
            fixed_object: false,
            errors: Vec::new(),
        }
    }
}

impl RuleForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// The problem with entry row `i`'s `part` (`condition` or `users`).
    pub fn entry_error(&self, i: &usize, part: &str) -> &str {
        self.error(&format!("entries[{i}].{part}"))
    }

    pub fn general(&self) -> Vec<String> {
        // entry errors are shown on their rows
        let rest: Vec<(String, String)> = self
            .errors
            .iter()
            .filter(|(f, _)| !f.starts_with("entries["))
            .cloned()
            .collect();
        general_errors(
            &rest,
            &[
                "name",
                "object",
                "strategy",
                "entries",
                "open_condition",
                "working_hours",
                "fallback_user",
            ],
        )
    }

    pub fn has_day(&self, day: &u32) -> bool {
        self.days.contains(day)
    }

    /// The weekdays to tick, 1 (Monday) to 7, with their names.
    pub fn weekdays(&self, tr: &crate::i18n::Tr) -> Vec<(u32, String)> {
        (1..=7)
            .map(|d| (d, tr.t(&format!("assignment.day_{d}")).to_owned()))
            .collect()
    }

    fn from_post(form: &crate::form::FormData) -> RuleForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        let rows: usize = field("entry_rows").parse().unwrap_or(0).min(100);
        RuleForm {
            name: field("name"),
            object: field("object"),
            strategy: field("strategy"),
            entries: (0..rows)
                .map(|i| EntryRow {
                    condition: field(&format!("entry{i}_condition")),
                    users: field(&format!("entry{i}_users")),
                })
                .collect(),
            open_condition: field("open_condition"),
            hours_on: form.first("hours_on").is_some(),
            time_zone: field("time_zone"),
            days: form
                .all("days")
                .into_iter()
                .filter_map(|d| d.parse().ok())
                .collect(),
            start: field("start"),
            end: field("end"),
            fallback: field("fallback"),
            fixed_object: false,
            errors: Vec::new(),
        }
    }

    /// The rule's form, users shown by email.
    async fn of(state: &WebState, rule: &AssignmentRule) -> RuleForm {
        let Ok(def) = AssignmentDef::parse(&rule.definition) else {
            return RuleForm {
                name: rule.name.clone(),
                object: rule.object.clone(),
                fixed_object: true,
                ..RuleForm::default()
            };
        };
        let names = state.core.user_names(def.users()).await.unwrap_or_default();
        let email = |id: &Uuid| {
            names
                .get(id)
                .map_or_else(|| id.to_string(), |u| u.email.clone())
        };
        let mut entries: Vec<EntryRow> = def
            .entries
            .iter()
            .map(|e| EntryRow {
                condition: e.condition.as_ref().map(condition_text).unwrap_or_default(),
                users: e.users.iter().map(email).collect::<Vec<_>>().join(", "),
            })
            .collect();
        entries.extend(std::iter::repeat_n(EntryRow::default(), BLANK_ENTRIES));
        let hours = def.working_hours.clone();
        let defaults = RuleForm::default();
        RuleForm {
            name: rule.name.clone(),
            object: rule.object.clone(),
            strategy: strategy_name(def.strategy).into(),
            entries,
            open_condition: def
                .open_condition
                .as_ref()
                .map(condition_text)
                .unwrap_or_default(),
            hours_on: hours.is_some(),
            time_zone: hours
                .as_ref()
                .map_or(defaults.time_zone, |h| h.time_zone.clone()),
            days: hours.as_ref().map_or(defaults.days, |h| h.days.clone()),
            start: hours.as_ref().map_or(defaults.start, |h| h.start.clone()),
            end: hours.as_ref().map_or(defaults.end, |h| h.end.clone()),
            fallback: def.fallback_user.as_ref().map(email).unwrap_or_default(),
            fixed_object: true,
            errors: Vec::new(),
        }
    }

    /// The input for the core service, users looked up by email, and the problems of the
    /// lookup (an email no active user has). Rows left blank are dropped: `rows[k]` is the
    /// form row entry `k` came from.
    async fn input(
        &self,
        state: &WebState,
        viewer: &Viewer,
    ) -> (AssignmentInput, Vec<usize>, Vec<(String, String)>) {
        let tr = viewer.tr();
        let mut errors = Vec::new();
        let mut entries = Vec::new();
        let mut rows = Vec::new();
        let unknown = |email: &str| tr.t("assignment.unknown_user").replace("{email}", email);
        for (i, row) in self.entries.iter().enumerate() {
            if row.condition.is_empty() && row.users.is_empty() {
                continue;
            }
            let mut users = Vec::new();
            for email in row.users.split([',', ';', '\n']).map(str::trim) {
                if email.is_empty() {
                    continue;
                }
                match find_user(state, viewer, email).await {
                    Some(id) => users.push(id.to_string()),
                    None => errors.push((format!("entries[{i}].users"), unknown(email))),
                }
            }
            let mut entry = json!({ "users": users });
            if !row.condition.is_empty() {
                entry["condition"] = condition_value(&row.condition);
            }
            entries.push(entry);
            rows.push(i);
        }
        let mut definition = json!({"strategy": self.strategy, "entries": entries});
        if !self.open_condition.is_empty() {
            definition["open_condition"] = condition_value(&self.open_condition);
        }
        if self.hours_on {
            definition["working_hours"] = json!({"time_zone": self.time_zone, "days": self.days,
                "start": self.start, "end": self.end});
        }
        if !self.fallback.is_empty() {
            match find_user(state, viewer, &self.fallback).await {
                Some(id) => definition["fallback_user"] = Json::String(id.to_string()),
                None => errors.push(("fallback_user".into(), unknown(&self.fallback))),
            }
        }
        let input = AssignmentInput {
            name: self.name.clone(),
            object: self.object.clone(),
            definition,
        };
        (input, rows, errors)
    }
}

/// The active user with this email (any case).
async fn find_user(state: &WebState, viewer: &Viewer, email: &str) -> Option<Uuid> {
    state
        .core
        .active_user_by_email(&viewer.actor, email)
        .await
        .ok()
        .flatten()
        .map(|u| u.id)
}

/// A stored condition as text to edit: filter text as typed, or (for a condition written as
/// JSON through the API) its JSON.
fn condition_text(c: &Json) -> String {
    match c {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Edited condition text back as a condition: JSON when it is a JSON object or array (the
/// API's form, shown as such), else filter text.
fn condition_value(text: &str) -> Json {
    match serde_json::from_str::<Json>(text) {
        Ok(j) if j.is_object() || j.is_array() => j,
        _ => Json::String(text.to_owned()),
    }
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::RoundRobin => "round_robin",
        Strategy::LoadBalanced => "load_balanced",
    }
}

/// Puts the service's `entries[k]…` errors on the form rows the entries came from.
fn on_rows(errors: Vec<(String, String)>, rows: &[usize]) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|(field, message)| {
            let moved = field
                .strip_prefix("entries[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(k, tail)| {
                    let row = rows.get(k.parse::<usize>().ok()?)?;
                    Some(format!("entries[{row}]{tail}"))
                });
            (moved.unwrap_or(field), message)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "settings/assignment_rules.html")]
struct RulesPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    rules: Vec<RuleRow>,
    objects: Vec<(String, String)>,
    form: RuleForm,
}

#[derive(Template)]
#[template(path = "settings/assignment_rule.html")]
struct RulePage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    objects: Vec<(String, String)>,
    form: RuleForm,
}

fn objects(state: &WebState, viewer: &Viewer) -> Vec<(String, String)> {
    let tr = viewer.tr();
    state
        .core
        .schema()
        .objects()
        .filter(|o| o.field("owner_id").is_some())
        .map(|o| (o.name().to_owned(), tr.object_label(o)))
        .collect()
}

/// `GET /settings/assignment`.
pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    list(&state, &viewer, RuleForm::default()).await
}

async fn list(state: &WebState, viewer: &Viewer, form: RuleForm) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("assignment.title").to_owned(),
        "/settings/assignment",
        Capability::ManageAutomation,
    )?;
    let rules = state
        .core
        .assignment_rules(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let rows = rules
        .iter()
        .map(|r| {
            let def = AssignmentDef::parse(&r.definition).ok();
            RuleRow {
                id: r.id.to_string(),
                name: r.name.clone(),
                object: state
                    .core
                    .schema()
                    .object(&r.object)
                    .map_or_else(|| r.object.clone(), |o| tr.object_label(o)),
                strategy: def.as_ref().map_or_else(String::new, |d| {
                    tr.t(&format!("assignment.{}", strategy_name(d.strategy)))
                        .to_owned()
                }),
                entries: def.as_ref().map_or(0, |d| d.entries.len()),
                hours: def
                    .as_ref()
                    .and_then(|d| d.working_hours.as_ref())
                    .map(|h| format!("{}–{} ({})", h.start, h.end, h.time_zone))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let page = RulesPage {
        chrome,
        tabs,
        rules: rows,
        objects: objects(state, viewer),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/assignment`: creates a rule and opens it.
pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let typed = RuleForm::from_post(&form);
    match save_form(&state, &viewer, None, &typed).await? {
        Ok(rule) => Ok(told(
            &viewer,
            &format!("/settings/assignment/{}", rule.id),
            "assignment.saved",
        )),
        Err(errors) => list(&state, &viewer, with_blank_rows(typed, errors)).await,
    }
}

/// The rule saved, or the problems to show on the form. When an email matched nobody the
/// rule is only checked, not saved, so that every other problem is shown with it.
async fn save_form(
    state: &WebState,
    viewer: &Viewer,
    id: Option<Uuid>,
    typed: &RuleForm,
) -> Result<Result<AssignmentRule, Vec<(String, String)>>, WebError> {
    let (input, rows, mut errors) = typed.input(state, viewer).await;
    let outcome = if errors.is_empty() {
        state
            .core
            .save_assignment_rule(&viewer.actor, id, input)
            .await
    } else {
        match state.core.check_assignment_rule(&viewer.actor, &input) {
            Ok(_) => return Ok(Err(errors)),
            Err(e) => Err(e),
        }
    };
    match outcome {
        Ok(rule) => Ok(Ok(rule)),
        Err(e) => {
            // the lookup's own problems first: a row shows the first problem named for it
            errors.extend(on_rows(form_errors(viewer, e)?, &rows));
            Ok(Err(errors))
        }
    }
}

/// A form shown again with its problems, and room for another entry.
fn with_blank_rows(mut form: RuleForm, errors: Vec<(String, String)>) -> RuleForm {
    let blank = form
        .entries
        .iter()
        .rev()
        .take_while(|e| e.condition.is_empty() && e.users.is_empty())
        .count();
    form.entries.extend(std::iter::repeat_n(
        EntryRow::default(),
        BLANK_ENTRIES.saturating_sub(blank),
    ));
    RuleForm { errors, ..form }
}

/// `GET /settings/assignment/{id}`.
pub async fn detail(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let rule = state
        .core
        .assignment_rule(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let form = RuleForm::of(&state, &rule).await;
    show(&state, &viewer, id, form)
}

fn show(state: &WebState, viewer: &Viewer, id: Uuid, form: RuleForm) -> Result<Response, WebError> {
    let (chrome, tabs) = chrome(
        state,
        viewer,
        form.name.clone(),
        "/settings/assignment",
        Capability::ManageAutomation,
    )?;
    let page = RulePage {
        chrome,
        tabs,
        id: id.to_string(),
        objects: objects(state, viewer),
        form,
    };
    Ok(html(page.render()))
}

/// `POST /settings/assignment/{id}`: saves the rule (`action=save`) or deletes it
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
            .delete_assignment_rule(&viewer.actor, id)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        return Ok(told(&viewer, "/settings/assignment", "assignment.deleted"));
    }
    let stored = state
        .core
        .assignment_rule(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let typed = RuleForm {
        object: stored.object,
        fixed_object: true,
        ..RuleForm::from_post(&form)
    };
    match save_form(&state, &viewer, Some(id), &typed).await? {
        Ok(_) => Ok(told(
            &viewer,
            &format!("/settings/assignment/{id}"),
            "assignment.saved",
        )),
        Err(errors) => show(&state, &viewer, id, with_blank_rows(typed, errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::on_rows;

    #[test]
    fn the_services_entry_errors_land_on_the_rows_they_came_from() {
        let errors = vec![
            ("entries[1].condition".to_owned(), "no field x".to_owned()),
            ("entries[0].users".to_owned(), "name a user".to_owned()),
            ("name".to_owned(), "too long".to_owned()),
        ];
        // rows 0 and 1 of the form were blank; the entries came from rows 2 and 4
        let moved = on_rows(errors, &[2, 4]);
        assert_eq!(moved[0].0, "entries[4].condition");
        assert_eq!(moved[1].0, "entries[2].users");
        assert_eq!(moved[2].0, "name");
    }
}
