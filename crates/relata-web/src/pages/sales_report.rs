//! The sales report (销售报表) over a date range: revenue won by month (a table and a bar
//! chart), by rep and by product, the product mix by category with each one's share, and
//! collection against plan by month with the rate. relata-core adds up exactly what the
//! viewer may see, in the roll-up currency; this page picks the range and lays it out.
//!
//! The form's "to" is the last day counted (inclusive), as people read a range; the service
//! takes the day after it.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use relata_core::sales_reports::{MAX_DAYS, SalesReport};

use super::charts::{self, Chart};
use super::periods::month_label;
use super::{Chrome, agenda, html};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

pub struct WonRow {
    pub label: String,
    pub deals: String,
    pub amount: String,
}

pub struct ProductLine {
    pub name: String,
    pub quantity: String,
    pub amount: String,
}

pub struct MixLine {
    pub name: String,
    pub amount: String,
    /// In percent ("100%"), and as the bar's value; empty without a total.
    pub share: String,
    pub bar: String,
}

pub struct CollectionLine {
    pub label: String,
    pub planned: String,
    pub collected: String,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "sales_report.html")]
struct SalesReportPage {
    chrome: Chrome,
    /// The range as the form shows it: first and last day, inclusive.
    from: String,
    to: String,
    from_error: String,
    to_error: String,
    scope: String,
    months: Vec<WonRow>,
    /// Always there; an `Option` so the template can bind it as `chart.html`'s `chart`.
    month_chart: Option<Chart>,
    width: u32,
    /// Some deal was won in the range.
    won: bool,
    reps: Vec<WonRow>,
    products: Vec<ProductLine>,
    mix: Vec<MixLine>,
    collection: Vec<CollectionLine>,
}

/// The range asked for and what is wrong with it, per field.
#[derive(Debug, PartialEq)]
struct Range {
    from: NaiveDate,
    /// The last day counted.
    last: NaiveDate,
    from_error: Option<&'static str>,
    to_error: Option<&'static str>,
}

/// The range of `from` and `to` (inclusive), the year so far by default; a part that does
/// not parse, or a range the service refuses, falls back to the default and says why.
fn range(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Range {
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let day = |raw: Option<&str>, default: NaiveDate| match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => s.parse::<NaiveDate>().map_err(|_| default),
    };
    let (from, from_error) = match day(from, year_start) {
        Ok(d) => (d, None),
        Err(d) => (d, Some("sales_report.bad_date")),
    };
    let (last, to_error) = match day(to, today) {
        Ok(d) => (d, None),
        Err(d) => (d, Some("sales_report.bad_date")),
    };
    let problem = if last < from {
        Some("sales_report.bad_order")
    } else if (last - from).num_days() + 1 > MAX_DAYS {
        Some("sales_report.too_long")
    } else {
        None
    };
    match problem {
        Some(key) if to_error.is_none() && from_error.is_none() => Range {
            from: year_start,
            last: today,
            from_error: None,
            to_error: Some(key),
        },
        Some(_) => Range {
            from: year_start,
            last: today,
            from_error,
            to_error,
        },
        None => Range {
            from,
            last,
            from_error,
            to_error,
        },
    }
}

/// Every month the range touches, as the report keys them (`2026-12`).
fn months_of(from: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = from.with_day(1).unwrap_or(from);
    while day <= last {
        out.push(format!("{:04}-{:02}", day.year(), day.month()));
        match day.checked_add_months(chrono::Months::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

fn percent(viewer: &Viewer, p: Option<Decimal>) -> String {
    p.map(|p| format!("{}%", viewer.fmt.number(&p)))
        .unwrap_or_default()
}

fn by_month(viewer: &Viewer, r: &SalesReport, last: NaiveDate) -> (Vec<WonRow>, Chart) {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for key in months_of(r.from, last) {
        let won = r.won_by_month.get(&key).cloned().unwrap_or_default();
        let label = month_label(tr, &key);
        let amount = fmt.money(&won.amount, &r.currency);
        bars.push((
            label.clone(),
            won.amount.to_f64().unwrap_or(0.0),
            amount.clone(),
            None,
        ));
        rows.push(WonRow {
            label,
            deals: fmt.integer(won.deals),
            amount,
        });
    }
    let empty = bars.iter().all(|b| b.1 == 0.0);
    let (bars, height) = charts::horizontal(bars);
    let chart = Chart {
        title: tr.t("sales_report.won_chart").to_owned(),
        href: None,
        bars,
        height,
        empty,
    };
    (rows, chart)
}

async fn by_rep(state: &WebState, viewer: &Viewer, r: &SalesReport) -> Vec<WonRow> {
    // a name that cannot be read is shown as an unknown user rather than failing the page
    let names = state
        .core
        .user_names(r.won_by_rep.keys().copied().collect())
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "naming the sales report's reps failed");
            Default::default()
        });
    let mut reps: Vec<_> = r.won_by_rep.iter().collect();
    reps.sort_by_key(|r| std::cmp::Reverse(r.1.amount));
    reps.into_iter()
        .map(|(id, won)| WonRow {
            label: names.get(id).map_or_else(
                || viewer.tr().t("value.unknown_user").to_owned(),
                |u| u.name.clone(),
            ),
            deals: viewer.fmt.integer(won.deals),
            amount: viewer.fmt.money(&won.amount, &r.currency),
        })
        .collect()
}

