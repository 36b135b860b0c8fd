//! Mail through a real SMTP server on loopback (Debian's python3-aiosmtpd, started here):
//! a reminder's mail queued while the server is down is retried, not lost, and arrives once
//! the server is up. Skipped when aiosmtpd is not installed, unless
//! `RELATA_SMTP_TESTS=required` (CI installs it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{TimeZone, Utc};
use serde_json::json;

use relata_core::jobs::{JobQuery, JobStatus};
use relata_core::mail::SmtpMailer;
use relata_domain::{Clock, ManualClock};
use relata_jobs::{Handlers, Runner, RunnerOptions};
use relata_testkit::{SpawnOptions, TestApp};

const PYTHON: &str = "/usr/bin/python3";

fn aiosmtpd_installed() -> bool {
    let found = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var("RELATA_SMTP_TESTS").as_deref() != Ok("required"),
        "RELATA_SMTP_TESTS=required but aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
    );
    found
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// An SMTP sink on `port` that files every message into the Maildir `dir`.
struct Sink(Child);

impl Sink {
    fn start(port: u16, dir: &std::path::Path) -> Sink {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).expect("maildir");
        }
        let mut sink = Sink(
            Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start aiosmtpd"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = sink.0.kill();
        panic!("aiosmtpd did not start listening on {port}");
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The messages in the Maildir, bodies decoded when they are base64.
fn delivered(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
            let mut text = raw.clone();
            if raw.contains("Content-Transfer-Encoding: base64")
                && let Some((_, body)) = raw.split_once("\r\n\r\n").or(raw.split_once("\n\n"))
            {
                let joined: String = body.split_whitespace().collect();
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            out.push(text);
        }
    }
    out
}

#[tokio::test]
async fn a_mail_queued_while_the_server_is_down_is_retried_and_arrives_once() {
    if !aiosmtpd_installed() {
        eprintln!("skipped: aiosmtpd is not installed");
        return;
    }
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(),
    ));
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let port = free_port();
    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Relata CRM <crm@example.com>",
    )
    .unwrap();
    app.core.set_mailer(Arc::new(mailer));
    let rep = app
        .user(
            "ann.lee@example.com",
            json!({"name": "Ann Lee", "time_zone": "Europe/London"}),
        )
        .await;
    let task = app
        .create(
            "task",
            &json!({"subject": "Call Acme", "owner_id": rep.user_id.0.to_string(),
                "reminder_at": (clock.now() + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    clock.advance(chrono::Duration::hours(1));
    runner.run_due().await.unwrap();
    // reminded in the app; the mail failed its first try, and waits for the next
    let admin = app.admin().await;
    let mails = |status| {
        let core = app.core.clone();
        let admin = admin.clone();
        async move {
            core.list_jobs(
                &admin,
                JobQuery {
                    status: Some(status),
                    kind: Some("email.send".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let waiting = mails(JobStatus::Queued).await;
    assert_eq!(waiting.len(), 1, "the mail is queued, not lost");
    assert_eq!(waiting[0].attempts, 1);
    assert!(waiting[0].last_error.is_some());

    let dir = tempfile::tempdir().unwrap();
    let _sink = Sink::start(port, dir.path());
    clock.advance(chrono::Duration::minutes(1));
    runner.run_due().await.unwrap();
    let sent = mails(JobStatus::Done).await;
    assert_eq!(sent.len(), 1, "{:?}", mails(JobStatus::Queued).await);
    let got = delivered(dir.path());
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert!(message.contains("ann.lee@example.com"), "{message}");
    assert!(message.contains("crm@example.com"), "{message}");
    assert!(message.contains("Message-ID: <"), "{message}");
    let id = task["id"].as_str().unwrap();
    assert!(message.contains(&format!("/o/task/{id}")), "{message}");
    // 02:00 UTC in London's winter is 02:00 GMT
    assert!(message.contains("2026-12-07 02:00 GMT"), "{message}");

    // nothing more to send
    clock.advance(chrono::Duration::hours(1));
    runner.run_due().await.unwrap();
    assert_eq!(delivered(dir.path()).len(), 1);
}

#[tokio::test]
async fn a_template_mail_arrives_as_text_html_and_attachment_with_its_headers() {
    if !aiosmtpd_installed() {
        eprintln!("skipped: aiosmtpd is not installed");
        return;
    }
    let app = TestApp::spawn().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let _sink = Sink::start(port, dir.path());
    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Relata CRM <crm@example.com>",
    )
    .unwrap();
    app.core.set_mailer(Arc::new(mailer));
    let contact = app
        .create(
            "contact",
            &json!({"name": "韩梅梅", "email": "han.meimei@example.cn"}),
        )
        .await;
    let id = contact["id"].as_str().unwrap();
    let file = app
        .client
        .send_raw(
            reqwest::Method::POST,
            &format!("/api/v1/records/contact/{id}/attachments?file_name=quote.txt"),
            "text/plain",
            b"Quote Q-1: 100 units".to_vec(),
        )
        .await;
    file.assert_status(201);
    let sent = app
        .post(
            "/api/v1/emails",
            &json!({
                "object": "contact", "record_id": id,
                "subject": "报价 / Quote for {{ record.name }}",
                "body_html": "<p>您好 {{ record.name }}</p><p><a href=\"https://example.cn/q\">Quote</a></p>",
                "attachment_ids": [file.body["id"]]
            }),
        )
        .await;
    sent.assert_status(202);
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    runner.run_due().await.unwrap();
    let got = delivered(dir.path());
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        app.get(&format!(
            "/api/v1/emails/{}",
            sent.body["id"].as_str().unwrap()
        ))
        .await
        .text
    );
    let raw = &got[0];
    for part in [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "quote.txt",
        "List-Unsubscribe: <",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "han.meimei@example.cn",
        // no sender identity: the installation's address under the user's name, and
        // replies to the user
        "From: Administrator <",
        "Reply-To: admin@relata.local",
    ] {
        assert!(raw.contains(part), "no {part} in {raw}");
    }
    let mail = app
        .get(&format!(
            "/api/v1/emails/{}",
            sent.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(mail.body["status"], "sent", "{}", mail.text);
    // a body written in the request is not tracked (the tracker redirects only to links an
    // administrator's template had)
    let html = mail.body["body_html"].as_str().unwrap();
    assert!(
        html.contains("href=\"https://example.cn/q\"") && !html.contains("/o.gif"),
        "{html}"
    );
    // the text part was made from the HTML one
    assert!(
        mail.body["body_text"]
            .as_str()
            .unwrap()
            .starts_with("您好 韩梅梅"),
        "{}",
        mail.text
    );
}
