//! Contracts and payment collection in the web UI: a won deal's page offers "Create
//! contract", which makes a draft and opens it, while an open deal's refuses it on its page
//! (in English and Chinese) and nothing is made; an accepted quote offers it too. A contract's
//! page lists its instalments, payments and invoices with the columns that matter. The
//! receivables page ages what is outstanding and rates collection per rep, in English and
//! Chinese, with a date filter. The collection settings save a numbering rule, show a bad
//! one's error at its field, and are for administrators only.

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::common::{self, count, id_of};
use crate::line_items::catalogue;

const PASSWORD: &str = "correct-horse-battery-9";

/// The server's clock in these tests: 1 December 2026, 10:00 in Shanghai.
async fn app() -> TestApp {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    app
}

async fn page(web: &WebSession, path: &str) -> Page {
    let page = web.get(path).await;
    page.assert_status(200);
    page
}

/// Follows a 303 to the page it leads to.
async fn follow(web: &WebSession, answer: &Page) -> Page {
    answer.assert_status(303);
    let to = answer.location.clone().unwrap_or_default();
    page(web, &to).await
}

async fn switch_to_chinese(web: &WebSession, here: &str) {
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await
        .assert_status(303);
}

async fn record(app: &TestApp, object: &str, id: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/{object}/{id}")).await;
    r.assert_status(200);
    r.body
}

/// An account and a deal of ¥`amount` on it, at `stage`.
async fn deal(app: &TestApp, name: &str, stage: &str, amount: &str) -> String {
    let account = id_of(
        &app.create("account", &json!({"name": format!("{name} 的客户")}))
            .await,
    );
    let mut deal = json!({"name": name, "account_id": account, "stage": stage,
                          "amount": {"amount": amount, "currency": "CNY"}});
    if stage == "closed_won" {
        deal["win_reason"] = json!("relationship");
    }
    id_of(&app.create("opportunity", &deal).await)
}

/// The HTML of the record page's related list titled `title`.
fn related<'a>(page: &'a Page, title: &str) -> &'a str {
    let marker = format!(">{title} <span class=\"count\">");
    let start = page
        .html
        .find(&marker)
        .unwrap_or_else(|| panic!("no related list {title}: {}", page.html));
    let end = page.html[start..]
        .find("</section>")
        .map_or(page.html.len(), |e| start + e);
    &page.html[start..end]
}

/// The HTML of the receivables row of ageing bucket `bucket`.
fn bucket<'a>(page: &'a Page, bucket: &str) -> &'a str {
    let marker = format!("data-bucket=\"{bucket}\">");
    let start = page
        .html
        .find(&marker)
        .unwrap_or_else(|| panic!("no bucket {bucket}: {}", page.html));
    let end = page.html[start..]
        .find("</tr>")
        .map_or(page.html.len(), |e| start + e);
    &page.html[start..end]
}

/// An active contract of ¥3,000 from a won deal, made through the API.
async fn active_contract(app: &TestApp) -> String {
    let won = deal(app, "年度维保", "closed_won", "3000").await;
    let r = app
        .post(
            &format!("/api/v1/opportunities/{won}/contract"),
            &json!({"start_date": "2026-11-01"}),
        )
        .await;
    r.assert_status(201);
    let contract = id_of(&r.body);
    app.patch(
        &format!("/api/v1/records/contract/{contract}"),
        &json!({"status": "active"}),
    )
    .await
    .assert_status(200);
    contract
}

async fn instalment(app: &TestApp, contract: &str, amount: &str, due: &str) -> String {
    let r = app
        .post(
            "/api/v1/records/payment_plan",
            &json!({"contract_id": contract, "due_date": due,
                    "amount": {"amount": amount, "currency": "CNY"}}),
        )
        .await;
    r.assert_status(201);
    id_of(&r.body)
}

