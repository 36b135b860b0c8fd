//! From the change feed to runs: a step the job workers take about once a second (and the
//! tests through `Runner::run_due`) reads the events after the workflow cursor, decides for
//! each enabled rule on the event's object whether it fires, and writes the runs and their
//! jobs in one transaction with moving the cursor (only if no other process moved it first).
//!
//! A rule is judged on the record as it was right after the change, not as it is when the
//! step runs: the record as it is now, with the changes of later events taken back (each
//! update event keeps every changed field's old value). So "the stage became Won" fires for
//! a record that has moved on to another stage since, and a rule never sees a state the
//! record was never in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::filter::TypedFilter;
use relata_domain::meta::ObjectDef;
use relata_domain::value::ParseContext;
use relata_domain::workflow::{Definition, MAX_DEPTH, MAX_RUNS_PER_RECORD_HOUR, Trigger, due_at};
use relata_domain::{Record, UserId, Value};
use relata_store::jobs::{self as queue, NewJob};
use relata_store::{Conn, Sql, SqlValue};

use super::Rule;
use super::store::{self, NewRun, status};
use crate::Core;
use crate::changes::head_seq;
use crate::context::{Actor, Source};
use crate::error::CoreError;
use crate::jobs::{derived_id, kind};
use crate::records::write::kind as write_kind;
use crate::records::{json_of, read};
use crate::visibility::{Visibility, push_in_list};

/// Events read per step.
const PAGE: usize = 500;

/// One event of the feed as the fan-out reads it.
#[derive(Debug, Clone)]
struct Event {
    seq: i64,
    object: String,
    record_id: Uuid,
    kind: String,
    changes: Json,
    caused_by: Option<Uuid>,
}

fn decode_event(r: &[SqlValue]) -> Option<Event> {
    Some(Event {
        seq: r[0].as_i64()?,
        object: r[1].as_str()?.to_owned(),
        record_id: r[2].as_uuid()?,
        kind: r[3].as_str()?.to_owned(),
        changes: json_of(&r[4]),
        caused_by: r[5].as_uuid(),
    })
}

/// A rule ready to judge events: parsed, with its owner and its condition typed for them.
struct Armed {
    rule: Rule,
    definition: Definition,
    condition: Option<TypedFilter>,
    /// Why it cannot run (its owner can no longer act), recorded on each run it skips.
    broken: Option<String>,
}

impl Armed {
    fn holds(&self, record: &Record) -> bool {
        self.condition.as_ref().is_none_or(|c| c.matches(record))
    }
}

