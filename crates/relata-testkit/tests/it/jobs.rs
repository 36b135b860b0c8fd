//! The durable job queue and its workers (issue 8): jobs written in the caller's transaction,
//! delayed jobs and priorities, retries with a growing wait and the dead letter, idempotency
//! keys, a dead worker's jobs taken over, two workers never running one job twice, recurring
//! schedules in a time zone, and the administrators' API — all driven by a manual clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use relata_core::Core;
use relata_core::jobs::{Job, JobStatus, NewJob};
use relata_domain::{Clock, ManualClock};
use relata_jobs::handlers::Running;
use relata_jobs::{Handler, Handlers, JobError, Runner, RunnerOptions};
use relata_store::jobs as queue;
use relata_testkit::{SpawnOptions, TestApp};

/// Friday 2026-12-04 10:00 in Shanghai.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 2, 0, 0).unwrap()
}

async fn app_at(clock: &Arc<ManualClock>) -> TestApp {
    TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await
}

/// Runs `test.*` jobs: each run is counted per job and written down in order; a job whose
/// payload says `fail: n` fails its first n tries, `permanent` fails for good, `panic` panics.
#[derive(Default)]
struct Probe {
    runs: Mutex<Vec<String>>,
    per_job: Mutex<HashMap<uuid::Uuid, usize>>,
}

impl Handler for Probe {
    fn run<'a>(&'a self, _core: &'a Core, job: &'a Job) -> Running<'a> {
        Box::pin(async move {
            let name = job.payload["name"].as_str().unwrap_or_default().to_owned();
            self.runs.lock().unwrap().push(name);
            *self.per_job.lock().unwrap().entry(job.id).or_default() += 1;
            if job.payload["permanent"] == true {
                return Err(JobError::Permanent(
                    "the order it names does not exist".into(),
                ));
            }
            if job.payload["panic"] == true && job.attempts == 1 {
                panic!("a bug in a handler");
            }
            let fail = job.payload["fail"].as_i64().unwrap_or(0);
            if i64::from(job.attempts) <= fail {
                return Err(JobError::Retry(format!("smtp down (try {})", job.attempts)));
            }
            Ok(())
        })
    }
}

fn runner(app: &TestApp, probe: &Arc<Probe>, concurrency: usize) -> Arc<Runner> {
    let mut handlers = Handlers::standard();
    handlers.add("test.probe", probe.clone());
    Runner::new(
        app.core.clone(),
        handlers,
        RunnerOptions {
            concurrency,
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(60),
            retry_cap: Duration::from_secs(3600),
            ..Default::default()
        },
    )
}

fn probe_job(name: &str, now: DateTime<Utc>, extra: serde_json::Value) -> NewJob {
    let mut payload = json!({ "name": name });
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    NewJob::new("test.probe", payload, now)
}

async fn job(app: &TestApp, id: uuid::Uuid) -> Job {
    let admin = app.admin().await;
    app.core.get_job(&admin, id).await.unwrap()
}

#[tokio::test]
async fn a_job_written_with_a_change_commits_with_it_and_a_delayed_one_waits_for_its_time() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);

    // enqueued in a write that fails: no job
    let now = clock.now();
    let rolled_back = app
        .core
        .store
        .write(move |conn: &mut dyn relata_store::Conn| {
            queue::enqueue(conn, &probe_job("lost", now, json!({})), now)?;
            Err::<(), _>(relata_core::CoreError::Internal("the change failed".into()))
        })
        .await;
    assert!(rolled_back.is_err());
    // one for now, one for three days later
    let soon = app
        .core
        .enqueue_job(probe_job("now", now, json!({})))
        .await
        .unwrap()
        .unwrap();
    let mut later = probe_job("later", now, json!({}));
    later.run_at = now + chrono::Duration::days(3);
    let later = app.core.enqueue_job(later).await.unwrap().unwrap();

    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(*probe.runs.lock().unwrap(), vec!["now"]);
    assert_eq!(job(&app, soon).await.status, JobStatus::Done);
    assert_eq!(job(&app, later).await.status, JobStatus::Queued);

    clock.advance(chrono::Duration::days(3));
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let done = job(&app, later).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Done, 1));
    assert_eq!(*probe.runs.lock().unwrap(), vec!["now", "later"]);
}

