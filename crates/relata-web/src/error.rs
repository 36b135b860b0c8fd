//! Errors of page requests, as pages: a sign-in redirect, or an error page in the user's
//! language that says what happened without internals.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use relata_core::CoreError;

use crate::i18n::Tr;
use crate::pages::html;

#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session ended): to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    Csrf(Tr),
    NotFound(Tr),
    Forbidden(Tr, String),
    BadRequest(Tr, String),
    Unavailable(Tr),
    Internal(Tr),
}

impl WebError {
    /// A service error that a page handler did not turn into a message of its own.
    pub fn core(e: CoreError, tr: Tr) -> WebError {
        match e {
            CoreError::Unauthenticated => WebError::SignIn { next: "/".into() },
            CoreError::NotFound { .. } => WebError::NotFound(tr),
            CoreError::Forbidden { message } => WebError::Forbidden(tr, message),
            CoreError::Validation(errors) => WebError::BadRequest(
                tr,
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            CoreError::BadRequest { message, .. } | CoreError::Conflict { message, .. } => {
                WebError::BadRequest(tr, message)
            }
            CoreError::TooManyRequests { .. } => WebError::Unavailable(tr),
            other => {
                tracing::error!(error = ?other, "page request failed");
                WebError::Internal(tr)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    tr: Tr,
    title: &'a str,
    detail: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, tr, title, detail) = match &self {
            WebError::SignIn { next } => {
                let target = if next.starts_with('/') && !next.starts_with("//") && next != "/" {
                    format!(
                        "/login?next={}",
                        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                    )
                } else {
                    "/login".to_owned()
                };
                return Redirect::to(&target).into_response();
            }
            WebError::Csrf(tr) => (
                StatusCode::FORBIDDEN,
                *tr,
                tr.t("error.csrf_title"),
                tr.t("error.csrf_detail").to_owned(),
            ),
            WebError::NotFound(tr) => (
                StatusCode::NOT_FOUND,
                *tr,
                tr.t("error.not_found_title"),
                tr.t("error.not_found_detail").to_owned(),
            ),
            WebError::Forbidden(tr, m) => (
                StatusCode::FORBIDDEN,
                *tr,
                tr.t("error.forbidden_title"),
                m.clone(),
            ),
            WebError::BadRequest(tr, m) => (
                StatusCode::BAD_REQUEST,
                *tr,
                tr.t("error.bad_request_title"),
                m.clone(),
            ),
            WebError::Unavailable(tr) => (
                StatusCode::TOO_MANY_REQUESTS,
                *tr,
                tr.t("error.busy_title"),
                tr.t("error.busy_detail").to_owned(),
            ),
            WebError::Internal(tr) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                *tr,
                tr.t("error.internal_title"),
                tr.t("error.internal_detail").to_owned(),
            ),
        };
        let page = ErrorPage {
            tr,
            title,
            detail: &detail,
        };
        let mut response = html(page.render()).into_response();
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
