//! Multi-row INSERTs. Writing many small rows one statement at a time costs a statement each
//! on SQLite and a network round trip each on PostgreSQL; one statement per chunk of rows costs
//! one. Chunk sizes come from a short fixed list so only a handful of distinct statements
//! (and cached plans) exist per table.

use crate::conn::Conn;
use crate::dialect::placeholder;
use crate::error::StoreError;
use crate::sql_value::SqlValue;

const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// Inserts `rows` (each with one value per column) into `table`. `suffix` is appended to each
/// statement (e.g. `ON CONFLICT DO NOTHING`).
pub fn insert_rows(
    conn: &mut dyn Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
    suffix: &str,
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
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
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
        if !suffix.is_empty() {
            sql.push(' ');
            sql.push_str(suffix);
        }
        conn.execute(&sql, &params)?;
        rest = tail;
    }
    Ok(())
}
