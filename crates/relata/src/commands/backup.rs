//! `relata backup FILE`: a consistent online backup into a new SQLite file while a server may
//! be writing. On SQLite it is SQLite's online backup API from a connection of its own (the
//! store is not opened, so nothing is written to the live database); on PostgreSQL it is a
//! db-copy of one REPEATABLE READ snapshot into a SQLite file. Restoring is
//! `relata db-copy --from sqlite://FILE --to <target>` (see docs/operations.md).

use anyhow::bail;
use relata_store::backup::{backup_to_sqlite, sqlite_online_backup};
use relata_store::{Store, sqlite_path};

use super::db_copy::ProgressLine;
use crate::cli::BackupArgs;
use crate::config::{Config, redact_url};

pub fn run(config: &Config, args: &BackupArgs) -> anyhow::Result<()> {
    if args.file.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file, choose a new name",
            args.file.display()
        );
    }
    let url = redact_url(&config.database_url);
    match sqlite_path(&config.database_url) {
        Some(path) => {
            sqlite_online_backup(&path, &args.file)?;
        }
        None => {
            let store = Store::open(&config.store_options())?;
            let mut progress = ProgressLine::new();
            let summary = backup_to_sqlite(&store, &args.file, &mut |p| progress.show(p))?;
            progress.finish();
            let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
            tracing::info!(rows, "copied the snapshot");
            store.close();
        }
    }
    let bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "backup of {url} written to {} ({bytes} bytes)",
        args.file.display()
    );
    Ok(())
}
