//! Email in the web UI (issue 8): administrators write templates on their settings page
//! (a bad merge field is named, not saved); a record's page sends one, honouring an
//! opt-out; the mail shows on the record's timeline with how it fared.

use std::sync::Arc;

use serde_json::json;

use relata_core::mail::CapturingMailer;
use relata_testkit::{SpawnOptions, TestApp};

const PASSWORD: &str = "correct-horse-battery-9";

#[tokio::test]
async fn templates_are_written_in_settings_and_sent_from_a_records_page() {
    let mailer = Arc::new(CapturingMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let page = web.get("/settings/email_templates").await;
    page.assert_status(200);
    page.assert_contains("id=\"t-subject\"");

    let bad = web
        .submit(
            "/settings/email_templates",
            "/settings/email_templates",
            &[
                ("name", "Typo"),
                ("object", "contact"),
                ("subject", "Hi {{ record.nmae }}"),
                ("body_html", "<p>x</p>"),
                ("active", "on"),
            ],
        )
        .await;
    bad.assert_status(200);
    bad.assert_contains("unknown merge field record.nmae")
        .assert_contains("Hi {{ record.nmae }}");
    let made = web
        .submit(
            "/settings/email_templates",
            "/settings/email_templates",
            &[
                ("name", "Follow-up"),
                ("object", "contact"),
                ("subject", "Following up, {{ record.name }}"),
                ("body_html", "<p>Dear {{ record.name }}</p>"),
                ("active", "on"),
            ],
        )
        .await;
    made.assert_status(303);
    let list = app.get("/api/v1/email_templates").await;
    let template = list.body["data"][0]["id"].as_str().unwrap().to_owned();
    web.get(&format!("/settings/email_templates/{template}"))
        .await
        .assert_status(200)
        .assert_contains("Following up, {{ record.name }}");

    let contact = app
        .create(
            "contact",
            &json!({"name": "周杰", "email": "zhou.jie@example.cn"}),
        )
        .await;
    let id = contact["id"].as_str().unwrap();
    let record = format!("/o/contact/{id}");
    web.get(&record)
        .await
        .assert_status(200)
        .assert_contains("Send an email")
        .assert_contains("Follow-up")
        .assert_contains("zhou.jie@example.cn");
    let sent = web
        .submit(
            &record,
            &format!("{record}/email"),
            &[("template_id", &template), ("to", "zhou.jie@example.cn")],
        )
        .await;
    sent.assert_status(303);
    web.get(&format!("{record}?saved=emailed"))
        .await
        .assert_contains("Email queued");
    let runner = relata_jobs::Runner::new(
        app.core.clone(),
        relata_jobs::Handlers::standard(),
        relata_jobs::RunnerOptions::default(),
    );
    runner.run_due().await.unwrap();
    assert_eq!(mailer.sent().len(), 1);
    assert_eq!(mailer.sent()[0].subject, "Following up, 周杰");
    web.get(&format!("{record}/timeline?kind=email"))
        .await
        .assert_status(200)
        .assert_contains("Email sent to zhou.jie@example.cn: Following up, 周杰")
        .assert_contains("sent");

    // an opt-out is honoured here too, and said
    let out = app
        .create(
            "contact",
            &json!({"name": "Opted Out", "email": "out@example.cn", "email_opt_out": true}),
        )
        .await;
    let out_page = format!("/o/contact/{}", out["id"].as_str().unwrap());
    let refused = web
        .submit(
            &out_page,
            &format!("{out_page}/email"),
            &[("template_id", &template), ("to", "")],
        )
        .await;
    refused.assert_status(409);
    refused.assert_contains("opted out");
    assert_eq!(mailer.sent().len(), 1);

    let rep = app.user("rep.email@example.com", json!({})).await;
    app.web_as(&rep, PASSWORD)
        .await
        .get("/settings/email_templates")
        .await
        .assert_status(403);
}
