//! Sales targets (销售目标) of a period: each target the viewer may see — theirs, their
//! teams', their department's, the company's and those of the people they manage — with
//! its actual and attainment, computed now by relata-core. Administrators of users also get
//! a form to set a target (a second one for the same assignee, period and metric replaces
//! the first) and a delete button per target; the service checks both again.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_core::targets::{Progress, Target};
use relata_domain::targets::{Assignee, Metric, Period};

use super::forecast::amount_of;
use super::periods::{self, ChoiceGroup};
use super::settings::{error_for, form_errors, general_errors, told};
use super::{Chrome, agenda, html, teams, url_component};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Currencies offered for a money target; none means the roll-up currency.
const CURRENCIES: &[&str] = &["CNY", "USD", "EUR", "HKD", "JPY", "GBP"];
const ASSIGNEE_TYPES: &[&str] = &["user", "team", "department", "company"];
/// The fields of the form, for errors shown beside them (the rest go on top).
const FIELDS: &[&str] = &["assignee", "period", "metric", "target", "currency"];

pub struct TargetRow {
    pub id: String,
    pub assignee: String,
    /// "Team", "Department" for those; empty for a rep and the company.
    pub kind: String,
    pub metric: String,
    pub target: String,
    pub actual: String,
    /// In percent, as shown ("50%"), and as the bar's value ("50.0"); empty without one.
    pub attainment: String,
    pub bar: String,
}

/// The form to set a target, as typed, with what was wrong.
pub struct TargetForm {
    pub assignee_type: String,
    pub user: String,
    pub team: String,
    pub department: String,
    pub period: String,
    pub metric: String,
    pub target: String,
    pub currency: String,
    pub errors: Vec<(String, String)>,
}

impl TargetForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, FIELDS)
    }

    fn blank(period: &Period) -> TargetForm {
        TargetForm {
            assignee_type: "user".into(),
            user: String::new(),
            team: String::new(),
            department: String::new(),
            period: period.to_string(),
            metric: Metric::WonAmount.as_str().into(),
            target: String::new(),
            currency: String::new(),
            errors: Vec::new(),
        }
    }

    fn from_post(form: &FormData) -> TargetForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        TargetForm {
            assignee_type: field("assignee_type"),
            user: field("user"),
            team: field("team"),
            department: field("department"),
            period: field("period"),
            metric: field("metric"),
            target: field("target"),
            currency: field("currency"),
            errors: Vec::new(),
        }
    }

    /// The target the form describes, or the problems found before asking the service.
    fn target(&self, tr: Tr) -> Result<Target, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut problem =
            |field: &str, key: &str| errors.push((field.to_owned(), tr.t(key).to_owned()));
        let id = |s: &str| Uuid::parse_str(s).ok();
        let assignee = match self.assignee_type.as_str() {
            "user" => id(&self.user).map(|id| Assignee::User { id }),
            "team" => id(&self.team).map(|id| Assignee::Team { id }),
            // the service says when the name is blank
            "department" => Some(Assignee::Department {
                name: self.department.clone(),
            }),
            "company" => Some(Assignee::Company),
            _ => None,
        };
        if assignee.is_none() {
            let key = match self.assignee_type.as_str() {
                "team" => "targets.choose_team",
                _ => "targets.choose_user",
            };
            problem("assignee", key);
        }
        let metric = Metric::parse(&self.metric);
        if metric.is_none() {
            problem("metric", "targets.choose_metric");
        }
        let amount = amount_of(&self.target);
        if amount.is_none() {
            problem("target", "targets.bad_target");
        }
        let currency = match self.currency.as_str() {
            "" => None,
            c if CURRENCIES.contains(&c) => Some(c.to_owned()),
            _ => {
                problem("currency", "targets.bad_currency");
                None
            }
        };
        match (assignee, metric, amount) {
            (Some(assignee), Some(metric), Some(target)) if errors.is_empty() => Ok(Target {
                id: Uuid::nil(),
                assignee,
                period: self.period.clone(),
                metric,
                target,
                currency,
            }),
            _ => Err(errors),
        }
    }
}

