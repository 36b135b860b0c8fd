//! The job queue as services see it: enqueueing (inside a caller's write, or alone), waking
//! this process's workers, recurring schedules, and the administrators' view — list, retry
//! and cancel jobs, see and change schedules. The workers themselves are `relata-jobs`.

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::schedule::Recurrence;
use relata_domain::{FieldError, FieldErrorCode};
pub use relata_store::jobs::{Job, JobQuery, JobStatus, NewJob, Schedule};
use relata_store::{Conn, jobs};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// The most jobs one call enqueues by hand.
pub const MAX_ENQUEUED_AT_ONCE: usize = 1_000;

/// Jobs per status, for the admin page's counters.
pub type JobCounts = Vec<(JobStatus, i64)>;

/// A schedule as an administrator writes it.
#[derive(Debug, Clone)]
pub struct ScheduleInput {
    pub name: String,
    pub kind: String,
    pub payload: Json,
    pub cron: String,
    pub time_zone: String,
    pub enabled: bool,
}

impl Core {
    /// Enqueues `job` in a write of its own and wakes the workers. `None`: a job with its
    /// idempotency key exists already.
    pub async fn enqueue_job(&self, job: NewJob) -> Result<Option<Uuid>, CoreError> {
        let now = self.clock.now();
        let id = self
            .store
            .write(move |conn| Ok::<_, CoreError>(jobs::enqueue(conn, &job, now)?))
            .await?;
        self.wake_job_workers();
        Ok(id)
    }

    /// Tells this process's workers that jobs may be waiting (other processes find them when
    /// they next look).
    pub fn wake_job_workers(&self) {
        self.job_wake.notify_waiters();
    }

    /// Completes when [`Core::wake_job_workers`] is called.
    pub async fn job_enqueued(&self) {
        self.job_wake.notified().await;
    }

