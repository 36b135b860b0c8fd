//! The approval tables: processes, requests, decisions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use relata_store::dialect::{placeholder, placeholders};
use relata_store::{Conn, Row, SqlValue};

use super::Process;
use crate::error::CoreError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Request {
    pub id: Uuid,
    pub process_id: Uuid,
    pub object: String,
    pub record_id: Uuid,
    /// pending, approved, rejected, recalled.
    pub status: String,
    /// The current step (0-based).
    pub step: i64,
    pub submitted_by: Uuid,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

impl Request {
    pub fn new(
        process: &Process,
        object: &str,
        record_id: Uuid,
        submitted_by: Uuid,
        now: DateTime<Utc>,
        comment: Option<String>,
    ) -> Request {
        Request {
            id: relata_domain::ids::uuid_v7_at(now),
            process_id: process.id,
            object: object.to_owned(),
            record_id,
            status: "pending".into(),
            step: 0,
            submitted_by,
            submitted_at: now,
            decided_at: None,
            comment,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Decision {
    pub id: Uuid,
    pub request_id: Uuid,
    pub step: i64,
    pub user_id: Uuid,
    /// approved, rejected.
    pub decision: String,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

const PROCESS_COLUMNS: &str = "id, name, object, condition, steps, active";
const REQUEST_COLUMNS: &str = "id, process_id, object, record_id, status, step, submitted_by, submitted_at, decided_at, comment";

fn text(row: &Row, i: usize) -> String {
    row[i].as_str().unwrap_or_default().to_owned()
}

fn uuid(row: &Row, i: usize) -> Uuid {
    row[i].as_uuid().unwrap_or_default()
}

fn process_of(row: &Row) -> Result<Process, CoreError> {
    let json = |i: usize| -> Result<serde_json::Value, CoreError> {
        match &row[i] {
            SqlValue::Json(v) => Ok(v.clone()),
            SqlValue::Text(t) => {
                serde_json::from_str(t).map_err(|e| CoreError::Internal(e.to_string()))
            }
            _ => Ok(serde_json::Value::Null),
        }
    };
    Ok(Process {
        id: uuid(row, 0),
        name: text(row, 1),
        object: text(row, 2),
        condition: json(3)?,
        steps: serde_json::from_value(json(4)?).map_err(|e| CoreError::Internal(e.to_string()))?,
        active: row[5].as_bool().unwrap_or(false),
    })
}

fn request_of(row: &Row) -> Request {
    Request {
        id: uuid(row, 0),
        process_id: uuid(row, 1),
        object: text(row, 2),
        record_id: uuid(row, 3),
        status: text(row, 4),
        step: row[5].as_i64().unwrap_or(0),
        submitted_by: uuid(row, 6),
        submitted_at: row[7].as_timestamp().unwrap_or_default(),
        decided_at: row[8].as_timestamp(),
        comment: row[9].as_str().map(str::to_owned),
    }
}

pub(super) fn processes(
    conn: &mut dyn Conn,
    object: Option<&str>,
) -> Result<Vec<Process>, CoreError> {
    let rows = match object {
        Some(o) => conn.query(
            &format!(
                "SELECT {PROCESS_COLUMNS} FROM sys_approval_processes WHERE object = {} ORDER BY created_at, id",
                placeholder(conn.dialect(), 1)
            ),
            &[SqlValue::Text(o.to_owned())],
        )?,
        None => conn.query(
            &format!("SELECT {PROCESS_COLUMNS} FROM sys_approval_processes ORDER BY created_at, id"),
            &[],
        )?,
    };
    rows.iter().map(process_of).collect()
}

pub(super) fn process(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Process>, CoreError> {
    let row = conn.query_one(
        &format!(
            "SELECT {PROCESS_COLUMNS} FROM sys_approval_processes WHERE id = {}",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Uuid(id)],
    )?;
    row.as_ref().map(process_of).transpose()
}

pub(super) fn save_process(
    conn: &mut dyn Conn,
    p: &Process,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let d = conn.dialect();
    let steps = serde_json::to_value(&p.steps).map_err(|e| CoreError::Internal(e.to_string()))?;
    let params = [
        SqlValue::Uuid(p.id),
        SqlValue::Text(p.name.clone()),
        SqlValue::Text(p.object.clone()),
        SqlValue::Json(p.condition.clone()),
        SqlValue::Json(steps),
        SqlValue::Bool(p.active),
        SqlValue::Timestamp(now),
        SqlValue::Timestamp(now),
    ];
    // every parameter is used (PostgreSQL refuses one whose type it cannot infer): the
    // update takes all but `created_at`
    let update: Vec<SqlValue> = params[..6].iter().chain(&params[7..]).cloned().collect();
    let updated = conn.execute(
        &format!(
            "UPDATE sys_approval_processes SET name = {}, object = {}, condition = {}, steps = {}, active = {}, updated_at = {} WHERE id = {}",
            placeholder(d, 2),
            placeholder(d, 3),
            placeholder(d, 4),
            placeholder(d, 5),
            placeholder(d, 6),
            placeholder(d, 7),
            placeholder(d, 1),
        ),
        &update,
    )?;
    if updated == 0 {
        conn.execute(
            &format!(
                "INSERT INTO sys_approval_processes ({PROCESS_COLUMNS}, created_at, updated_at) VALUES ({})",
                placeholders(d, 1, 8)
            ),
            &params,
        )?;
    }
    Ok(())
}

pub(super) fn delete_process(conn: &mut dyn Conn, id: Uuid) -> Result<(), CoreError> {
    let d = conn.dialect();
    let in_use = conn.query_one(
        &format!(
            "SELECT COUNT(*) FROM sys_approval_requests WHERE process_id = {} AND status = 'pending'",
            placeholder(d, 1)
        ),
        &[SqlValue::Uuid(id)],
    )?;
    if in_use.and_then(|r| r[0].as_i64()).unwrap_or(0) > 0 {
        return Err(CoreError::Conflict {
            code: "process_in_use",
            message: "the process has pending requests: make it inactive instead".into(),
        });
    }
    let n = conn.execute(
        &format!(
            "DELETE FROM sys_approval_processes WHERE id = {}",
            placeholder(d, 1)
        ),
        &[SqlValue::Uuid(id)],
    )?;
    if n == 0 {
        return Err(CoreError::not_found(format!("approval process {id}")));
    }
    Ok(())
}

pub(super) fn users_in_role(conn: &mut dyn Conn, role: Uuid) -> Result<Vec<Uuid>, CoreError> {
    Ok(conn
        .query(
            &format!(
                "SELECT id FROM sys_users WHERE role_id = {} AND active = {} ORDER BY id",
                placeholder(conn.dialect(), 1),
                placeholder(conn.dialect(), 2)
            ),
            &[SqlValue::Uuid(role), SqlValue::Bool(true)],
        )?
        .iter()
        .filter_map(|r| r[0].as_uuid())
        .collect())
}

fn request_params(r: &Request) -> Vec<SqlValue> {
    vec![
        SqlValue::Uuid(r.id),
        SqlValue::Uuid(r.process_id),
        SqlValue::Text(r.object.clone()),
        SqlValue::Uuid(r.record_id),
        SqlValue::Text(r.status.clone()),
        SqlValue::Int(r.step),
        SqlValue::Uuid(r.submitted_by),
        SqlValue::Timestamp(r.submitted_at),
        r.decided_at.map_or(SqlValue::Null, SqlValue::Timestamp),
        r.comment.clone().map_or(SqlValue::Null, SqlValue::Text),
    ]
}

pub(super) fn insert_request(conn: &mut dyn Conn, r: &Request) -> Result<(), CoreError> {
    conn.execute(
        &format!(
            "INSERT INTO sys_approval_requests ({REQUEST_COLUMNS}) VALUES ({})",
            placeholders(conn.dialect(), 1, 10)
        ),
        &request_params(r),
    )?;
    Ok(())
}

pub(super) fn update_request(conn: &mut dyn Conn, r: &Request) -> Result<(), CoreError> {
    let d = conn.dialect();
    conn.execute(
        &format!(
            "UPDATE sys_approval_requests SET status = {}, step = {}, decided_at = {} WHERE id = {}",
            placeholder(d, 1),
            placeholder(d, 2),
            placeholder(d, 3),
            placeholder(d, 4)
        ),
        &[
            SqlValue::Text(r.status.clone()),
            SqlValue::Int(r.step),
            r.decided_at.map_or(SqlValue::Null, SqlValue::Timestamp),
            SqlValue::Uuid(r.id),
        ],
    )?;
    Ok(())
}

pub(super) fn request(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Request>, CoreError> {
    let row = conn.query_one(
        &format!(
            "SELECT {REQUEST_COLUMNS} FROM sys_approval_requests WHERE id = {}",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Uuid(id)],
    )?;
    Ok(row.as_ref().map(request_of))
}

pub(super) fn requests_of(
    conn: &mut dyn Conn,
    object: &str,
    record: Uuid,
) -> Result<Vec<Request>, CoreError> {
    let d = conn.dialect();
    Ok(conn
        .query(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM sys_approval_requests WHERE object = {} AND record_id = {} ORDER BY submitted_at DESC, id DESC",
                placeholder(d, 1),
                placeholder(d, 2)
            ),
            &[SqlValue::Text(object.to_owned()), SqlValue::Uuid(record)],
        )?
        .iter()
        .map(request_of)
        .collect())
}

pub(super) fn pending_requests(conn: &mut dyn Conn) -> Result<Vec<Request>, CoreError> {
    Ok(conn
        .query(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM sys_approval_requests WHERE status = 'pending' ORDER BY submitted_at, id"
            ),
            &[],
        )?
        .iter()
        .map(request_of)
        .collect())
}

/// The (request, step) pairs `user` has decided among pending requests.
pub(super) fn pending_decisions_of(
    conn: &mut dyn Conn,
    user: Uuid,
) -> Result<std::collections::HashSet<(Uuid, i64)>, CoreError> {
    Ok(conn
        .query(
            &format!(
                "SELECT d.request_id, d.step FROM sys_approval_decisions d JOIN sys_approval_requests r ON r.id = d.request_id WHERE r.status = 'pending' AND d.user_id = {}",
                placeholder(conn.dialect(), 1)
            ),
            &[SqlValue::Uuid(user)],
        )?
        .iter()
        .map(|row| (uuid(row, 0), row[1].as_i64().unwrap_or(0)))
        .collect())
}

/// The role of an active user, if any.
pub(super) fn role_of(conn: &mut dyn Conn, user: Uuid) -> Result<Option<Uuid>, CoreError> {
    let row = conn.query_one(
        &format!(
            "SELECT role_id FROM sys_users WHERE id = {} AND active = {}",
            placeholder(conn.dialect(), 1),
            placeholder(conn.dialect(), 2)
        ),
        &[SqlValue::Uuid(user), SqlValue::Bool(true)],
    )?;
    Ok(row.and_then(|r| r[0].as_uuid()))
}

pub(super) fn insert_decision(conn: &mut dyn Conn, d: &Decision) -> Result<(), CoreError> {
    conn.execute(
        &format!(
            "INSERT INTO sys_approval_decisions (id, request_id, step, user_id, decision, comment, at) VALUES ({})",
            placeholders(conn.dialect(), 1, 7)
        ),
        &[
            SqlValue::Uuid(d.id),
            SqlValue::Uuid(d.request_id),
            SqlValue::Int(d.step),
            SqlValue::Uuid(d.user_id),
            SqlValue::Text(d.decision.clone()),
            d.comment.clone().map_or(SqlValue::Null, SqlValue::Text),
            SqlValue::Timestamp(d.at),
        ],
    )?;
    Ok(())
}

pub(super) fn decisions(conn: &mut dyn Conn, request: Uuid) -> Result<Vec<Decision>, CoreError> {
    Ok(conn
        .query(
            &format!(
                "SELECT id, request_id, step, user_id, decision, comment, at FROM sys_approval_decisions WHERE request_id = {} ORDER BY at, id",
                placeholder(conn.dialect(), 1)
            ),
            &[SqlValue::Uuid(request)],
        )?
        .iter()
        .map(|row| Decision {
            id: uuid(row, 0),
            request_id: uuid(row, 1),
            step: row[2].as_i64().unwrap_or(0),
            user_id: uuid(row, 3),
            decision: text(row, 4),
            comment: row[5].as_str().map(str::to_owned),
            at: row[6].as_timestamp().unwrap_or_default(),
        })
        .collect())
}
