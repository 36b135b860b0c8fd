//! Rows that accompany record writes — search terms and change-feed events — collected while
//! records are written and flushed in multi-row statements before the transaction commits.
//! A single create flushes a handful of rows; a bulk call of 5,000 records flushes them in a
//! few dozen statements instead of a hundred thousand.

use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::{Conn, SqlValue};

use crate::error::CoreError;

#[derive(Default)]
pub struct Companions {
    terms: Vec<Vec<SqlValue>>,
    events: Vec<Vec<SqlValue>>,
}

/// A point to roll back to (per-record savepoints in bulk calls).
#[derive(Clone, Copy)]
pub struct Mark {
    terms: usize,
    events: usize,
}

impl Companions {
    pub fn new() -> Self {
        Self::default()
    }

    /// `[term, object, record_id, field, kind]`
    pub fn add_term(&mut self, row: Vec<SqlValue>) {
        self.terms.push(row);
    }

    /// `[object, record_id, kind, actor, at, changes]`
    pub fn add_event(&mut self, row: Vec<SqlValue>) {
        self.events.push(row);
    }

    /// Drops pending terms of `record_id` (and of `field` when given): the caller has just
    /// deleted that record's stored terms and is about to write new ones.
    pub fn forget_terms(&mut self, record_id: uuid::Uuid, field: Option<&str>) {
        self.terms.retain(|row| {
            let same_record = matches!(row.get(2), Some(SqlValue::Uuid(u)) if *u == record_id);
            let same_field =
                field.is_none_or(|f| matches!(row.get(3), Some(SqlValue::Text(t)) if t == f));
            !(same_record && same_field)
        });
    }

    pub fn mark(&self) -> Mark {
        Mark {
            terms: self.terms.len(),
            events: self.events.len(),
        }
    }

    pub fn rollback_to(&mut self, mark: Mark) {
        self.terms.truncate(mark.terms);
        self.events.truncate(mark.events);
    }

    /// Writes everything pending. Events go last, under the change-feed lock, so their
    /// sequence numbers follow commit order and the lock is held only until commit.
    pub fn flush(&mut self, conn: &mut dyn Conn) -> Result<(), CoreError> {
        if !self.terms.is_empty() {
            // In the order of the table's key, consecutive rows land on the same or
            // neighbouring B-tree pages: once the index is larger than the page cache, each
            // page is read and written once per flush instead of once per term.
            self.terms
                .sort_unstable_by(|a, b| term_key(a).cmp(&term_key(b)));
            insert_rows(
                conn,
                "sys_search",
                &["term", "object", "record_id", "field", "kind"],
                &self.terms,
                OnDuplicate::Skip,
            )?;
            self.terms.clear();
        }
        if !self.events.is_empty() {
            conn.lock_change_feed()?;
            insert_rows(
                conn,
                "sys_events",
                &["object", "record_id", "kind", "actor", "at", "changes"],
                &self.events,
                OnDuplicate::Fail,
            )?;
            self.events.clear();
        }
        Ok(())
    }
}

/// The primary key of a `sys_search` row: `(term, object, record_id, field)`, compared as both
/// databases compare it (bytewise text, bytewise UUID).
fn term_key(
    row: &[SqlValue],
) -> (
    Option<&str>,
    Option<&str>,
    Option<&uuid::Uuid>,
    Option<&str>,
) {
    let text = |i: usize| match row.get(i) {
        Some(SqlValue::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let id = match row.get(2) {
        Some(SqlValue::Uuid(u)) => Some(u),
        _ => None,
    };
    (text(0), text(1), id, text(3))
}