async fn pay(app: &TestApp, contract: &str, amount: &str, date: &str) {
    app.post(
        "/api/v1/records/payment",
        &json!({"contract_id": contract, "payment_date": date, "method": "bank_transfer",
                "amount": {"amount": amount, "currency": "CNY"}}),
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn a_won_deal_or_accepted_quote_becomes_a_contract_from_its_page() {
    let app = app().await;
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let won = deal(&app, "华夏银行 CRM", "closed_won", "42375").await;
    let open = deal(&app, "未赢单的商机", "negotiation", "9000").await;

    // the won deal offers it; posting makes a draft contract and opens it
    let path = format!("/o/opportunity/{won}");
    let action = format!("action=\"{path}/contract\"");
    page(&admin, &path)
        .await
        .assert_contains(&action)
        .assert_contains(">Create contract</button>");
    let made = admin.submit(&path, &format!("{path}/contract"), &[]).await;
    made.assert_status(303);
    let to = made.location.clone().unwrap_or_default();
    assert!(to.starts_with("/o/contract/"), "{to}");
    let contract_id = to["/o/contract/".len()..]
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let contract = follow(&admin, &made).await;
    contract
        .assert_contains("Contract C-2026-0001 created, as a draft.")
        .assert_contains("<h1>华夏银行 CRM</h1>");
    let api = record(&app, "contract", &contract_id).await;
    assert_eq!(api["opportunity_id"], won.as_str());
    assert_eq!(api["status"], "draft");
    assert_eq!(api["amount"]["amount"], "42375.00");
    // the deal's page lists it
    page(&admin, &path)
        .await
        .assert_contains(&format!("href=\"/o/contract/{contract_id}\""));

    // an open deal does not offer it; posting anyway is refused on its page, nothing made
    let path = format!("/o/opportunity/{open}");
    page(&admin, &path)
        .await
        .assert_not_contains(&format!("action=\"{path}/contract\""))
        .assert_not_contains("Create contract");
    let refused = admin.submit(&path, &format!("{path}/contract"), &[]).await;
    refused
        .assert_status(422)
        .assert_contains("role=\"alert\"")
        .assert_contains("Could not create the contract: a contract comes from a won deal, and the deal is not won yet.")
        .assert_contains("<h1>未赢单的商机</h1>");
    assert_eq!(count(&app, "contract").await, 1);
    switch_to_chinese(&admin, &path).await;
    admin
        .submit(&path, &format!("{path}/contract"), &[])
        .await
        .assert_status(422)
        .assert_contains("无法创建合同：合同须由已赢单的商机生成，该商机尚未赢单。");
    assert_eq!(count(&app, "contract").await, 1);

    // a quote offers it once accepted; its contract takes the quote's total
    let c = catalogue(&app).await;
    let quote = id_of(&app.create("quote", &json!({"opportunity_id": won})).await);
    app.create(
        "quote_line_item",
        &json!({"quote_id": quote, "price_book_entry_id": c.entry, "quantity": "2"}),
    )
    .await;
    let path = format!("/o/quote/{quote}");
    page(&admin, &path)
        .await
        .assert_not_contains(&format!("action=\"{path}/contract\""));
    for status in ["sent", "accepted"] {
        app.patch(
            &format!("/api/v1/records/quote/{quote}"),
            &json!({ "status": status }),
        )
        .await
        .assert_status(200);
    }
    page(&admin, &path)
        .await
        .assert_contains(&format!("action=\"{path}/contract\""))
        .assert_contains(">创建合同</button>");
    let made = admin.submit(&path, &format!("{path}/contract"), &[]).await;
    follow(&admin, &made)
        .await
        .assert_contains("已创建合同 C-2026-0002（草稿）。");
    let total = record(&app, "quote", &quote).await["total"].clone();
    let contracts = app.get("/api/v1/records/contract").await;
    contracts.assert_status(200);
    let from_quote = contracts.body["data"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["quote_id"] == quote.as_str()))
        .unwrap_or_else(|| panic!("no contract of the quote: {}", contracts.text));
    assert_eq!(from_quote["amount"], total);
}

#[tokio::test]
async fn a_contract_page_lists_instalments_payments_and_invoices() {
    let app = app().await;
    let contract = active_contract(&app).await;
    // due in order of creation reversed: the page lists them as they fall due
    instalment(&app, &contract, "2000", "2027-01-10").await;
    instalment(&app, &contract, "1000", "2026-12-10").await;
    // 1,500 pays the earliest instalment and half of the next
    pay(&app, &contract, "1500", "2026-12-01").await;
    app.post(
        "/api/v1/records/invoice",
        &json!({"contract_id": contract, "name": "No.00012345", "invoice_type": "vat_special",
                "status": "issued", "issue_date": "2026-12-01",
                "amount": {"amount": "1500", "currency": "CNY"}}),
    )
    .await
    .assert_status(201);

    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let path = format!("/o/contract/{contract}");
    let seen = page(&admin, &path).await;
    let plans = related(&seen, "Payment plans");
    assert!(
        plans.contains("<th scope=\"col\">Instalment</th><th scope=\"col\">Due date</th><th scope=\"col\">Amount</th><th scope=\"col\">Paid</th><th scope=\"col\">Outstanding</th><th scope=\"col\">Status</th>"),
        "{plans}"
    );
    let first = plans
        .find("C-2026-0001 #2")
        .expect("the instalment due first");
    let second = plans.find("C-2026-0001 #1").expect("the one due later");
    assert!(
        first < second,
        "instalments are listed as they fall due: {plans}"
    );
    assert!(
        plans.contains("C-2026-0001 #2</a></td><td>Dec 10, 2026</td><td class=\"num\">CN¥1,000.00</td><td class=\"num\">CN¥1,000.00</td><td class=\"num\">CN¥0.00</td><td>Paid</td>"),
        "{plans}"
    );
    assert!(
        plans.contains("C-2026-0001 #1</a></td><td>Jan 10, 2027</td><td class=\"num\">CN¥2,000.00</td><td class=\"num\">CN¥500.00</td><td class=\"num\">CN¥1,500.00</td><td>Partially paid</td>"),
        "{plans}"
    );
    let payments = related(&seen, "Payments");
    assert!(
        payments.contains("<th scope=\"col\">Payment</th><th scope=\"col\">Payment date</th><th scope=\"col\">Amount</th><th scope=\"col\">Method</th><th scope=\"col\">Instalment</th>"),
        "{payments}"
    );
    assert!(
        payments.contains(
            "<td>Dec 1, 2026</td><td class=\"num\">CN¥1,500.00</td><td>Bank transfer</td>"
        ),
        "{payments}"
    );
    let invoices = related(&seen, "Invoices");
    assert!(
        invoices.contains("<th scope=\"col\">Invoice number</th><th scope=\"col\">Invoice type</th><th scope=\"col\">Status</th><th scope=\"col\">Amount</th><th scope=\"col\">Issue date</th>"),
        "{invoices}"
    );
    assert!(
        invoices.contains("No.00012345</a></td><td>VAT special invoice</td><td>Issued</td><td class=\"num\">CN¥1,500.00</td><td>Dec 1, 2026</td>"),
        "{invoices}"
    );

    // in Chinese, with the statuses in Chinese
    switch_to_chinese(&admin, &path).await;
    let seen = page(&admin, &path).await;
    let plans = related(&seen, "回款计划");
    assert!(plans.contains("<td>已回款</td>"), "{plans}");
    assert!(plans.contains("<td>部分回款</td>"), "{plans}");
    assert!(plans.contains("<td class=\"num\">¥500.00</td>"), "{plans}");
    assert!(
        related(&seen, "回款记录").contains("<td>银行转账</td>"),
        "{}",
        seen.html
    );
}

#[tokio::test]
async fn receivables_age_what_is_outstanding_and_rate_collection_per_rep() {
    let app = app().await;
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    // nothing yet: the empty states, and the navigation's link
    page(&admin, "/receivables")
        .await
        .assert_contains("<a href=\"/receivables\" aria-current=\"page\">Receivables</a>")
        .assert_contains("Nothing is outstanding: every instalment you can see is paid.")
        .assert_contains("No instalment fell due in this period.");

    // ¥1,000 fell due on 15 November (16 days ago), ¥2,000 falls due in January; ¥400 paid
    // goes to the overdue one
    let contract = active_contract(&app).await;
    instalment(&app, &contract, "1000", "2026-11-15").await;
    instalment(&app, &contract, "2000", "2027-01-10").await;
    pay(&app, &contract, "400", "2026-12-01").await;

    let seen = page(&admin, "/receivables").await;
    seen.assert_contains("As of Dec 1, 2026");
    let overdue = bucket(&seen, "1_30");
    assert!(
        overdue.contains(
            "<a href=\"/o/payment_plan?f0=status&#38;o0=eq&#38;v0=overdue\">1–30 days overdue</a>"
        ),
        "{overdue}"
    );
    assert!(
        overdue.contains("<td class=\"num\">1</td><td class=\"num\">CN¥600.00</td>"),
        "{overdue}"
    );
    let current = bucket(&seen, "current");
    assert!(
        current
            .contains("Not yet due</th><td class=\"num\">1</td><td class=\"num\">CN¥2,000.00</td>"),
        "{current}"
    );
    assert!(bucket(&seen, "over_90").contains("<td class=\"num\">0</td><td class=\"num\">—</td>"));
    // of what fell due (¥1,000), ¥400 came in
    seen.assert_contains("<th scope=\"row\">Administrator</th><td>CNY</td><td class=\"num\">CN¥1,000.00</td><td class=\"num\">CN¥400.00</td><td class=\"num\">40%</td>");
    // the overdue bucket leads to the overdue instalments
    page(&admin, "/o/payment_plan?f0=status&o0=eq&v0=overdue")
        .await
        .assert_contains("C-2026-0001 #1")
        .assert_not_contains("C-2026-0001 #2");

    // counting instalments due from 20 November leaves none due; a bad date is said
    page(&admin, "/receivables?since=2026-11-20")
        .await
        .assert_contains("value=\"2026-11-20\"")
        .assert_contains("Instalments due from Nov 20, 2026 to Dec 1, 2026")
        .assert_contains("No instalment fell due in this period.")
        .assert_contains("CN¥600.00");
    admin
        .get("/receivables?since=yesterday")
        .await
        .assert_status(400)
        .assert_contains("id=\"receivables-since-error\" role=\"alert\">“Due from” must be a date")
        .assert_contains("aria-invalid=\"true\"")
        .assert_contains("40%");

    // in Chinese
    switch_to_chinese(&admin, "/receivables").await;
    let seen = page(&admin, "/receivables").await;
    seen.assert_contains("<h1>应收账款</h1>")
        .assert_contains("截至 2026年12月1日")
        .assert_contains("<th scope=\"col\" class=\"num\">回款率</th>")
        .assert_contains("<td class=\"num\">¥400.00</td><td class=\"num\">40%</td>");
    let overdue = bucket(&seen, "1_30");
    assert!(overdue.contains(">逾期 1–30 天</a>"), "{overdue}");
    assert!(overdue.contains("¥600.00"), "{overdue}");
    assert!(bucket(&seen, "current").contains("未到期</th>"));
}

#[tokio::test]
async fn collection_settings_save_a_numbering_rule_and_only_for_administrators() {
    let app = app().await;
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let path = "/settings/collection";
    page(&admin, path)
        .await
        .assert_contains(
            "<a href=\"/settings/collection\" aria-current=\"page\">Payment collection</a>",
        )
        .assert_contains("name=\"contract_numbering\" value=\"C-{YYYY}-{SEQ:4}\"")
        .assert_contains("name=\"overpayment\" value=\"refuse\" checked")
        .assert_contains("HT-{YYYY}{MM}-{SEQ:4} gives HT-202612-0001");
    let fields = |contract: &'static str| {
        [
            ("overpayment", "record"),
            ("currency", "cny"),
            ("contract_numbering", contract),
            ("quote_numbering", "BJ-{YYYY}-{SEQ:4}"),
        ]
    };

    // a bad rule: said at its field, what was typed kept, nothing saved
    let bad = admin.submit(path, path, &fields("C-{SEQ}-{YYYY}")).await;
    bad.assert_status(422)
        .assert_contains("<p class=\"error\" id=\"cs-contract-numbering-error\">This is not a valid numbering rule: {SEQ} must be the last part of the pattern</p>")
        .assert_contains("value=\"C-{SEQ}-{YYYY}\"")
        .assert_contains("aria-invalid=\"true\"");
    let stored = app.get("/api/v1/settings/collection").await;
    assert_eq!(stored.body["contract_numbering"], "C-{YYYY}-{SEQ:4}");
    assert_eq!(stored.body["overpayment"], "refuse");

    // a good one is saved and numbers the next contract
    let saved = admin
        .submit(path, path, &fields("HT-{YYYY}{MM}-{SEQ:4}"))
        .await;
    follow(&admin, &saved)
        .await
        .assert_contains("Payment collection settings saved.")
        .assert_contains("value=\"HT-{YYYY}{MM}-{SEQ:4}\"")
        .assert_contains("name=\"overpayment\" value=\"record\" checked");
    let stored = app.get("/api/v1/settings/collection").await;
    assert_eq!(stored.body["contract_numbering"], "HT-{YYYY}{MM}-{SEQ:4}");
    assert_eq!(stored.body["quote_numbering"], "BJ-{YYYY}-{SEQ:4}");
    assert_eq!(stored.body["currency"], "CNY");
    let contract = active_contract(&app).await;
    assert_eq!(
        record(&app, "contract", &contract).await["contract_number"],
        "HT-202612-0001"
    );

    // in Chinese the error restates the syntax
    switch_to_chinese(&admin, path).await;
    admin
        .submit(path, path, &fields("HT-{SEQ:4}{MM}"))
        .await
        .assert_status(422)
        .assert_contains("编号规则无效：{SEQ:n} 须出现一次且放在最后");

    // a rep without the metadata capability gets the forbidden page, to read or to save
    let rep = app.user("rep.collection@example.com", json!({})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    rep_web
        .get(path)
        .await
        .assert_status(403)
        .assert_contains("This page is for administrators.");
    let csrf = page(&rep_web, "/").await.csrf();
    let mut forged = vec![("_csrf", csrf.as_str())];
    forged.extend(fields("X-{SEQ:2}"));
    rep_web.post(path, &forged).await.assert_status(403);
    assert_eq!(
        app.get("/api/v1/settings/collection").await.body["contract_numbering"],
        "HT-{YYYY}{MM}-{SEQ:4}"
    );
}
