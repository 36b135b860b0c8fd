//! Mail on the timeline: a record's own mail, and on an account's timeline also the mail of
//! its contacts and opportunities (each mail records its account when it is written).

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use relata_domain::meta::ObjectDef;
use relata_store::{Conn, Sql, SqlValue};

use super::{COLUMNS, decode};
use crate::timeline::{Position, TimelineItem, TimelineQuery, TimelineSource};
use crate::{Actor, Core, CoreError};

/// The kind of a mail's item.
pub const KIND: &str = "email";

pub(crate) struct OnTimeline;

struct Query {
    object: String,
    /// On an account: which of its contacts' (and others') mail the caller may see.
    readable: Option<super::ReadableMail>,
}

impl TimelineSource for OnTimeline {
    fn plan(
        &self,
        core: &Core,
        actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError> {
        // whoever sees the record sees its own mail (the subject's visibility was checked);
        // an account's timeline also shows its records' mail, each as its record allows
        Ok(vec![Box::new(Query {
            object: subject.name().to_owned(),
            readable: (subject.name() == "account").then(|| super::ReadableMail::of(core, actor)),
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
        sql.push(&format!("SELECT {COLUMNS} FROM sys_emails WHERE "));
        if self.object == "account" {
            sql.push("account_id = ");
        } else {
            sql.push("object = ");
            sql.param(SqlValue::Text(self.object.clone()));
            sql.push(" AND record_id = ");
        }
        sql.param(SqlValue::Uuid(subject));
        Position::push_page(&mut sql, "created_at", before, limit);
        let mut mails = Vec::new();
        for row in conn.query(&sql.text, &sql.params)? {
            let Some(mail) = decode(&row) else { continue };
            if match &self.readable {
                Some(r) => r.keeps(conn, &mail)?,
                None => true,
            } {
                mails.push(mail);
            }
        }
        Ok(mails
            .into_iter()
            .map(|e| TimelineItem {
                at: e.created_at,
                id: e.id,
                kind: KIND.into(),
                object: e.object.clone().unwrap_or_default(),
                record_id: e.record_id.unwrap_or(subject),
                title: e.subject.clone(),
                actor: e.sent_by,
                detail: json!({
                    "email_id": e.id.to_string(),
                    "direction": e.direction,
                    "status": e.status,
                    "from": e.from_address,
                    "to": e.to_address,
                    "open_count": e.open_count,
                    "error": e.error,
                    "bounce_reason": e.bounce_reason,
                    "click_count": e.click_count,
                    "thread_id": e.thread_id.to_string(),
                }),
            })
            .collect())
    }
}
