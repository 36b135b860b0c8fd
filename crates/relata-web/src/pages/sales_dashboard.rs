//! The sales dashboard (销售仪表盘, issue 9): one pipeline by stage with its money and how
//! deals convert from stage to stage, activities per rep, leads by source, and how old the
//! open deals are, over a period the viewer picks. relata-core computes every figure over
//! what the viewer may see; this page only chooses, labels and lays them out.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use relata_core::dashboard::{MAX_DAYS, SalesDashboard};
use relata_core::fields;
use relata_domain::access::Operation;
use relata_domain::lead;
use relata_domain::meta::ObjectDef;
use relata_domain::opportunity::pipeline::{PIPELINE, is_closed};
use relata_domain::opportunity::{self, LOST, STAGE};

use super::charts::{self, Chart};
use super::{Chrome, html, url_component};
use crate::error::WebError;
use crate::format::sum_in;
use crate::session::Viewer;
use crate::state::WebState;

/// The periods offered, in days; another asked for in the address is offered too.
const PERIODS: [u32; 4] = [30, 90, 180, 365];
const DEFAULT_DAYS: u32 = 90;

pub struct StageLine {
    pub label: String,
    pub href: String,
    pub count: String,
    pub amount: String,
    pub weighted: String,
}

pub struct FunnelLine {
    pub label: String,
    pub reached: String,
    /// From the stage before, in percent; empty for the first stage.
    pub conversion: String,
}

pub struct RepLine {
    pub name: String,
    pub tasks_done: String,
    pub calls: String,
    pub meetings_held: String,
    pub notes: String,
    pub total: String,
}

pub struct SourceLine {
    pub label: String,
    pub leads: String,
    pub converted: String,
    pub conversion: String,
}

pub struct AgeLine {
    pub label: String,
    pub count: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "sales_dashboard.html")]
struct SalesDashboardPage {
    chrome: Chrome,
    /// The pipelines to choose from (name, label), and the one shown.
    pipelines: Vec<(String, String)>,
    pipeline: String,
    /// Which pipeline and since when, in words.
    scope: String,
    periods: Vec<(u32, String)>,
    days: u32,
    board_href: String,
    /// The viewer may read opportunities, and their amounts.
    deals: bool,
    amounts: bool,
    stages: Vec<StageLine>,
    /// Always there; an `Option` so the template can bind it as `chart.html`'s `chart`.
    amount_chart: Option<Chart>,
    funnel: Vec<FunnelLine>,
    funnel_chart: Option<Chart>,
    reps: Vec<RepLine>,
    leads: bool,
    sources: Vec<SourceLine>,
    ageing: Vec<AgeLine>,
    width: u32,
}

/// The period asked for: none means the default, anything else must be a whole number of
/// days the service accepts.
fn period(asked: Option<&str>) -> Option<u32> {
    match asked {
        None => Some(DEFAULT_DAYS),
        Some(s) => s
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d)),
    }
}

fn percent(viewer: &Viewer, pct: Decimal) -> String {
    format!("{}%", viewer.fmt.number(&pct.round_dp(1)))
}

/// `part` of `whole` in percent; empty when there is no whole.
fn share(viewer: &Viewer, part: i64, whole: i64) -> String {
    if whole == 0 {
        return String::new();
    }
    percent(
        viewer,
        Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole),
    )
}

fn pipelines(state: &WebState, viewer: &Viewer, object: &ObjectDef) -> Vec<(String, String)> {
    let tr = viewer.tr();
    let all = state
        .core
        .pipelines()
        .map(|p| p.pipelines)
        .unwrap_or_default();
    all.into_iter()
        .map(|p| {
            let label = match object.field(PIPELINE) {
                Some(f) => tr.pick_label(object, f, &p.name),
                None => p.label.clone(),
            };
            (p.name, label)
        })
        .collect()
}

/// The stage table, the chart of the open stages' amounts, and the conversion funnel.
fn stages(
    viewer: &Viewer,
    object: &ObjectDef,
    d: &SalesDashboard,
    currency: &str,
    board_href: &str,
) -> (Vec<StageLine>, Chart, Vec<FunnelLine>, Chart) {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let label = |value: &str, fallback: &str| match object.field(STAGE) {
        Some(f) => tr.pick_label(object, f, value),
        None => fallback.to_owned(),
    };
    let mut lines = Vec::new();
    let mut amounts = Vec::new();
    let mut funnel = Vec::new();
    let mut reached = Vec::new();
    for s in &d.stages {
        let name = label(&s.stage, &s.label);
        let href = format!("{board_href}#col-{}", s.stage);
        let amount = fmt.money_total(&s.amounts, currency);
        if !is_closed(&s.stage) {
            let value = sum_in(&s.amounts, currency).to_f64().unwrap_or(0.0);
            amounts.push((name.clone(), value, amount.clone(), Some(href.clone())));
        }
        if s.stage != LOST {
            let conversion = s.conversion.map(|c| percent(viewer, c)).unwrap_or_default();
            let text = match conversion.as_str() {
                "" => fmt.integer(s.reached),
                pct => format!("{} · {pct}", fmt.integer(s.reached)),
            };
            reached.push((name.clone(), s.reached as f64, text, None));
            funnel.push(FunnelLine {
                label: name.clone(),
                reached: fmt.integer(s.reached),
                conversion,
            });
        }
        lines.push(StageLine {
            label: name,
            href,
            count: fmt.integer(s.count),
            amount,
            weighted: fmt.money_total(&s.weighted, currency),
        });
    }
    let chart = |key: &str, items: Vec<(String, f64, String, Option<String>)>| {
        let empty = items.iter().all(|i| i.1 == 0.0);
        let (bars, height) = charts::horizontal(items);
        Chart {
            title: tr.t(key).to_owned(),
            href: None,
            bars,
            height,
            empty,
        }
    };
    (
        lines,
        chart("sales_dashboard.amount_chart", amounts),
        funnel,
        chart("sales_dashboard.funnel_chart", reached),
    )
}

