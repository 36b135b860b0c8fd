//! Reminders: an activity whose `reminder_at` is set reminds its owner at that time, in the
//! app (the bell) and by email. Setting or moving the reminder enqueues a `reminder.due` job
//! for that time in the same transaction as the write. When the job runs it checks that the
//! reminder still stands — the record is live, its reminder was not moved or cleared, it is
//! not completed (a task) or cancelled (a meeting) — and writes the notification once (its id is derived from the record and
//! the time, so a job run twice reminds once), then mails the owner in their language.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::standard::REMINDER_FIELD;
use relata_domain::{Record, Value};
use relata_store::jobs::{self as queue, NewJob};
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::error::CoreError;
use crate::jobs::kind;
use crate::mail::Mail;
use crate::records::read::{self, Bin};
use crate::visibility::Visibility;

/// The notification a reminder leaves.
pub const NOTIFICATION: &str = "reminder.due";

/// The status values that end an activity's reminders: a task done, a meeting cancelled.
const ENDED: &[&str] = &["completed", "cancelled"];

/// After a write of `after` (`before`: as it was, for an update): enqueues the reminder when
/// the record has one that is new or moved. A reminder in the past is due at once.
pub(crate) fn schedule(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    after: &Record,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !has_reminders(object) {
        return Ok(());
    }
    let Value::Datetime(at) = after.get(REMINDER_FIELD) else {
        return Ok(());
    };
    if before.is_some_and(|b| b.get(REMINDER_FIELD) == after.get(REMINDER_FIELD)) {
        return Ok(());
    }
    let Some(id) = after.id() else { return Ok(()) };
    let mut job = NewJob::new(
        kind::REMINDER,
        json!({"object": object.name(), "record_id": id.to_string(), "at": at.to_rfc3339()}),
        now,
    );
    job.run_at = *at;
    // a reminder moved back to a time it had before is not a second reminder for that time
    job.idempotency_key = Some(format!("{}:{id}:{}", object.name(), at.to_rfc3339()));
    queue::enqueue(conn, &job, now)?;
    Ok(())
}

/// Whether records of `object` have reminders: a date-and-time field named `reminder_at`.
pub fn has_reminders(object: &ObjectDef) -> bool {
    object
        .field(REMINDER_FIELD)
        .is_some_and(|f| f.field_type == FieldType::Datetime && !f.archived)
}

/// What the `reminder.due` job carries.
struct Due {
    object: String,
    record_id: Uuid,
    at: DateTime<Utc>,
}

impl Due {
    fn of(payload: &Json) -> Option<Due> {
        Some(Due {
            object: payload["object"].as_str()?.to_owned(),
            record_id: payload["record_id"].as_str()?.parse().ok()?,
            at: DateTime::parse_from_rfc3339(payload["at"].as_str()?)
                .ok()?
                .with_timezone(&Utc),
        })
    }

    /// The notification's id: one per record and reminder time.
    fn notification_id(&self) -> Uuid {
        crate::jobs::derived_id(&format!(
            "reminder:{}:{}:{}",
            self.object,
            self.record_id,
            self.at.to_rfc3339()
        ))
    }
}

impl Core {
    /// Runs a due reminder (the `reminder.due` job). Answers whether the owner was reminded
    /// now: not when the reminder no longer stands, nor when an earlier run reminded them.
    pub async fn fire_reminder(&self, payload: &Json) -> Result<bool, CoreError> {
        let due = Due::of(payload).ok_or_else(|| CoreError::BadRequest {
            code: "bad_reminder",
            message: format!("a reminder job without object, record_id and at: {payload}"),
        })?;
        let Ok(object) = self.object(&due.object) else {
            return Ok(false); // the object was deleted since
        };
        if !has_reminders(&object) {
            return Ok(false);
        }
        let (id, obj) = (due.record_id, object.clone());
        let Some(record) = self
            .store
            .read(move |conn| read::get(conn, &obj, id, &Visibility::All, Bin::Live))
            .await?
        else {
            return Ok(false);
        };
        let stands = record.get(REMINDER_FIELD) == &Value::Datetime(due.at)
            && !matches!(record.get("status"), Value::Text(s) if ENDED.contains(&s.as_str()));
        let Value::Ref(owner) = record.get("owner_id").clone() else {
            return Ok(false);
        };
        if !stands {
            return Ok(false);
        }
        let name = match record.get(object.name_field.as_str()) {
            Value::Text(t) => t.clone(),
            _ => String::new(),
        };
        let now = self.clock.now();
        let notification = due.notification_id();
        let detail = json!({"name": name, "at": due.at.to_rfc3339()});
        let object_name = due.object.clone();
        let (object_def, at, mail_on) = (object.clone(), due.at, self.mail_configured());
        let public_url = self.settings.public_url.trim_end_matches('/').to_owned();
        let first = self
            .store
            .write(move |conn| {
                let first = crate::notifications::append_once(
                    conn,
                    notification,
                    owner,
                    NOTIFICATION,
                    Some(&object_name),
                    Some(id),
                    detail,
                    now,
                )?;
                if first
                    && mail_on
                    && let Some(reader) = recipient_of(conn, owner)?
                {
                    let link = format!("{public_url}/o/{}/{id}", object_def.name());
                    let mail = reminder_mail(&object_def, &name, &link, at, &reader);
                    // queued with the notification: both, or neither on a retry
                    crate::mail::queue(conn, &mail, &notification.to_string(), now)?;
                }
                Ok::<_, CoreError>(first)
            })
            .await?;
        if first {
            self.wake_job_workers();
        }
        Ok(first)
    }
}

/// Whom a reminder mail goes to: the owner's email, language and time zone.
struct Reader {
    email: String,
    locale: String,
    zone: String,
}

/// The owner as a reader of the mail, if they are active and have an email.
fn recipient_of(conn: &mut dyn Conn, user: Uuid) -> Result<Option<Reader>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT email, locale, time_zone FROM sys_users WHERE active = TRUE AND id = ");
    sql.param(SqlValue::Uuid(user));
    Ok(conn.query_one(&sql.text, &sql.params)?.and_then(|r| {
        let email = r[0].as_str().filter(|e| e.contains('@'))?.to_owned();
        Some(Reader {
            email,
            locale: r[1].as_str().unwrap_or("en").to_owned(),
            zone: r[2].as_str().unwrap_or("UTC").to_owned(),
        })
    }))
}

/// The reminder email, in the owner's language, the time in their zone.
fn reminder_mail(
    object: &ObjectDef,
    name: &str,
    link: &str,
    at: DateTime<Utc>,
    reader: &Reader,
) -> Mail {
    let tz: chrono_tz::Tz = reader.zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let when = at
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string();
    let to = reader.email.clone();
    if reader.locale.starts_with("zh") {
        let label =
            relata_domain::labels_zh::object_label(object, "label").unwrap_or(&object.label);
        Mail {
            to,
            subject: format!("提醒：{label}“{name}”"),
            body: format!("您设置的提醒时间已到（{when}）：{label}“{name}”。\n\n打开：{link}\n"),
            ..Mail::default()
        }
    } else {
        Mail {
            to,
            subject: format!("Reminder: {} “{name}”", object.label),
            body: format!(
                "Your reminder is due ({when}): {} “{name}”.\n\nOpen: {link}\n",
                object.label
            ),
            ..Mail::default()
        }
    }
}
