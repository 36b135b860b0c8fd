//! Workflow rules as data: what starts a rule (its trigger), which records it applies to (a
//! condition in the filter language), and the steps it takes. The shape is checked here;
//! whether the fields, objects and users a rule names exist, and whether its owner may do
//! what it does, is checked against metadata and access by the core when it is saved.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::error::{FieldError, FieldErrorCode};

/// The most steps one rule may have.
pub const MAX_STEPS: usize = 50;

/// The longest a rule may wait in one step (a year).
pub const MAX_WAIT_DAYS: i64 = 366;

/// Rules triggered by rules triggered by rules…: a chain deeper than this stops, and the
/// run that would have gone deeper is recorded as skipped.
pub const MAX_DEPTH: i64 = 5;

/// The most runs of one rule on one record within an hour; more are skipped (a rule that
/// keeps re-triggering itself through other rules stops here).
pub const MAX_RUNS_PER_RECORD_HOUR: i64 = 10;

/// A rule's saved definition: one version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub trigger: Trigger,
    /// In the filter language (compact text or JSON); none = every record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Json>,
    pub steps: Vec<Step>,
    /// The zone of a schedule's cron, and of the hour at which a date-relative trigger or
    /// wait falls due.
    #[serde(default = "default_zone")]
    pub time_zone: String,
}

/// What starts a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A record is created (and meets the condition).
    Created,
    /// A record is changed (and meets the condition after the change).
    Updated,
    /// Either.
    CreatedOrUpdated,
    /// One of `fields` changes (on creation: is set).
    FieldChanged { fields: Vec<String> },
    /// The condition becomes true: it did not hold before the change and holds after it
    /// (a new record that meets it counts).
    ConditionMet,
    /// A time relative to a date or datetime field: `offset_days` before (negative) or after
    /// it, at `at_hour` o'clock in the installation's time zone for a date field.
    DateReached {
        field: String,
        #[serde(default)]
        offset_days: i64,
        #[serde(default = "default_hour")]
        at_hour: u32,
    },
    /// A recurring schedule: the steps run for every record meeting the condition.
    Schedule { cron: String },
    /// Only when started by hand or by another rule.
    Manual,
    /// A call to the rule's secret URL (`POST /api/v1/hooks/workflows/{token}`), naming a
    /// record or bringing one to create.
    Inbound,
    /// A visitor's submission of a web form made a record: of `form_id`, or of any form of
    /// the rule's object.
    FormSubmitted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form_id: Option<uuid::Uuid>,
    },
}

fn default_hour() -> u32 {
    9
}

fn default_zone() -> String {
    "UTC".into()
}

impl Trigger {
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Created => "created",
            Trigger::Updated => "updated",
            Trigger::CreatedOrUpdated => "created_or_updated",
            Trigger::FieldChanged { .. } => "field_changed",
            Trigger::ConditionMet => "condition_met",
            Trigger::DateReached { .. } => "date_reached",
            Trigger::Schedule { .. } => "schedule",
            Trigger::Manual => "manual",
            Trigger::Inbound => "inbound",
            Trigger::FormSubmitted { .. } => "form_submitted",
        }
    }

    /// Whether a change of the feed can start it (the others start by time or by hand).
    pub fn on_change(&self) -> bool {
        !matches!(
            self,
            Trigger::Schedule { .. }
                | Trigger::Manual
                | Trigger::Inbound
                | Trigger::FormSubmitted { .. }
        )
    }
}

/// A value a step writes: a literal JSON value, or a formula over the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Assign {
    Formula { formula: String },
    Value(Json),
}

/// Who a notification or an assignment goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The record's owner.
    Owner,
    /// The users holding the role above the owner's.
    OwnerManager,
    /// A named user.
    User(Uuid),
}

/// One step of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Sets fields of the record.
    UpdateFields { set: BTreeMap<String, Assign> },
    /// Creates a record of `object` (a follow-up task, say); formulas read the triggering
    /// record, so `{"formula": "id"}` links the new record to it.
    CreateRecord {
        object: String,
        set: BTreeMap<String, Assign>,
    },
    /// Gives the record to someone.
    AssignOwner { to: Recipient },
    /// Gives the record to whom an assignment rule picks (territory, turn, load).
    AssignByRule { rule_id: Uuid },
    /// An in-app notification; `{{ formula }}` in the message is replaced by its value.
    Notify { to: Vec<Recipient>, message: String },
    /// Sends a mail from a template about the record, from the rule owner's default
    /// sender identity. A receiver who opted out or is suppressed gets nothing, and the
    /// run goes on.
    SendEmail {
        template_id: Uuid,
        #[serde(default)]
        to: MailTo,
        /// Opens and clicks are counted.
        #[serde(default = "yes")]
        track: bool,
    },
    /// Sends the record to an outbound webhook (signed, retried, logged like its events).
    CallWebhook { webhook_id: Uuid },
    /// Adds the record to a static list.
    AddToList { list_id: Uuid },
    /// Starts another rule (with a manual trigger or not) on the same record.
    StartRule { rule_id: Uuid },
    /// Waits, then goes on with the next step.
    Wait(Wait),
}

