//! The batch duplicate job: every record of an object compared under its duplicate rule
//! (`relata_domain::dedupe::batch`: blocking, pairwise scores, groups with a confidence), the
//! groups kept as a review queue, and each reviewed group merged (one by one or in bulk) or
//! dismissed.
//!
//! A job is a row that a worker claims, like an import: queued, running (with a heartbeat),
//! done or failed. It reads the records the requesting administrator may see, keyset-paged
//! by id, keeping only each record's matching keys (a million contacts fit in a few hundred
//! megabytes), so it can be re-run from the start after a crash: a job taken over deletes
//! the groups it had written. A group is shown to a reviewer only with the members they may
//! see, and only while at least two are left. A job's groups were found through the records
//! its requester may see, so they are reviewed by that requester (or a superuser) only:
//! another administrator's groups might be joined through records hidden from them.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::dedupe::MatchRule;
use relata_domain::dedupe::batch::{Found, Prepared, find_groups};
use relata_domain::dedupe::merge::MergeStrategy;
use relata_domain::ids::uuid_v7_at;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Record, UserId};
use relata_store::ddl::{currency_column, table_name};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use crate::context::Source;
use crate::records::merge::{MergeOutcome, MergeRequest};
use crate::records::{json_of, read};
use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError};

/// Records read per query while scanning.
const SCAN_PAGE: usize = 5_000;
/// Groups written per transaction.
const WRITE_BATCH: usize = 1_000;
/// A running job whose heartbeat is older than this is taken over.
const STALE_SECS: i64 = 120;
/// Most groups merged by one bulk request.
pub const MAX_BULK_MERGE: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct DuplicateJob {
    pub id: Uuid,
    pub object: String,
    pub actor_id: Uuid,
    /// queued, running, done or failed.
    pub status: String,
    pub records: i64,
    pub pairs: i64,
    pub groups: i64,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DuplicateGroup {
    pub id: Uuid,
    pub job_id: Uuid,
    pub object: String,
    /// 0-1: the mean score of the group's matching pairs.
    pub confidence: f64,
    pub record_ids: Vec<Uuid>,
    /// open, merged or dismissed.
    pub status: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub merge_id: Option<Uuid>,
}

const JOB_COLUMNS: &str = "id, object, actor_id, status, records, pairs, groups_found, error, created_at, started_at, finished_at";
const GROUP_COLUMNS: &str =
    "id, job_id, object, confidence, record_ids, status, reviewed_by, reviewed_at, merge_id";

fn job_of(r: &[SqlValue]) -> Option<DuplicateJob> {
    Some(DuplicateJob {
        id: r[0].as_uuid()?,
        object: r[1].as_str()?.to_owned(),
        actor_id: r[2].as_uuid()?,
        status: r[3].as_str()?.to_owned(),
        records: r[4].as_i64().unwrap_or(0),
        pairs: r[5].as_i64().unwrap_or(0),
        groups: r[6].as_i64().unwrap_or(0),
        error: r[7].as_str().map(str::to_owned),
        created_at: r[8].as_timestamp()?,
        started_at: r[9].as_timestamp(),
        finished_at: r[10].as_timestamp(),
    })
}

fn group_of(r: &[SqlValue]) -> Option<DuplicateGroup> {
    Some(DuplicateGroup {
        id: r[0].as_uuid()?,
        job_id: r[1].as_uuid()?,
        object: r[2].as_str()?.to_owned(),
        confidence: r[3].as_i64().unwrap_or(0) as f64 / 10_000.0,
        record_ids: serde_json::from_value(json_of(&r[4])).unwrap_or_default(),
        status: r[5].as_str()?.to_owned(),
        reviewed_by: r[6].as_uuid(),
        reviewed_at: r[7].as_timestamp(),
        merge_id: r[8].as_uuid(),
    })
}

fn load_job(conn: &mut dyn Conn, id: Uuid) -> Result<Option<DuplicateJob>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {JOB_COLUMNS} FROM sys_duplicate_jobs WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .as_deref()
        .and_then(job_of))
}

