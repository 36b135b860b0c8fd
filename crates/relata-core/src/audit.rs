//! The audit log: an append-only record of security-relevant actions — logins, changes to
//! users, roles, teams, permissions, sharing and metadata — with actor, time, source and
//! client address. Entries are written in the same transaction as the change they describe,
//! so an audited change cannot commit without its entry. Only the retention sweep removes
//! rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;

/// Who did it, as the log records it.
#[derive(Debug, Clone)]
pub struct Who {
    pub actor: Option<Uuid>,
    pub source: Source,
    pub client_addr: Option<String>,
}

impl From<&Actor> for Who {
    fn from(a: &Actor) -> Self {
        Who {
            actor: Some(a.user_id.0),
            source: a.source,
            client_addr: a.client_addr.clone(),
        }
    }
}

/// Appends one entry inside the caller's transaction.
pub fn append(
    conn: &mut dyn Conn,
    who: &Who,
    at: DateTime<Utc>,
    action: &str,
    target: Option<(&str, Uuid)>,
    detail: Json,
) -> Result<(), CoreError> {
    conn.execute(
        &format!(
            "INSERT INTO sys_audit_log (at, actor, action, source, client_addr, object, record_id, detail) VALUES ({})",
            placeholders(conn.dialect(), 1, 8)
        ),
        &[
            SqlValue::Timestamp(at),
            who.actor.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
            SqlValue::Text(action.to_owned()),
            SqlValue::Text(who.source.as_str().to_owned()),
            who.client_addr
                .clone()
                .map(SqlValue::Text)
                .unwrap_or(SqlValue::Null),
            target
                .map(|(o, _)| SqlValue::Text(o.to_owned()))
                .unwrap_or(SqlValue::Null),
            target.map(|(_, id)| SqlValue::Uuid(id)).unwrap_or(SqlValue::Null),
            SqlValue::Json(detail),
        ],
    )?;
    Ok(())
}

/// One entry as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: Option<String>,
    pub action: String,
    pub source: String,
    pub client_addr: Option<String>,
    pub object: Option<String>,
    pub record_id: Option<String>,
    pub detail: Json,
}

/// One row of either half of the audit trail, columns in the order both queries select.
fn entry(r: &[SqlValue]) -> AuditEntry {
    AuditEntry {
        seq: r[0].as_i64().unwrap_or_default(),
        at: r[1]
            .as_timestamp()
            .map(|t| relata_domain::value::format_datetime(&t))
            .unwrap_or_default(),
        actor: r[2].as_uuid().map(|u| u.to_string()),
        action: r[3].as_str().unwrap_or_default().to_owned(),
        source: r[4].as_str().unwrap_or_default().to_owned(),
        client_addr: r[5].as_str().map(str::to_owned),
        object: r[6].as_str().map(str::to_owned),
        record_id: r[7].as_uuid().map(|u| u.to_string()),
        detail: match &r[8] {
            SqlValue::Json(j) => j.clone(),
            SqlValue::Text(s) => serde_json::from_str(s).unwrap_or(Json::Null),
            _ => Json::Null,
        },
    }
}

/// Filters of an audit query; all optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<Uuid>,
    /// An action, or a prefix ending in `.` (`user.` for every user action).
    pub action: Option<String>,
    pub object: Option<String>,
    pub record_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries after this sequence number (paging, oldest first).
    pub after: Option<i64>,
    /// Entries before this sequence number, newest first (paging back from the latest, as
    /// the audit page reads them); `after` is then ignored.
    pub before: Option<i64>,
    pub newest_first: bool,
    pub limit: usize,
}