#[tokio::test]
async fn higher_priority_runs_first_and_an_idempotency_key_enqueues_once() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let now = clock.now();
    for (name, priority) in [("low", 0), ("high", 10), ("middle", 5)] {
        let mut j = probe_job(name, now, json!({}));
        j.priority = priority;
        app.core.enqueue_job(j).await.unwrap();
    }
    let mut keyed = probe_job("welcome mail", now, json!({}));
    keyed.idempotency_key = Some("welcome:contact-1".into());
    assert!(app.core.enqueue_job(keyed.clone()).await.unwrap().is_some());
    assert!(app.core.enqueue_job(keyed).await.unwrap().is_none());

    runner(&app, &probe, 1).run_due().await.unwrap();
    assert_eq!(
        *probe.runs.lock().unwrap(),
        vec!["high", "middle", "low", "welcome mail"]
    );
}

#[tokio::test]
async fn a_failing_job_is_retried_later_and_later_then_dead_lettered_and_retried_by_an_admin() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);
    let now = clock.now();
    let mut j = probe_job("mail", now, json!({"fail": 5}));
    j.max_attempts = 3;
    let id = app.core.enqueue_job(j).await.unwrap().unwrap();

    let mut waits = Vec::new();
    for attempt in 1..=2 {
        assert_eq!(runner.run_due().await.unwrap(), 1);
        let queued = job(&app, id).await;
        assert_eq!(queued.status, JobStatus::Queued);
        assert_eq!(queued.attempts, attempt);
        assert!(queued.last_error.as_deref().unwrap().contains("smtp down"));
        let wait = queued.run_at - clock.now();
        waits.push(wait);
        // not before its time …
        assert_eq!(runner.run_due().await.unwrap(), 0);
        clock.advance(wait);
    }
    // 60 s base doubled, each spread over 50-100%
    assert!(
        waits[0] >= chrono::Duration::seconds(30) && waits[0] <= chrono::Duration::seconds(60),
        "{waits:?}"
    );
    assert!(
        waits[1] >= chrono::Duration::seconds(60) && waits[1] <= chrono::Duration::seconds(120),
        "{waits:?}"
    );
    // the third try is the last
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let dead = job(&app, id).await;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Failed, 3));
    assert!(dead.last_error.unwrap().contains("after 3 tries"));
    clock.advance(chrono::Duration::days(1));
    assert_eq!(
        runner.run_due().await.unwrap(),
        0,
        "a dead letter stays dead"
    );

    // an administrator retries it through the API: tries counted afresh, and it now succeeds
    let r = app
        .post(&format!("/api/v1/jobs/{id}/retry"), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(probe.runs.lock().unwrap().len(), 3);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["attempts"], 0);
    // tries counted afresh: the job still fails (its first five tries do), and as try 1 of
    // 3 it is queued for later, not dead at once
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let requeued = job(&app, id).await;
    assert_eq!((requeued.status, requeued.attempts), (JobStatus::Queued, 1));
    let again = app
        .post(&format!("/api/v1/jobs/{id}/retry"), &json!({}))
        .await;
    again.assert_status(409);
    assert_eq!(again.body["code"], "job_state");
}

#[tokio::test]
async fn a_permanent_failure_is_dead_at_once_and_a_panic_is_retried() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);
    let now = clock.now();
    let gone = app
        .core
        .enqueue_job(probe_job("gone", now, json!({"permanent": true})))
        .await
        .unwrap()
        .unwrap();
    let buggy = app
        .core
        .enqueue_job(probe_job("buggy", now, json!({"panic": true})))
        .await
        .unwrap()
        .unwrap();
    let unknown = app
        .core
        .enqueue_job(NewJob::new("nobody.handles.this", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        runner.run_due().await.unwrap(),
        2,
        "a kind without a handler is not claimed"
    );
    let dead = job(&app, gone).await;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Failed, 1));
    assert!(dead.last_error.unwrap().contains("does not exist"));
    let retried = job(&app, buggy).await;
    assert_eq!(retried.status, JobStatus::Queued);
    assert!(retried.last_error.unwrap().contains("panicked"));
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(job(&app, buggy).await.status, JobStatus::Done);
    assert_eq!(job(&app, unknown).await.status, JobStatus::Queued);
}

