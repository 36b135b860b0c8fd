//! Approvals (审批): the inbox of requests waiting for the viewer's decision, each with
//! Approve and Reject (a rejection says why); and, on the page of a record that goes through
//! approval (a quote), its approval status, the history of its requests with every decision,
//! and the buttons to submit it for approval or recall a request.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::approvals::{self, Process, Request};
use relata_core::fields;
use relata_domain::access::Capability;
use relata_domain::meta::ObjectDef;
use relata_domain::{Record, Value};

use super::{Chrome, readable_object, see_other};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// The notification the engine sends the approvers of a step; its detail names the request,
/// the process and the step.
pub const REQUESTED: &str = "approval_requested";

/// Figures the inbox shows beside a request's record, when its object has them (a quote's
/// number, version, total and overall discount).
const FIGURES: &[&str] = &[
    "quote_number",
    "quote_version",
    "total",
    "discount_percent_total",
];

/// The longest comment a form takes.
const MAX_COMMENT: usize = 2000;

/// Names of processes and steps, as far as the viewer may know them: every process for an
/// administrator of automation; otherwise the process and step the engine named when it
/// asked the viewer to decide (their `approval_requested` notifications).
struct StepNames {
    processes: HashMap<Uuid, Process>,
    /// request → (process, the step the viewer was last asked to decide)
    asked: HashMap<Uuid, (String, String)>,
}

impl StepNames {
    async fn load(state: &WebState, viewer: &Viewer) -> StepNames {
        let mut names = StepNames {
            processes: HashMap::new(),
            asked: HashMap::new(),
        };
        if viewer.actor.access.has(Capability::ManageAutomation) {
            match state.core.approval_processes(&viewer.actor).await {
                Ok(all) => names.processes = all.into_iter().map(|p| (p.id, p)).collect(),
                Err(e) => tracing::warn!(error = ?e, "listing approval processes failed"),
            }
            return names;
        }
        if let Ok((list, _)) = state.core.my_notifications(&viewer.actor, 200).await {
            // newest first: the first one of a request names its current step
            for n in list.iter().filter(|n| n.kind == REQUESTED) {
                let Some(request) = n.detail["request"]
                    .as_str()
                    .and_then(|r| Uuid::parse_str(r).ok())
                else {
                    continue;
                };
                names.asked.entry(request).or_insert_with(|| {
                    (
                        n.detail["process"].as_str().unwrap_or_default().to_owned(),
                        n.detail["step"].as_str().unwrap_or_default().to_owned(),
                    )
                });
            }
        }
        names
    }

    fn process(&self, request: &Request) -> String {
        match self.processes.get(&request.process_id) {
            Some(p) => p.name.clone(),
            None => self
                .asked
                .get(&request.id)
                .map(|(p, _)| p.clone())
                .unwrap_or_default(),
        }
    }

    /// Step `step` (0-based) of the request's process, by name when known.
    fn step(&self, tr: Tr, request: &Request, step: i64) -> String {
        let named = match self.processes.get(&request.process_id) {
            Some(p) => usize::try_from(step)
                .ok()
                .and_then(|i| p.steps.get(i))
                .map(|s| s.name.clone()),
            None if request.status == "pending" && step == request.step => self
                .asked
                .get(&request.id)
                .map(|(_, s)| s.clone())
                .filter(|s| !s.is_empty()),
            None => None,
        };
        let number = tr.tf("approvals.step_n", &[("n", &(step + 1).to_string())]);
        match named {
            Some(name) => format!("{number} · {name}"),
            None => number,
        }
    }
}

/// A request's status or a decision as the viewer reads it.
fn status_label(tr: Tr, status: &str) -> String {
    let key = match status {
        "pending" => "approvals.status_pending",
        "approved" => "approvals.status_approved",
        "rejected" => "approvals.status_rejected",
        "recalled" => "approvals.status_recalled",
        other => return other.to_owned(),
    };
    tr.t(key).to_owned()
}

