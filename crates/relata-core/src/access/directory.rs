//! The user directory: names of users for anyone signed in, so owners and user-lookup fields
//! can be shown by name and picked by typing. Only what a colleague would see on an email
//! header — name and email — never roles, permissions or login state.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// A user as the directory shows them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserBrief {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub active: bool,
}

/// The most ids one call resolves; a page never shows more.
const MAX_IDS: usize = 500;

impl Core {
    /// Active users whose name or email contains `query` (ignoring ASCII case), by name.
    pub async fn user_directory(
        &self,
        _actor: &Actor,
        query: &str,
        limit: usize,
    ) -> Result<Vec<UserBrief>, CoreError> {
        // a substring test, not LIKE: '_' and '%' in a name or email are plain characters
        let needle = query.trim().to_lowercase();
        let limit = limit.clamp(1, 100);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, name, email, active FROM sys_users WHERE active = ");
                sql.param(SqlValue::Bool(true));
                let d = conn.dialect();
                let p = sql.bind(SqlValue::Text(needle));
                sql.push(&format!(
                    " AND ({} > 0 OR {} > 0) ORDER BY name, id LIMIT {limit}",
                    d.strpos("LOWER(name)", &p),
                    d.strpos("LOWER(email)", &p)
                ));
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| brief(r))
                        .collect(),
                )
            })
            .await
    }

    /// The active user with this email, ignoring case.
    pub async fn active_user_by_email(
        &self,
        _actor: &Actor,
        email: &str,
    ) -> Result<Option<UserBrief>, CoreError> {
        let email = email.trim().to_lowercase();
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, name, email, active FROM sys_users WHERE active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND LOWER(email) = ");
                sql.param(SqlValue::Text(email));
                sql.push(" ORDER BY id LIMIT 1");
                Ok::<_, CoreError>(
                    conn.query_one(&sql.text, &sql.params)?
                        .and_then(|r| brief(&r)),
                )
            })
            .await
    }

    /// Names of the given users (deactivated ones included: they still own records).
    pub async fn user_names(&self, ids: Vec<Uuid>) -> Result<HashMap<Uuid, UserBrief>, CoreError> {
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        ids.truncate(MAX_IDS);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, name, email, active FROM sys_users WHERE id IN (");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.param(SqlValue::Uuid(*id));
                }
                sql.push(")");
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| brief(r))
                        .map(|b| (b.id, b))
                        .collect(),
                )
            })
            .await
    }
}

fn brief(r: &[SqlValue]) -> Option<UserBrief> {
    Some(UserBrief {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        email: r[2].as_str().unwrap_or_default().to_owned(),
        active: r[3].as_bool().unwrap_or(true),
    })
}
