//! The forecast (销售预测) of a period: per rep the four categories as they stand (with the
//! computed figure beside one a rep adjusted or a manager overrode), the weighted pipeline,
//! the call, the won-amount target and attainment, and the totals; per rep a form to adjust
//! a category — the rep's own adjustment on their row, an override on the rows of the people
//! a manager manages — and the history of those changes; how the forecast moved week by
//! week. relata-core decides who sees and changes what; this page lays it out.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::targets::forecast::{ADJUSTABLE, Adjustment, Forecast, TrendPoint};
use relata_domain::targets::{CategoryFigure, FORECAST_CATEGORIES, Period};

use super::inputs::field_error_text;
use super::periods::{self, ChoiceGroup};
use super::{Chrome, agenda, html, see_other, teams, url_component};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// The longest note an adjustment keeps from the form.
const MAX_NOTE: usize = 2000;

/// One category's figure in a rep's row.
pub struct Figure {
    pub standing: String,
    /// `adjusted` or `overridden` when the figure is not the computed one, else empty.
    pub changed: &'static str,
    /// "Overridden (computed ¥200,000.00)", when changed.
    pub note: String,
}

/// The adjustment form of a row the viewer may change.
pub struct AdjustForm {
    /// "Adjust" on the viewer's own row, "Override" on a row of someone they manage.
    pub label: String,
    pub is_override: bool,
    pub category: String,
    pub amount: String,
    pub note: String,
    /// The field the last attempt failed on, and why (shown in the open form).
    pub field: String,
    pub error: String,
}

pub struct RepRow {
    pub user_id: String,
    pub name: String,
    pub figures: Vec<Figure>,
    pub weighted: String,
    pub call: String,
    /// Empty when no won-amount target is set.
    pub target: String,
    pub attainment: String,
    pub history_href: String,
    pub form: Option<AdjustForm>,
}

pub struct TrendRow {
    pub taken_on: String,
    pub figures: Vec<String>,
}

/// What was typed into a row's form that the service refused.
struct Failure {
    user: Uuid,
    category: String,
    amount: String,
    note: String,
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "forecast.html")]
struct ForecastPage {
    chrome: Chrome,
    period: String,
    period_label: String,
    period_error: String,
    periods: Vec<ChoiceGroup>,
    /// The team shown (its id), or empty; and the teams to pick from.
    team: String,
    teams: Vec<(String, String)>,
    /// Whose forecast, in which currency, in words.
    scope: String,
    /// (category, label) of the four categories, and of those a form may adjust.
    categories: Vec<(String, String)>,
    adjustable: Vec<(String, String)>,
    reps: Vec<RepRow>,
    totals: Vec<String>,
    weighted: String,
    call: String,
    target: String,
    attainment: String,
    trend: Vec<TrendRow>,
    /// Why the last adjustment was refused.
    error: String,
}

/// What the page shows: a period and maybe a team.
struct Shown {
    period: Period,
    team: Option<Uuid>,
    period_error: String,
}

fn category_label(tr: Tr, category: &str) -> String {
    tr.t(&format!("forecast.category_{category}")).to_owned()
}

fn percent(viewer: &Viewer, p: Option<Decimal>) -> String {
    p.map(|p| format!("{}%", viewer.fmt.number(&p)))
        .unwrap_or_default()
}

/// The forecast page of `period` (and `team`), as a link.
pub fn href(period: &str, team: Option<Uuid>) -> String {
    let mut to = format!("/forecast?period={}", url_component(period));
    if let Some(t) = team {
        to.push_str(&format!("&team={t}"));
    }
    to
}

/// A team id from the address or a form: none when blank; a broken one matches no team.
fn team_of(raw: Option<&str>, tr: Tr) -> Result<Option<Uuid>, WebError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| WebError::NotFound(tr)),
    }
}

/// An amount as a person types it: grouping commas and spaces are dropped.
pub(crate) fn amount_of(raw: &str) -> Option<Decimal> {
    let plain: String = raw
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '，' | '_'))
        .collect();
    plain.parse().ok()
}

fn figure(viewer: &Viewer, f: &CategoryFigure, currency: &str) -> Figure {
    let fmt = &viewer.fmt;
    let tr = viewer.tr();
    let computed = fmt.money(&f.computed, currency);
    let (changed, key) = if f.overridden.is_some() {
        ("overridden", "forecast.was_overridden")
    } else if f.adjusted.is_some() {
        ("adjusted", "forecast.was_adjusted")
    } else {
        ("", "")
    };
    Figure {
        standing: fmt.money(&f.standing(), currency),
        changed,
        note: if key.is_empty() {
            String::new()
        } else {
            tr.tf(key, &[("computed", &computed)])
        },
    }
}

