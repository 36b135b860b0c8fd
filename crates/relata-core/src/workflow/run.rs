//! Running a rule: the `workflow.run` job takes a run, checks it still stands, and takes its
//! steps in order with the access of the rule's owner. A wait parks the run with a delayed
//! job to wake it; a failing step ends the run as failed and is counted on the rule.
//!
//! A job may run twice (a worker that died after a step, before recording it). Each step's
//! effect is therefore keyed by the run and the step: a record it creates, a notification
//! it sends, a rule it starts all carry an id derived from both, so the second time finds
//! them done; setting fields to the same values changes nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_domain::formula::{self, Formula, FormulaEnv};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::workflow::{
    Assign, Definition, MAX_DEPTH, MailTo, MessagePart, Recipient, Step, Trigger, Wait, due_at,
    message_parts,
};
use relata_domain::{Record, UserId, Value};

use super::store::{self, NewRun, RunState, status};
use super::{Rule, Run};
use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;
use crate::jobs::derived_id;

/// How long a worker holds a run while taking its steps.
const LEASE_MINUTES: i64 = 5;

/// The hour of the day a wait for a date field ends, in the rule's time zone.
const WAIT_HOUR: u32 = 9;

/// Where a run stands after a worker took it as far as it could.
struct Outcome {
    status: &'static str,
    step: i64,
    wake_at: Option<DateTime<Utc>>,
    log: Vec<Json>,
    error: Option<String>,
}

