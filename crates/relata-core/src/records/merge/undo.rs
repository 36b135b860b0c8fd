//! Undoing a merge: the merged records come back from the recycle bin with the unique values
//! they gave up, the survivor's fields the merge changed go back — unless edited since —, and
//! the related records and shares it moved go back to where they were, unless moved since.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::{Record, Value};
use relata_store::{Conn, Sql, SqlValue};

use super::{Access, MergeInfo};
use crate::records::{Bin, read, with_companions, write};
use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError, fields};

/// What an undo did.
#[derive(Debug)]
pub struct UndoOutcome {
    pub object: std::sync::Arc<relata_domain::ObjectDef>,
    /// The surviving record as it is now.
    pub record: Record,
    /// Fields of it the undo left as they were: edited since the merge, not the undoer's to
    /// change, or holding a value no longer allowed.
    pub kept: Vec<String>,
}

const COLUMNS: &str = "id, object, survivor_id, merged_ids, actor, at, undone_at, changes";

fn info(row: &[SqlValue], undo_days: u32) -> Option<(MergeInfo, Json)> {
    let at = row[5].as_timestamp()?;
    let merged = crate::records::json_of(&row[3])
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default();
    Some((
        MergeInfo {
            id: row[0].as_uuid()?,
            object: row[1].as_str()?.to_owned(),
            survivor: row[2].as_uuid()?,
            merged,
            actor: row[4].as_uuid(),
            at,
            undone_at: row[6].as_timestamp(),
            undo_until: at + chrono::Duration::days(i64::from(undo_days)),
        },
        crate::records::json_of(&row[7]),
    ))
}

/// Merges into `survivor` since `since`, not undone, newest first.
pub(super) fn merges_into(
    conn: &mut dyn Conn,
    object: &str,
    survivor: Uuid,
    since: DateTime<Utc>,
    undo_days: u32,
) -> Result<Vec<MergeInfo>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_merges WHERE object = "));
    sql.param(SqlValue::Text(object.to_owned()));
    sql.push(" AND survivor_id = ");
    sql.param(SqlValue::Uuid(survivor));
    sql.push(" AND at > ");
    sql.param(SqlValue::Timestamp(since));
    sql.push(" AND undone_at IS NULL ORDER BY at DESC, id DESC LIMIT 20");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| info(r, undo_days).map(|(i, _)| i))
        .collect())
}

fn uuid_at(v: &Json, key: &str) -> Option<Uuid> {
    v[key].as_str().and_then(|s| Uuid::parse_str(s).ok())
}