async fn rows(
    state: &WebState,
    viewer: &Viewer,
    f: &Forecast,
    failure: Option<&Failure>,
) -> Vec<RepRow> {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    // a name that cannot be read is shown as an unknown user rather than failing the page
    let names = state
        .core
        .user_names(f.reps.iter().map(|r| r.user_id).collect())
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "naming the forecast's reps failed");
            Default::default()
        });
    let snapshot = state.core.access_snapshot();
    let me = viewer.actor.user_id.0;
    let admin = teams::administers_users(viewer);
    f.reps
        .iter()
        .map(|r| {
            // the same rule as the service: one's own row is an adjustment, a managed
            // rep's an override; other rows offer nothing
            let is_override = if r.user_id == me {
                Some(false)
            } else if admin || teams::manages(&snapshot, me, r.user_id) {
                Some(true)
            } else {
                None
            };
            let form = is_override.map(|is_override| {
                let failed = failure.filter(|x| x.user == r.user_id);
                AdjustForm {
                    label: tr
                        .t(if is_override {
                            "forecast.override"
                        } else {
                            "forecast.adjust"
                        })
                        .to_owned(),
                    is_override,
                    category: failed.map_or_else(|| "commit".to_owned(), |x| x.category.clone()),
                    amount: failed.map(|x| x.amount.clone()).unwrap_or_default(),
                    note: failed.map(|x| x.note.clone()).unwrap_or_default(),
                    field: failed.map(|x| x.field.clone()).unwrap_or_default(),
                    error: failed.map(|x| x.message.clone()).unwrap_or_default(),
                }
            });
            RepRow {
                user_id: r.user_id.to_string(),
                name: names
                    .get(&r.user_id)
                    .map_or_else(|| tr.t("value.unknown_user").to_owned(), |u| u.name.clone()),
                figures: FORECAST_CATEGORIES
                    .iter()
                    .map(|c| match r.categories.get(*c) {
                        Some(x) => figure(viewer, x, &f.currency),
                        None => figure(viewer, &CategoryFigure::default(), &f.currency),
                    })
                    .collect(),
                weighted: fmt.money(&r.weighted, &f.currency),
                call: fmt.money(&r.call, &f.currency),
                target: r
                    .target
                    .map(|t| fmt.money(&t, &f.currency))
                    .unwrap_or_default(),
                attainment: percent(viewer, r.attainment),
                history_href: format!(
                    "/forecast/history?user={}&period={}",
                    r.user_id,
                    url_component(&f.period)
                ),
                form,
            }
        })
        .collect()
}

fn trend_rows(viewer: &Viewer, points: &[TrendPoint], currency: &str) -> Vec<TrendRow> {
    points
        .iter()
        .map(|p| TrendRow {
            taken_on: viewer.fmt.date(&p.taken_on),
            figures: FORECAST_CATEGORIES
                .iter()
                .map(|c| {
                    viewer
                        .fmt
                        .money(&p.categories.get(*c).copied().unwrap_or_default(), currency)
                })
                .collect(),
        })
        .collect()
}

