//! Reminders (issue 8): a task's owner is reminded at its `reminder_at`, in the app and by
//! email in their language — once, even if the job runs twice; not when the reminder was
//! moved, cleared or the task completed; at the new time when it was moved.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_core::mail::CapturingMailer;
use relata_domain::{Clock, ManualClock};
use relata_jobs::{Handlers, Runner, RunnerOptions};
use relata_testkit::{Client, SpawnOptions, TestApp};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap()
}

struct World {
    app: TestApp,
    clock: Arc<ManualClock>,
    mailer: Arc<CapturingMailer>,
    runner: Arc<Runner>,
    rep: Client,
    rep_id: String,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(start()));
    let mailer = Arc::new(CapturingMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let rep = app
        .user(
            "wang.fang@example.cn",
            json!({"name": "王芳", "locale": "zh-CN", "time_zone": "Asia/Shanghai"}),
        )
        .await;
    let rep_id = rep.user_id.0.to_string();
    let rep = app.client_for(&rep).await;
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 4,
            lease: Duration::from_secs(300),
            ..Default::default()
        },
    );
    World {
        app,
        clock,
        mailer,
        runner,
        rep,
        rep_id,
    }
}

impl World {
    fn at(&self, hours: i64) -> String {
        (self.clock.now() + chrono::Duration::hours(hours)).to_rfc3339()
    }

    /// A task the admin creates for the rep.
    async fn task(&self, subject: &str, reminder: Json) -> String {
        let t = self
            .app
            .create(
                "task",
                &json!({"subject": subject, "owner_id": self.rep_id, "reminder_at": reminder}),
            )
            .await;
        t["id"].as_str().unwrap().to_owned()
    }

    async fn reminders(&self) -> Vec<Json> {
        let r = self.rep.get("/api/v1/me/notifications").await;
        r.assert_status(200);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "reminder.due")
            .cloned()
            .collect()
    }

    async fn pass(&self, hours: i64) {
        self.clock.advance(chrono::Duration::hours(hours));
        self.runner.run_due().await.unwrap();
    }
}

#[tokio::test]
async fn the_owner_is_reminded_at_the_time_in_the_app_and_by_mail_in_their_language() {
    let w = world().await;
    let id = w.task("回访华远科技", json!(w.at(2))).await;
    w.pass(1).await;
    assert!(w.reminders().await.is_empty(), "not before its time");
    w.pass(1).await;
    let got = w.reminders().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["record_id"], id);
    let mails = w.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "wang.fang@example.cn");
    assert!(
        mails[0].subject.contains("提醒") && mails[0].subject.contains("回访华远科技"),
        "{:?}",
        mails[0]
    );
    // 03:00 UTC is 11:00 in Shanghai
    assert!(
        mails[0].body.contains("2026-12-07 11:00"),
        "{}",
        mails[0].body
    );
    // a link that opens from a mail client: the server's public address in front
    assert!(
        mails[0]
            .body
            .contains(&format!("打开：http://127.0.0.1:8080/o/task/{id}\n")),
        "{}",
        mails[0].body
    );

    // a job run again (a worker died after reminding) reminds no one twice
    let payload = json!({"object": "task", "record_id": id, "at": got[0]["detail"]["at"]});
    assert!(!w.app.core.fire_reminder(&payload).await.unwrap());
    assert_eq!(w.reminders().await.len(), 1);
    assert_eq!(w.mailer.sent().len(), 1);

    // the bell's page names it, in Chinese for this rep
    let web = w
        .app
        .web_as(&w.app.actor_of(&w.rep_id).await, "correct-horse-battery-9")
        .await;
    let page = web.get("/notifications").await;
    page.assert_status(200);
    page.assert_contains("回访华远科技")
        .assert_contains(&format!("/o/task/{id}"));
}

#[tokio::test]
async fn a_moved_cleared_or_completed_reminder_does_not_fire_at_its_old_time() {
    let w = world().await;
    let moved = w.task("moved", json!(w.at(1))).await;
    let cleared = w.task("cleared", json!(w.at(1))).await;
    let done = w.task("done", json!(w.at(1))).await;
    for (id, change) in [
        (&moved, json!({"reminder_at": w.at(3)})),
        (&cleared, json!({"reminder_at": null})),
        (&done, json!({"status": "completed"})),
    ] {
        w.app
            .patch(&format!("/api/v1/records/task/{id}"), &change)
            .await
            .assert_status(200);
    }
    // a meeting reminds like a task, and a cancelled one does not
    let start = w.at(5);
    let mut meetings = Vec::new();
    for subject in ["held", "cancelled"] {
        let m = w
            .app
            .create(
                "meeting",
                &json!({"subject": subject, "owner_id": w.rep_id, "start_at": start,
                        "reminder_at": w.at(3)}),
            )
            .await;
        meetings.push(m["id"].as_str().unwrap().to_owned());
    }
    w.app
        .patch(
            &format!("/api/v1/records/meeting/{}", meetings[1]),
            &json!({"status": "cancelled"}),
        )
        .await
        .assert_status(200);
    w.pass(1).await;
    assert!(w.reminders().await.is_empty());
    w.pass(2).await;
    let got = w.reminders().await;
    let mut reminded: Vec<&str> = got
        .iter()
        .map(|n| n["record_id"].as_str().unwrap())
        .collect();
    reminded.sort_unstable();
    let mut expected = vec![moved.as_str(), meetings[0].as_str()];
    expected.sort_unstable();
    assert_eq!(reminded, expected);
    assert_eq!(w.mailer.sent().len(), 2);
}

#[tokio::test]
async fn a_reminder_already_past_when_set_is_due_at_once_and_imports_set_them_too() {
    let w = world().await;
    w.task("overdue", json!(w.at(-1))).await;
    w.runner.run_due().await.unwrap();
    assert_eq!(w.reminders().await.len(), 1);
    // tasks created in bulk carry their reminders as well (one write path)
    let bulk = w
        .app
        .post(
            "/api/v1/records/task/bulk",
            &json!({"key": "id", "records": [
                {"subject": "bulk 1", "owner_id": w.rep_id, "reminder_at": w.at(1)},
                {"subject": "bulk 2", "owner_id": w.rep_id, "reminder_at": w.at(1)}
            ]}),
        )
        .await;
    assert!(bulk.status < 300, "{}", bulk.text);
    w.pass(1).await;
    assert_eq!(w.reminders().await.len(), 3);
}
