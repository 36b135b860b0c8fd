//! `Idempotency-Key` bookkeeping: the first request with a key claims it; its response is
//! stored; a retry with the same key and the same request gets the stored response instead of
//! a second write. Keys are per user and kept for [`KEEP_HOURS`].

use chrono::Duration;

use relata_domain::UserId;
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::error::CoreError;

pub const KEEP_HOURS: i64 = 24;
/// A claim not completed within this time is taken to be abandoned (a crashed request).
const ABANDONED_SECS: i64 = 60;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key: run it, then `complete` or `release`.
    New,
    /// Same key and same request, already answered: send this again.
    Replay { status: u16, body: String },
    /// Same key, still running elsewhere.
    InProgress,
    /// Same key, different request.
    Mismatch,
}

impl Core {
    pub async fn claim_idempotency_key(
        &self,
        user: UserId,
        key: String,
        request_hash: String,
    ) -> Result<Claim, CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                let mut del = Sql::new(d);
                del.push("DELETE FROM sys_idempotency WHERE created_at < ");
                del.param(SqlValue::Timestamp(now - Duration::hours(KEEP_HOURS)));
                conn.execute(&del.text, &del.params)?;

                let mut sel = Sql::new(d);
                sel.push("SELECT request_hash, status, body, created_at FROM sys_idempotency WHERE user_id = ");
                sel.param(SqlValue::Uuid(user.0));
                sel.push(" AND key = ");
                sel.param(SqlValue::Text(key.clone()));
                if let Some(row) = conn.query_one(&sel.text, &sel.params)? {
                    if row[0].as_str() != Some(request_hash.as_str()) {
                        return Ok(Claim::Mismatch);
                    }
                    let status = row[1].as_i64().unwrap_or(0);
                    if status != 0 {
                        return Ok(Claim::Replay { status: status as u16, body: row[2].as_str().unwrap_or_default().to_owned() });
                    }
                    let started = row[3].as_timestamp().unwrap_or(now);
                    if now - started < Duration::seconds(ABANDONED_SECS) {
                        return Ok(Claim::InProgress);
                    }
                    let mut upd = Sql::new(d);
                    upd.push("UPDATE sys_idempotency SET created_at = ");
                    upd.param(SqlValue::Timestamp(now));
                    upd.push(" WHERE user_id = ");
                    upd.param(SqlValue::Uuid(user.0));
                    upd.push(" AND key = ");
                    upd.param(SqlValue::Text(key));
                    conn.execute(&upd.text, &upd.params)?;
                    return Ok(Claim::New);
                }
                let mut ins = Sql::new(d);
                ins.push("INSERT INTO sys_idempotency (user_id, key, request_hash, status, body, created_at) VALUES (");
                ins.param(SqlValue::Uuid(user.0));
                ins.push(", ");
                ins.param(SqlValue::Text(key));
                ins.push(", ");
                ins.param(SqlValue::Text(request_hash));
                ins.push(", 0, '', ");
                ins.param(SqlValue::Timestamp(now));
                ins.push(") ON CONFLICT DO NOTHING");
                let inserted = conn.execute(&ins.text, &ins.params)?;
                Ok(if inserted == 1 { Claim::New } else { Claim::InProgress })
            })
            .await
    }

    /// Stores the response of a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        user: UserId,
        key: String,
        status: u16,
        body: String,
    ) -> Result<(), CoreError> {
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_idempotency SET status = ");
                sql.param(SqlValue::Int(i64::from(status)));
                sql.push(", body = ");
                sql.param(SqlValue::Text(body));
                sql.push(" WHERE user_id = ");
                sql.param(SqlValue::Uuid(user.0));
                sql.push(" AND key = ");
                sql.param(SqlValue::Text(key));
                conn.execute(&sql.text, &sql.params)?;
                Ok(())
            })
            .await
    }

    /// Gives a claimed key up (the request failed on our side; a retry may run it again).
    pub async fn release_idempotency_key(
        &self,
        user: UserId,
        key: String,
    ) -> Result<(), CoreError> {
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_idempotency WHERE user_id = ");
                sql.param(SqlValue::Uuid(user.0));
                sql.push(" AND key = ");
                sql.param(SqlValue::Text(key));
                sql.push(" AND status = 0");
                conn.execute(&sql.text, &sql.params)?;
                Ok(())
            })
            .await
    }
}
