//! Copying a whole Relata database from one store to another (`relata db-copy`, and PostgreSQL
//! backups): migrations bookkeeping, metadata, users, tokens, the change feed, field history,
//! the search index, idempotency keys and every object table, custom objects and fields
//! included. Works between any two backends (SQLite ⇄ PostgreSQL, SQLite → SQLite).
//!
//! Everything is read inside one [`Store::read_blocking`] closure on the source, so the copy is
//! one snapshot (a SQLite read transaction, or a PostgreSQL REPEATABLE READ transaction) even
//! while a server keeps writing. Rows are written to the target in pages, one transaction per
//! page, each value converted by its column's [`ColType`] between the dialects' encodings.
//!
//! Table shapes come from the same definitions the migrations and metadata DDL use
//! ([`migrations::system_tables`], [`ddl::object_table`]), so a copy cannot invent a column.
//! This module copies rows as they are stored; it does not go through the record service,
//! because it moves a database rather than changing records (no new events, no new history).

use std::collections::{BTreeSet, HashSet};

use relata_domain::meta::ObjectDef;
use relata_domain::value::parse_date;
use rust_decimal::Decimal;

use crate::codec::encode_decimal;
use crate::dialect::{ColType, Dialect, placeholder};
use crate::error::StoreError;
use crate::schema::{ColumnDef, TableDef, introspect};
use crate::sql_value::SqlValue;
use crate::{Conn, Row, Store, ddl, meta_sql, migrations};

/// Rows read from the source per query and written to the target per transaction.
const PAGE_ROWS: usize = 1000;
/// Most bound parameters per INSERT (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// Why a copy did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The copy was refused before anything was written (e.g. the target holds data).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows copied per table, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySummary {
    pub tables: Vec<(String, u64)>,
}

impl CopySummary {
    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| *n)
    }
}

/// Progress of a copy, for a command-line display.
#[derive(Debug, Clone, Copy)]
pub struct CopyProgress<'a> {
    pub table: &'a str,
    pub rows: u64,
    pub done: bool,
}

/// `sys_migrations`, which `migrations.rs` creates itself rather than listing among the system
/// tables (it must exist before the list can be applied).
fn migrations_table() -> TableDef {
    TableDef::new(
        "sys_migrations",
        vec![
            ColumnDef::new("version", ColType::BigInt),
            ColumnDef::new("name", ColType::Text),
            ColumnDef::new("applied_at", ColType::Timestamp),
        ],
        &["version"],
    )
}

/// Bookkeeping tables whose target rows are replaced by the source's.
const REPLACED: [&str; 4] = [
    "sys_migrations",
    "sys_meta_state",
    "sys_meta_objects",
    // the built-in profiles a migration installs; the source has its own copies
    "sys_permission_sets",
];

