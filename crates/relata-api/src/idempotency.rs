//! `Idempotency-Key` on POST: the same key with the same request gets the first response
//! again without a second write; the same key with a different request is refused.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use relata_core::Actor;
use relata_core::idempotency::Claim;

use crate::problem::ApiError;
use crate::state::AppState;

pub const MAX_KEY_LEN: usize = 255;

/// The answer to an empty or overlong key (also on routes that take a key themselves).
pub fn invalid_key() -> ApiError {
    ApiError::bad_request(
        "invalid_idempotency_key",
        format!("Idempotency-Key must be 1-{MAX_KEY_LEN} characters"),
    )
}

/// Record writes only: their responses hold record data the same credential may read again.
/// Responses of other POSTs may carry secrets (a new token) or their requests passwords, and
/// must be neither stored nor replayed.
const IDEMPOTENT_PREFIX: &str = "/api/v1/records/";

pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with(IDEMPOTENT_PREFIX) {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return invalid_key().into_response();
    }
    let Some(actor) = req.extensions().get::<Actor>().cloned() else {
        return next.run(req).await;
    };
    // Keys belong to one credential: another token of the same user (say, a narrower one)
    // cannot replay what this one was answered.
    let key = match req.extensions().get::<crate::middleware::CredentialTag>() {
        Some(tag) => format!("{}:{key}", tag.0),
        None => key,
    };
    let (parts, body) = req.into_parts();
    let limit = state.max_body_bytes;
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this server accepts",
            )
            .into_response();
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    match state
        .core
        .claim_idempotency_key(actor.user_id, key.clone(), request_hash)
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
        .into_response(),
        Ok(Claim::InProgress) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response(),
        Ok(Claim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let content_type = if status.is_success() {
                "application/json"
            } else {
                "application/problem+json"
            };
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(Claim::New) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let status = response.status();
            if status.is_server_error() {
                let _ = state.core.release_idempotency_key(actor.user_id, key).await;
                return response;
            }
            let (parts, body) = response.into_parts();
            let body = match to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => {
                    let _ = state.core.release_idempotency_key(actor.user_id, key).await;
                    return ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "the response could not be produced",
                    )
                    .into_response();
                }
            };
            let text = String::from_utf8_lossy(&body).into_owned();
            if let Err(e) = state
                .core
                .complete_idempotency_key(actor.user_id, key, status.as_u16(), text)
                .await
            {
                tracing::error!(error = ?e, "could not store an idempotent response");
            }
            Response::from_parts(parts, Body::from(body))
        }
    }
}
