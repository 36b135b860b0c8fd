//! Converting leads, and where a converted lead's fields go (the conversion map).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::leads::{
    Choice, Conversion, ConversionField, Converted, Outcome, Preview, Proposal,
};
use relata_domain::ObjectDef;

use crate::json::ApiJson;
use crate::params::path_id;
use crate::problem::ApiResult;
use crate::routes::duplicates::matches_json;
use crate::state::AppState;

/// What to do about the account or the contact.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChoiceBody {
    /// The best match under the object's duplicate rule, else a new record (the default).
    Auto,
    /// This existing record.
    Existing { id: uuid::Uuid },
    /// A new record from the lead's mapped values, `values` on top.
    Create {
        #[serde(default)]
        #[schema(value_type = Object)]
        values: Map<String, Json>,
    },
    /// No account (a person buying for themselves); not allowed for the contact.
    None,
}

impl From<ChoiceBody> for Choice {
    fn from(b: ChoiceBody) -> Self {
        match b {
            ChoiceBody::Auto => Choice::Auto,
            ChoiceBody::Existing { id } => Choice::Existing { id },
            ChoiceBody::Create { values } => Choice::Create { values },
            ChoiceBody::None => Choice::None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "account": {"action": "auto"},
    "contact": {"action": "create", "values": {"title": "CTO"}},
    "opportunity": {"name": "华为 — 2027 renewal", "amount": "250000", "stage": "qualification", "close_date": "2027-03-31"}
}))]
pub struct ConvertBody {
    pub account: Option<ChoiceBody>,
    pub contact: Option<ChoiceBody>,
    /// A new opportunity with these values on top of the mapped ones; none when absent.
    #[schema(value_type = Option<Object>)]
    pub opportunity: Option<Map<String, Json>>,
    /// Owner of the new records (default: the lead's owner).
    pub owner_id: Option<uuid::Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionMapBody {
    /// `[{lead_field, object: account|contact|opportunity, field}]`
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<ConversionField>,
}

fn outcome_json(object: &ObjectDef, outcome: &Outcome) -> Json {
    json!({"created": outcome.created, "record": outcome.record.to_json(object, None)})
}

fn proposal_json(object: &ObjectDef, proposal: &Proposal) -> Json {
    json!({"matches": matches_json(object, &proposal.matches), "new_values": proposal.new_values})
}

type Objects = (
    Arc<ObjectDef>,
    Arc<ObjectDef>,
    Arc<ObjectDef>,
    Arc<ObjectDef>,
);

fn objects(state: &AppState) -> ApiResult<Objects> {
    let core = &state.core;
    Ok((
        core.object("lead")?,
        core.object("account")?,
        core.object("contact")?,
        core.object("opportunity")?,
    ))
}

fn converted_json(state: &AppState, c: &Converted) -> ApiResult<Json> {
    let (lead, account, contact, opportunity) = objects(state)?;
    Ok(json!({
        "lead": c.lead.to_json(&lead, None),
        "account": match &c.account {
            Some(a) => outcome_json(&account, a),
            None => Json::Null,
        },
        "contact": outcome_json(&contact, &c.contact),
        "opportunity": match &c.opportunity {
            Some(o) => o.to_json(&opportunity, None),
            None => Json::Null,
        },
        "relinked": c.relinked,
    }))
}

fn preview_json(state: &AppState, p: &Preview) -> ApiResult<Json> {
    let (lead, account, contact, _) = objects(state)?;
    Ok(json!({
        "lead": p.lead.to_json(&lead, None),
        "account": proposal_json(&account, &p.account),
        "contact": proposal_json(&contact, &p.contact),
        "opportunity": {"new_values": p.opportunity},
        "duplicate_leads": matches_json(&lead, &p.duplicate_leads),
    }))
}

/// What converting a lead would do: the existing accounts and contacts it matches under
/// their duplicate rules (best first; `auto` takes the first), the values new ones would
/// get from the conversion map, and other leads that may be the same person. Only records
/// the caller may see are matched.
#[utoipa::path(get, path = "/api/v1/leads/{id}/conversion", tag = "sales",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{lead, account: {matches: [{id, score, evidence, record}], new_values}, contact: {…}, opportunity: {new_values}, duplicate_leads: […]}`"),
        (status = 404, description = "no such lead, or one the caller may not edit"),
        (status = 409, description = "`already_converted`")))]