impl Core {
    /// Turns the next page of change-feed events into workflow runs.
    pub async fn fan_out_workflows(&self) -> Result<FanOutStep, CoreError> {
        let (cursor, head, rules, waiting) = self
            .store
            .peek(|conn| {
                let cursor = conn
                    .query_one("SELECT seq FROM sys_workflow_cursor WHERE id = 1", &[])?
                    .and_then(|r| r[0].as_i64());
                let head = head_seq(conn)?;
                // no cursor yet: it is set at the head below (what happened before rules
                // existed triggers nothing)
                let cursor = cursor.unwrap_or(-1);
                if cursor >= head {
                    return Ok::<_, CoreError>((cursor, head, Vec::new(), false));
                }
                let rules: Vec<Rule> = store::enabled_rules(conn)?;
                let waiting = conn
                    .query_one(
                        "SELECT 1 FROM sys_workflow_runs WHERE status = 'waiting' LIMIT 1",
                        &[],
                    )?
                    .is_some();
                Ok((cursor, head, rules, waiting))
            })
            .await?;
        if cursor >= head {
            return Ok(FanOutStep::default());
        }
        if cursor < 0 {
            self.store
                .write(move |conn| super::start_cursor(conn, head))
                .await?;
            return Ok(FanOutStep::default());
        }
        let armed = self.arm(rules).await;
        if armed.is_empty() && !waiting {
            // nothing listens: skip the events without reading them
            self.store
                .write(move |conn| move_cursor(conn, cursor, head))
                .await?;
            return Ok(FanOutStep::default());
        }
        let events = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT seq, object, record_id, kind, changes, caused_by FROM sys_events WHERE seq > ");
                sql.param(SqlValue::Int(cursor));
                sql.push(" AND seq <= ");
                sql.param(SqlValue::Int(head));
                sql.push(&format!(" ORDER BY seq LIMIT {PAGE}"));
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| decode_event(r))
                        .collect::<Vec<_>>(),
                )
            })
            .await?;
        let upto = match events.last() {
            Some(last) if events.len() == PAGE => last.seq,
            _ => head,
        };
        let now = self.clock.now();
        let plan = self.plan(&armed, &events, now).await?;
        let count = plan.runs.len();
        let moved = self
            .store
            .write(move |conn| {
                if !move_cursor(conn, cursor, upto)? {
                    return Ok(false); // another process took these events
                }
                store::insert_runs(conn, &plan.runs, now)?;
                let mut jobs = Vec::with_capacity(plan.runs.len() + plan.wake.len());
                for run in &plan.runs {
                    let due = match run.status {
                        status::QUEUED => now,
                        status::WAITING => run.wake_at.unwrap_or(now),
                        _ => continue,
                    };
                    jobs.push(run_job(run.id, &format!("start:{}", run.id), due, now));
                }
                for (run, seq) in &plan.wake {
                    jobs.push(run_job(*run, &format!("wake:{run}:{seq}"), now, now));
                }
                queue::enqueue_many(conn, &jobs, now)?;
                Ok::<_, CoreError>(true)
            })
            .await?;
        if moved && count > 0 {
            self.wake_job_workers();
        }
        Ok(FanOutStep {
            runs: if moved { count } else { 0 },
            more: upto < head || !moved,
        })
    }

    /// Parses the rules that listen to changes and types their conditions for their owners.
    async fn arm(&self, rules: Vec<Rule>) -> Vec<Armed> {
        let mut armed = Vec::new();
        for rule in rules {
            let Ok(definition) = rule.parsed() else {
                continue;
            };
            if !definition.trigger.on_change() {
                continue;
            }
            let Ok(object) = self.object(&rule.object) else {
                continue;
            };
            let (condition, broken) = match self.fresh_access_of(UserId(rule.owner_id)).await {
                Ok(access) => {
                    let owner = Actor::user(access, Source::Automation);
                    match &definition.condition {
                        None => (None, None),
                        Some(c) => {
                            match crate::filter_scope::record_condition(self, &owner, &object, c) {
                                Ok(c) => (Some(c), None),
                                Err(e) => (
                                    None,
                                    Some(format!(
                                        "the condition no longer holds up: {}",
                                        e.message
                                    )),
                                ),
                            }
                        }
                    }
                }
                Err(_) => (
                    None,
                    Some("the rule's owner can no longer act: save the rule again".into()),
                ),
            };
            armed.push(Armed {
                rule,
                definition,
                condition,
                broken,
            });
        }
        armed
    }

    /// Decides which rules fire on which events.
    async fn plan(
        &self,
        armed: &[Armed],
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<Plan, CoreError> {
        let listened: Vec<&Event> = events
            .iter()
            .filter(|e| armed.iter().any(|a| a.rule.object == e.object))
            .collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.record_id).collect();
        let first = events.first().map(|e| e.seq).unwrap_or(0);
        let mut by_object: HashMap<String, Vec<Uuid>> = HashMap::new();
        for e in &listened {
            by_object
                .entry(e.object.clone())
                .or_default()
                .push(e.record_id);
        }
        let objects: Vec<std::sync::Arc<ObjectDef>> = by_object
            .keys()
            .filter_map(|o| self.object(o).ok())
            .collect();
        let causes: Vec<Uuid> = listened.iter().filter_map(|e| e.caused_by).collect();
        let rule_ids: Vec<Uuid> = armed.iter().map(|a| a.rule.id).collect();
        let since = now - chrono::Duration::hours(1);
        let snapshot = self
            .store
            .read(move |conn| {
                let mut current = HashMap::new();
                for object in &objects {
                    let want = &by_object[object.name()];
                    for chunk in want.chunks(500) {
                        for (id, r) in read::get_many(conn, object, chunk, &Visibility::All)? {
                            current.insert(id, (object.clone(), r));
                        }
                    }
                }
                let later = events_of(conn, first, &current.keys().copied().collect::<Vec<_>>())?;
                let depths = depths(conn, &causes)?;
                let recent = recent_runs(
                    conn,
                    &rule_ids,
                    &current.keys().copied().collect::<Vec<_>>(),
                    since,
                )?;
                let waiting = waiting_runs(conn, &ids)?;
                Ok::<_, CoreError>((current, later, depths, recent, waiting))
            })
            .await?;
        let (current, later, depths, mut recent, waiting) = snapshot;
        let ctx = self.parse_context();
        let states = states_after(&current, &later, &ctx);
        let mut plan = Plan::default();
        for e in &listened {
            let Some((object, _)) = current.get(&e.record_id) else {
                continue; // deleted or purged since: nothing to act on
            };
            let Some((before, after)) = states.get(&e.seq) else {
                continue;
            };
            let depth = e
                .caused_by
                .map(|c| depths.get(&c).copied().unwrap_or(0) + 1)
                .unwrap_or(0);
            for a in armed.iter().filter(|a| a.rule.object == e.object) {
                if e.seq <= a.rule.since_seq {
                    continue;
                }
                let Some(fire) = fires(a, e, object, before.as_ref(), after, now) else {
                    continue;
                };
                let count = recent.entry((a.rule.id, e.record_id)).or_insert(0);
                let skipped = if let Some(why) = &a.broken {
                    Some(why.clone())
                } else if depth > MAX_DEPTH {
                    Some(format!(
                        "loop protection: {depth} rules deep in a chain of rules changing records (at most {MAX_DEPTH})"
                    ))
                } else if *count >= MAX_RUNS_PER_RECORD_HOUR {
                    Some(format!(
                        "loop protection: ran {MAX_RUNS_PER_RECORD_HOUR} times on this record in the last hour"
                    ))
                } else {
                    None
                };
                *count += 1;
                let (status, step, wake_at) = match (&skipped, fire) {
                    (Some(_), _) => (status::SKIPPED, 0, None),
                    (None, Fire::Now) => (status::QUEUED, 0, None),
                    (None, Fire::At(t)) => (status::WAITING, -1, Some(t)),
                };
                plan.runs.push(NewRun {
                    id: derived_id(&format!("workflow:{}:{}", a.rule.id, e.seq)),
                    rule_id: a.rule.id,
                    version: a.rule.version,
                    object: e.object.clone(),
                    record_id: Some(e.record_id),
                    seq: Some(e.seq),
                    trigger: describe(&a.definition.trigger, &e.kind),
                    status,
                    depth,
                    caused_by: e.caused_by,
                    step,
                    wake_at,
                    error: skipped,
                });
            }
        }
        // runs waiting on a changed record look again at what they wait for
        for e in events {
            if let Some(runs) = waiting.get(&e.record_id) {
                for run in runs {
                    if !plan.wake.iter().any(|(r, _)| r == run) {
                        plan.wake.push((*run, e.seq));
                    }
                }
            }
        }
        Ok(plan)
    }
}

