//! Quotes with approvals (issue 10, item 3): a quote numbered and priced from its lines
//! less a header discount; a discount past the threshold goes to approval before it may be
//! sent; approved, it is fixed and a change makes a new version; accepted, its lines become
//! the deal's products and the deal comes to the quote's total. The approval engine: any-of
//! and all-of steps in sequence, reject with a comment, recall.

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

use crate::common::{self, assert_field_problem, id_of};
use crate::line_items::{catalogue, deal_amount, money, percent};

async fn process(app: &TestApp, steps: Json) -> Json {
    let r = app
        .post(
            "/api/v1/approval-processes",
            &json!({"name": "折扣超过 20%", "object": "quote",
                    "condition": {"field": "discount_percent_total", "op": "gt", "value": 20},
                    "steps": steps}),
        )
        .await;
    r.assert_status(201);
    r.body
}

async fn quote_with_line(app: &TestApp, deal: &str, entry: &str, header: &str) -> String {
    let q = app
        .create(
            "quote",
            &json!({"opportunity_id": deal, "header_discount_percent": header}),
        )
        .await;
    let id = id_of(&q);
    app.create(
        "quote_line_item",
        &json!({"quote_id": id, "price_book_entry_id": entry, "quantity": "4"}),
    )
    .await;
    id
}

/// The text of a PDF, through poppler's `pdftotext` (installed by `.ci/run`).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quote.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-raw", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian's poppler-utils) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn quote(app: &TestApp, id: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/quote/{id}")).await;
    r.assert_status(200);
    r.body
}