impl Core {
    /// Undoes a merge within the undo window. Answers the survivor as it is afterwards.
    pub async fn undo_merge(
        &self,
        actor: &Actor,
        merge_id: Uuid,
    ) -> Result<UndoOutcome, CoreError> {
        let days = self.settings.merge_undo_days;
        let found = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT {COLUMNS} FROM sys_merges WHERE id = "));
                sql.param(SqlValue::Uuid(merge_id));
                Ok::<_, CoreError>(conn.query_one(&sql.text, &sql.params)?)
            })
            .await?;
        let not_found = move || CoreError::not_found(format!("merge {merge_id}"));
        let (merge, _) = found
            .as_deref()
            .and_then(|r| info(r, days))
            .ok_or_else(not_found)?;
        let object = self.object(&merge.object).map_err(|_| not_found())?;
        // one who may not see the survivor does not learn the merge exists, nor its state
        let read_vis = self
            .visibility(actor, &object, Operation::Read)
            .map_err(|_| not_found())?;
        let survivor_seen = {
            let (obj, vis, survivor) = (object.clone(), read_vis.clone(), merge.survivor);
            self.store
                .read(move |conn| read::get(conn, &obj, survivor, &vis, Bin::Any))
                .await?
                .is_some()
        };
        if !survivor_seen {
            return Err(not_found());
        }
        let access = Access {
            edit: self.visibility(actor, &object, Operation::Edit)?,
            full: self.visibility(actor, &object, Operation::Delete)?,
            read: read_vis,
        };
        let now = self.clock.now();
        if merge.undone_at.is_some() {
            return Err(CoreError::Conflict {
                code: "merge_undone",
                message: "this merge has been undone already".into(),
            });
        }
        if now > merge.undo_until {
            return Err(CoreError::Conflict {
                code: "undo_window_passed",
                message: format!(
                    "a merge can be undone for {days} days; this one was on {}",
                    relata_domain::value::format_datetime(&merge.at)
                ),
            });
        }
        let (writer, obj, schema) = (actor.clone(), object.clone(), self.schema());
        let ctx = self.parse_context();
        let (mut record, kept) = self
            .store
            .write(move |conn| {
                // Claim the undo first: of two racing undos (PostgreSQL runs writes side by
                // side) one marks the row and the other finds nothing left to mark.
                let mut claim = Sql::new(conn.dialect());
                claim.push("UPDATE sys_merges SET undone_at = ");
                claim.param(SqlValue::Timestamp(now));
                claim.push(", undone_by = ");
                claim.param(SqlValue::Uuid(writer.user_id.0));
                claim.push(" WHERE undone_at IS NULL AND id = ");
                claim.param(SqlValue::Uuid(merge_id));
                if conn.execute(&claim.text, &claim.params)? == 0 {
                    return Err(CoreError::Conflict {
                        code: "merge_undone",
                        message: "this merge has been undone already".into(),
                    });
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT {COLUMNS} FROM sys_merges WHERE id = "));
                sql.param(SqlValue::Uuid(merge_id));
                let row = conn.query_one(&sql.text, &sql.params)?.ok_or_else(not_found)?;
                let (merge, changes) = info(&row, days).ok_or_else(not_found)?;
                let survivor = access.check(conn, &obj, merge.survivor, Bin::Live, false, true)?;
                let mut merged = Vec::new();
                for id in &merge.merged {
                    let record = access.check(conn, &obj, *id, Bin::Any, true, true).map_err(|e| match e {
                        CoreError::NotFound { .. } => CoreError::Conflict {
                            code: "merged_record_gone",
                            message: format!("{} {id} was purged from the recycle bin since the merge", obj.name()),
                        },
                        other => other,
                    })?;
                    merged.push(record);
                }
                with_companions(conn, |conn, side| {
                    let (actor, now) = (&writer, now);
                    // the survivor's fields first: a unique value goes back to its giver after
                    let mut back = BTreeMap::new();
                    // fields left as they are: edited since the merge (the edit stays), not
                    // the undoer's to change, or holding a value no longer allowed
                    let mut kept = Vec::new();
                    if let Some(fields) = changes["fields"].as_object() {
                        for (name, change) in fields {
                            let Some(field) = obj.field(name) else { continue };
                            if survivor.get(name).to_json() != change["new"]
                                || !fields::editable(actor, &obj, name)
                            {
                                kept.push(name.clone());
                                continue;
                            }
                            let old = if change["old"].is_null() {
                                Value::Null
                            } else {
                                match Value::parse(field, &change["old"], &ctx) {
                                    Ok(v) => v,
                                    Err(_) => {
                                        kept.push(name.clone());
                                        continue;
                                    }
                                }
                            };
                            back.insert(name.clone(), old);
                        }
                    }
                    let survivor =
                        write::update(conn, side, &obj, actor, now, survivor, back)?;
                    for record in merged {
                        let Some(id) = record.id() else { continue };
                        let in_bin = read::get(conn, &obj, id, &Visibility::All, Bin::Deleted)?.is_some();
                        let record = if in_bin {
                            write::set_deleted(conn, side, &obj, actor, now, &record, false)?
                        } else {
                            record
                        };
                        let mut given_back = BTreeMap::new();
                        for c in changes["cleared"].as_array().into_iter().flatten() {
                            let (Some(rid), Some(name)) = (uuid_at(c, "record_id"), c["field"].as_str()) else { continue };
                            let Some(field) = obj.field(name) else { continue };
                            if rid != id
                                || !record.get(name).is_null()
                                || survivor.get(name).to_json() == c["value"]
                                || !fields::editable(actor, &obj, name)
                            {
                                continue;
                            }
                            if let Ok(v) = Value::parse(field, &c["value"], &ctx) {
                                given_back.insert(name.to_owned(), v);
                            }
                        }
                        write::update(conn, side, &obj, actor, now, record, given_back)?;
                    }
                    for r in changes["reparented"].as_array().into_iter().flatten() {
                        let (Some(child), Some(field), Some(id), Some(from)) = (
                            r["object"].as_str().and_then(|o| schema.object(o)),
                            r["field"].as_str(),
                            uuid_at(r, "record_id"),
                            uuid_at(r, "from"),
                        ) else {
                            continue;
                        };
                        let Some(current) = read::get(conn, child, id, &Visibility::All, Bin::Any)? else {
                            continue; // purged since
                        };
                        if current.get(field) != &Value::Ref(merge.survivor) {
                            continue; // moved elsewhere since
                        }
                        write::update(conn, side, child, actor, now, current, BTreeMap::from([(field.to_owned(), Value::Ref(from))]))?;
                    }
                    for s in changes["raised"].as_array().into_iter().flatten() {
                        let (Some(id), Some(access)) = (uuid_at(s, "id"), s["access"].as_str()) else { continue };
                        let mut sql = Sql::new(conn.dialect());
                        sql.push("UPDATE sys_record_shares SET access = ");
                        sql.param(SqlValue::Text(access.to_owned()));
                        sql.push(" WHERE id = ");
                        sql.param(SqlValue::Uuid(id));
                        conn.execute(&sql.text, &sql.params)?;
                    }
                    for a in changes["attachments"].as_array().into_iter().flatten() {
                        let (Some(id), Some(from)) = (uuid_at(a, "id"), uuid_at(a, "from")) else { continue };
                        let mut sql = Sql::new(conn.dialect());
                        sql.push("UPDATE sys_attachments SET record_id = ");
                        sql.param(SqlValue::Uuid(from));
                        sql.push(" WHERE id = ");
                        sql.param(SqlValue::Uuid(id));
                        sql.push(" AND record_id = ");
                        sql.param(SqlValue::Uuid(merge.survivor));
                        conn.execute(&sql.text, &sql.params)?;
                    }
                    for m in changes["memberships"].as_array().into_iter().flatten() {
                        let Some((table, set, _, _)) = super::apply::MEMBERSHIPS
                            .iter()
                            .find(|(t, ..)| Some(*t) == m["table"].as_str())
                        else {
                            continue;
                        };
                        let Some(set_id) = uuid_at(m, "set_id") else { continue };
                        let mut sql = Sql::new(conn.dialect());
                        sql.push(&format!("DELETE FROM {table} WHERE {set} = "));
                        sql.param(SqlValue::Uuid(set_id));
                        sql.push(" AND record_id = ");
                        sql.param(SqlValue::Uuid(merge.survivor));
                        conn.execute(&sql.text, &sql.params)?;
                    }
                    for s in changes["shares"].as_array().into_iter().flatten() {
                        let (Some(id), Some(from)) = (uuid_at(s, "id"), uuid_at(s, "from")) else { continue };
                        let mut sql = Sql::new(conn.dialect());
                        sql.push("UPDATE sys_record_shares SET record_id = ");
                        sql.param(SqlValue::Uuid(from));
                        sql.push(" WHERE id = ");
                        sql.param(SqlValue::Uuid(id));
                        sql.push(" AND record_id = ");
                        sql.param(SqlValue::Uuid(merge.survivor));
                        conn.execute(&sql.text, &sql.params)?;
                    }
                    crate::audit::append(
                        conn,
                        &actor.into(),
                        now,
                        "record.merge_undo",
                        Some((obj.name(), merge.survivor)),
                        json!({"merge_id": merge_id.to_string(), "restored": super::json_array_of_ids(&merge.merged)}),
                    )?;
                    Ok((survivor, kept))
                })
            })
            .await?;
        fields::redact(actor, &object, &mut record);
        Ok(UndoOutcome {
            object,
            record,
            kept,
        })
    }
}
