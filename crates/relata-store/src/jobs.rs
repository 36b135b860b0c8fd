//! The durable job queue and recurring schedules, as tables and the statements over them.
//! A job is a row written in the same transaction as the change that causes it; workers claim
//! due jobs in batches, holding each under a lease, and record how each try ended.
//!
//! Claiming is the one place the backends differ: on PostgreSQL the claim skips rows another
//! process holds locked (`FOR UPDATE SKIP LOCKED`), so several servers share one queue and no
//! job is claimed twice; on SQLite every claim runs on the single writer, one after another.
//! A job whose lease ran out (its worker died) is claimed again: jobs run at least once, and
//! their handlers are written to be idempotent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::conn::Conn;
use crate::dialect::ColType::*;
use crate::dialect::{Dialect, Sql};
use crate::error::StoreError;
use crate::schema::{ColumnDef, TableDef};
use crate::sql_value::SqlValue;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its time (`run_at`) and a worker.
    Queued,
    /// Held by a worker until its lease ends.
    Running,
    Done,
    /// Dead letter: it failed its last try, or failed in a way no retry mends.
    Failed,
    /// Cancelled by an administrator before it ran.
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The handler that runs it, e.g. `webhook.deliver`.
    pub kind: String,
    pub payload: Json,
    /// Higher runs first among due jobs.
    pub priority: i32,
    /// Not before this time (a delayed job).
    pub run_at: DateTime<Utc>,
    /// Tries before it is dead-lettered.
    pub max_attempts: i32,
    /// At most one job per kind and key, ever: enqueueing it again does nothing. How a mail
    /// is sent once however often the change that sends it is replayed.
    pub idempotency_key: Option<String>,
    /// The recurring schedule that enqueued it, if any.
    pub schedule_id: Option<Uuid>,
}

impl NewJob {
    /// A job of `kind` due at `now`, with the default priority and tries.
    pub fn new(kind: &str, payload: Json, now: DateTime<Utc>) -> NewJob {
        NewJob {
            kind: kind.to_owned(),
            payload,
            priority: 0,
            run_at: now,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            idempotency_key: None,
            schedule_id: None,
        }
    }
}

/// Tries of a job before it is dead-lettered, unless it says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: Json,
    pub priority: i32,
    pub status: JobStatus,
    pub run_at: DateTime<Utc>,
    /// Tries started so far.
    pub attempts: i32,
    pub max_attempts: i32,
    pub idempotency_key: Option<String>,
    pub schedule_id: Option<Uuid>,
    /// The worker holding it while it runs; once it has ended (done or dead), the worker
    /// that ran its last try.
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str = "id, kind, payload, claim_rank, status, run_at, attempts, max_attempts, \
     idempotency_key, schedule_id, locked_by, locked_until, last_error, created_at, started_at, \
     finished_at";

