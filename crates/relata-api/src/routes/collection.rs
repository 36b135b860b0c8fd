//! Contracts (合同) and payment collection (回款): a contract from a won deal or an accepted
//! quote, receivables with ageing and the collection rate, and the settings of payment
//! collection and document numbering. Contracts, instalments, payments and invoices are
//! otherwise records (`/api/v1/records/contract`, `payment_plan`, `payment`, `invoice`).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_core::Actor;
use relata_core::collection::ContractSource;
use relata_core::org_settings::CollectionSettings;

use crate::json::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::routes::records::record_response;
use crate::state::AppState;

/// The request's JSON, or null when it has none.
fn optional_body(bytes: &[u8]) -> ApiResult<Json> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))
}

async fn contract_from(
    state: &AppState,
    actor: &Actor,
    source: ContractSource,
    body: Json,
) -> ApiResult<Response> {
    let record = state.core.contract_from(actor, source, body).await?;
    record_response(
        state,
        relata_domain::collection::CONTRACT,
        &record,
        StatusCode::CREATED,
    )
}

/// Make a contract from a won opportunity: its account, amount, signatory and owner come
/// from the deal, starting today for a year; the body may give or override any contract
/// field. 422 on `opportunity_id` when the deal is not won.
#[utoipa::path(post, path = "/api/v1/opportunities/{id}/contract", tag = "collection",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "contract fields to give, e.g. `{start_date, end_date}`"),
    responses((status = 201, description = "the contract (a draft)"), (status = 404), (status = 422)))]
pub async fn from_opportunity(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let body = optional_body(&body)?;
    contract_from(&state, &actor, ContractSource::Opportunity(id), body).await
}

/// Make a contract from an accepted quote: its amount is the quote's total. 422 on
/// `quote_id` when the quote is not accepted.
#[utoipa::path(post, path = "/api/v1/quotes/{id}/contract", tag = "collection",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "contract fields to give or override"),
    responses((status = 201, description = "the contract (a draft)"), (status = 404), (status = 422)))]
pub async fn from_quote(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let body = optional_body(&body)?;
    contract_from(&state, &actor, ContractSource::Quote(id), body).await
}

#[derive(Debug, Deserialize)]
pub struct ReceivablesQuery {
    since: Option<String>,
}

/// Receivables as of today, over the instalments the caller may see: outstanding amounts
/// in ageing buckets (`current`, `1_30`, `31_60`, `61_90`, `over_90`, per currency), and per
/// rep (contract owner) what fell due since `since` (all time without it) and how much of
/// it was collected, with the rate in percent.
#[utoipa::path(get, path = "/api/v1/receivables", tag = "collection",
    params(("since" = Option<String>, Query, description = "YYYY-MM-DD: count instalments due from this day")),
    responses((status = 200, description = "`{as_of, ageing: [{bucket, instalments, outstanding: {CNY: \"1200.00\"}}], reps: [{owner_id, currency, due, collected, rate}]}`"), (status = 400), (status = 403)))]
pub async fn receivables(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ReceivablesQuery>,
) -> ApiResult<Response> {
    let since = match q.since.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("since: '{s}' is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    Ok(axum::Json(state.core.receivables(&actor, since).await?).into_response())
}

/// Settings of payment collection and numbering (administrators of metadata).
#[utoipa::path(get, path = "/api/v1/settings/collection", tag = "collection",
    responses((status = 200, description = "`{overpayment: refuse|record, currency, contract_numbering, quote_numbering}`"), (status = 403)))]
pub async fn get_settings(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(axum::Json(state.core.collection_settings(&actor).await?).into_response())
}

/// Change them: `overpayment` refuses a payment over what a contract still owes or records
/// it as overpaid; numbering rules such as `HT-{YYYY}{MM}-{SEQ:4}` (`{SEQ:n}` last).
#[utoipa::path(put, path = "/api/v1/settings/collection", tag = "collection",
    request_body(content = Object, description = "all four settings",
        example = json!({"overpayment": "record", "currency": "CNY", "contract_numbering": "HT-{YYYY}{MM}-{SEQ:4}", "quote_numbering": "Q-{YYYY}-{SEQ:4}"})),
    responses((status = 200, description = "the settings"), (status = 403), (status = 422)))]
pub async fn put_settings(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let settings: CollectionSettings = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("not collection settings: {e}"))
    })?;
    Ok(axum::Json(
        state
            .core
            .save_collection_settings(&actor, settings)
            .await?,
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
}

fn day(name: &str, value: Option<&str>) -> ApiResult<chrono::NaiveDate> {
    let v = value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("{name} is required (YYYY-MM-DD)"),
        )
    })?;
    v.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("{name}: '{v}' is not a date (YYYY-MM-DD)"),
        )
    })
}

/// The money side over the caller's visible records, from `from` to the day before `to`:
/// revenue won by month, by rep and by product, the product mix by category, and collection
/// against plan by month; in the roll-up currency.
#[utoipa::path(get, path = "/api/v1/reports/sales", tag = "collection",
    params(("from" = String, Query, description = "YYYY-MM-DD, inclusive"), ("to" = String, Query, description = "YYYY-MM-DD, exclusive")),
    responses((status = 200, description = "`{from, to, currency, won_by_month: {\"2026-12\": {amount, deals}}, won_by_rep: {user_id: {amount, deals}}, won_by_product: [{product_id, name, category_id, quantity, amount}], product_mix: [{category_id, name, amount, share}], collection_by_month: {\"2026-12\": {planned, collected, rate}}}`"), (status = 400)))]
pub async fn sales_report(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (from, to) = (day("from", q.from.as_deref())?, day("to", q.to.as_deref())?);
    Ok(axum::Json(state.core.sales_report(&actor, from, to).await?).into_response())
}