/// Copies everything in `source` into `target`, which must be freshly migrated and hold no
/// records, users or events. Missing object tables and columns (custom objects and fields) are
/// created in the target from the source's metadata.
pub fn copy_database(
    source: &Store,
    target: &Store,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopySummary, CopyError> {
    if let (Some(a), Some(b)) = (source.sqlite_file(), target.sqlite_file()) {
        let same = match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same {
            return Err(CopyError::Refused(
                "the source and the target are the same database".into(),
            ));
        }
    }
    let target_objects = target.read_blocking(check_target_empty)?;
    let target_migrations = target.read_blocking(|c| applied_migrations(c))?;
    source.read_blocking(|src| {
        let objects = objects_in_order(src)?;
        let missing: Vec<&String> = target_objects
            .iter()
            .filter(|t| !objects.iter().any(|o| o.name() == t.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(CopyError::Refused(format!(
                "the target has objects the source lacks ({}); copy into a freshly created database",
                join(&missing)
            )));
        }
        let source_migrations = applied_migrations(src)?;
        if source_migrations != target_migrations {
            return Err(CopyError::Refused(format!(
                "the source and the target are at different schema versions (source {:?}, target {:?}); open both with the same relata version",
                source_migrations, target_migrations
            )));
        }

        let prepared = objects.clone();
        target.write_blocking(move |t| prepare_target(t, &prepared))?;

        let mut tables = vec![migrations_table()];
        tables.extend(migrations::system_tables());
        tables.extend(objects.iter().map(ddl::object_table));

        let mut summary = CopySummary::default();
        let mut copied: HashSet<String> = HashSet::new();
        let mut deferred: Vec<(TableDef, Vec<usize>)> = Vec::new();
        for table in &tables {
            // A reference to a table not copied yet (itself included: pages are committed one
            // by one) is written as NULL now and filled in once every table is there.
            let later: Vec<usize> = table
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.references.as_ref().is_some_and(|r| !copied.contains(r)))
                .map(|(i, _)| i)
                .collect();
            let rows = copy_table(src, target, table, &later, progress)?;
            if !later.is_empty() {
                deferred.push((table.clone(), later));
            }
            copied.insert(table.name.clone());
            summary.tables.push((table.name.clone(), rows));
        }
        for (table, later) in &deferred {
            fill_deferred(src, target, table, later)?;
        }
        // The search index is stored differently per backend and is not copied: the target
        // rebuilds it from the records when it is next served.
        target.write_blocking(|t| crate::search_index::invalidate(t))?;
        if target.dialect() == Dialect::Postgres {
            target.write_blocking(|t| -> Result<(), StoreError> {
                t.query(
                    "SELECT setval(pg_get_serial_sequence('sys_events', 'seq'), COALESCE((SELECT MAX(seq) FROM sys_events), 0) + 1, false)",
                    &[],
                )?;
                Ok(())
            })?;
        }
        Ok(summary)
    })
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_i64(row: Option<Row>) -> Option<i64> {
    row.and_then(|r| r.first().and_then(SqlValue::as_i64))
}

/// Refuses a target holding any data; returns the names of its objects.
fn check_target_empty(conn: &mut dyn Conn) -> Result<Vec<String>, CopyError> {
    let schema = meta_sql::load_schema(conn)?;
    let mut tables: Vec<String> = migrations::system_tables()
        .into_iter()
        .map(|t| t.name)
        .filter(|n| !REPLACED.contains(&n.as_str()))
        .collect();
    let objects: Vec<String> = schema.objects().map(|o| o.name().to_owned()).collect();
    tables.extend(objects.iter().cloned());
    let mut holding = Vec::new();
    for table in &tables {
        if conn
            .query_one(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
            .is_some()
        {
            holding.push(table.as_str());
        }
    }
    if !holding.is_empty() {
        return Err(CopyError::Refused(format!(
            "the target database is not empty ({} hold rows); db-copy only copies into a freshly created database",
            holding.join(", ")
        )));
    }
    Ok(objects)
}

fn applied_migrations(conn: &mut dyn Conn) -> Result<Vec<i64>, StoreError> {
    Ok(conn
        .query("SELECT version FROM sys_migrations ORDER BY version", &[])?
        .into_iter()
        .filter_map(|r| first_i64(Some(r)))
        .collect())
}

/// The source's objects in metadata `position` order (lookup targets before their users,
/// except for lookups added later, which the copy defers).
fn objects_in_order(conn: &mut dyn Conn) -> Result<Vec<ObjectDef>, StoreError> {
    let schema = meta_sql::load_schema(conn)?;
    let names = conn.query(
        "SELECT api_name FROM sys_meta_objects ORDER BY position, api_name",
        &[],
    )?;
    names
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(SqlValue::into_string))
        .map(|name| {
            schema
                .object(&name)
                .map(|o| (**o).clone())
                .ok_or_else(|| StoreError::Internal(format!("unreadable metadata of '{name}'")))
        })
        .collect()
}

/// Clears the target's bookkeeping rows and creates the object tables and columns it lacks.
/// Tables are created first with the columns whose references already exist; the others are
/// added afterwards, as the metadata admin added them in the source (a lookup may point to an
/// object created after its own).
fn prepare_target(conn: &mut dyn Conn, objects: &[ObjectDef]) -> Result<(), StoreError> {
    for table in REPLACED {
        conn.execute(&format!("DELETE FROM {table}"), &[])?;
    }
    let live = introspect(conn)?;
    let mut existing: BTreeSet<String> = live.iter().map(|t| t.name.clone()).collect();
    let mut to_add: Vec<(String, ColumnDef)> = Vec::new();
    let mut created = Vec::new();
    for object in objects {
        let def = ddl::object_table(object);
        if let Some(table) = live.iter().find(|t| t.name == def.name) {
            for col in &def.columns {
                if !table.columns.iter().any(|(name, _)| name == &col.name) {
                    to_add.push((def.name.clone(), col.clone()));
                }
            }
            continue;
        }
        let (now, later): (Vec<ColumnDef>, Vec<ColumnDef>) =
            def.columns.iter().cloned().partition(|c| {
                c.references
                    .as_ref()
                    .is_none_or(|r| r == &def.name || existing.contains(r))
            });
        to_add.extend(later.into_iter().map(|c| (def.name.clone(), c)));
        let mut first = def.clone();
        first.columns = now;
        first.indexes = Vec::new();
        first.create(conn)?;
        existing.insert(def.name.clone());
        created.push(def.name.clone());
    }
    let d = conn.dialect();
    for (table, col) in &to_add {
        conn.batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {}",
            col.render_added(d)
        ))?;
    }
    for object in objects {
        for ix in ddl::object_table(object).indexes {
            conn.batch(&ix.render(d))?;
        }
    }
    if !created.is_empty() || !to_add.is_empty() {
        tracing::info!(tables = ?created, columns = to_add.len(), "created object tables and columns in the target");
    }
    Ok(())
}

