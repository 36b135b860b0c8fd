//! Multi-row INSERTs. Writing many small rows one statement at a time costs a statement each
//! on SQLite and a network round trip each on PostgreSQL; one statement per chunk of rows costs
//! one. Chunk sizes come from a short fixed list so only a handful of distinct statements
//! (and cached plans) exist per table.

use crate::conn::Conn;
use crate::dialect::{Dialect, placeholder};
use crate::error::StoreError;
use crate::sql_value::SqlValue;

const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// What a row whose key is already in the table does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// The statement fails (and writes none of its rows).
    Fail,
    /// The row is skipped. On SQLite this is `INSERT OR IGNORE`, not `ON CONFLICT DO NOTHING`:
    /// a statement that cannot abort half-way needs no statement journal, which for thousands
    /// of search terms per bulk call is a third of the insert cost. `OR IGNORE` also skips
    /// rows that break NOT NULL or CHECK constraints, so use it only for rows built by our
    /// own code, never for user input.
    Skip,
}

/// Inserts `rows` (each with one value per column) into `table`.
pub fn insert_rows(
    conn: &mut dyn Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
    on_duplicate: OnDuplicate,
) -> Result<(), StoreError> {
    let d = conn.dialect();
    let mut rest = rows;
    while !rest.is_empty() {
        let size = CHUNKS
            .iter()
            .copied()
            .find(|c| *c <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        let verb = match (on_duplicate, d) {
            (OnDuplicate::Skip, Dialect::Sqlite) => "INSERT OR IGNORE",
            _ => "INSERT",
        };
        let mut sql = format!("{verb} INTO {table} ({}) VALUES ", columns.join(", "));
        let mut params = Vec::with_capacity(size * columns.len());
        for (i, row) in chunk.iter().enumerate() {
            if row.len() != columns.len() {
                return Err(StoreError::Internal(format!(
                    "row of {} values for {} columns of {table}",
                    row.len(),
                    columns.len()
                )));
            }
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                params.push(v.clone());
                sql.push_str(&placeholder(d, params.len()));
            }
            sql.push(')');
        }
        if on_duplicate == OnDuplicate::Skip && d == Dialect::Postgres {
            sql.push_str(" ON CONFLICT DO NOTHING");
        }
        conn.execute(&sql, &params)?;
        rest = tail;
    }
    Ok(())
}