/// What one fan-out step did.
#[derive(Debug, Default, Clone, Copy)]
pub struct FanOutStep {
    /// Runs written.
    pub runs: usize,
    /// Events are left after this page: take the next one without waiting.
    pub more: bool,
}

#[derive(Default)]
struct Plan {
    runs: Vec<NewRun>,
    /// Waiting runs to wake, with the event that wakes them.
    wake: Vec<(Uuid, i64)>,
}

/// When a rule fires on an event.
enum Fire {
    Now,
    /// A date-relative trigger: a run waits until then (and looks again at the date then).
    At(DateTime<Utc>),
}

fn fires(
    a: &Armed,
    e: &Event,
    object: &ObjectDef,
    before: Option<&Record>,
    after: &Record,
    now: DateTime<Utc>,
) -> Option<Fire> {
    let created = e.kind == write_kind::CREATED;
    let updated = e.kind == write_kind::UPDATED;
    let changed = |field: &str| {
        (created && !after.get(field).is_null()) || (updated && e.changes.get(field).is_some())
    };
    let now_if = |ok: bool| ok.then_some(Fire::Now);
    match &a.definition.trigger {
        Trigger::Created => now_if(created && a.holds(after)),
        Trigger::Updated => now_if(updated && a.holds(after)),
        Trigger::CreatedOrUpdated => now_if((created || updated) && a.holds(after)),
        Trigger::FieldChanged { fields } => {
            now_if(fields.iter().any(|f| changed(f)) && a.holds(after))
        }
        Trigger::ConditionMet => {
            now_if(a.holds(after) && (created || (updated && before.is_some_and(|b| !a.holds(b)))))
        }
        Trigger::DateReached {
            field,
            offset_days,
            at_hour,
        } => {
            if !changed(field) || object.field(field).is_none() {
                return None;
            }
            let at = due_at(
                after.get(field),
                *offset_days,
                *at_hour,
                a.definition.zone(),
            )?;
            (at > now).then_some(Fire::At(at))
        }
        Trigger::Schedule { .. }
        | Trigger::Manual
        | Trigger::Inbound
        | Trigger::FormSubmitted { .. } => None,
    }
}

