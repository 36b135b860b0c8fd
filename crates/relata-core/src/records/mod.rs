//! The record service: create, read, update, delete (recycle bin), restore, purge, list,
//! history and bulk upsert, for every object. Each write runs the steps of [`write`] in one
//! transaction; each read carries the caller's visibility predicate.

pub mod aggregate;
pub mod bulk;
pub mod collection;
pub mod companions;
pub mod contracts;
pub mod flow;
pub mod follow_up;
pub mod labels;
pub mod line_items;
pub mod merge;
pub mod quality;
pub mod quotes;
pub mod read;
pub mod rights;
pub mod transfer;
pub mod write;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

use relata_domain::dedupe::{MatchRule, RuleAction};
use relata_domain::filter::{Filter, TypedFilter};

use crate::filter_scope::RelatedVisibility;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Record};
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;
pub use read::{Bin, Cursor, ListPage, Sort};
use relata_domain::access::Operation;

/// A list request as the API received it, before validation.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    /// `field` or `-field` (descending).
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    pub count: bool,
    /// Count at most this many matches (the UI shows "10,000+" rather than scan a million
    /// rows for an exact figure); `None` counts them all.
    pub count_cap: Option<u64>,
    pub bin: Option<Bin>,
}

/// One field-history entry.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub field: String,
    pub old_value: Json,
    pub new_value: Json,
    pub actor: Option<String>,
    pub at: String,
}

pub(crate) fn with_errors<T>(errors: Vec<FieldError>, ok: T) -> Result<T, CoreError> {
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(CoreError::Validation(errors))
    }
}

impl Core {
    /// Creates a record from a client's JSON object.
    pub async fn create_record(
        &self,
        actor: &Actor,
        object: &str,
        input: Json,
    ) -> Result<Record, CoreError> {
        self.create_record_with(actor, object, input, false).await
    }

