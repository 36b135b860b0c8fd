//! SQLite backend: one writer thread that owns the only writing connection, and a pool of
//! reader connections (WAL mode lets readers run while the writer writes).
//!
//! The writer commits in groups: it starts a transaction with the first queued write, then
//! takes every write already waiting (up to [`GROUP_LIMIT`]), each in its own savepoint, and
//! commits once. A failing write rolls back to its savepoint alone; the others commit. Callers
//! hear back only after the commit. One commit per group instead of per request is what lets
//! single-record creates pass the per-commit ceiling of the disk.
//!
//! The first write of a group runs without a savepoint: if it fails, the transaction holds
//! nothing else and is rolled back whole. A large write (a bulk upsert of thousands of records,
//! [`WriteJob::large`]) always opens a group of its own. Inside an open savepoint SQLite keeps
//! every changed page in an in-memory sub-journal, and each statement's end walks it, so a long
//! write under a savepoint slows down with every statement — a 22,000-record demo load spent a
//! quarter of its time there.
//!
//! A checkpointer thread with a connection of its own copies the write-ahead log back into the
//! database a while after commits, so the writer does not stop for it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::OpenFlags;

use crate::conn::{Conn, SqliteConn};
use crate::error::StoreError;
use crate::idle;

/// The most of the database file each connection maps (SQLite's default upper limit).
pub(crate) const MMAP_BYTES: u64 = 0x7fff_0000;

/// Most writes committed together.
const GROUP_LIMIT: usize = 256;

/// WAL pages after which the writer copies the log back into the database itself, after a
/// commit. A backstop only: the checkpointer thread normally does it long before, off the
/// writer's path (a checkpoint writes every page back and waits for `fsync`; on the writer
/// it held up every queued write for tens of milliseconds several times a second). At 16,000
/// pages one batch of a CSV import into a large table (its rows land on random pages of
/// every index) passed the mark by itself, and the writer copied the log back after each
/// batch: 256 MB leaves that to the checkpointer (a 100,000-row import into 245,000
/// contacts went from ~2,900 to ~3,400 rows/s).
const WRITER_CHECKPOINT_PAGES: u32 = 64_000;

/// How long the checkpointer waits after a commit before copying the log back, so that one
/// checkpoint (and one `fsync`) covers the commits of that while.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(250);

/// Groups between two `PRAGMA optimize` runs (which refresh planner statistics of tables that
/// have grown or shrunk much since they were last analysed; a no-op otherwise).
const OPTIMIZE_EVERY: u32 = 1_000;

/// Told the outcome of the group's commit; answers the caller.
pub(crate) type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What a write job did: whether its changes should be kept, and how to answer its caller
/// once the commit is known (a failed job answers with its own error whatever happens).
pub(crate) struct Done {
    pub ok: bool,
    pub completion: Completion,
}

pub(crate) type JobFn = Box<dyn FnOnce(&mut SqliteConn) -> Done + Send>;

pub(crate) struct WriteJob {
    pub run: JobFn,
    /// Thousands of rows: opens its own group rather than joining one under a savepoint.
    pub large: bool,
}

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
    // temp_store = MEMORY: the sub-journals of the savepoints of a group commit stay in memory
    // (with the default, files, they spill to a temporary file after 64 KiB and every
    // group's pages are written out once more through system calls).
    // mmap_size: pages are read from the mapped file instead of copied by a system call each
    // (at 1,000,000 contacts the writer spent a third of a bulk load copying index pages in);
    // SQLite's own cap, 2 GiB, is asked for. It is address space: what is touched is the
    // operating system's page cache, shared by every connection.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = {};
         PRAGMA cache_size = -{};
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = {MMAP_BYTES};",
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
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
    ))?;
    // Planner statistics: without them SQLite guesses that `city = ?` matches ten rows and
    // sorts all of a big city's contacts for one page of a list sorted by date; with them it
    // walks the date index instead. `analysis_limit` keeps ANALYZE to a sample, so it takes
    // milliseconds on a table of millions. 0x10002 analyses at open only what needs it.
    conn.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
    Ok(SqliteConn::new(conn))
}