/// What started a run, in words for its history.
fn describe(trigger: &Trigger, event: &str) -> String {
    match trigger {
        Trigger::DateReached {
            field, offset_days, ..
        } => format!("date_reached: {field} {offset_days:+} days (record {event})"),
        Trigger::FieldChanged { fields } => {
            format!("field_changed: {} (record {event})", fields.join(", "))
        }
        other => format!("{} (record {event})", other.name()),
    }
}

/// Moves the cursor from `from` to `to`; false when another process moved it first.
fn move_cursor(conn: &mut dyn Conn, from: i64, to: i64) -> Result<bool, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_workflow_cursor SET seq = ");
    sql.param(SqlValue::Int(to));
    sql.push(" WHERE id = 1 AND seq = ");
    sql.param(SqlValue::Int(from));
    Ok(conn.execute(&sql.text, &sql.params)? == 1)
}

/// The job that takes a run on at `at` (once per `key`).
fn run_job(run: Uuid, key: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> NewJob {
    let mut job = NewJob::new(kind::WORKFLOW_RUN, json!({"run_id": run.to_string()}), now);
    job.run_at = at;
    job.idempotency_key = Some(format!("workflow:{key}"));
    job
}

/// Queues the job that takes a run on (once per `key`).
pub(crate) fn enqueue_run(
    conn: &mut dyn Conn,
    run: Uuid,
    key: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    queue::enqueue(conn, &run_job(run, key, at, now), now)?;
    Ok(())
}

/// The events of `records` from `first` on, newest first.
fn events_of(conn: &mut dyn Conn, first: i64, records: &[Uuid]) -> Result<Vec<Event>, CoreError> {
    let mut out = Vec::new();
    for chunk in records.chunks(500) {
        let mut sql = Sql::new(conn.dialect());
        sql.push(
            "SELECT seq, object, record_id, kind, changes, caused_by FROM sys_events WHERE seq >= ",
        );
        sql.param(SqlValue::Int(first));
        sql.push(" AND record_id");
        push_in_list(&mut sql, chunk);
        out.extend(
            conn.query(&sql.text, &sql.params)?
                .iter()
                .filter_map(|r| decode_event(r)),
        );
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.seq));
    Ok(out)
}

