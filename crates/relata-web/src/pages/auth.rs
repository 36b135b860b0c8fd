//! Signing in and out, first-run setup, and the language of the sign-in page.
//!
//! The sign-in form is protected against login CSRF (a foreign site signing the victim's
//! browser in to the attacker's account) by a double-submit token: a random value in a
//! SameSite=Strict cookie that the form must echo.

use askama::Template;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;

use relata_core::CoreError;
use relata_core::auth::random_secret;

use super::{html, local_path, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::{Lang, Tr};
use crate::session::{Posted, SESSION_COOKIE, anonymous_lang, constant_time_eq, cookie};
use crate::state::WebState;

const LOGIN_CSRF_COOKIE: &str = "relata_login";
const LANG_COOKIE: &str = "relata_lang";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    tr: Tr,
    token: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
    notice: Option<String>,
    asset_version: &'static str,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    tr: Tr,
    token: &'a str,
    name: &'a str,
    email: &'a str,
    errors: Vec<(String, String)>,
    asset_version: &'static str,
}

impl SetupPage<'_> {
    fn err(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
    done: Option<String>,
}

/// The client's address, when the server was started with connection info.
fn client_of(req: &Request) -> Option<std::net::SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}

fn secure(headers: &HeaderMap, addr: &Option<std::net::SocketAddr>) -> bool {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let loopback = addr.as_ref().is_some_and(|a| a.ip().is_loopback());
    https || !loopback
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The token of the sign-in form, and the cookie that carries it.
fn login_token(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    match cookie(headers, LOGIN_CSRF_COOKIE).filter(|t| t.len() >= 20 && t.len() <= 100) {
        Some(t) => (t.to_owned(), None),
        None => {
            let t = random_secret("");
            let c = format!(
                "{LOGIN_CSRF_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{}",
                if secure { "; Secure" } else { "" }
            );
            (t, Some(c))
        }
    }
}

pub async fn login_page(
    State(state): State<WebState>,
    Query(q): Query<LoginQuery>,
    req: Request,
) -> Result<Response, WebError> {
    let addr = client_of(&req);
    let headers = req.headers();
    let secure = secure(headers, &addr);
    let mut lang = anonymous_lang(headers);
    let mut lang_cookie = None;
    if let Some(tag) = q.lang.as_deref() {
        lang = Lang::from_tag(tag);
        lang_cookie = Some(format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            lang.tag()
        ));
    }
    let tr = Tr::new(lang);
    if state
        .core
        .setup_needed()
        .await
        .map_err(|e| WebError::core(e, tr))?
    {
        return Ok(see_other("/setup"));
    }
    let (token, token_cookie) = login_token(headers, secure);
    let next = local_path(q.next.as_deref());
    let notice = match q.done.as_deref() {
        Some("logout") => Some(tr.t("auth.signed_out").to_owned()),
        Some("setup") => Some(tr.t("setup.done").to_owned()),
        _ => None,
    };
    let page = LoginPage {
        tr,
        token: &token,
        next: &next,
        email: "",
        error: None,
        notice,
        asset_version: crate::assets::version(),
    };
    let mut response = html(page.render());
    for c in [token_cookie, lang_cookie].into_iter().flatten() {
        set_cookie(&mut response, c);
    }
    Ok(response)
}

