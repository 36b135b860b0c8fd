//! The steps of one merge, in one write transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_domain::dedupe::merge::default_sources;
use relata_domain::ids::uuid_v7_at;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef, Schema};
use relata_domain::{Record, Value};
use relata_store::ddl::table_name;
use relata_store::dialect::placeholders;
use relata_store::{Conn, Sql, SqlValue};

use super::{Access, MergeOutcome, MergeRequest, json_array_of_ids};
use crate::records::companions::Companions;
use crate::records::{Bin, check_version, read, with_companions, write};
use crate::visibility::Visibility;
use crate::visibility::push_in_list;
use crate::{Actor, CoreError};

/// What a merge changed beyond the survivor's row, kept for its undo (`sys_merges.changes`).
/// Where a record belongs to a set (a tag, a static list): table, set column, and who added
/// it when.
pub(super) const MEMBERSHIPS: [(&str, &str, &str, &str); 2] = [
    ("sys_record_tags", "tag_id", "tagged_by", "tagged_at"),
    ("sys_list_members", "list_id", "added_by", "added_at"),
];

#[derive(Default)]
pub(super) struct Ledger {
    /// Survivor field → `{old, new}`.
    pub fields: Map<String, Json>,
    /// Unique values a merged record gave up for the survivor: `{record_id, field, value}`.
    pub cleared: Vec<Json>,
    /// Related records re-pointed: `{object, field, record_id, from}`.
    pub reparented: Vec<Json>,
    /// Shares moved to the survivor: `{id, from}`.
    pub shares: Vec<Json>,
    /// The survivor's shares raised to the access a merged record's share gave: `{id, access}`
    /// (the access before).
    pub raised: Vec<Json>,
    /// Attachments moved to the survivor: `{id, from}`.
    pub attachments: Vec<Json>,
    /// Tags and static-list memberships the survivor took over from merged records:
    /// `{table, set_id}` (the merged records keep theirs, in the bin).
    pub memberships: Vec<Json>,
}

impl Ledger {
    fn to_json(&self) -> Json {
        json!({
            "fields": self.fields,
            "cleared": self.cleared,
            "reparented": self.reparented,
            "shares": self.shares,
            "raised": self.raised,
            "attachments": self.attachments,
            "memberships": self.memberships,
        })
    }
}

pub(super) struct Merge {
    pub object: Arc<ObjectDef>,
    pub schema: Arc<Schema>,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub survivor: Uuid,
    /// The fields whose value is chosen.
    pub fields: Vec<FieldDef>,
    pub req: MergeRequest,
    pub access: Access,
    pub undo_days: u32,
}

impl Merge {
    pub(super) fn run(self, conn: &mut dyn Conn) -> Result<MergeOutcome, CoreError> {
        let object = &*self.object;
        let survivor = self
            .access
            .check(conn, object, self.survivor, Bin::Live, false, true)?;
        check_version(&survivor, self.req.expected_version)?;
        let mut records = vec![survivor];
        for id in &self.req.records {
            records.push(
                self.access
                    .check(conn, object, *id, Bin::Live, true, true)?,
            );
        }
        let merged = self.req.records.clone();
        let fields: Vec<&FieldDef> = self.fields.iter().collect();
        let mut sources = default_sources(object, &records, &fields, self.req.strategy);
        for (field, id) in &self.req.values {
            if let Some(i) = records.iter().position(|r| r.id() == Some(*id)) {
                sources.insert(field.clone(), i);
            }
        }
        with_companions(conn, |conn, side| {
            let mut ledger = Ledger::default();
            let changes = self.chosen_values(&records, &sources, &merged);
            self.free_unique_values(conn, side, &mut records, &sources, &changes, &mut ledger)?;
            let before = records[0].clone();
            let record = write::update(
                conn,
                side,
                object,
                &self.actor,
                self.now,
                before.clone(),
                changes.clone(),
            )?;
            for (name, value) in &changes {
                ledger.fields.insert(
                    name.clone(),
                    json!({"old": before.get(name).to_json(), "new": value.to_json()}),
                );
            }
            let reparented = self.reparent(conn, side, &merged, &mut ledger)?;
            let shares_moved = self.move_shares(conn, &merged, &mut ledger)?;
            self.move_attachments(conn, &merged, &mut ledger)?;
            self.copy_memberships(conn, &merged, &mut ledger)?;
            for loser in &records[1..] {
                write::set_deleted(conn, side, object, &self.actor, self.now, loser, true)?;
            }
            let merge_id = uuid_v7_at(self.now);
            conn.execute(
                &format!(
                    "INSERT INTO sys_merges (id, object, survivor_id, merged_ids, actor, at, changes) VALUES ({})",
                    placeholders(conn.dialect(), 1, 7)
                ),
                &[
                    SqlValue::Uuid(merge_id),
                    SqlValue::Text(object.name().to_owned()),
                    SqlValue::Uuid(self.survivor),
                    SqlValue::Json(json_array_of_ids(&merged)),
                    SqlValue::Uuid(self.actor.user_id.0),
                    SqlValue::Timestamp(self.now),
                    SqlValue::Json(ledger.to_json()),
                ],
            )?;
            crate::audit::append(
                conn,
                &(&self.actor).into(),
                self.now,
                "record.merge",
                Some((object.name(), self.survivor)),
                json!({
                    "merge_id": merge_id.to_string(),
                    "merged": json_array_of_ids(&merged),
                    "fields": changes.keys().collect::<Vec<_>>(),
                    "reparented": reparented,
                    "shares_moved": shares_moved,
                }),
            )?;
            Ok(MergeOutcome {
                merge_id,
                record,
                merged: merged.clone(),
                reparented,
                shares_moved,
                undo_until: self.now + chrono::Duration::days(i64::from(self.undo_days)),
            })
        })
    }

