//! Rows that accompany record writes — search-index changes and change-feed events — collected
//! while records are written and applied in few statements before the transaction commits.
//! A single create flushes a handful of rows; a bulk call of 5,000 records flushes them in a
//! few dozen statements instead of a hundred thousand.

use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::search_index::{self, IndexOp};
use relata_store::{Conn, SqlValue};

use crate::error::CoreError;

#[derive(Default)]
pub struct Companions {
    index: Vec<IndexOp>,
    events: Vec<Vec<SqlValue>>,
}

/// A point to roll back to (per-record savepoints in bulk calls).
#[derive(Clone, Copy)]
pub struct Mark {
    index: usize,
    events: usize,
}

impl Companions {
    pub fn new() -> Self {
        Self::default()
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
            index: self.index.len(),
            events: self.events.len(),
        }
    }

    pub fn rollback_to(&mut self, mark: Mark) {
        self.index.truncate(mark.index);
        self.events.truncate(mark.events);
    }

    /// Writes everything pending. Events go last, under the change-feed lock, so their
    /// sequence numbers follow commit order and the lock is held only until commit.
    pub fn flush(&mut self, conn: &mut dyn Conn) -> Result<(), CoreError> {
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
