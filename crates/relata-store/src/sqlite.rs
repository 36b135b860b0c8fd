//! SQLite backend: one writer thread that owns the only writing connection, and a pool of
//! reader connections (WAL mode lets readers run while the writer writes).
//!
//! The writer commits in groups: it starts a transaction with the first queued write, then
//! takes every write already waiting (up to [`GROUP_LIMIT`]), each in its own savepoint, and
//! commits once. A failing write rolls back to its savepoint alone; the others commit. Callers
//! hear back only after the commit. One commit per group instead of per request is what lets
//! single-record creates pass the per-commit ceiling of the disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::OpenFlags;

use crate::conn::SqliteConn;
use crate::error::StoreError;

/// Most writes committed together.
const GROUP_LIMIT: usize = 256;

pub(crate) type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
pub(crate) type WriteJob = Box<dyn FnOnce(&mut SqliteConn) -> Completion + Send>;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub readers: u32,
    /// `NORMAL` survives a crash of the process (not of the machine) without an fsync per
    /// commit; `FULL` also survives power loss.
    pub synchronous: String,
    pub cache_mb: u32,
}

fn open(
    path: &Path,
    flags: OpenFlags,
    opts: &SqliteOptions,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = {};
         PRAGMA cache_size = -{};
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 268435456;",
        opts.synchronous,
        u64::from(opts.cache_mb) * 1024
    ))?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

pub(crate) fn open_writer(opts: &SqliteOptions) -> Result<SqliteConn, StoreError> {
    if let Some(dir) = opts.path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let conn = open(
        &opts.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        opts,
    )?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 4000;")?;
    Ok(SqliteConn { inner: conn })
}

/// Runs the writer loop on its own thread until every sender is dropped.
pub(crate) fn spawn_writer(
    mut conn: SqliteConn,
    jobs: mpsc::Receiver<WriteJob>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("relata-sqlite-writer".into())
        .spawn(move || {
            while let Ok(first) = jobs.recv() {
                if let Err(e) = conn.inner.execute_batch("BEGIN IMMEDIATE") {
                    let err = StoreError::from(e);
                    tracing::error!(error = %err, "sqlite writer cannot begin a transaction");
                    // Run the job outside a transaction would break atomicity: fail it.
                    let completion = run_job(&mut conn, first);
                    completion(Err(err));
                    continue;
                }
                let mut completions = vec![run_job(&mut conn, first)];
                while completions.len() < GROUP_LIMIT {
                    match jobs.try_recv() {
                        Ok(job) => completions.push(run_job(&mut conn, job)),
                        Err(_) => break,
                    }
                }
                let committed = conn.inner.execute_batch("COMMIT").map_err(StoreError::from);
                if let Err(e) = &committed {
                    tracing::error!(error = %e, "sqlite group commit failed");
                    let _ = conn.inner.execute_batch("ROLLBACK");
                }
                for c in completions {
                    c(match &committed {
                        Ok(()) => Ok(()),
                        Err(e) => Err(StoreError::Internal(e.to_string())),
                    });
                }
            }
        })
        .map_err(|e| StoreError::Internal(format!("cannot start the sqlite writer: {e}")))
}

/// Runs one job inside a savepoint. A panicking job is rolled back and reported, so that one
/// bug cannot take the writer thread (and every later write) down with it.
fn run_job(conn: &mut SqliteConn, job: WriteJob) -> Completion {
    if let Err(e) = conn.inner.execute_batch("SAVEPOINT job") {
        let err = StoreError::from(e);
        return Box::new(move |_| drop(err));
    }
    match catch_unwind(AssertUnwindSafe(|| job(conn))) {
        Ok(completion) => completion,
        Err(_) => {
            let _ = conn.inner.execute_batch("ROLLBACK TO job; RELEASE job");
            tracing::error!("a write job panicked; rolled back");
            Box::new(|_| {})
        }
    }
}

/// r2d2 manager for reader connections.
#[derive(Debug)]
pub(crate) struct ReaderManager {
    pub opts: SqliteOptions,
}

impl r2d2::ManageConnection for ReaderManager {
    type Connection = SqliteConn;
    type Error = StoreError;

    fn connect(&self) -> Result<SqliteConn, StoreError> {
        let conn = open(
            &self.opts.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            &self.opts,
        )?;
        // Readers never write: a bug that tries fails loudly instead of racing the writer.
        conn.execute_batch("PRAGMA query_only = ON")?;
        Ok(SqliteConn { inner: conn })
    }

    fn is_valid(&self, conn: &mut SqliteConn) -> Result<(), StoreError> {
        conn.inner
            .execute_batch("SELECT 1")
            .map_err(StoreError::from)
    }

    fn has_broken(&self, _conn: &mut SqliteConn) -> bool {
        false
    }
}
