//! Web-to-lead forms (issue 9): a visitor's submission becomes a lead with its campaign
//! parameters, assigned by the form's rule, answered by the auto-response and handed to the
//! rules started by submissions; robots are answered like people and write nothing; bad
//! answers name their field; a burst from one address is cut off; forms are built with
//! every problem named.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_core::mail::{CapturingMailer, Mailer};
use relata_domain::ManualClock;
use relata_jobs::{Handlers, Runner, RunnerOptions};
use relata_testkit::{Resp, SpawnOptions, TestApp};

use crate::common;

struct World {
    app: TestApp,
    clock: Arc<ManualClock>,
    mailer: Arc<CapturingMailer>,
    runner: Arc<Runner>,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 2, 0, 0).unwrap(),
    ));
    let mailer = Arc::new(CapturingMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        mailer: Some(mailer.clone() as Arc<dyn Mailer>),
        ..Default::default()
    })
    .await;
    let runner = Runner::new(
        app.core.clone(),
        Handlers::standard(),
        RunnerOptions {
            concurrency: 2,
            lease: Duration::from_secs(300),
            ..Default::default()
        },
    );
    World {
        app,
        clock,
        mailer,
        runner,
    }
}

impl World {
    async fn form(&self, definition: Json) -> Json {
        let r = self
            .app
            .post(
                "/api/v1/web_forms",
                &json!({"name": "Contact us", "object": "lead", "definition": definition}),
            )
            .await;
        r.assert_status(201);
        r.body.clone()
    }

    /// The form as a visitor's page gets it, then `wait` seconds of typing.
    async fn open(&self, key: &str, wait: i64) -> String {
        let r = self
            .app
            .anonymous()
            .get(&format!("/api/v1/public/forms/{key}"))
            .await;
        r.assert_status(200);
        self.clock.advance(chrono::Duration::seconds(wait));
        r.body["token"].as_str().unwrap().to_owned()
    }

    async fn submit(&self, key: &str, body: &Json) -> Resp {
        self.app
            .anonymous()
            .post(&format!("/api/v1/public/forms/{key}"), body)
            .await
    }

    /// The form's submissions that became records, and those taken for spam.
    async fn counts(&self, form: &Json) -> (Option<i64>, Option<i64>) {
        let id = form["id"].as_str().unwrap();
        let r = self.app.get(&format!("/api/v1/web_forms/{id}")).await;
        (r.body["created"].as_i64(), r.body["spam"].as_i64())
    }

    async fn leads(&self) -> Vec<Json> {
        let r = self
            .app
            .get("/api/v1/records/lead?sort=created_at&limit=100")
            .await;
        r.assert_status(200);
        r.body["data"].as_array().unwrap().clone()
    }
}

