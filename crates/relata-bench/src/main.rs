//! `relata-bench`: the benchmark harness behind `scripts/bench.sh` (see `BENCHMARKS.md`).
//!
//! - `run` measures one backend at one scale: ceilings (raw inserts into the same table, single
//!   commits, a bare handler on the same HTTP stack), then a fresh Relata server loaded through
//!   the bulk API and measured with wrk; writes one results file.
//! - `import` runs the CSV import figure alone against a kept database (profiling).
//! - `pool-sweep` times one pool (公海) reclaim sweep in process over generated accounts.
//! - `kanban` times the board of a pipeline in process over generated opportunities and
//!   writes `bench/results/kanban/<date>-<backend>-<open>.json`.
//! - `report` regenerates `BENCHMARKS.md` from every results file.
//! - `bare-server` is the bare handler, started by `run` as a child process.
//!
//! New hot paths (issue 5 and later) add a step to `run.rs` and, when they need one, a
//! ceiling to `ceiling.rs`; the results file and the report pick up any new figure as is.

mod bare;
mod ceiling;
mod csv_import;
mod data;
mod dedupe;
mod jobs;
mod kanban;
mod load;
mod org;
mod pool_sweep;
mod process;
mod reliability;
mod report;
mod results;
mod run;
mod timeline;
mod webhooks;
mod workflows;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use run::{Backend, Options};

#[derive(Debug, Parser)]
#[command(
    name = "relata-bench",
    about = "Relata's benchmark harness (use scripts/bench.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Sqlite => Backend::Sqlite,
            BackendArg::Postgres => Backend::Postgres,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Measure one backend at one scale and write a results file
    Run {
        #[arg(long, value_enum, default_value_t = BackendArg::Sqlite)]
        backend: BackendArg,
        /// 10k, 100k, 1m (or any count such as 250k or 5000)
        #[arg(long, default_value = "10k")]
        scale: String,
        /// Short measurements (CI smoke test); the results go under --work, not --results
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The release relata binary
        #[arg(long, default_value = "target/release/relata")]
        relata: PathBuf,
        /// PostgreSQL database in which fresh schemas are made (for --backend postgres)
        #[arg(long, env = "RELATA_BENCH_POSTGRES_URL")]
        pg_url: Option<String>,
        /// Scratch directory (databases, logs)
        #[arg(long, default_value = "bench/work")]
        work: PathBuf,
        /// Where results files go
        #[arg(long, default_value = "bench/results")]
        results: PathBuf,
        /// Records per bulk call
        #[arg(long, default_value_t = 5_000)]
        batch: u64,
        /// Bulk calls in flight
        #[arg(long, default_value_t = 2)]
        senders: usize,
        /// Password logins in flight while get by id is measured under logins (issue 4: 50)
        #[arg(long, default_value_t = 50)]
        login_clients: usize,
        /// Keep the scratch files (databases, logs, wrk inputs) for inspection
        #[arg(long)]
        keep: bool,
    },
    /// The reliability suite: crash safety, concurrency, backup, fuzzing, soak
    Reliability {
        #[arg(long, value_enum, default_value_t = BackendArg::Sqlite)]
        backend: BackendArg,
        /// The CI profile: fewer rounds, records and seconds, the same checks
        #[arg(long)]
        quick: bool,
        /// Parts to run, comma-separated [default: all]
        #[arg(long, value_enum, value_delimiter = ',')]
        parts: Vec<reliability::Part>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "target/release/relata")]
        relata: PathBuf,
        #[arg(long, env = "RELATA_BENCH_POSTGRES_URL")]
        pg_url: Option<String>,
        #[arg(long, default_value = "bench/work")]
        work: PathBuf,
        /// Where the report goes (a JSON file per run; quick runs stay under --work)
        #[arg(long, default_value = "bench/results")]
        results: PathBuf,
        /// The schemathesis command (for the fuzz part)
        #[arg(long)]
        schemathesis: Option<PathBuf>,
        /// Examples per API operation for the fuzzer
        #[arg(long, default_value_t = 100)]
        fuzz_examples: u32,
        /// Seconds of mixed load in the soak
        #[arg(long, default_value_t = 600)]
        soak_seconds: u64,
    },
    /// The CSV import figure alone, into a database kept by `run --keep` (for profiling)
    Import {
        /// sqlite://PATH or postgres://…?schema=NAME of the loaded database (written into)
        #[arg(long)]
        db: String,
        /// Rows in the file
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// The data set's first record in the file: at or above the loaded scale gives new
        /// contacts, with the duplicates a run's import has
        #[arg(long)]
        first: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "target/release/relata")]
        relata: PathBuf,
        #[arg(long, default_value = "bench/work")]
        work: PathBuf,
    },
    /// The pool (公海) reclaim sweep figure alone: a Core opened in process on the database,
    /// accounts generated (through the bulk write path) up to --accounts, back-dated into a
    /// mix (10 % due, 5 % in the warning window), one default account pool, one timed sweep
    PoolSweep {
        /// sqlite://PATH or postgres://…?schema=NAME (created and migrated if new; written into)
        #[arg(long)]
        db: String,
        /// Accounts swept (10k, 100k, 1m or any count)
        #[arg(long, default_value = "100k")]
        accounts: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Also write the figure as JSON here
        #[arg(long)]
        out: Option<PathBuf>,
        /// Reuse a database an earlier run of the same seed back-dated (only the last sweep's
        /// changes are put back)
        #[arg(long)]
        reuse: bool,
    },
    /// The kanban figure alone: a Core opened in process on the database, opportunities of
    /// the standard pipeline generated (through the bulk write path) up to --open and
    /// --closed, then Core::board timed as the administrator and as a rep, the next page of
    /// the largest column, and each part of a board alone (with the counts' query plans)
    Kanban {
        /// sqlite://PATH or postgres://…?schema=NAME (created and migrated if new; written into)
        #[arg(long)]
        db: String,
        /// Open opportunities in the pipeline (10k, 100k or any count)
        #[arg(long, default_value = "100k")]
        open: String,
        /// Closed opportunities (won and lost) besides
        #[arg(long, default_value = "20k")]
        closed: String,
        /// Timed boards (and pages, and parts) per viewer, after 10 untimed ones
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Measure the database as an earlier run left it: no users or opportunities created
        /// (--open and --closed are ignored)
        #[arg(long)]
        reuse: bool,
        /// Where the results file goes (under kanban/)
        #[arg(long, default_value = "bench/results")]
        results: PathBuf,
    },
    /// Regenerate BENCHMARKS.md from the results files
    Report {
        #[arg(long, default_value = "bench/results")]
        results: PathBuf,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
    },
    /// The bare handler ceiling (started by `run`)
    BareServer {
        /// sqlite://PATH or postgres://…?schema=NAME
        #[arg(long)]
        db: String,
        #[arg(long)]
        listen: String,
    },
}