impl Core {
    /// The `workflow.run` job. `last_try`: the queue gives up if this try fails.
    pub async fn run_workflow(&self, payload: &Json, last_try: bool) -> Result<(), CoreError> {
        let Some(id) = payload["run_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Err(CoreError::bad_request(
                "bad_run",
                format!("a workflow job without run_id: {payload}"),
            ));
        };
        let now = self.clock.now();
        let found = self
            .store
            .read(move |conn| {
                let Some(run) = store::run(conn, id)? else {
                    return Ok(None);
                };
                let definition = store::version(conn, run.rule_id, run.version)?;
                let rule = store::rules(conn, Some(run.rule_id))?.pop();
                Ok::<_, CoreError>(Some((run, definition, rule)))
            })
            .await?;
        let Some((run, definition, rule)) = found else {
            return Ok(());
        };
        if matches!(
            run.status.as_str(),
            status::DONE | status::FAILED | status::SKIPPED
        ) {
            return Ok(());
        }
        let definition = definition.and_then(|d| Definition::parse(&d).ok());
        if run.status == status::WAITING && asleep(&run, definition.as_ref(), now) {
            return Ok(()); // woken by a change, but it waits for a time that has not come
        }
        // A queued run has one job, its start, which the queue gives to one worker at a time;
        // a run that has waited may have several (its wake-up, changes of its record), so it
        // is taken under a lease first.
        if run.status != status::QUEUED {
            let lease = now + chrono::Duration::minutes(LEASE_MINUTES);
            if !self
                .store
                .write(move |conn| store::take(conn, id, now, lease))
                .await?
            {
                return Ok(()); // another worker has it
            }
        }
        let outcome = match (definition, rule) {
            (Some(d), Some(rule)) => self.advance(&run, &d, &rule).await,
            _ => Ok(ended(status::SKIPPED, &run, "the rule was deleted")),
        };
        let (outcome, retry) = match outcome {
            Ok(o) => (o, None),
            Err(e) if !last_try && is_transient(&e) => (
                Outcome {
                    status: status::QUEUED,
                    step: run.step,
                    wake_at: None,
                    log: log_of(&run),
                    error: Some(e.to_string()),
                },
                Some(e),
            ),
            Err(e) => (ended(status::FAILED, &run, &e.to_string()), None),
        };
        self.save_outcome(&run, outcome).await?;
        match retry {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn save_outcome(&self, run: &Run, o: Outcome) -> Result<(), CoreError> {
        let now = self.clock.now();
        let (id, rule) = (run.id, run.rule_id);
        self.store
            .write(move |conn| {
                let log = Json::Array(o.log);
                store::save_state(
                    conn,
                    id,
                    &RunState {
                        status: o.status,
                        step: o.step,
                        wake_at: o.wake_at,
                        log: &log,
                        error: o.error.as_deref(),
                    },
                    now,
                )?;
                if let (status::WAITING, Some(at)) = (o.status, o.wake_at) {
                    super::fanout::enqueue_run(
                        conn,
                        id,
                        &format!("wait:{id}:{}", o.step),
                        at,
                        now,
                    )?;
                }
                if o.status == status::FAILED {
                    store::record_failure(conn, rule, o.error.as_deref().unwrap_or("failed"), now)?;
                }
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// Takes the run's steps from where it stands until it ends or waits.
    async fn advance(
        &self,
        run: &Run,
        definition: &Definition,
        rule: &Rule,
    ) -> Result<Outcome, CoreError> {
        let now = self.clock.now();
        if !rule.enabled && run.status == status::WAITING {
            return Ok(ended(status::SKIPPED, run, "the rule was disabled"));
        }
        let Ok(access) = self.fresh_access_of(UserId(rule.owner_id)).await else {
            return Ok(ended(
                status::FAILED,
                run,
                "the rule's owner can no longer act: save the rule again",
            ));
        };
        let mut actor = Actor::user(access, Source::Automation);
        actor.cause = Some(run.id);
        let object = self.object(&run.object)?;
        let mut record = match run.record_id {
            Some(id) => match self.get_record(&actor, object.name(), id).await {
                Ok(r) => Some(r),
                Err(CoreError::NotFound { .. }) => {
                    return Ok(ended(
                        status::SKIPPED,
                        run,
                        "the record was deleted, or the rule's owner may not see it",
                    ));
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut log = log_of(run);
        let zone = definition.zone();
        // a date-relative start (step -1: waiting for the trigger's time) looks again: the
        // date may have moved, the record changed
        let mut parked = run.status == status::WAITING && run.wake_at.is_some();
        if run.step < 0 {
            if let (
                Trigger::DateReached {
                    field,
                    offset_days,
                    at_hour,
                },
                Some(r),
            ) = (&definition.trigger, &record)
            {
                let due = due_at(r.get(field), *offset_days, *at_hour, zone);
                if due != run.wake_at {
                    return Ok(ended(
                        status::SKIPPED,
                        run,
                        &format!(
                            "{field} changed after this run was planned; a new run follows the new date"
                        ),
                    ));
                }
                if !self.condition_holds(&actor, &object, definition.condition.as_ref(), r)? {
                    return Ok(ended(status::SKIPPED, run, "the condition no longer holds"));
                }
            }
            parked = false;
        }
        let from = run.step.max(0) as usize;
        for (i, step) in definition.steps.iter().enumerate().skip(from) {
            let i64_step = i as i64;
            if let Step::Wait(wait) = step {
                let parked_here = parked && run.step == i64_step;
                match self.wait(
                    &actor,
                    &object,
                    wait,
                    record.as_ref(),
                    run,
                    parked_here,
                    zone,
                    now,
                )? {
                    Some(at) => {
                        return Ok(Outcome {
                            status: status::WAITING,
                            step: i64_step,
                            wake_at: Some(at),
                            log,
                            error: None,
                        });
                    }
                    None => {
                        log.push(
                            json!({"step": i, "type": "wait", "at": now, "result": "went on"}),
                        );
                        continue;
                    }
                }
            }
            match self
                .act(&actor, &object, record.as_ref(), run, i, step, zone)
                .await
            {
                Ok(result) => {
                    log.push(json!({"step": i, "type": step.name(), "at": now, "result": result}));
                    if matches!(
                        step,
                        Step::UpdateFields { .. }
                            | Step::AssignOwner { .. }
                            | Step::AssignByRule { .. }
                    ) && let Some(id) = run.record_id
                    {
                        record = self.get_record(&actor, object.name(), id).await.ok();
                    }
                }
                Err(e) if is_transient(&e) => return Err(e),
                Err(e) => {
                    let message =
                        format!("step {} ({}): {}", i + 1, step.name(), describe_error(&e));
                    log.push(json!({"step": i, "type": step.name(), "at": now, "error": message}));
                    return Ok(Outcome {
                        status: status::FAILED,
                        step: i64_step,
                        wake_at: None,
                        log,
                        error: Some(message),
                    });
                }
            }
        }
        Ok(Outcome {
            status: status::DONE,
            step: definition.steps.len() as i64,
            wake_at: None,
            log,
            error: None,
        })
    }

    /// A wait step: `Some(when)` to park until then, `None` to go on now.
    #[allow(clippy::too_many_arguments)]
    fn wait(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        wait: &Wait,
        record: Option<&Record>,
        run: &Run,
        parked_here: bool,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, CoreError> {
        let met = match (&wait.until, record) {
            (Some(c), Some(r)) => self.condition_holds(actor, object, Some(c), r)?,
            _ => false,
        };
        if met {
            return Ok(None);
        }
        let until = if parked_here {
            run.wake_at
        } else if let (Some(field), Some(r)) = (&wait.until_field, record) {
            due_at(r.get(field), wait.offset_days, WAIT_HOUR, zone)
        } else if wait.until.is_some() && wait.duration().is_zero() {
            Some(now + chrono::Duration::days(relata_domain::workflow::MAX_WAIT_DAYS))
        } else {
            Some(now + wait.duration())
        };
        Ok(until.filter(|at| *at > now))
    }

    pub(crate) fn condition_holds(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        condition: Option<&Json>,
        record: &Record,
    ) -> Result<bool, CoreError> {
        match condition {
            None => Ok(true),
            Some(c) => Ok(
                crate::filter_scope::record_condition(self, actor, object, c)
                    .map_err(CoreError::field)?
                    .matches(record),
            ),
        }
    }

    /// Takes one step that is not a wait; answers what it did, for the run's log.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        record: Option<&Record>,
        run: &Run,
        i: usize,
        step: &Step,
        zone: chrono_tz::Tz,
    ) -> Result<Json, CoreError> {
        let key = format!("workflow:{}:{i}", run.id);
        let env = self.env_for(actor, object, record, step, zone).await?;
        let record_id = run.record_id;
        let need_record = || {
            record_id.ok_or_else(|| CoreError::bad_request("no_record", "this step needs a record"))
        };
        match step {
            Step::UpdateFields { set } => {
                let id = need_record()?;
                let input = self.assigned(object, set, &env)?;
                self.update_record(actor, object.name(), id, Json::Object(input.clone()), None)
                    .await?;
                Ok(json!({"set": input}))
            }
            Step::CreateRecord {
                object: target,
                set,
            } => {
                let target = self.object(target)?;
                let id = derived_id(&key);
                let mut input = self.assigned(&target, set, &env)?;
                input.insert("id".into(), json!(id.to_string()));
                let created = self
                    .create_record_keyed(actor, target.name(), Json::Object(input))
                    .await?;
                Ok(json!({"object": target.name(), "id": id.to_string(), "created": created}))
            }
            Step::AssignOwner { to } => {
                let id = need_record()?;
                let owner = self
                    .recipients(std::slice::from_ref(to), record)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        CoreError::bad_request("no_assignee", "nobody to assign the record to")
                    })?;
                self.update_record(
                    actor,
                    object.name(),
                    id,
                    json!({"owner_id": owner.to_string()}),
                    None,
                )
                .await?;
                Ok(json!({"owner_id": owner.to_string()}))
            }
            Step::AssignByRule { rule_id } => {
                let id = need_record()?;
                let assigned = self.assign_by_rule(actor, *rule_id, id).await?;
                Ok(serde_json::to_value(assigned).unwrap_or(Json::Null))
            }
            Step::Notify { to, message } => {
                let text = render(message, &env)?;
                let users = self.recipients(to, record).await?;
                let (now, rule, name) = (self.clock.now(), run.rule_id, object.name().to_owned());
                let notified = users.clone();
                self.store
                    .write(move |conn| {
                        for user in &notified {
                            crate::notifications::append_once(
                                conn,
                                derived_id(&format!("{key}:{user}")),
                                *user,
                                NOTIFICATION,
                                Some(&name),
                                record_id,
                                json!({"message": text, "rule_id": rule.to_string()}),
                                now,
                            )?;
                        }
                        Ok::<_, CoreError>(())
                    })
                    .await?;
                Ok(json!({"notified": users.iter().map(|u| u.to_string()).collect::<Vec<_>>()}))
            }
            Step::SendEmail {
                template_id,
                to,
                track,
            } => {
                let id = need_record()?;
                let to = match self.mail_address(to, record, &env).await {
                    Ok(to) => to,
                    Err(CoreError::Conflict {
                        code: "no_recipient",
                        message,
                    }) => return Ok(json!({"skipped": message})),
                    Err(e) => return Err(e),
                };
                let request = crate::email::SendRequest {
                    object: object.name().to_owned(),
                    record_id: id,
                    template_id: Some(*template_id),
                    to,
                    track: *track,
                    ..Default::default()
                };
                match self.send_email(actor, &request, Some(&key)).await {
                    Ok(mail) => Ok(json!({"email_id": mail.id.to_string(), "to": mail.to_address})),
                    // an opt-out is honoured, not an error of the rule
                    Err(CoreError::Conflict {
                        code: "email_suppressed" | "no_recipient",
                        message,
                    }) => Ok(json!({"skipped": message})),
                    Err(e) => Err(e),
                }
            }
            Step::CallWebhook { webhook_id } => {
                let id = need_record()?;
                let delivery = self
                    .queue_workflow_delivery(*webhook_id, derived_id(&key), object.name(), id, run)
                    .await?;
                Ok(json!({"delivery_id": delivery.to_string()}))
            }
            Step::AddToList { list_id } => {
                let id = need_record()?;
                let added = self.add_to_list(actor, *list_id, &[id]).await?;
                Ok(json!({"list_id": list_id.to_string(), "added": added}))
            }
            Step::StartRule { rule_id } => {
                let started = self.start_from_run(run, *rule_id, derived_id(&key)).await?;
                Ok(json!({"rule_id": rule_id.to_string(), "run_id": started}))
            }
            Step::Wait(_) => Ok(Json::Null),
        }
    }

    /// A run of `rule_id` on the same record, one deeper in the chain.
    async fn start_from_run(
        &self,
        run: &Run,
        rule_id: Uuid,
        id: Uuid,
    ) -> Result<Option<String>, CoreError> {
        let target = self
            .store
            .read(move |conn| store::rules(conn, Some(rule_id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("workflow rule"))?;
        if !target.enabled {
            return Ok(None);
        }
        let depth = run.depth + 1;
        let now = self.clock.now();
        let skipped = (depth > MAX_DEPTH).then(|| {
            format!("loop protection: {depth} rules deep in a chain of rules (at most {MAX_DEPTH})")
        });
        let new = NewRun {
            id,
            rule_id,
            version: target.version,
            object: run.object.clone(),
            record_id: run.record_id,
            seq: None,
            trigger: format!("started by rule {} (run {})", run.rule_id, run.id),
            status: if skipped.is_some() {
                status::SKIPPED
            } else {
                status::QUEUED
            },
            depth,
            caused_by: Some(run.id),
            step: 0,
            wake_at: None,
            error: skipped,
        };
        self.store
            .write(move |conn| {
                store::insert_runs(conn, std::slice::from_ref(&new), now)?;
                if new.status == status::QUEUED {
                    super::fanout::enqueue_run(conn, id, &format!("start:{id}"), now, now)?;
                }
                Ok::<_, CoreError>(())
            })
            .await?;
        self.wake_job_workers();
        Ok(Some(id.to_string()))
    }

    /// The users a recipient list names, each once.
    pub(crate) async fn recipients(
        &self,
        to: &[Recipient],
        record: Option<&Record>,
    ) -> Result<Vec<Uuid>, CoreError> {
        let owner = record.and_then(|r| match r.get("owner_id") {
            Value::Ref(u) => Some(*u),
            _ => None,
        });
        let mut out = Vec::new();
        for r in to {
            match r {
                Recipient::Owner => out.extend(owner),
                Recipient::User(u) => out.push(*u),
                Recipient::OwnerManager => {
                    if let Some(o) = owner {
                        out.extend(self.managers_of(UserId(o)).await?);
                    }
                }
            }
        }
        out.dedup();
        let mut seen = std::collections::HashSet::new();
        out.retain(|u| seen.insert(*u));
        Ok(out)
    }

    /// The values a step sets, evaluated and turned into what each field stores, as the
    /// JSON a client would send.
    pub(crate) fn assigned(
        &self,
        target: &ObjectDef,
        set: &std::collections::BTreeMap<String, Assign>,
        env: &RecordEnv,
    ) -> Result<Map<String, Json>, CoreError> {
        let mut out = Map::new();
        for (name, assign) in set {
            let value = match assign {
                Assign::Value(v) => v.clone(),
                Assign::Formula { formula } => {
                    let field = target.field(name).ok_or_else(|| {
                        CoreError::bad_request("unknown_field", format!("no field {name}"))
                    })?;
                    let f = formula::parse(formula).map_err(|e| formula_error(name, &e))?;
                    let v = f.evaluate(env).map_err(|e| formula_error(name, &e))?;
                    formula::coerce(v, field, &self.settings.default_currency)
                        .map_err(|e| formula_error(name, &e))?
                        .to_json()
                }
            };
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    /// What a step's formulas read: the record and the parents their paths go through.
    pub(crate) async fn env_for(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        record: Option<&Record>,
        step: &Step,
        zone: chrono_tz::Tz,
    ) -> Result<RecordEnv, CoreError> {
        let mut paths = Vec::new();
        for f in step_formulas(step) {
            paths.extend(f.paths());
        }
        self.env_for_paths(actor, object, record, &paths, zone)
            .await
    }

    /// What reads `paths` of the record need: the record and the parents the paths go
    /// through, each read with the actor's access (a parent they may not see reads empty).
    pub(crate) async fn env_for_paths(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        record: Option<&Record>,
        paths: &[Vec<String>],
        zone: chrono_tz::Tz,
    ) -> Result<RecordEnv, CoreError> {
        let mut env = RecordEnv {
            record: record.cloned().unwrap_or_default(),
            parents: HashMap::new(),
            now: self.clock.now(),
            zone,
        };
        // each hop once, shortest first, so a parent's parent reads from its parent
        let mut prefixes: Vec<Vec<String>> = paths
            .iter()
            .flat_map(|p| (1..p.len()).map(|n| p[..n].to_vec()))
            .collect();
        prefixes.sort_by_key(Vec::len);
        prefixes.dedup();
        for prefix in prefixes {
            let (holder, holder_object) = if prefix.len() == 1 {
                (
                    Some(env.record.clone()),
                    Some(std::sync::Arc::new(object.clone())),
                )
            } else {
                let up = &prefix[..prefix.len() - 1];
                (
                    env.parents.get(up).map(|(_, r)| r.clone()),
                    env.parents.get(up).map(|(o, _)| o.clone()),
                )
            };
            let (Some(holder), Some(holder_object)) = (holder, holder_object) else {
                continue;
            };
            let Some(last) = prefix.last() else { continue };
            let Some(field) = holder_object.field(last) else {
                continue;
            };
            let (Value::Ref(id), FieldType::Lookup, Some(target)) = (
                holder.get(last),
                field.field_type,
                field.target.as_ref().map(|t| t.as_str()),
            ) else {
                continue;
            };
            let Ok(target) = self.object(target) else {
                continue;
            };
            // the owner's visibility applies: a parent they may not see reads as empty
            if let Ok(parent) = self.get_record(actor, target.name(), *id).await {
                env.parents.insert(prefix, (target, parent));
            }
        }
        Ok(env)
    }
}

/// The kind of a notification a rule sends.
pub const NOTIFICATION: &str = "workflow.notify";

/// The formulas a step evaluates.
pub(crate) fn step_formulas(step: &Step) -> Vec<Formula> {
    match step {
        Step::UpdateFields { set } | Step::CreateRecord { set, .. } => set
            .values()
            .filter_map(|a| match a {
                Assign::Formula { formula } => formula::parse(formula).ok(),
                Assign::Value(_) => None,
            })
            .collect(),
        Step::SendEmail {
            to: MailTo::Field(path),
            ..
        } => formula::parse(path).ok().into_iter().collect(),
        Step::Notify { message, .. } => message_parts(message)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| match p {
                MessagePart::Formula(f) => Some(f),
                MessagePart::Text(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A message with its `{{ formulas }}` replaced by their values.
pub(crate) fn render(message: &str, env: &RecordEnv) -> Result<String, CoreError> {
    let parts = message_parts(message).map_err(|e| CoreError::bad_request("bad_message", e))?;
    let mut out = String::new();
    for p in parts {
        match p {
            MessagePart::Text(t) => out.push_str(&t),
            MessagePart::Formula(f) => {
                let v = f.evaluate(env).map_err(|e| formula_error("message", &e))?;
                out.push_str(&display(&v));
            }
        }
    }
    Ok(out)
}

/// A value as a person reads it in a message.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => s.clone(),
        Value::Money { amount, currency } => format!("{amount} {currency}"),
        other => match other.to_json() {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

fn formula_error(field: &str, e: &formula::FormulaError) -> CoreError {
    CoreError::field(relata_domain::FieldError::new(
        field,
        relata_domain::FieldErrorCode::InvalidOption,
        e.to_string(),
    ))
}

/// A record and the parents a formula reads through its lookups.
pub(crate) struct RecordEnv {
    record: Record,
    parents: HashMap<Vec<String>, (std::sync::Arc<ObjectDef>, Record)>,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
}

impl FormulaEnv for RecordEnv {
    fn value(&self, path: &[String]) -> Value {
        match path {
            [] => Value::Null,
            [one] => self.record.get(one).clone(),
            [up @ .., last] => self
                .parents
                .get(up)
                .map(|(_, r)| r.get(last).clone())
                .unwrap_or(Value::Null),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn today(&self) -> chrono::NaiveDate {
        self.now.with_timezone(&self.zone).date_naive()
    }

    fn local_date(&self, t: DateTime<Utc>) -> chrono::NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }
}

/// Whether a failed step may succeed on a later try (the database, the network).
fn is_transient(e: &CoreError) -> bool {
    matches!(e, CoreError::Unavailable(_) | CoreError::Internal(_))
}

/// A validation error's field messages, or the error.
fn describe_error(e: &CoreError) -> String {
    match e {
        CoreError::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn log_of(run: &Run) -> Vec<Json> {
    match &run.log {
        Json::Array(items) => items.clone(),
        _ => Vec::new(),
    }
}

fn ended(status: &'static str, run: &Run, why: &str) -> Outcome {
    Outcome {
        status,
        step: run.step,
        wake_at: None,
        log: log_of(run),
        error: Some(why.to_owned()),
    }
}

/// Whether a waiting run woken now has nothing to do yet: it waits for a time (not a
/// condition) that has not come.
fn asleep(run: &Run, definition: Option<&Definition>, now: DateTime<Utc>) -> bool {
    let Some(at) = run.wake_at else {
        return false;
    };
    if at <= now {
        return false;
    }
    let Some(d) = definition else {
        return false;
    };
    if run.step < 0 {
        return true; // the trigger's time
    }
    match d.steps.get(run.step as usize) {
        Some(Step::Wait(w)) => w.until.is_none(),
        _ => true,
    }
}

impl Core {
    /// The address a rule's mail goes to; none: the record's own email field.
    pub(crate) async fn mail_address(
        &self,
        to: &MailTo,
        record: Option<&Record>,
        env: &RecordEnv,
    ) -> Result<Option<String>, CoreError> {
        Ok(match to {
            MailTo::Record => None,
            MailTo::Address(a) => Some(a.clone()),
            MailTo::Field(path) => {
                let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
                let address = display(&env.value(&segments));
                if address.trim().is_empty() {
                    // never the record's own address instead: the rule named another
                    return Err(CoreError::Conflict {
                        code: "no_recipient",
                        message: format!("{path} is empty: nobody to mail"),
                    });
                }
                Some(address)
            }
            MailTo::Owner => {
                let owner = self
                    .recipients(&[Recipient::Owner], record)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| CoreError::bad_request("no_owner", "the record has no owner"))?;
                Some(self.user_email(owner).await?)
            }
        })
    }

    /// A user's sign-in address.
    pub(crate) async fn user_email(&self, user: Uuid) -> Result<String, CoreError> {
        self.store
            .read(move |conn| {
                let mut sql = relata_store::Sql::new(conn.dialect());
                sql.push("SELECT email FROM sys_users WHERE id = ");
                sql.param(relata_store::SqlValue::Uuid(user));
                Ok::<_, CoreError>(conn.query_one(&sql.text, &sql.params)?)
            })
            .await?
            .and_then(|r| r[0].as_str().map(str::to_owned))
            .ok_or_else(|| CoreError::not_found(format!("user {user}")))
    }

    /// The active users holding the role directly above `user`'s: their managers.
    pub(crate) async fn managers_of(&self, user: UserId) -> Result<Vec<Uuid>, CoreError> {
        self.store
            .read(move |conn| {
                let mut sql = relata_store::Sql::new(conn.dialect());
                sql.push("SELECT m.id FROM sys_users m JOIN sys_roles r ON r.parent_id = m.role_id JOIN sys_users u ON u.role_id = r.id WHERE m.active = TRUE AND u.id = ");
                sql.param(relata_store::SqlValue::Uuid(user.0));
                sql.push(" ORDER BY m.id");
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| r[0].as_uuid())
                        .collect(),
                )
            })
            .await
    }
}
