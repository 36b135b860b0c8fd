//! `/api/v1/records/{object}…`: create, get, update, delete, restore, purge, list, history,
//! bulk upsert — for every object, standard or custom.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::records::bulk::BulkMode;
use relata_core::records::{Bin, ListRequest};
use relata_domain::{FieldError, FieldErrorCode, Record};

use crate::json::ApiJson;
use crate::params::{bool_param, etag, filter_param, if_match, path_id, query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn record_response(
    state: &AppState,
    object: &str,
    record: &Record,
    status: StatusCode,
) -> ApiResult<Response> {
    let def = state.core.object(object)?;
    let mut response = (status, axum::Json(record.wire(&def, None))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(record.version())) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// A record: flat JSON with `id`, `version`, system fields and the object's fields.
#[derive(ToSchema)]
#[schema(as = Record, example = json!({"id": "0190c7e4-7b5e-7cc2-9a39-8f3f6e1c2d4a", "version": 1, "owner_id": "0190c7e4-0000-7000-8000-000000000001", "name": "张伟", "email": "zhang.wei@example.com"}))]
pub struct RecordSchema(#[allow(dead_code)] serde_json::Map<String, Json>);

/// A page of records.
#[derive(ToSchema)]
pub struct RecordPage {
    pub data: Vec<RecordSchema>,
    /// Opaque cursor of the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Number of matching records; only with `count=true`.
    pub total: Option<i64>,
}

/// Create a record.
#[utoipa::path(post, path = "/api/v1/records/{object}", tag = "records",
    params(("object" = String, Path, description = "object API name"),
           ("Idempotency-Key" = Option<String>, Header, description = "retry-safe key: the same key and body return the first response")),
    request_body(content = RecordSchema, description = "field values"),
    responses((status = 201, body = RecordSchema, description = "created; ETag carries the version"),
              (status = 404, description = "no such object"),
              (status = 422, description = "validation failed; every field error is listed")))]
pub async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let record = state.core.create_record(&actor, &object, body).await?;
    let mut response = record_response(&state, &object, &record, StatusCode::CREATED)?;
    if let Some(id) = record.id()
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/records/{object}/{id}"))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Get a record.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}", tag = "records",
    params(("object" = String, Path), ("id" = String, Path), ("fields" = Option<String>, Query, description = "comma-separated fields to return")),
    responses((status = 200, body = RecordSchema), (status = 404, description = "no such record, or not visible")))]
pub async fn get(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let params = query_map(raw.as_deref())?;
    let record = state.core.get_record(&actor, &object, id).await?;
    let def = state.core.object(&object)?;
    let fields = fields_param(&def, params.get("fields"))?;
    let mut response = axum::Json(record.wire(&def, fields.as_deref())).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(record.version())) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// Update some fields of a record.
#[utoipa::path(patch, path = "/api/v1/records/{object}/{id}", tag = "records",
    params(("object" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")),
    request_body(content = RecordSchema, description = "fields to change; null clears a field"),
    responses((status = 200, body = RecordSchema), (status = 412, description = "the record changed since that version"), (status = 422, description = "validation failed")))]
pub async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let expected = if_match(&headers)?;
    let record = state
        .core
        .update_record(&actor, &object, id, body, expected)
        .await?;
    record_response(&state, &object, &record, StatusCode::OK)
}