fn load_group(conn: &mut dyn Conn, id: Uuid) -> Result<Option<DuplicateGroup>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {GROUP_COLUMNS} FROM sys_duplicate_groups WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .as_deref()
        .and_then(group_of))
}

/// One page of `object`'s live visible records after `after`, by id: the id and the fields
/// the rule compares.
fn scan_page(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    fields: &[String],
    vis: &Visibility,
    after: Option<Uuid>,
) -> Result<Vec<(Uuid, Record)>, CoreError> {
    let defs: Vec<_> = fields.iter().filter_map(|f| object.field(f)).collect();
    let mut cols = vec!["t.id".to_owned()];
    for f in &defs {
        cols.push(format!("t.{}", f.name()));
        if f.field_type == FieldType::Currency {
            cols.push(format!("t.{}", currency_column(f.name())));
        }
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {} FROM {} t WHERE t.deleted_at IS NULL",
        cols.join(", "),
        table_name(object)
    ));
    vis.push(&mut sql, "t.");
    if let Some(after) = after {
        sql.push(" AND t.id > ");
        sql.param(SqlValue::Uuid(after));
    }
    sql.push(&format!(" ORDER BY t.id LIMIT {SCAN_PAGE}"));
    let mut out = Vec::new();
    for row in conn.query(&sql.text, &sql.params)? {
        let Some(id) = row.first().and_then(SqlValue::as_uuid) else {
            continue;
        };
        let mut record = Record::default();
        let mut i = 1;
        for f in &defs {
            let n = if f.field_type == FieldType::Currency {
                2
            } else {
                1
            };
            let cells = row
                .get(i..i + n)
                .ok_or_else(|| CoreError::Internal("short row".into()))?;
            record.set(f.name(), relata_store::codec::decode(f, cells)?);
            i += n;
        }
        out.push((id, record));
    }
    Ok(out)
}

/// Whether `actor` reviews job `j`: its requester, or a superuser, who may read its object.
fn reviews(actor: &Actor, j: &DuplicateJob) -> bool {
    (j.actor_id == actor.user_id.0 || actor.is_superuser()) && actor.may(&j.object, Operation::Read)
}

impl Core {
    /// Wakes the duplicate-job worker.
    pub fn wake_duplicate_worker(&self) {
        self.duplicate_wake.notify_one();
    }