/// The queue's tables (migration 18).
pub fn tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_jobs",
            vec![
                ColumnDef::new("id", Uuid),
                ColumnDef::new("kind", Text),
                ColumnDef::new("payload", Json),
                // minus the priority: claims read the index forwards, lowest rank first,
                // oldest first within it, and stop after a batch (both backends sorted every
                // due job for `priority DESC, run_at`, which no one-direction index serves)
                ColumnDef::new("claim_rank", BigInt),
                ColumnDef::new("status", Text),
                ColumnDef::new("run_at", Timestamp),
                ColumnDef::new("attempts", BigInt),
                ColumnDef::new("max_attempts", BigInt),
                ColumnDef::new("idempotency_key", Text).null(),
                ColumnDef::new("schedule_id", Uuid).null(),
                ColumnDef::new("locked_by", Text).null(),
                ColumnDef::new("locked_until", Timestamp).null(),
                ColumnDef::new("last_error", Text).null(),
                ColumnDef::new("created_at", Timestamp),
                ColumnDef::new("started_at", Timestamp).null(),
                ColumnDef::new("finished_at", Timestamp).null(),
            ],
            &["id"],
        )
        // the claim: due queued jobs, highest priority first, oldest first within it
        .index(&["status", "claim_rank", "run_at"], false)
        // jobs whose lease ran out
        .index(&["status", "locked_until"], false)
        .index(&["kind", "idempotency_key"], true)
        .index(&["status", "finished_at"], false),
        TableDef::new(
            "sys_schedules",
            vec![
                ColumnDef::new("id", Uuid),
                ColumnDef::new("name", Text),
                ColumnDef::new("kind", Text),
                ColumnDef::new("payload", Json),
                ColumnDef::new("cron", Text),
                ColumnDef::new("time_zone", Text),
                ColumnDef::new("enabled", Bool),
                ColumnDef::new("next_run_at", Timestamp).null(),
                ColumnDef::new("last_run_at", Timestamp).null(),
                ColumnDef::new("created_at", Timestamp),
                ColumnDef::new("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["name"], true)
        .index(&["enabled", "next_run_at"], false),
    ]
}

/// Migration 18.
pub fn create_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Enqueues many jobs in the caller's transaction in a few multi-row statements; a job whose
/// idempotency key exists already is left out. For fan-outs that queue thousands at once.
pub fn enqueue_many(
    conn: &mut dyn Conn,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<Vec<SqlValue>> = jobs
        .iter()
        .map(|job| job_row(relata_domain::ids::uuid_v7_at(now), job, now))
        .collect();
    crate::batch::insert_rows(
        conn,
        "sys_jobs",
        &JOB_INSERT_COLUMNS,
        &rows,
        crate::batch::OnDuplicate::Skip,
    )
}

const JOB_INSERT_COLUMNS: [&str; 11] = [
    "id",
    "kind",
    "payload",
    "claim_rank",
    "status",
    "run_at",
    "attempts",
    "max_attempts",
    "idempotency_key",
    "schedule_id",
    "created_at",
];

fn job_row(id: Uuid, job: &NewJob, now: DateTime<Utc>) -> Vec<SqlValue> {
    vec![
        SqlValue::Uuid(id),
        SqlValue::Text(job.kind.clone()),
        SqlValue::Json(job.payload.clone()),
        SqlValue::Int(-i64::from(job.priority)),
        SqlValue::Text(JobStatus::Queued.as_str().into()),
        SqlValue::Timestamp(job.run_at),
        SqlValue::Int(0),
        SqlValue::Int(i64::from(job.max_attempts.max(1))),
        job.idempotency_key
            .clone()
            .map_or(SqlValue::Null, SqlValue::Text),
        job.schedule_id.map_or(SqlValue::Null, SqlValue::Uuid),
        SqlValue::Timestamp(now),
    ]
}

/// Enqueues `job` in the caller's transaction. Answers its id, or `None` when a job of the
/// same kind with the same idempotency key exists (whatever its status).
pub fn enqueue(
    conn: &mut dyn Conn,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let id = relata_domain::ids::uuid_v7_at(now);
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "INSERT INTO sys_jobs ({}) VALUES (",
        JOB_INSERT_COLUMNS.join(", ")
    ));
    for (i, v) in job_row(id, job, now).into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(v);
    }
    sql.push(") ON CONFLICT DO NOTHING");
    Ok((conn.execute(&sql.text, &sql.params)? == 1).then_some(id))
}

/// Whether any job of `kinds` could be claimed at `now`: a cheap read, so that idle workers
/// polling the queue do not open a write transaction every time they look.
pub fn any_due(
    conn: &mut dyn Conn,
    kinds: &[String],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if kinds.is_empty() {
        return Ok(false);
    }
    for expired in [false, true] {
        let sql = due_ids(conn.dialect(), kinds, now, expired, 1, false);
        if conn.query_one(&sql.text, &sql.params)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ids of claimable jobs of `kinds`, in claim order: queued ones whose time has come
/// (`expired` false), or running ones whose lease ran out (`expired` true). Two queries
/// rather than one with `OR`, so each walks its own index and stops after `limit` rows.
fn due_ids(
    dialect: Dialect,
    kinds: &[String],
    now: DateTime<Utc>,
    expired: bool,
    limit: usize,
    lock: bool,
) -> Sql {
    let mut sql = Sql::new(dialect);
    if expired {
        sql.push("SELECT id FROM sys_jobs WHERE status = 'running' AND locked_until < ");
    } else {
        sql.push("SELECT id FROM sys_jobs WHERE status = 'queued' AND run_at <= ");
    }
    sql.param(SqlValue::Timestamp(now));
    sql.push(" AND kind IN (");
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Text(k.clone()));
    }
    sql.push(")");
    if expired {
        sql.push(&format!(" ORDER BY locked_until, id LIMIT {limit}"));
    } else {
        sql.push(&format!(" ORDER BY claim_rank, run_at, id LIMIT {limit}"));
    }
    if lock && dialect == Dialect::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql
}

/// Whether any enabled schedule is due at `now` (a read, as [`any_due`]).
pub fn any_schedule_due(conn: &mut dyn Conn, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT 1 FROM sys_schedules WHERE enabled = TRUE AND next_run_at <= ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" LIMIT 1");
    Ok(conn.query_one(&sql.text, &sql.params)?.is_some())
}