/// What an administrator of users picks from.
pub struct Choices {
    pub assignee_types: Vec<(String, String)>,
    pub users: Vec<(String, String)>,
    pub teams: Vec<(String, String)>,
    pub metrics: Vec<(String, String)>,
    pub currencies: Vec<String>,
}

#[derive(Template)]
#[template(path = "targets.html")]
struct TargetsPage {
    chrome: Chrome,
    period: String,
    period_label: String,
    period_error: String,
    periods: Vec<ChoiceGroup>,
    rows: Vec<TargetRow>,
    /// For administrators of users: the form and its choices.
    form: Option<TargetForm>,
    choices: Option<Choices>,
}

fn metric_label(tr: Tr, m: Metric) -> String {
    tr.t(&format!("targets.metric_{}", m.as_str())).to_owned()
}

fn rows(
    viewer: &Viewer,
    list: &[Progress],
    users: &HashMap<Uuid, String>,
    teams: &HashMap<Uuid, String>,
) -> Vec<TargetRow> {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let unknown = |key: &str| tr.t(key).to_owned();
    list.iter()
        .map(|p| {
            let t = &p.target;
            let (assignee, kind) = match &t.assignee {
                Assignee::User { id } => (
                    users
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| unknown("value.unknown_user")),
                    String::new(),
                ),
                Assignee::Team { id } => (
                    teams
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| unknown("targets.unknown_team")),
                    unknown("targets.assignee_team"),
                ),
                Assignee::Department { name } => {
                    (name.clone(), unknown("targets.assignee_department"))
                }
                Assignee::Company => (unknown("targets.company"), String::new()),
            };
            let figure = |d: &Decimal| match (&t.currency, t.metric.is_money()) {
                (Some(c), true) => fmt.money(d, c),
                _ => fmt.number(d),
            };
            TargetRow {
                id: t.id.to_string(),
                assignee,
                kind,
                metric: metric_label(tr, t.metric),
                target: figure(&t.target),
                actual: figure(&p.actual),
                attainment: p
                    .attainment
                    .map(|a| format!("{}%", fmt.number(&a)))
                    .unwrap_or_default(),
                bar: p.attainment.map(|a| a.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

async fn choices(state: &WebState, viewer: &Viewer, teams: &[(Uuid, String)]) -> Choices {
    let tr = viewer.tr();
    let users = state
        .core
        .list_users(&viewer.actor)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "listing users for the targets form failed");
            Vec::new()
        });
    Choices {
        assignee_types: ASSIGNEE_TYPES
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    tr.t(&format!("targets.assignee_{t}")).to_owned(),
                )
            })
            .collect(),
        users: users
            .into_iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name))
            .collect(),
        teams: teams
            .iter()
            .map(|(id, n)| (id.to_string(), n.clone()))
            .collect(),
        metrics: Metric::ALL
            .iter()
            .map(|m| (m.as_str().to_owned(), metric_label(tr, *m)))
            .collect(),
        currencies: CURRENCIES.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// The page for `period`; `form` is what an administrator typed (or a blank form).
