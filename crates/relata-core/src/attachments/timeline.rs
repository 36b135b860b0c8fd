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
        Position::push_page(&mut sql, "created_at", before, limit);
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