    /// The survivor's new values: each chosen field's value from its source record, where
    /// it differs. A lookup to this object never ends pointing at the survivor itself or at
    /// a record merged away.
    fn chosen_values(
        &self,
        records: &[Record],
        sources: &BTreeMap<String, usize>,
        merged: &[Uuid],
    ) -> BTreeMap<String, Value> {
        let mut changes = BTreeMap::new();
        for f in &self.fields {
            let i = sources.get(f.name()).copied().unwrap_or(0);
            let mut value = records[i].get(f.name()).clone();
            let self_lookup = f.field_type == FieldType::Lookup
                && f.target
                    .as_ref()
                    .is_some_and(|t| t.as_str() == self.object.name());
            if self_lookup
                && matches!(value, Value::Ref(u) if u == self.survivor || merged.contains(&u))
            {
                value = Value::Null;
            }
            if &value != records[0].get(f.name()) {
                changes.insert(f.name().to_owned(), value);
            }
        }
        changes
    }

    /// A unique value (an external id…) the survivor takes from a merged record: that record
    /// gives it up first, since records in the recycle bin keep theirs.
    fn free_unique_values(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        records: &mut [Record],
        sources: &BTreeMap<String, usize>,
        changes: &BTreeMap<String, Value>,
        ledger: &mut Ledger,
    ) -> Result<(), CoreError> {
        for (name, value) in changes {
            let unique = self.object.field(name).is_some_and(|f| f.unique);
            let i = sources.get(name).copied().unwrap_or(0);
            if !unique || value.is_null() || i == 0 {
                continue;
            }
            let giver = records[i].clone();
            let id = giver.id();
            records[i] = write::update(
                conn,
                side,
                &self.object,
                &self.actor,
                self.now,
                giver,
                BTreeMap::from([(name.clone(), Value::Null)]),
            )?;
            ledger.cleared.push(json!({
                "record_id": id.map(|u| u.to_string()),
                "field": name,
                "value": value.to_json(),
            }));
        }
        Ok(())
    }

