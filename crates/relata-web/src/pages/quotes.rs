//! Quotes (报价单) and a deal's products on the record page: the lines of a quote or a deal
//! with what they sell and for how much, and their totals under them; "Revise", which makes
//! the next version of a quote whose content is fixed and opens it.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use relata_core::fields;
use relata_core::records::ListRequest;
use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::ObjectDef;
use relata_domain::pricing::{
    self, DISCOUNT, OPPORTUNITY_ID, QUANTITY, QUOTE_ID, SUBTOTAL, TAX_AMOUNT, TOTAL, UNIT_PRICE,
};
use relata_domain::{Record, Value};

use super::cells::{Names, cell};
use super::{readable_object, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Rows of a list of priced lines on the page: all of a quote's or a deal's, within reason.
pub const LINE_ROWS: usize = 50;

/// The columns of a list of priced lines.
const LINE_COLUMNS: &[&str] = &["name", QUANTITY, UNIT_PRICE, DISCOUNT, SUBTOTAL, TOTAL];

/// A quote's totals, as its page shows them under its lines.
const QUOTE_TOTALS: &[&str] = &[SUBTOTAL, "header_discount_amount", TAX_AMOUNT, TOTAL];

/// A deal's products' totals.
const LINE_TOTALS: &[&str] = &[SUBTOTAL, TAX_AMOUNT, TOTAL];

pub const SUPERSEDED_AT: &str = "superseded_at";
pub const PREVIOUS: &str = "previous_version_id";

/// The columns `child` shows under its parent when it is a list of priced lines (a deal's
/// products by `opportunity_id`, a quote's lines by `quote_id`).
pub fn line_columns(child: &ObjectDef, via: &str) -> Option<&'static [&'static str]> {
    let priced = (child.name() == pricing::LINE_ITEM && via == OPPORTUNITY_ID)
        || (child.name() == pricing::QUOTE_LINE && via == QUOTE_ID);
    (child.standard && priced).then_some(LINE_COLUMNS)
}

fn text<'a>(record: &'a Record, field: &str) -> &'a str {
    match record.get(field) {
        Value::Text(t) => t,
        _ => "",
    }
}

/// A newer version replaced the quote.
pub fn superseded(quote: &Record) -> bool {
    !quote.get(SUPERSEDED_AT).is_null()
}

/// A quote whose content is fixed — in approval, approved, sent, accepted or declined — and
/// changes only through a new version (the write path's own rule).
pub fn locked(quote: &Record) -> bool {
    relata_core::records::quotes::locked_because(quote).is_some()
}

/// Whether lines may be added under `parent`: not to a quote that is fixed or replaced.
pub fn lines_open(parent: &ObjectDef, record: &Record, child: &ObjectDef) -> bool {
    !(parent.standard
        && parent.name() == pricing::QUOTE
        && child.name() == pricing::QUOTE_LINE
        && (locked(record) || superseded(record)))
}

/// The totals under a list of priced lines: a quote's own (subtotal, header discount, tax,
/// total); a deal's products' summed in the database, per currency.
pub async fn line_totals(
    state: &WebState,
    viewer: &Viewer,
    parent: &ObjectDef,
    record: &Record,
    child: &ObjectDef,
    via: &str,
) -> Vec<(String, String)> {
    let tr = viewer.tr();
    if child.name() == pricing::QUOTE_LINE {
        let shown: Vec<_> = QUOTE_TOTALS
            .iter()
            .filter_map(|n| parent.field(n))
            .filter(|f| fields::readable(&viewer.actor, parent, f.name()))
            .filter(|f| !record.get(f.name()).is_null())
            .collect();
        let names = Names::default();
        return shown
            .into_iter()
            .map(|f| {
                (
                    tr.field_label(parent, f),
                    cell(viewer, parent, f, record, &names).text,
                )
            })
            .collect();
    }
    let Some(id) = record.id() else {
        return Vec::new();
    };
    let mut totals = Vec::new();
    for name in LINE_TOTALS {
        let Some(field) = child.field(name) else {
            continue;
        };
        if !fields::readable(&viewer.actor, child, name) {
            continue;
        }
        let filter = Filter::Cond {
            field: via.to_owned(),
            op: Op::Eq,
            value: json!(id.to_string()),
        };
        let sums = match state
            .core
            .aggregate(&viewer.actor, child.name(), via, Some(name), Some(filter))
            .await
        {
            Ok((_, groups)) => groups
                .buckets
                .into_iter()
                .flat_map(|b| b.sums)
                .collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = ?e, object = child.name(), "totalling lines failed");
                continue;
            }
        };
        // one figure per currency (a deal's lines are in its currency: one, as a rule)
        let mut by_currency: Vec<(String, rust_decimal::Decimal)> = Vec::new();
        for (currency, amount) in sums {
            match by_currency.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += amount,
                None => by_currency.push((currency, amount)),
            }
        }
        let text = by_currency
            .iter()
            .map(|(c, a)| viewer.fmt.money(a, c))
            .collect::<Vec<_>>()
            .join(" + ");
        totals.push((tr.field_label(child, field), text));
    }
    totals
}

/// The page of the version that replaced quote `id`, if the viewer may see it.
pub async fn newer_version(state: &WebState, viewer: &Viewer, id: Uuid) -> Option<String> {
    let request = ListRequest {
        filter: Some(Filter::Cond {
            field: PREVIOUS.to_owned(),
            op: Op::Eq,
            value: json!(id.to_string()),
        }),
        limit: Some(1),
        ..ListRequest::default()
    };
    match state
        .core
        .list_records(&viewer.actor, pricing::QUOTE, request)
        .await
    {
        Ok((_, page)) => page
            .records
            .first()
            .and_then(Record::id)
            .map(|newer| format!("/o/{}/{newer}", pricing::QUOTE)),
        Err(e) => {
            tracing::warn!(error = ?e, "finding a quote's newer version failed");
            None
        }
    }
}

/// Whether the viewer may revise `quote` now: it is fixed, not replaced nor in approval
/// (recalled first), and they may edit it and create quotes.
pub fn may_revise(viewer: &Viewer, quote: &Record, may_edit: bool) -> bool {
    may_edit
        && viewer.actor.may(pricing::QUOTE, Operation::Create)
        && locked(quote)
        && !superseded(quote)
        && text(quote, "approval_status") != "pending"
}

/// "Revise": the next version of the quote, a draft with its lines copied, opened at once.
pub async fn revise(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    if object.name() != pricing::QUOTE || !object.standard {
        return Err(WebError::NotFound(tr));
    }
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    match state.core.revise_quote(&viewer.actor, id, json!({})).await {
        Ok(new) => {
            let new_id = new.id().ok_or(WebError::Internal(tr))?;
            let version = match new.get("quote_version") {
                Value::Int(v) => v.to_string(),
                _ => String::new(),
            };
            Ok(see_other(&crate::notice::redirect_with(
                &viewer.csrf,
                &format!("/o/{}/{new_id}", pricing::QUOTE),
                &tr.tf("quotes.revised", &[("version", &version)]),
            )))
        }
        Err(e) => {
            super::approvals::refused(
                &state,
                &viewer,
                object.name(),
                id,
                tr.t("quotes.revise_failed"),
                e,
            )
            .await
        }
    }
}
