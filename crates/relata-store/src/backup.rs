//! Consistent online backups (`relata backup FILE`), taken while a server may be writing.
//!
//! - SQLite: SQLite's online backup API, from a connection of its own, copying every page in
//!   one step, so the copy is one read transaction: one snapshot, and writers carry on (WAL).
//! - PostgreSQL (or any source): the db-copy machinery ([`crate::copy`]) writes the database
//!   into a new SQLite file, reading the source in one REPEATABLE READ transaction.
//!
//! Either way the backup is a single self-contained SQLite file. Restoring it is
//! `relata db-copy --from sqlite://FILE --to <target>`, or, for SQLite with the server
//! stopped, copying the file into place. The file appears under its final name only when it
//! is complete (written beside it, then renamed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::copy::{CopyError, CopyProgress, CopySummary, copy_database};
use crate::error::StoreError;
use crate::{Store, StoreOptions};

/// How often a busy or locked source is retried before the backup gives up.
const BUSY_RETRIES: u32 = 100;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Removes a SQLite file and its WAL companions, ignoring files that are not there.
fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

fn refuse_existing(dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    Ok(())
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot {what} {}: {e}", path.display()))
}

/// Backs up the SQLite database at `source` into the new file `dest`, in one snapshot, while
/// other connections (a running server) may be writing to it.
pub fn sqlite_online_backup(source: &Path, dest: &Path) -> Result<(), StoreError> {
    refuse_existing(dest)?;
    if !source.is_file() {
        return Err(StoreError::Unavailable(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    // Read-write without CREATE: never creates an empty database by mistake, and can open a
    // WAL database even when no other process holds its shared-memory file.
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    let is_relata = src
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sys_migrations'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
        > 0;
    if !is_relata {
        return Err(StoreError::Unavailable(format!(
            "{} is not a Relata database",
            source.display()
        )));
    }
    let partial = with_suffix(dest, ".partial");
    remove_sqlite_files(&partial);
    let result = (|| -> Result<(), StoreError> {
        let mut dst = Connection::open(&partial)?;
        {
            let backup = Backup::new(&src, &mut dst)?;
            let mut tries = 0;
            // -1: all pages in one step, i.e. within one read transaction on the source.
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => continue,
                    StepResult::Busy | StepResult::Locked if tries < BUSY_RETRIES => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    _ => {
                        return Err(StoreError::Unavailable(
                            "the database stayed locked; try the backup again".into(),
                        ));
                    }
                }
            }
        }
        // A self-contained file: no WAL to carry along with it.
        dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        dst.close().map_err(|(_, e)| StoreError::from(e))?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_sqlite_files(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, dest).map_err(|e| io_error("write", dest, e))
}

/// Backs up any store (PostgreSQL in practice) into the new SQLite file `dest` with the
/// db-copy machinery: one snapshot of the source, written to a staging database next to
/// `dest`, then compacted into `dest`.
pub fn backup_to_sqlite(
    source: &Store,
    dest: &Path,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopySummary, CopyError> {
    refuse_existing(dest)?;
    let staging = with_suffix(dest, ".staging");
    let partial = with_suffix(dest, ".partial");
    remove_sqlite_files(&staging);
    remove_sqlite_files(&partial);
    let result = (|| -> Result<CopySummary, CopyError> {
        let mut opts = StoreOptions::new(format!("sqlite://{}", staging.display()));
        opts.pool_size = 1;
        opts.sqlite_synchronous = "OFF".into(); // a staging file; `dest` is written afresh
        let target = Store::open(&opts)?;
        let summary = copy_database(source, &target, progress)?;
        target.close();
        drop(target);
        let conn = Connection::open_with_flags(
            &staging,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::from)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(StoreError::from)?;
        let partial_text = partial.to_str().ok_or_else(|| {
            StoreError::Unavailable(format!("{} is not valid UTF-8", partial.display()))
        })?;
        conn.execute("VACUUM INTO ?1", [partial_text])
            .map_err(StoreError::from)?;
        Ok(summary)
    })();
    remove_sqlite_files(&staging);
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, dest).map_err(|e| io_error("write", dest, e))?;
            Ok(summary)
        }
        Err(e) => {
            remove_sqlite_files(&partial);
            Err(e)
        }
    }
}