/// The fields a 422 names, in its order.
fn error_fields(r: &Resp) -> Vec<&str> {
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

fn key_of(form: &Json) -> String {
    form["public_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_submission_becomes_an_assigned_lead_with_its_campaign_an_auto_response_and_its_rules() {
    let w = world().await;
    let mut reps = Vec::new();
    for i in 0..2 {
        let rep = w
            .app
            .user(&format!("rep{i}.form@example.com"), json!({}))
            .await;
        reps.push(rep.user_id.0.to_string());
    }
    let rule = w
        .app
        .post(
            "/api/v1/assignment_rules",
            &json!({"name": "Web leads", "object": "lead", "definition": {
                "strategy": "round_robin", "entries": [{"users": reps}]
            }}),
        )
        .await;
    rule.assert_status(201);
    let template = w
        .app
        .post(
            "/api/v1/email_templates",
            &json!({"name": "Thanks", "object": "lead", "subject": "Thank you, {{ record.name }}",
                    "body_text": "We will call {{ record.company }} soon."}),
        )
        .await;
    template.assert_status(201);
    let form = w
        .form(json!({
            "fields": [
                {"field": "name", "label": "Your name", "required": true},
                {"field": "company"},
                {"field": "email", "required": true},
                {"field": "phone"},
                {"field": "rating"}
            ],
            "redirect_url": "https://example.com/thanks",
            "assignment_rule_id": rule.body["id"],
            "auto_response_template_id": template.body["id"]
        }))
        .await;
    let key = key_of(&form);
    assert!(key.starts_with("wf_"), "{form}");
    // a rule started by this form's submissions: a follow-up task for the lead
    let flow = w
        .app
        .post(
            "/api/v1/workflow_rules",
            &json!({"name": "Call web leads", "object": "lead", "definition": {
                "trigger": {"type": "form_submitted", "form_id": form["id"]},
                "condition": "rating eq hot",
                "steps": [{"type": "create_record", "object": "task", "set": {
                    "subject": {"formula": "'Call ' & name"}, "lead_id": {"formula": "id"}
                }}]
            }}),
        )
        .await;
    flow.assert_status(201);

    // the page in Chinese: standard labels translated, the form's own label as written
    let zh = w
        .app
        .anonymous()
        .get(&format!("/api/v1/public/forms/{key}?lang=zh"))
        .await;
    zh.assert_status(200);
    let labels: Vec<&str> = zh.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels[0], "Your name");
    assert_eq!(labels[2], "邮箱");
    assert_eq!(zh.body["fields"][4]["type"], "picklist");

    for (i, (name, rating)) in [("王小明", "热"), ("Jane Doe", "Cold")].iter().enumerate() {
        let token = w.open(&key, 5).await;
        let r = w
            .submit(
                &key,
                &json!({
                    "values": {"name": name, "company": format!("Company {i}"),
                               "email": format!("visitor{i}@example.com"), "phone": "138 0013 8000",
                               "rating": rating},
                    "token": token,
                    "utm": {"utm_source": "baidu", "utm_campaign": "winter-2026", "utm_bogus": "x"}
                }),
            )
            .await;
        r.assert_status(200);
        assert_eq!(
            r.body,
            json!({"redirect_url": "https://example.com/thanks", "thank_you": null})
        );
    }
    let leads = w.leads().await;
    assert_eq!(leads.len(), 2, "{leads:?}");
    assert_eq!(leads[0]["name"], "王小明");
    assert_eq!(
        leads[0]["rating"], "hot",
        "a picklist answered with its Chinese label"
    );
    assert_eq!(leads[0]["phone"], "+8613800138000");
    assert_eq!(
        (
            &leads[0]["source"],
            &leads[0]["utm_source"],
            &leads[0]["utm_campaign"]
        ),
        (&json!("web"), &json!("baidu"), &json!("winter-2026"))
    );
    // round-robin: one lead each
    let owners: Vec<&str> = leads
        .iter()
        .map(|l| l["owner_id"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec![reps[0].as_str(), reps[1].as_str()]);

    w.runner.run_due().await.unwrap();
    let mut to: Vec<String> = w.mailer.sent().iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, vec!["visitor0@example.com", "visitor1@example.com"]);
    assert!(
        w.mailer
            .sent()
            .iter()
            .any(|m| m.subject == "Thank you, 王小明"),
        "the auto-response is merged with the lead"
    );
    // only the hot lead meets the rule's condition
    let tasks = w.app.get("/api/v1/records/task?limit=10").await;
    let subjects: Vec<&str> = tasks.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, vec!["Call 王小明"]);

    assert_eq!(w.counts(&form).await, (Some(2), Some(0)));
}