/// Claims up to `limit` due jobs of `kinds` for `worker` until `lease_until`: queued jobs
/// whose time has come, and running jobs whose lease ran out (their worker died). Each
/// claim counts as a try.
pub fn claim(
    conn: &mut dyn Conn,
    worker: &str,
    kinds: &[String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Job>, StoreError> {
    if kinds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let d = conn.dialect();
    // leases that ran out first: their jobs have waited longest
    let mut ids: Vec<Uuid> = Vec::new();
    for expired in [true, false] {
        let want = limit - ids.len();
        if want == 0 {
            break;
        }
        let pick = due_ids(d, kinds, now, expired, want, true);
        ids.extend(
            conn.query(&pick.text, &pick.params)?
                .iter()
                .filter_map(|r| r[0].as_uuid()),
        );
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut take = Sql::new(d);
    take.push("UPDATE sys_jobs SET status = 'running', attempts = attempts + 1, locked_by = ");
    take.param(SqlValue::Text(worker.to_owned()));
    take.push(", locked_until = ");
    take.param(SqlValue::Timestamp(lease_until));
    take.push(", started_at = ");
    take.param(SqlValue::Timestamp(now));
    take.push(" WHERE id");
    push_ids(&mut take, &ids);
    conn.execute(&take.text, &take.params)?;
    let mut jobs = load(conn, &ids)?;
    // the claim's order: priority, then time
    jobs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(a.id.cmp(&b.id))
    });
    Ok(jobs)
}

/// How a try ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Done,
    /// Failed; tried again at this time.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Failed for good: dead letter.
    Dead {
        error: String,
    },
}

/// Records how `worker`'s try of job `id` ended. Answers false when the job is no longer
/// `worker`'s (its lease ran out and another worker claimed it): that worker's try counts.
pub fn finish(
    conn: &mut dyn Conn,
    id: Uuid,
    worker: &str,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    match outcome {
        Outcome::Done => {
            sql.push("UPDATE sys_jobs SET status = 'done', last_error = NULL, locked_until = NULL, finished_at = ");
            sql.param(SqlValue::Timestamp(now));
        }
        Outcome::Retry { error, at } => {
            sql.push("UPDATE sys_jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, last_error = ");
            sql.param(SqlValue::Text(error.clone()));
            sql.push(", run_at = ");
            sql.param(SqlValue::Timestamp(*at));
        }
        Outcome::Dead { error } => {
            sql.push("UPDATE sys_jobs SET status = 'failed', locked_until = NULL, last_error = ");
            sql.param(SqlValue::Text(error.clone()));
            sql.push(", finished_at = ");
            sql.param(SqlValue::Timestamp(now));
        }
    }
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    sql.push(" AND status = 'running' AND locked_by = ");
    sql.param(SqlValue::Text(worker.to_owned()));
    Ok(conn.execute(&sql.text, &sql.params)? == 1)
}

/// Records that `worker`'s tries of `ids` all succeeded, in one statement. Answers how many
/// were still `worker`'s (a job whose lease another worker took over is left to it).
pub fn finish_done(
    conn: &mut dyn Conn,
    ids: &[Uuid],
    worker: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_jobs SET status = 'done', last_error = NULL, locked_until = NULL, finished_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE status = 'running' AND locked_by = ");
    sql.param(SqlValue::Text(worker.to_owned()));
    sql.push(" AND id");
    push_ids(&mut sql, ids);
    conn.execute(&sql.text, &sql.params)
}

/// Keeps every job `worker` is running leased until `until` (its heartbeat).
pub fn extend_lease(
    conn: &mut dyn Conn,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_jobs SET locked_until = ");
    sql.param(SqlValue::Timestamp(until));
    sql.push(" WHERE status = 'running' AND locked_by = ");
    sql.param(SqlValue::Text(worker.to_owned()));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

/// Puts a dead or cancelled job back in the queue, due now, with its tries counted afresh.
/// Answers false when the job is not dead or cancelled.
pub fn retry(conn: &mut dyn Conn, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_jobs SET status = 'queued', attempts = 0, locked_by = NULL, finished_at = NULL, run_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    sql.push(" AND status IN ('failed', 'cancelled')");
    Ok(conn.execute(&sql.text, &sql.params)? == 1)
}

/// Cancels a job that has not started (a running one finishes its try). Answers false when
/// the job is not queued.
pub fn cancel(conn: &mut dyn Conn, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_jobs SET status = 'cancelled', finished_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    sql.push(" AND status = 'queued'");
    Ok(conn.execute(&sql.text, &sql.params)? == 1)
}

/// Removes jobs that ended (done or cancelled) before `before`; dead letters stay until an
/// administrator retries them.
pub fn purge_finished(conn: &mut dyn Conn, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("DELETE FROM sys_jobs WHERE status IN ('done', 'cancelled') AND finished_at < ");
    sql.param(SqlValue::Timestamp(before));
    conn.execute(&sql.text, &sql.params)
}

/// Which jobs a listing shows.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    /// Newest first; only jobs created before this one (the next page).
    pub before: Option<Uuid>,
    pub limit: usize,
}

