//! Workflow rules: "when X happens to a record that meets C, do these steps (some of them
//! later)". One engine on the job queue runs them all (DESIGN principle 5).
//!
//! - A rule's definition (`relata_domain::workflow`) is checked against metadata and against
//!   what its owner — the administrator who saved it last — may do ([`check`]); a rule acts
//!   with its owner's access, so it never changes what they could not change by hand.
//! - Every save of a definition is a new version; a run keeps the version it started with,
//!   so editing a rule never changes what a running instance does next.
//! - Rules are started from the change feed ([`fanout`]): a step after each commit reads the
//!   new events, decides per rule whether it fires (trigger and condition, on the record as
//!   it was right after that change), and writes a run row and a `workflow.run` job for each,
//!   in one transaction with moving its cursor — durable, and off the write path.
//! - A run ([`run`]) executes the steps in order with the owner's access; each step's effect
//!   is keyed by the run and the step, so a retried job does not do it twice. A wait parks the
//!   run and queues a delayed job to wake it.
//! - Chains of rules (one rule's change triggers another) are cut at
//!   [`MAX_DEPTH`](relata_domain::workflow::MAX_DEPTH), and a rule runs at most
//!   [`MAX_RUNS_PER_RECORD_HOUR`](relata_domain::workflow::MAX_RUNS_PER_RECORD_HOUR) times
//!   an hour on one record; what is cut is recorded as a skipped run, with why.

pub mod check;
pub mod explain;
pub mod fanout;
pub mod inbound;
pub mod run;
pub(crate) mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::workflow::{Definition, Trigger};
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::jobs::{self as queue, Schedule};
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::changes::head_seq;
use crate::context::Actor;
use crate::error::CoreError;
use crate::jobs::kind;

pub use store::{Run, RunQuery, status};

/// A rule as administrators see it.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: Uuid,
    pub name: String,
    pub object: String,
    pub enabled: bool,
    pub version: i64,
    pub definition: Json,
    /// Whose access the rule acts with: whoever saved it last.
    pub owner_id: Uuid,
    /// Runs that failed, and the last failure.
    pub failures: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) since_seq: i64,
}

impl Rule {
    /// The definition, parsed (it was checked when saved).
    pub fn parsed(&self) -> Result<Definition, CoreError> {
        Definition::parse(&self.definition).map_err(CoreError::field)
    }
}

/// One saved version of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: i64,
    pub definition: Json,
    pub saved_by: Uuid,
    pub saved_at: DateTime<Utc>,
}

/// How far behind the workflow engine is.
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// Change-feed events not yet judged against the rules.
    pub events_behind: i64,
    /// Runs queued or running now.
    pub queued_runs: i64,
    /// Runs parked at a wait.
    pub waiting_runs: i64,
}

/// What an administrator writes.
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub name: String,
    pub object: String,
    pub enabled: bool,
    pub definition: Json,
}

/// The schedule of a rule with a schedule trigger is named after the rule.
fn schedule_name(rule: Uuid) -> String {
    format!("workflow:{rule}")
}

