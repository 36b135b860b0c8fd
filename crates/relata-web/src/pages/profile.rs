//! My profile: name, language, time zone, password, my sessions (sign out other devices)
//! and my API tokens (create — shown once — and revoke).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::access::sessions::SessionView;
use relata_core::auth::{TokenInput, TokenView};
use relata_domain::{FieldError, FieldErrorCode};

use super::inputs::field_error_text;
use super::{Chrome, html_unless, see_other};
use crate::error::WebError;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Time zones offered first; any IANA name can be typed.
const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
];

pub struct SessionRow {
    pub id: String,
    pub seen: String,
    pub client: String,
    pub current: bool,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    name: String,
    locale: String,
    time_zone: String,
    zones: Vec<String>,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    /// A token just created: its secret, shown this once.
    new_token: Option<String>,
    errors: Vec<(String, String)>,
}

impl ProfilePage {
    fn error(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }
}

#[derive(serde::Deserialize)]
pub struct ProfileQuery {
    done: Option<String>,
}

fn when(viewer: &Viewer, text: &str) -> String {
    relata_domain::value::parse_datetime(text)
        .map(|t| viewer.fmt.datetime(&t))
        .unwrap_or_default()
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    new_token: Option<String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let me = state
        .core
        .get_user(&viewer.actor, viewer.actor.user_id.0)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let sessions: Vec<SessionView> = state
        .core
        .my_sessions(&viewer.actor, Some(viewer.session_id))
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let tokens: Vec<TokenView> = state
        .core
        .my_tokens(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let mut zones: Vec<String> = ZONES.iter().map(|z| (*z).to_owned()).collect();
    if !zones.contains(&me.time_zone) {
        zones.insert(0, me.time_zone.clone());
    }
    let failed = !errors.is_empty();
    let page = ProfilePage {
        chrome: Chrome::new(state, viewer, tr.t("profile.title").to_owned(), "me")
            .with_notice(notice),
        name: me.name,
        locale: me.locale,
        time_zone: me.time_zone,
        zones,
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                id: s.id.clone(),
                seen: when(viewer, &s.last_seen_at),
                client: [s.client_addr.clone(), s.user_agent.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                current: s.current,
            })
            .collect(),
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: t.id.clone(),
                name: t.name.clone(),
                created: when(viewer, &t.created_at),
                expires: t
                    .expires_at
                    .as_deref()
                    .map(|e| when(viewer, e))
                    .unwrap_or_else(|| tr.t("profile.never").to_owned()),
                last_used: t
                    .last_used_at
                    .as_deref()
                    .map(|e| when(viewer, e))
                    .unwrap_or_else(|| tr.t("profile.never").to_owned()),
            })
            .collect(),
        new_token,
        errors,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let notice = q.done.map(|d| match d.as_str() {
        "password" => tr.t("profile.password_changed").to_owned(),
        _ => tr.t("record.saved").to_owned(),
    });
    render(&state, &viewer, None, Vec::new(), notice).await
}

fn errors_of(viewer: &Viewer, e: CoreError) -> Result<Vec<(String, String)>, WebError> {
    match e {
        CoreError::Validation(list) => Ok(list
            .iter()
            .map(|e| (e.field.clone(), field_error_text(viewer.tr(), e)))
            .collect()),
        CoreError::Forbidden { .. } => Ok(vec![(
            "current_password".to_owned(),
            viewer.tr().t("profile.wrong_password").to_owned(),
        )]),
        other => Err(WebError::core(other, viewer.tr())),
    }
}

pub async fn save(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let input = json!({
        "name": form.first("name").unwrap_or_default().trim(),
        "locale": form.first("locale").unwrap_or("en"),
        "time_zone": form.first("time_zone").unwrap_or("UTC").trim(),
    });
    match state.core.update_me(&viewer.actor, input).await {
        Ok(_) => Ok(see_other("/me?done=profile")),
        Err(e) => {
            let errors = errors_of(&viewer, e)?;
            render(&state, &viewer, None, errors, None).await
        }
    }
}

pub async fn change_password(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let new = form.first("new_password").unwrap_or_default();
    if form.first("new_password_again") != Some(new) {
        let errors = vec![(
            "new_password_again".to_owned(),
            tr.t("setup.password_mismatch").to_owned(),
        )];
        return render(&state, &viewer, None, errors, None).await;
    }
    let current = form.first("current_password").unwrap_or_default();
    match state
        .core
        .change_password(&viewer.actor, current, new)
        .await
    {
        // every session ends with a password change, this one included
        Ok(()) => Ok(see_other("/login?done=password")),
        Err(e) => {
            let errors = errors_of(&viewer, e)?
                .into_iter()
                .map(|(f, m)| {
                    let field = if f == "password" || f == "new_password" {
                        "new_password".to_owned()
                    } else {
                        f
                    };
                    (field, m)
                })
                .collect();
            render(&state, &viewer, None, errors, None).await
        }
    }
}

pub async fn revoke_session(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .revoke_session(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(if id == viewer.session_id {
        "/login"
    } else {
        "/me"
    }))
}

pub async fn create_token(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    // an empty box means "never expires"; anything else must be a number of days, so a
    // typo ("9O") is an error at the field, never a token that lives for ever
    let expires_in_days = match form.first("expires_in_days").map(str::trim) {
        None | Some("") => None,
        Some(days) => match days.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let e = FieldError::new(
                    "expires_in_days",
                    FieldErrorCode::WrongType,
                    "must be a whole number of days from 1 to 3650, or empty for a token that does not expire",
                );
                let errors = vec![(e.field.clone(), field_error_text(viewer.tr(), &e))];
                return render(&state, &viewer, None, errors, None).await;
            }
        },
    };
    let input = TokenInput {
        name: form.first("token_name").unwrap_or_default().to_owned(),
        expires_in_days,
        scopes: match form.first("scope") {
            Some("read") => Some(vec![relata_core::context::TokenScope {
                object: "*".into(),
                access: relata_core::context::ScopeAccess::Read,
            }]),
            _ => None,
        },
    };
    match state.core.create_token(&viewer.actor, input).await {
        Ok((_, secret)) => render(&state, &viewer, Some(secret), Vec::new(), None).await,
        Err(e) => {
            let errors = errors_of(&viewer, e)?
                .into_iter()
                .map(|(f, m)| {
                    (
                        if f == "name" {
                            "token_name".to_owned()
                        } else {
                            f
                        },
                        m,
                    )
                })
                .collect();
            render(&state, &viewer, None, errors, None).await
        }
    }
}

pub async fn revoke_token(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .revoke_token(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other("/me"))
}
