//! Record visibility, compiled into SQL (DESIGN principle 6: security in the query, not after
//! it). Every read path — get, list, count, search, export, change feed — appends
//! [`Visibility::push`] to its WHERE clause; nothing is filtered in memory afterwards.
//!
//! Today: administrators see everything, everyone else sees the records they own. Roles,
//! teams and sharing rules extend [`Visibility`] with more arms, without touching the callers.

use relata_domain::UserId;
use relata_store::{Sql, SqlValue};

use crate::context::Actor;

#[derive(Debug, Clone)]
pub enum Visibility {
    All,
    OwnedBy(UserId),
}

impl Visibility {
    pub fn of(actor: &Actor) -> Self {
        if actor.is_admin {
            Visibility::All
        } else {
            Visibility::OwnedBy(actor.user_id)
        }
    }

    /// Appends ` AND <predicate>` for rows of the table aliased `alias` (e.g. `t.`).
    pub fn push(&self, sql: &mut Sql, alias: &str) {
        match self {
            Visibility::All => {}
            Visibility::OwnedBy(user) => {
                sql.push(&format!(" AND {alias}owner_id = "));
                sql.param(SqlValue::Uuid(user.0));
            }
        }
    }
}