    /// Creates a record with the id `input` names, unless one with that id exists: what a
    /// workflow step creates once however often its job runs. Answers whether it created it.
    pub(crate) async fn create_record_keyed(
        &self,
        actor: &Actor,
        object: &str,
        input: Json,
    ) -> Result<bool, CoreError> {
        let def = self.object(object)?;
        let id = input
            .get("id")
            .and_then(Json::as_str)
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| CoreError::bad_request("no_id", "a keyed create needs an id"))?;
        let exists = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT 1 FROM {} WHERE id = ", def.name()));
                sql.param(SqlValue::Uuid(id));
                Ok::<_, CoreError>(conn.query_one(&sql.text, &sql.params)?.is_some())
            })
            .await?;
        if exists {
            return Ok(false);
        }
        self.create_record_with(actor, object, input, true).await?;
        Ok(true)
    }

    async fn create_record_with(
        &self,
        actor: &Actor,
        object: &str,
        input: Json,
        allow_id: bool,
    ) -> Result<Record, CoreError> {
        let object = self.object(object)?;
        actor.require(object.name(), Operation::Create)?;
        with_errors(fields::check_editable(actor, &object, &input), ())?;
        let ctx = self.parse_context();
        let values = write::parse_input(&object, &input, &ctx, true, allow_id)
            .map_err(CoreError::Validation)?;
        let mut candidate = Record::default();
        for (k, v) in &values {
            candidate.set(k, v.clone());
        }
        self.refuse_blocked_duplicate(actor, &object, &candidate, None, None)
            .await?;
        let now = self.clock.now();
        let writer = actor.clone();
        let obj = object.clone();
        let targets = self.lookup_targets(actor, &object);
        let mut record = self
            .store
            .write(move |conn| {
                let errors = write::check_lookups(conn, &obj, &values, &targets)?;
                with_errors(errors, ())?;
                with_companions(conn, |conn, side| {
                    let record = write::insert(conn, side, &obj, &writer, now, values)?;
                    notify_owner(conn, &writer, &obj, &record, None, now)?;
                    Ok(record)
                })
            })
            .await?;
        fields::redact(actor, &object, &mut record);
        Ok(record)
    }

    /// One live, visible record.
    pub async fn get_record(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<Record, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let obj = object.clone();
        let mut record = self
            .store
            .read(move |conn| read::get(conn, &obj, id, &vis, Bin::Live))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
        fields::redact(actor, &object, &mut record);
        Ok(record)
    }

    /// One visible record, live or in the recycle bin (`true`), for a page that offers to
    /// restore it.
    pub async fn get_record_or_binned(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<(Record, bool), CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let obj = object.clone();
        let (mut record, binned) = self
            .store
            .read(move |conn| {
                let Some(record) = read::get(conn, &obj, id, &vis, Bin::Any)? else {
                    return Ok(None);
                };
                Ok::<_, CoreError>(Some((record, is_in_bin(conn, &obj, id)?)))
            })
            .await?
            .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
        fields::redact(actor, &object, &mut record);
        Ok((record, binned))
    }

    /// Applies a partial update. `expected_version` comes from `If-Match`.
    pub async fn update_record(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
        input: Json,
        expected_version: Option<i64>,
    ) -> Result<Record, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Edit)?;
        let targets = self.lookup_targets(actor, &object);
        with_errors(fields::check_editable(actor, &object, &input), ())?;
        let changes = write::parse_input(&object, &input, &self.parse_context(), false, false)
            .map_err(CoreError::Validation)?;
        if MatchRule::of(&object).is_some_and(|r| r.action == RuleAction::Block) {
            // only a record the actor may edit is checked (else the answer would tell them
            // about a record they may not see), and only for values that change
            let (obj, v) = (object.clone(), vis.clone());
            let mut candidate = self
                .store
                .read(move |conn| read::get(conn, &obj, id, &v, Bin::Live))
                .await?
                .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
            let changed: Vec<String> = changes
                .iter()
                .filter(|(k, v)| candidate.get(k) != *v)
                .map(|(k, _)| k.clone())
                .collect();
            for (k, v) in &changes {
                candidate.set(k, v.clone());
            }
            self.refuse_blocked_duplicate(actor, &object, &candidate, Some(id), Some(&changed))
                .await?;
        }
        let now = self.clock.now();
        let writer = actor.clone();
        let obj = object.clone();
        let mut record = self
            .store
            .write(move |conn| {
                let current = read::get_for_update(conn, &obj, id, &vis, Bin::Live)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", obj.name())))?;
                check_version(&current, expected_version)?;
                with_errors(write::check_lookups(conn, &obj, &changes, &targets)?, ())?;
                let before = owner_of(&current);
                with_companions(conn, |conn, side| {
                    let record = write::update(conn, side, &obj, &writer, now, current, changes)?;
                    notify_owner(conn, &writer, &obj, &record, before, now)?;
                    Ok(record)
                })
            })
            .await?;
        fields::redact(actor, &object, &mut record);
        Ok(record)
    }

    /// Moves a record to the recycle bin.
    pub async fn delete_record(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
        expected_version: Option<i64>,
    ) -> Result<Record, CoreError> {
        self.set_deleted(actor, object, id, expected_version, true)
            .await
    }

    /// Brings a record back from the recycle bin.
    pub async fn restore_record(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<Record, CoreError> {
        self.set_deleted(actor, object, id, None, false).await
    }

    async fn set_deleted(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
        expected_version: Option<i64>,
        delete: bool,
    ) -> Result<Record, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Delete)?;
        let now = self.clock.now();
        let writer = actor.clone();
        let obj = object.clone();
        let mut record = self
            .store
            .write(move |conn| {
                let (object, actor) = (obj, writer);
                let current = read::get_for_update(conn, &object, id, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
                let is_deleted = is_in_bin(conn, &object, id)?;
                if delete && is_deleted {
                    return Err(CoreError::not_found(format!("{} {id}", object.name())));
                }
                if !delete && !is_deleted {
                    return Err(CoreError::Conflict {
                        code: "not_deleted",
                        message: "the record is not in the recycle bin".into(),
                    });
                }
                check_version(&current, expected_version)?;
                with_companions(conn, |conn, side| {
                    write::set_deleted(conn, side, &object, &actor, now, &current, delete)
                })
            })
            .await?;
        fields::redact(actor, &object, &mut record);
        Ok(record)
    }

    /// Removes a record in the recycle bin for good.
    pub async fn purge_record(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<(), CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Delete)?;
        let now = self.clock.now();
        let actor = actor.clone();
        self.store
            .write(move |conn| {
                read::get(conn, &object, id, &vis, Bin::Deleted)?.ok_or_else(|| {
                    CoreError::not_found(format!("{} {id} in the recycle bin", object.name()))
                })?;
                with_companions(conn, |conn, side| {
                    write::purge(conn, side, &object, &actor, now, id)
                })
            })
            .await
    }

    /// A page of records.
    pub async fn list_records(
        &self,
        actor: &Actor,
        object: &str,
        req: ListRequest,
    ) -> Result<(Arc<ObjectDef>, ListPage), CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let spec = self.list_spec(actor, &object, req).await?;
        let obj = object.clone();
        let mut page = self
            .store
            .read(move |conn| read::list(conn, &obj, &vis, &spec))
            .await?;
        for record in &mut page.records {
            fields::redact(actor, &object, record);
        }
        Ok((object, page))
    }

    /// Validates a list request against the object's metadata.
    /// Fields hidden from the actor cannot be filtered or sorted on: they are reported as
    /// unknown, as if they did not exist.
    pub async fn list_spec(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        req: ListRequest,
    ) -> Result<read::ListSpec, CoreError> {
        let typed = self
            .type_filter_for(actor, object, req.filter.as_ref())
            .await?;
        self.list_spec_typed(actor, object, req, typed)
    }

    /// [`Core::list_spec`] with the request's filter already typed (`req.filter` is ignored).
    pub fn list_spec_typed(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        req: ListRequest,
        (filter, related): (TypedFilter, RelatedVisibility),
    ) -> Result<read::ListSpec, CoreError> {
        let visible = |f: &relata_domain::FieldDef| fields::readable(actor, object, f.name());
        let sort = match req.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let (name, descending) = match s.strip_prefix('-') {
                    Some(n) => (n, true),
                    None => (s.strip_prefix('+').unwrap_or(s), false),
                };
                let field = object.field(name).filter(|f| visible(f)).ok_or_else(|| {
                    FieldError::new(
                        "sort",
                        FieldErrorCode::UnknownField,
                        format!("'{}' has no field '{name}'", object.name()),
                    )
                })?;
                if matches!(
                    field.field_type,
                    FieldType::LongText | FieldType::MultiPicklist
                ) {
                    return Err(FieldError::new(
                        "sort",
                        FieldErrorCode::InvalidOption,
                        format!(
                            "cannot sort by the {} field '{name}'",
                            field.field_type.as_str()
                        ),
                    )
                    .into());
                }
                Some(Sort {
                    field: field.clone(),
                    descending,
                })
            }
        };
        let limit = req.limit.unwrap_or(50);
        if limit == 0 || limit > self.settings.max_page_size {
            return Err(FieldError::new(
                "limit",
                FieldErrorCode::TooLarge,
                format!("must be between 1 and {}", self.settings.max_page_size),
            )
            .into());
        }
        let cursor = req
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, sort.as_ref().map(|s| &s.field)))
            .transpose()?;
        Ok(read::ListSpec {
            filter,
            related,
            sort,
            limit,
            cursor,
            count: req.count,
            count_cap: req.count_cap,
            bin: req.bin.unwrap_or(Bin::Live),
        })
    }

    /// Field history of a visible record, newest first.
    pub async fn record_history(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<Vec<HistoryEntry>, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let hidden = fields::hidden(actor, &object);
        self.store
            .read(move |conn| {
                read::get(conn, &object, id, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT field, old_value, new_value, actor, at FROM sys_field_history WHERE record_id = ");
                sql.param(SqlValue::Uuid(id));
                sql.push(" AND object = ");
                sql.param(SqlValue::Text(object.name().to_owned()));
                sql.push(" ORDER BY at DESC, id DESC LIMIT 1000");
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok(rows
                    .into_iter()
                    .filter(|r| object.field(r[0].as_str().unwrap_or_default()).is_some())
                    .filter(|r| !hidden.iter().any(|h| Some(h.as_str()) == r[0].as_str()))
                    .map(|r| HistoryEntry {
                        field: r[0].as_str().unwrap_or_default().to_owned(),
                        old_value: json_of(&r[1]),
                        new_value: json_of(&r[2]),
                        actor: r[3].as_uuid().map(|u| u.to_string()),
                        at: r[4].as_timestamp().map(|t| relata_domain::value::format_datetime(&t)).unwrap_or_default(),
                    })
                    .collect())
            })
            .await
    }
}