/// Move a record to the recycle bin, or with `purge=true` remove a record in the bin for good.
#[utoipa::path(delete, path = "/api/v1/records/{object}/{id}", tag = "records",
    params(("object" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header), ("purge" = Option<bool>, Query)),
    responses((status = 204, description = "deleted"), (status = 404), (status = 412)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<StatusCode> {
    let id = path_id(&object, &id)?;
    let params = query_map(raw.as_deref())?;
    if bool_param(&params, "purge")? {
        state.core.purge_record(&actor, &object, id).await?;
    } else {
        state
            .core
            .delete_record(&actor, &object, id, if_match(&headers)?)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a record back from the recycle bin.
#[utoipa::path(post, path = "/api/v1/records/{object}/{id}/restore", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RecordSchema), (status = 404, description = "no such record, or not visible"), (status = 409, description = "not in the recycle bin")))]
pub async fn restore(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let record = state.core.restore_record(&actor, &object, id).await?;
    record_response(&state, &object, &record, StatusCode::OK)
}

/// Field history of a record, newest first.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/history", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"data\": [{field, old_value, new_value, actor, at}]}`"), (status = 404, description = "no such record, or not visible")))]
pub async fn history(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let entries = state.core.record_history(&actor, &object, id).await?;
    Ok(axum::Json(json!({ "data": entries })).into_response())
}

/// List records with a filter, sort, field selection and cursor paging.
#[utoipa::path(get, path = "/api/v1/records/{object}", tag = "records",
    params(("object" = String, Path),
        ("filter" = Option<String>, Query, description = "JSON filter ({\"and\":[{\"field\":\"stage\",\"op\":\"eq\",\"value\":\"proposal\"}]}) or compact form (stage eq proposal and amount gte 1000)"),
        ("sort" = Option<String>, Query, description = "field, or -field for descending; empty values sort first ascending, last descending"),
        ("fields" = Option<String>, Query, description = "comma-separated fields to return"),
        ("limit" = Option<usize>, Query, description = "page size, 1-1000, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("count" = Option<bool>, Query, description = "include the total number of matches"),
        ("deleted" = Option<bool>, Query, description = "list the recycle bin instead")),
    responses((status = 200, body = RecordPage), (status = 404, description = "no such object"), (status = 422, description = "unknown field, bad operator or value")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let req = ListRequest {
        filter: filter_param(params.get("filter"))?,
        sort: params.get("sort").cloned(),
        limit: usize_param(&params, "limit")?,
        cursor: params.get("cursor").cloned().filter(|c| !c.is_empty()),
        count: bool_param(&params, "count")?,
        count_cap: None,
        bin: Some(if bool_param(&params, "deleted")? {
            Bin::Deleted
        } else {
            Bin::Live
        }),
    };
    let def = state.core.object(&object)?;
    let fields = fields_param(&def, params.get("fields"))?;
    let (def, page) = state.core.list_records(&actor, &object, req).await?;
    let body = PageBody {
        data: page
            .records
            .iter()
            .map(|r| r.wire(&def, fields.as_deref()))
            .collect(),
        next_cursor: page.next_cursor.as_deref(),
        total: page.total,
    };
    Ok(axum::Json(body).into_response())
}

/// A list page as written: `{"data": […], "next_cursor": …, "total": N}`, `total` only when
/// counted.
#[derive(serde::Serialize)]
struct PageBody<'a> {
    data: Vec<relata_domain::record::Wire<'a>>,
    next_cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
}

pub(crate) fn fields_param(
    def: &relata_domain::ObjectDef,
    raw: Option<&String>,
) -> ApiResult<Option<Vec<String>>> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    let names: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let unknown: Vec<FieldError> = names
        .iter()
        .filter(|n| def.field(n).is_none())
        .map(|n| {
            FieldError::new(
                "fields",
                FieldErrorCode::UnknownField,
                format!("'{}' has no field '{n}'", def.name()),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(relata_core::CoreError::Validation(unknown).into());
    }
    Ok(Some(names))
}

/// A bulk upsert request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// `id` or a unique field to match existing records by.
    pub key: String,
    /// `all_or_nothing` (default) or `per_record`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mode: Option<BulkMode>,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Json>,
}

/// Create or update many records at once, matched by a key field.
#[utoipa::path(post, path = "/api/v1/records/{object}/bulk", tag = "records",
    params(("object" = String, Path)),
    request_body = BulkBody,
    responses((status = 200, description = "`{created, updated, unchanged, failed, results: [{index, status, id, errors}]}`"),
              (status = 404, description = "no such object"),
              (status = 422, description = "all_or_nothing and a record failed: nothing was written; errors name records[i].field")))]
pub async fn bulk(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<BulkBody>,
) -> ApiResult<Response> {
    let mode = body.mode.unwrap_or(BulkMode::AllOrNothing);
    let result = state
        .core
        .bulk_upsert(&actor, &object, &body.key, mode, body.records)
        .await?;
    if mode == BulkMode::AllOrNothing && result.failed > 0 {
        let errors: Vec<FieldError> = result
            .results
            .iter()
            .flat_map(|r| {
                r.errors.iter().map(move |e| FieldError {
                    field: format!("records[{}].{}", r.index, e.field),
                    ..e.clone()
                })
            })
            .collect();
        let results = serde_json::to_value(&result).unwrap_or(Json::Null);
        return Err(ApiError::from(relata_core::CoreError::Validation(errors))
            .with_extra("result", results));
    }
    Ok(axum::Json(result).into_response())
}

/// Who a record is shared with: manual shares and record-team members.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/shares", tag = "records", params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{\"data\": [{id, principal, access, reason, team_role}]}`"), (status = 404)))]
pub async fn shares(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let data = state.core.record_shares(&actor, &object, id).await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Share a record one may edit: `{principal: {kind: user|role|role_and_subordinates|team,
/// id}, access: read|edit, reason: manual|record_team, team_role?}`. Sharing with the same
/// principal for the same reason again changes the access.
#[utoipa::path(post, path = "/api/v1/records/{object}/{id}/shares", tag = "records", params(("object" = String, Path), ("id" = String, Path)),
    request_body(content = crate::routes::admin::JsonObject, description = "`{principal, access, reason, team_role}`"),
    responses((status = 201), (status = 404, description = "no such record, or not editable by the caller"), (status = 422)))]
pub async fn share(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<relata_core::access::sharing::ShareInput>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let view = state.core.share_record(&actor, &object, id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

/// Remove one share of a record one may edit.
#[utoipa::path(delete, path = "/api/v1/records/{object}/{id}/shares/{share}", tag = "records", params(("object" = String, Path), ("id" = String, Path), ("share" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn unshare(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id, share)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&object, &id)?;
    let share = crate::routes::admin::id_param("share", &share)?;
    state
        .core
        .unshare_record(&actor, &object, id, share)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Transfer records to another owner: `{ids: [...]} ` or `{from_owner}` (every record that user
/// owns), `to_owner`, and `include_related` (records of other objects that look these up and
/// that the previous owner held, e.g. an account's contacts and opportunities). Records the
/// caller may not edit are listed in `not_found` and left as they are.
#[utoipa::path(post, path = "/api/v1/records/{object}/transfer", tag = "records", params(("object" = String, Path)),
    request_body(content = crate::routes::admin::JsonObject, description = "`{ids, from_owner, to_owner, include_related}`"),
    responses((status = 200, description = "`{transferred: {object: count}, not_found: [id]}`"), (status = 403), (status = 422)))]
pub async fn transfer(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<relata_core::records::transfer::TransferInput>,
) -> ApiResult<Response> {
    let result = state.core.transfer_ownership(&actor, &object, body).await?;
    Ok(axum::Json(result).into_response())
}
