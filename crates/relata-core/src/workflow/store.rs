//! The rows of rules, versions and runs, and the statements over them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::{Conn, Sql, SqlValue};

use super::{Rule, Version};
use crate::error::CoreError;
use crate::records::json_of;

const RULE_COLUMNS: &str = "id, name, object, enabled, version, definition, owner_id, failures, last_error, last_error_at, created_at, updated_at, since_seq";

fn decode_rule(r: &[SqlValue]) -> Option<Rule> {
    Some(Rule {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        object: r[2].as_str()?.to_owned(),
        enabled: r[3].as_bool()?,
        version: r[4].as_i64()?,
        definition: json_of(&r[5]),
        owner_id: r[6].as_uuid()?,
        failures: r[7].as_i64().unwrap_or(0),
        last_error: r[8].as_str().map(str::to_owned),
        last_error_at: r[9].as_timestamp(),
        created_at: r[10].as_timestamp()?,
        updated_at: r[11].as_timestamp()?,
        since_seq: r[12].as_i64().unwrap_or(0),
    })
}

/// Every rule, or the one with `id`.
pub(crate) fn rules(conn: &mut dyn Conn, id: Option<Uuid>) -> Result<Vec<Rule>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {RULE_COLUMNS} FROM sys_workflow_rules"));
    if let Some(id) = id {
        sql.push(" WHERE id = ");
        sql.param(SqlValue::Uuid(id));
    }
    sql.push(" ORDER BY object, name, id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode_rule(r))
        .collect())
}

/// The enabled rules, for the fan-out.
pub(crate) fn enabled_rules(conn: &mut dyn Conn) -> Result<Vec<Rule>, CoreError> {
    Ok(rules(conn, None)?
        .into_iter()
        .filter(|r| r.enabled)
        .collect())
}

pub(crate) struct RuleRow<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub object: &'a str,
    pub enabled: bool,
    pub version: i64,
    pub definition: &'a Json,
    pub since_seq: i64,
    pub owner: Uuid,
    pub now: DateTime<Utc>,
}

pub(crate) fn put_rule(conn: &mut dyn Conn, r: &RuleRow<'_>, new: bool) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    if new {
        sql.push("INSERT INTO sys_workflow_rules (id, name, object, enabled, version, definition, since_seq, owner_id, failures, created_at, updated_at) VALUES (");
        sql.param(SqlValue::Uuid(r.id));
        for v in [
            SqlValue::Text(r.name.to_owned()),
            SqlValue::Text(r.object.to_owned()),
            SqlValue::Bool(r.enabled),
            SqlValue::Int(r.version),
            SqlValue::Json(r.definition.clone()),
            SqlValue::Int(r.since_seq),
            SqlValue::Uuid(r.owner),
            SqlValue::Int(0),
            SqlValue::Timestamp(r.now),
            SqlValue::Timestamp(r.now),
        ] {
            sql.push(", ");
            sql.param(v);
        }
        sql.push(")");
    } else {
        sql.push("UPDATE sys_workflow_rules SET name = ");
        sql.param(SqlValue::Text(r.name.to_owned()));
        sql.push(", enabled = ");
        sql.param(SqlValue::Bool(r.enabled));
        sql.push(", version = ");
        sql.param(SqlValue::Int(r.version));
        sql.push(", definition = ");
        sql.param(SqlValue::Json(r.definition.clone()));
        sql.push(", since_seq = ");
        sql.param(SqlValue::Int(r.since_seq));
        sql.push(", owner_id = ");
        sql.param(SqlValue::Uuid(r.owner));
        sql.push(", updated_at = ");
        sql.param(SqlValue::Timestamp(r.now));
        sql.push(" WHERE id = ");
        sql.param(SqlValue::Uuid(r.id));
    }
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

pub(crate) fn add_version(
    conn: &mut dyn Conn,
    rule: Uuid,
    version: i64,
    definition: &Json,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    insert_rows(
        conn,
        "sys_workflow_versions",
        &["rule_id", "version", "definition", "saved_by", "saved_at"],
        &[vec![
            SqlValue::Uuid(rule),
            SqlValue::Int(version),
            SqlValue::Json(definition.clone()),
            SqlValue::Uuid(by),
            SqlValue::Timestamp(now),
        ]],
        OnDuplicate::Fail,
    )?;
    Ok(())
}

