//! Ceilings: what the database does without Relata, measured in the same run as Relata's
//! figures so that ratios stay meaningful on a noisy machine.
//!
//! The contact table is rendered by `relata_store::ddl::object_table` from the standard contact
//! object plus the custom `external_id` field the HTTP load creates, so the ceiling writes the
//! same columns with the same indexes and foreign keys as Relata, and its rows are owned by as
//! many users, spread the same way ([`crate::data::owner_index`]). It writes only that table:
//! Relata's extra work in the same transaction (search index, change feed) is part of what the
//! ratio measures.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use relata_domain::clock::{Clock, SystemClock};
use relata_domain::ids::uuid_v7_at;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::standard::{as_custom, standard_objects};
use relata_store::ddl::object_table;
use relata_store::schema::TableDef;
use relata_store::{Dialect, SqlValue};

use crate::data::{Contact, contact, owner_index};

/// Rows generated (untimed) before each timed slice of inserts.
const CHUNK: u64 = 10_000;

/// The contact object as the benchmark uses it: standard fields plus a unique `external_id`.
pub fn contact_object() -> anyhow::Result<ObjectDef> {
    let mut object = standard_objects()
        .into_iter()
        .find(|o| o.name() == "contact")
        .context("the standard objects have no contact")?;
    object.fields.push(external_id_field());
    Ok(object)
}

/// The custom field the benchmark creates through the metadata API before loading.
pub fn external_id_field() -> FieldDef {
    as_custom(FieldDef {
        unique: true,
        max_length: Some(64),
        ..FieldDef::new("external_id", "External ID", FieldType::Text)
    })
}

/// Stand-ins for the users of the HTTP load: the creator (the administrator) first, then one
/// per user of the benchmark organisation, who own the rows as they own the loaded records.
fn standin_users() -> Vec<Uuid> {
    (0..=crate::org::user_count())
        .map(|_| uuid_v7_at(SystemClock.now()))
        .collect()
}

/// The column values of one contact, in `object.live_fields()` order (the order of Relata's
/// own INSERT): created by `users[0]`, owned by one of the others as in the HTTP load.
fn row(
    object: &ObjectDef,
    c: &Contact,
    id: Uuid,
    users: &[Uuid],
    owner: usize,
    now: DateTime<Utc>,
) -> Vec<SqlValue> {
    let fields = c.fields();
    object
        .live_fields()
        .map(|f| match f.name() {
            "id" => SqlValue::Uuid(id),
            "owner_id" => SqlValue::Uuid(users[owner]),
            "created_by" | "updated_by" => SqlValue::Uuid(users[0]),
            "created_at" | "updated_at" => SqlValue::Timestamp(now),
            "version" => SqlValue::Int(1),
            name => match fields.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => match (f.field_type, v.as_str()) {
                    (FieldType::Date, Some(s)) => SqlValue::Text(s.to_owned()),
                    (_, Some(s)) => SqlValue::Text(s.to_owned()),
                    _ => SqlValue::Null,
                },
                None => SqlValue::Null,
            },
        })
        .collect()
}

fn columns(object: &ObjectDef) -> Vec<String> {
    object.live_fields().map(|f| f.name().to_owned()).collect()
}

/// What an insert ceiling measured.
#[derive(Debug, Clone)]
pub struct InsertCeiling {
    pub rows: u64,
    pub seconds: f64,
    /// A sample of the inserted ids (for the bare lookup handler).
    pub sample_ids: Vec<Uuid>,
}

impl InsertCeiling {
    pub fn per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// What a single-row-commit ceiling measured.
#[derive(Debug, Clone)]
pub struct CommitCeiling {
    pub commits: u64,
    pub seconds: f64,
}

impl CommitCeiling {
    pub fn per_second(&self) -> f64 {
        self.commits as f64 / self.seconds.max(1e-9)
    }
}

/// Generates rows `from..to` (untimed work).
fn rows(object: &ObjectDef, seed: u64, from: u64, to: u64, users: &[Uuid]) -> Vec<Vec<SqlValue>> {
    let owners = users.len().saturating_sub(1);
    (from..to)
        .map(|i| {
            let now = SystemClock.now();
            let owner = if owners == 0 {
                0
            } else {
                1 + owner_index(seed, i, owners)
            };
            row(
                object,
                &contact(seed, i),
                uuid_v7_at(now),
                users,
                owner,
                now,
            )
        })
        .collect()
}

fn sample_every(rows: u64, sample: usize) -> u64 {
    (rows / sample.max(1) as u64).max(1)
}

// --- SQLite ------------------------------------------------------------------------------

/// Opens a SQLite file with the writer's settings of `relata_store` (WAL, synchronous=NORMAL,
/// 64 MB cache, memory temp store, 256 MB mmap, foreign keys on).
fn sqlite_open(path: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 268435456;
         PRAGMA journal_mode = WAL;
         PRAGMA wal_autocheckpoint = 4000;",
    )?;
    Ok(conn)
}

