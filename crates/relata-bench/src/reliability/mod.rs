//! The reliability suite behind `scripts/reliability.sh`: does Relata survive what production
//! does to it? Each part starts real servers (the release binary, on SQLite or PostgreSQL) on
//! databases of its own, and checks outcomes, not timings:
//!
//! - [`crash`]: `kill -9` during a stream of single writes and during a bulk import; after each
//!   restart every acknowledged write is there, nothing is half-written, the database passes
//!   its integrity check, and the import resumes without duplicates;
//! - [`concurrency`]: clients racing on the same records with `If-Match` lose no update;
//!   unique fields hold under concurrent creates and bulk upserts;
//! - [`backup`]: a backup taken while clients write, restored elsewhere, exports exactly the
//!   source as it was at one moment during the backup;
//! - [`fuzz`]: schemathesis over the served OpenAPI document: no 5xx, no answer off-schema;
//! - [`soak`]: minutes of mixed load: no errors, memory flat.
//!
//! A part fails when it finds a problem; the run exits non-zero when any part failed. The
//! report (JSON) says what was done and counted, so that a closing note can quote it.

mod backup;
mod concurrency;
mod crash;
mod fuzz;
mod import_job;
mod instance;
mod soak;
mod workflow_job;
mod writers;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use relata_domain::clock::{Clock, SystemClock};

use crate::process;
use crate::results::Machine;
use crate::run::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Crash,
    Concurrency,
    Backup,
    Fuzz,
    Soak,
}

impl Part {
    pub fn all() -> Vec<Part> {
        vec![
            Part::Crash,
            Part::Concurrency,
            Part::Backup,
            Part::Fuzz,
            Part::Soak,
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    pub pg_url: Option<String>,
    pub relata: PathBuf,
    pub work: PathBuf,
    /// The CI profile: fewer rounds, records and seconds; the same checks.
    pub quick: bool,
    pub seed: u64,
    pub parts: Vec<Part>,
    /// The schemathesis command (installed in a virtualenv by the script).
    pub schemathesis: Option<PathBuf>,
    /// Examples per API operation for the fuzzer.
    pub fuzz_examples: u32,
    /// Length of the soak, in seconds.
    pub soak_seconds: u64,
}

/// What one part did and found.
#[derive(Debug, Clone, Serialize)]
pub struct PartReport {
    pub part: Part,
    pub passed: bool,
    pub seconds: f64,
    /// Counts and readings, by name (acknowledged writes, writes found, fuzz cases, …).
    pub facts: Map<String, Json>,
    /// Each problem found, in words; empty when the part passed.
    pub problems: Vec<String>,
}

impl PartReport {
    fn new(part: Part) -> PartReport {
        PartReport {
            part,
            passed: false,
            seconds: 0.0,
            facts: Map::new(),
            problems: Vec::new(),
        }
    }

    pub fn fact(&mut self, name: &str, value: impl Into<Json>) {
        self.facts.insert(name.to_owned(), value.into());
    }

    pub fn problem(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("[reliability]   PROBLEM: {text}");
        // A broken run can find thousands of the same problem; the first hundred tell enough.
        if self.problems.len() < 100 {
            self.problems.push(text);
        } else if self.problems.len() == 100 {
            self.problems
                .push("… more problems were found and not listed".into());
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub commit: String,
    pub dirty: bool,
    pub backend: String,
    pub quick: bool,
    pub seed: u64,
    pub machine: Machine,
    pub parts: Vec<PartReport>,
    pub passed: bool,
    pub seconds: f64,
}

pub fn say(msg: &str) {
    eprintln!("[reliability] {msg}");
}

pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let (commit, dirty) = process::commit();
    let mut report = Report {
        date: relata_domain::value::format_datetime(&SystemClock.now()),
        commit,
        dirty,
        backend: opts.backend.name().into(),
        quick: opts.quick,
        seed: opts.seed,
        machine: process::machine(),
        parts: Vec::new(),
        passed: false,
        seconds: 0.0,
    };
    // No request of the suite waits longer than this: a hang is a finding, not a stall.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    for &part in &opts.parts {
        say(&format!("== {part:?} on {}", opts.backend.name()));
        let dir = opts.work.join(format!(
            "reliability-{}-{:?}-{}",
            opts.backend.name(),
            part,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir)?;
        let mut part_report = PartReport::new(part);
        let from = Instant::now();
        let ctx = instance::Context {
            opts,
            dir: dir.clone(),
            http: http.clone(),
        };
        let outcome = match part {
            Part::Crash => crash::run(&ctx, &mut part_report).await,
            Part::Concurrency => concurrency::run(&ctx, &mut part_report).await,
            Part::Backup => backup::run(&ctx, &mut part_report).await,
            Part::Fuzz => fuzz::run(&ctx, &mut part_report).await,
            Part::Soak => soak::run(&ctx, &mut part_report).await,
        };
        if let Err(e) = outcome {
            part_report.problem(format!("the part could not finish: {e:#}"));
        }
        ctx.cleanup().await;
        part_report.seconds = from.elapsed().as_secs_f64();
        part_report.passed = part_report.problems.is_empty();
        say(&format!(
            "   {:?}: {} in {:.0} s; {}",
            part,
            if part_report.passed {
                "passed"
            } else {
                "FAILED"
            },
            part_report.seconds,
            json!(part_report.facts)
        ));
        if part_report.passed {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            say(&format!("   kept {} for inspection", dir.display()));
        }
        report.parts.push(part_report);
    }
    report.passed = report.parts.iter().all(|p| p.passed);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