impl Core {
    pub async fn workflow_rules(&self, actor: &Actor) -> Result<Vec<Rule>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(|conn| store::rules(conn, None)).await
    }

    pub async fn workflow_rule(&self, actor: &Actor, id: Uuid) -> Result<Rule, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| store::rules(conn, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("workflow rule"))
    }

    pub async fn workflow_versions(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<Vec<Version>, CoreError> {
        self.workflow_rule(actor, id).await?;
        self.store.read(move |conn| store::versions(conn, id)).await
    }

    /// Creates a rule (version 1), checked against metadata and the caller's access.
    pub async fn create_workflow_rule(
        &self,
        actor: &Actor,
        input: RuleInput,
    ) -> Result<Rule, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let definition = self.check_workflow(actor, &input, None).await?;
        let id = relata_domain::ids::uuid_v7_at(self.clock.now());
        self.save_workflow(actor, id, input, definition, None).await
    }

    /// Saves a rule again: a changed definition becomes a new version (running instances
    /// keep theirs), and the caller becomes the rule's owner.
    pub async fn update_workflow_rule(
        &self,
        actor: &Actor,
        id: Uuid,
        input: RuleInput,
    ) -> Result<Rule, CoreError> {
        let current = self.workflow_rule(actor, id).await?;
        if current.object != input.object {
            return Err(CoreError::field(FieldError::new(
                "object",
                FieldErrorCode::InvalidOption,
                "a rule's object cannot change: create a new rule",
            )));
        }
        let definition = self.check_workflow(actor, &input, Some(id)).await?;
        self.save_workflow(actor, id, input, definition, Some(current))
            .await
    }

    async fn save_workflow(
        &self,
        actor: &Actor,
        id: Uuid,
        input: RuleInput,
        definition: Definition,
        current: Option<Rule>,
    ) -> Result<Rule, CoreError> {
        let now = self.clock.now();
        let owner = actor.user_id.0;
        let who = crate::audit::Who::from(actor);
        let stored = serde_json::to_value(&definition)
            .map_err(|e| CoreError::Internal(format!("a definition that does not encode: {e}")))?;
        let schedule = match (&definition.trigger, input.enabled) {
            (Trigger::Schedule { cron }, true) => Some(Schedule {
                id: Uuid::nil(),
                name: schedule_name(id),
                kind: kind::WORKFLOW_SCHEDULE.into(),
                payload: json!({"rule_id": id.to_string()}),
                cron: cron.clone(),
                time_zone: definition.time_zone.clone(),
                enabled: true,
                next_run_at: relata_domain::schedule::Recurrence::parse(
                    cron,
                    &definition.time_zone,
                )
                .ok()
                .and_then(|r| r.next_after(now)),
                last_run_at: None,
            }),
            _ => None,
        };
        self.store
            .write(move |conn| {
                let head = head_seq(conn)?;
                let (version, since) = match &current {
                    None => (1, head),
                    Some(c) => {
                        let version = if c.definition == stored {
                            c.version
                        } else {
                            c.version + 1
                        };
                        // enabling (again) starts from now, not from what happened meanwhile
                        let since = if input.enabled && !c.enabled {
                            head
                        } else {
                            c.since_seq
                        };
                        (version, since)
                    }
                };
                store::put_rule(
                    conn,
                    &store::RuleRow {
                        id,
                        name: input.name.trim(),
                        object: &input.object,
                        enabled: input.enabled,
                        version,
                        definition: &stored,
                        since_seq: since,
                        owner,
                        now,
                    },
                    current.is_none(),
                )?;
                // the fan-out reads from here on if it has not started yet
                start_cursor(conn, head)?;
                if current.as_ref().is_none_or(|c| c.version != version) {
                    store::add_version(conn, id, version, &stored, owner, now)?;
                }
                match &schedule {
                    Some(s) => {
                        queue::put_schedule(conn, s, now)?;
                    }
                    None => remove_schedule(conn, id)?,
                }
                let action = if current.is_none() {
                    "workflow.create"
                } else {
                    "workflow.update"
                };
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    action,
                    None,
                    json!({"rule_id": id.to_string(), "name": input.name, "object": input.object, "enabled": input.enabled, "version": version}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await?;
        self.workflow_rule(actor, id).await
    }

    /// Deletes a rule with its versions; its runs stay in the history, and a waiting run
    /// ends when it wakes.
    pub async fn delete_workflow_rule(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let rule = self.workflow_rule(actor, id).await?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                for table in ["sys_workflow_versions", "sys_workflow_rules"] {
                    let mut sql = Sql::new(conn.dialect());
                    let key = if table == "sys_workflow_rules" {
                        "id"
                    } else {
                        "rule_id"
                    };
                    sql.push(&format!("DELETE FROM {table} WHERE {key} = "));
                    sql.param(SqlValue::Uuid(id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                remove_schedule(conn, id)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "workflow.delete",
                    None,
                    json!({"rule_id": id.to_string(), "name": rule.name}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// Runs of rules, newest first: of one rule, of one record, or both.
    pub async fn workflow_runs(&self, actor: &Actor, q: RunQuery) -> Result<Vec<Run>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(move |conn| store::runs(conn, &q)).await
    }

    /// How far behind the engine is: change-feed events not yet judged against the rules,
    /// and runs queued or waiting. For monitoring, and for the benchmark to know when the
    /// rules have caught up with a burst of writes.
    pub async fn workflow_backlog(&self, actor: &Actor) -> Result<Backlog, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(|conn| {
                let head = head_seq(conn)?;
                let cursor = conn
                    .query_one("SELECT seq FROM sys_workflow_cursor WHERE id = 1", &[])?
                    .and_then(|r| r[0].as_i64())
                    .unwrap_or(head);
                let mut count = |status: &str| -> Result<i64, CoreError> {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push("SELECT COUNT(*) FROM sys_workflow_runs WHERE status = ");
                    sql.param(SqlValue::Text(status.into()));
                    Ok(conn
                        .query_one(&sql.text, &sql.params)?
                        .and_then(|r| r[0].as_i64())
                        .unwrap_or(0))
                };
                Ok(Backlog {
                    events_behind: (head - cursor).max(0),
                    queued_runs: count(status::QUEUED)? + count(status::RUNNING)?,
                    waiting_runs: count(status::WAITING)?,
                })
            })
            .await
    }

    pub async fn workflow_run(&self, actor: &Actor, id: Uuid) -> Result<Run, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| store::run(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found("workflow run"))
    }
}

fn remove_schedule(conn: &mut dyn Conn, rule: Uuid) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("DELETE FROM sys_schedules WHERE name = ");
    sql.param(SqlValue::Text(schedule_name(rule)));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

/// Sets the fan-out's cursor at `seq` unless it is set: what was in the change feed before
/// any rule existed starts nothing.
pub(crate) fn start_cursor(conn: &mut dyn Conn, seq: i64) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("INSERT INTO sys_workflow_cursor (id, seq) VALUES (1, ");
    sql.param(SqlValue::Int(seq));
    sql.push(") ON CONFLICT DO NOTHING");
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}