fn records_of(scale: &str) -> anyhow::Result<u64> {
    let s = scale.trim().to_lowercase();
    let (digits, factor) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1_000),
        Some('m') => (&s[..s.len() - 1], 1_000_000),
        _ => (s.as_str(), 1),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("not a scale: {scale} (use 10k, 100k, 1m)"))?;
    if n == 0 {
        bail!("the scale must be at least 1 record");
    }
    Ok(n * factor)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relata-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::BareServer { db, listen } => bare::serve(&db, &listen),
        Cmd::Import {
            db,
            rows,
            first,
            seed,
            relata,
            work,
        } => {
            let opts = csv_import::Alone {
                relata,
                db,
                work,
                seed,
                first,
                rows,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let done = runtime.block_on(csv_import::alone(&opts))?;
            println!(
                "{:.0} rows/s: {} rows in {:.1} s ({} created, {} skipped, {} failed), peak RSS {:.0} MB",
                done.rows as f64 / done.seconds,
                done.rows,
                done.seconds,
                done.created,
                done.skipped,
                done.failed,
                done.peak_rss_mb
            );
            Ok(())
        }
        Cmd::PoolSweep {
            db,
            accounts,
            seed,
            out,
            reuse,
        } => {
            let opts = pool_sweep::Options {
                db,
                accounts: records_of(&accounts)?,
                seed,
                reuse,
            };
            let machine = process::machine();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let done = runtime.block_on(pool_sweep::measure(&opts))?;
            println!(
                "pool sweep ({}): {:.2} s over {} accounts: {} reclaimed ({:.0}/s), {} warned (expected {} due, {} in the warning window); peak RSS during the sweep {}; accounts generated: {} in {:.1} s; back-dating {:.1} s; the due condition alone {:.2} s",
                done.backend,
                done.seconds,
                done.accounts,
                done.reclaimed,
                done.reclaimed_per_second(),
                done.warned,
                done.due,
                done.in_window,
                done.peak_rss_mb
                    .map_or("unknown".into(), |m| format!("{m:.0} MB")),
                done.generated,
                done.generate_seconds,
                done.reset_seconds,
                done.due_query_seconds,
            );
            if let Some(out) = out {
                let mut machine = machine;
                machine.loadavg_end = process::loadavg();
                pool_sweep::PoolSweepRun::new(&done, seed, machine).write(&out)?;
                eprintln!("[pool-sweep] wrote {}", out.display());
            }
            Ok(())
        }
        Cmd::Kanban {
            db,
            open,
            closed,
            iterations,
            seed,
            reuse,
            results,
        } => {
            let opts = kanban::Options {
                db,
                open: records_of(&open)?,
                closed: if closed.trim() == "0" {
                    0
                } else {
                    records_of(&closed)?
                },
                iterations: iterations.max(1),
                seed,
                reuse,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let done = runtime.block_on(kanban::measure(&opts))?;
            for f in &done.figures {
                let l = f.latency_ms.clone().unwrap_or_default();
                println!(
                    "{:<24} p50 {:>8.2}  p95 {:>8.2}  p99 {:>8.2}  max {:>8.2} ms{}",
                    f.id,
                    l.p50,
                    l.p95,
                    l.p99,
                    f.details
                        .get("max_ms")
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or(0.0),
                    match f.target.as_ref().and_then(|t| t.met) {
                        Some(true) => "  (target met)",
                        Some(false) => "  (target MISSED)",
                        None => "",
                    }
                );
            }
            for (name, plan) in &done.plans {
                println!("plan {name}: {}", plan.join(" | "));
            }
            let path = done.path_in(&results);
            done.write(&path)?;
            eprintln!("[kanban] wrote {}", path.display());
            Ok(())
        }
        Cmd::Report { results, out } => {
            let runs = report::load_runs(&results)?;
            let reliability = report::load_reliability(&results.join("reliability"));
            let kanban = kanban::load(&results.join("kanban"));
            let sweeps = pool_sweep::load(&results.join("pool_sweep"));
            std::fs::write(&out, report::render(&runs, &kanban, &sweeps, &reliability))?;
            eprintln!(
                "[bench] wrote {} from {} results files",
                out.display(),
                runs.len()
            );
            Ok(())
        }
        Cmd::Reliability {
            backend,
            quick,
            parts,
            seed,
            relata,
            pg_url,
            work,
            results,
            schemathesis,
            fuzz_examples,
            soak_seconds,
        } => {
            let opts = reliability::Options {
                backend: backend.into(),
                pg_url,
                relata,
                work: work.clone(),
                quick,
                seed,
                parts: if parts.is_empty() {
                    reliability::Part::all()
                } else {
                    parts
                },
                schemathesis,
                fuzz_examples,
                soak_seconds,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let report = runtime.block_on(reliability::run(&opts))?;
            // A run of some parts only is named after them: it must not stand in for (or
            // overwrite) the day's run of the whole suite.
            let some_parts = if opts.parts == reliability::Part::all() {
                String::new()
            } else {
                opts.parts
                    .iter()
                    .map(|p| format!("-{}", format!("{p:?}").to_lowercase()))
                    .collect()
            };
            let name = format!(
                "reliability-{}-{}{some_parts}{}.json",
                report.date.get(..10).unwrap_or("undated"),
                report.backend,
                if quick { "-quick" } else { "" }
            );
            let path = if quick {
                work.join("results").join(name)
            } else {
                results.join("reliability").join(name)
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
            eprintln!("[reliability] wrote {}", path.display());
            if !report.passed {
                bail!(
                    "the reliability suite failed: {}",
                    report
                        .parts
                        .iter()
                        .filter(|p| !p.passed)
                        .map(|p| format!("{:?} ({} problems)", p.part, p.problems.len()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(())
        }
        Cmd::Run {
            backend,
            scale,
            quick,
            seed,
            relata,
            pg_url,
            work,
            results,
            batch,
            senders,
            login_clients,
            keep,
        } => {
            let opts = Options {
                backend: backend.into(),
                records: records_of(&scale)?,
                scale: scale.to_lowercase(),
                quick,
                seed,
                relata,
                pg_url,
                work: work.clone(),
                batch,
                senders,
                login_clients,
                keep,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let run = runtime.block_on(run::run(&opts))?;
            let name = format!(
                "{}-{}-{}{}.json",
                run.date.get(..10).unwrap_or("undated"),
                run.backend,
                run.scale,
                if quick { "-quick" } else { "" }
            );
            // Quick runs are smoke tests: keep them out of the committed results.
            let path = if quick {
                work.join("results").join(name)
            } else {
                results.join(name)
            };
            run.write(&path)?;
            eprintln!("[bench] wrote {}", path.display());
            Ok(())
        }
    }
}
