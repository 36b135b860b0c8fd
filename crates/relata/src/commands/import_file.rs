//! `relata import --object O --in FILE.csv|FILE.xlsx`: the file runs as an import job, the
//! same job the API and the web UI start (mapping by headings, value transforms, duplicate
//! handling, a ledger row per row), here in this process with a progress bar. The job is
//! kept: if this process is stopped, the server (or the same command's next run) resumes it;
//! it can be undone from the web UI or the API.

use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use relata_core::Source;
use relata_core::import::{ImportJob, ImportMode, ImportRequest, ImportStatus, OnDuplicate};

use super::{admin_actor, core_error, open_core, runtime};
use crate::cli::ImportArgs;
use crate::config::Config;

fn choice<T: serde::de::DeserializeOwned>(option: &str, value: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
        .map_err(|_| anyhow::anyhow!("--{option} does not take '{value}'"))
}

fn request(args: &ImportArgs) -> anyhow::Result<ImportRequest> {
    let mut columns = std::collections::HashMap::new();
    for m in &args.map {
        let (heading, field) = m
            .split_once('=')
            .with_context(|| format!("--map takes HEADING=FIELD, not '{m}'"))?;
        columns.insert(heading.to_owned(), field.to_owned());
    }
    Ok(ImportRequest {
        columns,
        mode: choice::<ImportMode>("mode", &args.mode)?,
        key: args.key.clone(),
        on_duplicate: choice::<OnDuplicate>("on-duplicate", &args.on_duplicate)?,
        encoding: args
            .encoding
            .as_deref()
            .map(|e| choice("encoding", e))
            .transpose()?,
        date_order: choice("date-order", &args.date_order)?,
        dry_run: args.dry_run,
        ..Default::default()
    })
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show(bar: &ProgressBar, job: &ImportJob) {
    if let Some(total) = job.total_rows {
        bar.set_length(total as u64);
    }
    bar.set_position(job.rows_done as u64);
    let t = &job.tally;
    bar.set_message(format!(
        "{} created, {} updated, {} skipped, {} failed",
        t.created, t.updated, t.skipped, t.failed
    ));
}

pub fn run(config: &Config, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .input
        .as_ref()
        .context("a CSV or XLSX import needs --in FILE")?;
    let request = request(args)?;
    let data =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    let core = open_core(config)?;
    let actor = admin_actor(&core, Source::Import)?;
    let rt = runtime()?;
    let job = rt.block_on(async {
        let job = core
            .create_import(
                &actor,
                &args.object,
                &file_name,
                args.format.as_deref(),
                data,
            )
            .await?;
        core.start_import(&actor, job.id, request).await?;
        let bar = bar();
        let job = core
            .run_import(&actor, job.id, &|j: &ImportJob| show(&bar, j))
            .await?;
        show(&bar, &job);
        bar.finish();
        Ok::<_, relata_core::CoreError>(job)
    });
    let job = job.map_err(core_error)?;
    let t = &job.tally;
    let verb = if job.dry_run { "checked" } else { "imported" };
    eprintln!(
        "{verb} {} rows of {} into {}: {} created, {} updated, {} unchanged, {} skipped, {} failed (import {})",
        job.rows_done,
        file_name,
        job.object,
        t.created,
        t.updated,
        t.unchanged,
        t.skipped,
        t.failed,
        job.id
    );
    if let Some(error) = &job.error {
        eprintln!("the import stopped: {error}");
    }
    if t.failed + t.skipped > 0 {
        let report = rt
            .block_on(core.import_error_report(&actor, job.id))
            .map_err(core_error)?;
        match &args.errors {
            Some(out) => {
                std::fs::write(out, report)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                eprintln!(
                    "the rows that were not imported, and why: {}",
                    out.display()
                );
            }
            None => {
                let rows = rt
                    .block_on(core.import_ledger(&actor, job.id, Some("problems".into()), 0, 20))
                    .map_err(core_error)?;
                for r in rows {
                    let why: Vec<String> = r
                        .errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect();
                    eprintln!("row {} {}: {}", r.row, r.outcome, why.join("; "));
                }
                eprintln!("(--errors FILE writes every such row, ready to fix and import again)");
            }
        }
    }
    core.store.close();
    Ok(if job.status == ImportStatus::Done && t.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
