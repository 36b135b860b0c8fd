//! Email about records (issue 8): templates merged with the record and its parents,
//! checked when saved; sender identities; mail queued with its change and delivered by the
//! job queue (retried while the server fails); open and click tracking; the unsubscribe
//! link and the suppression list; opt-out honoured by the API and by workflow rules; every
//! mail on its record's and its account's timeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_core::mail::{CapturingMailer, Mail, Mailer};
use relata_domain::{Clock, ManualClock};
use relata_jobs::{Handlers, Runner, RunnerOptions};
use relata_testkit::{SpawnOptions, TestApp};

/// Fails its first `failures` sends, then keeps what it is asked to send.
#[derive(Default)]
struct FlakyMailer {
    failures: AtomicUsize,
    inner: CapturingMailer,
}

impl Mailer for FlakyMailer {
    fn send(&self, mail: Mail) -> Result<(), String> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("421 service not available".into());
        }
        self.inner.send(mail)
    }
}

struct World {
    app: TestApp,
    clock: Arc<ManualClock>,
    mailer: Arc<FlakyMailer>,
    runner: Arc<Runner>,
    account: String,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(),
    ));
    let mailer = Arc::new(FlakyMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 4,
            lease: Duration::from_secs(300),
            ..Default::default()
        },
    );
    let account = app
        .create("account", &json!({"name": "上海华东贸易有限公司"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        app,
        clock,
        mailer,
        runner,
        account,
    }
}

impl World {
    async fn contact(&self, name: &str, email: &str, extra: Json) -> String {
        let mut body = json!({"name": name, "email": email, "account_id": self.account});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.app.create("contact", &body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn template(&self, body: Json) -> String {
        let r = self.app.post("/api/v1/email_templates", &body).await;
        r.assert_status(201);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn send(&self, contact: &str, template: &str) -> Json {
        let r = self
            .app
            .post(
                "/api/v1/emails",
                &json!({"object": "contact", "record_id": contact, "template_id": template}),
            )
            .await;
        r.assert_status(202);
        r.body
    }

    async fn email(&self, id: &str) -> Json {
        let r = self.app.get(&format!("/api/v1/emails/{id}")).await;
        r.assert_status(200);
        r.body
    }

    fn sent(&self) -> Vec<Mail> {
        self.mailer.inner.sent()
    }
}

fn welcome() -> Json {
    json!({
        "name": "Welcome",
        "object": "contact",
        "subject": "Hello {{ record.name }}",
        "body_text": "Dear {{ record.name }} of {{ record.account_id.name }},\n\n{{ sender.signature }}",
        "body_html": "<html><body><p>Dear {{ record.name }} &amp; team of {{ record.account_id.name }}</p><a href=\"https://example.com/offer?a=1&amp;b=2\">Offer</a></body></html>"
    })
}

/// The token in one of a mail's Relata addresses.
fn token_of(text: &str) -> String {
    let at = text.find("/m/").expect("a Relata address in the mail") + 3;
    text[at..].split('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_template_is_merged_sent_tracked_and_on_both_timelines() {
    let w = world().await;
    let contact = w
        .contact("Li Lei <李雷>", "Li.Lei@Example.com", json!({}))
        .await;
    let template = w.template(welcome()).await;
    let identity = w
        .app
        .post(
            "/api/v1/me/email_identities",
            &json!({"name": "Relata Admin (Sales)", "address": "admin@relata.local", "signature": "— Sales team / 销售部"}),
        )
        .await;
    identity.assert_status(201);
    assert_eq!(identity.body["is_default"], true, "{}", identity.text);

    let preview = w
        .app
        .post(
            "/api/v1/emails/preview",
            &json!({"object": "contact", "record_id": contact, "template_id": template}),
        )
        .await;
    preview.assert_status(200);
    assert_eq!(preview.body["subject"], "Hello Li Lei <李雷>");
    assert!(w.sent().is_empty(), "a preview sends nothing");

    let queued = w.send(&contact, &template).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["to_address"], "li.lei@example.com");
    w.runner.run_due().await.unwrap();
    let sent = w.sent();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert_eq!(mail.to, "li.lei@example.com");
    assert_eq!(mail.subject, "Hello Li Lei <李雷>");
    assert_eq!(
        mail.from.as_deref(),
        Some("\"Relata Admin (Sales)\" <admin@relata.local>")
    );
    assert!(
        mail.body
            .starts_with("Dear Li Lei <李雷> of 上海华东贸易有限公司,\n\n— Sales team / 销售部"),
        "{}",
        mail.body
    );
    let html = mail.html.clone().unwrap();
    assert!(
        html.contains("Dear Li Lei &lt;李雷&gt; &amp; team of 上海华东贸易有限公司"),
        "merge fields are escaped in HTML: {html}"
    );
    assert!(
        !html.contains("example.com/offer"),
        "links are tracked: {html}"
    );
    assert!(html.contains("/c/0\""), "{html}");
    assert!(html.contains("/o.gif\""), "{html}");
    assert!(mail.body.contains("/unsubscribe"), "{}", mail.body);
    assert!(mail.unsubscribe_url.is_some());
    let id = queued["id"].as_str().unwrap();
    let stored = w.email(id).await;
    assert_eq!(stored["status"], "sent");
    assert_eq!(stored["open_count"], 0);

    // opens and clicks
    let token = token_of(&html);
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pixel = anon
        .get(format!("{}/m/{token}/o.gif", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(pixel.status(), 200);
    assert_eq!(pixel.headers()["content-type"], "image/gif");
    let click = anon
        .get(format!("{}/m/{token}/c/0", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(click.status(), 302);
    assert_eq!(
        click.headers()["location"],
        "https://example.com/offer?a=1&b=2"
    );
    let unknown = anon
        .get(format!("{}/m/{token}/c/7", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404, "only the mail's own links redirect");
    let stored = w.email(id).await;
    assert_eq!(
        (
            stored["open_count"].as_i64(),
            stored["click_count"].as_i64()
        ),
        (Some(1), Some(1))
    );

    // on the contact's timeline and on its account's
    for (object, record) in [
        ("contact", contact.as_str()),
        ("account", w.account.as_str()),
    ] {
        let t = w
            .app
            .get(&format!(
                "/api/v1/records/{object}/{record}/timeline?kinds=email"
            ))
            .await;
        t.assert_status(200);
        let items: Vec<&Json> = t.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "email")
            .collect();
        assert_eq!(items.len(), 1, "{object}: {}", t.text);
        assert_eq!(items[0]["title"], "Hello Li Lei <李雷>");
        let listed = w
            .app
            .get(&format!("/api/v1/records/{object}/{record}/emails"))
            .await;
        assert_eq!(
            listed.body["data"].as_array().unwrap().len(),
            1,
            "{}",
            listed.text
        );
    }
}

#[tokio::test]
async fn bad_templates_are_refused_with_the_part_and_the_field() {
    let w = world().await;
    let r = w
        .app
        .post(
            "/api/v1/email_templates",
            &json!({
                "name": "Bad",
                "object": "contact",
                "subject": "Hi {{ record.nmae }}",
                "body_text": "ok",
                "body_html": "<p>{% if record.name %}unclosed</p>"
            }),
        )
        .await;
    r.assert_status(422);
    let errors: Vec<String> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("subject: unknown merge field record.nmae")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("body_html: syntax error")),
        "{errors:?}"
    );

    // a rule that would send a template that is not there is refused too
    let rule = w
        .app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": "Mail", "object": "contact", "definition": {
                "trigger": {"type": "created"},
                "steps": [{"type": "send_email", "template_id": "0190a0b0-0000-7000-8000-000000000009", "to": {"address": "not an address"}}]
            }}),
        )
        .await;
    rule.assert_status(422);
    let fields: Vec<&str> = rule.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["steps[0].template_id", "steps[0].to.address"],
        "{}",
        rule.text
    );

    // a user may send only as themselves
    let rep = w.app.user("rep@example.cn", json!({"name": "Rep"})).await;
    let rep = w.app.client_for(&rep).await;
    let spoof = rep
        .post(
            "/api/v1/me/email_identities",
            &json!({"name": "CEO", "address": "ceo@example.cn"}),
        )
        .await;
    spoof.assert_status(422);
    assert_eq!(spoof.error_fields(), ["address"]);
}

#[tokio::test]
async fn opt_out_and_unsubscribe_are_honoured_by_every_path() {
    let w = world().await;
    let template = w.template(welcome()).await;
    let a = w.contact("Alice", "alice@example.com", json!({})).await;
    let mail = w.send(&a, &template).await;
    w.runner.run_due().await.unwrap();
    let token = mail["id"]
        .as_str()
        .map(|_| token_of(&w.sent()[0].body))
        .unwrap();

    // the unsubscribe page, then the one-click unsubscribe
    let anon = reqwest::Client::new();
    let page = anon
        .get(format!("{}/m/{token}/unsubscribe", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("al***@example.com") && text.contains("退订"),
        "{text}"
    );
    let done = anon
        .post(format!("{}/m/{token}/unsubscribe", w.app.base))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let alice = w.app.get(&format!("/api/v1/records/contact/{a}")).await;
    assert_eq!(alice.body["email_opt_out"], true, "{}", alice.text);
    let list = w.app.get("/api/v1/email_suppressions").await;
    assert_eq!(list.body["data"][0]["address"], "alice@example.com");
    assert_eq!(list.body["data"][0]["reason"], "unsubscribed");

    // sending again is refused; so is mail to someone who opted out by hand, or to another
    // record with a suppressed address
    let again = w
        .app
        .post(
            "/api/v1/emails",
            &json!({"object": "contact", "record_id": a, "template_id": template}),
        )
        .await;
    again.assert_problem(409, "email_suppressed");
    let b = w
        .contact("Bob", "bob@example.com", json!({"email_opt_out": true}))
        .await;
    let to_b = w
        .app
        .post(
            "/api/v1/emails",
            &json!({"object": "contact", "record_id": b, "template_id": template}),
        )
        .await;
    to_b.assert_problem(409, "email_suppressed");
    let via_account = w
        .app
        .post(
            "/api/v1/emails",
            &json!({"object": "account", "record_id": w.account, "to": "BOB@example.com", "subject": "Hi", "body_text": "x"}),
        )
        .await;
    via_account.assert_problem(409, "email_suppressed");

    // a mail queued before its address was suppressed is stopped at delivery
    let c = w.contact("Carol", "carol@example.com", json!({})).await;
    let queued = w.send(&c, &template).await;
    w.app
        .post(
            "/api/v1/email_suppressions",
            &json!({"address": "Carol@Example.com", "note": "asked by phone"}),
        )
        .await
        .assert_status(204);
    w.runner.run_due().await.unwrap();
    let stopped = w.email(queued["id"].as_str().unwrap()).await;
    assert_eq!(stopped["status"], "suppressed", "{stopped}");
    assert_eq!(w.sent().len(), 1, "only Alice's first mail went out");

    // a rule's mail: sent once to whoever may get it, skipped (not failed) for the rest
    let rule = w
        .app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": "Welcome mail", "object": "contact", "definition": {
                "trigger": {"type": "created"},
                "steps": [
                    {"type": "send_email", "template_id": template},
                    {"type": "update_fields", "set": {"title": "welcomed"}}
                ]
            }}),
        )
        .await;
    rule.assert_status(201);
    let d = w.contact("Dan", "dan@example.com", json!({})).await;
    let e = w
        .contact("Eve", "eve@example.com", json!({"email_opt_out": true}))
        .await;
    w.runner.run_due().await.unwrap();
    w.runner.run_due().await.unwrap();
    let to_dan: Vec<Mail> = w
        .sent()
        .into_iter()
        .filter(|m| m.to == "dan@example.com")
        .collect();
    assert_eq!(to_dan.len(), 1);
    assert!(!w.sent().iter().any(|m| m.to == "eve@example.com"));
    for id in [&d, &e] {
        let r = w.app.get(&format!("/api/v1/records/contact/{id}")).await;
        assert_eq!(r.body["title"], "welcomed", "the run went on: {}", r.text);
    }
    let runs = w
        .app
        .get(&format!("/api/v1/workflow_runs?record_id={e}"))
        .await;
    let log = runs.body["data"][0]["log"].to_string();
    assert!(log.contains("opted out"), "{log}");
}