#[tokio::test]
async fn robots_are_answered_like_people_and_write_nothing() {
    let w = world().await;
    let form = w
        .form(json!({"fields": [{"field": "name"}, {"field": "email"}], "thank_you": "Thanks!"}))
        .await;
    let key = key_of(&form);
    let before = common::DbState::capture(&w.app, &["lead"]).await;
    let person = json!({"redirect_url": null, "thank_you": "Thanks!"});
    // the honeypot filled in
    let token = w.open(&key, 10).await;
    let r = w
        .submit(
            &key,
            &json!({"values": {"name": "Bot"}, "token": token, "relata_hp": "http://spam"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body, person);
    // sent a second after the page was served
    let token = w.open(&key, 1).await;
    let r = w
        .submit(&key, &json!({"values": {"name": "Bot"}, "token": token}))
        .await;
    assert_eq!((r.status, &r.body), (200, &person));
    // a token made up, or none
    for token in [json!("1765000000000.deadbeef"), json!(null)] {
        let r = w
            .submit(&key, &json!({"values": {"name": "Bot"}, "token": token}))
            .await;
        assert_eq!((r.status, &r.body), (200, &person));
    }
    let after = common::DbState::capture(&w.app, &["lead"]).await;
    before.assert_same(&after, "robots' submissions");
    assert_eq!(w.counts(&form).await, (Some(0), Some(4)));
}

#[tokio::test]
async fn bad_answers_name_their_field_and_write_nothing() {
    let w = world().await;
    let form = w
        .form(json!({"fields": [
            {"field": "name", "required": true}, {"field": "email"}, {"field": "rating"}
        ]}))
        .await;
    let key = key_of(&form);
    let before = common::DbState::capture(&w.app, &["lead"]).await;
    let token = w.open(&key, 5).await;
    let r = w
        .submit(
            &key,
            &json!({"values": {"name": " ", "email": "not-an-email", "rating": "lukewarm",
                               "owner_id": "00000000-0000-0000-0000-000000000000"},
                    "token": token}),
        )
        .await;
    r.assert_status(422);
    let fields = error_fields(&r);
    assert_eq!(fields, vec!["name", "email", "rating"], "{}", r.text);
    let after = common::DbState::capture(&w.app, &["lead"]).await;
    before.assert_same(&after, "refused answers");
    // the same visitor corrects them; a field the form does not ask is ignored
    let r = w
        .submit(
            &key,
            &json!({"values": {"name": "Li Lei", "email": "li@example.com",
                               "owner_id": "00000000-0000-0000-0000-000000000000"},
                    "token": token}),
        )
        .await;
    r.assert_status(200);
    let leads = w.leads().await;
    assert_eq!(leads.len(), 1);
    assert_ne!(leads[0]["owner_id"], "00000000-0000-0000-0000-000000000000");
}

#[tokio::test]
async fn a_burst_from_one_address_is_cut_off_at_the_forms_limit() {
    let w = world().await;
    let form = w
        .form(json!({"fields": [{"field": "name"}], "max_per_address_per_hour": 3, "min_fill_seconds": 0}))
        .await;
    let key = key_of(&form);
    let token = w.open(&key, 0).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = w
            .submit(
                &key,
                &json!({"values": {"name": format!("Burst {i}")}, "token": token}),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert_eq!(w.leads().await.len(), 3);
    // an hour later the address may send again
    w.clock.advance(chrono::Duration::minutes(61));
    let token = w.open(&key, 0).await;
    let r = w
        .submit(&key, &json!({"values": {"name": "Later"}, "token": token}))
        .await;
    r.assert_status(200);
}

#[tokio::test]
async fn building_a_form_names_each_problem_and_only_automation_admins_may() {
    let w = world().await;
    let r = w
        .app
        .post(
            "/api/v1/web_forms",
            &json!({"name": "Bad", "object": "lead", "definition": {
                "fields": [{"field": "email"}, {"field": "owner_id"}, {"field": "nope"}],
                "redirect_url": "javascript:alert(1)",
                "assignment_rule_id": "00000000-0000-0000-0000-000000000001"
            }}),
        )
        .await;
    r.assert_status(422);
    let fields = error_fields(&r);
    assert_eq!(
        fields,
        vec![
            "definition.fields[1].field",
            "definition.fields[2].field",
            "definition.fields",
            "definition.redirect_url",
            "definition.assignment_rule_id"
        ],
        "{}",
        r.text
    );
    let form = w.form(json!({"fields": [{"field": "name"}]})).await;
    let id = form["id"].as_str().unwrap();
    // a form keeps its object
    let r = w
        .app
        .put(
            &format!("/api/v1/web_forms/{id}"),
            &json!({"name": "Contact us", "object": "contact", "definition": {"fields": [{"field": "name"}]}}),
        )
        .await;
    r.assert_status(422);
    // switched off, its public URL is gone; its key stays when it is edited
    let r = w
        .app
        .put(
            &format!("/api/v1/web_forms/{id}"),
            &json!({"name": "Contact us", "object": "lead", "enabled": false, "definition": {"fields": [{"field": "name"}]}}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["public_key"], form["public_key"]);
    let public = w
        .app
        .anonymous()
        .get(&format!("/api/v1/public/forms/{}", key_of(&form)))
        .await;
    public.assert_status(404);
    // a rep may not build forms
    let rep = w.app.user("rep.forms@example.com", json!({})).await;
    let client = w.app.client_for(&rep).await;
    let r = client.get("/api/v1/web_forms").await;
    r.assert_status(403);
}

#[tokio::test]
async fn the_hosted_page_may_be_framed_keeps_the_campaign_and_sends_the_visitor_on() {
    let w = world().await;
    let form = w
        .form(json!({"fields": [
            {"field": "name", "required": true}, {"field": "email"}, {"field": "rating"}
        ], "redirect_url": "https://example.com/thanks"}))
        .await;
    let key = key_of(&form);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!(
            "{}/f/{key}?lang=zh&utm_source=wechat&utm_medium=social",
            w.app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(page.headers().get("x-frame-options").is_none());
    let text = page.text().await.unwrap();
    for needle in [
        "姓名",
        "邮箱",
        "评级",
        "name=\"utm_source\" value=\"wechat\"",
        "name=\"relata_hp\"",
        "提交",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the page:\n{text}"
        );
    }
    let token = text
        .split("name=\"_token\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_owned();
    // a missing name: the form again, the answer kept and the problem shown by its field
    w.clock.advance(chrono::Duration::seconds(8));
    let refused = http
        .post(format!("{}/f/{key}?lang=zh", w.app.base))
        .form(&[
            ("_token", token.as_str()),
            ("name", ""),
            ("email", "wang@example.com"),
            ("utm_source", "wechat"),
            ("relata_hp", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("value=\"wang@example.com\""), "{text}");
    assert!(text.contains("id=\"e-name\""), "{text}");
    assert_eq!(w.leads().await.len(), 0);
    let sent = http
        .post(format!("{}/f/{key}?lang=zh", w.app.base))
        .form(&[
            ("_token", token.as_str()),
            ("name", "王芳"),
            ("email", "wang@example.com"),
            ("rating", "hot"),
            ("utm_source", "wechat"),
            ("relata_hp", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    assert_eq!(sent.headers()["location"], "https://example.com/thanks");
    let leads = w.leads().await;
    assert_eq!(leads.len(), 1);
    assert_eq!(
        (&leads[0]["name"], &leads[0]["utm_source"]),
        (&json!("王芳"), &json!("wechat"))
    );
    // an unknown key is a plain 404 page
    let missing = http
        .get(format!("{}/f/wf_nope", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_admin_builds_a_form_on_its_settings_page_and_problems_show_on_their_inputs() {
    let w = world().await;
    let web = w
        .app
        .web_as(&w.app.admin().await, "correct-horse-battery-9")
        .await;
    let made = web
        .submit(
            "/settings/forms",
            "/settings/forms",
            &[("name", "官网咨询"), ("object", "lead")],
        )
        .await;
    assert_eq!(made.status, 303);
    let at = made.location.clone().unwrap();
    let at = at.split('?').next().unwrap().to_owned();
    assert!(at.starts_with("/settings/forms/"), "{at}");
    // a new form asks the name (required), company, email and phone, and is off
    let page = web.get(&at).await;
    page.assert_status(200)
        .assert_contains("name=\"ask\" value=\"company\" id=\"ask-company\"")
        .assert_contains("&#60;iframe src=");
    let forms = w.app.get("/api/v1/web_forms").await;
    let form = forms.body["data"][0].clone();
    assert_eq!(form["enabled"], false);
    let asked: Vec<&str> = form["definition"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(asked, vec!["name", "company", "email", "phone"]);

    // a redirect that is not a web address: shown on its input, nothing saved
    let refused = web
        .submit(
            &at,
            &at,
            &[
                ("action", "save"),
                ("name", "官网咨询"),
                ("enabled", "on"),
                ("ask", "name"),
                ("required.name", "on"),
                ("ask", "email"),
                ("position.email", "1"),
                ("position.name", "2"),
                ("label.email", "工作邮箱"),
                ("redirect_url", "ftp://example.com"),
            ],
        )
        .await;
    refused
        .assert_status(200)
        .assert_contains("id=\"wf-redirect-error\"");
    assert_eq!(
        w.app.get("/api/v1/web_forms").await.body["data"][0]["enabled"],
        false
    );
    // corrected: the email first with its own label, then the name; switched on
    let saved = web
        .submit(
            &at,
            &at,
            &[
                ("action", "save"),
                ("name", "官网咨询"),
                ("enabled", "on"),
                ("ask", "name"),
                ("required.name", "on"),
                ("ask", "email"),
                ("position.email", "1"),
                ("position.name", "2"),
                ("label.email", "工作邮箱"),
                ("thank_you", "感谢您的咨询！"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let form = w.app.get("/api/v1/web_forms").await.body["data"][0].clone();
    assert_eq!(form["enabled"], true);
    assert_eq!(
        form["definition"]["fields"],
        json!([{"field": "email", "label": "工作邮箱", "required": false}, {"field": "name", "required": true}])
    );
    assert_eq!(form["definition"]["thank_you"], "感谢您的咨询！");
    // the list shows it with its public link
    web.get("/settings/forms")
        .await
        .assert_status(200)
        .assert_contains(&format!("/f/{}", form["public_key"].as_str().unwrap()));
}

#[tokio::test]
async fn a_submission_the_crm_refuses_tells_the_visitor_nothing_and_keeps_its_answers() {
    let w = world().await;
    w.app
        .put(
            "/api/v1/meta/objects/lead/matching_rule",
            &json!({"fields": [{"fields": ["email"], "comparator": "email", "weight": 0.95}],
                    "threshold": 0.9, "action": "block"}),
        )
        .await
        .assert_status(200);
    let known = w
        .app
        .create(
            "lead",
            &json!({"name": "Known", "email": "known@example.com"}),
        )
        .await;
    let form = w
        .form(json!({"fields": [{"field": "name"}, {"field": "email"}], "thank_you": "Thanks!"}))
        .await;
    let key = key_of(&form);
    let token = w.open(&key, 5).await;
    let r = w
        .submit(
            &key,
            &json!({"values": {"name": "Again", "email": "KNOWN@example.com"}, "token": token}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(
        r.body,
        json!({"redirect_url": null, "thank_you": "Thanks!"})
    );
    assert!(
        !r.text.contains(known["id"].as_str().unwrap()),
        "the duplicate's id must not reach a stranger: {}",
        r.text
    );
    assert_eq!(w.leads().await.len(), 1);
    let listed = w
        .app
        .get(&format!(
            "/api/v1/web_forms/{}",
            form["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(listed.body["failed"], 1, "{}", listed.text);
    // the answers wait in the log
    let answers = w
        .app
        .core
        .store
        .read(|conn| {
            Ok::<_, relata_store::StoreError>(
                conn.query(
                    "SELECT answers FROM sys_web_form_submissions WHERE outcome = 'failed'",
                    &[],
                )?
                .into_iter()
                .map(|r| r[0].clone())
                .collect::<Vec<_>>(),
            )
        })
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert!(format!("{:?}", answers[0]).contains("KNOWN@example.com"));
}

#[test]
fn an_ipv6_visitor_is_counted_by_their_network() {
    use relata_core::web_forms::address_key;
    assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert_eq!(address_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
    assert_eq!(address_key("203.0.113.7"), "203.0.113.7");
}

#[tokio::test]
async fn marketing_leads_from_a_form_wait_in_the_pool_for_a_rep_to_claim() {
    let w = world().await;
    let rep = w.app.user("rep.pool@example.com", json!({})).await;
    let pool = w
        .app
        .post(
            "/api/v1/pools",
            &json!({"name": "线索公海", "object": "lead",
                "members": [{"kind": "user", "id": rep.user_id.0.to_string()}]}),
        )
        .await;
    pool.assert_status(201);
    let pool_id = pool.body["id"].as_str().unwrap().to_owned();
    // a pool of accounts does not take leads
    let accounts = w
        .app
        .post(
            "/api/v1/pools",
            &json!({"name": "客户公海", "object": "account"}),
        )
        .await;
    let bad = w
        .app
        .post(
            "/api/v1/web_forms",
            &json!({"name": "x", "object": "lead", "definition": {
                "fields": [{"field": "name"}], "pool_id": accounts.body["id"]}}),
        )
        .await;
    crate::common::assert_field_problem(&bad, 422, "definition.pool_id", "invalid_option");

    let form = w
        .form(
            json!({"fields": [{"field": "name", "required": true}, {"field": "company"}],
            "pool_id": pool_id}),
        )
        .await;
    let key = key_of(&form);
    let token = w.open(&key, 5).await;
    w.submit(
        &key,
        &json!({"values": {"name": "吴昊", "company": "蔚来汽车"}, "token": token}),
    )
    .await
    .assert_status(200);
    let leads = w.leads().await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["owner_id"], Json::Null, "unowned, in the pool");
    assert_eq!(leads[0]["pool_id"], pool_id.as_str());
    let claim = w
        .app
        .client_for(&rep)
        .await
        .post(
            &format!("/api/v1/pools/{pool_id}/claim"),
            &json!({"ids": [leads[0]["id"]]}),
        )
        .await;
    claim.assert_status(200);
    assert_eq!(
        w.leads().await[0]["owner_id"],
        rep.user_id.0.to_string().as_str()
    );
}
