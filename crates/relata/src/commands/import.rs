//! `relata import --object O [--in FILE]`: a CSV or XLSX file runs as an import job
//! (`import_file`); JSON Lines create or update records through
//! the record service's bulk upsert (the one write path: validation, history, search terms,
//! change feed), matched by `id`, in batches of [`BATCH`] with one result per record.
//!
//! Lines exported by `relata export` import as they are: ids are kept, so importing twice
//! updates instead of duplicating. Fields the system sets (`created_at`, `created_by`,
//! `updated_at`, `updated_by`, `version`) are dropped and set afresh by the write path, and an
//! `owner_id` naming a user this database does not have falls back to the importing admin.
//! A record whose lookup points at a record later in the file is retried after the rest.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value as Json;

use relata_core::records::bulk::{BulkMode, BulkStatus};
use relata_core::{Actor, Core, Source};
use relata_domain::FieldErrorCode;
use relata_store::{SqlValue, StoreError};

use super::{admin_actor, core_error, open_core, runtime};
use crate::cli::ImportArgs;
use crate::config::Config;

/// Records per bulk call.
const BATCH: usize = 1000;

/// Set by the write path; an export carries them, an import must not send them.
const SYSTEM_SET: [&str; 5] = [
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
];

#[derive(Debug, Default)]
struct Tally {
    created: u64,
    updated: u64,
    unchanged: u64,
    failed: u64,
    owners_reassigned: u64,
}

/// One input line waiting to be written.
struct Pending {
    line: usize,
    record: Json,
}

struct Importer<'a> {
    core: &'a Core,
    actor: Actor,
    object: String,
    rt: tokio::runtime::Runtime,
    tally: Tally,
    /// Lines that failed only because a lookup target does not exist (yet).
    waiting: Vec<(Pending, String)>,
}

impl Importer<'_> {
    /// Writes one batch; lines failing on a missing lookup wait for a retry when `defer`.
    fn write(&mut self, batch: Vec<Pending>, defer: bool) -> anyhow::Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let records: Vec<Json> = batch.iter().map(|p| p.record.clone()).collect();
        let result = self
            .rt
            .block_on(self.core.bulk_upsert(
                &self.actor,
                &self.object,
                "id",
                BulkMode::PerRecord,
                records,
            ))
            .map_err(core_error)?;
        let mut written = 0;
        for (item, pending) in result.results.into_iter().zip(batch) {
            match item.status {
                BulkStatus::Created => self.tally.created += 1,
                BulkStatus::Updated => self.tally.updated += 1,
                BulkStatus::Unchanged => self.tally.unchanged += 1,
                BulkStatus::Failed | BulkStatus::Skipped => {
                    let message = item
                        .errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let only_lookups = !item.errors.is_empty()
                        && item
                            .errors
                            .iter()
                            .all(|e| e.code == FieldErrorCode::LookupNotFound);
                    if defer && only_lookups {
                        self.waiting.push((pending, message));
                    } else {
                        self.fail(pending.line, &message);
                    }
                    continue;
                }
            }
            written += 1;
        }
        Ok(written)
    }

    fn fail(&mut self, line: usize, message: &str) {
        self.tally.failed += 1;
        eprintln!("line {line}: {message}");
    }

    /// Retries waiting lines until a round writes none of them.
    fn retry_waiting(&mut self) -> anyhow::Result<()> {
        loop {
            let waiting = std::mem::take(&mut self.waiting);
            if waiting.is_empty() {
                return Ok(());
            }
            let before = waiting.len();
            let mut written = 0;
            let mut lines = waiting.into_iter().map(|(p, _)| p).peekable();
            while lines.peek().is_some() {
                let batch: Vec<Pending> = lines.by_ref().take(BATCH).collect();
                written += self.write(batch, true)?;
            }
            if written == 0 {
                for (pending, message) in std::mem::take(&mut self.waiting) {
                    self.fail(pending.line, &message);
                }
                return Ok(());
            }
            tracing::debug!(written, of = before, "retried records waiting for a lookup");
        }
    }
}

