//! `/api/v1/meta/objects…`: read metadata; create custom objects; add, change and delete
//! custom fields.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::meta_admin::{FieldInput, NewObject};
use relata_domain::ObjectDef;

use crate::json::ApiJson;
use crate::params::{bool_param, query_map};
use crate::problem::ApiResult;
use crate::state::AppState;

/// An object's metadata: API name, labels, name field and fields with their options.
#[derive(ToSchema)]
#[schema(as = ObjectMeta)]
pub struct ObjectSchema(#[allow(dead_code)] serde_json::Map<String, Json>);

/// A field definition: `{api_name, type, label, required, unique, filterable, searchable,
/// tracked, default, max_length, min, max, scale, pattern, values, target}`.
#[derive(ToSchema)]
#[schema(as = FieldMeta, example = json!({"api_name": "customer_tier", "type": "picklist", "label": "Customer tier", "values": ["gold", "silver"]}))]
pub struct FieldSchema(#[allow(dead_code)] serde_json::Map<String, Json>);

/// A new custom object.
#[derive(ToSchema)]
#[schema(as = NewObject, example = json!({"api_name": "project", "label": "Project", "plural_label": "Projects"}))]
pub struct NewObjectSchema {
    pub api_name: String,
    pub label: String,
    pub plural_label: String,
    /// Label of the name field (default "Name").
    pub name_label: Option<String>,
}

/// The public form of an object's metadata (archived fields omitted).
pub fn object_json(object: &ObjectDef) -> Json {
    let mut v = serde_json::to_value(object).unwrap_or(Json::Null);
    if let Some(fields) = v.get_mut("fields").and_then(Json::as_array_mut) {
        fields.retain(|f| !f.get("archived").and_then(Json::as_bool).unwrap_or(false));
        for f in fields.iter_mut() {
            if let Some(map) = f.as_object_mut() {
                map.remove("archived");
            }
        }
    }
    v
}

/// List all objects.
#[utoipa::path(get, path = "/api/v1/meta/objects", tag = "metadata", responses((status = 200, description = "`{\"data\": [ObjectMeta]}`")))]
pub async fn list_objects(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
) -> ApiResult<Response> {
    let schema = state.core.schema();
    let data: Vec<Json> = schema.objects().map(|o| object_json(o)).collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// Get one object's metadata.
#[utoipa::path(get, path = "/api/v1/meta/objects/{object}", tag = "metadata", params(("object" = String, Path)), responses((status = 200, body = ObjectSchema), (status = 404)))]
pub async fn get_object(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
    Path(object): Path<String>,
) -> ApiResult<Response> {
    let def = state.core.object(&object)?;
    Ok(axum::Json(object_json(&def)).into_response())
}

/// Create a custom object (a real table with the system fields and a name field).
#[utoipa::path(post, path = "/api/v1/meta/objects", tag = "metadata", request_body = NewObjectSchema,
    responses((status = 201, body = ObjectSchema), (status = 422, description = "invalid, reserved or taken API name")))]
pub async fn create_object(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<NewObject>,
) -> ApiResult<Response> {
    let def = state.core.create_object(&actor, body).await?;
    Ok((StatusCode::CREATED, axum::Json(object_json(&def))).into_response())
}

/// Add a custom field (a real column; indexed when unique, filterable or a lookup).
#[utoipa::path(post, path = "/api/v1/meta/objects/{object}/fields", tag = "metadata", params(("object" = String, Path)), request_body = FieldSchema,
    responses((status = 201, body = FieldSchema), (status = 404), (status = 422)))]
pub async fn add_field(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<FieldInput>,
) -> ApiResult<Response> {
    let field = state.core.add_field(&actor, &object, body).await?;
    Ok((StatusCode::CREATED, axum::Json(field)).into_response())
}

/// Change a field: relabel, options, picklist values (no DDL unless an index changes).
#[utoipa::path(patch, path = "/api/v1/meta/objects/{object}/fields/{field}", tag = "metadata", params(("object" = String, Path), ("field" = String, Path)), request_body = FieldSchema,
    responses((status = 200, body = FieldSchema), (status = 404), (status = 422)))]
pub async fn update_field(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, field)): Path<(String, String)>,
    ApiJson(body): ApiJson<FieldInput>,
) -> ApiResult<Response> {
    let field = state
        .core
        .update_field(&actor, &object, &field, body)
        .await?;
    Ok(axum::Json(field).into_response())
}

/// Archive a custom field (hidden, data kept); `purge=true` on an archived field drops it.
#[utoipa::path(delete, path = "/api/v1/meta/objects/{object}/fields/{field}", tag = "metadata", params(("object" = String, Path), ("field" = String, Path), ("purge" = Option<bool>, Query)),
    responses((status = 204), (status = 404), (status = 422, description = "standard and system fields cannot be deleted")))]
