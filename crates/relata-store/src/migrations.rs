//! System-table migrations: one ordered list, rendered for each backend from the same table
//! definitions. Applied at start and by `relata migrate`; each runs in its own transaction and
//! is recorded in `sys_migrations`.

use chrono::Utc;

use relata_domain::standard::standard_objects;

use crate::conn::Conn;
use crate::dialect::ColType::{self, *};
use crate::error::StoreError;
use crate::meta_sql;
use crate::schema::{ColumnDef, TableDef};
use crate::sql_value::SqlValue;
use crate::{Store, ddl, search_index};

fn col(name: &str, ty: ColType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

type Apply = fn(&mut dyn Conn) -> Result<(), StoreError>;

/// Every migration, in order. Append only: never edit or reorder an entry that has shipped.
pub fn all() -> Vec<(i64, &'static str, Apply)> {
    vec![
        (1, "system tables", create_system_tables),
        (2, "standard objects", install_standard_objects),
        (
            3,
            "search index: FTS5 on SQLite",
            search_index::migrate_to_fts,
        ),
        (4, "field indexes in list order", ddl::rebuild_field_indexes),
    ]
}

/// The system tables, as data (also used by the schema-parity test and `db-copy`). The search
/// index is not among them: it is stored differently per backend (`search_index::tables`).
pub fn system_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_meta_state",
            vec![col("id", BigInt), col("version", BigInt)],
            &["id"],
        ),
        TableDef::new(
            "sys_meta_objects",
            vec![
                col("api_name", Text),
                col("position", BigInt),
                col("definition", Json),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["api_name"],
        ),
        TableDef::new(
            "sys_users",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("email", Text),
                col("is_admin", Bool),
                col("active", Bool),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["email"], true),
        TableDef::new(
            "sys_api_tokens",
            vec![
                col("id", Uuid),
                col("user_id", Uuid).refs("sys_users"),
                col("name", Text),
                col("token_hash", Text),
                col("created_at", Timestamp),
                col("expires_at", Timestamp).null(),
                col("last_used_at", Timestamp).null(),
                col("revoked_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["token_hash"], true)
        .index(&["user_id"], false),
        TableDef::new(
            "sys_events",
            vec![
                col("seq", Serial),
                col("object", Text),
                col("record_id", Uuid),
                col("kind", Text),
                col("actor", Uuid).null(),
                col("at", Timestamp),
                col("changes", Json),
            ],
            &[],
        )
        .index(&["record_id"], false),
        TableDef::new(
            "sys_field_history",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                col("field", Text),
                col("old_value", Json),
                col("new_value", Json),
                col("actor", Uuid).null(),
                col("at", Timestamp),
            ],
            &["id"],
        )
        .index(&["record_id", "at"], false),
        TableDef::new(
            "sys_idempotency",
            vec![
                col("user_id", Uuid),
                col("key", Text),
                col("request_hash", Text),
                col("status", BigInt),
                col("body", Text),
                col("created_at", Timestamp),
            ],
            &["user_id", "key"],
        )
        .index(&["created_at"], false),
    ]
}

fn create_system_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in system_tables() {
        t.create(conn)?;
    }
    // as shipped: the term table on both backends (migration 3 replaces it on SQLite)
    search_index::term_table().create(conn)?;
    conn.execute(
        "INSERT INTO sys_meta_state (id, version) VALUES (1, 1)",
        &[],
    )?;
    Ok(())
}

fn install_standard_objects(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for object in standard_objects() {
        ddl::create_object_table(conn, &object)?;
        meta_sql::insert_object(conn, &object)?;
    }
    meta_sql::bump_version(conn)?;
    Ok(())
}

/// The table that records applied migrations.
pub fn migrations_table() -> TableDef {
    TableDef::new(
        "sys_migrations",
        vec![
            col("version", BigInt),
            col("name", Text),
            col("applied_at", Timestamp),
        ],
        &["version"],
    )
}

fn applied(conn: &mut dyn Conn) -> Result<Vec<i64>, StoreError> {
    let rows = conn.query("SELECT version FROM sys_migrations ORDER BY version", &[])?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.first().and_then(SqlValue::as_i64))
        .collect())
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps two starting servers from
/// migrating at once.
pub fn migrate_blocking(store: &Store) -> Result<Vec<i64>, StoreError> {
    store.write_blocking(|conn| -> Result<(), StoreError> {
        let t = TableDef::new("sys_migrations", vec![col("version", BigInt), col("name", Text), col("applied_at", Timestamp)], &["version"]);
        let exists = match conn.dialect() {
            crate::Dialect::Sqlite => conn.query_one("SELECT 1 FROM sqlite_master WHERE name = 'sys_migrations'", &[])?.is_some(),
            crate::Dialect::Postgres => {
                conn.query("SELECT pg_advisory_xact_lock(7231000)", &[])?;
                conn.query_one("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'sys_migrations'", &[])?.is_some()
            }
        };
        if !exists {
            t.create(conn)?;
        }
        Ok(())
    })?;
    let mut done = Vec::new();
    for (version, name, apply) in all() {
        let ran = store.write_blocking(move |conn| -> Result<bool, StoreError> {
            if conn.dialect() == crate::Dialect::Postgres {
                conn.query("SELECT pg_advisory_xact_lock(7231000)", &[])?;
            }
            if applied(conn)?.contains(&version) {
                return Ok(false);
            }
            apply(conn)?;
            #[allow(clippy::disallowed_methods)]
            // bookkeeping of the schema itself, not domain time
            let now = Utc::now();
            conn.execute(
                &format!(
                    "INSERT INTO sys_migrations (version, name, applied_at) VALUES ({})",
                    crate::dialect::placeholders(conn.dialect(), 1, 3)
                ),
                &[
                    SqlValue::Int(version),
                    SqlValue::Text(name.to_owned()),
                    SqlValue::Timestamp(now),
                ],
            )?;
            Ok(true)
        })?;
        if ran {
            tracing::info!(version, name, "applied migration");
            done.push(version);
        }
    }
    Ok(done)
}
