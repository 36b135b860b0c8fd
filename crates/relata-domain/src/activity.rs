//! Activities (活动): tasks, calls, meetings and notes — the work a rep does on a customer.
//! What counts as a follow-up (跟进) for the pool rules, what makes a meeting or its
//! attendee valid, and where a recurring task comes back.
//!
//! A follow-up is contact made: a note written, a task done, a call that reached someone, a
//! meeting held. A planned task or meeting is a promise, and a call that rang out is an
//! attempt; neither restarts the pool's clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::error::{FieldError, FieldErrorCode as Code};
use crate::{Record, Value};

pub const TASK: &str = "task";
pub const NOTE: &str = "note";
pub const CALL: &str = "call";
pub const MEETING: &str = "meeting";
pub const ATTENDEE: &str = "meeting_attendee";

pub const STATUS: &str = "status";
pub const COMPLETED: &str = "completed";
pub const HELD: &str = "held";
pub const OUTCOME: &str = "outcome";
pub const CALL_AT: &str = "call_at";
pub const START_AT: &str = "start_at";
pub const END_AT: &str = "end_at";
pub const DUE_DATE: &str = "due_date";
pub const RECURRENCE: &str = "recurrence";
pub const RECURRENCE_END: &str = "recurrence_end";
pub const REMINDER_AT: &str = crate::standard::REMINDER_FIELD;

pub const CALL_DIRECTIONS: &[(&str, &str)] = &[("outbound", "Outbound"), ("inbound", "Inbound")];

/// How a call ended. Only `connected` and `callback_requested` reached someone.
pub const CALL_OUTCOMES: &[(&str, &str)] = &[
    ("connected", "Connected"),
    ("callback_requested", "Call back requested"),
    ("no_answer", "No answer"),
    ("busy", "Busy"),
    ("voicemail", "Left voicemail"),
    ("wrong_number", "Wrong number"),
];

pub const MEETING_STATUSES: &[(&str, &str)] = &[
    ("planned", "Planned"),
    (HELD, "Held"),
    ("cancelled", "Cancelled"),
];

pub const ATTENDEE_RESPONSES: &[(&str, &str)] = &[
    ("invited", "Invited"),
    ("accepted", "Accepted"),
    ("tentative", "Tentative"),
    ("declined", "Declined"),
];

pub const RECURRENCES: &[(&str, &str)] = &[
    ("daily", "Every day"),
    ("weekdays", "Every weekday"),
    ("weekly", "Every week"),
    ("monthly", "Every month"),
    ("quarterly", "Every quarter"),
    ("yearly", "Every year"),
];

/// Junction records shown by the name of what they link to, copied when the write gives
/// none: (object, [(lookup, target object)]).
pub const NAMED_BY: &[(&str, &[(&str, &str)])] = &[
    (
        ATTENDEE,
        &[("contact_id", "contact"), ("user_id", "sys_users")],
    ),
    ("opportunity_competitor", &[("competitor_id", "competitor")]),
];

