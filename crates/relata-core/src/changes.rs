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
        // Per object the caller may read: its visibility and the fields they may read (an
        // allow-list: an event may name fields archived since, whose hiding no longer shows)
        let readable: Vec<(String, Visibility, Vec<String>)> = schema
            .objects()
            .filter(|o| object.as_ref().is_none_or(|name| name == o.name()))
            .filter(|o| actor.may(o.name(), relata_domain::access::Operation::Read))
            .map(|o| {
                let vis = self.visibility(actor, o, relata_domain::access::Operation::Read)?;
                let fields = o
                    .live_fields()
                    .filter(|f| crate::fields::readable(actor, o, f.name()))
                    .map(|f| f.name().to_owned())
                    .collect();
                Ok((o.name().to_owned(), vis, fields))
            })
            .collect::<Result<_, CoreError>>()?;
        let everything = actor.access.superuser;
        let allowed: std::collections::HashMap<String, std::collections::HashSet<String>> =
            readable
                .iter()
                .map(|(o, _, f)| (o.clone(), f.iter().cloned().collect()))
                .collect();
        let mut events = self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT e.seq, e.object, e.record_id, e.kind, e.actor, e.at, e.changes FROM sys_events e WHERE e.seq > ");
                sql.param(SqlValue::Int(after));
                if let Some(o) = &object {
                    sql.push(" AND e.object = ");
                    sql.param(SqlValue::Text(o.clone()));
                }
                if !everything {
                    // Visible when the record is visible now (purged records are not).
                    sql.push(" AND (");
                    let mut first = true;
                    for (name, vis, _) in &readable {
                        if !first {
                            sql.push(" OR ");
                        }
                        first = false;
                        sql.push(&format!("(e.object = '{name}' AND EXISTS (SELECT 1 FROM {name} r WHERE r.id = e.record_id"));
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
                    .collect::<Vec<ChangeEvent>>())
                    as Result<Vec<ChangeEvent>, CoreError>
            })
            .await?;
        if !everything {
            for event in &mut events {
                if let (Some(keep), Json::Object(map)) =
                    (allowed.get(&event.object), &mut event.changes)
                {
                    map.retain(|k, _| keep.contains(k));
                }
            }
        }
        Ok(events)
    }
}

/// The newest event of the change feed (0 when it is empty).
pub(crate) fn head_seq(conn: &mut dyn relata_store::Conn) -> Result<i64, CoreError> {
    Ok(conn
        .query_one("SELECT COALESCE(MAX(seq), 0) FROM sys_events", &[])?
        .and_then(|r| r[0].as_i64())
        .unwrap_or(0))
}