/// The columns that order a table's rows for keyset paging.
fn key_columns(table: &TableDef) -> Vec<usize> {
    let names: Vec<&str> = if table.primary_key.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| c.ty == ColType::Serial)
            .map(|c| c.name.as_str())
            .collect()
    } else {
        table.primary_key.iter().map(String::as_str).collect()
    };
    names
        .iter()
        .filter_map(|n| table.columns.iter().position(|c| c.name == *n))
        .collect()
}

/// `SELECT <columns> FROM t [WHERE <key> > <last key>] ORDER BY <key> LIMIT n`.
fn page_query(
    d: Dialect,
    table: &str,
    select: &str,
    key: &[&str],
    after: Option<&[SqlValue]>,
    extra: Option<&str>,
) -> String {
    let mut conditions = Vec::new();
    if let Some(extra) = extra {
        conditions.push(format!("({extra})"));
    }
    if after.is_some() {
        let params: Vec<String> = (1..=key.len()).map(|n| placeholder(d, n)).collect();
        conditions.push(if key.len() == 1 {
            format!("{} > {}", key[0], params[0])
        } else {
            format!("({}) > ({})", key.join(", "), params.join(", "))
        });
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT {select} FROM {table}{filter} ORDER BY {} LIMIT {PAGE_ROWS}",
        key.join(", ")
    )
}

/// Copies one table page by page; columns in `later` are written as NULL.
fn copy_table(
    src: &mut dyn Conn,
    target: &Store,
    table: &TableDef,
    later: &[usize],
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<u64, CopyError> {
    let key = key_columns(table);
    if key.is_empty() {
        return Err(
            StoreError::Internal(format!("table {} has no key to page by", table.name)).into(),
        );
    }
    let key_names: Vec<&str> = key
        .iter()
        .map(|&i| table.columns[i].name.as_str())
        .collect();
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let select = names.join(", ");
    let types: Vec<ColType> = table.columns.iter().map(|c| c.ty).collect();
    let td = target.dialect();
    let sd = src.dialect();
    let mut last: Option<Vec<SqlValue>> = None;
    let mut total = 0u64;
    loop {
        let sql = page_query(sd, &table.name, &select, &key_names, last.as_deref(), None);
        let rows = src.query(&sql, last.as_deref().unwrap_or(&[]))?;
        let Some(final_row) = rows.last() else { break };
        last = Some(key.iter().map(|&i| final_row[i].clone()).collect());
        let n = rows.len();
        let mut converted = Vec::with_capacity(n);
        for row in rows {
            let mut out = Vec::with_capacity(row.len());
            for (i, value) in row.into_iter().enumerate() {
                out.push(if later.contains(&i) {
                    SqlValue::Null
                } else {
                    convert(value, types[i], td).map_err(|e| {
                        StoreError::Internal(format!("{}.{}: {e}", table.name, names[i]))
                    })?
                });
            }
            converted.push(out);
        }
        let statements = insert_statements(td, &table.name, &names, converted);
        target.write_blocking(move |t| -> Result<(), StoreError> {
            for (sql, params) in statements {
                t.execute(&sql, &params)?;
            }
            Ok(())
        })?;
        total += n as u64;
        progress(CopyProgress {
            table: &table.name,
            rows: total,
            done: false,
        });
        if n < PAGE_ROWS {
            break;
        }
    }
    progress(CopyProgress {
        table: &table.name,
        rows: total,
        done: true,
    });
    Ok(total)
}

/// Multi-row INSERT statements for `rows`, each under the parameter limit.
fn insert_statements(
    d: Dialect,
    table: &str,
    columns: &[&str],
    rows: Vec<Row>,
) -> Vec<(String, Vec<SqlValue>)> {
    let per_statement = (MAX_PARAMS / columns.len().max(1)).clamp(1, PAGE_ROWS);
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = head.clone();
        let mut params = Vec::new();
        for (r, row) in rows.by_ref().take(per_statement).enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                params.push(value);
                sql.push_str(&placeholder(d, params.len()));
            }
            sql.push(')');
        }
        out.push((sql, params));
    }
    out
}