#[tokio::test]
async fn a_discounted_quote_is_approved_sent_accepted_and_becomes_the_deals_products() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let manager = app.user("manager.quotes@example.com", json!({})).await;
    let manager_client = app.client_for(&manager).await;
    let rep = app.user("rep.quotes@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    process(
        &app,
        json!([{"name": "销售经理", "approvers": {"users": [manager.user_id.0]}, "mode": "any"}]),
    )
    .await;
    let account = id_of(
        &app.create("account", &json!({"name": "华夏银行股份有限公司"}))
            .await,
    );
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "华夏银行 CRM", "account_id": account,
                    "amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await,
    );

    // numbered, valid 30 days, the deal's account; priced from its line less 25 %
    let id = quote_with_line(&app, &deal, &c.entry, "25").await;
    let q = quote(&app, &id).await;
    assert_eq!(q["quote_number"], "Q-2026-0001");
    assert_eq!(q["quote_version"], 1);
    assert_eq!(q["status"], "draft");
    assert_eq!(q["approval_status"], "none");
    assert_eq!(q["account_id"], account.as_str());
    assert_eq!(q["valid_until"], "2026-12-31");
    assert_eq!(q["subtotal"], money("50000.00", "CNY"));
    assert_eq!(q["header_discount_amount"], money("12500.00", "CNY"));
    assert_eq!(q["tax_amount"], money("4875.00", "CNY"));
    assert_eq!(q["total"], money("42375.00", "CNY"));
    assert_eq!(percent(&q["discount_percent_total"]), 25.0);

    // 25 % passes the threshold: it cannot be sent before approval
    let path = format!("/api/v1/records/quote/{id}");
    let r = app.patch(&path, &json!({"status": "sent"})).await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    assert!(r.text.contains("approval"), "{}", r.text);
    let r = app
        .post(
            "/api/v1/approvals",
            &json!({"object": "quote", "record_id": id, "comment": "战略客户，请批准"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["approval_status"], "pending");
    let request = r.body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(quote(&app, &id).await["approval_status"], "pending");
    // in approval, it is fixed: neither the header nor the lines change
    let r = app
        .patch(&path, &json!({"header_discount_percent": "30"}))
        .await;
    assert_field_problem(&r, 422, "header_discount_percent", "read_only");
    let r = app
        .post(
            "/api/v1/records/quote_line_item",
            &json!({"quote_id": id, "price_book_entry_id": c.entry, "quantity": "1"}),
        )
        .await;
    assert_field_problem(&r, 422, "quote_id", "read_only");
    let r = app
        .post(&format!("/api/v1/quotes/{id}/revise"), &json!({}))
        .await;
    r.assert_problem(409, "quote_in_approval");

    // the approver sees it waiting; someone else cannot decide it
    let waiting = manager_client.get("/api/v1/approvals").await;
    waiting.assert_status(200);
    assert_eq!(waiting.body["data"][0]["id"], request.as_str());
    assert_eq!(
        rep_client.get("/api/v1/approvals").await.body["data"],
        json!([])
    );
    let r = rep_client
        .post(&format!("/api/v1/approvals/{request}/approve"), &json!({}))
        .await;
    r.assert_status(403);
    let r = manager_client
        .post(
            &format!("/api/v1/approvals/{request}/approve"),
            &json!({"comment": "同意，下不为例"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "approved");
    let detail = app.get(&format!("/api/v1/approvals/{request}")).await;
    detail.assert_status(200);
    assert_eq!(detail.body["decisions"][0]["comment"], "同意，下不为例");
    assert_eq!(
        detail.body["decisions"][0]["user_id"],
        manager.user_id.0.to_string()
    );
    assert_eq!(quote(&app, &id).await["approval_status"], "approved");

    // approved: editing is refused with the way out named
    let r = app
        .patch(&path, &json!({"header_discount_percent": "10"}))
        .await;
    assert_field_problem(&r, 422, "header_discount_percent", "read_only");
    assert!(r.text.contains("revise"), "{}", r.text);

    // the PDF names the Chinese customer and the total (text read back with poppler)
    let (status, content_type, pdf) = app.get_bytes(&format!("/api/v1/quotes/{id}/pdf")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    let text = pdf_text(&pdf);
    assert!(text.contains("华夏银行股份有限公司"), "{text}");
    assert!(text.contains("¥42,375.00"), "{text}");
    assert!(text.contains("Q-2026-0001"), "{text}");
    let (status, _, _) = rep_client
        .get_bytes(&format!("/api/v1/quotes/{id}/pdf"))
        .await;
    assert_eq!(
        status, 404,
        "a quote the rep may not see is not printed for them"
    );
    let r = app.get(&format!("/api/v1/quotes/{id}/pdf?lang=fr")).await;
    r.assert_problem(400, "invalid_language");

    // sent, then accepted: the deal takes the quote's lines and total
    app.patch(&path, &json!({"status": "sent"}))
        .await
        .assert_status(200);
    let r = app.patch(&path, &json!({"status": "draft"})).await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    app.patch(&path, &json!({"status": "accepted"}))
        .await
        .assert_status(200);
    assert_eq!(deal_amount(&app, &deal).await, money("42375.00", "CNY"));
    let lines = app
        .get(&format!(
            "/api/v1/records/opportunity_line_item?filter=opportunity_id%20%3D%20{deal}"
        ))
        .await;
    lines.assert_status(200);
    assert_eq!(lines.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(percent(&lines.body["data"][0]["discount_percent"]), 25.0);

    // a change makes version 2: the same number, a draft, the lines copied, the old kept
    let r = app
        .post(
            &format!("/api/v1/quotes/{id}/revise"),
            &json!({"header_discount_percent": "10"}),
        )
        .await;
    r.assert_status(201);
    let v2 = r.body.clone();
    assert_eq!(v2["quote_number"], "Q-2026-0001");
    assert_eq!(v2["quote_version"], 2);
    assert_eq!(v2["status"], "draft");
    assert_eq!(v2["approval_status"], "none");
    assert_eq!(v2["previous_version_id"], id.as_str());
    // 50,000 less 10 % = 45,000, with 13 % VAT
    assert_eq!(v2["total"], money("50850.00", "CNY"));
    assert!(!quote(&app, &id).await["superseded_at"].is_null());
    let r = app.patch(&path, &json!({"status": "declined"})).await;
    assert_field_problem(&r, 422, "status", "read_only");
    let r = app
        .post(&format!("/api/v1/quotes/{id}/revise"), &json!({}))
        .await;
    r.assert_problem(409, "quote_superseded");
    // 10 % needs no approval: submitting approves it at once
    let r = app
        .post(
            "/api/v1/approvals",
            &json!({"object": "quote", "record_id": id_of(&v2)}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["approval_status"], "approved");
    assert!(r.body["request"].is_null());
}

#[tokio::test]
async fn steps_run_in_sequence_and_a_rejection_or_a_recall_returns_the_quote() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let a = app.user("approver.a@example.com", json!({})).await;
    let b = app.user("approver.b@example.com", json!({})).await;
    let director = app.user("director@example.com", json!({})).await;
    let (ca, cb, cd) = (
        app.client_for(&a).await,
        app.client_for(&b).await,
        app.client_for(&director).await,
    );
    process(
        &app,
        json!([
            {"name": "两位经理会签", "approvers": {"users": [a.user_id.0, b.user_id.0]}, "mode": "all"},
            {"name": "总监", "approvers": {"users": [director.user_id.0]}}
        ]),
    )
    .await;
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "南方电网", "amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await,
    );
    let id = quote_with_line(&app, &deal, &c.entry, "30").await;
    let submit = |id: String| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/api/v1/approvals",
                    &json!({"object": "quote", "record_id": id}),
                )
                .await;
            r.assert_status(201);
            r.body["request"]["id"].as_str().unwrap().to_owned()
        }
    };
    let request = submit(id.clone()).await;
    let decide = |client: &relata_testkit::Client, verb: &str, comment: &str| {
        let path = format!("/api/v1/approvals/{request}/{verb}");
        let body = json!({"comment": comment});
        let client = client.clone();
        async move { client.post(&path, &body).await }
    };
    // all of step 1 must approve before the director is asked
    assert_eq!(cd.get("/api/v1/approvals").await.body["data"], json!([]));
    decide(&ca, "approve", "").await.assert_status(200);
    assert_eq!(cd.get("/api/v1/approvals").await.body["data"], json!([]));
    let r = decide(&ca, "approve", "").await;
    r.assert_problem(422, "validation_failed");
    decide(&cb, "approve", "").await.assert_status(200);
    assert_eq!(
        cd.get("/api/v1/approvals").await.body["data"][0]["id"],
        request.as_str()
    );
    let r = decide(&cd, "reject", "折扣过高，请降到 20% 以内").await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "rejected");
    let q = quote(&app, &id).await;
    assert_eq!(q["approval_status"], "rejected");
    let r = app
        .patch(
            &format!("/api/v1/records/quote/{id}"),
            &json!({"status": "sent"}),
        )
        .await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    let detail = app.get(&format!("/api/v1/approvals/{request}")).await;
    assert_eq!(detail.body["decisions"].as_array().unwrap().len(), 3);
    assert_eq!(detail.body["decisions"][2]["decision"], "rejected");
    // deciding a finished request is refused
    decide(&ca, "approve", "").await.assert_status(422);

    // a rejected draft may be changed and submitted again, then recalled by its submitter
    app.patch(
        &format!("/api/v1/records/quote/{id}"),
        &json!({"header_discount_percent": "22"}),
    )
    .await
    .assert_status(200);
    let again = submit(id.clone()).await;
    let r = ca
        .post(&format!("/api/v1/approvals/{again}/recall"), &json!({}))
        .await;
    r.assert_status(403);
    let r = app
        .post(&format!("/api/v1/approvals/{again}/recall"), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "recalled");
    assert_eq!(quote(&app, &id).await["approval_status"], "none");
    assert_eq!(ca.get("/api/v1/approvals").await.body["data"], json!([]));
    let history = app
        .get(&format!("/api/v1/records/quote/{id}/history"))
        .await;
    assert!(history.text.contains("approval_status"), "{}", history.text);
}