/// The page for `shown`, with a notice after a change or the refusal of one.
async fn render(
    state: &WebState,
    viewer: &Viewer,
    shown: Shown,
    notice: Option<String>,
    failure: Option<Failure>,
) -> Result<ForecastPage, WebError> {
    let tr = viewer.tr();
    let name = shown.period.to_string();
    let f = state
        .core
        .forecast(&viewer.actor, &name, shown.team)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let trend = state
        .core
        .forecast_trend(&viewer.actor, &name, shown.team)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let teams = teams::usable(state, viewer).await;
    let team_name = shown
        .team
        .and_then(|t| teams.iter().find(|(id, _)| *id == t))
        .map(|(_, n)| n.clone());
    let scope = match team_name {
        Some(team) => tr.tf(
            "forecast.scope_team",
            &[("team", &team), ("currency", &f.currency)],
        ),
        None if teams::administers_users(viewer) => {
            tr.tf("forecast.scope_all", &[("currency", &f.currency)])
        }
        None => tr.tf("forecast.scope_mine", &[("currency", &f.currency)]),
    };
    let fmt = &viewer.fmt;
    let today = agenda::today(state, viewer);
    let mut chrome = Chrome::new(state, viewer, tr.t("forecast.title").to_owned(), "forecast")
        .with_notice(notice);
    // after a refused POST the language switch comes back to the page, not the action
    chrome.here = href(&name, shown.team);
    let reps = rows(state, viewer, &f, failure.as_ref()).await;
    // a refusal is said in the rep's form; at the top only when the page has no such row
    let error = match &failure {
        Some(x)
            if !reps
                .iter()
                .any(|r| r.form.as_ref().is_some_and(|f| !f.error.is_empty())) =>
        {
            x.message.clone()
        }
        _ => String::new(),
    };
    Ok(ForecastPage {
        chrome,
        period_label: periods::label(tr, &shown.period),
        periods: periods::picker(tr, today, &shown.period),
        period: name,
        period_error: shown.period_error,
        team: shown.team.map(|t| t.to_string()).unwrap_or_default(),
        teams: teams
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        scope,
        categories: FORECAST_CATEGORIES
            .iter()
            .map(|c| ((*c).to_owned(), category_label(tr, c)))
            .collect(),
        adjustable: ADJUSTABLE
            .iter()
            .map(|c| ((*c).to_owned(), category_label(tr, c)))
            .collect(),
        reps,
        totals: FORECAST_CATEGORIES
            .iter()
            .map(|c| fmt.money(&f.totals.get(*c).copied().unwrap_or_default(), &f.currency))
            .collect(),
        weighted: fmt.money(&f.weighted, &f.currency),
        call: fmt.money(&f.call, &f.currency),
        target: f
            .target
            .map(|t| fmt.money(&t, &f.currency))
            .unwrap_or_default(),
        attainment: percent(viewer, f.attainment),
        trend: trend_rows(viewer, &trend, &f.currency),
        error,
    })
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `GET /forecast?period=2026-Q4&team=ID`: the current quarter when no period is given.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pairs = query_pairs(raw.as_deref());
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    let today = agenda::today(&state, &viewer);
    // a period that does not parse is said beside the picker; the current quarter shows
    let (period, period_error) = match periods::asked(param(&pairs, "period"), today) {
        Ok(p) => (p, String::new()),
        Err(p) => (p, tr.t("periods.bad_period").to_owned()),
    };
    let failed = !period_error.is_empty();
    let shown = Shown {
        period,
        team: team_of(param(&pairs, "team"), tr)?,
        period_error,
    };
    let page = render(&state, &viewer, shown, notice, None).await?;
    let mut response = html(page.render());
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// Why the service refused an adjustment, at its field when it names one; what is not a
/// refusal is an error page.
fn refusal(viewer: &Viewer, e: CoreError) -> Result<(StatusCode, String, String), WebError> {
    let tr = viewer.tr();
    match e {
        CoreError::Validation(list) => {
            let field = list.first().map(|e| e.field.clone()).unwrap_or_default();
            let text = list
                .iter()
                .map(|e| field_error_text(tr, e))
                .collect::<Vec<_>>()
                .join(" ");
            Ok((StatusCode::UNPROCESSABLE_ENTITY, field, text))
        }
        // the service's reason is in English: the page says it in the viewer's language
        CoreError::Forbidden { .. } => Ok((
            StatusCode::FORBIDDEN,
            String::new(),
            tr.t("forecast.not_allowed").to_owned(),
        )),
        other => Err(WebError::core(other, tr)),
    }
}

/// `POST /forecast/adjust` (`user`, `period`, `team`, `category`, `amount`, `note`): the
/// viewer's adjustment of their own figure or their override of a rep they manage; back to
/// the forecast, or the forecast again with the refusal in the rep's form.
pub async fn adjust(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let user = form
        .first("user")
        .and_then(|u| Uuid::parse_str(u.trim()).ok())
        .ok_or(WebError::NotFound(tr))?;
    let today = agenda::today(&state, &viewer);
    // the period comes from the page's own hidden field: a broken one is a broken form
    let period = periods::asked(form.first("period"), today)
        .map_err(|_| WebError::BadRequest(tr, tr.t("periods.bad_period").to_owned()))?;
    let team = team_of(form.first("team"), tr)?;
    let typed = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
    let mut failure = Failure {
        user,
        category: typed("category"),
        amount: typed("amount"),
        note: typed("note"),
        field: String::new(),
        message: String::new(),
    };
    let shown = |period| Shown {
        period,
        team,
        period_error: String::new(),
    };
    let Some(amount) = amount_of(&failure.amount) else {
        failure.field = "amount".into();
        failure.message = tr.tf(
            "forecast.adjust_failed",
            &[("reason", tr.t("forecast.bad_amount"))],
        );
        let page = render(&state, &viewer, shown(period), None, Some(failure)).await?;
        return Ok(super::html_unless(page.render(), true));
    };
    let note = note_of(&form);
    match state
        .core
        .adjust_forecast(
            &viewer.actor,
            user,
            &period.to_string(),
            &failure.category,
            amount,
            note,
        )
        .await
    {
        Ok(a) => Ok(see_other(&crate::notice::redirect_with(
            &viewer.csrf,
            &href(&period.to_string(), team),
            &changed(&state, &viewer, &a).await,
        ))),
        Err(e) => {
            let (status, field, reason) = refusal(&viewer, e)?;
            failure.field = field;
            failure.message = tr.tf("forecast.adjust_failed", &[("reason", &reason)]);
            let page = render(&state, &viewer, shown(period), None, Some(failure)).await?;
            let mut response = html(page.render());
            *response.status_mut() = status;
            Ok(response)
        }
    }
}

fn note_of(form: &FormData) -> Option<String> {
    form.text("note")
        .map(|n| n.chars().take(MAX_NOTE).collect())
}

/// "李雷's commit is now ¥150,000.00 (adjusted)." after a change.
async fn changed(state: &WebState, viewer: &Viewer, a: &Adjustment) -> String {
    let tr = viewer.tr();
    let who = state
        .core
        .user_names(vec![a.user_id])
        .await
        .ok()
        .and_then(|n| n.get(&a.user_id).map(|u| u.name.clone()))
        .unwrap_or_else(|| tr.t("value.unknown_user").to_owned());
    tr.tf(
        if a.is_override {
            "forecast.overridden"
        } else {
            "forecast.adjusted"
        },
        &[
            ("who", &who),
            ("category", &category_label(tr, &a.category)),
            ("amount", &viewer.fmt.money(&a.amount, &a.currency)),
        ],
    )
}

// ---------------------------------------------------------------------------------------
// a rep's history

pub struct HistoryRow {
    pub at: String,
    pub by: String,
    pub category: String,
    pub amount: String,
    pub is_override: bool,
    pub kind: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "forecast_history.html")]
