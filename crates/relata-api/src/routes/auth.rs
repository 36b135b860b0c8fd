//! `/api/v1/auth/…`: signing in with a password (a session cookie for the browser) and out.

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use relata_core::{Actor, CoreError};

use crate::json::parse;
use crate::middleware::{CSRF_HEADER, CurrentSession, SESSION_COOKIE, client_addr};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site
/// posts), Secure unless the server is reached over plain HTTP on loopback.
fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn is_secure(req: &Request) -> bool {
    let forwarded_https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let loopback = client_addr(req).is_some_and(|a| a == "127.0.0.1" || a == "::1");
    forwarded_https || !loopback
}

/// Sign in with email and password. Sets the session cookie and answers the CSRF token that
/// every state-changing request with the cookie must send in `X-CSRF-Token`. Repeated
/// failures lock the account (an administrator unlocks it) and slow the client address (429).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody, security(()),
    responses((status = 200, description = "`{user_id, csrf_token, expires_at}` and a `Set-Cookie`"),
              (status = 403, description = "wrong email or password, locked or deactivated account"),
              (status = 429, description = "too many failed logins from this address; see Retry-After")))]
pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let addr = client_addr(&req);
    let secure = is_secure(&req);
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: LoginBody = body_of(req).await?;
    let session = state
        .core
        .login(&body.email, &body.password, addr, agent)
        .await?;
    let max_age = (session.expires_at - state.core.clock.now())
        .num_seconds()
        .max(0);
    let mut response = axum::Json(json!({
        "user_id": session.user_id.0.to_string(),
        "csrf_token": session.csrf_token,
        "csrf_header": CSRF_HEADER,
        "expires_at": relata_domain::value::format_datetime(&session.expires_at),
    }))
    .into_response();
    let cookie = HeaderValue::from_str(&session_cookie(&session.secret, max_age, secure))
        .map_err(|_| ApiError::from(CoreError::Internal("cookie".into())))?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Sign out: ends the current session and clears its cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "signed out"), (status = 400, description = "not signed in with a session cookie")))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    session: Option<Extension<CurrentSession>>,
) -> ApiResult<Response> {
    let Some(Extension(CurrentSession(id))) = session else {
        return Err(ApiError::bad_request(
            "no_session",
            "this request was not made with a session cookie; revoke tokens under /api/v1/me/tokens",
        ));
    };
    state.core.revoke_session(&actor, id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("relata_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

/// The JSON body of a public request. Only `application/json` is read: a cross-site form can
/// post `text/plain` without a preflight, and would otherwise sign a victim's browser in to
/// the attacker's account (login CSRF).
pub(crate) async fn body_of<T: serde::de::DeserializeOwned>(req: Request) -> ApiResult<T> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
    parse(&bytes)
}

/// Whether first-run setup is still open (no user has a password yet).
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth", security(()), responses((status = 200, description = "`{\"needed\": bool}`")))]
pub async fn setup_status(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(axum::Json(json!({ "needed": state.core.setup_needed().await? })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// First-run setup: gives the first administrator a name, email and password, once. There is
/// no default password; until this is done only `relata token create` gives access.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupBody, security(()),
    responses((status = 201, description = "`{user_id}`; sign in next"), (status = 409, description = "`setup_done`"), (status = 422, description = "invalid email or weak password")))]
pub async fn setup(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let addr = client_addr(&req);
    let body: SetupBody = body_of(req).await?;
    let user = state
        .core
        .complete_setup(&body.name, &body.email, &body.password, addr)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user_id": user.0.to_string() })),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    pub email: String,
}

/// Ask for a password reset: an active user with this email gets a one-time code by email.
/// The answer is the same whether or not the email is known.
#[utoipa::path(post, path = "/api/v1/auth/password_reset", tag = "auth", request_body = ResetRequestBody, security(()),
    responses((status = 202, description = "accepted"), (status = 429, description = "too many failed logins from this address")))]
pub async fn request_reset(State(state): State<AppState>, req: Request) -> ApiResult<StatusCode> {
    let addr = client_addr(&req);
    let body: ResetRequestBody = body_of(req).await?;
    state.core.request_password_reset(&body.email, addr).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    pub token: String,
    pub new_password: String,
}

/// Set a new password with the emailed code. Every session of the user ends.
#[utoipa::path(post, path = "/api/v1/auth/password_reset/confirm", tag = "auth", request_body = ResetConfirmBody, security(()),
    responses((status = 204), (status = 422, description = "an invalid, used or expired code, or a weak password")))]
pub async fn confirm_reset(State(state): State<AppState>, req: Request) -> ApiResult<StatusCode> {
    let addr = client_addr(&req);
    let body: ResetConfirmBody = body_of(req).await?;
    state
        .core
        .confirm_password_reset(&body.token, &body.new_password, addr)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
