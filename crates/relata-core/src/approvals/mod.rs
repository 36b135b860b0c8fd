//! The approval engine (审批流), one for every object that needs a decision before it may
//! go on: a quote whose discount passes a threshold now, contracts and deal registrations
//! later. A process names the object, the condition (filter language) a record must match
//! to need it, and its steps in sequence; each step's approvers are named users or everyone
//! in a role, and either any one of them or all of them decide. A submission is a request;
//! each approver's decision is kept with its comment; the submitter may recall a pending
//! request. The record's `approval_status` field (none, pending, approved, rejected) follows,
//! written through the one write path.

mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::meta::Schema;
use relata_domain::{Record, Value};
use relata_store::Conn;

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::read::{self, Bin};
use crate::records::{with_companions, write};
use crate::visibility::Visibility;

pub use store::{Decision, Request};

/// The record field an approval writes.
pub const FIELD: &str = "approval_status";

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One approver's decision settles the step.
    #[default]
    Any,
    /// Every approver of the step must approve (one rejection rejects).
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Approvers {
    Users(Vec<Uuid>),
    Role(Uuid),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub approvers: Approvers,
    #[serde(default)]
    pub mode: Mode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    #[serde(default)]
    pub id: Uuid,
    pub name: String,
    pub object: String,
    /// A filter (JSON form); `null` means every record of the object.
    #[serde(default)]
    pub condition: Json,
    pub steps: Vec<Step>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn problem(field: &str, code: Code, message: impl Into<String>) -> CoreError {
    CoreError::Validation(vec![FieldError::new(field, code, message)])
}

/// Whether `record` matches `process`'s condition.
fn applies(
    schema: &Schema,
    process: &Process,
    record: &Record,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    if process.condition.is_null() {
        return Ok(true);
    }
    let object = schema
        .object(&process.object)
        .ok_or_else(|| CoreError::Internal(format!("no object {}", process.object)))?;
    let filter = relata_domain::filter::json::parse(&process.condition)
        .map_err(|e| CoreError::Validation(vec![e]))?;
    let typed = relata_domain::filter::type_filter(&filter, object, now, &|_| true)
        .map_err(|e| CoreError::Validation(vec![e]))?;
    Ok(typed.matches(record))
}

/// The first active process of `object` whose condition `record` matches.
pub(crate) fn process_for(
    conn: &mut dyn Conn,
    schema: &Schema,
    object: &str,
    record: &Record,
    now: DateTime<Utc>,
) -> Result<Option<Process>, CoreError> {
    for process in store::processes(conn, Some(object))? {
        if process.active && applies(schema, &process, record, now)? {
            return Ok(Some(process));
        }
    }
    Ok(None)
}

/// Who decides `step`.
fn approvers_of(conn: &mut dyn Conn, step: &Step) -> Result<Vec<Uuid>, CoreError> {
    match &step.approvers {
        Approvers::Users(users) => Ok(users.clone()),
        Approvers::Role(role) => store::users_in_role(conn, *role),
    }
}

impl Core {
    pub async fn approval_processes(&self, actor: &Actor) -> Result<Vec<Process>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(|conn| store::processes(conn, None)).await
    }

    /// Creates or replaces (same id) a process, after checking its object, condition and
    /// steps.
    pub async fn save_approval_process(
        &self,
        actor: &Actor,
        mut process: Process,
    ) -> Result<Process, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let schema = self.schema();
        let Some(object) = schema.object(&process.object) else {
            return Err(problem("object", Code::InvalidOption, "no such object"));
        };
        if object.field(FIELD).is_none() {
            return Err(problem(
                "object",
                Code::InvalidOption,
                format!(
                    "{} has no {FIELD} field to follow an approval",
                    process.object
                ),
            ));
        }
        if process.name.trim().is_empty() {
            return Err(problem("name", Code::Required, "is required"));
        }
        if process.steps.is_empty() {
            return Err(problem(
                "steps",
                Code::Required,
                "a process needs at least one step",
            ));
        }
        for (i, step) in process.steps.iter().enumerate() {
            if matches!(&step.approvers, Approvers::Users(u) if u.is_empty()) {
                return Err(problem(
                    &format!("steps[{i}].approvers"),
                    Code::Required,
                    "name at least one approver",
                ));
            }
        }
        if !process.condition.is_null() {
            let filter =
                relata_domain::filter::json::parse(&process.condition).map_err(|mut e| {
                    e.field = format!("condition.{}", e.field);
                    CoreError::Validation(vec![e])
                })?;
            relata_domain::filter::type_filter(&filter, object, self.clock.now(), &|_| true)
                .map_err(|mut e| {
                    e.field = format!("condition.{}", e.field);
                    CoreError::Validation(vec![e])
                })?;
        }
        if process.id.is_nil() {
            process.id = relata_domain::ids::uuid_v7_at(self.clock.now());
        }
        let now = self.clock.now();
        let saved = process.clone();
        self.store
            .write(move |conn| store::save_process(conn, &saved, now))
            .await?;
        Ok(process)
    }

    pub async fn delete_approval_process(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .write(move |conn| store::delete_process(conn, id))
            .await?;
        Ok(())
    }

    /// Submits a record the actor may edit. With no process for it, it is approved at once
    /// (nothing asks for a decision) and no request is made.
    pub async fn submit_for_approval(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
        comment: Option<String>,
    ) -> Result<Option<Request>, CoreError> {
        let object = self.object(object)?;
        if object.field(FIELD).is_none() {
            return Err(problem(
                "object",
                Code::InvalidOption,
                "this object has no approvals",
            ));
        }
        let vis = self.visibility(actor, &object, Operation::Edit)?;
        let (schema, now, writer) = (self.schema(), self.clock.now(), actor.clone());
        self.store
            .write(move |conn| {
                let current = read::get_for_update(conn, &object, id, &vis, Bin::Live)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
                if current.get(FIELD) == &Value::Text("pending".into()) {
                    return Err(problem(
                        FIELD,
                        Code::InvalidTransition,
                        "is already in approval",
                    ));
                }
                if current.get(FIELD) == &Value::Text("approved".into()) {
                    return Err(problem(
                        FIELD,
                        Code::InvalidTransition,
                        "is already approved",
                    ));
                }
                let process = process_for(conn, &schema, object.name(), &current, now)?;
                let (status, request) = match process {
                    None => ("approved", None),
                    Some(p) => {
                        let request =
                            Request::new(&p, object.name(), id, writer.user_id.0, now, comment);
                        store::insert_request(conn, &request)?;
                        notify_step(conn, &p, &request, now)?;
                        ("pending", Some(request))
                    }
                };
                set_status(conn, &object, &writer, now, current, status)?;
                Ok(request)
            })
            .await
    }

    /// Approves (`true`) or rejects the current step of a pending request, as one of its
    /// approvers.
    pub async fn decide_approval(
        &self,
        actor: &Actor,
        request_id: Uuid,
        approve: bool,
        comment: Option<String>,
    ) -> Result<Request, CoreError> {
        let (now, user, schema) = (self.clock.now(), actor.user_id.0, self.schema());
        self.store
            .write(move |conn| {
                let mut request = pending(conn, request_id)?;
                let process = store::process(conn, request.process_id)?
                    .ok_or_else(|| CoreError::Internal("the request's process is gone".into()))?;
                let step = process.steps.get(request.step as usize).ok_or_else(|| {
                    CoreError::Internal("the request is past its last step".into())
                })?;
                let approvers = approvers_of(conn, step)?;
                if !approvers.contains(&user) {
                    return Err(CoreError::Forbidden {
                        message: "you are not an approver of this step".into(),
                    });
                }
                let decisions = store::decisions(conn, request.id)?;
                if decisions
                    .iter()
                    .any(|d| d.step == request.step && d.user_id == user)
                {
                    return Err(problem(
                        "decision",
                        Code::Duplicate,
                        "you have decided this step",
                    ));
                }
                let decision = Decision {
                    id: relata_domain::ids::uuid_v7_at(now),
                    request_id: request.id,
                    step: request.step,
                    user_id: user,
                    decision: if approve { "approved" } else { "rejected" }.into(),
                    comment,
                    at: now,
                };
                store::insert_decision(conn, &decision)?;
                let step_done = !approve
                    || step.mode == Mode::Any
                    || approvers.iter().all(|a| {
                        *a == user
                            || decisions.iter().any(|d| {
                                d.step == request.step
                                    && d.user_id == *a
                                    && d.decision == "approved"
                            })
                    });
                if !step_done {
                    return Ok(request);
                }
                let outcome = if !approve {
                    Some("rejected")
                } else if (request.step as usize) + 1 >= process.steps.len() {
                    Some("approved")
                } else {
                    None
                };
                match outcome {
                    None => {
                        request.step += 1;
                        store::update_request(conn, &request)?;
                        notify_step(conn, &process, &request, now)?;
                    }
                    Some(status) => {
                        request.status = status.into();
                        request.decided_at = Some(now);
                        store::update_request(conn, &request)?;
                        finish(conn, &schema, &request, status, now)?;
                    }
                }
                Ok(request)
            })
            .await
    }

    /// Takes a pending request back (its submitter, or an administrator of automation).
    pub async fn recall_approval(
        &self,
        actor: &Actor,
        request_id: Uuid,
    ) -> Result<Request, CoreError> {
        let (now, schema) = (self.clock.now(), self.schema());
        let admin = actor
            .require_capability(Capability::ManageAutomation)
            .is_ok();
        let user = actor.user_id.0;
        self.store
            .write(move |conn| {
                let mut request = pending(conn, request_id)?;
                if request.submitted_by != user && !admin {
                    return Err(CoreError::Forbidden {
                        message: "only its submitter may recall a request".into(),
                    });
                }
                request.status = "recalled".into();
                request.decided_at = Some(now);
                store::update_request(conn, &request)?;
                finish(conn, &schema, &request, "none", now)?;
                Ok(request)
            })
            .await
    }

    /// A request with its decisions, for someone who may read its record.
    pub async fn approval_request(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Request, Vec<Decision>), CoreError> {
        let (request, decisions) = self
            .store
            .read(move |conn| {
                let request = store::request(conn, id)?
                    .ok_or_else(|| CoreError::not_found(format!("approval request {id}")))?;
                let decisions = store::decisions(conn, id)?;
                Ok::<_, CoreError>((request, decisions))
            })
            .await?;
        self.get_record(actor, &request.object, request.record_id)
            .await?;
        Ok((request, decisions))
    }

    /// The requests of a record, newest first.
    pub async fn approval_history(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Vec<Request>, CoreError> {
        self.get_record(actor, object, id).await?;
        let object = object.to_owned();
        self.store
            .read(move |conn| store::requests_of(conn, &object, id))
            .await
    }

    /// The pending requests whose current step the actor decides and has not yet decided.
    /// Four queries whatever the number of requests: the web asks on every page for its
    /// navigation count.
    pub async fn my_approvals(&self, actor: &Actor) -> Result<Vec<Request>, CoreError> {
        let user = actor.user_id.0;
        self.store
            .read(move |conn| {
                let pending = store::pending_requests(conn)?;
                if pending.is_empty() {
                    return Ok(Vec::new());
                }
                let processes = store::processes(conn, None)?;
                let decided = store::pending_decisions_of(conn, user)?;
                let role = store::role_of(conn, user)?;
                Ok::<_, CoreError>(
                    pending
                        .into_iter()
                        .filter(|r| !decided.contains(&(r.id, r.step)))
                        .filter(|r| {
                            processes
                                .iter()
                                .find(|p| p.id == r.process_id)
                                .and_then(|p| p.steps.get(r.step as usize))
                                .is_some_and(|step| match &step.approvers {
                                    Approvers::Users(users) => users.contains(&user),
                                    Approvers::Role(r) => role == Some(*r),
                                })
                        })
                        .collect(),
                )
            })
            .await
    }
}

