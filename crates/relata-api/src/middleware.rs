//! Request plumbing: request ids, the caller's language, metrics, authentication (bearer
//! tokens and session cookies with CSRF), rate limits, and metadata and access freshness.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, RequestId};

use relata_core::CoreError;
use relata_core::auth::{constant_time_eq, hash_token};

use crate::problem::{ApiError, REQUEST_LOCALE};
use crate::state::AppState;

/// Request ids: a per-process random prefix and a counter; unique and cheap.
#[derive(Clone)]
pub struct RequestIds {
    prefix: String,
    next: std::sync::Arc<AtomicU64>,
}

impl RequestIds {
    pub fn new() -> Self {
        Self {
            prefix: format!("{:08x}", rand_prefix()),
            next: std::sync::Arc::new(AtomicU64::new(1)),
        }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

fn rand_prefix() -> u32 {
    // uuid's v4 randomness, without reading the clock
    let id = uuid::Uuid::new_v4();
    u32::from_be_bytes([
        id.as_bytes()[0],
        id.as_bytes()[1],
        id.as_bytes()[2],
        id.as_bytes()[3],
    ])
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Makes the request id and the preferred language available to error rendering.
pub async fn locale(req: Request, next: Next) -> Response {
    let zh = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start().to_ascii_lowercase().starts_with("zh"))
        .unwrap_or(false);
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_LOCALE.scope((zh, id), next.run(req)).await
}

/// Counts requests and observes latency per matched route.
pub async fn metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method()).to_owned();
    let start = tokio::time::Instant::now();
    let response = next.run(req).await;
    let elapsed = start.elapsed().as_secs_f64();
    state
        .metrics
        .requests
        .get_or_create(&crate::metrics::RequestLabels {
            method,
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&crate::metrics::RouteLabels { route })
        .observe(elapsed);
    response
}

/// The method as a metrics label. Clients may send any token as a method, and every distinct
/// label value is a series kept for the life of the process: made-up methods count as "other".
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "relata_session";
/// The header a cookie-authenticated write must carry with the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of one cookie of the request.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address as the connection saw it.
pub fn client_addr(req: &Request) -> Option<String> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The session of a cookie-authenticated request, for logout and "my sessions".
#[derive(Debug, Clone, Copy)]
pub struct CurrentSession(pub uuid::Uuid);

/// A short tag of the credential a request was authenticated with (a prefix of its hash),
/// for keeping per-credential state such as idempotency keys apart.
#[derive(Debug, Clone)]
pub struct CredentialTag(pub String);

/// Requires a bearer token or a session cookie on every `/api` request and puts the
/// [`relata_core::Actor`] into the request's extensions. A state-changing request made with
/// the cookie must carry the session's CSRF token in `X-CSRF-Token` (a cross-site form cannot
/// set headers). Rate limits apply per credential.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let addr = client_addr(&req);
    let (mut actor, credential) = if let Some(token) = bearer {
        let hash = hash_token(&token);
        let version = state.core.access_version();
        let now = state.core.clock.now();
        let cached = state
            .tokens
            .get(&hash, version)
            .filter(|a| a.credential_expires_at.is_none_or(|t| t > now));
        let actor = match cached {
            Some(actor) => actor,
            None => match state.core.authenticate_token(&token).await {
                Ok(actor) => {
                    state.tokens.put(hash.clone(), actor.clone(), version);
                    actor
                }
                Err(e) => return ApiError::from(e).into_response(),
            },
        };
        (actor, hash)
    } else if let Some(secret) = cookie(&req, SESSION_COOKIE).map(str::to_owned) {
        let session = match state.core.authenticate_session(&secret).await {
            Ok(s) => s,
            Err(e) => return ApiError::from(e).into_response(),
        };
        if !is_safe(req.method()) {
            let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent.is_none_or(|t| !constant_time_eq(t.as_bytes(), session.csrf_token.as_bytes())) {
                return ApiError::from(CoreError::Forbidden {
                    message: "a missing or wrong X-CSRF-Token header".into(),
                })
                .with_code("csrf_failed")
                .into_response();
            }
        }
        req.extensions_mut()
            .insert(CurrentSession(session.session_id));
        (session.actor, hash_token(&secret))
    } else {
        return ApiError::from(CoreError::Unauthenticated).into_response();
    };
    if let Err(e) = state
        .rate
        .check(&credential, state.core.settings.api_rate_limit_per_minute)
    {
        return ApiError::from(e).into_response();
    }
    actor.client_addr = addr;
    req.extensions_mut()
        .insert(CredentialTag(credential.chars().take(16).collect()));
    if let Err(e) = refresh_schema(&state).await {
        return ApiError::from(e).into_response();
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// Another process may have changed metadata (PostgreSQL scale-out): compare versions at most
/// once a second.
async fn refresh_schema(state: &AppState) -> Result<(), CoreError> {
    let now_ms = state.started.elapsed().as_millis() as u64;
    let last = state.schema_checked_ms.load(Ordering::Relaxed);
    if now_ms.saturating_sub(last) < 1000 {
        return Ok(());
    }
    if state
        .schema_checked_ms
        .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        state.core.refresh_schema_if_stale().await?;
        state.core.refresh_access_if_stale().await?;
    }
    Ok(())
}

/// The request id of a request (for logs).
pub fn request_id_of<B>(req: &axum::http::Request<B>) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}
