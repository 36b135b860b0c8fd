//! The steps of the one write path, as synchronous functions over a connection inside a
//! transaction: validate → defaults → write the row → field history → search terms → change
//! event. `records/mod.rs` runs them in one transaction; bulk upsert and import run many of
//! them in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::value::ParseContext;
use relata_domain::{Record, RecordId, Value};
use relata_store::codec::{encode, encode_columns};
use relata_store::ddl::{currency_column, table_name};
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::{collection, contracts, flow, follow_up, line_items, quotes};
use crate::search::{self, Indexing};

/// The event kinds of the change feed.
pub mod kind {
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const DELETED: &str = "deleted";
    pub const RESTORED: &str = "restored";
    pub const PURGED: &str = "purged";
}

/// Parses a client's JSON object into typed values of writable fields. Collects every error.
/// `creating` applies defaults and checks required fields for a new record; on update only
/// fields present in the input are returned (absent = leave as is, null = clear).
pub fn parse_input(
    object: &ObjectDef,
    input: &Json,
    ctx: &ParseContext,
    creating: bool,
    allow_id: bool,
) -> Result<BTreeMap<String, Value>, Vec<FieldError>> {
    let Json::Object(map) = input else {
        return Err(vec![FieldError::new(
            "body",
            Code::WrongType,
            "a record must be a JSON object",
        )]);
    };
    let mut errors = Vec::new();
    let mut values = BTreeMap::new();
    for (key, raw) in map {
        if key == "version" {
            continue; // echoed back by clients that PATCH what they GET; If-Match is authoritative
        }
        let Some(field) = object.field(key) else {
            errors.push(FieldError::new(
                key,
                Code::UnknownField,
                format!("'{}' has no field '{key}'", object.name()),
            ));
            continue;
        };
        let writable = !field.system || key == "owner_id" || (key == "id" && allow_id && creating);
        if !writable {
            if key == "id" && !creating {
                continue; // harmless echo of the record's own id on update
            }
            errors.push(FieldError::new(
                key,
                Code::ReadOnly,
                "is set by the system and cannot be written",
            ));
            continue;
        }
        match Value::parse(field, raw, ctx) {
            Ok(v) => {
                values.insert(key.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    if creating {
        for field in object.writable_fields() {
            if values.contains_key(field.name()) {
                continue;
            }
            if let Some(default) = &field.default {
                match Value::parse(field, default, ctx) {
                    Ok(v) => {
                        values.insert(field.name().to_owned(), v);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    for field in object.writable_fields().filter(|f| f.required) {
        let missing = match values.get(field.name()) {
            Some(v) => v.is_null(),
            None => creating,
        };
        if missing {
            errors.push(FieldError::new(field.name(), Code::Required, "is required"));
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// What the writer may see of each object its lookups point to: a lookup to a record they
/// cannot see is refused like one to a missing record, so it neither links to it nor tells
/// that it exists. An object missing from the map is one they may not read at all.
pub type LookupTargets = std::collections::HashMap<String, crate::visibility::Visibility>;

/// Checks that every lookup points at a live record the writer can see (or an existing user).
pub fn check_lookups(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    values: &BTreeMap<String, Value>,
    targets: &LookupTargets,
) -> Result<Vec<FieldError>, CoreError> {
    let mut errors = Vec::new();
    for (name, value) in values {
        let Value::Ref(id) = value else { continue };
        let Some(field) = object.field(name) else {
            continue;
        };
        let (table, live) = match field.field_type {
            FieldType::Lookup => match &field.target {
                Some(t) => (t.as_str().to_owned(), " AND deleted_at IS NULL"),
                None => continue,
            },
            FieldType::UserLookup => ("sys_users".to_owned(), ""),
            _ => continue,
        };
        let mut sql = relata_store::Sql::new(conn.dialect());
        sql.push(&format!("SELECT 1 FROM {table} t WHERE t.id = "));
        sql.param(SqlValue::Uuid(*id));
        if !live.is_empty() {
            sql.push(" AND t.deleted_at IS NULL");
            match targets.get(&table) {
                Some(vis) => vis.push(&mut sql, "t."),
                None => {
                    sql.push(" AND 1=0");
                }
            }
            // On PostgreSQL the target is held until this write commits: a merge or delete
            // of it (which locks it FOR UPDATE) waits for this write, or this write for it and
            // then finds the target gone — never a record pointing at one merged away.
            if conn.dialect() == relata_store::Dialect::Postgres {
                sql.push(" FOR KEY SHARE OF t");
            }
        }
        if conn.query_one(&sql.text, &sql.params)?.is_none() {
            let what = if field.field_type == FieldType::UserLookup {
                "user".to_owned()
            } else {
                table
            };
            errors.push(FieldError::new(
                name,
                Code::LookupNotFound,
                format!("no {what} with id {id}"),
            ));
        }
    }
    Ok(errors)
}

/// Inserts a new record with `values` (already parsed and checked) and returns it as stored.
pub fn insert(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    mut values: BTreeMap<String, Value>,
) -> Result<Record, CoreError> {
    flow::prefill(conn, object, &mut values, now)?;
    line_items::fill(conn, object, None, &mut values, now.date_naive())?;
    quotes::fill(conn, object, None, &mut values, now)?;
    contracts::fill(conn, object, None, &mut values, now)?;
    collection::fill(conn, object, None, &mut values, now)?;
    flow::check(object, None, &values)?;
    follow_up::stamp_insert(object, &mut values, now);
    for (field, value) in flow::stamps(object, None, &values, now) {
        values.insert(field, value);
    }
    let id = match values.remove("id") {
        Some(Value::Ref(u)) => u,
        _ => RecordId::new_at(now).0,
    };
    let owner = match values.remove("owner_id") {
        Some(Value::Ref(u)) => Value::Ref(u),
        _ => Value::Ref(actor.user_id.0),
    };
    let mut record = Record::default();
    record.set("id", Value::Ref(id));
    record.set("owner_id", owner);
    record.set("created_at", Value::Datetime(now));
    record.set("created_by", Value::Ref(actor.user_id.0));
    record.set("updated_at", Value::Datetime(now));
    record.set("updated_by", Value::Ref(actor.user_id.0));
    record.set("version", Value::Int(1));
    for (k, v) in values {
        record.set(&k, v);
    }
    // as stored: every field, empty ones as null (a record leaves out only hidden fields)
    for field in object.live_fields() {
        if !record.values.contains_key(field.name()) {
            record.set(field.name(), Value::Null);
        }
    }

    let d = conn.dialect();
    let mut columns = Vec::new();
    let mut params = Vec::new();
    for field in object.live_fields() {
        let value = record.get(field.name());
        columns.push(field.name().to_owned());
        if field.field_type == FieldType::Currency {
            columns.push(currency_column(field.name()));
        }
        params.extend(encode_columns(field, value, d));
    }
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table_name(object),
        columns.join(", "),
        relata_store::dialect::placeholders(d, 1, params.len())
    );
    conn.execute(&sql, &params)?;

    // Field history records changes; a new record's initial values are in its `created`
    // event, so writing them again per tracked field would only add rows to every insert.
    search::index_record(side, object, &record, Indexing::Created);
    crate::reminders::schedule(conn, object, None, &record, now)?;
    follow_up::touch_linked(conn, side, object, None, &record, now)?;
    flow::sync_attendee_share(conn, object, None, Some(&record), now)?;
    line_items::roll_up(conn, side, object, actor, now, None, Some(&record))?;
    collection::after_write(conn, side, object, actor, now, None, &record)?;
    contracts::after_write(conn, side, object, actor, now, None, &record)?;
    let changes: Map<String, Json> = object
        .live_fields()
        .filter(|f| !f.system)
        .filter(|f| !record.get(f.name()).is_null())
        .map(|f| (f.name().to_owned(), record.get(f.name()).to_json()))
        .collect();
    append_event(
        side,
        object,
        id,
        kind::CREATED,
        actor,
        now,
        Json::Object(changes),
    )?;
    Ok(record)
}

/// Applies `changes` to `current` (which the caller read in this transaction). Returns the
/// record as stored, or `current` unchanged when nothing differs.
pub fn update(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    current: Record,
    mut changes: BTreeMap<String, Value>,
) -> Result<Record, CoreError> {
    let d = conn.dialect();
    line_items::fill(conn, object, Some(&current), &mut changes, now.date_naive())?;
    quotes::fill(conn, object, Some(&current), &mut changes, now)?;
    contracts::fill(conn, object, Some(&current), &mut changes, now)?;
    collection::fill(conn, object, Some(&current), &mut changes, now)?;
    line_items::check_deal_amount(conn, object, &current, &changes, now.date_naive())?;
    // the stamps of a new stage yield to what the write gives, changed or not
    let stamps: Vec<(String, Value)> = flow::stamps(object, Some(&current), &changes, now)
        .into_iter()
        .filter(|(field, _)| !changes.contains_key(field))
        .collect();
    let changed: Vec<(String, Value)> = changes
        .into_iter()
        .filter(|(k, v)| current.get(k) != v)
        .collect();
    if changed.is_empty() {
        return Ok(current);
    }
    flow::check(object, Some(&current), &changed.iter().cloned().collect())?;
    let mut changed = changed;
    follow_up::stamp_update(object, &mut changed, now);
    changed.extend(stamps.into_iter().filter(|(k, v)| current.get(k) != v));
    let id = current
        .id()
        .ok_or_else(|| CoreError::Internal("record without id".into()))?;
    let version = current.version();
    let mut sql = format!("UPDATE {} SET ", table_name(object));
    let mut params: Vec<SqlValue> = Vec::new();
    for (name, value) in &changed {
        let Some(field) = object.field(name) else {
            continue;
        };
        let cols = encode_columns(field, value, d);
        let mut names = vec![name.clone()];
        if field.field_type == FieldType::Currency {
            names.push(currency_column(name));
        }
        for (col, v) in names.into_iter().zip(cols) {
            params.push(v);
            sql.push_str(&format!("{col} = {}, ", placeholder(d, params.len())));
        }
    }
    params.push(SqlValue::Timestamp(now));
    sql.push_str(&format!("updated_at = {}, ", placeholder(d, params.len())));
    params.push(SqlValue::Uuid(actor.user_id.0));
    sql.push_str(&format!(
        "updated_by = {}, version = version + 1",
        placeholder(d, params.len())
    ));
    params.push(SqlValue::Uuid(id));
    sql.push_str(&format!(" WHERE id = {}", placeholder(d, params.len())));
    params.push(SqlValue::Int(version));
    sql.push_str(&format!(" AND version = {}", placeholder(d, params.len())));
    if conn.execute(&sql, &params)? == 0 {
        return Err(relata_store::StoreError::Conflict.into());
    }

    let mut record = current.clone();
    for (name, value) in &changed {
        record.set(name, value.clone());
    }
    record.set("updated_at", Value::Datetime(now));
    record.set("updated_by", Value::Ref(actor.user_id.0));
    record.set("version", Value::Int(version + 1));

    let tracked: Vec<(String, Json, Json)> = changed
        .iter()
        // who owned a record when is always kept: transfers and the lead pool rely on it
        .filter(|(name, _)| name == "owner_id" || object.field(name).is_some_and(|f| f.tracked))
        .map(|(name, value)| (name.clone(), current.get(name).to_json(), value.to_json()))
        .collect();
    write_history(conn, object, id, actor, now, &tracked)?;
    crate::reminders::schedule(conn, object, Some(&current), &record, now)?;
    follow_up::touch_linked(conn, side, object, Some(&current), &record, now)?;
    flow::after_update(conn, side, object, actor, now, &current, &record)?;
    quotes::after_update(conn, side, object, actor, now, &current, &record)?;
    flow::sync_attendee_share(conn, object, Some(&current), Some(&record), now)?;
    line_items::roll_up(
        conn,
        side,
        object,
        actor,
        now,
        Some(&current),
        Some(&record),
    )?;
    collection::after_write(conn, side, object, actor, now, Some(&current), &record)?;
    contracts::after_write(conn, side, object, actor, now, Some(&current), &record)?;
    let changed_names: Vec<&str> = changed.iter().map(|(n, _)| n.as_str()).collect();
    search::index_record(side, object, &record, Indexing::Changed(&changed_names));
    let diff: Map<String, Json> = changed
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                serde_json::json!({"old": current.get(name).to_json(), "new": value.to_json()}),
            )
        })
        .collect();
    append_event(
        side,
        object,
        id,
        kind::UPDATED,
        actor,
        now,
        Json::Object(diff),
    )?;
    Ok(record)
}

/// Sets or clears `deleted_at` (recycle bin), bumping the version.
pub fn set_deleted(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    current: &Record,
    deleted: bool,
) -> Result<Record, CoreError> {
    let d = conn.dialect();
    let id = current
        .id()
        .ok_or_else(|| CoreError::Internal("record without id".into()))?;
    let sql = format!(
        "UPDATE {} SET deleted_at = {}, updated_at = {}, updated_by = {}, version = version + 1 WHERE id = {} AND version = {}",
        table_name(object),
        placeholder(d, 1),
        placeholder(d, 2),
        placeholder(d, 3),
        placeholder(d, 4),
        placeholder(d, 5)
    );
    let deleted_at = if deleted {
        SqlValue::Timestamp(now)
    } else {
        SqlValue::Null
    };
    let n = conn.execute(
        &sql,
        &[
            deleted_at,
            SqlValue::Timestamp(now),
            SqlValue::Uuid(actor.user_id.0),
            SqlValue::Uuid(id),
            SqlValue::Int(current.version()),
        ],
    )?;
    if n == 0 {
        return Err(relata_store::StoreError::Conflict.into());
    }
    let mut record = current.clone();
    record.set("version", Value::Int(current.version() + 1));
    record.set("updated_at", Value::Datetime(now));
    record.set("updated_by", Value::Ref(actor.user_id.0));
    if deleted {
        flow::sync_attendee_share(conn, object, Some(&record), None, now)?;
    } else {
        flow::sync_attendee_share(conn, object, None, Some(&record), now)?;
    }
    line_items::roll_up(conn, side, object, actor, now, None, Some(&record))?;
    collection::after_write(conn, side, object, actor, now, None, &record)?;
    contracts::after_write(conn, side, object, actor, now, None, &record)?;
    if deleted {
        search::remove_record(side, id);
        append_event(
            side,
            object,
            id,
            kind::DELETED,
            actor,
            now,
            Json::Object(Map::new()),
        )?;
    } else {
        search::index_record(side, object, &record, Indexing::Rewritten);
        append_event(
            side,
            object,
            id,
            kind::RESTORED,
            actor,
            now,
            Json::Object(Map::new()),
        )?;
    }
    Ok(record)
}

/// Removes a record from the recycle bin for good, with its history, search terms, tags and
/// list memberships.
pub fn purge(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    id: uuid::Uuid,
) -> Result<(), CoreError> {
    let d = conn.dialect();
    let p1 = placeholder(d, 1);
    conn.execute(
        &format!(
            "DELETE FROM sys_field_history WHERE record_id = {p1} AND object = {}",
            placeholder(d, 2)
        ),
        &[SqlValue::Uuid(id), SqlValue::Text(object.name().to_owned())],
    )?;
    search::remove_record(side, id);
    // its tags and static-list memberships go with it
    for table in ["sys_record_tags", "sys_list_members"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE record_id = {p1}"),
            &[SqlValue::Uuid(id)],
        )?;
    }
    conn.execute(
        &format!("DELETE FROM {} WHERE id = {p1}", table_name(object)),
        &[SqlValue::Uuid(id)],
    )?;
    append_event(
        side,
        object,
        id,
        kind::PURGED,
        actor,
        now,
        Json::Object(Map::new()),
    )
}

fn write_history(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    record_id: uuid::Uuid,
    actor: &Actor,
    now: DateTime<Utc>,
    entries: &[(String, Json, Json)],
) -> Result<(), CoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let d = conn.dialect();
    let sql = format!(
        "INSERT INTO sys_field_history (id, object, record_id, field, old_value, new_value, actor, at) VALUES ({})",
        relata_store::dialect::placeholders(d, 1, 8)
    );
    for (field, old, new) in entries {
        conn.execute(
            &sql,
            &[
                SqlValue::Uuid(RecordId::new_at(now).0),
                SqlValue::Text(object.name().to_owned()),
                SqlValue::Uuid(record_id),
                SqlValue::Text(field.clone()),
                SqlValue::Json(old.clone()),
                SqlValue::Json(new.clone()),
                SqlValue::Uuid(actor.user_id.0),
                SqlValue::Timestamp(now),
            ],
        )?;
    }
    Ok(())
}

/// Queues a change-feed event; [`Companions::flush`] writes it before the commit.
pub fn append_event(
    side: &mut Companions,
    object: &ObjectDef,
    record_id: uuid::Uuid,
    kind: &str,
    actor: &Actor,
    now: DateTime<Utc>,
    changes: Json,
) -> Result<(), CoreError> {
    side.add_event(vec![
        SqlValue::Text(object.name().to_owned()),
        SqlValue::Uuid(record_id),
        SqlValue::Text(kind.to_owned()),
        SqlValue::Uuid(actor.user_id.0),
        SqlValue::Timestamp(now),
        SqlValue::Json(changes),
        SqlValue::Text(actor.source.as_str().to_owned()),
        actor
            .client_addr
            .clone()
            .map(SqlValue::Text)
            .unwrap_or(SqlValue::Null),
        actor.cause.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
    ]);
    Ok(())
}

/// The encoded key value for lookups by a unique field.
pub fn encode_key(
    object: &ObjectDef,
    field: &str,
    value: &Value,
    conn: &dyn Conn,
) -> Option<SqlValue> {
    object
        .field(field)
        .map(|f| encode(f, value, conn.dialect()))
}