async fn render(
    state: &WebState,
    viewer: &Viewer,
    period: Period,
    period_error: String,
    form: Option<TargetForm>,
    notice: Option<String>,
) -> Result<TargetsPage, WebError> {
    let tr = viewer.tr();
    let name = period.to_string();
    let list = state
        .core
        .target_progress(&viewer.actor, &name)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let user_ids = list
        .iter()
        .filter_map(|p| match p.target.assignee {
            Assignee::User { id } => Some(id),
            _ => None,
        })
        .collect();
    let users = state
        .core
        .user_names(user_ids)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(id, u)| (id, u.name))
        .collect();
    let teams = teams::usable(state, viewer).await;
    let team_names = teams.iter().cloned().collect();
    let admin = teams::administers_users(viewer);
    let choices = if admin {
        Some(choices(state, viewer, &teams).await)
    } else {
        None
    };
    let today = agenda::today(state, viewer);
    let mut chrome =
        Chrome::new(state, viewer, tr.t("targets.title").to_owned(), "targets").with_notice(notice);
    chrome.here = format!("/targets?period={}", url_component(&name));
    Ok(TargetsPage {
        chrome,
        period_label: periods::label(tr, &period),
        periods: periods::picker(tr, today, &period),
        rows: rows(viewer, &list, &users, &team_names),
        form: admin.then(|| form.unwrap_or_else(|| TargetForm::blank(&period))),
        choices,
        period: name,
        period_error,
    })
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `GET /targets?period=2026-Q4`: the current quarter when no period is given.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pairs = query_pairs(raw.as_deref());
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    let asked = pairs
        .iter()
        .find(|(k, _)| k == "period")
        .map(|(_, v)| v.as_str());
    let today = agenda::today(&state, &viewer);
    let (period, period_error) = match periods::asked(asked, today) {
        Ok(p) => (p, String::new()),
        Err(p) => (p, tr.t("periods.bad_period").to_owned()),
    };
    let failed = !period_error.is_empty();
    let page = render(&state, &viewer, period, period_error, None, notice).await?;
    let mut response = html(page.render());
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// The page the form was posted from (its hidden `shown`), to list again beside the form.
fn shown_period(state: &WebState, viewer: &Viewer, form: &FormData) -> Period {
    let today = agenda::today(state, viewer);
    periods::asked(form.first("shown"), today).unwrap_or_else(|p| p)
}

/// `POST /targets`: sets a target (administrators of users); back to its period, or the
/// form again with each problem beside its field.
pub async fn save(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let mut typed = TargetForm::from_post(&form);
    let shown = shown_period(&state, &viewer, &form);
    let result = match typed.target(tr) {
        Ok(target) => state
            .core
            .save_target(&viewer.actor, target)
            .await
            .map_err(|e| form_errors(&viewer, e)),
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(saved) => Ok(told(
            &viewer,
            &format!("/targets?period={}", url_component(&saved.period)),
            "targets.saved",
        )),
        Err(errors) => {
            // a service error that is not about the form (refused: not an administrator)
            // is an error page
            typed.errors = errors?
                .into_iter()
                .map(|(field, message)| {
                    // the period's rule, in the viewer's language
                    let message = if field == "period" {
                        tr.t("periods.bad_period").to_owned()
                    } else {
                        message
                    };
                    (field, message)
                })
                .collect();
            let page = render(&state, &viewer, shown, String::new(), Some(typed), None).await?;
            Ok(super::html_unless(page.render(), true))
        }
    }
}

/// `POST /targets/{id}/delete` (`period`: the page to come back to): administrators of
/// users.
pub async fn delete(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let shown = shown_period(&state, &viewer, &form);
    state
        .core
        .delete_target(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(told(
        &viewer,
        &format!("/targets?period={}", url_component(&shown.to_string())),
        "targets.deleted",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn typed(assignee_type: &str, target: &str) -> TargetForm {
        TargetForm {
            assignee_type: assignee_type.into(),
            target: target.into(),
            ..TargetForm::blank(&Period::Year { year: 2026 })
        }
    }

    #[test]
    fn the_form_names_each_problem_before_asking_the_service() {
        let tr = Tr::new(Lang::En);
        let fields = |f: TargetForm| -> Vec<String> {
            f.target(tr)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        assert_eq!(fields(typed("user", "100")), ["assignee"]);
        assert_eq!(fields(typed("company", "1,000x")), ["target"]);
        let mut bad = typed("company", "1");
        bad.currency = "元".into();
        bad.metric = "revenue".into();
        assert_eq!(fields(bad), ["metric", "currency"]);
        let ok = typed("company", "3,000,000").target(tr);
        assert_eq!(ok.map(|t| t.target), Ok(Decimal::from(3_000_000)));
    }
}
