//! Two `relata serve` processes on one PostgreSQL database (issue 8). They share one job queue,
//! one workflow fan-out and one webhook fan-out, and nothing is done twice:
//! - slow jobs are run by both processes, each job by one of them, once;
//! - every contact created through either server gets exactly one task from a workflow rule
//!   and exactly one webhook delivery;
//! - a schedule made due again and again fires once each time, whichever process sees it.
//!
//! PostgreSQL only: the SQLite run skips it (one SQLite file has one writing process).

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use relata_domain::{Clock, SystemClock};
use relata_store::{SqlValue, StoreError};
use serde_json::{Value as Json, json};

use common::hooks::{call, receiver, wait_until};
use common::server::Server;
use common::{TestDb, lines, open_store, postgres_url, relata, run_ok, stdout};

const CONTACTS: usize = 400;
/// Slow jobs: at 50 ms each, one server's 16 workers would need about two seconds for them
/// all, longer than the other server's one-second poll, so both take part.
const SLOW_JOBS: usize = 600;
const HOLD_MS: u64 = 50;
const FIRINGS: usize = 5;

#[test]
fn two_servers_on_one_postgres_share_the_work_and_never_do_it_twice() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("skipped: needs RELATA_TEST_POSTGRES_URL (two processes on one PostgreSQL)");
        return;
    };
    let db = TestDb::fresh_postgres(&admin_url);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let token = stdout(&run_ok(relata(d).args([
        "--database-url",
        &db.url,
        "token",
        "create",
    ])))
    .trim()
    .to_owned();
    let (hook_url, received) = receiver();
    let servers = [
        Server::start(d, &db.url, &[]),
        Server::start(d, &db.url, &[]),
    ];
    let [a, b] = &servers;

    call(
        a,
        &token,
        "POST",
        "/api/v1/webhooks",
        &json!({"name": "ERP", "url": hook_url, "object": "contact", "events": ["created"]}),
        201,
    );
    call(
        b,
        &token,
        "POST",
        "/api/v1/workflow_rules",
        &json!({"name": "Welcome call", "object": "contact", "definition": {
            "trigger": {"type": "created"},
            "steps": [{"type": "create_record", "object": "task", "set": {
                "subject": {"formula": "'Welcome call: ' & name"},
                "contact_id": {"formula": "id"}}}]}}),
        201,
    );

    // Contacts through both servers, one after the other.
    for n in 0..CONTACTS {
        call(
            &servers[n % 2],
            &token,
            "POST",
            "/api/v1/records/contact",
            &json!({"name": format!("客户联系人 {n}"), "email": format!("c{n}@example.com")}),
            201,
        );
    }

    // Slow jobs, due together in two seconds so that both servers find them by polling.
    let due = (SystemClock.now() + chrono::Duration::seconds(2)).to_rfc3339();
    for (i, server) in servers.iter().enumerate() {
        let jobs: Vec<Json> = (0..SLOW_JOBS / 2)
            .map(|n| json!({"kind": "noop", "payload": {"hold_ms": HOLD_MS, "n": i * SLOW_JOBS + n}, "run_at": due}))
            .collect();
        call(
            server,
            &token,
            "POST",
            "/api/v1/jobs",
            &json!({ "jobs": jobs }),
            201,
        );
    }

    // A schedule (once a year) made due again and again while both servers watch it.
    let schedule = call(
        a,
        &token,
        "PUT",
        "/api/v1/schedules/two%20servers",
        &json!({"kind": "noop", "cron": "0 0 1 1 *"}),
        200,
    );
    let schedule_id: uuid::Uuid = schedule["id"].as_str().unwrap().parse().unwrap();
    let store = open_store(&db.url);
    for firing in 0..FIRINGS {
        let past = SystemClock.now() - chrono::Duration::minutes(firing as i64 + 1);
        store
            .write_blocking(move |c| -> Result<_, StoreError> {
                c.execute(
                    "UPDATE sys_schedules SET next_run_at = $1 WHERE id = $2",
                    &[SqlValue::Timestamp(past), SqlValue::Uuid(schedule_id)],
                )
            })
            .unwrap();
        wait_until("the schedule to fire", || {
            let all = call(b, &token, "GET", "/api/v1/schedules", &Json::Null, 200);
            let ours = all["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == schedule_id.to_string())
                .cloned()
                .unwrap();
            let next = ours["next_run_at"].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(next).unwrap() > SystemClock.now()
        });
    }

    // Everything settles: every delivery and task there, no job queued or running (the two
    // fan-outs run apart from the queue, so the counts alone do not say they are done); then
    // a moment more, for anything done twice to show.
    wait_until("the work to be done", || {
        let page = call(a, &token, "GET", "/api/v1/jobs?limit=1", &Json::Null, 200);
        let counts = &page["counts"];
        let busy = counts["queued"].as_i64().unwrap_or(0) + counts["running"].as_i64().unwrap_or(0);
        let tasks = call(
            b,
            &token,
            "GET",
            "/api/v1/records/task?limit=1&count=true",
            &Json::Null,
            200,
        );
        busy == 0
            && received.lock().unwrap().len() >= CONTACTS
            && tasks["total"].as_u64() >= Some(CONTACTS as u64)
    });
    std::thread::sleep(Duration::from_secs(2));

    // Each contact's event delivered once, with its own delivery id.
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), CONTACTS, "one delivery per contact");
    let ids: BTreeSet<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), CONTACTS, "no delivery sent twice");
    let records: BTreeSet<&str> = got
        .iter()
        .map(|(_, body)| body["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(records.len(), CONTACTS, "every contact's event delivered");

    // Each contact got exactly one task from the rule.
    let tasks = lines(&common::export(d, &db.url, "task"));
    let mut per_contact: BTreeMap<String, usize> = BTreeMap::new();
    for t in &tasks {
        *per_contact
            .entry(t["contact_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_contact.len(), CONTACTS, "every contact has a task");
    assert!(
        per_contact.values().all(|n| *n == 1),
        "a contact with more than one task: {per_contact:?}"
    );

    // Every job of the test (slow ones, workflow runs, deliveries, the schedule's) was tried
    // once and done; the slow ones were run by both servers.
    let jobs = store
        .read_blocking(|c| -> Result<_, StoreError> {
            c.query(
                "SELECT kind, status, attempts, locked_by, schedule_id FROM sys_jobs",
                &[],
            )
        })
        .unwrap();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut slow_by: BTreeSet<String> = BTreeSet::new();
    let mut fired = 0;
    for row in &jobs {
        let kind = row[0].as_str().unwrap().to_owned();
        if row[4].as_uuid().is_some_and(|s| s != schedule_id) {
            continue; // a system schedule's (mail sync, clean-up), not this test's doing
        }
        assert_eq!(row[1].as_str(), Some("done"), "{row:?}");
        assert_eq!(row[2].as_i64(), Some(1), "tried more than once: {row:?}");
        if row[4].as_uuid() == Some(schedule_id) {
            fired += 1;
        } else if kind == "noop" {
            // worker ids start with the process id
            let worker = row[3].as_str().unwrap();
            slow_by.insert(worker.split('-').next().unwrap().to_owned());
        }
        *kinds.entry(kind).or_default() += 1;
    }
    assert_eq!(fired, FIRINGS, "one firing per due time: {kinds:?}");
    assert_eq!(kinds["noop"], SLOW_JOBS + FIRINGS, "{kinds:?}");
    let pids: BTreeSet<String> = servers.iter().map(|s| s.pid().to_string()).collect();
    assert_eq!(slow_by, pids, "both servers ran slow jobs");
}