/// What a refused action says, with its answer's status; what is not a refusal is an error
/// page.
fn refusal(e: CoreError, tr: Tr) -> Result<(StatusCode, String), WebError> {
    match e {
        CoreError::Validation(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        CoreError::Conflict { message, .. } => Ok((StatusCode::CONFLICT, message)),
        CoreError::BadRequest { message, .. } => Ok((StatusCode::BAD_REQUEST, message)),
        CoreError::Forbidden { message } => Ok((StatusCode::FORBIDDEN, message)),
        other => Err(WebError::core(other, tr)),
    }
}

/// The record's page again, saying why the action (`lead`: "Could not submit…") was
/// refused.
pub(crate) async fn refused(
    state: &WebState,
    viewer: &Viewer,
    object: &str,
    id: Uuid,
    lead: &str,
    e: CoreError,
) -> Result<Response, WebError> {
    let (status, reason) = refusal(e, viewer.tr())?;
    super::record::render_error(
        state,
        viewer,
        object,
        &id.to_string(),
        format!("{lead} {reason}"),
        status,
    )
    .await
}

fn comment_of(form: &crate::form::FormData) -> Option<String> {
    form.text("comment")
        .map(|c| c.chars().take(MAX_COMMENT).collect())
}

// ---------------------------------------------------------------------------------------
// the inbox

/// A request waiting for the viewer.
pub struct Waiting {
    pub id: String,
    pub object_label: String,
    /// The record's name, or a placeholder when the viewer may not see it.
    pub record: String,
    pub href: Option<String>,
    /// (label, value) of the record's key figures.
    pub figures: Vec<(String, String)>,
    pub submitter: String,
    pub submitted_at: String,
    pub process: String,
    pub step: String,
    pub comment: String,
}

/// A decision that was refused, shown on its request's form.
struct Failure {
    request: String,
    message: String,
    typed: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct InboxPage {
    chrome: Chrome,
    heading: String,
    waiting: Vec<Waiting>,
    /// The request whose form failed, its message and the comment typed.
    failed: String,
    error: String,
    typed: String,
    max_comment: usize,
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    outcome: Option<String>,
    sig: Option<String>,
}

fn record_title(viewer: &Viewer, object: &ObjectDef, record: &Record) -> String {
    match record.get(object.name_field.as_str()) {
        Value::Text(t) if !t.trim().is_empty() => t.clone(),
        _ => viewer.tr().object_label(object),
    }
}

fn figures(viewer: &Viewer, object: &ObjectDef, record: &Record) -> Vec<(String, String)> {
    let tr = viewer.tr();
    FIGURES
        .iter()
        .filter_map(|n| object.field(n))
        .filter(|f| fields::readable(&viewer.actor, object, f.name()))
        .filter(|f| !record.get(f.name()).is_null())
        .map(|f| {
            (
                tr.field_label(object, f),
                viewer.fmt.value(object, f, record.get(f.name())),
            )
        })
        .collect()
}

async fn inbox(
    state: &WebState,
    viewer: &Viewer,
    notice: Option<String>,
    failure: Option<Failure>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let requests = state
        .core
        .my_approvals(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let steps = StepNames::load(state, viewer).await;
    let users = state
        .core
        .user_names(requests.iter().map(|r| r.submitted_by).collect())
        .await
        .unwrap_or_default();
    let schema = state.core.schema();
    let mut waiting = Vec::new();
    for r in &requests {
        let object = schema.object(&r.object);
        let object_label = object.map(|o| tr.object_label(o)).unwrap_or_default();
        // the record as the viewer may see it: an approver who may not read it decides blind
        let seen = match object {
            Some(o) => state
                .core
                .get_record(&viewer.actor, o.name(), r.record_id)
                .await
                .ok()
                .map(|record| (o, record)),
            None => None,
        };
        let (record, href, figures) = match seen {
            Some((o, record)) => (
                record_title(viewer, o, &record),
                Some(format!("/o/{}/{}", o.name(), r.record_id)),
                figures(viewer, o, &record),
            ),
            None => (tr.t("approvals.record_hidden").to_owned(), None, Vec::new()),
        };
        waiting.push(Waiting {
            id: r.id.to_string(),
            object_label,
            record,
            href,
            figures,
            submitter: users
                .get(&r.submitted_by)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| tr.t("value.unknown_user").to_owned()),
            submitted_at: viewer.fmt.datetime(&r.submitted_at),
            process: steps.process(r),
            step: steps.step(tr, r, r.step),
            comment: r.comment.clone().unwrap_or_default(),
        });
    }
    let title = tr.t("approvals.title").to_owned();
    let failed = failure.is_some();
    let failure = failure.unwrap_or(Failure {
        request: String::new(),
        message: String::new(),
        typed: String::new(),
    });
    let page = InboxPage {
        chrome: Chrome::new(state, viewer, title, "approvals").with_notice(notice),
        heading: tr.tf(
            "approvals.waiting",
            &[("n", &viewer.fmt.integer(waiting.len() as i64))],
        ),
        waiting,
        failed: failure.request,
        error: failure.message,
        typed: failure.typed,
        max_comment: MAX_COMMENT,
    };
    Ok(super::html_unless(page.render(), failed))
}

/// `GET /approvals`: what waits for the viewer's decision.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let notice = match (q.outcome, q.sig) {
        (Some(outcome), Some(sig)) => crate::notice::read(
            &viewer.csrf,
            &[("outcome".to_owned(), outcome), ("sig".to_owned(), sig)],
        ),
        _ => None,
    };
    inbox(&state, &viewer, notice, None).await
}