fn yes() -> bool {
    true
}

/// Where a rule's mail goes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTo {
    /// The record's own email field (a contact, a lead).
    #[default]
    Record,
    /// Another email field of the record, or of a parent (`contact_id.email`).
    Field(String),
    /// The record's owner.
    Owner,
    /// A fixed address.
    Address(String),
}

/// What a wait step waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Wait {
    /// A fixed time.
    #[serde(default)]
    pub days: i64,
    #[serde(default)]
    pub hours: i64,
    #[serde(default)]
    pub minutes: i64,
    /// Until a date field of the record (plus `offset_days`), at `at_hour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_field: Option<String>,
    #[serde(default)]
    pub offset_days: i64,
    /// Until the record meets this condition (checked whenever it changes), at most
    /// `days`/`hours`/`minutes`; then the run goes on either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Json>,
}

impl Wait {
    pub fn duration(&self) -> Duration {
        Duration::days(self.days) + Duration::hours(self.hours) + Duration::minutes(self.minutes)
    }
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::UpdateFields { .. } => "update_fields",
            Step::CreateRecord { .. } => "create_record",
            Step::AssignOwner { .. } => "assign_owner",
            Step::AssignByRule { .. } => "assign_by_rule",
            Step::Notify { .. } => "notify",
            Step::SendEmail { .. } => "send_email",
            Step::CallWebhook { .. } => "call_webhook",
            Step::AddToList { .. } => "add_to_list",
            Step::StartRule { .. } => "start_rule",
            Step::Wait(_) => "wait",
        }
    }
}

impl Definition {
    /// Parses a definition as a client wrote it; errors name where the problem is.
    pub fn parse(value: &Json) -> Result<Definition, FieldError> {
        serde_json::from_value(value.clone()).map_err(|e| {
            FieldError::new(
                "definition",
                FieldErrorCode::WrongType,
                format!("not a workflow definition: {e}"),
            )
        })
    }

    /// The checks that need no metadata: sizes and bounds.
    pub fn check_shape(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let bad = |field: String, msg: String| {
            FieldError::new(&field, FieldErrorCode::InvalidOption, msg)
        };
        if self.steps.is_empty() {
            errors.push(bad("steps".into(), "a rule needs at least one step".into()));
        }
        if self.steps.len() > MAX_STEPS {
            errors.push(bad(
                "steps".into(),
                format!("a rule has at most {MAX_STEPS} steps"),
            ));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(bad(
                "time_zone".into(),
                format!(
                    "{:?} is not a time zone (e.g. Asia/Shanghai)",
                    self.time_zone
                ),
            ));
        }
        match &self.trigger {
            Trigger::FieldChanged { fields } if fields.is_empty() => errors.push(bad(
                "trigger.fields".into(),
                "name at least one field whose change starts the rule".into(),
            )),
            Trigger::DateReached {
                offset_days,
                at_hour,
                ..
            } => {
                if offset_days.abs() > MAX_WAIT_DAYS * 10 {
                    errors.push(bad(
                        "trigger.offset_days".into(),
                        "an offset of at most 3,660 days".into(),
                    ));
                }
                if *at_hour > 23 {
                    errors.push(bad(
                        "trigger.at_hour".into(),
                        "an hour of the day, 0-23".into(),
                    ));
                }
            }
            _ => {}
        }
        for (i, step) in self.steps.iter().enumerate() {
            if let Step::Wait(w) = step {
                let at = format!("steps[{i}]");
                let d = w.duration();
                if w.days < 0 || w.hours < 0 || w.minutes < 0 {
                    errors.push(bad(at.clone(), "a wait cannot be negative".into()));
                } else if d > Duration::days(MAX_WAIT_DAYS) {
                    errors.push(bad(
                        at.clone(),
                        format!("a wait of at most {MAX_WAIT_DAYS} days"),
                    ));
                }
                match (&w.until_field, &w.until) {
                    (Some(_), Some(_)) => errors.push(bad(
                        at,
                        "wait for a date field or for a condition, not both".into(),
                    )),
                    (None, None) if d.is_zero() => errors.push(bad(
                        at,
                        "a wait needs a time (days, hours, minutes), a date field or a condition"
                            .into(),
                    )),
                    _ => {}
                }
            }
            if let Step::Notify { to, message } = step {
                if to.is_empty() {
                    errors.push(bad(format!("steps[{i}].to"), "name who is notified".into()));
                }
                if message.trim().is_empty() || message.chars().count() > 1_000 {
                    errors.push(bad(
                        format!("steps[{i}].message"),
                        "a message of 1-1,000 characters".into(),
                    ));
                }
            }
        }
        errors
    }

    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The date fields the rule reads for timing (its trigger's and its waits').
    pub fn date_fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Trigger::DateReached { field, .. } = &self.trigger {
            out.push(field.as_str());
        }
        for step in &self.steps {
            if let Step::Wait(Wait {
                until_field: Some(f),
                ..
            }) = step
            {
                out.push(f.as_str());
            }
        }
        out
    }
}

