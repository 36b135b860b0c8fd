//! `kill -9` of a server in the middle of its background jobs (issue 8): after a restart,
//! every job completes exactly once in effect —
//! - every mail is delivered, each with the Message-ID it was given when queued, so a mail
//!   the crash made go twice is the same mail twice (receivers drop the repeat), and a request
//!   repeated with its Idempotency-Key makes no second mail;
//! - every webhook event is delivered at least once, a repeat carrying the same delivery id.
//!
//! Mail goes through a real SMTP server on loopback (Debian's python3-aiosmtpd, started here;
//! the test is skipped without it unless `RELATA_SMTP_TESTS=required`). On SQLite, and on
//! PostgreSQL when `RELATA_TEST_POSTGRES_URL` is set.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::common::hooks::{call, slow_receiver, wait_until};
use crate::common::server::{Server, read_response};
use crate::common::{TestDb, open_store, postgres_url, relata, run_ok, sqlite_url, stdout};

const PYTHON: &str = "/usr/bin/python3";
const CONTACTS: usize = 120;

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

/// An SMTP sink filing every message into a Maildir; stopped when dropped.
struct Sink(Child);

impl Sink {
    fn start(port: u16, dir: &Path) -> Sink {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let sink = Sink(
            Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until("aiosmtpd to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        sink
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Message-ID of every mail in the Maildir, one entry per delivered copy.
fn message_ids(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let text =
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned();
            let id = text
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("message-id")
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_default();
            out.push(id);
        }
    }
    out
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `POST /api/v1/emails` with an Idempotency-Key; answers the status.
fn send_mail(server: &Server, token: &str, key: &str, contact: &str) -> u16 {
    let body = json!({"object": "contact", "record_id": contact,
        "subject": "报价跟进 · Following up", "body_text": "您好，附上报价。"})
    .to_string();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /api/v1/emails HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut stream).0
}

fn crash_and_recover(url: &str, dir: &Path) {
    let maildir = dir.join("mail");
    let port = free_port();
    let _sink = Sink::start(port, &maildir);
    // a worker that dies holds its jobs for the lease: two seconds here
    std::fs::write(
        dir.join("relata.toml"),
        format!(
            "smtp_url = \"smtp://127.0.0.1:{port}\"\nmail_from = \"Relata <crm@example.com>\"\njob_lease_secs = 2\n"
        ),
    )
    .unwrap();
    let token = stdout(&run_ok(relata(dir).args([
        "--database-url",
        url,
        "token",
        "create",
    ])))
    .trim()
    .to_owned();
    let (hook_url, received) = slow_receiver(Duration::from_millis(50));
    let server = Server::start(dir, url, &[]);
    call(
        &server,
        &token,
        "POST",
        "/api/v1/webhooks",
        &json!({"name": "ERP", "url": hook_url, "object": "contact", "events": ["created"]}),
        201,
    );
    let mut contacts = Vec::new();
    for n in 0..CONTACTS {
        let c = call(
            &server,
            &token,
            "POST",
            "/api/v1/records/contact",
            &json!({"name": format!("联系人 {n}"), "email": format!("c{n}@example.com")}),
            201,
        );
        contacts.push(c["id"].as_str().unwrap().to_owned());
    }
    for (n, c) in contacts.iter().enumerate() {
        assert_eq!(send_mail(&server, &token, &format!("mail-{n}"), c), 202);
    }

    // kill -9 while mail and deliveries are under way
    wait_until("the first deliveries", || {
        !message_ids(&maildir).is_empty() && !received.lock().unwrap().is_empty()
    });
    server.signal("KILL");
    let (clean, _) = server.wait();
    assert!(!clean, "killed, not stopped");
    let mid_mail = message_ids(&maildir).len();
    let mid_hooks = received.lock().unwrap().len();

    // restarted, it finishes the work; the same requests again make nothing new
    let server = Server::start(dir, url, &[]);
    for (n, c) in contacts.iter().enumerate().take(10) {
        assert_eq!(send_mail(&server, &token, &format!("mail-{n}"), c), 202);
    }
    wait_until("every mail and delivery", || {
        let page = call(
            &server,
            &token,
            "GET",
            "/api/v1/jobs?limit=1",
            &Json::Null,
            200,
        );
        let counts = &page["counts"];
        let busy = counts["queued"].as_i64().unwrap_or(0) + counts["running"].as_i64().unwrap_or(0);
        busy == 0
            && message_ids(&maildir).len() >= CONTACTS
            && received.lock().unwrap().len() >= CONTACTS
    });
    std::thread::sleep(Duration::from_secs(1));

    let ids = message_ids(&maildir);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    eprintln!(
        "mail: {mid_mail} of {CONTACTS} delivered before the kill, {} copies in all; webhooks: {mid_hooks} before, {} in all",
        ids.len(),
        received.lock().unwrap().len()
    );
    assert!(
        ids.iter().all(|i| !i.is_empty()),
        "every mail has a Message-ID"
    );
    assert_eq!(
        distinct.len(),
        CONTACTS,
        "one mail per request ({} copies delivered; {mid_mail} before the kill)",
        ids.len()
    );
    let store = open_store(url);
    let queued: BTreeSet<String> = store
        .read_blocking(|c| c.query("SELECT message_id FROM sys_emails", &[]))
        .unwrap()
        .iter()
        .filter_map(|r| r.first()?.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        queued.len(),
        CONTACTS,
        "one mail stored per Idempotency-Key"
    );
    assert!(
        distinct.iter().all(|i| queued.contains(*i)),
        "each delivered copy is a mail as it was queued"
    );

    let got = received.lock().unwrap().clone();
    let mut per_id: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (delivery, body) in &got {
        per_id
            .entry(delivery.as_str())
            .or_default()
            .insert(body["record_id"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        per_id.values().all(|records| records.len() == 1),
        "a repeated delivery keeps its id and carries the same event"
    );
    let records: BTreeSet<String> = per_id.into_values().flatten().collect();
    assert_eq!(
        records.len(),
        CONTACTS,
        "every event delivered ({} deliveries; {mid_hooks} before the kill)",
        got.len()
    );
}

#[test]
fn a_killed_server_finishes_its_mail_and_webhooks_once_in_effect_on_sqlite() {
    if !aiosmtpd_installed() {
        eprintln!("skipped: needs python3-aiosmtpd");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "crash.db");
    crash_and_recover(&url, dir.path());
}

#[test]
fn a_killed_server_finishes_its_mail_and_webhooks_once_in_effect_on_postgres() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("skipped: needs RELATA_TEST_POSTGRES_URL");
        return;
    };
    if !aiosmtpd_installed() {
        eprintln!("skipped: needs python3-aiosmtpd");
        return;
    }
    let db = TestDb::fresh_postgres(&admin_url);
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(&db.url, dir.path());
}
