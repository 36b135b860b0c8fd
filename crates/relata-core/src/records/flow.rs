//! The rules of a record's flow that no field's own type can say, applied by the one write
//! path whatever path the write takes (API, bulk, import, workflow action, merge): a lead's
//! status flow, an opportunity's pipeline and stages, an activity's own rules — what a new
//! record starts with, what a change may not do, and what a change brings with it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use relata_domain::meta::ObjectDef;
use relata_domain::opportunity::{self, pipeline};
use relata_domain::{Record, Value, activity, lead};
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::write;

fn has(object: &ObjectDef, field: &str) -> bool {
    object.field(field).is_some_and(|f| !f.archived)
}

/// What a new record starts with when the write does not say: a deal's pipeline and first
/// stage, a call's time, a junction record's name (that of the person or competitor).
pub fn prefill(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !object.standard {
        return Ok(()); // an admin's own object of the same name has none of these rules
    }
    match object.name() {
        opportunity::OBJECT if has(object, pipeline::PIPELINE) => {
            pipeline::fill_new(&pipeline::pipelines(object), values);
        }
        activity::CALL if has(object, activity::CALL_AT) => {
            activity::fill_new(object.name(), values, now);
        }
        _ => {}
    }
    copy_name(conn, object, values)
}

/// A meeting attendee or a deal's competitor is shown by the name of whom it links to.
fn copy_name(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    values: &mut BTreeMap<String, Value>,
) -> Result<(), CoreError> {
    let named_by = activity::NAMED_BY
        .iter()
        .chain(relata_domain::pricing::NAMED_BY);
    let Some((_, links)) = named_by.clone().find(|(o, _)| *o == object.name()) else {
        return Ok(());
    };
    if !has(object, "name") || values.get("name").is_some_and(|v| !v.is_null()) {
        return Ok(());
    }
    for (field, table) in *links {
        let Some(Value::Ref(id)) = values.get(*field) else {
            continue;
        };
        let sql = format!(
            "SELECT name FROM {table} WHERE id = {}",
            placeholder(conn.dialect(), 1)
        );
        let row = conn.query_one(&sql, &[SqlValue::Uuid(*id)])?;
        if let Some(name) = row.as_ref().and_then(|r| r.first()?.as_str()) {
            values.insert("name".to_owned(), Value::Text(name.to_owned()));
            break;
        }
    }
    Ok(())
}

/// The problems of writing `changes` to a record that was `before` (`None`: new).
pub fn check(
    object: &ObjectDef,
    before: Option<&Record>,
    changes: &BTreeMap<String, Value>,
) -> Result<(), CoreError> {
    if !object.standard {
        return Ok(());
    }
    let errors = match object.name() {
        lead::OBJECT => lead::check_write(before, changes),
        opportunity::OBJECT => {
            let mut errors = opportunity::check_write(before, changes);
            if has(object, pipeline::PIPELINE) {
                errors.extend(pipeline::check_move(object, before, changes));
            }
            errors
        }
        activity::TASK | activity::MEETING | activity::ATTENDEE => {
            activity::check_write(object.name(), before, changes)
        }
        _ => return Ok(()),
    };
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Validation(errors))
    }
}

/// What a change sets besides what it gives, only on the standard objects whose fields
/// they are: an opportunity's new stage (or pipeline) its probability, forecast category and
/// when it changed (`relata_domain::opportunity`); a recurring task completed, the end of
/// its repeating (the rule goes to the next task).
pub fn stamps(
    object: &ObjectDef,
    before: Option<&Record>,
    changes: &BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Vec<(String, Value)> {
    if !object.standard {
        return Vec::new();
    }
    let stamps = match (object.name(), before) {
        (opportunity::OBJECT, _) => {
            opportunity::stage_stamps(&pipeline::pipelines(object), before, changes, now)
        }
        (activity::TASK, Some(before)) => activity::completion_stamps(before, changes),
        _ => Vec::new(),
    };
    stamps
        .into_iter()
        .filter(|(field, _)| has(object, field))
        .collect()
}

/// A colleague invited to a meeting may read it (a share kept with the attendee record):
/// brought in sync for the meeting and user `before` and `after` name (either may be
/// `None`: created, deleted or restored). Another live invitation of the same person to
/// the same meeting keeps the share.
pub fn sync_attendee_share(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    after: Option<&Record>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !object.standard || object.name() != activity::ATTENDEE {
        return Ok(());
    }
    let pair = |r: Option<&Record>| match r.map(|r| (r.get("meeting_id"), r.get("user_id"))) {
        Some((Value::Ref(m), Value::Ref(u))) => Some((*m, *u)),
        _ => None,
    };
    if before.is_some() && after.is_some() && pair(before) == pair(after) {
        // a reply (accepted, declined) leaves the share as it is, even one the owner removed
        return Ok(());
    }
    let mut pairs: Vec<(uuid::Uuid, uuid::Uuid)> = Vec::new();
    pairs.extend(pair(before));
    pairs.extend(pair(after).filter(|p| !pairs.contains(p)));
    let d = conn.dialect();
    let reason = crate::access::sharing::ATTENDEE_REASON;
    for (meeting, user) in pairs {
        let key = [
            SqlValue::Uuid(meeting),
            SqlValue::Uuid(user),
            SqlValue::Text(reason.to_owned()),
        ];
        conn.execute(
            &format!(
                "DELETE FROM sys_record_shares WHERE object = 'meeting' AND record_id = {} \
                 AND principal_kind = 'user' AND principal_id = {} AND reason = {}",
                placeholder(d, 1),
                placeholder(d, 2),
                placeholder(d, 3)
            ),
            &key,
        )?;
        let invited = crate::records::read::count(
            conn,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE meeting_id = {} AND user_id = {} AND deleted_at IS NULL",
                relata_store::ddl::table_name(object),
                placeholder(d, 1),
                placeholder(d, 2)
            ),
            &key[..2],
        )?;
        if invited > 0 {
            conn.execute(
                &format!(
                    "INSERT INTO sys_record_shares (id, object, record_id, principal_kind, \
                     principal_id, access, reason, created_at) VALUES ({}, 'meeting', {}, 'user', {}, 'read', {}, {})",
                    placeholder(d, 1),
                    placeholder(d, 2),
                    placeholder(d, 3),
                    placeholder(d, 4),
                    placeholder(d, 5)
                ),
                &[
                    SqlValue::Uuid(relata_domain::ids::uuid_v7_at(now)),
                    SqlValue::Uuid(meeting),
                    SqlValue::Uuid(user),
                    SqlValue::Text(reason.to_owned()),
                    SqlValue::Timestamp(now),
                ],
            )?;
        }
    }
    Ok(())
}

/// What a change brings with it, in its transaction: a recurring task completed brings
/// the next one (made by the same person, so a series runs on without anyone recreating it).
pub fn after_update(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    before: &Record,
    after: &Record,
) -> Result<(), CoreError> {
    if !object.standard || object.name() != activity::TASK || !has(object, activity::RECURRENCE) {
        return Ok(());
    }
    let Some(mut next) = activity::next_task(before, after, now.date_naive()) else {
        return Ok(());
    };
    // a unique field (an admin's own reference number) stays with the task that has it
    next.retain(|field, _| {
        field == "owner_id"
            || object
                .field(field)
                .is_some_and(|f| !f.archived && !f.unique)
    });
    write::insert(conn, side, object, actor, now, next)?;
    Ok(())
}