    /// Runs queued duplicate jobs one after another for as long as the runtime lives, taking
    /// over jobs whose process died.
    pub fn spawn_duplicate_worker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        tokio::spawn(async move {
            loop {
                match core.run_next_duplicate_job().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "duplicate job worker"),
                }
                let wait = std::time::Duration::from_secs(STALE_SECS as u64 / 3);
                let _ = tokio::time::timeout(wait, core.duplicate_wake.notified()).await;
            }
        })
    }

    /// Queues a duplicate job over `object` (administrators of metadata; the object needs an
    /// active duplicate rule).
    pub async fn start_duplicate_job(
        &self,
        actor: &Actor,
        object: &str,
    ) -> Result<DuplicateJob, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        let def = self.object(object)?;
        actor.require(def.name(), Operation::Read)?;
        if MatchRule::of(&def).is_none() {
            return Err(FieldError::new(
                "object",
                FieldErrorCode::InvalidOption,
                format!("'{}' has no active duplicate rule", def.name()),
            )
            .into());
        }
        let now = self.clock.now();
        let job = DuplicateJob {
            id: uuid_v7_at(now),
            object: def.name().to_owned(),
            actor_id: actor.user_id.0,
            status: "queued".into(),
            records: 0,
            pairs: 0,
            groups: 0,
            error: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        let (j, who) = (job.clone(), actor.into());
        self.store
            .write(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT INTO sys_duplicate_jobs ({JOB_COLUMNS}) VALUES ({})",
                        placeholders(conn.dialect(), 1, 11)
                    ),
                    &[
                        SqlValue::Uuid(j.id),
                        SqlValue::Text(j.object.clone()),
                        SqlValue::Uuid(j.actor_id),
                        SqlValue::Text(j.status.clone()),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Null,
                        SqlValue::Timestamp(j.created_at),
                        SqlValue::Null,
                        SqlValue::Null,
                    ],
                )?;
                crate::audit::append(
                    conn,
                    &who,
                    j.created_at,
                    "duplicates.job_start",
                    None,
                    serde_json::json!({"job_id": j.id.to_string(), "object": j.object}),
                )
            })
            .await?;
        self.wake_duplicate_worker();
        Ok(job)
    }

    /// Claims the oldest queued (or abandoned) job and runs it to its end. Answers the job,
    /// or `None` when none was waiting.
    pub async fn run_next_duplicate_job(&self) -> Result<Option<Uuid>, CoreError> {
        let now = self.clock.now();
        let stale = now - chrono::Duration::seconds(STALE_SECS);
        let claimed = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id FROM sys_duplicate_jobs WHERE status = 'queued' OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ");
                sql.param(SqlValue::Timestamp(stale));
                sql.push(")) ORDER BY created_at, id LIMIT 1");
                let Some(id) = conn
                    .query_one(&sql.text, &sql.params)?
                    .and_then(|r| r.first().and_then(SqlValue::as_uuid))
                else {
                    return Ok::<_, CoreError>(None);
                };
                // claimed only if still waiting: another server may have claimed it meanwhile
                let mut claim = Sql::new(conn.dialect());
                claim.push("UPDATE sys_duplicate_jobs SET status = 'running', heartbeat_at = ");
                claim.param(SqlValue::Timestamp(now));
                claim.push(", started_at = ");
                claim.param(SqlValue::Timestamp(now));
                claim.push(" WHERE id = ");
                claim.param(SqlValue::Uuid(id));
                claim.push(" AND (status = 'queued' OR heartbeat_at IS NULL OR heartbeat_at < ");
                claim.param(SqlValue::Timestamp(stale));
                claim.push(")");
                if conn.execute(&claim.text, &claim.params)? != 1 {
                    return Ok(None);
                }
                // a job taken over starts again: what it wrote before goes
                let mut clear = Sql::new(conn.dialect());
                clear.push("DELETE FROM sys_duplicate_groups WHERE job_id = ");
                clear.param(SqlValue::Uuid(id));
                conn.execute(&clear.text, &clear.params)?;
                load_job(conn, id)
            })
            .await?;
        let Some(job) = claimed else {
            return Ok(None);
        };
        let id = job.id;
        if let Err(e) = self.run_duplicate_job(&job).await {
            tracing::warn!(job = %id, error = %e, "duplicate job failed");
            self.finish_duplicate_job(id, Err(e.to_string())).await?;
        }
        Ok(Some(id))
    }

    async fn run_duplicate_job(&self, job: &DuplicateJob) -> Result<(), CoreError> {
        let access = self.fresh_access_of(UserId(job.actor_id)).await?;
        let actor = Actor::user(access, Source::System);
        let def = self.object(&job.object)?;
        let rule = MatchRule::of(&def).ok_or_else(|| CoreError::Conflict {
            code: "no_rule",
            message: format!("'{}' has no active duplicate rule", def.name()),
        })?;
        // the fields the requester may read: a hidden field neither counts nor shows
        let rule = self.matching_rule(&actor, &def).unwrap_or(rule);
        let vis = self.visibility(&actor, &def, Operation::Read)?;
        let fields: Vec<String> = rule.fields.iter().flat_map(|f| f.fields.clone()).collect();
        let region = self.phone_region();
        let mut prepared: Vec<Prepared> = Vec::new();
        let mut after = None;
        loop {
            let (obj, fs, v) = (def.clone(), fields.clone(), vis.clone());
            let page = self
                .store
                .read(move |conn| scan_page(conn, &obj, &fs, &v, after))
                .await?;
            let done = page.len() < SCAN_PAGE;
            after = page.last().map(|(id, _)| *id);
            prepared.extend(
                page.iter()
                    .map(|(id, record)| Prepared::new(&rule, *id, record, &region)),
            );
            self.duplicate_heartbeat(job.id, prepared.len() as i64)
                .await?;
            if done {
                break;
            }
        }
        let records = prepared.len() as i64;
        let (found, prepared) = {
            let rule = rule.clone();
            let mut matching =
                tokio::task::spawn_blocking(move || (find_groups(&rule, &prepared), prepared));
            // the job stays ours while it matches, however long that takes
            let mut beat =
                tokio::time::interval(std::time::Duration::from_secs(STALE_SECS as u64 / 4));
            beat.tick().await;
            loop {
                tokio::select! {
                    done = &mut matching => {
                        break done.map_err(|e| CoreError::Internal(format!("matching: {e}")))?;
                    }
                    _ = beat.tick() => self.duplicate_heartbeat(job.id, records).await?,
                }
            }
        };
        self.write_groups(job, &found, &prepared).await?;
        self.finish_duplicate_job(
            job.id,
            Ok((records, found.pairs as i64, found.groups.len() as i64)),
        )
        .await
    }

    async fn duplicate_heartbeat(&self, id: Uuid, records: i64) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_duplicate_jobs SET heartbeat_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(", records = ");
                sql.param(SqlValue::Int(records));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok(())
            })
            .await
    }

    async fn write_groups(
        &self,
        job: &DuplicateJob,
        found: &Found,
        prepared: &[Prepared],
    ) -> Result<(), CoreError> {
        let rows: Vec<(Uuid, i64, Vec<String>)> = found
            .groups
            .iter()
            .map(|g| {
                let ids: Vec<String> = g
                    .members
                    .iter()
                    .map(|i| prepared[*i].id.to_string())
                    .collect();
                (
                    uuid_v7_at(self.clock.now()),
                    (g.confidence * 10_000.0).round() as i64,
                    ids,
                )
            })
            .collect();
        for chunk in rows.chunks(WRITE_BATCH) {
            let (chunk, job_id, object, now) =
                (chunk.to_vec(), job.id, job.object.clone(), self.clock.now());
            self.store
                .write(move |conn| {
                    let insert = format!(
                        "INSERT INTO sys_duplicate_groups (id, job_id, object, confidence, record_ids, status) VALUES ({}, 'open')",
                        placeholders(conn.dialect(), 1, 5)
                    );
                    for (id, confidence, ids) in &chunk {
                        conn.execute(
                            &insert,
                            &[
                                SqlValue::Uuid(*id),
                                SqlValue::Uuid(job_id),
                                SqlValue::Text(object.clone()),
                                SqlValue::Int(*confidence),
                                SqlValue::Json(serde_json::json!(ids)),
                            ],
                        )?;
                    }
                    let mut beat = Sql::new(conn.dialect());
                    beat.push("UPDATE sys_duplicate_jobs SET heartbeat_at = ");
                    beat.param(SqlValue::Timestamp(now));
                    beat.push(" WHERE id = ");
                    beat.param(SqlValue::Uuid(job_id));
                    conn.execute(&beat.text, &beat.params)?;
                    Ok::<_, CoreError>(())
                })
                .await?;
        }
        Ok(())
    }

    async fn finish_duplicate_job(
        &self,
        id: Uuid,
        outcome: Result<(i64, i64, i64), String>,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                match &outcome {
                    Ok((records, pairs, groups)) => {
                        sql.push("UPDATE sys_duplicate_jobs SET status = 'done', records = ");
                        sql.param(SqlValue::Int(*records));
                        sql.push(", pairs = ");
                        sql.param(SqlValue::Int(*pairs));
                        sql.push(", groups_found = ");
                        sql.param(SqlValue::Int(*groups));
                    }
                    Err(message) => {
                        sql.push("UPDATE sys_duplicate_jobs SET status = 'failed', error = ");
                        sql.param(SqlValue::Text(message.clone()));
                    }
                }
                sql.push(", finished_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(", heartbeat_at = NULL WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok(())
            })
            .await
    }

    /// The duplicate jobs of `object` (all objects when `None`), newest first.
    pub async fn duplicate_jobs(
        &self,
        actor: &Actor,
        object: Option<&str>,
    ) -> Result<Vec<DuplicateJob>, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        let object = object.map(str::to_owned);
        let jobs: Vec<DuplicateJob> = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {JOB_COLUMNS} FROM sys_duplicate_jobs WHERE 1=1"
                ));
                if let Some(o) = object {
                    sql.push(" AND object = ");
                    sql.param(SqlValue::Text(o));
                }
                sql.push(" ORDER BY created_at DESC, id DESC LIMIT 100");
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| job_of(r))
                        .collect(),
                )
            })
            .await?;
        Ok(jobs.into_iter().filter(|j| reviews(actor, j)).collect())
    }

    /// One duplicate job.
    pub async fn duplicate_job(&self, actor: &Actor, id: Uuid) -> Result<DuplicateJob, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        self.store
            .read(move |conn| load_job(conn, id))
            .await?
            .filter(|j| reviews(actor, j))
            .ok_or_else(|| CoreError::not_found(format!("duplicate job {id}")))
    }

    /// A job's groups with `status`, most confident first, each with its live members the
    /// actor may see (an open group with fewer than two left is not shown). `offset` pages through them.
    pub async fn duplicate_groups(
        &self,
        actor: &Actor,
        job: Uuid,
        status: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<(DuplicateGroup, Vec<Record>)>, CoreError> {
        let job = self.duplicate_job(actor, job).await?;
        let def = self.object(&job.object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        // an offset past any queue still has to fit the databases' integers
        let (status, limit, offset) = (status.to_owned(), limit.clamp(1, 200), offset.min(1 << 40));
        let groups = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {GROUP_COLUMNS} FROM sys_duplicate_groups WHERE job_id = "
                ));
                sql.param(SqlValue::Uuid(job.id));
                sql.push(" AND status = ");
                sql.param(SqlValue::Text(status));
                sql.push(&format!(
                    " ORDER BY confidence DESC, id LIMIT {limit} OFFSET {offset}"
                ));
                let groups: Vec<DuplicateGroup> = conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| group_of(r))
                    .collect();
                let ids: Vec<Uuid> = groups.iter().flat_map(|g| g.record_ids.clone()).collect();
                let seen = read::get_many(conn, &def, &ids, &vis)?;
                Ok::<_, CoreError>(
                    groups
                        .into_iter()
                        .map(|g| {
                            let members: Vec<Record> = g
                                .record_ids
                                .iter()
                                .filter_map(|id| seen.get(id).cloned())
                                .collect();
                            (g, members)
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .await?;
        let obj = self.object(&job.object)?;
        Ok(groups
            .into_iter()
            // an open group needs two records left to review; a reviewed one is history
            .filter(|(g, members)| g.status != "open" || members.len() >= 2)
            .map(|(g, mut members)| {
                for r in &mut members {
                    crate::fields::redact(actor, &obj, r);
                }
                (g, members)
            })
            .collect())
    }

    async fn open_group(&self, actor: &Actor, id: Uuid) -> Result<DuplicateGroup, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        let group = self
            .store
            .read(move |conn| load_group(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("duplicate group {id}")))?;
        // the group's job must be one the actor reviews
        self.duplicate_job(actor, group.job_id)
            .await
            .map_err(|_| CoreError::not_found(format!("duplicate group {id}")))?;
        if group.status != "open" {
            return Err(CoreError::Conflict {
                code: "group_reviewed",
                message: format!("the group was {} already", group.status),
            });
        }
        Ok(group)
    }

    async fn close_group(
        &self,
        actor: &Actor,
        id: Uuid,
        status: &'static str,
        merge: Option<Uuid>,
    ) -> Result<(), CoreError> {
        let (now, me, who) = (self.clock.now(), actor.user_id.0, actor.into());
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_duplicate_groups SET status = ");
                sql.param(SqlValue::Text(status.into()));
                sql.push(", reviewed_by = ");
                sql.param(SqlValue::Uuid(me));
                sql.push(", reviewed_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(", merge_id = ");
                sql.param(merge.map_or(SqlValue::Null, SqlValue::Uuid));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                sql.push(" AND status = 'open'");
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    &format!("duplicates.group_{status}"),
                    None,
                    serde_json::json!({"group_id": id.to_string(), "merge_id": merge.map(|m| m.to_string())}),
                )
            })
            .await
    }

    /// Marks a group as not duplicates.
    pub async fn dismiss_duplicate_group(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.open_group(actor, id).await?;
        self.close_group(actor, id, "dismissed", None).await
    }

    /// Merges a group's members the actor may see into one: `survivor` if given, else the
    /// one the merge would suggest (the most complete), each field by `strategy`. The merge
    /// itself checks the actor's rights on every record and can be undone as any merge.
    pub async fn merge_duplicate_group(
        &self,
        actor: &Actor,
        id: Uuid,
        survivor: Option<Uuid>,
        strategy: MergeStrategy,
    ) -> Result<MergeOutcome, CoreError> {
        let group = self.open_group(actor, id).await?;
        let def = self.object(&group.object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        let (obj, ids) = (def.clone(), group.record_ids.clone());
        let seen = self
            .store
            .read(move |conn| read::get_many(conn, &obj, &ids, &vis))
            .await?;
        let members: Vec<Uuid> = group
            .record_ids
            .iter()
            .copied()
            .filter(|i| seen.contains_key(i))
            .collect();
        if members.len() < 2 {
            return Err(CoreError::Conflict {
                code: "group_gone",
                message: "fewer than two of the group's records are left to merge".into(),
            });
        }
        let keep = match survivor {
            Some(s) if members.contains(&s) => s,
            Some(s) => {
                return Err(FieldError::new(
                    "survivor",
                    FieldErrorCode::InvalidOption,
                    format!("{s} is not a record of this group"),
                )
                .into());
            }
            None => {
                let records: Vec<Record> = members
                    .iter()
                    .filter_map(|i| seen.get(i).cloned())
                    .collect();
                members[relata_domain::dedupe::merge::suggested_survivor(&def, &records)]
            }
        };
        let req = MergeRequest {
            records: members.iter().copied().filter(|m| *m != keep).collect(),
            strategy,
            ..MergeRequest::default()
        };
        let outcome = self.merge_records(actor, def.name(), keep, req).await?;
        self.close_group(actor, id, "merged", Some(outcome.merge_id))
            .await?;
        Ok(outcome)
    }

    /// Merges several reviewed groups, each in its own transaction: one that fails (a
    /// record changed or locked meanwhile) is reported and leaves the others merged.
    pub async fn merge_duplicate_groups(
        &self,
        actor: &Actor,
        ids: &[Uuid],
        strategy: MergeStrategy,
    ) -> Result<Vec<(Uuid, Result<MergeOutcome, CoreError>)>, CoreError> {
        if ids.is_empty() || ids.len() > MAX_BULK_MERGE {
            return Err(FieldError::new(
                "groups",
                FieldErrorCode::TooLarge,
                format!("give 1-{MAX_BULK_MERGE} groups"),
            )
            .into());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push((
                *id,
                self.merge_duplicate_group(actor, *id, None, strategy).await,
            ));
        }
        Ok(out)
    }
}