/// Creates the contact table (and stand-ins for the tables its foreign keys point at) and the
/// users the rows are created and owned by.
fn sqlite_schema(
    conn: &rusqlite::Connection,
    table: &TableDef,
    users: &[Uuid],
) -> anyhow::Result<()> {
    conn.execute_batch(
        "CREATE TABLE sys_users (id BLOB NOT NULL PRIMARY KEY);
         CREATE TABLE account (id BLOB NOT NULL PRIMARY KEY);",
    )?;
    for stmt in table.render(Dialect::Sqlite) {
        conn.execute_batch(&stmt)?;
    }
    for user in users {
        conn.execute("INSERT INTO sys_users (id) VALUES (?1)", [user.as_bytes()])?;
    }
    Ok(())
}

fn sqlite_insert_sql(object: &ObjectDef) -> String {
    let cols = columns(object);
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO contact ({}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    )
}

/// Ceiling (a): `rows` contacts in one transaction through one prepared statement. With
/// `indexes` false the table keeps only its primary key (the figure issue 3 quotes as the
/// upper bound).
pub fn sqlite_insert(
    path: &Path,
    seed: u64,
    rows_total: u64,
    indexes: bool,
    sample: usize,
) -> anyhow::Result<InsertCeiling> {
    let object = contact_object()?;
    let mut table = object_table(&object);
    if !indexes {
        table.indexes.clear();
    }
    let users = standin_users();
    let mut conn = sqlite_open(path)?;
    sqlite_schema(&conn, &table, &users)?;
    sqlite_insert_rows(&mut conn, &object, seed, 0..rows_total, &users, sample)
}

/// Ceiling (c): rows `rows` of the data set inserted, as in (a), into the table ceiling (a)
/// filled and (b) added to — the raw cost of the CSV import's rows into a table that already
/// holds the loaded ones, whose every index is as large as the import finds Relata's.
pub fn sqlite_insert_loaded(
    path: &Path,
    seed: u64,
    rows: std::ops::Range<u64>,
) -> anyhow::Result<InsertCeiling> {
    let object = contact_object()?;
    let mut conn = sqlite_open(path)?;
    let users = sqlite_users(&conn)?;
    sqlite_insert_rows(&mut conn, &object, seed, rows, &users, 0)
}

/// Inserts `range` of the data set in one transaction through one prepared statement, timing
/// the inserts and the commit (not the generation of the rows).
fn sqlite_insert_rows(
    conn: &mut rusqlite::Connection,
    object: &ObjectDef,
    seed: u64,
    range: std::ops::Range<u64>,
    users: &[Uuid],
    sample: usize,
) -> anyhow::Result<InsertCeiling> {
    let sql = sqlite_insert_sql(object);
    let every = sample_every(range.end - range.start, sample);
    let mut sample_ids = Vec::new();
    let mut timed = Duration::ZERO;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(&sql)?;
        let mut from = range.start;
        while from < range.end {
            let to = (from + CHUNK).min(range.end);
            let chunk = rows(object, seed, from, to, users);
            let start = Instant::now();
            for (k, r) in chunk.iter().enumerate() {
                stmt.execute(rusqlite::params_from_iter(r.iter()))?;
                if (from + k as u64).is_multiple_of(every)
                    && let SqlValue::Uuid(id) = r[0]
                {
                    sample_ids.push(id);
                }
            }
            timed += start.elapsed();
            from = to;
        }
    }
    let start = Instant::now();
    tx.commit()?;
    timed += start.elapsed();
    Ok(InsertCeiling {
        rows: range.end - range.start,
        seconds: timed.as_secs_f64(),
        sample_ids,
    })
}

/// The stand-in users the ceiling table's rows are owned by.
fn sqlite_users(conn: &rusqlite::Connection) -> anyhow::Result<Vec<Uuid>> {
    conn.prepare("SELECT id FROM sys_users ORDER BY id")?
        .query_map([], |r| r.get::<_, Vec<u8>>(0))?
        .map(|id| Ok(Uuid::from_slice(&id?)?))
        .collect()
}

/// Ceiling (b): single-row committed transactions into the table ceiling (a) filled, rows
/// `first..` of the data set, until `max` commits or `limit` time.
pub fn sqlite_commits(
    path: &Path,
    seed: u64,
    first: u64,
    max: u64,
    limit: Duration,
) -> anyhow::Result<CommitCeiling> {
    let object = contact_object()?;
    let conn = sqlite_open(path)?;
    let users = sqlite_users(&conn)?;
    let mut stmt = conn.prepare(&sqlite_insert_sql(&object))?;
    commit_rows(
        first,
        max,
        limit,
        |from, to| rows(&object, seed, from, to, &users),
        |r| {
            // Autocommit: each statement is its own transaction.
            stmt.execute(rusqlite::params_from_iter(r.iter()))?;
            Ok(())
        },
    )
}

