//! What runs a job: one handler per kind (`relata_core::jobs::kind`). A handler may run more
//! than once for one job (a worker that died after the work but before recording it), so
//! each is idempotent: what it does a second time changes nothing, or is keyed so that it
//! happens once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use relata_core::Core;
use relata_core::jobs::{Job, kind};

/// Why a try failed.
#[derive(Debug, Clone)]
pub enum JobError {
    /// Worth trying again later (a server down, a timeout).
    Retry(String),
    /// No retry will help (the payload names nothing that exists): dead-lettered at once.
    Permanent(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Retry(m) | JobError::Permanent(m) => f.write_str(m),
        }
    }
}

impl From<relata_core::CoreError> for JobError {
    fn from(e: relata_core::CoreError) -> Self {
        use relata_core::CoreError as E;
        match e {
            // the database or the network: may be back on the next try (the job's last
            // error, seen by administrators, keeps the cause)
            E::Unavailable(m) | E::Internal(m) => JobError::Retry(m),
            E::Conflict { .. } => JobError::Retry(e.to_string()),
            other => JobError::Permanent(other.to_string()),
        }
    }
}

/// The future a handler's run is.
pub type Running<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;

/// Runs the jobs of one kind.
pub trait Handler: Send + Sync {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a>;
}

/// Handlers by kind.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<String, Arc<dyn Handler>>,
}

impl Handlers {
    /// The handler of every kind `relata_core` enqueues.
    pub fn standard() -> Handlers {
        let mut h = Handlers::default();
        h.add(kind::PURGE_JOBS, Arc::new(PurgeJobs));
        h.add(kind::NOOP, Arc::new(Noop));
        h.add(kind::REMINDER, Arc::new(Reminder));
        h.add(kind::EMAIL, Arc::new(SendMail));
        h.add(kind::EMAIL_DELIVER, Arc::new(DeliverEmail));
        h.add(kind::MAILBOX_SYNC, Arc::new(SyncMailboxes));
        h.add(kind::POOL_SWEEP, Arc::new(SweepPools));
        h.add(kind::COLLECTION_SWEEP, Arc::new(SweepCollection));
        h.add(kind::FORECAST_SNAPSHOT, Arc::new(SnapshotForecasts));
        h.add(kind::WEBHOOK, Arc::new(DeliverWebhook));
        h.add(kind::WORKFLOW_RUN, Arc::new(RunWorkflow));
        h.add(kind::WORKFLOW_SCHEDULE, Arc::new(ScheduledWorkflow));
        h
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn add(&mut self, kind: &str, handler: Arc<dyn Handler>) {
        self.by_kind.insert(kind.to_owned(), handler);
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Handler>> {
        self.by_kind.get(kind)
    }

    /// The kinds handled: a worker claims only these.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.by_kind.keys().cloned().collect();
        k.sort();
        k
    }
}

/// `jobs.purge`: finished jobs past their retention go.
struct PurgeJobs;

impl Handler for PurgeJobs {
    fn run<'a>(&'a self, core: &'a Core, _job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let n = core.purge_finished_jobs().await?;
            if n > 0 {
                tracing::info!(removed = n, "finished jobs past retention removed");
            }
            Ok(())
        })
    }
}

/// `reminder.due`: an activity's owner is reminded, unless the reminder no longer stands.
struct Reminder;

impl Handler for Reminder {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            core.fire_reminder(&job.payload).await?;
            Ok(())
        })
    }
}

/// `email.send`: a queued mail goes to the mail server; a server that is down or refuses is
/// a failed try, retried later.
struct SendMail;

impl Handler for SendMail {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            core.deliver_mail(&job.payload).await?;
            Ok(())
        })
    }
}

/// `email.deliver`: a mail about a record goes out (rendered when it was queued).
struct DeliverEmail;

impl Handler for DeliverEmail {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let last_try = job.attempts >= job.max_attempts;
            core.deliver_email(&job.payload, last_try).await?;
            Ok(())
        })
    }
}

/// `mailbox.sync`: every enabled mailbox reads its new mail (a mailbox that fails keeps
/// its error; the job does not fail for it, the next run tries again).
struct SyncMailboxes;

impl Handler for SyncMailboxes {
    fn run<'a>(&'a self, core: &'a Core, _job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let r = core.sync_all_mailboxes().await?;
            if r.fetched > 0 {
                tracing::info!(
                    fetched = r.fetched,
                    attached = r.attached,
                    bounces = r.bounces,
                    "mailboxes synced"
                );
            }
            Ok(())
        })
    }
}

/// `pools.sweep`: owners warned, records not followed up taken back to their pools.
struct SweepPools;

impl Handler for SweepPools {
    fn run<'a>(&'a self, core: &'a Core, _job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            core.sweep_pools().await?;
            Ok(())
        })
    }
}

/// `collection.sweep`: instalments fallen due turn overdue (their owners are told),
/// contracts past their end expire.
struct SweepCollection;

impl Handler for SweepCollection {
    fn run<'a>(&'a self, core: &'a Core, _job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            core.sweep_collection().await?;
            Ok(())
        })
    }
}

/// `forecast.snapshot`: this week's forecast of every rep is kept.
struct SnapshotForecasts;

impl Handler for SnapshotForecasts {
    fn run<'a>(&'a self, core: &'a Core, _job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            core.snapshot_forecasts().await?;
            Ok(())
        })
    }
}

/// `webhook.deliver`: one event to one webhook, signed; a receiver that fails is a failed try.
struct DeliverWebhook;

impl Handler for DeliverWebhook {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let last_try = job.attempts >= job.max_attempts;
            core.deliver_webhook(&job.payload, last_try).await?;
            Ok(())
        })
    }
}

/// `workflow.run`: a rule's run takes its next steps (until it ends or waits).
struct RunWorkflow;

impl Handler for RunWorkflow {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let last_try = job.attempts >= job.max_attempts;
            core.run_workflow(&job.payload, last_try).await?;
            Ok(())
        })
    }
}

/// `workflow.schedule`: a scheduled rule starts a run for each record meeting its condition.
struct ScheduledWorkflow;

impl Handler for ScheduledWorkflow {
    fn run<'a>(&'a self, core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let n = core
                .fire_workflow_schedule(&job.payload, job.run_at)
                .await?;
            tracing::info!(runs = n, "scheduled workflow rule fired");
            Ok(())
        })
    }
}

/// `noop`: nothing, for measuring the queue. With `{"hold_ms": n}` (at most 10,000) it holds
/// its worker slot that long first: a slow handler, for seeing how workers share a queue.
struct Noop;

/// The longest a `noop` job may hold its worker slot.
const NOOP_MAX_HOLD_MS: u64 = 10_000;

impl Handler for Noop {
    fn run<'a>(&'a self, _core: &'a Core, job: &'a Job) -> Running<'a> {
        let hold = job.payload["hold_ms"].as_u64().unwrap_or(0);
        Box::pin(async move {
            if hold > 0 {
                let hold = std::time::Duration::from_millis(hold.min(NOOP_MAX_HOLD_MS));
                tokio::time::sleep(hold).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_core_enqueues_has_a_handler() {
        let handlers = Handlers::standard();
        for k in kind::ALL {
            assert!(handlers.get(k).is_some(), "no handler for {k}");
        }
    }
}