pub async fn preview(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id("lead", &id)?;
    let preview = state.core.conversion_preview(&actor, id).await?;
    Ok(axum::Json(preview_json(&state, &preview)?).into_response())
}

/// Convert a lead into an account, a contact and (with `opportunity`) an opportunity, in one
/// transaction: all are written or none. `auto` (the default) takes the best existing match
/// under the object's duplicate rule, else creates one; an account is not created for a
/// lead without a company. The lead's tasks and notes are linked to the contact and
/// account, and the lead becomes `converted`, with links to what it became; it cannot be
/// converted again or edited after (but for its owner).
#[utoipa::path(post, path = "/api/v1/leads/{id}/convert", tag = "sales",
    params(("id" = String, Path)), request_body = ConvertBody,
    responses((status = 200, description = "`{lead, account: {created, record} | null, contact: {created, record}, opportunity: record | null, relinked}`"),
        (status = 403, description = "the caller may not create what the conversion creates"),
        (status = 404, description = "no such lead, or one the caller may not edit"),
        (status = 409, description = "`already_converted`, or `duplicate` when a blocking duplicate rule refuses a new record"),
        (status = 422, description = "a value is invalid, named `account.<field>`, `contact.<field>` or `opportunity.<field>`")))]
pub async fn convert(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConvertBody>,
) -> ApiResult<Response> {
    let id = path_id("lead", &id)?;
    let request = Conversion {
        account: body.account.map(Into::into).unwrap_or_default(),
        contact: body.contact.map(Into::into).unwrap_or_default(),
        opportunity: body.opportunity,
        owner_id: body.owner_id,
    };
    let converted = state.core.convert_lead(&actor, id, request).await?;
    Ok(axum::Json(converted_json(&state, &converted)?).into_response())
}

fn map_json(fields: &[ConversionField], standard: bool) -> Json {
    json!({"fields": fields, "standard": standard})
}

/// Where a converted lead's fields go: the map an admin set, else the standard one
/// (`standard: true`).
#[utoipa::path(get, path = "/api/v1/leads/conversion_map", tag = "sales",
    responses((status = 200, description = "`{fields: [{lead_field, object, field}], standard}`")))]
pub async fn get_conversion_map(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
) -> ApiResult<Response> {
    let (fields, standard) = state.core.conversion_map()?;
    Ok(axum::Json(map_json(&fields, standard)).into_response())
}

/// Set where a converted lead's fields go (administrators of metadata). Each line copies a
/// lead field to a field of the same type (or text to a text field) of the new account,
/// contact or opportunity; a picklist only to one that has all its values.
#[utoipa::path(put, path = "/api/v1/leads/conversion_map", tag = "sales",
    request_body = ConversionMapBody,
    responses((status = 200, description = "`{fields, standard: false}`"), (status = 403),
        (status = 422, description = "each bad line named `fields.<n>.lead_field|object|field`")))]
pub async fn set_conversion_map(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ConversionMapBody>,
) -> ApiResult<Response> {
    state
        .core
        .set_conversion_map(&actor, Some(body.fields))
        .await?;
    let (fields, standard) = state.core.conversion_map()?;
    Ok(axum::Json(map_json(&fields, standard)).into_response())
}

/// Return to the standard conversion map.
#[utoipa::path(delete, path = "/api/v1/leads/conversion_map", tag = "sales",
    responses((status = 200, description = "`{fields, standard: true}`"), (status = 403)))]
pub async fn reset_conversion_map(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    state.core.set_conversion_map(&actor, None).await?;
    let (fields, standard) = state.core.conversion_map()?;
    Ok(axum::Json(map_json(&fields, standard)).into_response())
}