fn products(viewer: &Viewer, r: &SalesReport) -> (Vec<ProductLine>, Vec<MixLine>) {
    let fmt = &viewer.fmt;
    let lines = r
        .won_by_product
        .iter()
        .map(|p| ProductLine {
            name: p.name.clone(),
            quantity: fmt.number(&p.quantity),
            amount: fmt.money(&p.amount, &r.currency),
        })
        .collect();
    let mix = r
        .product_mix
        .iter()
        .map(|m| MixLine {
            name: match (m.category_id, m.name.trim()) {
                (None, _) => viewer.tr().t("sales_report.no_category").to_owned(),
                (Some(_), "") => viewer.tr().t("sales_report.unnamed_category").to_owned(),
                (Some(_), name) => name.to_owned(),
            },
            amount: fmt.money(&m.amount, &r.currency),
            share: percent(viewer, m.share),
            bar: m.share.map(|s| s.to_string()).unwrap_or_default(),
        })
        .collect();
    (lines, mix)
}

fn collection(viewer: &Viewer, r: &SalesReport) -> Vec<CollectionLine> {
    let fmt = &viewer.fmt;
    r.collection_by_month
        .iter()
        .map(|(key, m)| CollectionLine {
            label: month_label(viewer.tr(), key),
            planned: fmt.money(&m.planned, &r.currency),
            collected: fmt.money(&m.collected, &r.currency),
            rate: percent(viewer, m.rate),
        })
        .collect()
}

/// `GET /reports/sales?from=2026-01-01&to=2026-12-31` (both days counted): the year so far
/// when none is given.
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
    let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let today = agenda::today(&state, &viewer);
    let asked = range(param("from"), param("to"), today);
    let failed = asked.from_error.is_some() || asked.to_error.is_some();
    // the service counts up to the day after the last one
    let to = asked
        .last
        .checked_add_days(Days::new(1))
        .unwrap_or(asked.last);
    let report = state
        .core
        .sales_report(&viewer.actor, asked.from, to)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let (months, chart) = by_month(&viewer, &report, asked.last);
    let (products, mix) = products(&viewer, &report);
    let error = |key: Option<&str>| {
        key.map(|k| tr.tf(k, &[("max", &viewer.fmt.integer(MAX_DAYS))]))
            .unwrap_or_default()
    };
    let page = SalesReportPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("sales_report.title").to_owned(),
            "sales_report",
        ),
        from: asked.from.to_string(),
        to: asked.last.to_string(),
        from_error: error(asked.from_error),
        to_error: error(asked.to_error),
        scope: tr.tf(
            "sales_report.scope",
            &[
                ("from", &viewer.fmt.date(&asked.from)),
                ("to", &viewer.fmt.date(&asked.last)),
                ("currency", &report.currency),
            ],
        ),
        won: !report.won_by_month.is_empty(),
        months,
        month_chart: Some(chart),
        width: charts::WIDTH,
        reps: by_rep(&state, &viewer, &report).await,
        products,
        mix,
        collection: collection(&viewer, &report),
    };
    let mut response = html(page.render());
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_range_is_the_year_so_far_unless_asked() {
        let today = day(2026, 12, 7);
        let r = range(None, None, today);
        assert_eq!((r.from, r.last), (day(2026, 1, 1), today));
        let r = range(Some("2026-10-01"), Some("2026-12-31"), today);
        assert_eq!((r.from, r.last), (day(2026, 10, 1), day(2026, 12, 31)));
        assert_eq!((r.from_error, r.to_error), (None, None));
        // a single day is a range
        let r = range(Some("2026-12-01"), Some("2026-12-01"), today);
        assert_eq!((r.from, r.last), (day(2026, 12, 1), day(2026, 12, 1)));
    }

    #[test]
    fn a_bad_range_says_why_and_shows_the_default() {
        let today = day(2026, 12, 7);
        let r = range(Some("2026-13-01"), None, today);
        assert_eq!(r.from_error, Some("sales_report.bad_date"));
        assert_eq!(r.from, day(2026, 1, 1));
        let r = range(Some("2026-12-31"), Some("2026-10-01"), today);
        assert_eq!(r.to_error, Some("sales_report.bad_order"));
        assert_eq!((r.from, r.last), (day(2026, 1, 1), today));
        let r = range(Some("2020-01-01"), Some("2026-01-01"), today);
        assert_eq!(r.to_error, Some("sales_report.too_long"));
    }

    #[test]
    fn every_month_of_the_range_is_listed() {
        assert_eq!(
            months_of(day(2026, 10, 15), day(2027, 1, 1)),
            ["2026-10", "2026-11", "2026-12", "2027-01"]
        );
        assert_eq!(months_of(day(2026, 12, 1), day(2026, 12, 1)), ["2026-12"]);
    }
}
