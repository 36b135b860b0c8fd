//! Backup while writing: four writers create and change contacts while `relata backup` runs;
//! the backup is restored into a new database (`relata db-copy`), exported (`relata export`),
//! and checked:
//!
//! - it is one moment of the source: for every writer, the writes it holds are exactly the
//!   first j of that writer's writes, with every write acknowledged before the backup started
//!   among them and none sent after it ended;
//! - every record in it equals, field by field (system fields included), the source's record
//!   when the source has that record at the same version;
//! - the backup file passes SQLite's integrity check.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value as Json;

use super::instance::{Context, add_check_fields, integrity_problem, relata_cli};
use super::writers::{self, Found, Step, Writers};
use super::{PartReport, say};

const WRITERS: usize = 4;

fn read_export(path: &Path) -> anyhow::Result<HashMap<String, Json>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: Json = serde_json::from_str(line)?;
        let id = record
            .get("id")
            .and_then(Json::as_str)
            .context("an exported record without id")?
            .to_owned();
        out.insert(id, record);
    }
    Ok(out)
}

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let quick = ctx.opts.quick;
    let source = ctx.fresh("backup_source")?;
    let server = source.start(&ctx.http).await?;
    let api = source.api(&server, &ctx.http);
    add_check_fields(&api).await?;

    let running = Writers::start(&api, &[0; WRITERS]);
    tokio::time::sleep(Duration::from_millis(if quick { 1_500 } else { 8_000 })).await;
    let file = ctx.dir.join("backup.db");
    let (relata, url, f) = (
        ctx.opts.relata.clone(),
        source.db_url.clone(),
        file.to_string_lossy().into_owned(),
    );
    let backup_started = Instant::now();
    let outcome =
        tokio::task::spawn_blocking(move || relata_cli(&relata, &url, &["backup", &f])).await?;
    let backup_ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(if quick { 500 } else { 3_000 })).await;
    let logs = running.finish().await?;
    writers::report_refused(&logs, report);
    server.stop(Duration::from_secs(30))?;
    outcome.context("relata backup")?;
    if let Some(problem) = integrity_problem(&file)? {
        report.problem(format!("the backup file: {problem}"));
    }

    // Restore into a new database, and export both.
    let restored_url = ctx.db_url("backup_restored")?;
    let from = format!("sqlite://{}", file.display());
    relata_cli(
        &ctx.opts.relata,
        &restored_url,
        &["db-copy", "--from", &from, "--to", &restored_url],
    )?;
    let restored_file = ctx.dir.join("restored.jsonl");
    let source_file = ctx.dir.join("source.jsonl");
    for (url, out) in [
        (&restored_url, &restored_file),
        (&source.db_url, &source_file),
    ] {
        relata_cli(
            &ctx.opts.relata,
            url,
            &[
                "export",
                "--object",
                "contact",
                "--out",
                &out.to_string_lossy(),
            ],
        )?;
    }
    let restored = read_export(&restored_file)?;
    let source_records = read_export(&source_file)?;

    // One moment of the source, writer by writer.
    let mut by_ext: HashMap<String, Found> = HashMap::new();
    for record in restored.values() {
        match Found::from_json(record) {
            Some((ext, f)) => {
                by_ext.insert(ext, f);
            }
            None => report.problem(format!(
                "a restored record without the checked fields: {record}"
            )),
        }
    }
    let (mut before, mut during, mut after) = (0u64, 0u64, 0u64);
    for (w, log) in logs.iter().enumerate() {
        let lo = log
            .writes
            .iter()
            .take_while(|x| x.acked.is_some_and(|t| t < backup_started))
            .count();
        let hi = log
            .writes
            .iter()
            .take_while(|x| x.sent < backup_ended)
            .count();
        before += lo as u64;
        during += (hi - lo) as u64;
        after += (log.writes.len() - hi) as u64;
        let present: Vec<bool> = log
            .writes
            .iter()
            .map(|x| {
                let r = by_ext.get(&writers::external_id(w, x.k));
                match x.step {
                    Step::Create => r.is_some(),
                    Step::Patch => r.is_some_and(|r| r.is_version(w, x.k, 2)),
                }
            })
            .collect();
        let j = present.iter().take_while(|&&p| p).count();
        if present[j..].iter().any(|&p| p) {
            report.problem(format!(
                "writer {w}: the backup holds its write {} but not write {j}: not one moment",
                j + present[j..].iter().position(|&p| p).unwrap_or(0)
            ));
        }
        if j < lo || j > hi {
            report.problem(format!(
                "writer {w}: the backup holds its first {j} writes; {lo} were acknowledged before the backup started and {hi} sent before it ended"
            ));
        }
        for x in &log.writes[..j] {
            let ext = writers::external_id(w, x.k);
            let version = if x.step == Step::Create
                && !log.writes[..j]
                    .iter()
                    .any(|y| y.k == x.k && y.step == Step::Patch)
            {
                1
            } else {
                2
            };
            if !by_ext
                .get(&ext)
                .is_some_and(|r| r.is_version(w, x.k, version))
            {
                report.problem(format!("{ext}: not whole version {version} in the backup"));
            }
        }
    }
    // Across writers: a write the backup holds was sent after every write it lacks had been
    // acknowledged? Then the backup is no moment at all (it has the later, not the earlier).
    let mut latest_held: Option<Instant> = None;
    let mut earliest_missing: Option<Instant> = None;
    for (w, log) in logs.iter().enumerate() {
        for x in &log.writes {
            let r = by_ext.get(&writers::external_id(w, x.k));
            let held = match x.step {
                Step::Create => r.is_some(),
                Step::Patch => r.is_some_and(|r| r.is_version(w, x.k, 2)),
            };
            if held {
                latest_held = latest_held.max(Some(x.sent));
            } else if let Some(acked) = x.acked {
                earliest_missing = Some(earliest_missing.map_or(acked, |e: Instant| e.min(acked)));
            }
            if x.acked.is_none() {
                report.problem(format!(
                    "{}: a write without an answer (no crash in this part)",
                    writers::external_id(w, x.k)
                ));
            }
        }
    }
    if let (Some(held), Some(missing)) = (latest_held, earliest_missing)
        && missing < held
    {
        report.problem(format!(
            "the backup lacks a write acknowledged {:?} before another write it holds was sent: not one moment",
            held - missing
        ));
    }
    let expected: usize = logs.iter().map(|l| l.ids.len()).sum();
    // Field by field against the source, at the same version.
    let mut identical = 0u64;
    for (id, r) in &restored {
        let Some(s) = source_records.get(id) else {
            report.problem(format!("{id}: in the backup, not in the source"));
            continue;
        };
        if s.get("version") == r.get("version") {
            if s == r {
                identical += 1;
            } else {
                report.problem(format!(
                    "{id}: same version in backup and source, different content:\n  backup {r:.400}\n  source {s:.400}"
                ));
            }
        }
    }
    say(&format!(
        "   backup while writing: writes {before} before / {during} during / {after} after the backup; {} records restored of {expected} in the source at the end ({} exported), {identical} identical to the source at the same version",
        restored.len(),
        source_records.len()
    ));
    report.fact("backup_writes_before", before);
    report.fact("backup_writes_during", during);
    report.fact("backup_writes_after", after);
    report.fact("backup_records_restored", restored.len() as u64);
    report.fact("backup_records_source", source_records.len() as u64);
    report.fact("backup_records_identical_to_source", identical);
    report.fact(
        "backup_seconds",
        (backup_ended - backup_started).as_secs_f64(),
    );
    Ok(())
}
