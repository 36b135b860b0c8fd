//! The batch duplicate job in settings: start one over an object from its duplicate rule's
//! page, follow it, and work through its review queue (`/settings/duplicate-jobs/{id}`):
//! each group of likely duplicates with its confidence and records, merged (the most
//! complete record survives; undo from its page) or dismissed, or many merged at once.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::dedupe::merge::MergeStrategy;
use relata_domain::{ObjectDef, Value};

use super::{Tab, chrome};
use crate::error::WebError;
use crate::notice;
use crate::pages::{Chrome, html, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Groups shown per page of the queue.
const PAGE: usize = 50;

pub struct Member {
    pub href: String,
    pub name: String,
    pub detail: String,
}

pub struct GroupLine {
    pub id: String,
    pub confidence: String,
    pub members: Vec<Member>,
}

#[derive(Template)]
#[template(path = "settings/duplicate_review.html")]
struct ReviewPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    object: String,
    object_label: String,
    status: String,
    summary: String,
    groups: Vec<GroupLine>,
    running: bool,
}

fn member(object: &ObjectDef, r: &relata_domain::Record, viewer: &Viewer) -> Member {
    let text = |f: &str| match r.get(f) {
        Value::Text(t) if !t.is_empty() => Some(t.clone()),
        _ => None,
    };
    let name = text(object.name_field.as_str())
        .unwrap_or_else(|| viewer.tr().t("value.untitled").to_owned());
    let detail = ["email", "phone", "mobile", "company", "website"]
        .iter()
        .filter_map(|f| text(f))
        .collect::<Vec<_>>()
        .join(" · ");
    Member {
        href: format!(
            "/o/{}/{}",
            object.name(),
            r.id().map(|i| i.to_string()).unwrap_or_default()
        ),
        name,
        detail,
    }
}

/// `GET /settings/duplicate-jobs/{id}`: the job and its open groups.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let (chrome, tabs) = chrome(
        &state,
        &viewer,
        tr.t("dedupe_job.title").to_owned(),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let job = state
        .core
        .duplicate_job(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let object = state
        .core
        .object(&job.object)
        .map_err(|e| WebError::core(e, tr))?;
    let groups = if job.status == "done" {
        state
            .core
            .duplicate_groups(&viewer.actor, id, "open", PAGE, 0)
            .await
            .map_err(|e| WebError::core(e, tr))?
    } else {
        Vec::new()
    };
    let page = ReviewPage {
        chrome: chrome.with_notice(notice::read(&viewer.csrf, &pairs)),
        tabs,
        id: id.to_string(),
        object: object.name().to_owned(),
        object_label: tr.object_plural(&object),
        status: tr
            .t(&format!("dedupe_job.status_{}", job.status))
            .to_owned(),
        summary: tr.tf(
            "dedupe_job.summary",
            &[
                ("records", &job.records.to_string()),
                ("pairs", &job.pairs.to_string()),
                ("groups", &job.groups.to_string()),
            ],
        ),
        running: job.status == "queued" || job.status == "running",
        groups: groups
            .iter()
            .map(|(g, members)| GroupLine {
                id: g.id.to_string(),
                confidence: format!("{:.0}%", g.confidence * 100.0),
                members: members
                    .iter()
                    .map(|r| member(&object, r, &viewer))
                    .collect(),
            })
            .collect(),
    };
    Ok(html(page.render()))
}

/// `POST /settings/objects/{object}/duplicates/run`: starts a job, then its page.
pub async fn start(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let job = state
        .core
        .start_duplicate_job(&viewer.actor, &name)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!("/settings/duplicate-jobs/{}", job.id)))
}

/// `POST /settings/duplicate-jobs/{id}/review`: merges or dismisses one group (`group` with
/// `action`), or merges every ticked group (`action=merge_all`).
pub async fn review(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let back = format!("/settings/duplicate-jobs/{id}");
    let groups: Vec<Uuid> = form
        .all("group")
        .into_iter()
        .filter_map(|g| Uuid::parse_str(g).ok())
        .collect();
    let message = match (form.first("action").unwrap_or_default(), groups.as_slice()) {
        ("dismiss", [one]) => state
            .core
            .dismiss_duplicate_group(&viewer.actor, *one)
            .await
            .map(|_| tr.t("dedupe_job.dismissed").to_owned()),
        ("merge", [one]) => state
            .core
            .merge_duplicate_group(&viewer.actor, *one, None, MergeStrategy::MostRecent)
            .await
            .map(|_| tr.t("dedupe_job.merged_one").to_owned()),
        ("merge_all", many) if !many.is_empty() => state
            .core
            .merge_duplicate_groups(&viewer.actor, many, MergeStrategy::MostRecent)
            .await
            .map(|results| {
                let done = results.iter().filter(|(_, r)| r.is_ok()).count();
                tr.tf(
                    "dedupe_job.merged_many",
                    &[
                        ("done", &done.to_string()),
                        ("total", &results.len().to_string()),
                    ],
                )
            }),
        _ => Ok(tr.t("dedupe_job.none_ticked").to_owned()),
    };
    let message = match message {
        Ok(m) => m,
        Err(
            relata_core::CoreError::Conflict { message, .. }
            | relata_core::CoreError::Forbidden { message },
        ) => message,
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(see_other(&notice::redirect_with(
        &viewer.csrf,
        &back,
        &message,
    )))
}