/// `POST /approvals/{id}/decide`: approve (`decision=approve`) or reject, with a comment
/// (required to reject); back to the inbox.
pub async fn decide(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let request = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let approve = match form.first("decision") {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return Err(WebError::BadRequest(
                tr,
                tr.t("approvals.choose").to_owned(),
            ));
        }
    };
    let comment = comment_of(&form);
    let typed = form.first("comment").unwrap_or_default().to_owned();
    if !approve && comment.is_none() {
        let failure = Failure {
            request: request.to_string(),
            message: tr.t("approvals.reject_needs_comment").to_owned(),
            typed,
        };
        return inbox(&state, &viewer, None, Some(failure)).await;
    }
    match state
        .core
        .decide_approval(&viewer.actor, request, approve, comment)
        .await
    {
        Ok(decided) => {
            let message = match (approve, decided.status.as_str()) {
                (true, "pending") => tr.t("approvals.approved_step"),
                (true, _) => tr.t("approvals.approved"),
                (false, _) => tr.t("approvals.rejected"),
            };
            Ok(see_other(&crate::notice::redirect_with(
                &viewer.csrf,
                "/approvals",
                message,
            )))
        }
        Err(e) => {
            let (_, reason) = refusal(e, tr)?;
            let failure = Failure {
                request: request.to_string(),
                message: format!("{} {reason}", tr.t("approvals.decide_failed")),
                typed,
            };
            inbox(&state, &viewer, None, Some(failure)).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// on the record's page

/// One decision on a request.
pub struct DecisionLine {
    pub step: String,
    pub who: String,
    pub verdict: String,
    pub approved: bool,
    pub comment: String,
    pub when: String,
}

/// One request of the record, with its decisions.
pub struct HistoryItem {
    pub status: String,
    pub status_value: String,
    /// "Submitted by 张伟 on …".
    pub submitted: String,
    pub process: String,
    /// The submitter's comment.
    pub comment: String,
    pub decisions: Vec<DecisionLine>,
}

/// What the page of a record that goes through approval shows about it.
pub struct RecordPanel {
    /// The record's approval status, as the viewer reads it, and its value.
    pub status: String,
    pub status_value: String,
    /// Newest first.
    pub history: Vec<HistoryItem>,
    pub can_submit: bool,
    /// The pending request the viewer submitted, which they may recall.
    pub recall: Option<String>,
    /// The pending request waits for the viewer's decision.
    pub to_decide: Option<String>,
    /// A quote whose content is fixed: "Revise" makes its next version.
    pub can_revise: bool,
    /// A quote replaced by a newer version, and the link to that one if the viewer may see
    /// it.
    pub superseded: bool,
    pub newer: Option<String>,
}

/// The approval panel of `record`'s page, when its object goes through approval and the
/// viewer may read its status.
pub async fn record_panel(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
    may_edit: bool,
) -> Option<RecordPanel> {
    let field = object.field(approvals::FIELD)?;
    if !fields::readable(&viewer.actor, object, field.name()) {
        return None;
    }
    let id = record.id()?;
    let tr = viewer.tr();
    let status_value = match record.get(field.name()) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => "none".to_owned(),
    };
    let requests = state
        .core
        .approval_history(&viewer.actor, object.name(), id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "reading a record's approval history failed");
            Vec::new()
        });
    let mut decided = Vec::with_capacity(requests.len());
    for r in &requests {
        decided.push(
            state
                .core
                .approval_request(&viewer.actor, r.id)
                .await
                .map(|(_, d)| d)
                .unwrap_or_default(),
        );
    }
    let steps = if requests.is_empty() {
        None
    } else {
        Some(StepNames::load(state, viewer).await)
    };
    let mut people: Vec<Uuid> = requests.iter().map(|r| r.submitted_by).collect();
    people.extend(decided.iter().flatten().map(|d| d.user_id));
    let users = state.core.user_names(people).await.unwrap_or_default();
    let name_of = |user: &Uuid| {
        users
            .get(user)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| tr.t("value.unknown_user").to_owned())
    };
    let history = requests
        .iter()
        .zip(&decided)
        .map(|(r, decisions)| HistoryItem {
            status: status_label(tr, &r.status),
            status_value: r.status.clone(),
            submitted: tr.tf(
                "approvals.submitted_line",
                &[
                    ("who", &name_of(&r.submitted_by)),
                    ("when", &viewer.fmt.datetime(&r.submitted_at)),
                ],
            ),
            process: steps.as_ref().map(|s| s.process(r)).unwrap_or_default(),
            comment: r.comment.clone().unwrap_or_default(),
            decisions: decisions
                .iter()
                .map(|d| DecisionLine {
                    step: steps
                        .as_ref()
                        .map(|s| s.step(tr, r, d.step))
                        .unwrap_or_default(),
                    who: name_of(&d.user_id),
                    approved: d.decision == "approved",
                    verdict: tr
                        .t(if d.decision == "approved" {
                            "approvals.verdict_approved"
                        } else {
                            "approvals.verdict_rejected"
                        })
                        .to_owned(),
                    comment: d.comment.clone().unwrap_or_default(),
                    when: viewer.fmt.datetime(&d.at),
                })
                .collect(),
        })
        .collect();
    let pending = requests.iter().find(|r| r.status == "pending");
    let me = viewer.actor.user_id.0;
    let to_decide = match pending {
        Some(p) if viewer.approvals > 0 => state
            .core
            .my_approvals(&viewer.actor)
            .await
            .unwrap_or_default()
            .iter()
            .any(|w| w.id == p.id)
            .then(|| p.id.to_string()),
        _ => None,
    };
    let is_quote = object.standard && object.name() == relata_domain::pricing::QUOTE;
    let superseded = is_quote && super::quotes::superseded(record);
    let newer = if superseded {
        super::quotes::newer_version(state, viewer, id).await
    } else {
        None
    };
    Some(RecordPanel {
        status: viewer
            .fmt
            .value(object, field, &Value::Text(status_value.clone())),
        can_submit: may_edit
            && matches!(status_value.as_str(), "none" | "rejected")
            && pending.is_none()
            && !superseded,
        recall: pending
            .filter(|p| p.submitted_by == me)
            .map(|p| p.id.to_string()),
        to_decide,
        can_revise: is_quote && super::quotes::may_revise(viewer, record, may_edit),
        superseded,
        newer,
        status_value,
        history,
    })
}