    /// Jobs newest first.
    pub async fn list_jobs(&self, actor: &Actor, query: JobQuery) -> Result<Vec<Job>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| Ok::<_, CoreError>(jobs::list(conn, &query)?))
            .await
    }

    pub async fn job_counts(&self, actor: &Actor) -> Result<JobCounts, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(|conn| Ok::<_, CoreError>(jobs::counts(conn)?))
            .await
    }

    pub async fn get_job(&self, actor: &Actor, id: Uuid) -> Result<Job, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| Ok::<_, CoreError>(jobs::get(conn, id)?))
            .await?
            .ok_or_else(|| CoreError::not_found("job"))
    }

    /// Enqueues jobs by hand (an administrator running the nightly purge now, a script
    /// queueing work), all in one transaction: every job names a known kind, or none is
    /// enqueued. Jobs whose idempotency key exists already are skipped; answers the ids of
    /// those enqueued.
    pub async fn enqueue_jobs_as(
        &self,
        actor: &Actor,
        mut batch: Vec<NewJob>,
    ) -> Result<Vec<Uuid>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        if batch.is_empty() || batch.len() > MAX_ENQUEUED_AT_ONCE {
            return Err(CoreError::Validation(vec![FieldError::new(
                "jobs",
                FieldErrorCode::InvalidOption,
                format!("enqueue 1-{MAX_ENQUEUED_AT_ONCE} jobs at once"),
            )]));
        }
        let kinds = self.job_kinds();
        let mut errors = Vec::new();
        for (i, j) in batch.iter_mut().enumerate() {
            if !kinds.contains(&j.kind) {
                errors.push(FieldError::new(
                    format!("jobs.{i}.kind"),
                    FieldErrorCode::InvalidOption,
                    format!(
                        "no job kind '{}'; known kinds: {}",
                        j.kind,
                        kinds.join(", ")
                    ),
                ));
            }
            if !(1..=100).contains(&j.max_attempts) {
                errors.push(FieldError::new(
                    format!("jobs.{i}.max_attempts"),
                    FieldErrorCode::TooLarge,
                    "must be 1-100",
                ));
            }
            j.schedule_id = None;
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        let ids = self
            .store
            .write(move |conn| {
                let mut ids = Vec::with_capacity(batch.len());
                for j in &batch {
                    ids.extend(jobs::enqueue(conn, j, now)?);
                }
                let mut kinds: Vec<&str> = batch.iter().map(|j| j.kind.as_str()).collect();
                kinds.sort_unstable();
                kinds.dedup();
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "job.enqueue",
                    None,
                    serde_json::json!({"jobs": ids.len(), "kinds": kinds}),
                )?;
                Ok::<_, CoreError>(ids)
            })
            .await?;
        self.wake_job_workers();
        Ok(ids)
    }

    /// Puts a dead-lettered or cancelled job back in the queue, due now.
    pub async fn retry_job(&self, actor: &Actor, id: Uuid) -> Result<Job, CoreError> {
        let job = self
            .change_job(
                actor,
                id,
                "job.retry",
                "only a failed or cancelled job can be retried",
                jobs::retry,
            )
            .await?;
        self.wake_job_workers();
        Ok(job)
    }

    /// Cancels a job that has not started.
    pub async fn cancel_job(&self, actor: &Actor, id: Uuid) -> Result<Job, CoreError> {
        self.change_job(
            actor,
            id,
            "job.cancel",
            "only a queued job can be cancelled",
            jobs::cancel,
        )
        .await
    }

    async fn change_job(
        &self,
        actor: &Actor,
        id: Uuid,
        action: &'static str,
        refused: &'static str,
        change: fn(
            &mut dyn Conn,
            Uuid,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, relata_store::StoreError>,
    ) -> Result<Job, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                let job = jobs::get(conn, id)?.ok_or_else(|| CoreError::not_found("job"))?;
                if !change(conn, id, now)? {
                    return Err(CoreError::Conflict {
                        code: "job_state",
                        message: format!("{refused}; this one is {}", job.status.as_str()),
                    });
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    action,
                    None,
                    serde_json::json!({"job_id": id.to_string(), "kind": job.kind}),
                )?;
                jobs::get(conn, id)?.ok_or_else(|| CoreError::not_found("job"))
            })
            .await
    }

    /// Every recurring schedule.
    pub async fn schedules(&self, actor: &Actor) -> Result<Vec<Schedule>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(|conn| Ok::<_, CoreError>(jobs::schedules(conn)?))
            .await
    }

    /// Creates or changes the schedule named `input.name`, as an administrator.
    pub async fn put_schedule(
        &self,
        actor: &Actor,
        input: ScheduleInput,
    ) -> Result<Schedule, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let who = crate::audit::Who::from(actor);
        self.save_schedule(input, Some(who)).await
    }

    /// Installs a schedule the system itself needs (the nightly purge of finished jobs),
    /// keeping an administrator's changes to its timing and whether it is enabled.
    pub async fn ensure_schedule(&self, input: ScheduleInput) -> Result<Schedule, CoreError> {
        let name = input.name.clone();
        let existing = self
            .store
            .read(|conn| Ok::<_, CoreError>(jobs::schedules(conn)?))
            .await?
            .into_iter()
            .find(|s| s.name == name);
        match existing {
            Some(s) => Ok(s),
            None => self.save_schedule(input, None).await,
        }
    }

    async fn save_schedule(
        &self,
        input: ScheduleInput,
        who: Option<crate::audit::Who>,
    ) -> Result<Schedule, CoreError> {
        let mut errors = Vec::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::InvalidOption,
                "a schedule needs a name of 1-100 characters",
            ));
        }
        if !self.job_kinds().iter().any(|k| k == &input.kind) {
            errors.push(FieldError::new(
                "kind",
                FieldErrorCode::InvalidOption,
                format!(
                    "no job kind '{}'; known kinds: {}",
                    input.kind,
                    self.job_kinds().join(", ")
                ),
            ));
        }
        let now = self.clock.now();
        let next = match Recurrence::parse(&input.cron, &input.time_zone) {
            Ok(r) => r.next_after(now),
            Err(e) => {
                errors.push(FieldError::new(
                    e.part,
                    FieldErrorCode::InvalidOption,
                    e.message,
                ));
                None
            }
        };
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let schedule = Schedule {
            id: Uuid::nil(),
            name,
            kind: input.kind,
            payload: input.payload,
            cron: input.cron.trim().to_owned(),
            time_zone: input.time_zone.trim().to_owned(),
            enabled: input.enabled,
            next_run_at: next,
            last_run_at: None,
        };
        self.store
            .write(move |conn| {
                let id = jobs::put_schedule(conn, &schedule, now)?;
                if let Some(who) = &who {
                    crate::audit::append(
                        conn,
                        who,
                        now,
                        "schedule.put",
                        None,
                        serde_json::json!({"schedule_id": id.to_string(), "name": schedule.name, "kind": schedule.kind, "cron": schedule.cron, "time_zone": schedule.time_zone, "enabled": schedule.enabled}),
                    )?;
                }
                jobs::schedules(conn)?
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or_else(|| CoreError::not_found("schedule"))
            })
            .await
    }

    /// Enqueues a job for every schedule whose time has come and moves each to its next
    /// time. A schedule fires once per due time however many processes look: each firing's
    /// job carries the schedule and the time as its idempotency key, and on PostgreSQL the
    /// schedules are locked while one process moves them on. A schedule that missed several
    /// times (the server was down) fires once, not once per missed time. Answers how many fired.
    pub async fn fire_due_schedules(&self) -> Result<usize, CoreError> {
        let now = self.clock.now();
        let any = self
            .store
            .peek(move |conn| Ok::<_, CoreError>(jobs::any_schedule_due(conn, now)?))
            .await?;
        if !any {
            return Ok(0);
        }
        self.store
            .write(move |conn| {
                let due = jobs::due_schedules(conn, now)?;
                for s in &due {
                    let Some(at) = s.next_run_at else { continue };
                    let mut job = NewJob::new(&s.kind, s.payload.clone(), now);
                    job.schedule_id = Some(s.id);
                    job.idempotency_key = Some(format!("schedule:{}:{}", s.id, at.to_rfc3339()));
                    jobs::enqueue(conn, &job, now)?;
                    let next = Recurrence::parse(&s.cron, &s.time_zone)
                        .ok()
                        .and_then(|r| r.next_after(now));
                    jobs::advance_schedule(conn, s.id, now, next)?;
                }
                Ok::<_, CoreError>(due.len())
            })
            .await
    }

    /// The kinds of job this installation runs (a schedule may only name these).
    pub fn job_kinds(&self) -> Vec<String> {
        kind::ALL.iter().map(|k| (*k).to_owned()).collect()
    }

    /// Removes jobs that finished (done or cancelled) more than the retention ago; answers
    /// how many. Run nightly by the `jobs.purge` schedule.
    pub async fn purge_finished_jobs(&self) -> Result<u64, CoreError> {
        let before = self.clock.now() - chrono::Duration::days(FINISHED_JOB_RETENTION_DAYS);
        self.store
            .write(move |conn| Ok::<_, CoreError>(jobs::purge_finished(conn, before)?))
            .await
    }

    /// Installs the schedules the system runs on its own.
    pub async fn ensure_system_schedules(&self) -> Result<(), CoreError> {
        self.ensure_schedule(ScheduleInput {
            name: "purge finished jobs".into(),
            kind: kind::PURGE_JOBS.into(),
            payload: Json::Object(Default::default()),
            cron: "17 3 * * *".into(),
            time_zone: "UTC".into(),
            enabled: true,
        })
        .await?;
        self.ensure_schedule(ScheduleInput {
            name: "sync mailboxes".into(),
            kind: kind::MAILBOX_SYNC.into(),
            payload: Json::Object(Default::default()),
            cron: "*/5 * * * *".into(),
            time_zone: "UTC".into(),
            enabled: true,
        })
        .await?;
        self.ensure_schedule(ScheduleInput {
            name: "sweep pools".into(),
            kind: kind::POOL_SWEEP.into(),
            payload: Json::Object(Default::default()),
            cron: "7 * * * *".into(),
            time_zone: "UTC".into(),
            enabled: true,
        })
        .await?;
        // hourly, so an instalment due yesterday is overdue early in the day in any zone
        self.ensure_schedule(ScheduleInput {
            name: "sweep payment collection".into(),
            kind: kind::COLLECTION_SWEEP.into(),
            payload: Json::Object(Default::default()),
            cron: "23 * * * *".into(),
            time_zone: "UTC".into(),
            enabled: true,
        })
        .await?;
        self.ensure_schedule(ScheduleInput {
            name: "snapshot forecasts".into(),
            kind: kind::FORECAST_SNAPSHOT.into(),
            payload: Json::Object(Default::default()),
            cron: "41 1 * * 1".into(),
            time_zone: "UTC".into(),
            enabled: true,
        })
        .await?;
        Ok(())
    }
}