/// Runs one write step and flushes the search terms and events it queued.
pub(crate) fn with_companions<T>(
    conn: &mut dyn relata_store::Conn,
    f: impl FnOnce(&mut dyn relata_store::Conn, &mut companions::Companions) -> Result<T, CoreError>,
) -> Result<T, CoreError> {
    let mut side = companions::Companions::new();
    let out = f(conn, &mut side)?;
    side.flush(conn)?;
    Ok(out)
}

fn owner_of(record: &Record) -> Option<uuid::Uuid> {
    match record.get("owner_id") {
        relata_domain::Value::Ref(u) => Some(*u),
        _ => None,
    }
}

/// A single record created for, or given to, someone other than its writer: they are told.
/// (Bulk writes and imports do not notify per record; a transfer notifies once.)
pub(crate) fn notify_owner(
    conn: &mut dyn relata_store::Conn,
    writer: &Actor,
    object: &ObjectDef,
    record: &Record,
    before: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    match (owner_of(record), record.id()) {
        (Some(owner), Some(id)) if Some(owner) != before => {
            crate::notifications::assigned(conn, writer, object.name(), id, owner, now)
        }
        _ => Ok(()),
    }
}

/// A JSON column as read from either backend (SQLite hands it over as text).
pub(crate) fn json_of(v: &SqlValue) -> Json {
    match v {
        SqlValue::Json(j) => j.clone(),
        SqlValue::Text(s) => serde_json::from_str(s).unwrap_or(Json::Null),
        _ => Json::Null,
    }
}

pub(crate) fn check_version(current: &Record, expected: Option<i64>) -> Result<(), CoreError> {
    match expected {
        Some(v) if v != current.version() => Err(CoreError::StaleVersion {
            expected: v,
            actual: current.version(),
        }),
        _ => Ok(()),
    }
}

fn is_in_bin(
    conn: &mut dyn relata_store::Conn,
    object: &ObjectDef,
    id: uuid::Uuid,
) -> Result<bool, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT 1 FROM {} WHERE deleted_at IS NOT NULL AND id = ",
        object.name()
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn.query_one(&sql.text, &sql.params)?.is_some())
}
