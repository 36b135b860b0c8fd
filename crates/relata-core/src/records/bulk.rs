//! Bulk upsert by a key field (the id or any unique field, such as an external id): thousands
//! of records per call, one result per record, in one transaction. `all_or_nothing` writes
//! nothing when any record fails; `per_record` writes the good ones, each in a savepoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode, Record, Value};
use relata_store::codec::encode;
use relata_store::{Conn, Sql};

use super::companions::Companions;
use super::{read, write};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::visibility::Visibility;
use relata_domain::access::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkMode {
    AllOrNothing,
    PerRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkStatus {
    Created,
    Updated,
    Unchanged,
    Failed,
    /// Valid, but not written because another record failed in all-or-nothing mode.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct BulkItem {
    pub index: usize,
    pub status: BulkStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BulkResult {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub results: Vec<BulkItem>,
}

const KEY_CHUNK: usize = 500;

impl Core {
    /// Under a blocking duplicate rule, refuses the whole call when one of its records would
    /// make a likely duplicate (of an existing record other than the one its key names).
    /// Each record costs a few index lookups, so a bulk call on such an object is slower.
    async fn refuse_blocked_duplicates_in_bulk(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        key_field: &relata_domain::meta::FieldDef,
        records: &[Json],
    ) -> Result<(), CoreError> {
        use relata_domain::dedupe::{MatchRule, RuleAction};
        if !MatchRule::of(object).is_some_and(|r| r.action == RuleAction::Block) {
            return Ok(());
        }
        let ctx = self.parse_context();
        let keys: Vec<Option<Value>> = records
            .iter()
            .map(|r| {
                r.get(key_field.name())
                    .and_then(|k| Value::parse(key_field, k, &ctx).ok())
                    .filter(|v| !v.is_null())
            })
            .collect();
        let (obj, field, wanted) = (object.clone(), key_field.clone(), keys.clone());
        let existing = self
            .store
            .read(move |conn| find_existing(conn, &obj, &field, &wanted, &Visibility::All))
            .await?;
        // records of this call that share an email or phone with an earlier one of it: a
        // call must not create two of the same customer either
        let rule = MatchRule::of(object).filter(|r| r.action == RuleAction::Block);
        let region = self.phone_region();
        let mut earlier: HashMap<String, (usize, Record)> = HashMap::new();
        for (i, record) in records.iter().enumerate() {
            let Ok(values) = write::parse_input(object, record, &ctx, false, false) else {
                continue; // its errors are reported by the write
            };
            let mut candidate = Record::default();
            for (k, v) in values {
                candidate.set(&k, v);
            }
            let current = keys[i].as_ref().and_then(|k| existing.get(&key_text(k)));
            // an update is checked only for the values it changes
            let changed: Option<Vec<String>> = current.map(|c| {
                candidate
                    .values
                    .iter()
                    .filter(|(k, v)| c.get(k) != *v)
                    .map(|(k, _)| k.clone())
                    .collect()
            });
            let itself = current.and_then(Record::id);
            if let Some(rule) = &rule {
                let mut whole = current.cloned().unwrap_or_default();
                for (k, v) in &candidate.values {
                    whole.set(k, v.clone());
                }
                for key in relata_domain::dedupe::candidate_keys(object, &whole) {
                    match earlier.get(&key) {
                        Some((j, other)) if rule.matches(&rule.score(&whole, other, &region)) => {
                            return Err(CoreError::Conflict {
                                code: "duplicate_blocked",
                                message: format!(
                                    "records[{i}]: a likely duplicate of records[{j}] of this call; the duplicate rule of '{}' blocks creating both",
                                    object.name()
                                ),
                            });
                        }
                        Some(_) => {}
                        None => {
                            earlier.insert(key, (i, whole.clone()));
                        }
                    }
                }
            }
            self.refuse_blocked_duplicate(actor, object, &candidate, itself, changed.as_deref())
                .await
                .map_err(|e| match e {
                    CoreError::Conflict { code, message } => CoreError::Conflict {
                        code,
                        message: format!("records[{i}]: {message}"),
                    },
                    other => other,
                })?;
        }
        Ok(())
    }

    /// Upserts `records` into `object` by `key`.
    pub async fn bulk_upsert(
        &self,
        actor: &Actor,
        object: &str,
        key: &str,
        mode: BulkMode,
        records: Vec<Json>,
    ) -> Result<BulkResult, CoreError> {
        let object = self.object(object)?;
        if records.len() > self.settings.bulk_limit {
            return Err(FieldError::new(
                "records",
                FieldErrorCode::TooLarge,
                format!(
                    "a bulk call takes at most {} records",
                    self.settings.bulk_limit
                ),
            )
            .into());
        }
        let key_field = object.field(key).ok_or_else(|| {
            FieldError::new(
                "key",
                FieldErrorCode::UnknownField,
                format!("'{}' has no field '{key}'", object.name()),
            )
        })?;
        if key != "id" && !key_field.unique {
            return Err(FieldError::new(
                "key",
                FieldErrorCode::InvalidOption,
                format!("'{key}' is not unique; upsert needs the id or a unique field"),
            )
            .into());
        }
        // An upsert may create and may update: it needs both, and updates only records the
        // caller may edit.
        actor.require(object.name(), Operation::Create)?;
        self.refuse_blocked_duplicates_in_bulk(actor, &object, key_field, &records)
            .await?;
        let plan = Arc::new(UpsertPlan {
            vis: self.visibility(actor, &object, Operation::Edit)?,
            targets: self.lookup_targets(actor, &object),
            ctx: self.parse_context(),
            now: self.clock.now(),
            actor: actor.clone(),
            key_field: key_field.clone(),
            object,
            mode,
            records,
        });
        // On PostgreSQL, upserts of the same keys in concurrent transactions race: both find a
        // key missing and the second insert breaks the unique index, or both read a record
        // and the second update finds its version gone. Neither is the caller's mistake (SQLite
        // has one writer and never races): the whole call is run again, from a fresh read.
        // A duplicate that comes back on the next attempt is real: the key belongs to a record
        // in the recycle bin or one the caller cannot see, which no attempt will find.
        let racy = self.store.dialect() == relata_store::Dialect::Postgres;
        let mut attempt = 0;
        let mut last_duplicates: Option<Vec<String>> = None;
        loop {
            attempt += 1;
            let run = plan.clone();
            let outcome = self
                .store
                .write_large(move |conn| upsert_in(conn, &run, racy))
                .await;
            let Err(e) = &outcome else {
                return outcome;
            };
            let Some(duplicates) = lost_race(e, &plan) else {
                return outcome;
            };
            if !racy
                || attempt >= RACE_ATTEMPTS
                || (!duplicates.is_empty() && last_duplicates.as_ref() == Some(&duplicates))
            {
                return outcome;
            }
            tracing::debug!(attempt, "bulk upsert lost a race; running it again");
            last_duplicates = Some(duplicates);
            let pause = rand::random_range(5..50u64) * u64::from(attempt);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
    }
}

/// How often a bulk upsert that lost a race with a concurrent one is run in all.
const RACE_ATTEMPTS: u32 = 5;

/// Everything one bulk upsert needs inside its transaction (shared by its attempts).
struct UpsertPlan {
    object: std::sync::Arc<ObjectDef>,
    key_field: relata_domain::meta::FieldDef,
    mode: BulkMode,
    records: Vec<Json>,
    vis: Visibility,
    targets: write::LookupTargets,
    ctx: relata_domain::value::ParseContext,
    now: chrono::DateTime<chrono::Utc>,
    actor: Actor,
}

/// Whether `e` may be a concurrent transaction's doing rather than the input's: a record
/// changed or a row lock deadlocked under this transaction (`Some` of no fields), or (all or
/// nothing) the only errors are duplicates of the key, of keys that did not exist when this
/// transaction looked (`Some` of those fields).
fn lost_race(e: &CoreError, plan: &UpsertPlan) -> Option<Vec<String>> {
    match e {
        CoreError::Conflict { .. } => Some(Vec::new()),
        CoreError::Validation(errors) => {
            let suffix = format!(".{}", plan.key_field.name());
            let only_key_duplicates = plan.mode == BulkMode::AllOrNothing
                && !errors.is_empty()
                && errors
                    .iter()
                    .all(|e| e.code == FieldErrorCode::Duplicate && e.field.ends_with(&suffix));
            only_key_duplicates.then(|| errors.iter().map(|e| e.field.clone()).collect())
        }
        _ => None,
    }
}

/// Whether every error is a duplicate of the key field.
fn key_duplicate(errors: &[FieldError], key_field: &relata_domain::meta::FieldDef) -> bool {
    !errors.is_empty()
        && errors
            .iter()
            .all(|e| e.code == FieldErrorCode::Duplicate && e.field == key_field.name())
}

/// One attempt of a bulk upsert, in the writer's transaction.
///
/// `racy`: other transactions may insert the same keys meanwhile (PostgreSQL). In per-record
/// mode a create that then breaks the unique index is rolled back to its savepoint and made
/// an update of the record that won, which this statement now sees.
fn upsert_in(conn: &mut dyn Conn, plan: &UpsertPlan, racy: bool) -> Result<BulkResult, CoreError> {
    let UpsertPlan {
        object,
        key_field,
        mode,
        records,
        vis,
        targets,
        ctx,
        now,
        actor,
    } = plan;
    let (mode, now) = (*mode, *now);
    // Key values, parsed; a record without a key is created.
    let mut keys: Vec<Option<Value>> = Vec::with_capacity(records.len());
    let mut results: Vec<BulkItem> = Vec::with_capacity(records.len());
    for (index, input) in records.iter().enumerate() {
        let raw = input.get(key_field.name()).cloned().unwrap_or(Json::Null);
        match Value::parse(key_field, &raw, ctx) {
            Ok(v) => keys.push((!v.is_null()).then_some(v)),
            Err(e) => {
                keys.push(None);
                results.push(failed(index, vec![e]));
                continue;
            }
        }
        results.push(BulkItem {
            index,
            status: BulkStatus::Skipped,
            id: None,
            errors: Vec::new(),
        });
    }
    let mut existing = find_existing(conn, object, key_field, &keys, vis)?;

    // Pass 1: parse and check everything.
    let mut planned: Vec<Option<(bool, BTreeMap<String, Value>)>> =
        Vec::with_capacity(records.len());
    for (index, input) in records.iter().enumerate() {
        if results[index].status == BulkStatus::Failed {
            planned.push(None);
            continue;
        }
        let exists = keys[index]
            .as_ref()
            .is_some_and(|k| existing.contains_key(&key_text(k)));
        let allow_id = key_field.name() == "id";
        // Creating with an id of one's choosing is for administrators (imports,
        // copies between installations): anyone else could aim at the id of a
        // record they cannot see, in this object or another, and learn of it.
        if allow_id && !exists && !actor.is_superuser() && keys[index].is_some() {
            results[index] = failed(
                index,
                vec![FieldError::new(
                    "id",
                    FieldErrorCode::LookupNotFound,
                    "no record with this id to update",
                )],
            );
            planned.push(None);
            continue;
        }
        let forbidden = crate::fields::check_editable(actor, object, input);
        if !forbidden.is_empty() {
            results[index] = failed(index, forbidden);
            planned.push(None);
            continue;
        }
        match write::parse_input(object, input, ctx, !exists, allow_id) {
            Ok(values) => {
                let lookup_errors = write::check_lookups(conn, object, &values, targets)?;
                if lookup_errors.is_empty() {
                    planned.push(Some((exists, values)));
                } else {
                    results[index] = failed(index, lookup_errors);
                    planned.push(None);
                }
            }
            Err(errors) => {
                results[index] = failed(index, errors);
                planned.push(None);
            }
        }
    }
    let any_failed = results.iter().any(|r| r.status == BulkStatus::Failed);
    if any_failed && mode == BulkMode::AllOrNothing {
        return Ok(summarise(results));
    }

    // Pass 2: write. Search terms and events are queued and flushed together.
    let mut side = Companions::new();
    for (index, plan) in planned.into_iter().enumerate() {
        let Some((exists, mut values)) = plan else {
            continue;
        };
        let key = keys[index].as_ref().map(key_text);
        let mark = side.mark();
        if mode == BulkMode::PerRecord {
            conn.batch("SAVEPOINT bulk_record")?;
        }
        let outcome = match key.as_ref().and_then(|k| existing.get(k).cloned()) {
            Some(current) if exists || key.is_some() => {
                values.remove("id");
                let before = current.version();
                write::update(conn, &mut side, object, actor, now, current, values).map(|r| {
                    let status = if r.version() == before {
                        BulkStatus::Unchanged
                    } else {
                        BulkStatus::Updated
                    };
                    (r, status)
                })
            }
            _ => {
                let retry = (racy && mode == BulkMode::PerRecord && keys[index].is_some())
                    .then(|| values.clone());
                match write::insert(conn, &mut side, object, actor, now, values) {
                    Err(CoreError::Validation(errors))
                        if retry.is_some() && key_duplicate(&errors, key_field) =>
                    {
                        conn.batch("ROLLBACK TO bulk_record")?;
                        side.rollback_to(mark);
                        let winner = find_existing(
                            conn,
                            object,
                            key_field,
                            std::slice::from_ref(&keys[index]),
                            vis,
                        )?
                        .into_values()
                        .next();
                        match (winner, retry) {
                            (Some(current), Some(mut values)) => {
                                values.remove("id");
                                let before = current.version();
                                write::update(conn, &mut side, object, actor, now, current, values)
                                    .map(|r| {
                                        let status = if r.version() == before {
                                            BulkStatus::Unchanged
                                        } else {
                                            BulkStatus::Updated
                                        };
                                        (r, status)
                                    })
                            }
                            _ => Err(CoreError::Validation(errors)),
                        }
                    }
                    other => other.map(|r| (r, BulkStatus::Created)),
                }
            }
        };
        match outcome {
            Ok((record, status)) => {
                if mode == BulkMode::PerRecord {
                    conn.batch("RELEASE bulk_record")?;
                }
                results[index].status = status;
                results[index].id = record.id().map(|u| u.to_string());
                if let Some(k) = key {
                    // a later record with the same key updates this one
                    existing.insert(k, record);
                }
            }
            Err(e) => {
                let errors = match e {
                    CoreError::Validation(errors) => errors,
                    other => return Err(other),
                };
                if mode == BulkMode::AllOrNothing {
                    let errors = errors
                        .into_iter()
                        .map(|e| FieldError {
                            field: format!("records[{index}].{}", e.field),
                            ..e
                        })
                        .collect();
                    return Err(CoreError::Validation(errors));
                }
                conn.batch("ROLLBACK TO bulk_record; RELEASE bulk_record")?;
                side.rollback_to(mark);
                results[index] = failed(index, errors);
            }
        }
    }
    side.flush(conn)?;
    Ok(summarise(results))
}

fn failed(index: usize, errors: Vec<FieldError>) -> BulkItem {
    BulkItem {
        index,
        status: BulkStatus::Failed,
        id: None,
        errors,
    }
}

fn summarise(results: Vec<BulkItem>) -> BulkResult {
    let count = |s| results.iter().filter(|r| r.status == s).count();
    BulkResult {
        created: count(BulkStatus::Created),
        updated: count(BulkStatus::Updated),
        unchanged: count(BulkStatus::Unchanged),
        failed: count(BulkStatus::Failed),
        results,
    }
}

fn key_text(v: &Value) -> String {
    v.to_json().to_string()
}

/// Live, visible records whose key is among `keys`, by key text (the key's JSON).
pub(crate) fn find_existing(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    key_field: &relata_domain::meta::FieldDef,
    keys: &[Option<Value>],
    vis: &Visibility,
) -> Result<HashMap<String, Record>, CoreError> {
    let mut out = HashMap::new();
    let wanted: Vec<&Value> = keys.iter().flatten().collect();
    for chunk in wanted.chunks(KEY_CHUNK) {
        let mut sql = Sql::new(conn.dialect());
        sql.push(&format!(
            "SELECT {} FROM {} WHERE deleted_at IS NULL",
            read::select_list(object, ""),
            object.name()
        ));
        vis.push(&mut sql, "");
        sql.push(&format!(" AND {} IN (", key_field.name()));
        for (i, v) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(encode(key_field, v, conn.dialect()));
        }
        sql.push(")");
        for row in conn.query(&sql.text, &sql.params)? {
            let record = read::decode_row(object, &row)?;
            let k = key_text(record.get(key_field.name()));
            out.insert(k, record);
        }
    }
    Ok(out)
}
