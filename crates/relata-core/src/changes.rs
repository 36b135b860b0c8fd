//! The change feed: every committed write, in commit order, as `sys_events` rows with a
//! monotonically increasing sequence. Read by the public `changes` API and (later) by
//! automation and webhooks. Visibility applies: a caller sees events of records they can see.

use serde::Serialize;
use serde_json::Value as Json;

use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::visibility::Visibility;

#[derive(Debug, Clone, Serialize)]
pub struct ChangeEvent {
    pub seq: i64,
    pub object: String,
    pub record_id: String,
    pub kind: String,
    pub actor: Option<String>,
    pub at: String,
    pub changes: Json,
}

impl Core {
    /// Events after `after`, oldest first, at most `limit`.
    pub async fn changes(
        &self,
        actor: &Actor,
        after: i64,
        limit: usize,
        object: Option<String>,
    ) -> Result<Vec<ChangeEvent>, CoreError> {
        let schema = self.schema();
        if let Some(o) = &object {
            self.object(o)?;
        }
        let vis = Visibility::of(actor);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT e.seq, e.object, e.record_id, e.kind, e.actor, e.at, e.changes FROM sys_events e WHERE e.seq > ");
                sql.param(SqlValue::Int(after));
                if let Some(o) = &object {
                    sql.push(" AND e.object = ");
                    sql.param(SqlValue::Text(o.clone()));
                }
                if !matches!(vis, Visibility::All) {
                    // Visible when the record is visible now (purged records are not).
                    sql.push(" AND (");
                    let mut first = true;
                    for obj in schema.objects() {
                        if !first {
                            sql.push(" OR ");
                        }
                        first = false;
                        sql.push(&format!("(e.object = '{0}' AND EXISTS (SELECT 1 FROM {0} r WHERE r.id = e.record_id", obj.name()));
                        vis.push(&mut sql, "r.");
                        sql.push("))");
                    }
                    if first {
                        sql.push("1=0");
                    }
                    sql.push(")");
                }
                sql.push(&format!(" ORDER BY e.seq LIMIT {limit}"));
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok(rows
                    .into_iter()
                    .map(|r| ChangeEvent {
                        seq: r[0].as_i64().unwrap_or_default(),
                        object: r[1].as_str().unwrap_or_default().to_owned(),
                        record_id: r[2].as_uuid().map(|u| u.to_string()).unwrap_or_default(),
                        kind: r[3].as_str().unwrap_or_default().to_owned(),
                        actor: r[4].as_uuid().map(|u| u.to_string()),
                        at: r[5].as_timestamp().map(|t| relata_domain::value::format_datetime(&t)).unwrap_or_default(),
                        changes: match &r[6] {
                            SqlValue::Json(j) => j.clone(),
                            SqlValue::Text(s) => serde_json::from_str(s).unwrap_or(Json::Null),
                            _ => Json::Null,
                        },
                    })
                    .collect())
            })
            .await
    }
}
