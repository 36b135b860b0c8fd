//! Rows that accompany record writes — dates of linked records (follow-ups), search-index
//! changes and change-feed events — collected while records are written and applied in few
//! statements before the transaction commits.
//! A single create flushes a handful of rows; a bulk call of 5,000 records flushes them in a
//! few dozen statements instead of a hundred thousand.

use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::search_index::{self, IndexOp};
use relata_store::{Conn, SqlValue};

use crate::error::CoreError;
use crate::records::follow_up::{self, Stamp};

#[derive(Default)]
pub struct Companions {
    stamps: Vec<Stamp>,
    index: Vec<IndexOp>,
    events: Vec<Vec<SqlValue>>,
}

/// A point to roll back to (per-record savepoints in bulk calls).
#[derive(Clone, Copy)]
pub struct Mark {
    stamps: usize,
    index: usize,
    events: usize,
}

impl Companions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a forward-only date of a linked record (written once per record, at flush).
    pub fn stamp(
        &mut self,
        table: &str,
        column: &'static str,
        id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.stamps.push(Stamp {
            table: table.to_owned(),
            column,
            id,
            at,
        });
    }

    /// Queues a change to the search index; for each record the last one queued counts.
    pub fn index(&mut self, op: IndexOp) {
        self.index.push(op);
    }

    /// `[object, record_id, kind, actor, at, changes, source, client_addr, caused_by]`
    pub fn add_event(&mut self, row: Vec<SqlValue>) {
        self.events.push(row);
    }

    pub fn mark(&self) -> Mark {
        Mark {
            stamps: self.stamps.len(),
            index: self.index.len(),
            events: self.events.len(),
        }
    }

    pub fn rollback_to(&mut self, mark: Mark) {
        self.stamps.truncate(mark.stamps);
        self.index.truncate(mark.index);
        self.events.truncate(mark.events);
    }

    /// Writes everything pending. Stamps go first, in one order for every transaction (see
    /// `follow_up`). Events go last, under the change-feed lock, so their sequence numbers
    /// follow commit order and the lock is held only until commit.
    pub fn flush(&mut self, conn: &mut dyn Conn) -> Result<(), CoreError> {
        if !self.stamps.is_empty() {
            follow_up::apply(conn, std::mem::take(&mut self.stamps))?;
        }
        if !self.index.is_empty() {
            search_index::apply(conn, std::mem::take(&mut self.index))?;
        }
        if !self.events.is_empty() {
            conn.lock_change_feed()?;
            insert_rows(
                conn,
                "sys_events",
                &[
                    "object",
                    "record_id",
                    "kind",
                    "actor",
                    "at",
                    "changes",
                    "source",
                    "client_addr",
                    "caused_by",
                ],
                &self.events,
                OnDuplicate::Fail,
            )?;
            self.events.clear();
        }
        Ok(())
    }
}
