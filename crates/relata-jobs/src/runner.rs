//! The worker loop. One runner per process claims due jobs in batches (as many as it has free
//! slots), runs them at once up to its concurrency, and records the outcomes of all the jobs
//! that ended since the last write in one write. While jobs run, their leases are extended;
//! a runner that dies leaves leases that run out, and another runner claims those jobs again.
//! Between batches it fires the recurring schedules that are due; tasks of their own turn new
//! change-feed events into workflow runs and webhook deliveries.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinSet;

use relata_core::jobs::Job;
use relata_core::{Core, CoreError};
use relata_domain::schedule::backoff;
use relata_store::jobs::{self as queue, Outcome};

use crate::handlers::{Handlers, JobError};

/// How a runner works.
/// Outcomes recorded together at most (see [`Runner::work`]).
const RECORD_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claimed job stays the runner's without a heartbeat.
    pub lease: Duration,
    /// How often the runner looks for due jobs when nothing wakes it (jobs enqueued by other
    /// processes, delayed jobs coming due, schedules).
    pub poll: Duration,
    /// The wait after a first failed try; doubled per try …
    pub retry_base: Duration,
    /// … up to this.
    pub retry_cap: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(300),
            poll: Duration::from_secs(1),
            retry_base: Duration::from_secs(10),
            retry_cap: Duration::from_secs(6 * 3600),
        }
    }
}

/// Claims and runs jobs for one process.
pub struct Runner {
    core: Arc<Core>,
    handlers: Handlers,
    kinds: Vec<String>,
    opts: RunnerOptions,
    /// Names this runner in `locked_by`: unique per process and runner.
    id: String,
}

/// What became of one try, to be recorded.
struct Ended {
    job: Job,
    outcome: Outcome,
}

