//! The results file of one run: the machine, the run's parameters, the ceilings and every
//! figure with its ceiling (or reference figure), ratio and the target (issues 3 and 4) it
//! answers to. `BENCHMARKS.md` is
//! generated from these files only, so anything worth reporting must be in here.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Bump when a field changes meaning; the report skips files it does not understand.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: usize,
    pub memory_mb: u64,
    pub cpu_model: String,
    pub kernel: String,
    /// 1-minute load average before and after the run: how busy the machine was besides us.
    pub loadavg_start: f64,
    pub loadavg_end: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub schema: u32,
    /// RFC 3339, UTC.
    pub date: String,
    pub commit: String,
    /// Uncommitted changes in the work tree when the run started.
    pub dirty: bool,
    pub backend: String,
    pub scale: String,
    pub records: u64,
    pub quick: bool,
    pub seed: u64,
    pub machine: Machine,
    pub tools: Map<String, Json>,
    pub ceilings: Vec<Figure>,
    pub figures: Vec<Figure>,
    /// Free-form remarks (checks that failed, skipped parts).
    #[serde(default)]
    pub notes: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// The target as its issue states it, e.g. "≥ 15,000 req/s".
    pub text: String,
    /// `None` when this run cannot tell (e.g. a target stated for 1,000,000 records, measured
    /// on fewer).
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// Stable machine name, e.g. `get_by_id`.
    pub id: String,
    pub label: String,
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// What this figure is compared with: an id among the run's ceilings, or among its figures
    /// (the administrator's list p95 for the rep's, get by id alone for get by id under logins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// How it was measured: connections, duration, requests, errors…
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Json>,
}

impl Figure {
    pub fn new(id: &str, label: &str, value: f64, unit: &str) -> Self {
        Self {
            id: id.to_owned(),
            label: label.to_owned(),
            value,
            unit: unit.to_owned(),
            latency_ms: None,
            ceiling: None,
            ceiling_value: None,
            ratio: None,
            target: None,
            details: Map::new(),
        }
    }

    /// Compares with `ceiling` (a ceiling or another figure of the run): the ratio is
    /// value / reference, so for a latency lower is better (the rep's p95 over the admin's).
    pub fn against(mut self, ceiling: &Figure) -> Self {
        self.ceiling = Some(ceiling.id.clone());
        self.ceiling_value = Some(ceiling.value);
        if ceiling.value > 0.0 {
            self.ratio = Some(self.value / ceiling.value);
        }
        self
    }

    pub fn latency(mut self, l: Latency) -> Self {
        self.latency_ms = Some(l);
        self
    }

    pub fn target(mut self, text: &str, met: Option<bool>) -> Self {
        self.target = Some(Target {
            text: text.to_owned(),
            met,
        });
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

impl Run {
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn read(path: &Path) -> anyhow::Result<Run> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
    }

    pub fn figure(&self, id: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .chain(&self.ceilings)
            .find(|f| f.id == id)
    }
}

/// The runs of one kind kept as JSON files in `dir`, newest first: files of another schema
/// or shape are skipped with a note (results of older harness versions stay in the folder).
pub fn load_runs<T: serde::de::DeserializeOwned>(
    dir: &std::path::Path,
    schema: fn(&T) -> u32,
    date: fn(&T) -> &str,
) -> Vec<T> {
    let mut runs: Vec<T> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            match serde_json::from_str::<T>(&text) {
                Ok(run) if schema(&run) == SCHEMA => Some(run),
                Ok(_) => {
                    eprintln!("[bench] skipping {}: other schema", p.display());
                    None
                }
                Err(e) => {
                    eprintln!("[bench] skipping {}: {e}", p.display());
                    None
                }
            }
        })
        .collect();
    runs.sort_by(|a, b| date(b).cmp(date(a)));
    runs
}