pub(crate) fn versions(conn: &mut dyn Conn, rule: Uuid) -> Result<Vec<Version>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT version, definition, saved_by, saved_at FROM sys_workflow_versions WHERE rule_id = ");
    sql.param(SqlValue::Uuid(rule));
    sql.push(" ORDER BY version DESC");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| {
            Some(Version {
                version: r[0].as_i64()?,
                definition: json_of(&r[1]),
                saved_by: r[2].as_uuid()?,
                saved_at: r[3].as_timestamp()?,
            })
        })
        .collect())
}

/// The definition of one version of a rule.
pub(crate) fn version(
    conn: &mut dyn Conn,
    rule: Uuid,
    version: i64,
) -> Result<Option<Json>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT definition FROM sys_workflow_versions WHERE rule_id = ");
    sql.param(SqlValue::Uuid(rule));
    sql.push(" AND version = ");
    sql.param(SqlValue::Int(version));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .map(|r| json_of(&r[0])))
}

/// Counts a failed run against its rule, for the rule's error report.
pub(crate) fn record_failure(
    conn: &mut dyn Conn,
    rule: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_workflow_rules SET failures = failures + 1, last_error = ");
    sql.param(SqlValue::Text(error.chars().take(1000).collect()));
    sql.push(", last_error_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(rule));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

/// Where a run stands.
pub mod status {
    /// Written, its job not yet run.
    pub const QUEUED: &str = "queued";
    /// A worker is running its steps.
    pub const RUNNING: &str = "running";
    /// Parked at a wait step until `wake_at` (or its condition).
    pub const WAITING: &str = "waiting";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    /// Not run, and why (loop protection, a deleted record, a stale date).
    pub const SKIPPED: &str = "skipped";
    pub const ALL: &[&str] = &[QUEUED, RUNNING, WAITING, DONE, FAILED, SKIPPED];
}

/// One run of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub version: i64,
    pub object: String,
    pub record_id: Option<Uuid>,
    /// The change-feed event that started it, if a change did.
    pub seq: Option<i64>,
    /// What started it, in words.
    pub trigger: String,
    pub status: String,
    /// The next step to take (the number of steps taken, when it has ended).
    pub step: i64,
    /// How many rules deep in a chain it is (0: started by a person or a schedule).
    pub depth: i64,
    /// The run whose change started this one.
    pub caused_by: Option<Uuid>,
    pub wake_at: Option<DateTime<Utc>>,
    /// What each step did: `[{"step": 0, "type": "update_fields", "result": …}]`.
    pub log: Json,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str = "id, rule_id, version, object, record_id, seq, trigger, status, step, depth, caused_by, wake_at, log, error, started_at, updated_at, finished_at";

fn decode_run(r: &[SqlValue]) -> Option<Run> {
    Some(Run {
        id: r[0].as_uuid()?,
        rule_id: r[1].as_uuid()?,
        version: r[2].as_i64()?,
        object: r[3].as_str()?.to_owned(),
        record_id: r[4].as_uuid(),
        seq: r[5].as_i64(),
        trigger: r[6].as_str()?.to_owned(),
        status: r[7].as_str()?.to_owned(),
        step: r[8].as_i64().unwrap_or(0),
        depth: r[9].as_i64().unwrap_or(0),
        caused_by: r[10].as_uuid(),
        wake_at: r[11].as_timestamp(),
        log: json_of(&r[12]),
        error: r[13].as_str().map(str::to_owned),
        started_at: r[14].as_timestamp()?,
        updated_at: r[15].as_timestamp()?,
        finished_at: r[16].as_timestamp(),
    })
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub rule_id: Option<Uuid>,
    pub record_id: Option<Uuid>,
    pub status: Option<String>,
    /// Runs started before this one, for paging.
    pub before: Option<Uuid>,
    pub limit: usize,
}

pub(crate) fn runs(conn: &mut dyn Conn, q: &RunQuery) -> Result<Vec<Run>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {RUN_COLUMNS} FROM sys_workflow_runs WHERE 1 = 1"
    ));
    if let Some(id) = q.rule_id {
        sql.push(" AND rule_id = ");
        sql.param(SqlValue::Uuid(id));
    }
    if let Some(id) = q.record_id {
        sql.push(" AND record_id = ");
        sql.param(SqlValue::Uuid(id));
    }
    if let Some(s) = &q.status {
        sql.push(" AND status = ");
        sql.param(SqlValue::Text(s.clone()));
    }
    if let Some(id) = q.before {
        // run ids are keyed, not ordered by time: page by (started_at, id)
        sql.push(
            " AND (started_at, id) < (SELECT started_at, id FROM sys_workflow_runs WHERE id = ",
        );
        sql.param(SqlValue::Uuid(id));
        sql.push(")");
    }
    sql.push(&format!(
        " ORDER BY started_at DESC, id DESC LIMIT {}",
        q.limit.clamp(1, 500)
    ));
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode_run(r))
        .collect())
}