struct HistoryPage {
    chrome: Chrome,
    heading: String,
    back: String,
    rows: Vec<HistoryRow>,
}

/// `GET /forecast/history?user=ID&period=2026-Q4`: every adjustment and override of a rep's
/// forecast for the period, oldest first — for the rep, their managers and administrators.
pub async fn history(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pairs = query_pairs(raw.as_deref());
    let user = param(&pairs, "user")
        .and_then(|u| Uuid::parse_str(u.trim()).ok())
        .ok_or(WebError::NotFound(tr))?;
    let today = agenda::today(&state, &viewer);
    let period = periods::asked(param(&pairs, "period"), today)
        .map_err(|_| WebError::BadRequest(tr, tr.t("periods.bad_period").to_owned()))?;
    let name = period.to_string();
    let list = state
        .core
        .forecast_history(&viewer.actor, user, &name)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let mut people: Vec<Uuid> = list.iter().map(|a| a.by_user).collect();
    people.push(user);
    let names = state.core.user_names(people).await.unwrap_or_default();
    let name_of = |u: &Uuid| {
        names
            .get(u)
            .map(|b| b.name.clone())
            .unwrap_or_else(|| tr.t("value.unknown_user").to_owned())
    };
    let page = HistoryPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("forecast.history").to_owned(),
            "forecast",
        ),
        heading: tr.tf(
            "forecast.history_of",
            &[
                ("name", &name_of(&user)),
                ("period", &periods::label(tr, &period)),
            ],
        ),
        back: href(&name, None),
        rows: list
            .iter()
            .map(|a| HistoryRow {
                at: viewer.fmt.datetime(&a.at),
                by: name_of(&a.by_user),
                category: category_label(tr, &a.category),
                amount: viewer.fmt.money(&a.amount, &a.currency),
                is_override: a.is_override,
                kind: tr
                    .t(if a.is_override {
                        "forecast.kind_override"
                    } else {
                        "forecast.kind_adjustment"
                    })
                    .to_owned(),
                note: a.note.clone().unwrap_or_default(),
            })
            .collect(),
    };
    Ok(html(page.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_typed() {
        assert_eq!(amount_of("150,000"), Some(Decimal::from(150_000)));
        assert_eq!(amount_of(" 1 234.5 "), "1234.5".parse().ok());
        assert_eq!(amount_of("十万"), None);
        assert_eq!(amount_of(""), None);
    }

    #[test]
    fn the_link_keeps_the_team() {
        let t = Uuid::nil();
        assert_eq!(href("2026-Q4", None), "/forecast?period=2026-Q4");
        assert_eq!(
            href("2026-Q4", Some(t)),
            format!("/forecast?period=2026-Q4&team={t}")
        );
    }
}
