//! Where attachment bytes live: the storage port and its two adapters. In the database by
//! default — in the same transaction as the attachment's row, so it works alike on both
//! backends, is in every backup, and any server process of a PostgreSQL installation can
//! serve any file (ADR 0007's reasons for import files). A local directory is the option
//! for installations whose files outgrow their database.

use std::io::Write as _;
use std::path::PathBuf;

use uuid::Uuid;

use relata_store::dialect::placeholders;
use relata_store::{Conn, Sql, SqlValue};

use crate::CoreError;

/// Pieces of a file in the database: large enough that a file is a few rows, small enough
/// that one row stays a modest allocation.
const PIECE_BYTES: usize = 1 << 20;

/// The storage port.
pub trait FileStore: Send + Sync {
    /// `database` or `directory`, as recorded on each attachment.
    fn kind(&self) -> &'static str;
    /// Stores a file, inside the write transaction that records its attachment.
    fn put(&self, conn: &mut dyn Conn, id: Uuid, data: &[u8]) -> Result<(), CoreError>;
    fn get(&self, conn: &mut dyn Conn, id: Uuid) -> Result<Vec<u8>, CoreError>;
    /// Removes a file whose attachment row this transaction deletes.
    fn remove(&self, conn: &mut dyn Conn, id: Uuid) -> Result<(), CoreError>;
    /// Called once that transaction has committed: what cannot be rolled back goes now.
    fn removed(&self, id: Uuid);
}

/// Files in `sys_attachment_pieces`.
pub struct DatabaseFiles;

impl FileStore for DatabaseFiles {
    fn kind(&self) -> &'static str {
        "database"
    }

    fn put(&self, conn: &mut dyn Conn, id: Uuid, data: &[u8]) -> Result<(), CoreError> {
        let sql = format!(
            "INSERT INTO sys_attachment_pieces (attachment_id, seq, data) VALUES ({})",
            placeholders(conn.dialect(), 1, 3)
        );
        for (seq, piece) in data.chunks(PIECE_BYTES).enumerate() {
            conn.execute(
                &sql,
                &[
                    SqlValue::Uuid(id),
                    SqlValue::Int(seq as i64),
                    SqlValue::Blob(piece.to_vec()),
                ],
            )?;
        }
        Ok(())
    }

    fn get(&self, conn: &mut dyn Conn, id: Uuid) -> Result<Vec<u8>, CoreError> {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT data FROM sys_attachment_pieces WHERE attachment_id = ");
        sql.param(SqlValue::Uuid(id));
        sql.push(" ORDER BY seq");
        let mut out = Vec::new();
        for row in conn.query(&sql.text, &sql.params)? {
            if let Some(SqlValue::Blob(b)) = row.into_iter().next() {
                out.extend_from_slice(&b);
            }
        }
        Ok(out)
    }

    fn remove(&self, conn: &mut dyn Conn, id: Uuid) -> Result<(), CoreError> {
        let mut sql = Sql::new(conn.dialect());
        sql.push("DELETE FROM sys_attachment_pieces WHERE attachment_id = ");
        sql.param(SqlValue::Uuid(id));
        conn.execute(&sql.text, &sql.params)?;
        Ok(())
    }

    fn removed(&self, _id: Uuid) {}
}

/// Files under a directory, one per attachment, named by its id.
pub struct DirectoryFiles {
    pub dir: PathBuf,
}

impl DirectoryFiles {
    fn path(&self, id: Uuid) -> PathBuf {
        let name = id.simple().to_string();
        // a level of sub-directories so no directory holds millions of files
        self.dir.join(&name[name.len() - 2..]).join(name)
    }
}

fn io(what: &str, e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("attachment storage: {what}: {e}"))
}

impl FileStore for DirectoryFiles {
    fn kind(&self) -> &'static str {
        "directory"
    }

    /// Written to a temporary name, synced, then renamed: a crash leaves no half file under
    /// an attachment's name. (A transaction that fails after this leaves an unreferenced
    /// file behind, never a row without its file.)
    fn put(&self, _conn: &mut dyn Conn, id: Uuid, data: &[u8]) -> Result<(), CoreError> {
        let path = self.path(id);
        let parent = path
            .parent()
            .ok_or_else(|| CoreError::Internal("attachment path without a directory".into()))?;
        std::fs::create_dir_all(parent).map_err(|e| io("create directory", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| io("create", e))?;
        tmp.write_all(data).map_err(|e| io("write", e))?;
        tmp.as_file().sync_all().map_err(|e| io("sync", e))?;
        tmp.persist(&path).map_err(|e| io("rename", e.error))?;
        Ok(())
    }

    fn get(&self, _conn: &mut dyn Conn, id: Uuid) -> Result<Vec<u8>, CoreError> {
        std::fs::read(self.path(id)).map_err(|e| io("read", e))
    }

    fn remove(&self, _conn: &mut dyn Conn, _id: Uuid) -> Result<(), CoreError> {
        Ok(())
    }

    fn removed(&self, id: Uuid) {
        if let Err(e) = std::fs::remove_file(self.path(id)) {
            tracing::warn!(error = %e, %id, "attachment storage: could not remove a file");
        }
    }
}
