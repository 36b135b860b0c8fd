//! Contracts (合同) on the record pages: "Create contract" on a won deal or an accepted quote,
//! which makes a draft contract from it and opens it; and the columns a contract's payment
//! plan (回款计划), payments (回款记录) and invoices (开票) show under it. The rules — which deal
//! or quote may become a contract, what it copies — are the write path's; this module only
//! offers the action and says why one was refused.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::collection::ContractSource;
use relata_domain::access::Operation;
use relata_domain::collection::{
    AMOUNT, CONTRACT, CONTRACT_ID, DUE_DATE, INVOICE, NUMBER, OUTSTANDING, PAID, PAYMENT,
    PAYMENT_DATE, PLAN, PLAN_ID, STATUS,
};
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode as Code, Record, Value, opportunity, pricing};

use super::inputs::field_error_text;
use super::{readable_object, see_other};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// The status a quote must have to become a contract.
const ACCEPTED: &str = "accepted";
/// A quote's status field (the same name as a contract's, but the quote's own flow).
const QUOTE_STATUS: &str = "status";

/// A contract's instalments: when each is due, for how much, how much came in.
const PLAN_COLUMNS: &[&str] = &["name", DUE_DATE, AMOUNT, PAID, OUTSTANDING, STATUS];
/// A contract's payments, with the instalment each was for when it named one.
const PAYMENT_COLUMNS: &[&str] = &["name", PAYMENT_DATE, AMOUNT, "method", PLAN_ID];
/// The payments of one instalment: the instalment is the page they are on.
const INSTALMENT_PAYMENT_COLUMNS: &[&str] = &["name", PAYMENT_DATE, AMOUNT, "method"];
const INVOICE_COLUMNS: &[&str] = &["name", "invoice_type", STATUS, AMOUNT, "issue_date"];

fn is(object: &ObjectDef, name: &str) -> bool {
    object.standard && object.name() == name
}

/// The columns `child` shows in a related list through its lookup `via`, when it is a part
/// of a contract (instalments, payments, invoices); other lists choose their own.
pub fn related_columns(child: &ObjectDef, via: &str) -> Option<&'static [&'static str]> {
    if !child.standard {
        return None;
    }
    match (child.name(), via) {
        (PLAN, CONTRACT_ID) => Some(PLAN_COLUMNS),
        (PAYMENT, CONTRACT_ID) => Some(PAYMENT_COLUMNS),
        (PAYMENT, PLAN_ID) => Some(INSTALMENT_PAYMENT_COLUMNS),
        (INVOICE, CONTRACT_ID) => Some(INVOICE_COLUMNS),
        _ => None,
    }
}

/// The order of such a list: instalments as they fall due, payments newest first (the
/// default, by creation, would put a back-dated payment first and list instalments
/// backwards).
pub fn related_sort(child: &ObjectDef, via: &str) -> Option<&'static str> {
    related_columns(child, via)?;
    match child.name() {
        PLAN => Some(DUE_DATE),
        PAYMENT => Some("-payment_date"),
        _ => None,
    }
}

fn text<'a>(record: &'a Record, field: &str) -> &'a str {
    match record.get(field) {
        Value::Text(t) => t,
        _ => "",
    }
}

/// The "Create contract" action of a record's page: offered on a won deal and an accepted
/// quote, not in the recycle bin, to a viewer who may create contracts.
pub fn create_action(
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
    binned: bool,
) -> Option<String> {
    let ready = (is(object, opportunity::OBJECT)
        && text(record, opportunity::STAGE) == opportunity::WON)
        || (is(object, pricing::QUOTE) && text(record, QUOTE_STATUS) == ACCEPTED);
    let id = record.id()?;
    (ready && !binned && viewer.actor.may(CONTRACT, Operation::Create))
        .then(|| format!("/o/{}/{id}/contract", object.name()))
}

/// `POST /o/{object}/{id}/contract` (a deal or a quote): a draft contract from it, opened at
/// once; a refusal is said on the record's page.
pub async fn create(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let source = if is(&object, opportunity::OBJECT) {
        ContractSource::Opportunity(id)
    } else if is(&object, pricing::QUOTE) {
        ContractSource::Quote(id)
    } else {
        return Err(WebError::NotFound(tr));
    };
    match state
        .core
        .contract_from(&viewer.actor, source, json!({}))
        .await
    {
        Ok(contract) => {
            let new_id = contract.id().ok_or(WebError::Internal(tr))?;
            Ok(see_other(&crate::notice::redirect_with(
                &viewer.csrf,
                &format!("/o/{CONTRACT}/{new_id}"),
                &tr.tf("contracts.created", &[("number", text(&contract, NUMBER))]),
            )))
        }
        Err(e) => refused(&state, &viewer, &object, id, e).await,
    }
}

/// The deal's or quote's page again, saying why no contract was made.
async fn refused(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    id: Uuid,
    e: CoreError,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (status, reason) = match e {
        CoreError::Validation(errors) => {
            let contract = state.core.object(CONTRACT).ok();
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| reason(tr, contract.as_deref(), e))
                .collect();
            (StatusCode::UNPROCESSABLE_ENTITY, reasons.join(" "))
        }
        CoreError::Forbidden { message } => (StatusCode::FORBIDDEN, message),
        CoreError::Conflict { message, .. } => (StatusCode::CONFLICT, message),
        CoreError::BadRequest { message, .. } => (StatusCode::BAD_REQUEST, message),
        other => return Err(WebError::core(other, tr)),
    };
    super::record::render_error(
        state,
        viewer,
        object.name(),
        &id.to_string(),
        tr.tf("contracts.create_failed", &[("reason", &reason)]),
        status,
    )
    .await
}

/// One refusal in the viewer's words: the two a person meets (the deal not won yet, the
/// quote not accepted) said plainly, anything else with the contract field it concerns.
fn reason(tr: Tr, contract: Option<&ObjectDef>, e: &FieldError) -> String {
    match (e.field.as_str(), e.code) {
        ("opportunity_id", Code::InvalidTransition) => tr.t("contracts.deal_not_won").to_owned(),
        ("quote_id", Code::InvalidTransition) => tr.t("contracts.quote_not_accepted").to_owned(),
        _ => {
            let label = contract
                .and_then(|c| c.field(&e.field).map(|f| tr.field_label(c, f)))
                .unwrap_or_else(|| e.field.clone());
            format!("{label}: {}", field_error_text(tr, e))
        }
    }
}