    /// Points every record of any object that points at a merged record at the survivor:
    /// an account's contacts, opportunities, tasks and notes, a custom object's lookups, and
    /// records in the recycle bin too (so that restoring one later finds its parent).
    fn reparent(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        merged: &[Uuid],
        ledger: &mut Ledger,
    ) -> Result<usize, CoreError> {
        let mut count = 0;
        for child in self.schema.objects() {
            let vias: Vec<&FieldDef> = child
                .live_fields()
                .filter(|f| {
                    f.field_type == FieldType::Lookup
                        && f.target
                            .as_ref()
                            .is_some_and(|t| t.as_str() == self.object.name())
                })
                .collect();
            for via in vias {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT id, {} FROM {} WHERE {}",
                    via.name(),
                    table_name(child),
                    via.name()
                ));
                push_in_list(&mut sql, merged);
                let rows = conn.query(&sql.text, &sql.params)?;
                for row in rows {
                    let (Some(id), Some(from)) = (row[0].as_uuid(), row[1].as_uuid()) else {
                        continue;
                    };
                    let same_object = child.name() == self.object.name();
                    if same_object && (id == self.survivor || merged.contains(&id)) {
                        continue;
                    }
                    let Some(current) = read::get(conn, child, id, &Visibility::All, Bin::Any)?
                    else {
                        continue;
                    };
                    write::update(
                        conn,
                        side,
                        child,
                        &self.actor,
                        self.now,
                        current,
                        BTreeMap::from([(via.name().to_owned(), Value::Ref(self.survivor))]),
                    )?;
                    ledger.reparented.push(json!({
                        "object": child.name(),
                        "field": via.name(),
                        "record_id": id.to_string(),
                        "from": from.to_string(),
                    }));
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Gives the survivor the tags and static-list memberships of the merged records that it
    /// does not have yet.
    fn copy_memberships(
        &self,
        conn: &mut dyn Conn,
        merged: &[Uuid],
        ledger: &mut Ledger,
    ) -> Result<(), CoreError> {
        for (table, set, by, at) in MEMBERSHIPS {
            let mut sql = Sql::new(conn.dialect());
            sql.push(&format!(
                "SELECT DISTINCT {set} FROM {table} WHERE record_id"
            ));
            push_in_list(&mut sql, merged);
            sql.push(&format!(
                " AND {set} NOT IN (SELECT {set} FROM {table} WHERE record_id = "
            ));
            sql.param(SqlValue::Uuid(self.survivor));
            sql.push(")");
            let sets: Vec<Uuid> = conn
                .query(&sql.text, &sql.params)?
                .iter()
                .filter_map(|r| r[0].as_uuid())
                .collect();
            for set_id in sets {
                conn.execute(
                    &format!(
                        "INSERT INTO {table} ({set}, record_id, {by}, {at}) VALUES ({})",
                        placeholders(conn.dialect(), 1, 4)
                    ),
                    &[
                        SqlValue::Uuid(set_id),
                        SqlValue::Uuid(self.survivor),
                        SqlValue::Uuid(self.actor.user_id.0),
                        SqlValue::Timestamp(self.now),
                    ],
                )?;
                ledger
                    .memberships
                    .push(json!({"table": table, "set_id": set_id.to_string()}));
            }
        }
        Ok(())
    }

    /// Moves the merged records' attachments to the survivor.
    fn move_attachments(
        &self,
        conn: &mut dyn Conn,
        merged: &[Uuid],
        ledger: &mut Ledger,
    ) -> Result<(), CoreError> {
        let in_merged = |sql: &mut Sql| {
            sql.push(" WHERE object = ");
            sql.param(SqlValue::Text(self.object.name().to_owned()));
            sql.push(" AND record_id");
            push_in_list(sql, merged);
        };
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT id, record_id FROM sys_attachments");
        in_merged(&mut sql);
        for row in conn.query(&sql.text, &sql.params)? {
            let (Some(id), Some(from)) = (row[0].as_uuid(), row[1].as_uuid()) else {
                continue;
            };
            ledger
                .attachments
                .push(json!({"id": id.to_string(), "from": from.to_string()}));
        }
        let mut update = Sql::new(conn.dialect());
        update.push("UPDATE sys_attachments SET record_id = ");
        update.param(SqlValue::Uuid(self.survivor));
        in_merged(&mut update);
        conn.execute(&update.text, &update.params)?;
        Ok(())
    }

    /// Moves the merged records' manual shares and record-team memberships to the survivor,
    /// except where it already has the same one.
    fn move_shares(
        &self,
        conn: &mut dyn Conn,
        merged: &[Uuid],
        ledger: &mut Ledger,
    ) -> Result<usize, CoreError> {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT id, record_id, principal_kind, principal_id, reason, access FROM sys_record_shares WHERE object = ");
        sql.param(SqlValue::Text(self.object.name().to_owned()));
        sql.push(" AND record_id IN (");
        sql.param(SqlValue::Uuid(self.survivor));
        for id in merged {
            sql.push(", ");
            sql.param(SqlValue::Uuid(*id));
        }
        sql.push(") ORDER BY created_at, id");
        let rows = conn.query(&sql.text, &sql.params)?;
        let key = |r: &Vec<SqlValue>| {
            (
                r[2].as_str().unwrap_or_default().to_owned(),
                r[3].as_uuid(),
                r[4].as_str().unwrap_or_default().to_owned(),
            )
        };
        // what the survivor holds, per principal and reason: its share's id and access
        let mut held: HashMap<_, (Uuid, String)> = rows
            .iter()
            .filter(|r| r[1].as_uuid() == Some(self.survivor))
            .filter_map(|r| Some((key(r), (r[0].as_uuid()?, r[5].as_str()?.to_owned()))))
            .collect();
        let mut moved = 0;
        for row in rows
            .iter()
            .filter(|r| r[1].as_uuid() != Some(self.survivor))
        {
            let (Some(id), Some(from), Some(access)) =
                (row[0].as_uuid(), row[1].as_uuid(), row[5].as_str())
            else {
                continue;
            };
            if let Some((kept, kept_access)) = held.get_mut(&key(row)) {
                // the same principal already has a share of the survivor: it keeps the
                // stronger of the two, so nobody loses edit rights to a merge
                if access == "edit" && kept_access != "edit" {
                    let mut raise = Sql::new(conn.dialect());
                    raise.push("UPDATE sys_record_shares SET access = 'edit' WHERE id = ");
                    raise.param(SqlValue::Uuid(*kept));
                    conn.execute(&raise.text, &raise.params)?;
                    ledger
                        .raised
                        .push(json!({"id": kept.to_string(), "access": kept_access.clone()}));
                    *kept_access = "edit".to_owned();
                }
                continue;
            }
            held.insert(key(row), (id, access.to_owned()));
            let mut update = Sql::new(conn.dialect());
            update.push("UPDATE sys_record_shares SET record_id = ");
            update.param(SqlValue::Uuid(self.survivor));
            update.push(" WHERE id = ");
            update.param(SqlValue::Uuid(id));
            conn.execute(&update.text, &update.params)?;
            ledger
                .shares
                .push(json!({"id": id.to_string(), "from": from.to_string()}));
            moved += 1;
        }
        Ok(moved)
    }
}
