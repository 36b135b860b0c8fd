//! Merging duplicate records: two or more records of one object become one. The surviving
//! record takes, field by field, the value chosen (by default the most recent non-empty one);
//! every record of any object that pointed at a merged record points at the survivor; the
//! merged records' shares move to it; the merged records go to the recycle bin with their
//! field history. Everything goes through the one write path in one transaction, is audited
//! (`record.merge`), and is remembered in `sys_merges` so that it can be undone within
//! `merge_undo_days` without undoing what was edited since.
//!
//! Permissions: the caller must be able to edit the survivor and to delete the merged
//! records (full access), as in Salesforce; a record they cannot see is not found, one they
//! see but may not change is forbidden — and nothing is changed.

mod apply;
mod undo;

pub use undo::UndoOutcome;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::dedupe::merge::{
    MergeStrategy, default_sources, is_mergeable, suggested_survivor,
};
use relata_domain::meta::{FieldDef, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Record};

use super::{Bin, read};
use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError, fields};

/// Most records merged into one at a time.
pub const MAX_MERGED: usize = 10;

/// A merge as asked for.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    /// The records merged into the survivor (not the survivor itself).
    pub records: Vec<Uuid>,
    /// Field → the record (survivor or merged) whose value is kept; other fields follow
    /// `strategy`.
    pub values: BTreeMap<String, Uuid>,
    pub strategy: MergeStrategy,
    /// The survivor's version, from `If-Match`.
    pub expected_version: Option<i64>,
}

impl MergeRequest {
    /// `{"records": [id, …], "values": {"field": id, …}, "strategy": "most_recent" |
    /// "most_complete"}` as a client sends it; every problem is named by its place.
    pub fn from_json(body: &Json) -> Result<MergeRequest, CoreError> {
        let mut errors = Vec::new();
        let mut req = MergeRequest::default();
        let Some(map) = body.as_object() else {
            return Err(FieldError::new(
                "",
                FieldErrorCode::WrongType,
                "the body must be a JSON object",
            )
            .into());
        };
        for key in map.keys() {
            if !["records", "values", "strategy"].contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key.clone(),
                    FieldErrorCode::UnknownField,
                    "not a part of a merge request (records, values, strategy)",
                ));
            }
        }
        match map.get("records").and_then(Json::as_array) {
            Some(ids) => {
                for (i, id) in ids.iter().enumerate() {
                    match id.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                        Some(id) => req.records.push(id),
                        None => errors.push(FieldError::new(
                            format!("records[{i}]"),
                            FieldErrorCode::WrongType,
                            "must be a record id",
                        )),
                    }
                }
            }
            None => errors.push(FieldError::new(
                "records",
                FieldErrorCode::Required,
                "the ids of the records to merge into this one, as an array",
            )),
        }
        match map.get("values") {
            None | Some(Json::Null) => {}
            Some(Json::Object(values)) => {
                for (field, id) in values {
                    match id.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                        Some(id) => {
                            req.values.insert(field.clone(), id);
                        }
                        None => errors.push(FieldError::new(
                            format!("values.{field}"),
                            FieldErrorCode::WrongType,
                            "must be the id of the record whose value is kept",
                        )),
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                "values",
                FieldErrorCode::WrongType,
                "must be an object of field → record id",
            )),
        }
        match map.get("strategy") {
            None | Some(Json::Null) => {}
            Some(s) => match serde_json::from_value::<MergeStrategy>(s.clone()) {
                Ok(strategy) => req.strategy = strategy,
                Err(_) => errors.push(FieldError::new(
                    "strategy",
                    FieldErrorCode::InvalidOption,
                    "must be most_recent or most_complete",
                )),
            },
        }
        if errors.is_empty() {
            Ok(req)
        } else {
            Err(CoreError::Validation(errors))
        }
    }
}

/// What a merge would do, for a reviewer: the records side by side (survivor first) and the
/// record each field's value would come from.
#[derive(Debug)]
pub struct MergePlan {
    pub object: Arc<ObjectDef>,
    pub records: Vec<Record>,
    /// The fields whose value is chosen (mergeable and editable by the caller), in order.
    pub fields: Vec<String>,
    pub sources: BTreeMap<String, Uuid>,
    /// The record the rules would keep (most complete, then oldest).
    pub suggested_survivor: Uuid,
}

#[derive(Debug)]
pub struct MergeOutcome {
    pub merge_id: Uuid,
    pub record: Record,
    pub merged: Vec<Uuid>,
    /// Records of any object re-pointed from a merged record to the survivor.
    pub reparented: usize,
    pub shares_moved: usize,
    pub undo_until: DateTime<Utc>,
}

/// A merge as remembered.
#[derive(Debug, Clone)]
pub struct MergeInfo {
    pub id: Uuid,
    pub object: String,
    pub survivor: Uuid,
    pub merged: Vec<Uuid>,
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
    pub undo_until: DateTime<Utc>,
}

/// The visibilities a merge checks, decided before the transaction.
pub(crate) struct Access {
    read: Visibility,
    edit: Visibility,
    full: Visibility,
}

