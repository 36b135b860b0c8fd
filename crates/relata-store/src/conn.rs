//! One synchronous connection interface for both backends.
//!
//! Services are written once, as plain synchronous code against [`Conn`], and run on blocking
//! threads: SQLite's calls are synchronous anyway, and for PostgreSQL the `postgres` crate (the
//! blocking face of tokio-postgres) keeps the same shape. This is what keeps "one write path"
//! one piece of code instead of two.

use std::collections::HashMap;

use crate::dialect::Dialect;
use crate::error::StoreError;
use crate::search_index::IndexOp;
use crate::sql_value::{SqlValue, from_pg, from_sqlite};

pub type Row = Vec<SqlValue>;

pub trait Conn {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Runs one query; returns all rows.
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;
    /// Runs several statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    fn query_one(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Serialises appends to the change feed until this transaction ends, so that event
    /// sequence numbers are handed out in commit order. SQLite has one writer: nothing to do.
    fn lock_change_feed(&mut self) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres {
            self.query("SELECT pg_advisory_xact_lock(7231001)", &[])?;
        }
        Ok(())
    }

    /// Where search-index changes wait for the end of the transaction, when they do (see
    /// [`SqliteConn`]); `None`: they are written at once.
    fn deferred_index(&mut self) -> Option<&mut Vec<IndexOp>> {
        None
    }
}

pub struct SqliteConn {
    pub(crate) inner: rusqlite::Connection,
    /// On the writer, while a group is open: the group's search-index changes, written once
    /// before its commit, outside every savepoint. FTS5 writes what it holds as a new segment
    /// at every savepoint, so written per write they made one tiny segment per write of the
    /// group (and merges of them); written once, one segment per commit. A write that fails
    /// takes its changes out again with its savepoint.
    pub(crate) deferred_index: Option<Vec<IndexOp>>,
}

impl SqliteConn {
    pub(crate) fn new(inner: rusqlite::Connection) -> Self {
        SqliteConn {
            inner,
            deferred_index: None,
        }
    }
}

impl SqliteConn {
    pub fn raw(&mut self) -> &mut rusqlite::Connection {
        &mut self.inner
    }
}

/// Text parameters with U+0000 fail the same way on both backends (see
/// [`StoreError::NulInText`]).
fn refuse_nul(params: &[SqlValue]) -> Result<(), StoreError> {
    let nul = params
        .iter()
        .any(|p| matches!(p, SqlValue::Text(s) if s.contains('\0')));
    if nul {
        Err(StoreError::NulInText)
    } else {
        Ok(())
    }
}

/// One statement that begins or ends a transaction or savepoint (worth a cached statement:
/// the names of savepoints come from a handful of constants).
fn is_transaction_control(sql: &str) -> bool {
    !sql.contains(';')
        && ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT ", "RELEASE "]
            .iter()
            .any(|verb| sql.starts_with(verb))
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        refuse_nul(params)?;
        let mut stmt = self.inner.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        refuse_nul(params)?;
        let mut stmt = self.inner.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_sqlite(row.get_ref(i)?));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        // Every read opens and ends a transaction: `execute_batch` would parse `BEGIN` and
        // `COMMIT` again each time (a twentieth of a get by id), a cached statement does not.
        if is_transaction_control(sql) {
            self.inner.prepare_cached(sql)?.execute([])?;
            return Ok(());
        }
        Ok(self.inner.execute_batch(sql)?)
    }

    fn deferred_index(&mut self) -> Option<&mut Vec<IndexOp>> {
        self.deferred_index.as_mut()
    }
}

/// A PostgreSQL connection with its own prepared-statement cache (the driver's `query(&str)`
/// would prepare every statement again on every call: one extra round trip each).
pub struct PgConn {
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

/// Statements kept per connection; generated SQL varies with filters, so the cache is bounded.
const PG_STATEMENT_CACHE: usize = 512;

impl PgConn {
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client()?.prepare(sql)?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    pub(crate) fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("connection closed".into()))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    /// Forgets prepared statements (after DDL changes the tables they read).
    pub fn clear_statements(&mut self) {
        self.statements.clear();
    }
}

fn pg_params(params: &[SqlValue]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        refuse_nul(params)?;
        let stmt = self.statement(sql)?;
        Ok(self.client()?.execute(&stmt, &pg_params(params))?)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        refuse_nul(params)?;
        let stmt = self.statement(sql)?;
        let rows = self.client()?.query(&stmt, &pg_params(params))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| from_pg(row, i).map_err(StoreError::from))
                    .collect()
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        if sql.contains("CREATE") || sql.contains("ALTER") || sql.contains("DROP") {
            self.statements.clear();
        }
        Ok(self.client()?.batch_execute(sql)?)
    }
}

impl Drop for PgConn {
    /// The blocking client runs a small runtime of its own to close the connection, which
    /// panics on a thread that is driving async tasks (a pool dropped in an async context).
    /// Close it on a plain thread instead.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(move || drop(client));
            } else {
                drop(client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_transaction_control;

    #[test]
    fn only_single_transaction_statements_are_cached() {
        for sql in [
            "BEGIN",
            "BEGIN IMMEDIATE",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT job",
            "RELEASE job",
        ] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in [
            "ROLLBACK TO job; RELEASE job",
            "CREATE TABLE t (a INTEGER)",
            "PRAGMA optimize",
            "SELECT 1",
        ] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }
}