impl Core {
    /// Audit entries matching `q`, oldest first. Needs the view-audit capability.
    pub async fn audit_entries(
        &self,
        actor: &Actor,
        q: AuditQuery,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        actor.require_capability(Capability::ViewAudit)?;
        let limit = q.limit.clamp(1, 1000);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT seq, at, actor, action, source, client_addr, object, record_id, detail FROM sys_audit_log WHERE ");
                if q.newest_first {
                    sql.push("seq < ");
                    sql.param(SqlValue::Int(q.before.unwrap_or(i64::MAX)));
                } else {
                    sql.push("seq > ");
                    sql.param(SqlValue::Int(q.after.unwrap_or(0)));
                }
                if let Some(a) = q.actor {
                    sql.push(" AND actor = ");
                    sql.param(SqlValue::Uuid(a));
                }
                match q.action.as_deref() {
                    Some(prefix) if prefix.ends_with('.') => {
                        sql.push(" AND action >= ");
                        sql.param(SqlValue::Text(prefix.to_owned()));
                        // '/' follows '.' in byte order: the end of the prefix range
                        sql.push(" AND action < ");
                        sql.param(SqlValue::Text(format!("{}/", &prefix[..prefix.len() - 1])));
                    }
                    Some(action) => {
                        sql.push(" AND action = ");
                        sql.param(SqlValue::Text(action.to_owned()));
                    }
                    None => {}
                }
                if let Some(o) = &q.object {
                    sql.push(" AND object = ");
                    sql.param(SqlValue::Text(o.clone()));
                }
                if let Some(r) = q.record_id {
                    sql.push(" AND record_id = ");
                    sql.param(SqlValue::Uuid(r));
                }
                if let Some(t) = q.since {
                    sql.push(" AND at >= ");
                    sql.param(SqlValue::Timestamp(t));
                }
                if let Some(t) = q.until {
                    sql.push(" AND at < ");
                    sql.param(SqlValue::Timestamp(t));
                }
                let order = if q.newest_first { "DESC" } else { "ASC" };
                sql.push(&format!(" ORDER BY seq {order} LIMIT {limit}"));
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(rows.iter().map(|r| entry(r)).collect())
            })
            .await
    }

    /// The record half of the audit trail: every record change (create, update, delete,
    /// restore, purge) from the change feed, with actor, time, source and client address,
    /// oldest first. `action` here is `record.<kind>` (`record.updated`, …). Needs the
    /// view-audit capability; hidden fields are not hidden from auditors.
    pub async fn record_audit_entries(
        &self,
        actor: &Actor,
        q: AuditQuery,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        actor.require_capability(Capability::ViewAudit)?;
        let limit = q.limit.clamp(1, 1000);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT seq, at, actor, kind, source, client_addr, object, record_id, changes FROM sys_events WHERE seq > ");
                sql.param(SqlValue::Int(q.after.unwrap_or(0)));
                if let Some(a) = q.actor {
                    sql.push(" AND actor = ");
                    sql.param(SqlValue::Uuid(a));
                }
                if let Some(kind) = q.action.as_deref().and_then(|a| a.strip_prefix("record.")).filter(|k| !k.is_empty()) {
                    sql.push(" AND kind = ");
                    sql.param(SqlValue::Text(kind.to_owned()));
                }
                if let Some(o) = &q.object {
                    sql.push(" AND object = ");
                    sql.param(SqlValue::Text(o.clone()));
                }
                if let Some(r) = q.record_id {
                    sql.push(" AND record_id = ");
                    sql.param(SqlValue::Uuid(r));
                }
                if let Some(t) = q.since {
                    sql.push(" AND at >= ");
                    sql.param(SqlValue::Timestamp(t));
                }
                if let Some(t) = q.until {
                    sql.push(" AND at < ");
                    sql.param(SqlValue::Timestamp(t));
                }
                sql.push(&format!(" ORDER BY seq LIMIT {limit}"));
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(
                    rows.into_iter()
                        .map(|mut r| {
                            let kind = r[3].as_str().unwrap_or_default().to_owned();
                            r[3] = SqlValue::Text(format!("record.{kind}"));
                            if r[4].is_null() {
                                // written before sources were recorded
                                r[4] = SqlValue::Text("unknown".into());
                            }
                            entry(&r)
                        })
                        .collect(),
                )
            })
            .await
    }

    /// Removes entries older than `keep_days` (the retention setting). Returns how many.
    pub async fn sweep_audit_log(&self, keep_days: u32) -> Result<u64, CoreError> {
        let cutoff = self.clock.now() - chrono::Duration::days(i64::from(keep_days));
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_audit_log WHERE at < ");
                sql.param(SqlValue::Timestamp(cutoff));
                Ok::<_, CoreError>(conn.execute(&sql.text, &sql.params)?)
            })
            .await
    }
}