#[tokio::test]
async fn bad_processes_and_quotes_are_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/approval-processes",
            &json!({"name": "x", "object": "account", "steps": [
                {"name": "s", "approvers": {"users": [uuid::Uuid::nil()]}}]}),
        )
        .await;
    assert_field_problem(&r, 422, "object", "invalid_option");
    let r = app
        .post(
            "/api/v1/approval-processes",
            &json!({"name": "x", "object": "quote", "steps": []}),
        )
        .await;
    assert_field_problem(&r, 422, "steps", "required");
    let r = app
        .post(
            "/api/v1/approval-processes",
            &json!({"name": "x", "object": "quote",
                    "condition": {"field": "no_such_field", "op": "gt", "value": 1},
                    "steps": [{"name": "s", "approvers": {"users": [uuid::Uuid::nil()]}}]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("condition"), "{}", r.text);

    let deal = id_of(&app.create("opportunity", &json!({"name": "D"})).await);
    let r = app
        .post(
            "/api/v1/records/quote",
            &json!({"opportunity_id": deal, "header_discount_percent": "120"}),
        )
        .await;
    assert_field_problem(&r, 422, "header_discount_percent", "too_large");
    let r = app
        .post(
            "/api/v1/records/quote",
            &json!({"opportunity_id": deal, "status": "accepted"}),
        )
        .await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    let r = app
        .post(
            "/api/v1/records/quote",
            &json!({"opportunity_id": deal, "quote_number": "Q-1"}),
        )
        .await;
    assert_field_problem(&r, 422, "quote_number", "read_only");
    assert_eq!(common::count(&app, "quote").await, 0);
}

#[tokio::test]
async fn a_step_decided_by_a_role_waits_for_everyone_in_it_and_only_them() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let r = app
        .post("/api/v1/admin/roles", &json!({"name": "区域经理"}))
        .await;
    r.assert_status(201);
    let role = r.body["id"].as_str().unwrap().to_owned();
    let manager = app
        .user("regional@example.com", json!({"role_id": role}))
        .await;
    let outsider = app.user("outsider@example.com", json!({})).await;
    let (cm, co) = (
        app.client_for(&manager).await,
        app.client_for(&outsider).await,
    );
    process(
        &app,
        json!([{"name": "区域经理审批", "approvers": {"role": role}}]),
    )
    .await;
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "国网", "amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await,
    );
    let id = quote_with_line(&app, &deal, &c.entry, "25").await;
    let r = app
        .post(
            "/api/v1/approvals",
            &json!({"object": "quote", "record_id": id}),
        )
        .await;
    r.assert_status(201);
    let request = r.body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cm.get("/api/v1/approvals").await.body["data"][0]["id"],
        request.as_str(),
        "someone in the role sees it waiting"
    );
    assert_eq!(co.get("/api/v1/approvals").await.body["data"], json!([]));
    co.post(&format!("/api/v1/approvals/{request}/approve"), &json!({}))
        .await
        .assert_status(403);
    cm.post(&format!("/api/v1/approvals/{request}/approve"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(cm.get("/api/v1/approvals").await.body["data"], json!([]));
    assert_eq!(quote(&app, &id).await["approval_status"], "approved");
}

/// A quote is mailed to its contact as a PDF kept on the quote; a draft becomes sent; one
/// that still needs approval is refused before anything is mailed.
#[tokio::test]
async fn a_quote_is_mailed_as_a_pdf_to_its_contact_and_marked_sent() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let clock = std::sync::Arc::new(relata_domain::ManualClock::new(start));
    let mailer = std::sync::Arc::new(relata_core::mail::CapturingMailer::default());
    let app = TestApp::spawn_with(relata_testkit::SpawnOptions {
        clock: Some(clock.clone()),
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let runner = relata_jobs::Runner::new(
        app.core.clone(),
        relata_jobs::Handlers::standard(),
        relata_jobs::RunnerOptions::default(),
    );
    let c = catalogue(&app).await;
    let account = id_of(
        &app.create("account", &json!({"name": "华夏银行股份有限公司"}))
            .await,
    );
    let contact = id_of(
        &app.create(
            "contact",
            &json!({"name": "王芳", "email": "wang.fang@huaxia.example", "account_id": account}),
        )
        .await,
    );
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "华夏银行 CRM", "account_id": account, "contact_id": contact}),
        )
        .await,
    );
    let q = app
        .create(
            "quote",
            &json!({"opportunity_id": deal, "contact_id": contact}),
        )
        .await;
    let id = id_of(&q);
    app.create(
        "quote_line_item",
        &json!({"quote_id": id, "price_book_entry_id": c.entry, "quantity": "2"}),
    )
    .await;

    let r = app
        .post(
            &format!("/api/v1/quotes/{id}/send"),
            &json!({"lang": "zh-CN"}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(quote(&app, &id).await["status"], "sent");
    runner.run_due().await.unwrap();
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "wang.fang@huaxia.example");
    assert!(
        sent[0].subject.contains("Q-2026-0001"),
        "{}",
        sent[0].subject
    );
    assert_eq!(sent[0].attachments.len(), 1);
    assert_eq!(sent[0].attachments[0].content_type, "application/pdf");
    let text = pdf_text(&sent[0].attachments[0].data);
    assert!(text.contains("华夏银行股份有限公司"), "{text}");
    let files = app
        .get(&format!("/api/v1/records/quote/{id}/attachments"))
        .await;
    files.assert_status(200);
    assert_eq!(files.body["data"].as_array().unwrap().len(), 1);

    // one that needs approval is refused before anything is mailed or kept
    process(
        &app,
        json!([{"name": "经理", "approvers": {"users": [app.admin().await.user_id.0]}}]),
    )
    .await;
    let discounted = quote_with_line(&app, &deal, &c.entry, "25").await;
    let r = app
        .post(
            &format!("/api/v1/quotes/{discounted}/send"),
            &json!({"to": "wang.fang@huaxia.example"}),
        )
        .await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    let files = app
        .get(&format!("/api/v1/records/quote/{discounted}/attachments"))
        .await;
    assert_eq!(files.body["data"], json!([]));
    // without a contact there is nobody to send it to
    let r = app
        .post(&format!("/api/v1/quotes/{discounted}/send"), &json!({}))
        .await;
    r.assert_problem(400, "no_recipient");
    runner.run_due().await.unwrap();
    assert_eq!(mailer.sent().len(), 1);
}