/// Each event's record before and right after it, from the record now and the events since
/// (newest first), taken back one by one.
fn states_after(
    current: &HashMap<Uuid, (std::sync::Arc<ObjectDef>, Record)>,
    newest_first: &[Event],
    ctx: &ParseContext,
) -> HashMap<i64, (Option<Record>, Record)> {
    let mut state: HashMap<Uuid, Option<Record>> = current
        .iter()
        .map(|(id, (_, r))| (*id, Some(r.clone())))
        .collect();
    let mut out = HashMap::new();
    for e in newest_first {
        let Some((object, _)) = current.get(&e.record_id) else {
            continue;
        };
        let Some(Some(after)) = state.get(&e.record_id).cloned() else {
            continue;
        };
        let before = match e.kind.as_str() {
            write_kind::CREATED => None,
            write_kind::UPDATED => {
                let mut before = after.clone();
                if let Json::Object(changes) = &e.changes {
                    for (name, diff) in changes {
                        if let Some(field) = object.field(name) {
                            let old = diff.get("old").cloned().unwrap_or(Json::Null);
                            let value = Value::parse(field, &old, ctx).unwrap_or(Value::Null);
                            before.set(name, value);
                        }
                    }
                }
                Some(before)
            }
            // deleted, restored: the fields are as they were
            _ => Some(after.clone()),
        };
        state.insert(e.record_id, before.clone());
        out.insert(e.seq, (before, after));
    }
    out
}

/// The depth of each causing run.
fn depths(conn: &mut dyn Conn, runs: &[Uuid]) -> Result<HashMap<Uuid, i64>, CoreError> {
    let mut out = HashMap::new();
    for chunk in runs.chunks(500) {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT id, depth FROM sys_workflow_runs WHERE id");
        push_in_list(&mut sql, chunk);
        for r in conn.query(&sql.text, &sql.params)? {
            if let (Some(id), Some(d)) = (r[0].as_uuid(), r[1].as_i64()) {
                out.insert(id, d);
            }
        }
    }
    Ok(out)
}

/// Runs of each (rule, record) since `since`.
fn recent_runs(
    conn: &mut dyn Conn,
    rules: &[Uuid],
    records: &[Uuid],
    since: DateTime<Utc>,
) -> Result<HashMap<(Uuid, Uuid), i64>, CoreError> {
    let mut out = HashMap::new();
    if rules.is_empty() {
        return Ok(out);
    }
    for chunk in records.chunks(500) {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT rule_id, record_id, COUNT(*) FROM sys_workflow_runs WHERE started_at >= ");
        sql.param(SqlValue::Timestamp(since));
        sql.push(" AND status <> 'skipped' AND record_id");
        push_in_list(&mut sql, chunk);
        sql.push(" GROUP BY rule_id, record_id");
        for r in conn.query(&sql.text, &sql.params)? {
            if let (Some(rule), Some(record), Some(n)) =
                (r[0].as_uuid(), r[1].as_uuid(), r[2].as_i64())
            {
                out.insert((rule, record), n);
            }
        }
    }
    Ok(out)
}

/// The waiting runs of each record.
fn waiting_runs(
    conn: &mut dyn Conn,
    records: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, CoreError> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut unique = records.to_vec();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(500) {
        let mut sql = Sql::new(conn.dialect());
        sql.push(
            "SELECT record_id, id FROM sys_workflow_runs WHERE status = 'waiting' AND record_id",
        );
        push_in_list(&mut sql, chunk);
        for r in conn.query(&sql.text, &sql.params)? {
            if let (Some(record), Some(run)) = (r[0].as_uuid(), r[1].as_uuid()) {
                out.entry(record).or_default().push(run);
            }
        }
    }
    Ok(out)
}