fn text<'a>(record: &'a Record, field: &str) -> Option<&'a str> {
    match record.get(field) {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// Whether `value` of `field` is new in this write (`before`: `None` for a new record).
fn became(before: Option<&Record>, after: &Record, field: &str, value: &str) -> bool {
    text(after, field) == Some(value) && before.is_none_or(|b| text(b, field) != Some(value))
}

/// Whether this write of an `object` record is a follow-up of the customers it links to.
pub fn is_follow_up(object: &str, before: Option<&Record>, after: &Record) -> bool {
    match object {
        NOTE => before.is_none(),
        TASK => became(before, after, STATUS, COMPLETED),
        MEETING => became(before, after, STATUS, HELD),
        // a call is logged once it happened: reaching someone is contact, ringing out is not
        CALL => {
            let reached = |r: &Record| {
                matches!(
                    text(r, OUTCOME),
                    None | Some("connected" | "callback_requested")
                )
            };
            reached(after) && before.is_none_or(|b| !reached(b))
        }
        _ => false,
    }
}

/// What a new activity takes when the write does not say: a call logged now.
pub fn fill_new(object: &str, values: &mut BTreeMap<String, Value>, now: DateTime<Utc>) {
    if object == CALL && values.get(CALL_AT).is_none_or(Value::is_null) {
        values.insert(CALL_AT.to_owned(), Value::Datetime(now));
    }
}

/// The problems of writing `changes` to an activity that was `before` (`None`: new) that
/// no single field's own type can say.
pub fn check_write(
    object: &str,
    before: Option<&Record>,
    changes: &BTreeMap<String, Value>,
) -> Vec<FieldError> {
    let after = |field: &str| -> Value {
        match changes.get(field) {
            Some(v) => v.clone(),
            None => before.map(|b| b.get(field).clone()).unwrap_or(Value::Null),
        }
    };
    let mut errors = Vec::new();
    match object {
        MEETING => {
            if let (Value::Datetime(start), Value::Datetime(end)) = (after(START_AT), after(END_AT))
                && end < start
            {
                errors.push(FieldError::new(
                    END_AT,
                    Code::TooSmall,
                    "must not be before the meeting starts",
                ));
            }
        }
        ATTENDEE => {
            // an invitation is of one person to one meeting: another is a new invitation
            // (made with edit access to that meeting)
            if let Some(b) = before {
                for field in ["meeting_id", "user_id", "contact_id"] {
                    if changes.get(field).is_some_and(|v| v != b.get(field)) {
                        errors.push(FieldError::new(
                            field,
                            Code::ReadOnly,
                            "cannot change: remove this attendee and invite again",
                        ));
                    }
                }
            }
            let user = !after("user_id").is_null();
            let contact = !after("contact_id").is_null();
            if user == contact {
                errors.push(FieldError::new(
                    "contact_id",
                    Code::Required,
                    "an attendee is one user or one contact: give exactly one of user_id and \
                     contact_id",
                ));
            }
        }
        TASK => {
            if let (Value::Text(_), Value::Date(end), Value::Date(due)) =
                (after(RECURRENCE), after(RECURRENCE_END), after(DUE_DATE))
                && end < due
            {
                errors.push(FieldError::new(
                    RECURRENCE_END,
                    Code::TooSmall,
                    "must not be before the task is due",
                ));
            }
        }
        _ => {}
    }
    errors
}

/// What completing a recurring task sets besides: it no longer repeats (its rule goes to
/// the next task, `next_task`).
pub fn completion_stamps(
    before: &Record,
    changes: &BTreeMap<String, Value>,
) -> Vec<(String, Value)> {
    let completing = changes.get(STATUS) == Some(&Value::Text(COMPLETED.to_owned()))
        && text(before, STATUS) != Some(COMPLETED);
    if !completing || text(before, RECURRENCE).is_none() {
        return Vec::new();
    }
    vec![
        (RECURRENCE.to_owned(), Value::Null),
        (RECURRENCE_END.to_owned(), Value::Null),
    ]
}

/// The day after `due` on which a task repeating by `rule` is due again.
pub fn next_occurrence(rule: &str, due: NaiveDate) -> Option<NaiveDate> {
    match rule {
        "daily" => due.succ_opt(),
        "weekdays" => {
            let mut d = due.succ_opt()?;
            while d.weekday().number_from_monday() > 5 {
                d = d.succ_opt()?;
            }
            Some(d)
        }
        "weekly" => due.checked_add_days(chrono::Days::new(7)),
        // the 31st repeats on the last day of shorter months (chrono clamps)
        "monthly" => due.checked_add_months(Months::new(1)),
        "quarterly" => due.checked_add_months(Months::new(3)),
        "yearly" => due.checked_add_months(Months::new(12)),
        _ => None,
    }
}

/// The fields of the task that follows a recurring task `after` just completed (`before`:
/// as it was), or `None` when it does not repeat or its series has ended. The next one is
/// due a period after this one was due (after `today` when it had no date), at the same
/// hour of reminder, with the same subject, links, priority, owner and rule.
pub fn next_task(
    before: &Record,
    after: &Record,
    today: NaiveDate,
) -> Option<BTreeMap<String, Value>> {
    if !became(Some(before), after, STATUS, COMPLETED) {
        return None;
    }
    // the rule moves to the next task: the completed one no longer repeats (write stamps),
    // so completing it again after reopening brings no second "next"
    let rule = text(before, RECURRENCE)?;
    let due = match after.get(DUE_DATE) {
        Value::Date(d) => *d,
        _ => today,
    };
    let next = next_occurrence(rule, due)?;
    if let Value::Date(end) = before.get(RECURRENCE_END)
        && next > *end
    {
        return None;
    }
    let mut values = BTreeMap::new();
    for (field, value) in &after.values {
        let carried = !matches!(
            field.as_str(),
            "id" | "created_at"
                | "created_by"
                | "updated_at"
                | "updated_by"
                | "version"
                | STATUS
                | DUE_DATE
                | REMINDER_AT
        );
        if carried && !value.is_null() {
            values.insert(field.clone(), value.clone());
        }
    }
    values.insert(RECURRENCE.to_owned(), Value::Text(rule.to_owned()));
    if let Value::Date(end) = before.get(RECURRENCE_END) {
        values.insert(RECURRENCE_END.to_owned(), Value::Date(*end));
    }
    values.insert(STATUS.to_owned(), Value::Text("not_started".to_owned()));
    values.insert(DUE_DATE.to_owned(), Value::Date(next));
    if let Value::Datetime(reminder) = after.get(REMINDER_AT) {
        let shift = next.signed_duration_since(due);
        values.insert(REMINDER_AT.to_owned(), Value::Datetime(*reminder + shift));
    }
    Some(values)
}

#[cfg(test)]
#[path = "activity/tests.rs"]
mod tests;