/// Jobs newest first.
pub fn list(conn: &mut dyn Conn, q: &JobQuery) -> Result<Vec<Job>, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {JOB_COLUMNS} FROM sys_jobs WHERE 1 = 1"));
    if let Some(s) = q.status {
        sql.push(" AND status = ");
        sql.param(SqlValue::Text(s.as_str().into()));
    }
    if let Some(k) = &q.kind {
        sql.push(" AND kind = ");
        sql.param(SqlValue::Text(k.clone()));
    }
    if let Some(b) = q.before {
        sql.push(" AND id < ");
        sql.param(SqlValue::Uuid(b));
    }
    sql.push(&format!(
        " ORDER BY id DESC LIMIT {}",
        q.limit.clamp(1, 500)
    ));
    conn.query(&sql.text, &sql.params)?
        .iter()
        .map(|r| decode(r))
        .collect()
}

/// One job.
pub fn get(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Job>, StoreError> {
    Ok(load(conn, &[id])?.pop())
}

/// Jobs per status.
pub fn counts(conn: &mut dyn Conn) -> Result<Vec<(JobStatus, i64)>, StoreError> {
    let rows = conn.query("SELECT status, COUNT(*) FROM sys_jobs GROUP BY status", &[])?;
    Ok(JobStatus::ALL
        .into_iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|r| r[0].as_str() == Some(s.as_str()))
                .and_then(|r| r[1].as_i64())
                .unwrap_or(0);
            (s, n)
        })
        .collect())
}

fn load(conn: &mut dyn Conn, ids: &[Uuid]) -> Result<Vec<Job>, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {JOB_COLUMNS} FROM sys_jobs WHERE id"));
    push_ids(&mut sql, ids);
    conn.query(&sql.text, &sql.params)?
        .iter()
        .map(|r| decode(r))
        .collect()
}

fn push_ids(sql: &mut Sql, ids: &[Uuid]) {
    sql.push(" IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*id));
    }
    sql.push(")");
}

fn json_of(v: &SqlValue) -> Json {
    match v {
        SqlValue::Json(j) => j.clone(),
        SqlValue::Text(s) => serde_json::from_str(s).unwrap_or(Json::Null),
        _ => Json::Null,
    }
}

fn decode(r: &[SqlValue]) -> Result<Job, StoreError> {
    let bad = |what: &str| StoreError::Internal(format!("sys_jobs row without {what}"));
    Ok(Job {
        id: r[0].as_uuid().ok_or_else(|| bad("id"))?,
        kind: r[1].as_str().ok_or_else(|| bad("kind"))?.to_owned(),
        payload: json_of(&r[2]),
        priority: -r[3].as_i64().unwrap_or(0) as i32,
        status: r[4]
            .as_str()
            .and_then(JobStatus::parse)
            .ok_or_else(|| bad("status"))?,
        run_at: r[5].as_timestamp().ok_or_else(|| bad("run_at"))?,
        attempts: r[6].as_i64().unwrap_or(0) as i32,
        max_attempts: r[7].as_i64().unwrap_or(1) as i32,
        idempotency_key: r[8].as_str().map(str::to_owned),
        schedule_id: r[9].as_uuid(),
        locked_by: r[10].as_str().map(str::to_owned),
        locked_until: r[11].as_timestamp(),
        last_error: r[12].as_str().map(str::to_owned),
        created_at: r[13].as_timestamp().ok_or_else(|| bad("created_at"))?,
        started_at: r[14].as_timestamp(),
        finished_at: r[15].as_timestamp(),
    })
}

/// A recurring schedule as stored: `kind` is enqueued with `payload` at every time `cron`
/// (read in `time_zone`) names.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub payload: Json,
    pub cron: String,
    pub time_zone: String,
    pub enabled: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
}

const SCHEDULE_COLUMNS: &str =
    "id, name, kind, payload, cron, time_zone, enabled, next_run_at, last_run_at";