impl Access {
    /// Reads `id` for a merge: not found when the caller cannot see it, forbidden when they
    /// see it but may not change it (edit for the survivor, full access for the others).
    /// In a write transaction (`lock`) the row stays locked until the merge commits.
    pub(crate) fn check(
        &self,
        conn: &mut dyn relata_store::Conn,
        object: &ObjectDef,
        id: Uuid,
        bin: Bin,
        need_full: bool,
        lock: bool,
    ) -> Result<Record, CoreError> {
        let record = if lock {
            read::get_for_update(conn, object, id, &self.read, bin)?
        } else {
            read::get(conn, object, id, &self.read, bin)?
        }
        .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
        let (vis, what) = if need_full {
            (&self.full, "delete")
        } else {
            (&self.edit, "edit")
        };
        if read::get(conn, object, id, vis, bin)?.is_none() {
            return Err(CoreError::Forbidden {
                message: format!(
                    "you may not {what} {} {id}, so it cannot be merged",
                    object.name()
                ),
            });
        }
        Ok(record)
    }
}

impl Core {
    fn merge_access(&self, actor: &Actor, object: &ObjectDef) -> Result<Access, CoreError> {
        Ok(Access {
            read: self.visibility(actor, object, Operation::Read)?,
            edit: self.visibility(actor, object, Operation::Edit)?,
            full: self.visibility(actor, object, Operation::Delete)?,
        })
    }

    /// What merging `others` into `survivor` would keep, for review.
    pub async fn merge_plan(
        &self,
        actor: &Actor,
        object: &str,
        survivor: Uuid,
        others: Vec<Uuid>,
        strategy: MergeStrategy,
    ) -> Result<MergePlan, CoreError> {
        let object = self.object(object)?;
        check_ids(survivor, &others)?;
        let access = self.merge_access(actor, &object)?;
        let obj = object.clone();
        let records = self
            .store
            .read(move |conn| {
                let mut records =
                    vec![access.check(conn, &obj, survivor, Bin::Live, false, false)?];
                for id in &others {
                    records.push(access.check(conn, &obj, *id, Bin::Live, true, false)?);
                }
                Ok::<_, CoreError>(records)
            })
            .await?;
        let chosen = mergeable_fields(actor, &object);
        let refs: Vec<&FieldDef> = chosen.iter().collect();
        let sources = default_sources(&object, &records, &refs, strategy)
            .into_iter()
            .filter_map(|(f, i)| records[i].id().map(|id| (f, id)))
            .collect();
        let suggested = records[suggested_survivor(&object, &records)]
            .id()
            .unwrap_or(survivor);
        let mut records = records;
        for r in &mut records {
            fields::redact(actor, &object, r);
        }
        Ok(MergePlan {
            fields: chosen.iter().map(|f| f.name().to_owned()).collect(),
            object,
            records,
            sources,
            suggested_survivor: suggested,
        })
    }

    /// Merges `req.records` into `survivor`.
    pub async fn merge_records(
        &self,
        actor: &Actor,
        object: &str,
        survivor: Uuid,
        req: MergeRequest,
    ) -> Result<MergeOutcome, CoreError> {
        let object = self.object(object)?;
        check_ids(survivor, &req.records)?;
        let access = self.merge_access(actor, &object)?;
        let mergeable = mergeable_fields(actor, &object);
        let mut errors = Vec::new();
        for (field, source) in &req.values {
            let at = format!("values.{field}");
            if !mergeable.iter().any(|f| f.name() == field) {
                errors.push(FieldError::new(
                    at,
                    FieldErrorCode::UnknownField,
                    format!(
                        "'{}' has no field '{field}' whose value a merge chooses",
                        object.name()
                    ),
                ));
            } else if *source != survivor && !req.records.contains(source) {
                errors.push(FieldError::new(
                    at,
                    FieldErrorCode::InvalidOption,
                    format!("{source} is not one of the records being merged"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let job = apply::Merge {
            object: object.clone(),
            schema: self.schema(),
            actor: actor.clone(),
            now: self.clock.now(),
            survivor,
            fields: mergeable,
            req,
            access,
            undo_days: self.settings.merge_undo_days,
        };
        let mut outcome = self.store.write(move |conn| job.run(conn)).await?;
        fields::redact(actor, &object, &mut outcome.record);
        Ok(outcome)
    }

    /// The merges into a record that can still be undone, newest first.
    pub async fn merges_into(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Vec<MergeInfo>, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let since =
            self.clock.now() - chrono::Duration::days(i64::from(self.settings.merge_undo_days));
        let days = self.settings.merge_undo_days;
        self.store
            .read(move |conn| {
                read::get(conn, &object, id, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
                undo::merges_into(conn, object.name(), id, since, days)
            })
            .await
    }
}

/// The fields whose value a merge chooses for this caller: mergeable and editable. A field
/// the caller may not edit keeps the survivor's value.
fn mergeable_fields(actor: &Actor, object: &ObjectDef) -> Vec<FieldDef> {
    object
        .live_fields()
        .filter(|f| is_mergeable(f) && fields::editable(actor, object, f.name()))
        .cloned()
        .collect()
}

fn check_ids(survivor: Uuid, others: &[Uuid]) -> Result<(), CoreError> {
    let problem = if others.is_empty() {
        Some("name at least one record to merge into this one".to_owned())
    } else if others.len() > MAX_MERGED {
        Some(format!("at most {MAX_MERGED} records are merged at once"))
    } else if others.contains(&survivor) {
        Some("a record cannot be merged into itself".to_owned())
    } else if others
        .iter()
        .enumerate()
        .any(|(i, id)| others[..i].contains(id))
    {
        Some("a record is named twice".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => {
            Err(FieldError::new("records", FieldErrorCode::InvalidOption, message).into())
        }
        None => Ok(()),
    }
}

fn json_array_of_ids(ids: &[Uuid]) -> Json {
    Json::Array(ids.iter().map(|i| Json::String(i.to_string())).collect())
}
