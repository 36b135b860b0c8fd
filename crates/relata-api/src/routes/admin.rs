//! `/api/v1/admin/…`: users, roles, teams, profiles and permission sets, sharing rules, object
//! sharing defaults and the audit log. Each needs an admin capability (manage users, manage
//! metadata, view audit); every change is audited.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::access::org::RoleInput;
use relata_core::access::sets::SetInput;
use relata_core::access::sharing::{ObjectSharingInput, RuleInput};
use relata_core::audit::AuditQuery;
use relata_core::{Actor, CoreError};
use relata_domain::{FieldError, FieldErrorCode};

use crate::json::ApiJson;
use crate::params::{query_map, usize_param};
use crate::problem::{ApiError, ApiResult};
use crate::routes::meta::object_json;
use crate::state::AppState;

/// A JSON object; the operation's description says which keys it takes.
#[derive(ToSchema)]
#[schema(as = JsonObject)]
pub struct JsonObject(#[allow(dead_code)] serde_json::Map<String, Json>);

/// An id in a path; a malformed one is simply not found.
pub fn id_param(what: &str, id: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::from(CoreError::not_found(format!("{what} {id}"))))
}

fn data<T: serde::Serialize>(items: T) -> Response {
    axum::Json(json!({ "data": items })).into_response()
}

fn created<T: serde::Serialize>(item: T) -> Response {
    (StatusCode::CREATED, axum::Json(item)).into_response()
}

/// Users, by name.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", responses((status = 200, description = "`{\"data\": [user]}`"), (status = 403)))]
pub async fn list_users(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(data(state.core.list_users(&actor).await?))
}

/// Create a user: `{name, email, password?, locale?, time_zone?, role_id?, profile_id?,
/// department?, is_admin?}`. Without a profile the user gets the standard profile.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body(content = JsonObject, description = "the user's fields"),
    responses((status = 201, description = "the user"), (status = 403), (status = 422, description = "invalid fields, a taken email or a weak password")))]
pub async fn create_user(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    Ok(created(state.core.create_user(&actor, body).await?))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn get_user(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = state.core.get_user(&actor, id_param("user", &id)?).await?;
    Ok(axum::Json(user).into_response())
}

/// Change a user; `{"active": false}` deactivates (their records keep them as owner), and
/// `is_admin` needs an administrator. The last active administrator cannot be demoted.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path)), request_body(content = JsonObject, description = "fields to change"),
    responses((status = 200), (status = 404), (status = 409, description = "`last_admin`"), (status = 422)))]
pub async fn update_user(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    let user = state
        .core
        .update_user(&actor, id_param("user", &id)?, body)
        .await?;
    Ok(axum::Json(user).into_response())
}

/// Lift the lockout that failed logins put on a user.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unlock", tag = "admin", params(("id" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = state
        .core
        .unlock_user(&actor, id_param("user", &id)?)
        .await?;
    Ok(axum::Json(user).into_response())
}