/// Creates or replaces the schedule called `s.name` (its id kept when it exists).
pub fn put_schedule(
    conn: &mut dyn Conn,
    s: &Schedule,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let d = conn.dialect();
    let mut find = Sql::new(d);
    find.push("SELECT id FROM sys_schedules WHERE name = ");
    find.param(SqlValue::Text(s.name.clone()));
    let existing = conn
        .query_one(&find.text, &find.params)?
        .and_then(|r| r[0].as_uuid());
    let mut sql = Sql::new(d);
    let id = match existing {
        Some(id) => {
            sql.push("UPDATE sys_schedules SET kind = ");
            sql.param(SqlValue::Text(s.kind.clone()));
            sql.push(", payload = ");
            sql.param(SqlValue::Json(s.payload.clone()));
            sql.push(", cron = ");
            sql.param(SqlValue::Text(s.cron.clone()));
            sql.push(", time_zone = ");
            sql.param(SqlValue::Text(s.time_zone.clone()));
            sql.push(", enabled = ");
            sql.param(SqlValue::Bool(s.enabled));
            sql.push(", next_run_at = ");
            sql.param(s.next_run_at.map_or(SqlValue::Null, SqlValue::Timestamp));
            sql.push(", updated_at = ");
            sql.param(SqlValue::Timestamp(now));
            sql.push(" WHERE id = ");
            sql.param(SqlValue::Uuid(id));
            id
        }
        None => {
            let id = relata_domain::ids::uuid_v7_at(now);
            sql.push("INSERT INTO sys_schedules (id, name, kind, payload, cron, time_zone, enabled, next_run_at, created_at, updated_at) VALUES (");
            let values = [
                SqlValue::Uuid(id),
                SqlValue::Text(s.name.clone()),
                SqlValue::Text(s.kind.clone()),
                SqlValue::Json(s.payload.clone()),
                SqlValue::Text(s.cron.clone()),
                SqlValue::Text(s.time_zone.clone()),
                SqlValue::Bool(s.enabled),
                s.next_run_at.map_or(SqlValue::Null, SqlValue::Timestamp),
                SqlValue::Timestamp(now),
                SqlValue::Timestamp(now),
            ];
            for (i, v) in values.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.param(v);
            }
            sql.push(")");
            id
        }
    };
    conn.execute(&sql.text, &sql.params)?;
    Ok(id)
}

/// Every schedule, by name.
pub fn schedules(conn: &mut dyn Conn) -> Result<Vec<Schedule>, StoreError> {
    conn.query(
        &format!("SELECT {SCHEDULE_COLUMNS} FROM sys_schedules ORDER BY name"),
        &[],
    )?
    .iter()
    .map(|r| decode_schedule(r))
    .collect()
}

/// Enabled schedules whose time has come, locked against other processes on PostgreSQL
/// until the caller's transaction ends (it enqueues their jobs and moves them on).
pub fn due_schedules(conn: &mut dyn Conn, now: DateTime<Utc>) -> Result<Vec<Schedule>, StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM sys_schedules WHERE enabled = TRUE AND next_run_at <= "
    ));
    sql.param(SqlValue::Timestamp(now));
    sql.push(" ORDER BY next_run_at LIMIT 100");
    if conn.dialect() == Dialect::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    conn.query(&sql.text, &sql.params)?
        .iter()
        .map(|r| decode_schedule(r))
        .collect()
}

/// Records that schedule `id` fired at `fired` and next fires at `next`.
pub fn advance_schedule(
    conn: &mut dyn Conn,
    id: Uuid,
    fired: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_schedules SET last_run_at = ");
    sql.param(SqlValue::Timestamp(fired));
    sql.push(", next_run_at = ");
    sql.param(next.map_or(SqlValue::Null, SqlValue::Timestamp));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

fn decode_schedule(r: &[SqlValue]) -> Result<Schedule, StoreError> {
    let bad = |what: &str| StoreError::Internal(format!("sys_schedules row without {what}"));
    Ok(Schedule {
        id: r[0].as_uuid().ok_or_else(|| bad("id"))?,
        name: r[1].as_str().ok_or_else(|| bad("name"))?.to_owned(),
        kind: r[2].as_str().ok_or_else(|| bad("kind"))?.to_owned(),
        payload: json_of(&r[3]),
        cron: r[4].as_str().unwrap_or_default().to_owned(),
        time_zone: r[5].as_str().unwrap_or("UTC").to_owned(),
        enabled: r[6].as_bool().unwrap_or(false),
        next_run_at: r[7].as_timestamp(),
        last_run_at: r[8].as_timestamp(),
    })
}
