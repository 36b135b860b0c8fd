//! Page handlers. Each is thin: read the request, call relata-core, fill a template.

pub mod agenda;
pub mod approvals;
pub mod attachments;
pub mod auth;
pub mod automation;
pub mod board;
pub mod bulk;
pub mod calendar;
pub mod cells;
pub mod charts;
pub mod contracts;
pub mod decision_chain;
pub mod duplicates;
pub mod edit;
pub mod email;
pub mod export;
pub mod forecast;
pub mod groups;
pub mod hierarchy;
pub mod home;
pub mod imports;
pub mod inputs;
pub mod layout;
pub mod lead_conversion;
pub mod list;
pub mod merge;
pub mod my_day;
pub mod notifications;
pub mod periods;
pub mod pools;
pub mod profile;
pub mod quality;
pub mod quotes;
pub mod receivables;
pub mod record;
pub mod sales_dashboard;
pub mod sales_report;
pub mod search;
pub mod settings;
pub mod stage_history;
pub mod targets;
pub mod teams;
pub mod timeline;
pub mod upload_form;
pub mod views;
pub mod web_form;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use relata_domain::access::{Capability, Operation};
use relata_domain::activity;
use relata_domain::meta::ObjectDef;

use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// The standard objects in the order a sales team works through them; custom objects follow
/// by name.
const NAV_ORDER: &[&str] = &[
    "lead",
    "account",
    "contact",
    "opportunity",
    "task",
    "note",
    "product",
];

/// An object in the navigation or the create menu.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub name: String,
    pub label: String,
    pub plural: String,
}

/// What every signed-in page shows around its content.
pub struct Chrome {
    pub tr: Tr,
    pub title: String,
    pub user_name: String,
    pub csrf: String,
    /// Objects the user may read.
    pub nav: Vec<NavItem>,
    /// Objects the user may create records of.
    pub creatable: Vec<NavItem>,
    /// The nav entry to highlight: an object name, `home`, `my_day`, `calendar`,
    /// `sales_dashboard`, `forecast`, `targets`, `sales_report`, `receivables`, `search`, `me`
    /// or `settings`.
    pub current: String,
    pub is_admin: bool,
    /// The viewer may read leads or accounts, which pools (公海) hold: the nav offers them.
    pub pools: bool,
    /// The viewer may read tasks or meetings: the nav offers My day and the calendar.
    pub agenda: bool,
    /// The viewer may read opportunities: the nav offers the sales dashboard, the forecast,
    /// targets and the sales report.
    pub sales: bool,
    /// The viewer may read payment plans (instalments): the nav offers receivables.
    pub receivables: bool,
    pub asset_version: &'static str,
    /// A one-line confirmation of what just happened ("Saved").
    pub notice: Option<String>,
    /// This page's path and query, to come back to after the language switch.
    pub here: String,
    pub unread: i64,
    /// Approval requests waiting for the viewer (the navigation's number).
    pub approvals: i64,
}

impl Chrome {
    pub fn new(state: &WebState, viewer: &Viewer, title: String, current: &str) -> Chrome {
        let schema = state.core.schema();
        let mut objects: Vec<&Arc<ObjectDef>> = schema
            .objects()
            .filter(|o| viewer.actor.may(o.name(), Operation::Read))
            .collect();
        let rank = |o: &ObjectDef| {
            NAV_ORDER
                .iter()
                .position(|n| *n == o.name())
                .unwrap_or(NAV_ORDER.len())
        };
        let tr = viewer.tr();
        objects.sort_by_key(|o| (rank(o), tr.object_plural(o)));
        let item = |o: &ObjectDef| NavItem {
            name: o.name().to_owned(),
            label: tr.object_label(o),
            plural: tr.object_plural(o),
        };
        Chrome {
            tr,
            title,
            user_name: viewer.profile.name.clone(),
            csrf: viewer.csrf.clone(),
            creatable: objects
                .iter()
                .filter(|o| viewer.actor.may(o.name(), Operation::Create))
                .map(|o| item(o))
                .collect(),
            nav: objects.iter().map(|o| item(o)).collect(),
            current: current.to_owned(),
            is_admin: viewer.actor.access.has(Capability::ManageMetadata)
                || viewer.actor.access.has(Capability::ManageUsers)
                || viewer.actor.access.has(Capability::ViewAudit),
            pools: relata_domain::pool::OBJECTS
                .iter()
                .any(|o| viewer.actor.may(o, Operation::Read)),
            agenda: [activity::TASK, activity::MEETING]
                .iter()
                .any(|o| viewer.actor.may(o, Operation::Read)),
            sales: viewer
                .actor
                .may(relata_domain::opportunity::OBJECT, Operation::Read),
            receivables: viewer
                .actor
                .may(relata_domain::collection::PLAN, Operation::Read),
            asset_version: crate::assets::version(),
            notice: None,
            here: viewer.here.clone(),
            unread: viewer.unread,
            approvals: viewer.approvals,
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Chrome {
        self.notice = notice;
        self
    }
}

/// A rendered template as an HTML response (an error page when rendering failed).
pub fn html(rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A rendered page answered 422 when `failed` (a form shown again with its errors).
pub fn html_unless(rendered: Result<String, askama::Error>, failed: bool) -> Response {
    let mut response = html(rendered);
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// After a successful POST: to the page that shows the result (303, so a reload does not
/// post again).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `s` encoded for a URL's query (a picklist value or a cursor in a link).
pub fn url_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Only a path on this site may be a redirect target (no `//evil.example`).
pub fn local_path(next: Option<&str>) -> String {
    // browsers drop tabs and newlines from URLs ("/\t/evil" is "//evil") and read "\" as
    // "/": a path with either is refused
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The object named in a page's path, if the viewer may read it.
pub fn readable_object(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
) -> Result<Arc<ObjectDef>, WebError> {
    let object = state
        .core
        .object(name)
        .map_err(|_| WebError::NotFound(viewer.tr()))?;
    if !viewer.actor.may(object.name(), Operation::Read) {
        return Err(WebError::NotFound(viewer.tr()));
    }
    Ok(object)
}

/// The content security policy of every page but one, which lets other sites frame it
/// (`FRAMEABLE_POLICY`).
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The policy of a web form's public page: any site may frame it, and its form may lead on to
/// the redirect the administrator chose; the rest as `PAGE_POLICY`.
pub const FRAMEABLE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors *; form-action 'self' https: http:";

/// Headers every page carries: no framing (clickjacking), no inline or foreign script, no
/// MIME sniffing, and no referrer beyond this site.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    // a page that set its own policy (a web form's, which other sites may frame) keeps it
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(
            local_path(Some("/o/account?sort=name")),
            "/o/account?sort=name"
        );
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "/\n/evil",
            "https://evil.example",
            "evil",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
