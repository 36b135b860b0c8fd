//! Receivables (应收账款): what is still owed on instalments, aged in buckets by days past due,
//! and per rep how much of what fell due came in (回款率), optionally counting only
//! instalments due from a date. relata-core computes every figure over the instalments the
//! viewer may see; this page labels and lays them out.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use relata_core::collection::{AgeingRow, Receivables, RepCollection};
use relata_domain::collection::{PLAN, STATUS};

use super::{Chrome, html};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// The bucket of amounts not yet due; every other bucket is overdue.
const NOT_DUE: &str = "current";

pub struct BucketLine {
    pub bucket: String,
    pub label: String,
    /// The overdue instalments' list, for a bucket past due that holds some.
    pub href: Option<String>,
    pub instalments: String,
    /// One amount per currency.
    pub outstanding: Vec<String>,
}

pub struct RepLine {
    pub name: String,
    pub currency: String,
    pub due: String,
    pub collected: String,
    /// In percent; empty when nothing fell due.
    pub rate: String,
}

#[derive(Template)]
#[template(path = "receivables.html")]
struct ReceivablesPage {
    chrome: Chrome,
    /// "As of …".
    as_of: String,
    /// The `since` field as typed, and what is wrong with it.
    since: String,
    since_error: String,
    /// Which instalments the collection table counts, in words.
    scope: String,
    buckets: Vec<BucketLine>,
    /// Some instalment still has money outstanding.
    outstanding: bool,
    reps: Vec<RepLine>,
}

/// The `since` of the query: none when blank, an error when it is not a date.
fn since_of(raw: &str) -> Result<Option<NaiveDate>, ()> {
    match raw.trim() {
        "" => Ok(None),
        s => s.parse().map(Some).map_err(|_| ()),
    }
}

fn buckets(viewer: &Viewer, ageing: &[AgeingRow]) -> Vec<BucketLine> {
    let tr = viewer.tr();
    // the list filters by status, which the hourly sweep keeps: every overdue instalment,
    // not only this bucket's
    let overdue = format!("/o/{PLAN}?f0={STATUS}&o0=eq&v0=overdue");
    ageing
        .iter()
        .map(|row| BucketLine {
            bucket: row.bucket.clone(),
            label: tr
                .t(&format!("receivables.bucket_{}", row.bucket))
                .to_owned(),
            href: (row.bucket != NOT_DUE && row.instalments > 0).then(|| overdue.clone()),
            instalments: viewer.fmt.integer(row.instalments),
            outstanding: row
                .outstanding
                .iter()
                .map(|(currency, amount)| viewer.fmt.money(amount, currency))
                .collect(),
        })
        .collect()
}

async fn reps(state: &WebState, viewer: &Viewer, reps: &[RepCollection]) -> Vec<RepLine> {
    let ids = reps.iter().map(|r| r.owner_id).collect();
    // a name that cannot be read is shown as an unknown user rather than failing the page
    let names = state.core.user_names(ids).await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "naming the receivables' reps failed");
        Default::default()
    });
    let fmt = &viewer.fmt;
    reps.iter()
        .map(|r| RepLine {
            name: names.get(&r.owner_id).map_or_else(
                || viewer.tr().t("value.unknown_user").to_owned(),
                |u| u.name.clone(),
            ),
            currency: r.currency.clone(),
            due: fmt.money(&r.due, &r.currency),
            collected: fmt.money(&r.collected, &r.currency),
            rate: r
                .rate
                .map(|p| format!("{}%", fmt.number(&p)))
                .unwrap_or_default(),
        })
        .collect()
}

/// `GET /receivables?since=YYYY-MM-DD`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let typed = form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "since")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    // a date that does not parse is said beside the field; the figures count all time
    let (since, since_error) = match since_of(&typed) {
        Ok(since) => (since, String::new()),
        Err(()) => (None, tr.t("receivables.bad_since").to_owned()),
    };
    let Receivables {
        as_of,
        ageing,
        reps: collected,
    } = state
        .core
        .receivables(&viewer.actor, since)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let failed = !since_error.is_empty();
    let page = ReceivablesPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.t("receivables.title").to_owned(),
            "receivables",
        ),
        as_of: tr.tf("receivables.as_of", &[("date", &viewer.fmt.date(&as_of))]),
        scope: match since {
            Some(d) => tr.tf(
                "receivables.scope_since",
                &[
                    ("from", &viewer.fmt.date(&d)),
                    ("to", &viewer.fmt.date(&as_of)),
                ],
            ),
            None => tr.tf("receivables.scope_all", &[("to", &viewer.fmt.date(&as_of))]),
        },
        since: typed,
        since_error,
        outstanding: ageing
            .iter()
            .any(|b| b.outstanding.values().any(|a| *a > Decimal::ZERO)),
        buckets: buckets(&viewer, &ageing),
        reps: reps(&state, &viewer, &collected).await,
    };
    let mut response = html(page.render());
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::since_of;

    #[test]
    fn since_is_a_date_or_nothing() {
        assert_eq!(since_of(""), Ok(None));
        assert_eq!(since_of("  "), Ok(None));
        assert_eq!(
            since_of("2026-12-01"),
            Ok(NaiveDate::from_ymd_opt(2026, 12, 1))
        );
        assert_eq!(since_of("2026-13-01"), Err(()));
        assert_eq!(since_of("yesterday"), Err(()));
    }
}