/// `POST /o/{object}/{id}/approval/submit`: submits the record (with an optional comment for
/// the approvers); back to its page.
pub async fn submit(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    match state
        .core
        .submit_for_approval(&viewer.actor, object.name(), id, comment_of(&form))
        .await
    {
        Ok(request) => {
            let message = match request {
                Some(_) => tr.t("approvals.submitted"),
                None => tr.t("approvals.no_process"),
            };
            Ok(see_other(&crate::notice::redirect_with(
                &viewer.csrf,
                &format!("/o/{}/{id}", object.name()),
                message,
            )))
        }
        Err(e) => {
            refused(
                &state,
                &viewer,
                object.name(),
                id,
                tr.t("approvals.submit_failed"),
                e,
            )
            .await
        }
    }
}

/// `POST /o/{object}/{id}/approval/recall` (`request`: the pending request): takes it back;
/// back to the record's page.
pub async fn recall(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let request = form
        .first("request")
        .and_then(|r| Uuid::parse_str(r).ok())
        .ok_or(WebError::NotFound(tr))?;
    // only a request of this record is recalled from its page
    let (found, _) = state
        .core
        .approval_request(&viewer.actor, request)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    if found.object != object.name() || found.record_id != id {
        return Err(WebError::NotFound(tr));
    }
    match state.core.recall_approval(&viewer.actor, request).await {
        Ok(_) => Ok(see_other(&crate::notice::redirect_with(
            &viewer.csrf,
            &format!("/o/{}/{id}", object.name()),
            tr.t("approvals.recalled"),
        ))),
        Err(e) => {
            refused(
                &state,
                &viewer,
                object.name(),
                id,
                tr.t("approvals.recall_failed"),
                e,
            )
            .await
        }
    }
}
