//! Inbound mail through a real IMAP server on loopback (Debian's dovecot, started here with
//! a throwaway configuration): a reply joins its thread on the contact it answers, mail
//! from another contact goes on theirs, a delivery report marks the mail it is about as
//! bounced and suppresses the address, a stranger's mail is left alone, a second sync reads
//! only what is new, and a refused sign-in is kept as the mailbox's error. Skipped when
//! dovecot is not installed, unless `RELATA_IMAP_TESTS=required` (CI installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};

use relata_core::mail::CapturingMailer;
use relata_jobs::{Handlers, Runner, RunnerOptions};
use relata_testkit::{SpawnOptions, TestApp};

const DOVECOT: &str = "/usr/sbin/dovecot";

fn dovecot_installed() -> bool {
    let found = Path::new(DOVECOT).exists();
    assert!(
        found || std::env::var("RELATA_IMAP_TESTS").as_deref() != Ok("required"),
        "RELATA_IMAP_TESTS=required but dovecot is not installed (apt-get install dovecot-imapd)"
    );
    found
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A dovecot serving one user, `crm` (password `secret`), on 127.0.0.1:`port`, its mail in
/// a Maildir under `dir`.
struct Dovecot {
    child: Child,
    maildir: PathBuf,
    owner: (u32, u32),
    delivered: usize,
}

/// A uid and gid of `name` from /etc/passwd.
fn ids_of(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn chown_all(path: &Path, owner: (u32, u32)) {
    let _ = std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            chown_all(&e.path(), owner);
        }
    }
}

impl Dovecot {
    fn start(port: u16, dir: &Path) -> Dovecot {
        let root = nix_uid() == 0;
        // as root, dovecot runs its parts as its own users and the mail as nobody's
        let (internal, login, owner) = if root {
            (
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                ids_of("nobody").unwrap_or((65534, 65534)),
            )
        } else {
            let me = std::env::var("USER").unwrap_or_default();
            (me.clone(), me, (nix_uid(), nix_gid()))
        };
        let home = dir.join("home/crm");
        let maildir = home.join("Maildir");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        std::fs::create_dir_all(dir.join("run")).expect("run dir");
        std::fs::create_dir_all(dir.join("state")).expect("state dir");
        std::fs::write(dir.join("passwd"), "crm:{PLAIN}secret::::::\n").expect("passwd");
        chown_all(&dir.join("home"), owner);
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{d}/home/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
"#,
            d = dir.display(),
            uid = owner.0,
            gid = owner.1,
        );
        let conf_path = dir.join("dovecot.conf");
        std::fs::write(&conf_path, conf).expect("config");
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let mut server = Dovecot {
            child,
            maildir,
            owner,
            delivered: 0,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default();
        let _ = server.child.kill();
        panic!("dovecot did not start listening on {port}: {log}");
    }