/// Give a user a permission set.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/permission_sets/{set}", tag = "admin", params(("id" = String, Path), ("set" = String, Path)), responses((status = 204), (status = 404), (status = 422)))]
pub async fn assign_set(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((id, set)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (user, set) = (id_param("user", &id)?, id_param("permission set", &set)?);
    state
        .core
        .assign_permission_set(&actor, user, set, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a permission set from a user.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/permission_sets/{set}", tag = "admin", params(("id" = String, Path), ("set" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn unassign_set(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((id, set)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (user, set) = (id_param("user", &id)?, id_param("permission set", &set)?);
    state
        .core
        .assign_permission_set(&actor, user, set, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Roles of the hierarchy.
#[utoipa::path(get, path = "/api/v1/admin/roles", tag = "admin", responses((status = 200, description = "`{\"data\": [{id, name, parent_id}]}`")))]
pub async fn list_roles(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(data(state.core.list_roles(&actor).await?))
}

/// Create a role: `{name, parent_id?}`.
#[utoipa::path(post, path = "/api/v1/admin/roles", tag = "admin", request_body(content = JsonObject, description = "`{name, parent_id}`"), responses((status = 201), (status = 422)))]
pub async fn create_role(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<RoleInput>,
) -> ApiResult<Response> {
    Ok(created(state.core.create_role(&actor, body).await?))
}

/// Rename or move a role: `{name, parent_id}`; a cycle is refused (`role_cycle`).
#[utoipa::path(put, path = "/api/v1/admin/roles/{id}", tag = "admin", params(("id" = String, Path)), request_body(content = JsonObject, description = "`{name, parent_id}`"),
    responses((status = 200), (status = 404), (status = 422)))]
pub async fn update_role(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleInput>,
) -> ApiResult<Response> {
    let role = state
        .core
        .update_role(&actor, id_param("role", &id)?, body)
        .await?;
    Ok(axum::Json(role).into_response())
}

/// Delete a role no user holds and no role sits beneath.
#[utoipa::path(delete, path = "/api/v1/admin/roles/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "`role_in_use` or `role_has_children`")))]
pub async fn delete_role(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_role(&actor, id_param("role", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Teams with their members.
#[utoipa::path(get, path = "/api/v1/admin/teams", tag = "admin", responses((status = 200, description = "`{\"data\": [{id, name, members}]}`")))]
pub async fn list_teams(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(data(state.core.list_teams(&actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    pub name: String,
}

/// Create a team.
#[utoipa::path(post, path = "/api/v1/admin/teams", tag = "admin", request_body = TeamBody, responses((status = 201), (status = 422)))]
pub async fn create_team(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<Response> {
    Ok(created(state.core.create_team(&actor, &body.name).await?))
}

/// Delete a team (its memberships and the shares naming it go too).
#[utoipa::path(delete, path = "/api/v1/admin/teams/{id}", tag = "admin", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete_team(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_team(&actor, id_param("team", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a user to a team.
#[utoipa::path(put, path = "/api/v1/admin/teams/{id}/members/{user}", tag = "admin", params(("id" = String, Path), ("user" = String, Path)), responses((status = 204), (status = 404), (status = 422)))]
pub async fn add_member(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (team, user) = (id_param("team", &id)?, id_param("user", &user)?);
    state.core.set_team_member(&actor, team, user, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user from a team.
#[utoipa::path(delete, path = "/api/v1/admin/teams/{id}/members/{user}", tag = "admin", params(("id" = String, Path), ("user" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (team, user) = (id_param("team", &id)?, id_param("user", &user)?);
    state
        .core
        .set_team_member(&actor, team, user, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Profiles and permission sets.
#[utoipa::path(get, path = "/api/v1/admin/permission_sets", tag = "admin", responses((status = 200, description = "`{\"data\": [{id, name, is_profile, grants}]}`")))]
pub async fn list_sets(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(data(state.core.list_permission_sets(&actor).await?))
}

/// Create a profile or permission set: `{name, is_profile, grants: {default_objects,
/// objects: {object: {create, read, edit, delete, view_all, modify_all, import, export}},
/// fields: {object: {field: "hidden"|"read"|"edit"}}, capabilities: [manage_users,
/// manage_metadata, manage_automation, view_audit]}}`.
#[utoipa::path(post, path = "/api/v1/admin/permission_sets", tag = "admin", request_body(content = JsonObject, description = "`{name, is_profile, grants}`"), responses((status = 201), (status = 422)))]
pub async fn create_set(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<SetInput>,
) -> ApiResult<Response> {
    Ok(created(
        state.core.create_permission_set(&actor, body).await?,
    ))
}

/// Replace a set's name and grants.
#[utoipa::path(put, path = "/api/v1/admin/permission_sets/{id}", tag = "admin", params(("id" = String, Path)), request_body(content = JsonObject, description = "`{name, grants}`"),
    responses((status = 200), (status = 404), (status = 422)))]
pub async fn update_set(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetInput>,
) -> ApiResult<Response> {
    let set = state
        .core
        .update_permission_set(&actor, id_param("permission set", &id)?, body)
        .await?;
    Ok(axum::Json(set).into_response())
}

/// Delete a set nobody holds.
#[utoipa::path(delete, path = "/api/v1/admin/permission_sets/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "`permission_set_in_use`")))]
pub async fn delete_set(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_permission_set(&actor, id_param("permission set", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sharing rules, optionally of one object (`?object=`).
#[utoipa::path(get, path = "/api/v1/admin/sharing_rules", tag = "admin", params(("object" = Option<String>, Query)), responses((status = 200)))]
pub async fn list_rules(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let object = query_map(raw.as_deref())?.get("object").cloned();
    Ok(data(state.core.list_sharing_rules(&actor, object).await?))
}

/// Create a sharing rule: `{object, name, filter, principal: {kind: user|role|
/// role_and_subordinates|team, id}, access: read|edit}`.
#[utoipa::path(post, path = "/api/v1/admin/sharing_rules", tag = "admin", request_body(content = JsonObject, description = "`{object, name, filter, principal, access}`"),
    responses((status = 201), (status = 422, description = "unknown object, a filter on an unknown field, an unknown principal")))]
pub async fn create_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<RuleInput>,
) -> ApiResult<Response> {
    Ok(created(state.core.create_sharing_rule(&actor, body).await?))
}

/// Delete a sharing rule.
#[utoipa::path(delete, path = "/api/v1/admin/sharing_rules/{id}", tag = "admin", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_sharing_rule(&actor, id_param("sharing rule", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set an object's org-wide default: `{sharing: {model: private|public_read|
/// public_read_write|controlled_by_parent, field?}, manager_edit}`.
#[utoipa::path(put, path = "/api/v1/admin/objects/{object}/sharing", tag = "admin", params(("object" = String, Path)), request_body(content = JsonObject, description = "`{sharing, manager_edit}`"),
    responses((status = 200, description = "the object's metadata"), (status = 404), (status = 422)))]
pub async fn set_object_sharing(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    ApiJson(body): ApiJson<ObjectSharingInput>,
) -> ApiResult<Response> {
    let def = state.core.set_object_sharing(&actor, &object, body).await?;
    Ok(axum::Json(object_json(&def)).into_response())
}

fn time_param(
    params: &std::collections::HashMap<String, String>,
    key: &str,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    params
        .get(key)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    ApiError::field(FieldError::new(
                        key,
                        FieldErrorCode::InvalidDatetime,
                        "expected an RFC 3339 time",
                    ))
                })
        })
        .transpose()
}

fn uuid_query(
    params: &std::collections::HashMap<String, String>,
    key: &str,
) -> ApiResult<Option<uuid::Uuid>> {
    params
        .get(key)
        .map(|v| {
            uuid::Uuid::parse_str(v).map_err(|_| {
                ApiError::field(FieldError::new(
                    key,
                    FieldErrorCode::WrongType,
                    "expected an id",
                ))
            })
        })
        .transpose()
}

/// The audit log, oldest first: filter by `actor`, `action` (or a prefix such as `user.`),
/// `object`, `record_id`, `since`, `until`; page with `after` (the last `seq` seen).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query), ("object" = Option<String>, Query), ("record_id" = Option<String>, Query),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query), ("after" = Option<i64>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "`{\"data\": [entry], \"next_after\": seq}`"), (status = 403)))]
pub async fn audit(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = audit_query(raw.as_deref())?;
    let entries = state.core.audit_entries(&actor, q).await?;
    let next = entries.last().map(|e| e.seq);
    Ok(axum::Json(json!({ "data": entries, "next_after": next })).into_response())
}

/// Record changes for auditors: who created, changed, deleted, restored or purged which
/// record, when, through which source (api, ui, import, automation) and from which address.
/// Filters as for the audit log; `action` is `record.created`, `record.updated`, ….
#[utoipa::path(get, path = "/api/v1/admin/audit/records", tag = "admin",
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query), ("object" = Option<String>, Query), ("record_id" = Option<String>, Query),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query), ("after" = Option<i64>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "`{\"data\": [entry], \"next_after\": seq}`"), (status = 403)))]
pub async fn record_audit(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = audit_query(raw.as_deref())?;
    let entries = state.core.record_audit_entries(&actor, q).await?;
    let next = entries.last().map(|e| e.seq);
    Ok(axum::Json(json!({ "data": entries, "next_after": next })).into_response())
}

fn audit_query(raw: Option<&str>) -> ApiResult<AuditQuery> {
    let p = query_map(raw)?;
    let after = match p.get("after") {
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            ApiError::field(FieldError::new(
                "after",
                FieldErrorCode::WrongType,
                "expected a number",
            ))
        })?),
        None => None,
    };
    Ok(AuditQuery {
        actor: uuid_query(&p, "actor")?,
        action: p.get("action").cloned(),
        object: p.get("object").cloned(),
        record_id: uuid_query(&p, "record_id")?,
        since: time_param(&p, "since")?,
        until: time_param(&p, "until")?,
        after,
        before: None,
        newest_first: false,
        limit: usize_param(&p, "limit")?.unwrap_or(100),
    })
}

/// Revoke any user's API token (manage users).
#[utoipa::path(delete, path = "/api/v1/admin/tokens/{id}", tag = "admin", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke_user_token(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    actor.require_capability(relata_domain::access::Capability::ManageUsers)?;
    state
        .core
        .revoke_token(&actor, id_param("token", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
