//! Attachments on the timeline of their record: the first module to use the timeline's
//! registration hook (`Core::register_timeline_source`), as emails, tickets and payments will.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use relata_domain::meta::ObjectDef;
use relata_store::{Conn, Sql, SqlValue};

use super::{COLUMNS, decode};
use crate::timeline::{Position, TimelineItem, TimelineQuery, TimelineSource};
use crate::{Actor, Core, CoreError};

/// The kind of an attachment's item.
pub const KIND: &str = "attachment";

pub(crate) struct OnTimeline;

struct Query {
    object: String,
}

impl TimelineSource for OnTimeline {
    fn plan(
        &self,
        _core: &Core,
        _actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError> {
        // whoever sees the record sees its files: the subject's visibility was checked
        Ok(vec![Box::new(Query {
            object: subject.name().to_owned(),
        })])
    }
}

impl TimelineQuery for Query {
    fn kind(&self) -> &str {
        KIND
    }

    fn read(
        &self,
        conn: &mut dyn Conn,
        subject: Uuid,
        before: Option<Position>,
        limit: usize,
    ) -> Result<Vec<TimelineItem>, CoreError> {
        let mut sql = Sql::new(conn.dialect());
        sql.push(&format!(
            "SELECT {COLUMNS} FROM sys_attachments WHERE object = "
        ));
        sql.param(SqlValue::Text(self.object.clone()));
        sql.push(" AND record_id = ");
        sql.param(SqlValue::Uuid(subject));
        if let Some(b) = before {
            let a1 = sql.bind(SqlValue::Timestamp(b.at));
            let a2 = sql.bind(SqlValue::Timestamp(b.at));
            let id = sql.bind(SqlValue::Uuid(b.id));
            sql.push(&format!(
                " AND (created_at < {a1} OR (created_at = {a2} AND id < {id}))"
            ));
        }
        sql.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
        Ok(conn
            .query(&sql.text, &sql.params)?
            .iter()
            .filter_map(|r| decode(r))
            .map(|a| TimelineItem {
                at: a.created_at,
                id: a.id,
                kind: KIND.into(),
                object: a.object.clone(),
                record_id: a.record_id,
                title: a.file_name.clone(),
                actor: a.created_by,
                detail: json!({
                    "attachment_id": a.id.to_string(),
                    "content_type": a.content_type,
                    "bytes": a.bytes,
                }),
            })
            .collect())
    }
}