async fn reps(state: &WebState, viewer: &Viewer, d: &SalesDashboard) -> Vec<RepLine> {
    let ids = d.activities.iter().map(|a| a.user_id).collect();
    // a name that cannot be read is shown as an unknown user rather than failing the page
    let names = state.core.user_names(ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "naming the dashboard's reps failed");
        Default::default()
    });
    let fmt = &viewer.fmt;
    d.activities
        .iter()
        .map(|a| RepLine {
            name: names.get(&a.user_id).map_or_else(
                || viewer.tr().t("value.unknown_user").to_owned(),
                |u| u.name.clone(),
            ),
            tasks_done: fmt.integer(a.tasks_done),
            calls: fmt.integer(a.calls),
            meetings_held: fmt.integer(a.meetings_held),
            notes: fmt.integer(a.notes),
            total: fmt.integer(a.tasks_done + a.calls + a.meetings_held + a.notes),
        })
        .collect()
}

fn sources(state: &WebState, viewer: &Viewer, d: &SalesDashboard) -> Vec<SourceLine> {
    let tr = viewer.tr();
    let object = state.core.object(lead::OBJECT).ok();
    let field = object.as_ref().and_then(|o| o.field("source"));
    d.lead_sources
        .iter()
        .map(|s| SourceLine {
            label: match (&s.source, &object, field) {
                (Some(v), Some(o), Some(f)) => tr.pick_label(o, f, v),
                (Some(v), _, _) => v.clone(),
                (None, _, _) => tr.t("sales_dashboard.no_source").to_owned(),
            },
            leads: viewer.fmt.integer(s.leads),
            converted: viewer.fmt.integer(s.converted),
            conversion: share(viewer, s.converted, s.leads),
        })
        .collect()
}

fn ageing(viewer: &Viewer, d: &SalesDashboard, currency: &str) -> Vec<AgeLine> {
    let tr = viewer.tr();
    d.ageing
        .iter()
        .map(|a| {
            let from = a.from_days.to_string();
            AgeLine {
                label: match a.to_days {
                    Some(to) => tr.tf(
                        "sales_dashboard.age_range",
                        &[("from", &from), ("to", &to.to_string())],
                    ),
                    None => tr.tf("sales_dashboard.age_over", &[("from", &from)]),
                },
                count: viewer.fmt.integer(a.count),
                amount: viewer.fmt.money_total(&a.amounts, currency),
            }
        })
        .collect()
}

/// `GET /dashboard/sales?pipeline=NAME&days=N`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |k: &str| {
        pairs
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let days = period(param("days")).ok_or_else(|| {
        WebError::BadRequest(
            tr,
            tr.tf(
                "sales_dashboard.bad_days",
                &[("max", &viewer.fmt.integer(i64::from(MAX_DAYS)))],
            ),
        )
    })?;
    let d = state
        .core
        .sales_dashboard(&viewer.actor, param("pipeline"), days)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let object = state
        .core
        .object(opportunity::OBJECT)
        .map_err(|e| WebError::core(e, tr))?;
    let currency = state.core.parse_context().default_currency;
    let board_href = format!(
        "/o/{}/board?by={STAGE}&pipeline={}",
        opportunity::OBJECT,
        url_component(&d.pipeline.name)
    );
    let (stage_lines, amount_chart, funnel, funnel_chart) =
        stages(&viewer, &object, &d, &currency, &board_href);
    let mut periods = PERIODS.to_vec();
    if !periods.contains(&days) {
        periods.push(days);
        periods.sort_unstable();
    }
    let pipelines = pipelines(&state, &viewer, &object);
    let pipeline_label = pipelines
        .iter()
        .find(|(n, _)| *n == d.pipeline.name)
        .map_or_else(|| d.pipeline.label.clone(), |(_, l)| l.clone());
    let since = viewer
        .fmt
        .date(&d.since.with_timezone(&viewer.fmt.tz).date_naive());
    let deals = viewer.actor.may(opportunity::OBJECT, Operation::Read);
    let page = SalesDashboardPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("sales_dashboard.title").to_owned(),
            "sales_dashboard",
        ),
        scope: tr.tf(
            "sales_dashboard.scope",
            &[("pipeline", &pipeline_label), ("date", &since)],
        ),
        pipelines,
        pipeline: d.pipeline.name.clone(),
        periods: periods
            .into_iter()
            .map(|n| {
                let label = tr.tf(
                    "sales_dashboard.last_days",
                    &[("n", &viewer.fmt.integer(i64::from(n)))],
                );
                (n, label)
            })
            .collect(),
        days,
        board_href,
        deals,
        amounts: deals && fields::readable(&viewer.actor, &object, "amount"),
        stages: stage_lines,
        amount_chart: Some(amount_chart),
        funnel,
        funnel_chart: Some(funnel_chart),
        reps: reps(&state, &viewer, &d).await,
        leads: viewer.actor.may(lead::OBJECT, Operation::Read),
        sources: sources(&state, &viewer, &d),
        ageing: ageing(&viewer, &d, &currency),
        width: charts::WIDTH,
    };
    Ok(html(page.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_whole_number_of_days_the_service_takes() {
        assert_eq!(period(None), Some(DEFAULT_DAYS));
        assert_eq!(period(Some("7")), Some(7));
        assert_eq!(period(Some("0")), None);
        assert_eq!(period(Some("x")), None);
        assert_eq!(period(Some("-30")), None);
        assert_eq!(period(Some(&(MAX_DAYS + 1).to_string())), None);
    }
}