/// An id derived from `seed`: the same seed, the same id — what makes a job's effect happen
/// once when the job runs twice (a notification, a Message-ID).
pub fn derived_id(seed: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// How long done and cancelled jobs are kept for the admin page.
pub const FINISHED_JOB_RETENTION_DAYS: i64 = 14;

/// The kinds of job, each run by one handler in `relata-jobs`.
pub mod kind {
    /// Removes old finished jobs.
    pub const PURGE_JOBS: &str = "jobs.purge";
    /// Does nothing: for measuring the queue itself, and for trying a schedule out.
    pub const NOOP: &str = "noop";
    /// An activity's reminder is due (`crate::reminders`).
    pub const REMINDER: &str = "reminder.due";
    /// A queued mail is sent (`crate::mail`).
    pub const EMAIL: &str = "email.send";
    /// A mail about a record is delivered (`crate::email`).
    pub const EMAIL_DELIVER: &str = "email.deliver";
    /// Every enabled mailbox is synced over IMAP (`crate::email`).
    pub const MAILBOX_SYNC: &str = "mailbox.sync";
    /// Pools warn owners and take back what was not followed up (`crate::pools`).
    pub const POOL_SWEEP: &str = "pools.sweep";
    /// Instalments fallen due turn overdue, contracts past their end expire
    /// (`crate::collection`).
    pub const COLLECTION_SWEEP: &str = "collection.sweep";
    /// Every rep's forecast of the current month and quarter is kept for the week
    /// (`crate::targets::forecast`).
    pub const FORECAST_SNAPSHOT: &str = "forecast.snapshot";
    /// An event is delivered to a webhook (`crate::webhooks`).
    pub const WEBHOOK: &str = "webhook.deliver";

    /// A workflow run takes its next steps (`crate::workflow::run`).
    pub const WORKFLOW_RUN: &str = "workflow.run";
    /// A rule with a schedule trigger starts its runs (`crate::workflow::explain`).
    pub const WORKFLOW_SCHEDULE: &str = "workflow.schedule";

    pub const ALL: &[&str] = &[
        PURGE_JOBS,
        NOOP,
        REMINDER,
        EMAIL,
        EMAIL_DELIVER,
        MAILBOX_SYNC,
        POOL_SWEEP,
        COLLECTION_SWEEP,
        FORECAST_SNAPSHOT,
        WEBHOOK,
        WORKFLOW_RUN,
        WORKFLOW_SCHEDULE,
    ];
}