/// Drops system-set fields and owners unknown here; `Err` is the message for a bad line.
/// Other fields the system sets are dropped too: the write path keeps them (pool bookkeeping,
/// follow-up dates) or only a conversion sets them, so a converted lead does not import as
/// converted (its status is refused, naming the field).
fn prepare(
    text: &str,
    users: &HashSet<uuid::Uuid>,
    other_system: &[String],
    tally: &mut Tally,
) -> Result<Json, String> {
    let mut record: Json =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Json::Object(map) = &mut record else {
        return Err("each line must be a JSON object".into());
    };
    for key in SYSTEM_SET {
        map.remove(key);
    }
    for key in other_system {
        map.remove(key);
    }
    // an unowned record (one in a pool, whose pool is this database's own configuration):
    // a new one is the importing administrator's, an existing one keeps its owner
    if map.get("owner_id").is_some_and(Json::is_null) {
        map.remove("owner_id");
    }
    let unknown_owner = match map.get("owner_id") {
        Some(Json::String(s)) => uuid::Uuid::parse_str(s).is_ok_and(|u| !users.contains(&u)),
        _ => false,
    };
    if unknown_owner {
        map.remove("owner_id");
        tally.owners_reassigned += 1;
    }
    Ok(record)
}

fn user_ids(core: &Core) -> anyhow::Result<HashSet<uuid::Uuid>> {
    let rows = core.store.read_blocking(|conn| -> Result<_, StoreError> {
        conn.query("SELECT id FROM sys_users", &[])
    })?;
    Ok(rows
        .iter()
        .filter_map(|r| r.first().and_then(SqlValue::as_uuid))
        .collect())
}

/// Whether the input is a spreadsheet (CSV, XLSX) rather than JSON Lines.
fn is_sheet(args: &ImportArgs) -> bool {
    let named = args.format.clone().or_else(|| {
        args.input
            .as_ref()
            .and_then(|p| p.extension())
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
    });
    matches!(
        named.as_deref(),
        Some("csv" | "tsv" | "txt" | "xlsx" | "xlsm")
    )
}

pub fn run(config: &Config, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    if is_sheet(args) {
        return super::import_file::run(config, args);
    }
    let core = open_core(config)?;
    let object = core.object(&args.object).map_err(core_error)?;
    let other_system: Vec<String> = object
        .live_fields()
        .filter(|f| f.system && !["id", "owner_id"].contains(&f.name()))
        .map(|f| f.name().to_owned())
        .filter(|name| !SYSTEM_SET.contains(&name.as_str()))
        .collect();
    let input: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let actor = admin_actor(&core, Source::Import)?;
    let users = user_ids(&core)?;
    let mut importer = Importer {
        core: &core,
        actor,
        object: args.object.clone(),
        rt: runtime()?,
        tally: Tally::default(),
        waiting: Vec::new(),
    };
    let mut batch = Vec::with_capacity(BATCH);
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let text = line.with_context(|| format!("cannot read line {line_no}"))?;
        if text.trim().is_empty() {
            continue;
        }
        match prepare(&text, &users, &other_system, &mut importer.tally) {
            Ok(record) => batch.push(Pending {
                line: line_no,
                record,
            }),
            Err(message) => importer.fail(line_no, &message),
        }
        if batch.len() == BATCH {
            importer.write(std::mem::take(&mut batch), true)?;
            let t = &importer.tally;
            tracing::debug!(
                line = line_no,
                created = t.created,
                updated = t.updated,
                "import progress"
            );
        }
    }
    importer.write(batch, true)?;
    importer.retry_waiting()?;
    let t = importer.tally;
    eprintln!(
        "imported {}: {} created, {} updated, {} unchanged, {} failed",
        args.object, t.created, t.updated, t.unchanged, t.failed
    );
    if t.owners_reassigned > 0 {
        eprintln!(
            "{} record(s) named an owner this database does not have; they are owned by the importing administrator",
            t.owners_reassigned
        );
    }
    core.store.close();
    Ok(if t.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