    /// Files a message into the inbox, as a delivery agent would.
    fn deliver(&mut self, message: &str) {
        self.delivered += 1;
        let name = format!("1700000000.M{}P1.relata-test", self.delivered);
        let path = self.maildir.join("new").join(name);
        std::fs::write(&path, message.replace('\n', "\r\n")).expect("deliver");
        chown_all(&self.maildir, self.owner);
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nix_uid() -> u32 {
    id_of("-u")
}

fn nix_gid() -> u32 {
    id_of("-g")
}

fn id_of(flag: &str) -> u32 {
    Command::new("id")
        .arg(flag)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn id(v: &Json) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_synced_mailbox_threads_replies_attaches_mail_and_records_bounces() {
    if !dovecot_installed() {
        eprintln!("skipped: dovecot is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut imap = Dovecot::start(port, dir.path());

    let mailer = Arc::new(CapturingMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let account = app.create("account", &json!({"name": "Acme 中国"})).await;
    let li = app
        .create(
            "contact",
            &json!({"name": "Li Lei", "email": "li.lei@acme.cn", "account_id": id(&account)}),
        )
        .await;
    let han = app
        .create(
            "contact",
            &json!({"name": "韩梅梅", "email": "han@acme.cn"}),
        )
        .await;
    let gone = app
        .create("contact", &json!({"name": "Gone", "email": "gone@acme.cn"}))
        .await;
    let send = |contact: String| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/api/v1/emails",
                    &json!({"object": "contact", "record_id": contact, "subject": "Quote", "body_text": "Our quote."}),
                )
                .await;
            r.assert_status(202);
            r.body
        }
    };
    let to_li = send(id(&li)).await;
    let to_gone = send(id(&gone)).await;
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    runner.run_due().await.unwrap();
    assert_eq!(mailer.sent().len(), 2);

    let li_id = to_li["message_id"].as_str().unwrap();
    let gone_id = to_gone["message_id"].as_str().unwrap();
    // the replies come after what they answer, whatever day the test runs (a fixed date
    // put them before it once that day came)
    let later = |hours: i64| (app.core.clock.now() + chrono::Duration::hours(hours)).to_rfc2822();
    let (reply_date, han_date) = (later(1), later(2));
    imap.deliver(&format!(
        "From: Li Lei <li.lei@acme.cn>\nTo: admin@relata.local\nSubject: Re: Quote\nMessage-ID: <reply-1@acme.cn>\nIn-Reply-To: {li_id}\nReferences: {li_id}\nDate: {reply_date}\n\nThanks, we accept the quote.\n"
    ));
    imap.deliver(&format!(
        "From: =?utf-8?b?6Z+p5qKF5qKF?= <Han@Acme.cn>\nTo: admin@relata.local\nSubject: =?utf-8?b?6K+i5Lu3?=\nMessage-ID: <new-1@acme.cn>\nDate: {han_date}\nContent-Type: text/html; charset=utf-8\n\n<p>Please send a price list.</p>\n",
    ));
    imap.deliver(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.cn>\nTo: relata@localhost\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn-1@mx.acme.cn>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nDelivery failed.\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.acme.cn\n\nFinal-Recipient: rfc822; gone@acme.cn\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n--B\nContent-Type: text/rfc822-headers\n\nTo: gone@acme.cn\nSubject: Quote\nMessage-ID: {gone_id}\n\n--B--\n"
    ));
    imap.deliver(
        "From: someone@elsewhere.org\nTo: admin@relata.local\nSubject: Lunch?\nMessage-ID: <private-1@elsewhere.org>\n\nPrivate.\n",
    );

    let mailbox = app
        .post(
            "/api/v1/mailboxes",
            &json!({"name": "Inbox", "url": format!("imap://crm@127.0.0.1:{port}"), "password": "secret"}),
        )
        .await;
    mailbox.assert_status(201);
    assert!(mailbox.body.get("password").is_none(), "{}", mailbox.text);
    let mailbox_id = id(&mailbox.body);
    let synced = app
        .post(&format!("/api/v1/mailboxes/{mailbox_id}/sync"), &json!({}))
        .await;
    synced.assert_status(200);
    assert_eq!(
        synced.body,
        json!({"fetched": 4, "attached": 2, "bounces": 1, "known": 0, "unmatched": 1})
    );

    // the reply is in the thread of the mail it answers, on Li Lei and on his account
    let li_mail = app
        .get(&format!("/api/v1/records/contact/{}/emails", id(&li)))
        .await;
    let list = li_mail.body["data"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", li_mail.text);
    let reply = &list[0];
    assert_eq!(reply["direction"], "in");
    assert_eq!(reply["subject"], "Re: Quote");
    assert_eq!(reply["thread_id"], to_li["thread_id"]);
    assert_eq!(reply["in_reply_to"], li_id);
    assert!(reply["body_text"].as_str().unwrap().contains("we accept"));
    let on_account = app
        .get(&format!(
            "/api/v1/records/account/{}/timeline?kinds=email",
            id(&account)
        ))
        .await;
    assert_eq!(
        on_account.body["data"].as_array().unwrap().len(),
        2,
        "{}",
        on_account.text
    );
    // new mail from another contact, matched by address whatever its case
    let han_mail = app
        .get(&format!("/api/v1/records/contact/{}/emails", id(&han)))
        .await;
    let han_list = han_mail.body["data"].as_array().unwrap();
    assert_eq!(han_list.len(), 1, "{}", han_mail.text);
    assert_eq!(han_list[0]["subject"], "询价");
    assert_eq!(han_list[0]["body_text"], "Please send a price list.");
    // the bounce
    let bounced = app
        .get(&format!(
            "/api/v1/emails/{}",
            to_gone["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(bounced.body["status"], "bounced");
    assert!(
        bounced.body["bounce_reason"]
            .as_str()
            .unwrap()
            .starts_with("5.1.1"),
        "{}",
        bounced.text
    );
    let suppressed = app.get("/api/v1/email_suppressions").await;
    assert_eq!(suppressed.body["data"][0]["address"], "gone@acme.cn");
    assert_eq!(suppressed.body["data"][0]["reason"], "bounced");

    // the next sync reads only what is new
    let again = app
        .post(&format!("/api/v1/mailboxes/{mailbox_id}/sync"), &json!({}))
        .await;
    assert_eq!(again.body["fetched"], 0, "{}", again.text);
    imap.deliver(
        "From: li.lei@acme.cn\nTo: admin@relata.local\nSubject: Re: Re: Quote\nMessage-ID: <reply-2@acme.cn>\nIn-Reply-To: <reply-1@acme.cn>\n\nOne more thing.\n",
    );
    let third = app
        .post(&format!("/api/v1/mailboxes/{mailbox_id}/sync"), &json!({}))
        .await;
    assert_eq!(
        (
            third.body["fetched"].as_i64(),
            third.body["attached"].as_i64()
        ),
        (Some(1), Some(1)),
        "{}",
        third.text
    );
    let li_mail = app
        .get(&format!("/api/v1/records/contact/{}/emails", id(&li)))
        .await;
    assert_eq!(li_mail.body["data"][0]["thread_id"], to_li["thread_id"]);

    // a refused sign-in is an error on the mailbox, not a lost sync
    let wrong = app
        .post(
            "/api/v1/mailboxes",
            &json!({"name": "Wrong", "url": format!("imap://crm@127.0.0.1:{port}"), "password": "nope"}),
        )
        .await;
    let wrong_id = id(&wrong.body);
    app.post(&format!("/api/v1/mailboxes/{wrong_id}/sync"), &json!({}))
        .await
        .assert_status(503);
    let listed = app.get("/api/v1/mailboxes").await;
    let w = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == wrong_id.as_str())
        .unwrap()
        .clone();
    assert!(w["last_error"].as_str().unwrap().contains("sign-in"), "{w}");
}