fn pending(conn: &mut dyn Conn, id: Uuid) -> Result<Request, CoreError> {
    let request = store::request(conn, id)?
        .ok_or_else(|| CoreError::not_found(format!("approval request {id}")))?;
    if request.status != "pending" {
        return Err(problem(
            "status",
            Code::InvalidTransition,
            format!("the request is {}, not pending", request.status),
        ));
    }
    Ok(request)
}

/// Tells the approvers of the request's current step.
fn notify_step(
    conn: &mut dyn Conn,
    process: &Process,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let Some(step) = process.steps.get(request.step as usize) else {
        return Ok(());
    };
    for user in approvers_of(conn, step)? {
        crate::notifications::append(
            conn,
            user,
            "approval_requested",
            Some(&request.object),
            Some(request.record_id),
            Some(request.submitted_by),
            serde_json::json!({"request": request.id, "process": process.name, "step": step.name}),
            now,
        )?;
    }
    Ok(())
}

/// Writes the outcome to the record and tells the submitter.
fn finish(
    conn: &mut dyn Conn,
    schema: &Schema,
    request: &Request,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let object = schema
        .object(&request.object)
        .cloned()
        .ok_or_else(|| CoreError::Internal(format!("no object {}", request.object)))?;
    let Some(current) = read::get_for_update(
        conn,
        &object,
        request.record_id,
        &Visibility::All,
        Bin::Live,
    )?
    else {
        return Ok(());
    };
    let writer = Actor::system(relata_domain::UserId(request.submitted_by));
    set_status(conn, &object, &writer, now, current, status)?;
    if status != "none" {
        crate::notifications::append(
            conn,
            request.submitted_by,
            &format!("approval_{status}"),
            Some(&request.object),
            Some(request.record_id),
            None,
            serde_json::json!({"request": request.id}),
            now,
        )?;
    }
    Ok(())
}

fn set_status(
    conn: &mut dyn Conn,
    object: &relata_domain::meta::ObjectDef,
    writer: &Actor,
    now: DateTime<Utc>,
    current: Record,
    status: &str,
) -> Result<(), CoreError> {
    let changes =
        std::collections::BTreeMap::from([(FIELD.to_owned(), Value::Text(status.to_owned()))]);
    with_companions(conn, |conn, side| {
        write::update(conn, side, object, writer, now, current, changes)
    })?;
    Ok(())
}
