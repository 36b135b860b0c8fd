//! Reading and writing object metadata rows (`sys_meta_objects`), and the metadata version
//! that caches compare to notice changes made by another process.

use chrono::Utc;

use relata_domain::meta::{ObjectDef, Schema};

use crate::conn::Conn;
use crate::dialect::placeholders;
use crate::error::StoreError;
use crate::sql_value::SqlValue;

fn encode(object: &ObjectDef) -> Result<SqlValue, StoreError> {
    serde_json::to_value(object)
        .map(SqlValue::Json)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

#[allow(clippy::disallowed_methods)] // row bookkeeping; domain time comes from the Clock
fn now() -> SqlValue {
    SqlValue::Timestamp(Utc::now())
}

pub fn insert_object(conn: &mut dyn Conn, object: &ObjectDef) -> Result<(), StoreError> {
    let position = conn
        .query_one(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM sys_meta_objects",
            &[],
        )?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(1);
    conn.execute(
        &format!(
            "INSERT INTO sys_meta_objects (api_name, position, definition, created_at, updated_at) VALUES ({})",
            placeholders(conn.dialect(), 1, 5)
        ),
        &[SqlValue::Text(object.name().to_owned()), SqlValue::Int(position), encode(object)?, now(), now()],
    )?;
    Ok(())
}

pub fn update_object(conn: &mut dyn Conn, object: &ObjectDef) -> Result<(), StoreError> {
    let sql = match conn.dialect() {
        crate::Dialect::Sqlite => {
            "UPDATE sys_meta_objects SET definition = ?1, updated_at = ?2 WHERE api_name = ?3"
        }
        crate::Dialect::Postgres => {
            "UPDATE sys_meta_objects SET definition = $1, updated_at = $2 WHERE api_name = $3"
        }
    };
    conn.execute(
        sql,
        &[
            encode(object)?,
            now(),
            SqlValue::Text(object.name().to_owned()),
        ],
    )?;
    Ok(())
}

pub fn bump_version(conn: &mut dyn Conn) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sys_meta_state SET version = version + 1 WHERE id = 1",
        &[],
    )?;
    Ok(())
}

pub fn version(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn
        .query_one("SELECT version FROM sys_meta_state WHERE id = 1", &[])?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}

pub fn load_schema(conn: &mut dyn Conn) -> Result<Schema, StoreError> {
    let version = version(conn)?;
    let rows = conn.query(
        "SELECT definition FROM sys_meta_objects ORDER BY position",
        &[],
    )?;
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        let json = match row.into_iter().next() {
            Some(SqlValue::Json(j)) => j,
            Some(SqlValue::Text(s)) => {
                serde_json::from_str(&s).map_err(|e| StoreError::Internal(e.to_string()))?
            }
            _ => {
                return Err(StoreError::Internal(
                    "metadata row without definition".into(),
                ));
            }
        };
        let object: ObjectDef = serde_json::from_value(json)
            .map_err(|e| StoreError::Internal(format!("bad metadata: {e}")))?;
        objects.push(object);
    }
    Ok(Schema::new(objects, version))
}