pub async fn delete_field(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, field)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<StatusCode> {
    let purge = bool_param(&query_map(raw.as_deref())?, "purge")?;
    state
        .core
        .delete_field(&actor, &object, &field, purge)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page layout: sections, each with a label and its fields in order.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sections": [{"label": "基本信息", "fields": ["name", "industry", "level"]}, {"label": "联系方式", "fields": ["phone", "email"]}]}))]
pub struct LayoutBody {
    pub sections: Vec<LayoutSectionBody>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutSectionBody {
    pub label: String,
    pub fields: Vec<String>,
}

/// Set an object's page layout (the sections of its record page and form in the web UI).
/// An empty list returns it to one section of every field.
#[utoipa::path(put, path = "/api/v1/meta/objects/{object}/layout", tag = "metadata", params(("object" = String, Path)), request_body = LayoutBody,
    responses((status = 200, body = ObjectSchema), (status = 404), (status = 422, description = "an unknown, system or repeated field")))]
pub async fn set_layout(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<LayoutBody>,
) -> ApiResult<Response> {
    let sections = body
        .sections
        .into_iter()
        .map(|s| (s.label, s.fields))
        .collect();
    let def = state.core.set_layout(&actor, &object, sections).await?;
    Ok(axum::Json(object_json(&def)).into_response())
}

/// One group of fields of a duplicate rule.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchFieldBody {
    /// 1-4 fields compared with one another (a phone with a mobile).
    pub fields: Vec<String>,
    /// exact, email, phone (E.164), company_name (legal forms and places aside),
    /// person_name (order and pinyin aware), fuzzy (Jaro-Winkler).
    #[schema(value_type = String)]
    pub comparator: relata_domain::dedupe::Comparator,
    /// How sure a perfect match of this group alone makes us (0-1].
    pub weight: f64,
}

/// A duplicate rule: the evidence adds up as independent signals; records scoring at least
/// `threshold` are likely duplicates. `block` refuses saving one; `warn` shows them.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"fields": [{"fields": ["email"], "comparator": "email", "weight": 0.95},
    {"fields": ["phone", "mobile"], "comparator": "phone", "weight": 0.9},
    {"fields": ["name"], "comparator": "person_name", "weight": 0.7}], "threshold": 0.85, "action": "block", "active": true}))]
pub struct MatchRuleBody {
    pub fields: Vec<MatchFieldBody>,
    pub threshold: f64,
    /// warn (default) or block.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub action: relata_domain::dedupe::RuleAction,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn rule_json(def: &ObjectDef) -> Json {
    let rule = relata_domain::dedupe::MatchRule::standard(def.name());
    let effective = def.matching_rule.clone().or(rule);
    json!({"rule": effective, "standard": def.matching_rule.is_none()})
}

/// An object's duplicate rule: the one an admin set, else its standard rule (`standard:
/// true`); `rule` is null for an object with neither.
#[utoipa::path(get, path = "/api/v1/meta/objects/{object}/matching_rule", tag = "metadata", params(("object" = String, Path)),
    responses((status = 200, description = "`{rule: {object, fields, threshold, action, active} | null, standard}`"), (status = 404)))]
pub async fn get_matching_rule(
    State(state): State<AppState>,
    Extension(_actor): Extension<Actor>,
    Path(object): Path<String>,
) -> ApiResult<Response> {
    let def = state.core.object(&object)?;
    Ok(axum::Json(rule_json(&def)).into_response())
}

/// Set an object's duplicate rule (administrators of metadata).
#[utoipa::path(put, path = "/api/v1/meta/objects/{object}/matching_rule", tag = "metadata", params(("object" = String, Path)),
    request_body = MatchRuleBody,
    responses((status = 200, description = "`{rule, standard: false}`"), (status = 403), (status = 404),
        (status = 422, description = "an unknown field, a comparator that does not suit it, a weight or threshold out of (0, 1]")))]
pub async fn set_matching_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<MatchRuleBody>,
) -> ApiResult<Response> {
    let rule = relata_domain::dedupe::MatchRule {
        object: object.clone(),
        fields: body
            .fields
            .into_iter()
            .map(|f| relata_domain::dedupe::MatchField {
                fields: f.fields,
                comparator: f.comparator,
                weight: f.weight,
            })
            .collect(),
        threshold: body.threshold,
        action: body.action,
        active: body.active,
    };
    let def = state
        .core
        .set_matching_rule(&actor, &object, Some(rule))
        .await?;
    Ok(axum::Json(rule_json(&def)).into_response())
}

/// Return an object to its standard duplicate rule (none for a custom object).
#[utoipa::path(delete, path = "/api/v1/meta/objects/{object}/matching_rule", tag = "metadata", params(("object" = String, Path)),
    responses((status = 200, description = "`{rule, standard: true}`"), (status = 403), (status = 404)))]
pub async fn reset_matching_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
) -> ApiResult<Response> {
    let def = state.core.set_matching_rule(&actor, &object, None).await?;
    Ok(axum::Json(rule_json(&def)).into_response())
}
