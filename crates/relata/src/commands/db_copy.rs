//! `relata db-copy --from URL --to URL`: copies a whole database — metadata, users, tokens,
//! change feed, field history, search index, idempotency keys and every object table — between
//! backends, e.g. from the embedded SQLite file to PostgreSQL when one machine is not enough.
//! The machinery is `relata_store::copy`; this module opens both ends and shows progress.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use relata_store::Store;
use relata_store::copy::{CopyProgress, copy_database};

use crate::cli::DbCopyArgs;
use crate::config::{Config, redact_url};

pub fn run(config: &Config, args: &DbCopyArgs) -> anyhow::Result<()> {
    if args.from == args.to {
        bail!("--from and --to name the same database");
    }
    let (from, to) = (redact_url(&args.from), redact_url(&args.to));
    let source = Store::open(&config.store_options_for(&args.from))
        .with_context(|| format!("cannot open the source {from}"))?;
    let target = Store::open(&config.store_options_for(&args.to))
        .with_context(|| format!("cannot open the target {to}"))?;
    let mut progress = ProgressLine::new();
    let summary = copy_database(&source, &target, &mut |p| progress.show(p))
        .with_context(|| format!("cannot copy {from} to {to}"))?;
    progress.finish();
    let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    eprintln!(
        "copied {rows} rows in {} tables from {from} to {to}",
        summary.tables.len()
    );
    source.close();
    target.close();
    Ok(())
}

/// Progress on stderr: one line rewritten in place on a terminal, one line per finished
/// table otherwise (logs and CI output stay readable).
pub struct ProgressLine {
    terminal: bool,
}

impl ProgressLine {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&mut self, p: CopyProgress<'_>) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{}: {} rows", p.table, p.rows);
            if p.done {
                let _ = writeln!(err);
            }
        } else if p.done {
            let _ = writeln!(err, "{}: {} rows", p.table, p.rows);
        }
    }

    pub fn finish(&mut self) {
        let _ = std::io::stderr().flush();
    }
}
