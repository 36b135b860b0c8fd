//! Dates the write path keeps for pools (公海), whatever path the write takes: when a lead's
//! or account's owner got it, and when it was last followed up or (an account) last won.
//!
//! A follow-up is contact made (`relata_domain::activity::is_follow_up`): a note written, a
//! task done, a call that reached someone, a meeting held — about the lead or account
//! itself, or about a contact of the account. An opportunity closed won is
//! its account's last won deal. The dates only move forward, are written without a new
//! version (no one's edit is refused for them) and without a change event: they are the
//! system's bookkeeping, like `updated_at`.
//!
//! The dates are queued with the write's companions and written when they are flushed, just
//! before commit, each record once and in the order of its id. Written as each task was, two
//! concurrent bulk calls of done tasks about the same key accounts locked the accounts in
//! opposite orders and deadlocked on PostgreSQL, again on every retry (a 1M-record benchmark
//! load of tasks failed with 409 after five attempts); in one global order they only wait.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::pool;
use relata_domain::{Record, Value};
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::error::CoreError;
use crate::records::companions::Companions;

/// A date of another record that only moves forward (see the module's comment).
#[derive(Debug, Clone)]
pub struct Stamp {
    pub(crate) table: String,
    pub(crate) column: &'static str,
    pub(crate) id: uuid::Uuid,
    pub(crate) at: DateTime<Utc>,
}

impl Stamp {
    /// Which date of which record: the order the dates are written in.
    fn target(&self) -> (&str, &str, uuid::Uuid) {
        (&self.table, self.column, self.id)
    }
}

/// A new lead or account is owned from now.
pub fn stamp_insert(object: &ObjectDef, values: &mut BTreeMap<String, Value>, now: DateTime<Utc>) {
    if object.field(pool::OWNED_SINCE).is_some() && !values.contains_key(pool::OWNED_SINCE) {
        values.insert(pool::OWNED_SINCE.to_owned(), Value::Datetime(now));
    }
}

/// A lead or account given to someone else is theirs from now, its warning spent.
pub fn stamp_update(object: &ObjectDef, changed: &mut Vec<(String, Value)>, now: DateTime<Utc>) {
    let owner_changes = changed.iter().any(|(k, _)| k == "owner_id");
    if !owner_changes || object.field(pool::OWNED_SINCE).is_none() {
        return;
    }
    for (field, value) in [
        (pool::OWNED_SINCE, Value::Datetime(now)),
        (pool::WARNED_AT, Value::Null),
    ] {
        if !changed.iter().any(|(k, _)| k == field) {
            changed.push((field.to_owned(), value));
        }
    }
}

fn text<'a>(record: &'a Record, field: &str) -> Option<&'a str> {
    match record.get(field) {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// Writes queued stamps: each record's latest once, in the order of table, column and id.
pub(crate) fn apply(conn: &mut dyn Conn, mut stamps: Vec<Stamp>) -> Result<(), CoreError> {
    // latest first within a record, so that dedup keeps it
    stamps.sort_by(|a, b| a.target().cmp(&b.target()).then(b.at.cmp(&a.at)));
    stamps.dedup_by(|later, kept| later.target() == kept.target());
    let d = conn.dialect();
    for Stamp {
        table,
        column,
        id,
        at,
    } in stamps
    {
        let sql = format!(
            "UPDATE {table} SET {column} = {p1} WHERE id = {p2} AND ({column} IS NULL OR {column} < {p1})",
            p1 = placeholder(d, 1),
            p2 = placeholder(d, 2),
        );
        conn.execute(&sql, &[SqlValue::Timestamp(at), SqlValue::Uuid(id)])?;
    }
    Ok(())
}

/// The account a contact works for.
fn account_of(conn: &mut dyn Conn, contact: uuid::Uuid) -> Result<Option<uuid::Uuid>, CoreError> {
    let sql = format!(
        "SELECT account_id FROM contact WHERE id = {}",
        placeholder(conn.dialect(), 1)
    );
    Ok(conn
        .query_one(&sql, &[SqlValue::Uuid(contact)])?
        .and_then(|row| row.first().and_then(SqlValue::as_uuid)))
}

/// Moves the follow-up and won dates of the leads and accounts `after` links to.
pub fn touch_linked(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    before: Option<&Record>,
    after: &Record,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if relata_domain::activity::is_follow_up(object.name(), before, after) {
        if let Value::Ref(contact) = after.get("contact_id")
            && !matches!(after.get("account_id"), Value::Ref(_))
            && let Some(account) = account_of(conn, *contact)?
        {
            // contact with a person is contact with their company
            side.stamp("account", pool::LAST_ACTIVITY_AT, account, now);
        }
        for field in object.live_fields() {
            let pooled = field.field_type == FieldType::Lookup
                && field
                    .target
                    .as_ref()
                    .is_some_and(|t| pool::OBJECTS.contains(&t.as_str()));
            if let (true, Value::Ref(id)) = (pooled, after.get(field.name())) {
                let table = field
                    .target
                    .as_ref()
                    .map(|t| t.as_str())
                    .unwrap_or_default();
                side.stamp(table, pool::LAST_ACTIVITY_AT, *id, now);
            }
        }
    }
    if object.name() == "opportunity"
        && text(after, "stage") == Some("closed_won")
        && before.is_none_or(|b| text(b, "stage") != Some("closed_won"))
        && let Value::Ref(account) = after.get("account_id")
    {
        side.stamp("account", pool::LAST_WON_AT, *account, now);
    }
    Ok(())
}
