//! Starting rules other than by a change (by hand, by a schedule), and explaining them: a
//! test run against a chosen record that shows what each step would do without doing it,
//! and, per record, which rules listen to it, whether their condition holds now, and what
//! their runs did ("why did this fire / not fire").

use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::filter::Filter;
use relata_domain::workflow::{Definition, Step, Trigger};
use relata_domain::{Record, UserId};

use super::store::{self, NewRun, RunQuery, status};
use super::{Rule, Run};
use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;
use crate::jobs::derived_id;
use crate::records::ListRequest;

/// Most records one firing of a scheduled rule runs on.
pub const SCHEDULE_LIMIT: usize = 10_000;

/// What a rule would do to one record.
#[derive(Debug, Clone, Serialize)]
pub struct TestRun {
    pub rule_id: Uuid,
    pub version: i64,
    pub record_id: Uuid,
    pub trigger: String,
    /// Whether the record meets the rule's condition now.
    pub condition_holds: bool,
    /// Each step and what it would do; nothing is written.
    pub steps: Vec<Json>,
}

/// A rule as it concerns one record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordRule {
    pub rule_id: Uuid,
    pub name: String,
    pub enabled: bool,
    pub trigger: String,
    pub condition_holds: bool,
    /// The latest runs of this rule on the record, newest first.
    pub runs: Vec<Run>,
}

impl Core {
    /// What `rule` would do to the record now (its saved definition, or `definition` if
    /// given: a draft tried before it is saved). Nothing is written.
    pub async fn test_workflow_rule(
        &self,
        actor: &Actor,
        rule_id: Uuid,
        record_id: Uuid,
        draft: Option<Json>,
    ) -> Result<TestRun, CoreError> {
        let rule = self.workflow_rule(actor, rule_id).await?;
        let definition = match draft {
            Some(d) => {
                let input = super::RuleInput {
                    name: rule.name.clone(),
                    object: rule.object.clone(),
                    enabled: rule.enabled,
                    definition: d,
                };
                self.check_workflow(actor, &input, Some(rule_id)).await?
            }
            None => rule.parsed()?,
        };
        let object = self.object(&rule.object)?;
        let record = self.get_record(actor, object.name(), record_id).await?;
        let condition_holds =
            self.condition_holds(actor, &object, definition.condition.as_ref(), &record)?;
        let zone = definition.zone();
        let mut steps = Vec::new();
        for (i, step) in definition.steps.iter().enumerate() {
            let env = self
                .env_for(actor, &object, Some(&record), step, zone)
                .await?;
            let would = match step {
                Step::UpdateFields { set } => {
                    json!({"set": self.preview_values(&object, set, &env)})
                }
                Step::CreateRecord {
                    object: target,
                    set,
                } => {
                    let target = self.object(target)?;
                    json!({"object": target.name(), "set": self.preview_values(&target, set, &env)})
                }
                Step::AssignOwner { to } => {
                    json!({"owner_id": self.recipients(std::slice::from_ref(to), Some(&record)).await?.first().map(|u| u.to_string())})
                }
                Step::Notify { to, message } => json!({
                    "notify": self.recipients(to, Some(&record)).await?.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
                    "message": super::run::render(message, &env).unwrap_or_else(|e| format!("(cannot be written: {e})")),
                }),
                Step::SendEmail {
                    template_id,
                    to,
                    track,
                } => match self.mail_address(to, Some(&record), &env).await {
                    Err(e) => json!({"skipped": e.to_string()}),
                    Ok(to) => {
                        let request = crate::email::SendRequest {
                            object: object.name().to_owned(),
                            record_id,
                            template_id: Some(*template_id),
                            to,
                            track: *track,
                            ..Default::default()
                        };
                        match self.preview_email(actor, &request).await {
                            Ok(mail) => json!({"to": mail.to, "subject": mail.subject}),
                            Err(e) => json!({"skipped": e.to_string()}),
                        }
                    }
                },
                Step::Wait(w) => json!({"wait": w}),
                other => serde_json::to_value(other).unwrap_or(Json::Null),
            };
            steps.push(json!({"step": i, "type": step.name(), "would": would}));
        }
        Ok(TestRun {
            rule_id,
            version: rule.version,
            record_id,
            trigger: definition.trigger.name().into(),
            condition_holds,
            steps,
        })
    }

    /// Values a step would set, each computed or the reason it cannot be.
    fn preview_values(
        &self,
        target: &relata_domain::meta::ObjectDef,
        set: &std::collections::BTreeMap<String, relata_domain::workflow::Assign>,
        env: &super::run::RecordEnv,
    ) -> Json {
        let mut out = serde_json::Map::new();
        for (name, assign) in set {
            let one = std::iter::once((name.clone(), assign.clone())).collect();
            let value = match self.assigned(target, &one, env) {
                Ok(mut m) => m.remove(name).unwrap_or(Json::Null),
                Err(e) => json!({"error": e.to_string()}),
            };
            out.insert(name.clone(), value);
        }
        Json::Object(out)
    }

