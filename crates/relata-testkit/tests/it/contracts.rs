//! Contracts and payment collection (issue 10, items 4–5): the story from a discounted
//! quote to a VIP account — quote approved and printed, contract from the accepted quote,
//! a plan of three instalments, partial payments allocated to them, an overdue alert on
//! the fake clock, and the account made VIP by a workflow rule reading its paid total.
//! Then the bad input: a payment over what is owed (refused, or recorded as overpaid by
//! setting), another currency, a draft contract; contract approval, numbering rules,
//! termination and expiry.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

use crate::common::{self, assert_field_problem, id_of};
use crate::line_items::{catalogue, deal_amount, money};

async fn record(app: &TestApp, object: &str, id: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/{object}/{id}")).await;
    r.assert_status(200);
    r.body
}

async fn notification_kinds(client: &relata_testkit::Client) -> Vec<Json> {
    let r = client.get("/api/v1/me/notifications").await;
    r.assert_status(200);
    r.body["data"].as_array().unwrap().clone()
}

fn cny(amount: &str) -> Json {
    money(amount, "CNY")
}

async fn pay(app: &TestApp, contract: &str, amount: &str, date: &str) -> relata_testkit::Resp {
    app.post(
        "/api/v1/records/payment",
        &json!({"contract_id": contract, "amount": {"amount": amount, "currency": "CNY"},
                "payment_date": date, "method": "bank_transfer"}),
    )
    .await
}

