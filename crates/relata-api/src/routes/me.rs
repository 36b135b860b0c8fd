//! `/api/v1/me/…`: the signed-in user's own profile, password, sessions and API tokens.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::auth::TokenInput;

use crate::json::ApiJson;
use crate::middleware::CurrentSession;
use crate::problem::{ApiError, ApiResult};
use crate::routes::admin::{JsonObject, id_param};
use crate::state::AppState;

/// Who I am, with what I may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, description = "the user, plus `capabilities` and per-object `permissions`")))]
pub async fn get_me(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let user = state.core.get_user(&actor, actor.user_id.0).await?;
    let mut v = serde_json::to_value(user).unwrap_or_default();
    let schema = state.core.schema();
    let permissions: serde_json::Map<String, Json> = schema
        .objects()
        .map(|o| {
            (
                o.name().to_owned(),
                serde_json::to_value(actor.access.object(o.name())).unwrap_or_default(),
            )
        })
        .collect();
    let caps: Vec<&str> = [
        relata_domain::access::Capability::ManageUsers,
        relata_domain::access::Capability::ManageMetadata,
        relata_domain::access::Capability::ManageAutomation,
        relata_domain::access::Capability::ViewAudit,
    ]
    .into_iter()
    .filter(|c| actor.access.has(*c))
    .map(|c| c.as_str())
    .collect();
    v["permissions"] = Json::Object(permissions);
    v["capabilities"] = json!(caps);
    Ok(axum::Json(v).into_response())
}

/// Change my name, language (`en`, `zh-CN`) or time zone.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body(content = JsonObject, description = "`{name, locale, time_zone}`, each optional"),
    responses((status = 200, description = "the user"), (status = 422)))]
pub async fn update_me(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<Json>,
) -> ApiResult<Response> {
    Ok(axum::Json(state.core.update_me(&actor, body).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub current_password: String,
    pub new_password: String,
}

/// Change my password (the current one is required). Every session of mine ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordBody,
    responses((status = 204), (status = 422, description = "wrong current password, or a weak new one")))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    state
        .core
        .change_password(&actor, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My live sessions; `current` marks the one making this request.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me", responses((status = 200, description = "`{\"data\": [session]}`")))]
pub async fn sessions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    current: Option<Extension<CurrentSession>>,
) -> ApiResult<Response> {
    let data = state
        .core
        .my_sessions(&actor, current.map(|Extension(CurrentSession(id))| id))
        .await?;
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// End one of my sessions (sign out another device).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .revoke_session(&actor, id_param("session", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me", responses((status = 200, description = "`{\"data\": [token]}`")))]
pub async fn tokens(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    Ok(axum::Json(json!({ "data": state.core.my_tokens(&actor).await? })).into_response())
}

/// Create an API token: `{name, expires_in_days?, scopes?: [{object: "*"|name, access:
/// "read"|"write"}]}`. The secret is in the answer's `token`, shown this once.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body(content = JsonObject, description = "`{name, expires_in_days, scopes}`"),
    responses((status = 201, description = "the token's description and `token`, its secret"), (status = 422)))]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<TokenInput>,
) -> ApiResult<Response> {
    let (view, secret) = state.core.create_token(&actor, body).await?;
    let mut v = serde_json::to_value(view)
        .map_err(|e| ApiError::from(relata_core::CoreError::Internal(e.to_string())))?;
    v["token"] = Json::String(secret);
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// Revoke one of my API tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .revoke_token(&actor, id_param("token", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