#[tokio::test]
async fn a_dead_workers_jobs_are_taken_over_when_their_lease_ends_and_run_once_in_effect() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);
    let now = clock.now();
    let id = app
        .core
        .enqueue_job(probe_job("webhook", now, json!({})))
        .await
        .unwrap()
        .unwrap();
    // a worker claims it and dies (kill -9): the job stays running under its lease
    let lease = now + chrono::Duration::minutes(5);
    let claimed = app
        .core
        .store
        .write(move |conn: &mut dyn relata_store::Conn| {
            queue::claim(
                conn,
                "dead-worker",
                &["test.probe".to_owned()],
                now,
                lease,
                10,
            )
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        runner.run_due().await.unwrap(),
        0,
        "a live lease is respected"
    );
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let done = job(&app, id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Done, 2));
    // the dead worker's late report changes nothing
    let late = clock.now();
    let recorded = app
        .core
        .store
        .write(move |conn: &mut dyn relata_store::Conn| {
            queue::finish(
                conn,
                id,
                "dead-worker",
                &queue::Outcome::Dead {
                    error: "late".into(),
                },
                late,
            )
        })
        .await
        .unwrap();
    assert!(!recorded);
    assert_eq!(job(&app, id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn two_workers_on_one_queue_never_run_a_job_twice() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let now = clock.now();
    let jobs = 300;
    app.core
        .store
        .write(move |conn: &mut dyn relata_store::Conn| {
            for i in 0..jobs {
                queue::enqueue(conn, &probe_job(&format!("j{i}"), now, json!({})), now)?;
            }
            Ok::<_, relata_store::StoreError>(())
        })
        .await
        .unwrap();
    let (a, b) = (runner(&app, &probe, 8), runner(&app, &probe, 8));
    let (ran_a, ran_b) = tokio::join!(a.run_due(), b.run_due());
    assert_eq!(ran_a.unwrap() + ran_b.unwrap(), jobs);
    let per_job = probe.per_job.lock().unwrap();
    assert_eq!(per_job.len(), jobs);
    assert!(per_job.values().all(|n| *n == 1), "a job ran twice");
}

#[tokio::test]
async fn a_schedule_fires_at_its_local_time_once_however_many_look_and_once_after_downtime() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let r = app
        .client
        .put(
            "/api/v1/schedules/morning digest",
            &json!({"kind": "noop", "cron": "0 9 * * 1-5", "time_zone": "Asia/Shanghai"}),
        )
        .await;
    r.assert_status(200);
    // Friday 10:00 there: next is Monday 09:00 Shanghai = 01:00 UTC
    let next: DateTime<Utc> = r.body["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap());

    let runner = runner(&app, &probe, 4);
    assert_eq!(runner.run_due().await.unwrap(), 0);
    clock.advance(chrono::Duration::days(3));
    // two processes look at once: one job
    let (x, y) = tokio::join!(app.core.fire_due_schedules(), app.core.fire_due_schedules());
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(app.core.fire_due_schedules().await.unwrap(), 0);
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let admin = app.admin().await;
    let listed = app
        .core
        .list_jobs(
            &admin,
            relata_core::jobs::JobQuery {
                kind: Some("noop".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].schedule_id.is_some());

    // the server was down all week: the schedule fires once, then keeps its rhythm
    clock.advance(chrono::Duration::days(7));
    assert_eq!(app.core.fire_due_schedules().await.unwrap(), 1);
    let s = app.get("/api/v1/schedules").await;
    s.assert_status(200);
    let digest = s.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "morning digest")
        .unwrap()
        .clone();
    let next: DateTime<Utc> = digest["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 15, 1, 0, 0).unwrap());
    // the system's own schedule is listed too
    assert!(
        s.body["kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("jobs.purge"))
    );
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"kind": "noop", "cron": "0 9 * *"}), "cron"),
        (json!({"kind": "noop", "cron": "0 25 * * *"}), "cron"),
        (json!({"kind": "noop", "cron": "0 0 30 2 *"}), "cron"),
        (
            json!({"kind": "noop", "cron": "0 9 * * *", "time_zone": "Asia/Beijing"}),
            "time_zone",
        ),
        (json!({"kind": "send.fax", "cron": "0 9 * * *"}), "kind"),
    ] {
        let r = app.client.put("/api/v1/schedules/bad", &body).await;
        r.assert_status(422);
        assert_eq!(r.error_fields(), vec![field], "{body}: {}", r.text);
    }
    let s = app.get("/api/v1/schedules").await;
    assert!(
        s.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "bad"),
        "nothing was saved"
    );
}