    /// The rules on a record's object, whether each holds for the record now, and their
    /// latest runs on it.
    pub async fn record_workflows(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Vec<RecordRule>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let object = self.object(object)?;
        let record = self.get_record(actor, object.name(), id).await?;
        let rules: Vec<Rule> = self
            .workflow_rules(actor)
            .await?
            .into_iter()
            .filter(|r| r.object == object.name())
            .collect();
        let mut out = Vec::new();
        for rule in rules {
            let definition = rule.parsed()?;
            let condition_holds = self
                .condition_holds(actor, &object, definition.condition.as_ref(), &record)
                .unwrap_or(false);
            let runs = self
                .workflow_runs(
                    actor,
                    RunQuery {
                        rule_id: Some(rule.id),
                        record_id: Some(id),
                        limit: 10,
                        ..RunQuery::default()
                    },
                )
                .await?;
            out.push(RecordRule {
                rule_id: rule.id,
                name: rule.name,
                enabled: rule.enabled,
                trigger: definition.trigger.name().into(),
                condition_holds,
                runs,
            });
        }
        Ok(out)
    }

    /// Starts a rule on a record by hand (any trigger): a run like any other.
    pub async fn start_workflow(
        &self,
        actor: &Actor,
        rule_id: Uuid,
        record_id: Uuid,
    ) -> Result<Run, CoreError> {
        let rule = self.workflow_rule(actor, rule_id).await?;
        if !rule.enabled {
            return Err(CoreError::Conflict {
                code: "rule_disabled",
                message: "the rule is disabled: enable it to start it".into(),
            });
        }
        self.get_record(actor, &rule.object, record_id).await?;
        let now = self.clock.now();
        let id = relata_domain::ids::uuid_v7_at(now);
        let who = actor.user_id.0;
        self.write_runs(vec![new_run(
            &rule,
            id,
            Some(record_id),
            format!("started by hand by {who}"),
        )])
        .await?;
        self.workflow_run(actor, id).await
    }

    /// The `workflow.schedule` job: a rule with a schedule trigger runs on every record
    /// meeting its condition, as its owner sees them (at most [`SCHEDULE_LIMIT`]).
    /// `due` is when the schedule fired (the job's time): runs are keyed by it, so a retried
    /// job starts each run once.
    pub async fn fire_workflow_schedule(
        &self,
        payload: &Json,
        due: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, CoreError> {
        let Some(rule_id) = payload["rule_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Err(CoreError::bad_request(
                "bad_rule",
                format!("a schedule job without rule_id: {payload}"),
            ));
        };
        let Some(rule) = self
            .store
            .read(move |conn| store::rules(conn, Some(rule_id)))
            .await?
            .pop()
        else {
            return Ok(0);
        };
        let definition: Definition = rule.parsed()?;
        if !rule.enabled || !matches!(definition.trigger, Trigger::Schedule { .. }) {
            return Ok(0);
        }
        let owner = Actor::user(
            self.fresh_access_of(UserId(rule.owner_id)).await?,
            Source::Automation,
        );
        let filter: Option<Filter> = definition
            .condition
            .as_ref()
            .map(crate::filter_scope::parse_condition)
            .transpose()
            .map_err(CoreError::field)?;
        let fired = due;
        let mut cursor = None;
        let mut total = 0;
        loop {
            let (_, page) = self
                .list_records(
                    &owner,
                    &rule.object,
                    ListRequest {
                        filter: filter.clone(),
                        limit: Some(500),
                        cursor: cursor.clone(),
                        ..ListRequest::default()
                    },
                )
                .await?;
            let runs: Vec<NewRun> = page
                .records
                .iter()
                .filter_map(Record::id)
                .take(SCHEDULE_LIMIT - total)
                .map(|record| {
                    let id = derived_id(&format!(
                        "workflow:{}:{}:{record}",
                        rule.id,
                        fired.timestamp()
                    ));
                    new_run(
                        &rule,
                        id,
                        Some(record),
                        format!(
                            "schedule at {}",
                            relata_domain::value::format_datetime(&fired)
                        ),
                    )
                })
                .collect();
            total += runs.len();
            self.write_runs(runs).await?;
            cursor = page.next_cursor;
            if cursor.is_none() || total >= SCHEDULE_LIMIT {
                break;
            }
        }
        Ok(total)
    }

    pub(crate) async fn write_runs(&self, runs: Vec<NewRun>) -> Result<(), CoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                store::insert_runs(conn, &runs, now)?;
                for r in &runs {
                    super::fanout::enqueue_run(conn, r.id, &format!("start:{}", r.id), now, now)?;
                }
                Ok::<_, CoreError>(())
            })
            .await?;
        self.wake_job_workers();
        Ok(())
    }
}

pub(crate) fn new_run(rule: &Rule, id: Uuid, record: Option<Uuid>, trigger: String) -> NewRun {
    NewRun {
        id,
        rule_id: rule.id,
        version: rule.version,
        object: rule.object.clone(),
        record_id: record,
        seq: None,
        trigger,
        status: status::QUEUED,
        depth: 0,
        caused_by: None,
        step: 0,
        wake_at: None,
        error: None,
    }
}