#[tokio::test]
async fn a_failing_mail_server_delays_mail_and_loses_none() {
    let w = world().await;
    w.mailer.failures.store(2, Ordering::SeqCst);
    let template = w.template(welcome()).await;
    let f = w.contact("Fay", "fay@example.com", json!({})).await;
    let queued = w.send(&f, &template).await;
    let id = queued["id"].as_str().unwrap();
    w.runner.run_due().await.unwrap();
    let waiting = w.email(id).await;
    assert_eq!(waiting["status"], "queued");
    assert!(
        waiting["error"].as_str().unwrap().contains("421"),
        "{waiting}"
    );
    for _ in 0..4 {
        w.clock.advance(chrono::Duration::minutes(30));
        w.runner.run_due().await.unwrap();
    }
    let sent = w.email(id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(w.sent().len(), 1);
    assert!(w.clock.now() > Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap());
}

#[tokio::test]
async fn an_account_shows_only_the_mail_of_records_the_reader_may_see() {
    let w = world().await;
    let rep = w.app.user("rep@example.cn", json!({"name": "Rep"})).await;
    let rep_id = rep.user_id.0.to_string();
    let rep_client = w.app.client_for(&rep).await;
    let account = w
        .app
        .create("account", &json!({"name": "华远科技", "owner_id": rep_id}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = |name: &str, email: &str, owner: Option<&str>| {
        let mut body = json!({"name": name, "email": email, "account_id": account});
        if let Some(o) = owner {
            body["owner_id"] = json!(o);
        }
        body
    };
    // the admin's own contact on the rep's account: private, not the rep's to see
    let hidden = w
        .app
        .create("contact", &contact("Secret", "secret@example.com", None))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = w
        .app
        .create(
            "contact",
            &contact("Mine", "mine@example.com", Some(&rep_id)),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let template = w.template(welcome()).await;
    let secret_mail = w.send(&hidden, &template).await;
    w.send(&mine, &template).await;

    let subjects = |body: &Json, key: &str| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| key != "title" || i["kind"] == "email")
            .map(|i| i[key].as_str().unwrap().to_owned())
            .collect()
    };
    let admin_list = w
        .app
        .get(&format!("/api/v1/records/account/{account}/emails"))
        .await;
    assert_eq!(subjects(&admin_list.body, "subject").len(), 2);
    let rep_list = rep_client
        .get(&format!("/api/v1/records/account/{account}/emails"))
        .await;
    rep_list.assert_status(200);
    assert_eq!(
        subjects(&rep_list.body, "subject"),
        ["Hello Mine"],
        "{}",
        rep_list.text
    );
    let rep_timeline = rep_client
        .get(&format!(
            "/api/v1/records/account/{account}/timeline?kinds=email"
        ))
        .await;
    rep_timeline.assert_status(200);
    assert_eq!(
        subjects(&rep_timeline.body, "title"),
        ["Hello Mine"],
        "{}",
        rep_timeline.text
    );
    rep_client
        .get(&format!(
            "/api/v1/emails/{}",
            secret_mail["id"].as_str().unwrap()
        ))
        .await
        .assert_status(404);
}