/// Runs the writer loop on its own thread until every sender is dropped.
pub(crate) fn spawn_writer(
    mut conn: SqliteConn,
    jobs: mpsc::Receiver<WriteJob>,
    committed: mpsc::SyncSender<()>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("relata-sqlite-writer".into())
        .spawn(move || {
            let mut groups = 0u32;
            let mut optimize_later = false;
            let mut holds_memory = false;
            loop {
                let first = match jobs.recv_timeout(idle::QUIET) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if holds_memory {
                            idle::release(&conn.inner);
                            holds_memory = false;
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                holds_memory = true;
                let mut opener = Some(first);
                while let Some(job) = opener.take() {
                    // After a bulk write, or every so many groups: refresh the statistics.
                    groups += 1;
                    if job.large || groups >= OPTIMIZE_EVERY {
                        groups = 0;
                        optimize_later = true;
                    }
                    opener = commit_group(&mut conn, job, &jobs);
                    // full: the checkpointer already knows there is something to copy back
                    let _ = committed.try_send(());
                }
                if optimize_later {
                    optimize_later = false;
                    // 0x10002: look at every table, not only those this connection queried (the
                    // lists and searches that need the statistics run on reader connections).
                    if let Err(e) = conn.inner.execute_batch("PRAGMA optimize = 0x10002") {
                        tracing::warn!(error = %e, "sqlite: PRAGMA optimize failed");
                    }
                }
            }
        })
        .map_err(|e| StoreError::Internal(format!("cannot start the sqlite writer: {e}")))
}

/// Copies committed WAL pages back into the database file on a connection and thread of its
/// own, a while after commits, until the writer (which holds the other end of `committed`)
/// stops. A passive checkpoint never blocks the writer or readers; it copies what no reader
/// still needs, and the writer starts the log over once everything was copied.
pub(crate) fn spawn_checkpointer(
    opts: &SqliteOptions,
    committed: mpsc::Receiver<()>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = open(
        &opts.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        opts,
    )?;
    std::thread::Builder::new()
        .name("relata-sqlite-checkpointer".into())
        .spawn(move || {
            let mut holds_memory = false;
            loop {
                match committed.recv_timeout(idle::QUIET) {
                    Ok(()) => {}
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if holds_memory {
                            idle::release(&conn);
                            holds_memory = false;
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                std::thread::sleep(CHECKPOINT_DELAY);
                while committed.try_recv().is_ok() {}
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %StoreError::from(e), "sqlite: checkpoint failed");
                }
                holds_memory = true;
            }
        })
        .map_err(|e| StoreError::Internal(format!("cannot start the sqlite checkpointer: {e}")))
}

/// One transaction: `opener` without a savepoint, then every small job already waiting, each
/// in its own savepoint; one commit. Returns the job that opens the next group right away, if
/// any: a large job found waiting, or — when the opener failed and left an empty transaction
/// — whatever is waiting next.
fn commit_group(
    conn: &mut SqliteConn,
    opener: WriteJob,
    jobs: &mpsc::Receiver<WriteJob>,
) -> Option<WriteJob> {
    if let Err(err) = conn.batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %err, "sqlite writer cannot begin a transaction");
        // Running the job outside a transaction would break atomicity: it is dropped, and
        // its caller hears that the write was abandoned.
        drop(opener);
        return None;
    }
    conn.deferred_index = Some(Vec::new());
    let first = run_guarded(conn, opener);
    if !first.ok {
        conn.deferred_index = None;
        let _ = conn.batch("ROLLBACK");
        (first.completion)(Ok(()));
        return jobs.try_recv().ok();
    }
    let mut completions = vec![first.completion];
    let mut next = None;
    while completions.len() < GROUP_LIMIT {
        match jobs.try_recv() {
            Ok(job) if job.large => {
                next = Some(job);
                break;
            }
            Ok(job) => completions.push(run_in_savepoint(conn, job)),
            Err(_) => break,
        }
    }
    let flushed = crate::search_index::flush_deferred(conn);
    conn.deferred_index = None;
    let committed = flushed.and_then(|()| conn.batch("COMMIT"));
    if let Err(e) = &committed {
        tracing::error!(error = %e, "sqlite group commit failed");
        let _ = conn.batch("ROLLBACK");
    }
    for c in completions {
        c(match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Internal(e.to_string())),
        });
    }
    next
}

/// Runs a job that joins an open transaction, inside a savepoint so that its failure undoes
/// its own changes only.
fn run_in_savepoint(conn: &mut SqliteConn, job: WriteJob) -> Completion {
    if let Err(e) = conn.batch("SAVEPOINT job") {
        tracing::error!(error = %e, "sqlite writer cannot open a savepoint");
        // The job is dropped unrun: its caller hears that the write was abandoned.
        drop(job);
        return Box::new(|_| {});
    }
    let deferred = conn.deferred_index.as_ref().map_or(0, Vec::len);
    let done = run_guarded(conn, job);
    let undo_deferred = |conn: &mut SqliteConn| {
        if let Some(d) = conn.deferred_index.as_mut() {
            d.truncate(deferred);
        }
    };
    if done.ok {
        if let Err(err) = conn.batch("RELEASE job") {
            let _ = conn.inner.execute_batch("ROLLBACK TO job; RELEASE job");
            undo_deferred(conn);
            let completion = done.completion;
            return Box::new(move |_| completion(Err(err)));
        }
    } else {
        let _ = conn.inner.execute_batch("ROLLBACK TO job; RELEASE job");
        undo_deferred(conn);
    }
    done.completion
}

/// Runs a job, turning a panic into a failure, so that one bug cannot take the writer thread
/// (and every later write) down with it. The caller of a panicked job hears that its write was
/// abandoned.
fn run_guarded(conn: &mut SqliteConn, job: WriteJob) -> Done {
    match catch_unwind(AssertUnwindSafe(|| (job.run)(conn))) {
        Ok(done) => done,
        Err(_) => {
            tracing::error!("a write job panicked; rolled back");
            Done {
                ok: false,
                completion: Box::new(|_| {}),
            }
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
        Ok(SqliteConn::new(conn))
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