#[tokio::test]
async fn a_discounted_quote_becomes_a_contract_paid_in_instalments_and_a_vip_account() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, clock, runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let manager = app.user("manager.contracts@example.com", json!({})).await;
    let manager_client = app.client_for(&manager).await;
    app.post(
        "/api/v1/approval-processes",
        &json!({"name": "折扣超过 20%", "object": "quote",
                "condition": {"field": "discount_percent_total", "op": "gt", "value": 20},
                "steps": [{"name": "销售经理", "approvers": {"users": [manager.user_id.0]}}]}),
    )
    .await
    .assert_status(201);
    // the automation issue's example: paid past a threshold makes an account VIP
    app.post(
        "/api/v1/workflow_rules",
        &json!({"name": "回款超过 3 万：VIP", "object": "account", "enabled": true,
        "definition": {
            "trigger": {"type": "condition_met"},
            "condition": "paid_amount gte 30000",
            "steps": [
                {"type": "update_fields", "set": {"level": "vip"}},
                {"type": "notify", "to": ["owner"], "message": "{{ name }} is now VIP"}
            ]}}),
    )
    .await
    .assert_status(201);

    let account = id_of(
        &app.create(
            "account",
            &json!({"name": "华夏银行股份有限公司", "level": "b"}),
        )
        .await,
    );
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "华夏银行 CRM", "account_id": account, "stage": "negotiation",
                    "amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await,
    );

    // a quote with 25 % off goes to approval, is approved, printed, sent and accepted
    let quote = id_of(
        &app.create(
            "quote",
            &json!({"opportunity_id": deal, "header_discount_percent": "25"}),
        )
        .await,
    );
    app.create(
        "quote_line_item",
        &json!({"quote_id": quote, "price_book_entry_id": c.entry, "quantity": "4"}),
    )
    .await;
    let r = app
        .post(
            "/api/v1/approvals",
            &json!({"object": "quote", "record_id": quote}),
        )
        .await;
    r.assert_status(201);
    let request = r.body["request"]["id"].as_str().unwrap().to_owned();
    manager_client
        .post(&format!("/api/v1/approvals/{request}/approve"), &json!({}))
        .await
        .assert_status(200);
    let (status, _, pdf) = app.get_bytes(&format!("/api/v1/quotes/{quote}/pdf")).await;
    assert_eq!(status, 200);
    let text = crate::quotes::pdf_text(&pdf);
    assert!(text.contains("华夏银行股份有限公司"), "{text}");
    assert!(text.contains("¥42,375.00"), "{text}");
    let quote_path = format!("/api/v1/records/quote/{quote}");
    for status in ["sent", "accepted"] {
        app.patch(&quote_path, &json!({ "status": status }))
            .await
            .assert_status(200);
    }
    assert_eq!(deal_amount(&app, &deal).await, cny("42375.00"));

    // a contract comes from a won deal: not yet
    let r = app
        .post(&format!("/api/v1/quotes/{quote}/contract"), &json!({}))
        .await;
    assert_field_problem(&r, 422, "opportunity_id", "invalid_transition");
    app.patch(
        &format!("/api/v1/records/opportunity/{deal}"),
        &json!({"stage": "closed_won", "win_reason": "relationship"}),
    )
    .await
    .assert_status(200);
    let r = app
        .post(
            &format!("/api/v1/quotes/{quote}/contract"),
            &json!({"start_date": "2026-12-01"}),
        )
        .await;
    r.assert_status(201);
    let contract = id_of(&r.body);
    assert_eq!(r.body["contract_number"], "C-2026-0001");
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["amount"], cny("42375.00"));
    assert_eq!(r.body["account_id"], account.as_str());
    assert_eq!(r.body["opportunity_id"], deal.as_str());
    assert_eq!(r.body["end_date"], "2027-11-30");
    assert_eq!(r.body["outstanding_amount"], cny("42375.00"));

    // payments wait until the contract is active
    let r = pay(&app, &contract, "100", "2026-12-01").await;
    assert_field_problem(&r, 422, "contract_id", "invalid_transition");
    let contract_path = format!("/api/v1/records/contract/{contract}");
    app.patch(
        &contract_path,
        &json!({"status": "active", "signed_date": "2026-12-01"}),
    )
    .await
    .assert_status(200);

    // a plan of three instalments; a fourth would plan more than the contract
    let mut plan = Vec::new();
    for (amount, due) in [
        ("15000", "2026-12-10"),
        ("15000", "2027-01-10"),
        ("12375", "2027-02-10"),
    ] {
        let r = app
            .post(
                "/api/v1/records/payment_plan",
                &json!({"contract_id": contract, "amount": {"amount": amount, "currency": "CNY"}, "due_date": due}),
            )
            .await;
        r.assert_status(201);
        assert_eq!(r.body["status"], "planned");
        plan.push(id_of(&r.body));
    }
    assert_eq!(
        record(&app, "payment_plan", &plan[2]).await["instalment_number"],
        3
    );
    let r = app
        .post(
            "/api/v1/records/payment_plan",
            &json!({"contract_id": contract, "amount": {"amount": "1", "currency": "CNY"}, "due_date": "2027-03-01"}),
        )
        .await;
    assert_field_problem(&r, 422, "amount", "too_large");
    assert_eq!(
        record(&app, "contract", &contract).await["planned_amount"],
        cny("42375.00")
    );

    // a partial payment: the first instalment is partly paid, the totals roll up
    pay(&app, &contract, "10000", "2026-12-05")
        .await
        .assert_status(201);
    let first = record(&app, "payment_plan", &plan[0]).await;
    assert_eq!(first["status"], "partially_paid");
    assert_eq!(first["paid_amount"], cny("10000.00"));
    assert_eq!(first["outstanding_amount"], cny("5000.00"));
    let k = record(&app, "contract", &contract).await;
    assert_eq!(k["paid_amount"], cny("10000.00"));
    assert_eq!(k["outstanding_amount"], cny("32375.00"));
    assert_eq!(
        record(&app, "opportunity", &deal).await["paid_amount"],
        cny("10000.00")
    );
    assert_eq!(
        record(&app, "account", &account).await["paid_amount"],
        cny("10000.00")
    );

    // bad payments change nothing
    let r = pay(&app, &contract, "50000", "2026-12-06").await;
    assert_field_problem(&r, 422, "amount", "too_large");
    assert!(r.text.contains("32375"), "{}", r.text);
    let r = app
        .post(
            "/api/v1/records/payment",
            &json!({"contract_id": contract, "amount": {"amount": "10", "currency": "USD"}, "payment_date": "2026-12-06"}),
        )
        .await;
    assert_field_problem(&r, 422, "amount", "invalid_currency");
    let r = pay(&app, &contract, "0", "2026-12-06").await;
    assert_field_problem(&r, 422, "amount", "too_small");
    assert_eq!(
        record(&app, "contract", &contract).await["paid_amount"],
        cny("10000.00")
    );

    // the first instalment falls due unpaid: on the fake clock the sweep marks it overdue
    // and its owner (the contract's) is told, once however often the sweep runs
    clock.set(Utc.with_ymd_and_hms(2026, 12, 11, 3, 0, 0).unwrap());
    let swept = app.core.sweep_collection().await.unwrap();
    assert_eq!(swept.contracts_settled, 1);
    app.core.sweep_collection().await.unwrap();
    assert_eq!(
        record(&app, "payment_plan", &plan[0]).await["status"],
        "overdue"
    );
    let alerts: Vec<Json> = notification_kinds(&app.client)
        .await
        .into_iter()
        .filter(|n| n["kind"] == "payment_overdue")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["detail"]["contract"], "C-2026-0001");
    assert_eq!(alerts[0]["detail"]["outstanding"], cny("5000.00"));

    // 25,000 more fills the first two instalments and part of the third; past 30,000 paid
    // the account becomes VIP through the workflow rule
    let second = pay(&app, &contract, "25000", "2026-12-12").await;
    second.assert_status(201);
    let statuses: Vec<Json> = {
        let mut s = Vec::new();
        for id in &plan {
            s.push(record(&app, "payment_plan", id).await["status"].clone());
        }
        s
    };
    assert_eq!(
        statuses,
        [json!("paid"), json!("paid"), json!("partially_paid")]
    );
    assert_eq!(
        record(&app, "payment_plan", &plan[2]).await["paid_amount"],
        cny("5000.00")
    );
    assert_eq!(
        record(&app, "account", &account).await["paid_amount"],
        cny("35000.00")
    );
    runner.run_due().await.unwrap();
    let acc = record(&app, "account", &account).await;
    assert_eq!(acc["level"], "vip");
    assert!(
        notification_kinds(&app.client)
            .await
            .iter()
            .any(|n| n["detail"].to_string().contains("is now VIP")),
    );

    // receivables: 7,375 not yet due; of what fell due (15,000) all is collected
    let r = app.get("/api/v1/receivables").await;
    r.assert_status(200);
    let current = r.body["ageing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["bucket"] == "current")
        .unwrap()
        .clone();
    assert_eq!(current["outstanding"]["CNY"], "7375.00");
    assert_eq!(r.body["reps"][0]["due"], "15000.00");
    assert_eq!(r.body["reps"][0]["rate"], "100.00");

    // a payment deleted takes its money back out of every total; restored, it returns
    let payment = id_of(&second.body);
    app.delete(&format!("/api/v1/records/payment/{payment}"))
        .await
        .assert_status(204);
    assert_eq!(
        record(&app, "account", &account).await["paid_amount"],
        cny("10000.00")
    );
    assert_eq!(
        record(&app, "payment_plan", &plan[0]).await["status"],
        "overdue"
    );
    app.post(
        &format!("/api/v1/records/payment/{payment}/restore"),
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        record(&app, "contract", &contract).await["paid_amount"],
        cny("35000.00")
    );

    // with overpayments recorded, paying past the amount is kept as overpaid
    let r = app
        .put(
            "/api/v1/settings/collection",
            &json!({"overpayment": "record", "currency": "CNY",
                    "contract_numbering": "C-{YYYY}-{SEQ:4}", "quote_numbering": "Q-{YYYY}-{SEQ:4}"}),
        )
        .await;
    r.assert_status(200);
    pay(&app, &contract, "10000", "2026-12-13")
        .await
        .assert_status(201);
    let k = record(&app, "contract", &contract).await;
    assert_eq!(k["outstanding_amount"], cny("0.00"));
    assert_eq!(k["overpaid_amount"], cny("2625.00"));
    assert_eq!(
        record(&app, "payment_plan", &plan[2]).await["status"],
        "paid"
    );

    // invoices: not past the contract; a void one does not count
    let r = app
        .post(
            "/api/v1/records/invoice",
            &json!({"contract_id": contract, "name": "No.00012345", "amount": {"amount": "50000", "currency": "CNY"}}),
        )
        .await;
    assert_field_problem(&r, 422, "amount", "too_large");
    let invoice = app
        .post(
            "/api/v1/records/invoice",
            &json!({"contract_id": contract, "name": "No.00012345", "invoice_type": "vat_special",
                    "status": "issued", "amount": {"amount": "20000", "currency": "CNY"}}),
        )
        .await;
    invoice.assert_status(201);
    assert_eq!(
        record(&app, "contract", &contract).await["invoiced_amount"],
        cny("20000.00")
    );
    app.patch(
        &format!("/api/v1/records/invoice/{}", id_of(&invoice.body)),
        &json!({"status": "void"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        record(&app, "contract", &contract).await["invoiced_amount"],
        cny("0.00")
    );

    // terminated needs a reason; over, the contract's terms are fixed
    let r = app
        .patch(&contract_path, &json!({"status": "terminated"}))
        .await;
    assert_field_problem(&r, 422, "termination_reason", "required");
    app.patch(
        &contract_path,
        &json!({"status": "terminated", "termination_reason": "客户合并"}),
    )
    .await
    .assert_status(200);
    let r = app
        .patch(
            &contract_path,
            &json!({"amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await;
    assert_field_problem(&r, 422, "amount", "read_only");
    let r = app
        .patch(&contract_path, &json!({"status": "active"}))
        .await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
}

#[tokio::test]
async fn contracts_follow_numbering_rules_approval_and_expire_after_their_end() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, clock, _runner) = common::app_on_clock(start, 1).await;
    let account = id_of(&app.create("account", &json!({"name": "远大集团"})).await);
    let contract = |amount: &'static str| {
        json!({"name": "年度服务", "account_id": account,
               "amount": {"amount": amount, "currency": "CNY"},
               "start_date": "2026-12-01", "end_date": "2026-12-31"})
    };

    // a bad numbering rule is refused with the reason; a good one numbers the next contract
    let mut settings = json!({"overpayment": "refuse", "currency": "CNY",
        "contract_numbering": "HT-{SEQ:3}-{YYYY}", "quote_numbering": "Q-{YYYY}-{SEQ:4}"});
    let r = app.put("/api/v1/settings/collection", &settings).await;
    assert_field_problem(&r, 422, "contract_numbering", "invalid_option");
    settings["contract_numbering"] = json!("HT-{YYYY}{MM}-{SEQ:3}");
    app.put("/api/v1/settings/collection", &settings)
        .await
        .assert_status(200);
    let first = app.create("contract", &contract("80000")).await;
    assert_eq!(first["contract_number"], "HT-202612-001");
    let second = app.create("contract", &contract("500")).await;
    assert_eq!(second["contract_number"], "HT-202612-002");

    // an end before the start, and a deal that is not won, are refused
    let mut bad = contract("1");
    bad["end_date"] = json!("2026-11-30");
    let r = app.post("/api/v1/records/contract", &bad).await;
    assert_field_problem(&r, 422, "end_date", "too_small");
    let open = id_of(
        &app.create(
            "opportunity",
            &json!({"name": "未赢单", "account_id": account,
                    "amount": {"amount": "9000", "currency": "CNY"}}),
        )
        .await,
    );
    let r = app
        .post(
            &format!("/api/v1/opportunities/{open}/contract"),
            &json!({}),
        )
        .await;
    assert_field_problem(&r, 422, "opportunity_id", "invalid_transition");

    // contracts over 50,000 need the director's approval: in approval, then active
    let director = app.user("director.contracts@example.com", json!({})).await;
    app.post(
        "/api/v1/approval-processes",
        &json!({"name": "大额合同", "object": "contract",
                "condition": {"field": "amount", "op": "gt", "value": 50000},
                "steps": [{"name": "总监", "approvers": {"users": [director.user_id.0]}}]}),
    )
    .await
    .assert_status(201);
    let big = format!("/api/v1/records/contract/{}", id_of(&first));
    let r = app.patch(&big, &json!({"status": "active"})).await;
    assert_field_problem(&r, 422, "status", "invalid_transition");
    let r = app
        .post(
            "/api/v1/approvals",
            &json!({"object": "contract", "record_id": id_of(&first)}),
        )
        .await;
    r.assert_status(201);
    let request = r.body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&big).await.body["status"], "in_approval");
    let r = app
        .patch(&big, &json!({"amount": {"amount": "1", "currency": "CNY"}}))
        .await;
    assert_field_problem(&r, 422, "amount", "read_only");
    app.client_for(&director)
        .await
        .post(&format!("/api/v1/approvals/{request}/approve"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(app.get(&big).await.body["status"], "active");
    // a small one needs none
    let small = format!("/api/v1/records/contract/{}", id_of(&second));
    app.patch(&small, &json!({"status": "active"}))
        .await
        .assert_status(200);

    // past their end date, active contracts expire
    clock.advance(Duration::days(31));
    let swept = app.core.sweep_collection().await.unwrap();
    assert_eq!(swept.contracts_expired, 2);
    assert_eq!(app.get(&big).await.body["status"], "expired");
    assert_eq!(app.get(&small).await.body["status"], "expired");
}
