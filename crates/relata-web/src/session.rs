//! Who is looking at a page. A page needs a signed-in session (the same cookie as the API's
//! browser sessions); without one the browser is sent to the sign-in page and back after.
//! Every form that changes something carries the session's CSRF token in a hidden `_csrf`
//! field, checked before the handler runs.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};

use relata_core::Actor;
use relata_core::access::sessions::SessionProfile;

use crate::error::WebError;
use crate::form::FormData;
use crate::format::Fmt;
use crate::i18n::{Lang, Tr};
use crate::state::WebState;

/// The session cookie (shared with the API's `POST /api/v1/auth/login`).
pub const SESSION_COOKIE: &str = "relata_session";
/// The hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// The signed-in user of a page request.
#[derive(Clone)]
pub struct Viewer {
    pub actor: Actor,
    pub session_id: uuid::Uuid,
    pub csrf: String,
    pub profile: SessionProfile,
    pub fmt: Fmt,
    /// The path and query of this request, to come back to after an action.
    pub here: String,
    /// Unread notifications (the bell's number; counted up to 100).
    pub unread: i64,
    /// Approval requests waiting for the viewer's decision (the navigation's number).
    pub approvals: i64,
}

impl Viewer {
    pub fn tr(&self) -> Tr {
        self.fmt.tr
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language of a page shown before anyone signs in: a `relata_lang` cookie set by the
/// language switch on the sign-in page, then the browser's `Accept-Language`.
pub fn anonymous_lang(headers: &axum::http::HeaderMap) -> Lang {
    if let Some(tag) = cookie(headers, "relata_lang") {
        return Lang::from_tag(tag);
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_tag)
        .unwrap_or(Lang::En)
}

fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned())
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        signed_in(parts, state, true).await
    }
}

/// The signed-in user of a request that answers data, not a page (type-ahead, instant
/// search): the same session checks as [`Viewer`], without counting the bell's
/// notifications, which nothing shows.
pub struct Caller(pub Viewer);

impl FromRequestParts<WebState> for Caller {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        signed_in(parts, state, false).await.map(Caller)
    }
}

async fn signed_in(parts: &Parts, state: &WebState, with_bell: bool) -> Result<Viewer, WebError> {
    let lang = anonymous_lang(&parts.headers);
    let back = if parts.method == Method::GET {
        here(parts)
    } else {
        "/".to_owned()
    };
    let secret = cookie(&parts.headers, SESSION_COOKIE)
        .ok_or_else(|| WebError::SignIn { next: back.clone() })?;
    let session = match state.core.authenticate_session(secret).await {
        Ok(s) => s,
        Err(relata_core::CoreError::Unauthenticated) => {
            return Err(WebError::SignIn { next: back });
        }
        Err(e) => return Err(WebError::core(e, Tr::new(lang))),
    };
    let mut actor = session.actor;
    actor.client_addr = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let tr = Tr::new(Lang::from_tag(&session.profile.locale));
    let (unread, approvals) = if with_bell {
        let (unread, waiting) = tokio::join!(
            state.core.unread_notifications(&actor),
            state.core.my_approvals(&actor)
        );
        (
            unread.unwrap_or(0),
            waiting.map_or(0, |w| i64::try_from(w.len()).unwrap_or(i64::MAX)),
        )
    } else {
        (0, 0)
    };
    Ok(Viewer {
        unread,
        approvals,
        actor,
        session_id: session.session_id,
        csrf: session.csrf_token,
        fmt: Fmt::new(tr, &session.profile.time_zone),
        profile: session.profile,
        here: here(parts),
    })
}

/// A form posted by a signed-in user, its CSRF token checked.
pub struct Posted {
    pub viewer: Viewer,
    pub form: FormData,
}

impl FromRequest<WebState> for Posted {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let form = FormData::read(&parts.headers, body, viewer.tr()).await?;
        let sent = form.first(CSRF_FIELD).unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), viewer.csrf.as_bytes()) {
            return Err(WebError::Csrf(viewer.tr()));
        }
        Ok(Posted { viewer, form })
    }
}

pub use relata_core::auth::constant_time_eq;
