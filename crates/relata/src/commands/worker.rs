//! `relata worker`: background jobs and recurring schedules without the HTTP server, for
//! installations that run their workers apart from the web servers (several of them share one
//! PostgreSQL queue safely). `relata serve` starts the same runner unless `job_workers` is 0.

use std::sync::Arc;

use anyhow::Context;

use relata_core::Core;
use relata_jobs::{Handlers, Runner, RunnerOptions};

use super::{core_error, open_core};
use crate::config::Config;

pub fn run(config: &Config) -> anyhow::Result<()> {
    let core = open_core(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("relata-worker")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let workers = config.job_workers.max(1);
        let runner = runner(&core, workers, config.job_lease_secs);
        core.ensure_system_schedules().await.map_err(core_error)?;
        let task = runner.spawn();
        let signal = super::serve::shutdown_signal()?.await;
        tracing::info!(
            signal,
            "stopping the worker: jobs in flight are taken over when their leases end"
        );
        task.abort();
        Ok::<_, anyhow::Error>(())
    });
    core.store.close();
    result
}

/// Starts this server's job runner, unless `job_workers` is 0.
pub async fn start(core: &Arc<Core>, config: &Config) {
    if config.job_workers == 0 {
        tracing::info!("job_workers = 0: background jobs are left to `relata worker` processes");
        return;
    }
    if let Err(e) = core.ensure_system_schedules().await {
        tracing::error!(error = %e, "cannot install the system schedules; retried at the next start");
    }
    runner(core, config.job_workers, config.job_lease_secs).spawn();
}

fn runner(core: &Arc<Core>, workers: usize, lease_secs: u64) -> Arc<Runner> {
    Runner::new(
        core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: workers,
            lease: std::time::Duration::from_secs(lease_secs.max(3)),
            ..Default::default()
        },
    )
}
