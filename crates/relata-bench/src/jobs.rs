//! The job queue's throughput (issue 8: ≥ 2,000 trivial jobs/s): `noop` jobs enqueued through
//! the admin API a thousand per call, run by the server's own workers, timed from the first
//! enqueue until the last of them is done.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::load::Api;

/// What the drain measured.
pub struct Drain {
    pub jobs: u64,
    pub enqueue_seconds: f64,
    pub seconds: f64,
}

impl Drain {
    pub fn per_second(&self) -> f64 {
        self.jobs as f64 / self.seconds
    }
}

const PER_CALL: u64 = 1_000;

fn done_count(counts: &Json) -> u64 {
    counts["counts"]["done"].as_u64().unwrap_or(0)
}

/// Enqueues `jobs` noop jobs and waits (at most `limit`) until the workers have run them all.
pub async fn drain(api: &Api, jobs: u64, limit: Duration) -> anyhow::Result<Drain> {
    let before = done_count(&api.get("/api/v1/jobs?limit=1").await?);
    let started = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(PER_CALL);
        let batch: Vec<Json> = (0..n).map(|_| json!({"kind": "noop"})).collect();
        let r = api
            .post("/api/v1/jobs", &json!({ "jobs": batch }))
            .await
            .context("enqueueing noop jobs")?;
        let got = r["ids"].as_array().map_or(0, Vec::len) as u64;
        if got != n {
            bail!("enqueued {got} of {n} jobs: {r}");
        }
        left -= n;
    }
    let enqueue_seconds = started.elapsed().as_secs_f64();
    loop {
        let done = done_count(&api.get("/api/v1/jobs?limit=1").await?) - before;
        if done >= jobs {
            break;
        }
        if started.elapsed() > limit {
            bail!("{done} of {jobs} jobs ran within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Drain {
        jobs,
        enqueue_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}