impl Runner {
    pub fn new(core: Arc<Core>, handlers: Handlers, opts: RunnerOptions) -> Arc<Runner> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Arc::new(Runner {
            core,
            kinds: handlers.kinds(),
            handlers,
            opts,
            id,
        })
    }

    /// Runs until the runtime stops: the process's workers.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        self.spawn_fan_out("workflows", |core| async move {
            Ok(core.fan_out_workflows().await?.more)
        });
        self.spawn_fan_out("webhooks", |core| async move {
            Ok(core.fan_out_webhooks().await?.more)
        });
        let runner = self.clone();
        tokio::spawn(async move {
            tracing::info!(worker = %runner.id, concurrency = runner.opts.concurrency, kinds = ?runner.kinds, "job worker started");
            loop {
                if let Err(e) = runner.work().await {
                    if runner.core.store.is_closed() {
                        tracing::info!("job worker stopped: the database is closing");
                        break;
                    }
                    tracing::error!(error = %e, "job worker: retrying in a moment");
                    tokio::time::sleep(runner.opts.poll).await;
                }
            }
        })
    }

    /// Runs a fan-out of change-feed events (into workflow runs, or webhook deliveries) in
    /// its own task: round after round while a backlog lasts (a burst of writes must not
    /// wait a poll per page of events), then once per poll. `round` answers whether events
    /// are left.
    fn spawn_fan_out<F, Fut>(self: &Arc<Self>, what: &'static str, round: F)
    where
        F: Fn(Arc<Core>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<bool, CoreError>> + Send,
    {
        let runner = self.clone();
        tokio::spawn(async move {
            loop {
                match round(runner.core.clone()).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(_) if runner.core.store.is_closed() => break,
                    Err(e) => {
                        tracing::error!(error = %e, fan_out = what, "fan-out: retrying in a moment")
                    }
                }
                tokio::time::sleep(runner.opts.poll).await;
            }
        });
    }

    /// Runs every job that is due now, and any they or due schedules enqueue for now, until
    /// none is left; answers how many tries ran. Tests drive the queue with this and a
    /// manual clock: a job delayed by days runs as soon as the clock has moved past it.
    pub async fn run_due(&self) -> Result<usize, CoreError> {
        let mut ran = 0;
        loop {
            self.core.fire_due_schedules().await?;
            while self.core.fan_out_webhooks().await?.more {}
            while self.core.fan_out_workflows().await?.more {}
            let jobs = self.claim(self.opts.concurrency).await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            let mut running = JoinSet::new();
            for job in jobs {
                running.spawn(self.clone_for_task().run_one(job));
            }
            let ended: Vec<Ended> = running.join_all().await;
            self.record(ended).await?;
        }
    }

    /// The loop of [`Runner::spawn`], until an error.
    ///
    /// Short jobs end faster than a database round trip: claiming the one job a finished
    /// one made room for, and recording each outcome on its own, would make the queue's
    /// speed that of two transactions per job (on PostgreSQL, a few hundred a second). So
    /// jobs are claimed a batch at a time into a local buffer (held under the same lease,
    /// which the heartbeat extends), and outcomes are recorded together: when the buffer
    /// runs dry, when [`RECORD_BATCH`] have ended, or when nothing is left running.
    async fn work(self: &Arc<Self>) -> Result<(), CoreError> {
        let mut running: JoinSet<Ended> = JoinSet::new();
        let mut buffer: VecDeque<Job> = VecDeque::new();
        let mut ended: Vec<Ended> = Vec::new();
        let mut heartbeat = tokio::time::interval(self.opts.lease / 3);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_schedules = tokio::time::Instant::now() - self.opts.poll;
        let batch = (self.opts.concurrency * 4).max(1);
        loop {
            if last_schedules.elapsed() >= self.opts.poll {
                self.core.fire_due_schedules().await?;
                last_schedules = tokio::time::Instant::now();
            }
            let free = self.opts.concurrency.saturating_sub(running.len());
            if free > buffer.len() {
                // record before claiming: one round trip's worth of outcomes at a time
                self.record(std::mem::take(&mut ended)).await?;
                buffer.extend(self.claim(batch.max(free) - buffer.len()).await?);
            }
            while running.len() < self.opts.concurrency {
                let Some(job) = buffer.pop_front() else { break };
                running.spawn(self.clone_for_task().run_one(job));
            }
            if running.is_empty() {
                self.record(std::mem::take(&mut ended)).await?;
                // nothing to do: wait for an enqueue here, or look again after a while
                let woken = self.core.job_enqueued();
                let _ = tokio::time::timeout(self.opts.poll, woken).await;
                continue;
            }
            let has_room = running.len() < self.opts.concurrency && buffer.is_empty();
            tokio::select! {
                done = running.join_next() => {
                    ended.extend(done.into_iter().filter_map(|r| r.ok()));
                    while let Some(more) = running.try_join_next() {
                        ended.extend(more.ok());
                    }
                    if ended.len() >= RECORD_BATCH || running.is_empty() {
                        self.record(std::mem::take(&mut ended)).await?;
                    }
                }
                _ = heartbeat.tick() => self.extend_leases().await?,
                // a free slot: new work enqueued here, or come due, is claimed without
                // waiting for a running job to end
                _ = self.core.job_enqueued(), if has_room => {}
                _ = tokio::time::sleep(self.opts.poll), if has_room => {}
            }
        }
    }

    fn clone_for_task(&self) -> TaskRunner {
        TaskRunner {
            core: self.core.clone(),
            handlers: self.handlers.clone(),
            opts: self.opts.clone(),
        }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<Job>, CoreError> {
        let now = self.core.clock.now();
        let kinds = self.kinds.clone();
        let any = self
            .core
            .store
            .peek(move |conn| Ok::<_, CoreError>(queue::any_due(conn, &kinds, now)?))
            .await?;
        if !any {
            return Ok(Vec::new());
        }
        let lease_until = now + chrono::Duration::from_std(self.opts.lease).unwrap_or_default();
        let (worker, kinds) = (self.id.clone(), self.kinds.clone());
        self.core
            .store
            .write(move |conn| {
                Ok::<_, CoreError>(queue::claim(
                    conn,
                    &worker,
                    &kinds,
                    now,
                    lease_until,
                    limit,
                )?)
            })
            .await
    }

    /// Records the outcomes of ended tries in one write. A try whose lease another runner
    /// took over meanwhile is not recorded: that runner's try counts.
    async fn record(&self, ended: Vec<Ended>) -> Result<(), CoreError> {
        if ended.is_empty() {
            return Ok(());
        }
        let now = self.core.clock.now();
        let worker = self.id.clone();
        let lost = self
            .core
            .store
            .write(move |conn| {
                let mut lost = Vec::new();
                // the usual case, every try done, in one statement
                let done: Vec<uuid::Uuid> = ended
                    .iter()
                    .filter(|e| matches!(e.outcome, Outcome::Done))
                    .map(|e| e.job.id)
                    .collect();
                let recorded = queue::finish_done(conn, &done, &worker, now)?;
                if recorded < done.len() as u64 {
                    tracing::warn!(
                        lost = done.len() as u64 - recorded,
                        "some jobs' leases had run out: their outcomes are other workers'"
                    );
                }
                for e in ended.iter().filter(|e| !matches!(e.outcome, Outcome::Done)) {
                    if !queue::finish(conn, e.job.id, &worker, &e.outcome, now)? {
                        lost.push(e.job.id);
                    }
                    match &e.outcome {
                        Outcome::Done => {}
                        Outcome::Retry { error, at } => tracing::warn!(job = %e.job.id, kind = %e.job.kind, attempt = e.job.attempts, retry_at = %at, error = %error, "job failed; will retry"),
                        Outcome::Dead { error } => tracing::error!(job = %e.job.id, kind = %e.job.kind, attempt = e.job.attempts, error = %error, "job failed for good (dead letter)"),
                    }
                }
                Ok::<_, CoreError>(lost)
            })
            .await?;
        for id in lost {
            tracing::warn!(job = %id, "job's lease had run out: its outcome is another worker's");
        }
        Ok(())
    }

    async fn extend_leases(&self) -> Result<(), CoreError> {
        let until =
            self.core.clock.now() + chrono::Duration::from_std(self.opts.lease).unwrap_or_default();
        let worker = self.id.clone();
        self.core
            .store
            .write(move |conn| Ok::<_, CoreError>(queue::extend_lease(conn, &worker, until)?))
            .await
    }
}

/// What a spawned try needs (a `Runner` is shared; a task owns this).
struct TaskRunner {
    core: Arc<Core>,
    handlers: Handlers,
    opts: RunnerOptions,
}

impl TaskRunner {
    /// One try of `job`: its handler's outcome, a panic counted as a failed try.
    async fn run_one(self, job: Job) -> Ended {
        let result = match self.handlers.get(&job.kind) {
            None => Err(JobError::Permanent(format!(
                "no handler for jobs of kind '{}'",
                job.kind
            ))),
            Some(handler) => {
                let run = std::panic::AssertUnwindSafe(handler.run(&self.core, &job));
                match run.catch_unwind().await {
                    Ok(r) => r,
                    Err(_) => Err(JobError::Retry("the handler panicked".into())),
                }
            }
        };
        let outcome = match result {
            Ok(()) => Outcome::Done,
            Err(JobError::Permanent(error)) => Outcome::Dead { error },
            Err(JobError::Retry(error)) if job.attempts >= job.max_attempts => Outcome::Dead {
                error: format!("{error} (after {} tries)", job.attempts),
            },
            Err(JobError::Retry(error)) => {
                let wait = backoff(
                    job.attempts.max(1) as u32,
                    self.opts.retry_base,
                    self.opts.retry_cap,
                    rand::random::<f64>(),
                );
                let at =
                    self.core.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                Outcome::Retry { error, at }
            }
        };
        Ended { job, outcome }
    }
}