/// A piece of a message: text as written, or a formula between `{{` and `}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum MessagePart {
    Text(String),
    Formula(crate::formula::Formula),
}

/// Splits a message into its text and its `{{ formula }}` parts, each formula parsed.
pub fn message_parts(message: &str) -> Result<Vec<MessagePart>, String> {
    let mut parts = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(MessagePart::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a '{{' without its '}}'".to_owned())?;
        let formula = crate::formula::parse(after[..close].trim())
            .map_err(|e| format!("in {{{{{}}}}}: {e}", &after[..close]))?;
        parts.push(MessagePart::Formula(formula));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(MessagePart::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// The moment a date-relative trigger or wait falls due: `offset_days` from a date at
/// `at_hour` in `zone`, or from a datetime as it is.
pub fn due_at(
    value: &crate::Value,
    offset_days: i64,
    at_hour: u32,
    zone: chrono_tz::Tz,
) -> Option<DateTime<Utc>> {
    let offset = Duration::days(offset_days);
    match value {
        crate::Value::Date(d) => local_hour(*d + offset, at_hour, zone),
        crate::Value::Datetime(t) => Some(*t + offset),
        _ => None,
    }
}

fn local_hour(day: NaiveDate, hour: u32, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let naive = day.and_hms_opt(hour.min(23), 0, 0)?;
    // a time skipped by a daylight-saving change falls on the next valid one
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_definition_reads_as_written_and_refuses_unknown_keys() {
        let d = Definition::parse(&json!({
            "trigger": {"type": "field_changed", "fields": ["stage"]},
            "condition": "amount > 100000",
            "steps": [
                {"type": "update_fields", "set": {"level": "vip", "score": {"formula": "score + 1"}}},
                {"type": "wait", "days": 2},
                {"type": "notify", "to": ["owner_manager", {"user": "0190a0b0-0000-7000-8000-000000000001"}], "message": "{{ name }} moved"}
            ]
        }))
        .unwrap();
        assert!(d.check_shape().is_empty(), "{:?}", d.check_shape());
        assert_eq!(d.steps[0].name(), "update_fields");
        let Step::UpdateFields { set } = &d.steps[0] else {
            panic!()
        };
        assert_eq!(set["level"], Assign::Value(json!("vip")));
        assert_eq!(
            set["score"],
            Assign::Formula {
                formula: "score + 1".into()
            }
        );
        let e = Definition::parse(&json!({"trigger": {"type": "created"}, "steps": [], "when": 1}))
            .unwrap_err();
        assert!(e.message.contains("when"), "{e:?}");
        let e =
            Definition::parse(&json!({"trigger": {"type": "sometimes"}, "steps": []})).unwrap_err();
        assert!(e.message.contains("sometimes"), "{e:?}");
    }

    #[test]
    fn shape_checks_name_the_step() {
        let d = Definition::parse(&json!({
            "trigger": {"type": "date_reached", "field": "end_date", "offset_days": -3, "at_hour": 25},
            "steps": [{"type": "wait"}, {"type": "wait", "days": 400}, {"type": "notify", "to": [], "message": ""}]
        }))
        .unwrap();
        let fields: Vec<String> = d.check_shape().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "trigger.at_hour",
                "steps[0]",
                "steps[1]",
                "steps[2].to",
                "steps[2].message"
            ]
        );
    }

    #[test]
    fn a_message_splits_into_text_and_formulas() {
        let parts = message_parts("Deal {{ name }} is now {{stage}}.").unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0], MessagePart::Text("Deal ".into()));
        assert!(matches!(&parts[1], MessagePart::Formula(f) if f.source() == "name"));
        assert_eq!(parts[4], MessagePart::Text(".".into()));
        assert!(message_parts("oops {{ name").unwrap_err().contains("}}"));
        assert!(message_parts("{{ 1 + }}").is_err());
        assert_eq!(message_parts("plain").unwrap().len(), 1);
    }

    #[test]
    fn a_date_falls_due_at_the_hour_in_the_zone() {
        let d = crate::Value::Date(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        let at = due_at(&d, -3, 9, chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-28T01:00:00+00:00");
        let t = crate::Value::Datetime(at);
        assert_eq!(
            due_at(&t, 1, 0, chrono_tz::UTC).unwrap().to_rfc3339(),
            "2026-12-29T01:00:00+00:00"
        );
        assert_eq!(due_at(&crate::Value::Null, 1, 9, chrono_tz::UTC), None);
    }
}