pub(crate) fn run(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Run>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {RUN_COLUMNS} FROM sys_workflow_runs WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| decode_run(&r)))
}

/// A run about to be written.
pub(crate) struct NewRun {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub version: i64,
    pub object: String,
    pub record_id: Option<Uuid>,
    pub seq: Option<i64>,
    pub trigger: String,
    pub status: &'static str,
    pub depth: i64,
    pub caused_by: Option<Uuid>,
    /// 0, or -1 for a run waiting for its date-relative trigger's time.
    pub step: i64,
    pub wake_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// Writes runs in a few statements; a run whose id exists already (a retried job starting
/// the same rule) is left as it is.
pub(crate) fn insert_runs(
    conn: &mut dyn Conn,
    runs: &[NewRun],
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let rows: Vec<Vec<SqlValue>> = runs
        .iter()
        .map(|r| {
            let ended = matches!(r.status, status::SKIPPED | status::FAILED);
            vec![
                SqlValue::Uuid(r.id),
                SqlValue::Uuid(r.rule_id),
                SqlValue::Int(r.version),
                SqlValue::Text(r.object.clone()),
                r.record_id.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
                r.seq.map(SqlValue::Int).unwrap_or(SqlValue::Null),
                SqlValue::Text(r.trigger.clone()),
                SqlValue::Text(r.status.to_owned()),
                SqlValue::Int(r.step),
                SqlValue::Int(r.depth),
                r.caused_by.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
                r.wake_at.map(SqlValue::Timestamp).unwrap_or(SqlValue::Null),
                SqlValue::Json(Json::Array(Vec::new())),
                r.error
                    .clone()
                    .map(SqlValue::Text)
                    .unwrap_or(SqlValue::Null),
                SqlValue::Timestamp(now),
                SqlValue::Timestamp(now),
                if ended {
                    SqlValue::Timestamp(now)
                } else {
                    SqlValue::Null
                },
            ]
        })
        .collect();
    insert_rows(
        conn,
        "sys_workflow_runs",
        &[
            "id",
            "rule_id",
            "version",
            "object",
            "record_id",
            "seq",
            "trigger",
            "status",
            "step",
            "depth",
            "caused_by",
            "wake_at",
            "log",
            "error",
            "started_at",
            "updated_at",
            "finished_at",
        ],
        &rows,
        OnDuplicate::Skip,
    )?;
    Ok(())
}

/// Takes a run for a worker until `lease_until`, unless it has ended or another worker
/// holds it. Answers whether it was taken.
pub(crate) fn take(
    conn: &mut dyn Conn,
    id: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_workflow_runs SET status = ");
    sql.param(SqlValue::Text(status::RUNNING.into()));
    sql.push(", lease_until = ");
    sql.param(SqlValue::Timestamp(lease_until));
    sql.push(", updated_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    sql.push(" AND (status IN ('queued', 'waiting') OR (status = 'running' AND lease_until < ");
    sql.param(SqlValue::Timestamp(now));
    sql.push("))");
    Ok(conn.execute(&sql.text, &sql.params)? == 1)
}

/// Where a run stands after a worker is done with it for now.
pub(crate) struct RunState<'a> {
    pub status: &'a str,
    pub step: i64,
    pub wake_at: Option<DateTime<Utc>>,
    pub log: &'a Json,
    pub error: Option<&'a str>,
}

pub(crate) fn save_state(
    conn: &mut dyn Conn,
    id: Uuid,
    s: &RunState<'_>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let ended = matches!(s.status, status::DONE | status::FAILED | status::SKIPPED);
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_workflow_runs SET status = ");
    sql.param(SqlValue::Text(s.status.to_owned()));
    sql.push(", step = ");
    sql.param(SqlValue::Int(s.step));
    sql.push(", wake_at = ");
    sql.param(s.wake_at.map(SqlValue::Timestamp).unwrap_or(SqlValue::Null));
    sql.push(", log = ");
    sql.param(SqlValue::Json(s.log.clone()));
    sql.push(", error = ");
    sql.param(
        s.error
            .map(|e| SqlValue::Text(e.chars().take(2000).collect()))
            .unwrap_or(SqlValue::Null),
    );
    sql.push(", lease_until = NULL, updated_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(", finished_at = ");
    sql.param(if ended {
        SqlValue::Timestamp(now)
    } else {
        SqlValue::Null
    });
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}