/// Writes the deferred reference columns of `table` once every table has its rows.
fn fill_deferred(
    src: &mut dyn Conn,
    target: &Store,
    table: &TableDef,
    later: &[usize],
) -> Result<(), CopyError> {
    if table.primary_key != ["id"] {
        return Err(StoreError::Internal(format!(
            "cannot defer references of {}, which is not keyed by id",
            table.name
        ))
        .into());
    }
    let cols: Vec<&ColumnDef> = later.iter().map(|&i| &table.columns[i]).collect();
    let mut select = vec!["id"];
    select.extend(cols.iter().map(|c| c.name.as_str()));
    let not_null = cols
        .iter()
        .map(|c| format!("{} IS NOT NULL", c.name))
        .collect::<Vec<_>>()
        .join(" OR ");
    let td = target.dialect();
    let update = {
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = {}", c.name, placeholder(td, i + 1)))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE id = {}",
            table.name,
            sets.join(", "),
            placeholder(td, cols.len() + 1)
        )
    };
    let mut last: Option<Vec<SqlValue>> = None;
    loop {
        let sql = page_query(
            src.dialect(),
            &table.name,
            &select.join(", "),
            &["id"],
            last.as_deref(),
            Some(&not_null),
        );
        let rows = src.query(&sql, last.as_deref().unwrap_or(&[]))?;
        let Some(final_row) = rows.last() else { break };
        last = Some(vec![final_row[0].clone()]);
        let n = rows.len();
        let mut updates = Vec::with_capacity(n);
        for row in rows {
            let mut values = row.into_iter();
            let id = values.next().unwrap_or(SqlValue::Null);
            let mut params = Vec::with_capacity(cols.len() + 1);
            for (value, col) in values.zip(&cols) {
                params.push(convert(value, col.ty, td).map_err(|e| {
                    StoreError::Internal(format!("{}.{}: {e}", table.name, col.name))
                })?);
            }
            params.push(convert(id, ColType::Uuid, td).map_err(StoreError::Internal)?);
            updates.push(params);
        }
        let update = update.clone();
        target.write_blocking(move |t| -> Result<(), StoreError> {
            for params in updates {
                t.execute(&update, &params)?;
            }
            Ok(())
        })?;
        if n < PAGE_ROWS {
            break;
        }
    }
    Ok(())
}