/// Commits rows `first..` one at a time through `commit` until `max` rows or `limit` time,
/// generating them a thousand at a time (cheap next to a commit, and memory stays flat).
fn commit_rows(
    first: u64,
    max: u64,
    limit: Duration,
    mut generate: impl FnMut(u64, u64) -> Vec<Vec<SqlValue>>,
    mut commit: impl FnMut(Vec<SqlValue>) -> anyhow::Result<()>,
) -> anyhow::Result<CommitCeiling> {
    let start = Instant::now();
    let mut commits = 0;
    let mut from = first;
    while commits < max && start.elapsed() < limit {
        let to = from + (max - commits).min(1_000);
        for r in generate(from, to) {
            commit(r)?;
            commits += 1;
            if start.elapsed() >= limit {
                break;
            }
        }
        from = to;
    }
    Ok(CommitCeiling {
        commits,
        seconds: start.elapsed().as_secs_f64(),
    })
}

// --- PostgreSQL --------------------------------------------------------------------------

/// A PostgreSQL client whose search path is `schema` (created here).
pub fn pg_connect(url: &str, schema: &str) -> anyhow::Result<postgres::Client> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .with_context(|| format!("cannot connect to {url}"))?;
    client.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path = {schema}"
    ))?;
    Ok(client)
}

/// One value in COPY's text format.
fn copy_text(v: &SqlValue, out: &mut Vec<u8>) {
    match v {
        SqlValue::Null => out.extend_from_slice(b"\\N"),
        SqlValue::Uuid(u) => {
            let _ = write!(out, "{u}");
        }
        SqlValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        SqlValue::Timestamp(t) => {
            out.extend_from_slice(relata_domain::value::format_datetime(t).as_bytes());
        }
        SqlValue::Text(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
        // The contact table has no other column types.
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
}

/// Ceiling (a) on PostgreSQL: `COPY contact FROM STDIN` (text format) in one transaction, into
/// the same table with the same indexes, in a fresh schema.
pub fn pg_insert(
    url: &str,
    schema: &str,
    seed: u64,
    rows_total: u64,
    sample: usize,
) -> anyhow::Result<InsertCeiling> {
    let object = contact_object()?;
    let table = object_table(&object);
    let users = standin_users();
    let mut client = pg_connect(url, schema)?;
    client.batch_execute(
        "CREATE TABLE sys_users (id UUID NOT NULL PRIMARY KEY);
         CREATE TABLE account (id UUID NOT NULL PRIMARY KEY);",
    )?;
    for stmt in table.render(Dialect::Postgres) {
        client.batch_execute(&stmt)?;
    }
    for user in &users {
        client.execute("INSERT INTO sys_users (id) VALUES ($1)", &[user])?;
    }
    let every = sample_every(rows_total, sample);
    let mut sample_ids = Vec::new();
    let start = Instant::now();
    let mut tx = client.transaction()?;
    let mut writer = tx.copy_in(&format!(
        "COPY contact ({}) FROM STDIN",
        columns(&object).join(", ")
    ))?;
    let mut timed = start.elapsed();
    let mut from = 0;
    let mut buf = Vec::with_capacity(4 << 20);
    while from < rows_total {
        let to = (from + CHUNK).min(rows_total);
        buf.clear();
        for (k, r) in rows(&object, seed, from, to, &users).iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                if j > 0 {
                    buf.push(b'\t');
                }
                copy_text(v, &mut buf);
            }
            buf.push(b'\n');
            if (from + k as u64).is_multiple_of(every)
                && let SqlValue::Uuid(id) = r[0]
            {
                sample_ids.push(id);
            }
        }
        let start = Instant::now();
        writer.write_all(&buf)?;
        timed += start.elapsed();
        from = to;
    }
    let start = Instant::now();
    writer.finish()?;
    tx.commit()?;
    timed += start.elapsed();
    Ok(InsertCeiling {
        rows: rows_total,
        seconds: timed.as_secs_f64(),
        sample_ids,
    })
}

/// Ceiling (b) on PostgreSQL: single-row INSERTs, each its own transaction.
pub fn pg_commits(
    url: &str,
    schema: &str,
    seed: u64,
    first: u64,
    max: u64,
    limit: Duration,
) -> anyhow::Result<CommitCeiling> {
    let object = contact_object()?;
    let mut client = pg_connect(url, schema)?;
    let users: Vec<Uuid> = client
        .query("SELECT id FROM sys_users ORDER BY id", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let cols = columns(&object);
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let stmt = client.prepare(&format!(
        "INSERT INTO contact ({}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    ))?;
    commit_rows(
        first,
        max,
        limit,
        |from, to| rows(&object, seed, from, to, &users),
        |r| {
            // Dates travel as text on SQLite; PostgreSQL wants a DATE for `birthday`.
            let params: Vec<SqlValue> = object
                .live_fields()
                .zip(r)
                .map(|(f, v)| match (f.field_type, v) {
                    (FieldType::Date, SqlValue::Text(s)) => {
                        relata_domain::value::parse_date(&s).map_or(SqlValue::Null, SqlValue::Date)
                    }
                    (_, v) => v,
                })
                .collect();
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            client.execute(&stmt, &refs)?;
            Ok(())
        },
    )
}

/// Drops a schema made for the benchmark.
pub fn pg_drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    Ok(())
}