#[tokio::test]
async fn only_automation_admins_see_or_touch_jobs_and_their_actions_are_audited() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let now = clock.now();
    let queued = app
        .core
        .enqueue_job(NewJob::new("noop", json!({"n": 1}), now))
        .await
        .unwrap()
        .unwrap();
    let rep = app.user("rep@example.com", json!({})).await;
    let rep = app.client_for(&rep).await;
    for r in [
        rep.get("/api/v1/jobs").await,
        rep.get(&format!("/api/v1/jobs/{queued}")).await,
        rep.post(&format!("/api/v1/jobs/{queued}/cancel"), &json!({}))
            .await,
        rep.get("/api/v1/schedules").await,
        rep.put(
            "/api/v1/schedules/x",
            &json!({"kind": "noop", "cron": "@daily"}),
        )
        .await,
    ] {
        r.assert_status(403);
    }

    let list = app.get("/api/v1/jobs?status=queued").await;
    list.assert_status(200);
    assert_eq!(list.body["data"][0]["id"], queued.to_string());
    assert_eq!(list.body["data"][0]["payload"]["n"], 1);
    assert_eq!(list.body["counts"]["queued"], 1);
    app.get("/api/v1/jobs?status=sleeping")
        .await
        .assert_status(422);
    app.get("/api/v1/jobs/not-a-job").await.assert_status(404);

    let cancelled = app
        .post(&format!("/api/v1/jobs/{queued}/cancel"), &json!({}))
        .await;
    cancelled.assert_status(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    app.post(&format!("/api/v1/jobs/{queued}/cancel"), &json!({}))
        .await
        .assert_status(409);
    let probe = Arc::new(Probe::default());
    assert_eq!(
        runner(&app, &probe, 2).run_due().await.unwrap(),
        0,
        "a cancelled job does not run"
    );

    let audit = app.get("/api/v1/admin/audit?action=job.cancel").await;
    audit.assert_status(200);
    assert_eq!(
        audit.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn the_nightly_purge_removes_old_finished_jobs_and_keeps_dead_letters() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    app.core.ensure_system_schedules().await.unwrap();
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);
    let now = clock.now();
    let done = app
        .core
        .enqueue_job(NewJob::new("noop", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    let dead = app
        .core
        .enqueue_job(probe_job("dead", now, json!({"permanent": true})))
        .await
        .unwrap()
        .unwrap();
    runner.run_due().await.unwrap();
    clock.advance(chrono::Duration::days(
        relata_core::jobs::FINISHED_JOB_RETENTION_DAYS + 1,
    ));
    // the purge's schedule (03:17 UTC daily) is long due: it fires and runs
    runner.run_due().await.unwrap();
    let admin = app.admin().await;
    assert!(
        app.core.get_job(&admin, done).await.is_err(),
        "the old done job is gone"
    );
    assert_eq!(
        app.core.get_job(&admin, dead).await.unwrap().status,
        JobStatus::Failed
    );
    let purges = AtomicUsize::new(0);
    for j in app
        .core
        .list_jobs(
            &admin,
            relata_core::jobs::JobQuery {
                kind: Some("jobs.purge".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    {
        assert_eq!(j.status, JobStatus::Done);
        purges.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(
        purges.load(Ordering::Relaxed),
        1,
        "fired once for the missed days"
    );
}

#[tokio::test]
async fn a_heartbeat_keeps_a_long_jobs_lease_and_only_its_own_workers() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = app_at(&clock).await;
    let probe = Arc::new(Probe::default());
    let runner = runner(&app, &probe, 4);
    let now = clock.now();
    let id = app
        .core
        .enqueue_job(probe_job("long", now, json!({})))
        .await
        .unwrap()
        .unwrap();
    let lease = now + chrono::Duration::minutes(5);
    app.core
        .store
        .write(move |conn: &mut dyn relata_store::Conn| {
            queue::claim(
                conn,
                "busy-worker",
                &["test.probe".to_owned()],
                now,
                lease,
                10,
            )?;
            // another worker's heartbeat does not touch it; its own moves the lease on
            queue::extend_lease(conn, "other-worker", now + chrono::Duration::hours(9))?;
            queue::extend_lease(conn, "busy-worker", now + chrono::Duration::minutes(20))
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(10));
    assert_eq!(
        runner.run_due().await.unwrap(),
        0,
        "the extended lease holds"
    );
    clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        runner.run_due().await.unwrap(),
        1,
        "then it ran out and is taken over"
    );
    assert_eq!(job(&app, id).await.status, JobStatus::Done);
}
