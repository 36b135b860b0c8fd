//! Possible duplicates under the object's matching rule: of a record about to be created (the
//! create form asks before saving) or of one that exists (the record page's warning).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_core::duplicates::PossibleDuplicate;
use relata_domain::ObjectDef;

use crate::json::ApiJson;
use crate::params::path_id;
use crate::problem::ApiResult;
use crate::state::AppState;

fn answer(object: &ObjectDef, found: &[PossibleDuplicate]) -> Response {
    axum::Json(json!({ "data": matches_json(object, found) })).into_response()
}

/// Possible duplicates as `[{id, score, evidence, record}]`, best first.
pub fn matches_json(object: &ObjectDef, found: &[PossibleDuplicate]) -> Vec<Json> {
    found
        .iter()
        .map(|d| {
            json!({
                "id": d.record.id().map(|id| id.to_string()),
                "score": (d.score.score * 1000.0).round() / 1000.0,
                "evidence": d.score.evidence,
                "record": d.record.to_json(object, None),
            })
        })
        .collect()
}

/// Possible duplicates of a record not yet saved: the body is the record as it would be
/// created. Each answer has a score from 0 to 1 (the threshold of the rule is 0.85) and the
/// fields that matched; only records the caller may see are considered. Contacts, leads and
/// accounts have matching rules (email, phones in E.164, names, company names without their
/// legal form); other objects answer no duplicates.
#[utoipa::path(post, path = "/api/v1/records/{object}/duplicates", tag = "records",
    params(("object" = String, Path)),
    request_body(content = crate::routes::admin::JsonObject, description = "field values, as for a create"),
    responses((status = 200, description = "`{\"data\": [{id, score, evidence: [{fields, similarity}], record}]}`, best first"),
        (status = 404, description = "no such object"), (status = 422, description = "a value is invalid")))]
pub async fn of_input(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let (def, found) = state
        .core
        .duplicates_of_input(&actor, &object, &body)
        .await?;
    Ok(answer(&def, &found))
}

/// Possible duplicates of an existing record, best first.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/duplicates", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"data\": [{id, score, evidence, record}]}`"), (status = 404)))]
pub async fn of_record(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let (def, found) = state.core.duplicates_of_record(&actor, &object, id).await?;
    Ok(answer(&def, &found))
}