/// Converts a stored value of a `ty` column into the target dialect's encoding.
///
/// SQLite keeps UUIDs as 16-byte blobs, booleans as 0/1, decimals as integers scaled by
/// 10^scale, dates and timestamps as ISO text and JSON as text; PostgreSQL has native types
/// for each (see `codec.rs`). The driver layer turns the typed [`SqlValue`]s made here into
/// either encoding, except decimals, which are scaled here.
pub fn convert(value: SqlValue, ty: ColType, target: Dialect) -> Result<SqlValue, String> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    let unexpected = |v: &SqlValue| format!("unexpected stored value {v:?} for a {ty:?} column");
    Ok(match ty {
        ColType::BigInt | ColType::Serial => {
            SqlValue::Int(value.as_i64().ok_or_else(|| unexpected(&value))?)
        }
        ColType::Text => match value {
            SqlValue::Text(s) => SqlValue::Text(s),
            other => return Err(unexpected(&other)),
        },
        ColType::Bool => SqlValue::Bool(value.as_bool().ok_or_else(|| unexpected(&value))?),
        ColType::Uuid => SqlValue::Uuid(value.as_uuid().ok_or_else(|| unexpected(&value))?),
        ColType::Decimal(scale) => {
            let d = match &value {
                SqlValue::Decimal(d) => *d,
                SqlValue::Int(i) => Decimal::from_i128_with_scale(i128::from(*i), scale),
                SqlValue::Text(s) => s.parse().map_err(|_| unexpected(&value))?,
                _ => return Err(unexpected(&value)),
            };
            encode_decimal(d, scale, target)
        }
        ColType::Date => match &value {
            SqlValue::Date(d) => SqlValue::Date(*d),
            SqlValue::Text(s) => SqlValue::Date(parse_date(s).ok_or_else(|| unexpected(&value))?),
            _ => return Err(unexpected(&value)),
        },
        ColType::Timestamp => {
            SqlValue::Timestamp(value.as_timestamp().ok_or_else(|| unexpected(&value))?)
        }
        ColType::Json => match value {
            SqlValue::Json(j) => SqlValue::Json(j),
            SqlValue::Text(s) => {
                SqlValue::Json(serde_json::from_str(&s).map_err(|e| format!("invalid JSON: {e}"))?)
            }
            other => return Err(unexpected(&other)),
        },
        ColType::Bytes => match value {
            SqlValue::Blob(b) => SqlValue::Blob(b),
            other => return Err(unexpected(&other)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_encodings_become_native_postgres_values_and_back() {
        let id = uuid::Uuid::now_v7();
        let blob = SqlValue::Blob(id.as_bytes().to_vec());
        assert_eq!(
            convert(blob.clone(), ColType::Uuid, Dialect::Postgres).unwrap(),
            SqlValue::Uuid(id)
        );
        assert_eq!(
            convert(
                SqlValue::Int(123450),
                ColType::Decimal(2),
                Dialect::Postgres
            )
            .unwrap(),
            SqlValue::Decimal("1234.50".parse().unwrap())
        );
        assert_eq!(
            convert(
                SqlValue::Decimal("1234.5".parse().unwrap()),
                ColType::Decimal(2),
                Dialect::Sqlite
            )
            .unwrap(),
            SqlValue::Int(123450)
        );
        assert_eq!(
            convert(SqlValue::Int(1), ColType::Bool, Dialect::Postgres).unwrap(),
            SqlValue::Bool(true)
        );
        assert_eq!(
            convert(
                SqlValue::Text("2026-02-28".into()),
                ColType::Date,
                Dialect::Postgres
            )
            .unwrap(),
            SqlValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 2, 28).unwrap())
        );
        assert_eq!(
            convert(
                SqlValue::Text("[\"a\",\"b\"]".into()),
                ColType::Json,
                Dialect::Postgres
            )
            .unwrap(),
            SqlValue::Json(serde_json::json!(["a", "b"]))
        );
        let ts = convert(
            SqlValue::Text("2026-01-31T09:30:00.123456Z".into()),
            ColType::Timestamp,
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(ts.as_timestamp().unwrap().timestamp_subsec_micros(), 123456);
        assert!(convert(SqlValue::Text("x".into()), ColType::Uuid, Dialect::Sqlite).is_err());
        assert_eq!(
            convert(SqlValue::Null, ColType::Uuid, Dialect::Sqlite).unwrap(),
            SqlValue::Null
        );
    }

    #[test]
    fn inserts_stay_under_the_parameter_limit() {
        let cols: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
        let names: Vec<&str> = cols.iter().map(String::as_str).collect();
        let rows = vec![vec![SqlValue::Int(1); 100]; 1000];
        let stmts = insert_statements(Dialect::Postgres, "t", &names, rows);
        assert!(stmts.iter().all(|(_, p)| p.len() <= MAX_PARAMS));
        assert_eq!(stmts.iter().map(|(_, p)| p.len()).sum::<usize>(), 100_000);
        assert!(stmts[0].0.ends_with("$30000)"));
    }

    #[test]
    fn pages_by_composite_keys() {
        let sql = page_query(
            Dialect::Sqlite,
            "sys_search",
            "*",
            &["term", "object"],
            Some(&[SqlValue::Null, SqlValue::Null]),
            None,
        );
        assert_eq!(
            sql,
            "SELECT * FROM sys_search WHERE (term, object) > (?1, ?2) ORDER BY term, object LIMIT 1000"
        );
    }
}