pub async fn login(State(state): State<WebState>, req: Request) -> Result<Response, WebError> {
    let addr = client_of(&req);
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let tr = Tr::new(anonymous_lang(&headers));
    let secure = secure(&headers, &addr);
    let form = FormData::read(&headers, body, tr).await?;
    let sent = form.first("_login").unwrap_or_default();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(WebError::Csrf(tr));
    }
    let email = form.first("email").unwrap_or_default().trim().to_owned();
    let password = form.first("password").unwrap_or_default().to_owned();
    let next = local_path(form.first("next"));
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let client = addr.as_ref().map(|a| a.ip().to_string());
    match state.core.login(&email, &password, client, agent).await {
        Ok(session) => {
            let max_age = (session.expires_at - state.core.clock.now())
                .num_seconds()
                .max(0);
            let mut response = see_other(&next);
            set_cookie(
                &mut response,
                format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
                    session.secret,
                    if secure { "; Secure" } else { "" }
                ),
            );
            Ok(response)
        }
        Err(e) => {
            let error = match e {
                CoreError::Forbidden { .. } => tr.t("auth.refused").to_owned(),
                CoreError::TooManyRequests {
                    retry_after_secs, ..
                } => tr.tf(
                    "auth.throttled",
                    &[("minutes", &retry_after_secs.div_ceil(60).to_string())],
                ),
                other => return Err(WebError::core(other, tr)),
            };
            let page = LoginPage {
                tr,
                token: expected,
                next: &next,
                email: &email,
                error: Some(error),
                notice: None,
                asset_version: crate::assets::version(),
            };
            let mut response = html(page.render());
            *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

pub async fn logout(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    state
        .core
        .revoke_session(&viewer.actor, viewer.session_id)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let mut response = see_other("/login?done=logout");
    set_cookie(
        &mut response,
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

pub async fn setup_page(State(state): State<WebState>, req: Request) -> Result<Response, WebError> {
    let addr = client_of(&req);
    let headers = req.headers();
    let tr = Tr::new(anonymous_lang(headers));
    if !state
        .core
        .setup_needed()
        .await
        .map_err(|e| WebError::core(e, tr))?
    {
        return Ok(see_other("/login"));
    }
    let (token, token_cookie) = login_token(headers, secure(headers, &addr));
    let page = SetupPage {
        tr,
        token: &token,
        name: "",
        email: "",
        errors: Vec::new(),
        asset_version: crate::assets::version(),
    };
    let mut response = html(page.render());
    if let Some(c) = token_cookie {
        set_cookie(&mut response, c);
    }
    Ok(response)
}

pub async fn setup(State(state): State<WebState>, req: Request) -> Result<Response, WebError> {
    let addr = client_of(&req);
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let tr = Tr::new(anonymous_lang(&headers));
    let form = FormData::read(&headers, body, tr).await?;
    let sent = form.first("_login").unwrap_or_default();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(WebError::Csrf(tr));
    }
    let name = form.first("name").unwrap_or_default().trim().to_owned();
    let email = form.first("email").unwrap_or_default().trim().to_owned();
    let password = form.first("password").unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    if form.first("password_again") != Some(password.as_str()) {
        errors.push((
            "password_again".to_owned(),
            tr.t("setup.password_mismatch").to_owned(),
        ));
    }
    if name.is_empty() {
        errors.push(("name".to_owned(), tr.t("field_error.required").to_owned()));
    }
    if errors.is_empty() {
        let client = addr.as_ref().map(|a| a.ip().to_string());
        match state
            .core
            .complete_setup(&name, &email, &password, client)
            .await
        {
            Ok(_) => return Ok(see_other("/login?done=setup")),
            Err(CoreError::Validation(list)) => {
                for e in list {
                    let msg = super::inputs::field_error_text(tr, &e);
                    errors.push((e.field.clone(), msg));
                }
            }
            Err(CoreError::Conflict { .. }) => return Ok(see_other("/login")),
            Err(other) => return Err(WebError::core(other, tr)),
        }
    }
    let page = SetupPage {
        tr,
        token: expected,
        name: &name,
        email: &email,
        errors,
        asset_version: crate::assets::version(),
    };
    let mut response = html(page.render());
    *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

/// The language switch in the header of signed-in pages: saves it to the user's profile.
pub async fn switch_language(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let lang = Lang::from_tag(posted.form.first("lang").unwrap_or("en"));
    state
        .core
        .update_me(&viewer.actor, serde_json::json!({ "locale": lang.tag() }))
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    Ok(see_other(&local_path(posted.form.first("back"))))
}
