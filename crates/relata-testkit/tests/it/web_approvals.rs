//! Approvals and quotes in the web UI: an admin submits a discounted quote from its page;
//! the approver finds it in the approvals inbox (in English and Chinese), is told a
//! rejection needs a comment, approves with one; the quote's page shows the outcome and
//! every decision, and "Revise" makes version 2 while the old one says it was replaced. A
//! submitter recalls a request from the page; someone who is not the approver cannot decide.
//! A quote's and a deal's lines show what they sell and their totals. Everything typed is
//! escaped.

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::common::{self, id_of};
use crate::line_items::catalogue;

const PASSWORD: &str = "correct-horse-battery-9";

/// What an attacker would type: it must come out escaped.
const PAYLOAD: &str = "<script>alert('x')</script>";

async fn process(app: &TestApp, approver: &relata_core::Actor) {
    app.post(
        "/api/v1/approval-processes",
        &json!({"name": "折扣超过 20% <审批>", "object": "quote",
                "condition": {"field": "discount_percent_total", "op": "gt", "value": 20},
                "steps": [{"name": "销售经理审批", "approvers": {"users": [approver.user_id.0]}}]}),
    )
    .await
    .assert_status(201);
}

/// A deal (shared for reading with `reader`, when given) and a quote on it with one line of
/// four licences at ¥12,500 and `header` % off the whole quote.
async fn deal_and_quote(
    app: &TestApp,
    entry: &str,
    header: &str,
    reader: Option<&relata_core::Actor>,
) -> (String, String) {
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": format!("华夏银行 CRM {PAYLOAD}"),
                    "amount": {"amount": "1", "currency": "CNY"}}),
        )
        .await,
    );
    if let Some(reader) = reader {
        app.post(
            &format!("/api/v1/records/opportunity/{deal}/shares"),
            &json!({"principal": {"kind": "user", "id": reader.user_id.0.to_string()},
                    "access": "read"}),
        )
        .await
        .assert_status(201);
    }
    let quote = id_of(
        &app.create(
            "quote",
            &json!({"opportunity_id": deal, "header_discount_percent": header}),
        )
        .await,
    );
    app.create(
        "quote_line_item",
        &json!({"quote_id": quote, "price_book_entry_id": entry, "quantity": "4"}),
    )
    .await;
    (deal, quote)
}

async fn page(web: &WebSession, path: &str) -> Page {
    let page = web.get(path).await;
    page.assert_status(200);
    assert_escaped(&page, path);
    page
}

#[track_caller]
fn assert_escaped(page: &Page, path: &str) {
    assert!(
        !page.html.contains("<script>alert"),
        "{path} holds a raw script tag"
    );
    assert!(!page.html.contains("<审批>"), "{path} holds a raw tag");
    assert!(!page.html.contains("<i>"), "{path} holds a raw tag");
}

/// Follows a 303 to the page it leads to.
async fn follow(web: &WebSession, answer: &Page) -> Page {
    answer.assert_status(303);
    let to = answer.location.clone().unwrap_or_default();
    page(web, &to).await
}

/// The HTML of the record page's approval panel.
fn panel(page: &Page) -> &str {
    let start = page
        .html
        .find("<section class=\"card approval\"")
        .unwrap_or_else(|| panic!("no approval panel: {}", page.html));
    let end = page.html[start..]
        .find("</section>")
        .map_or(page.html.len(), |e| start + e);
    &page.html[start..end]
}

async fn switch_to_chinese(web: &WebSession, here: &str) {
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await
        .assert_status(303);
}

async fn quote_api(app: &TestApp, id: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/quote/{id}")).await;
    r.assert_status(200);
    r.body
}

#[tokio::test]
async fn a_quote_is_submitted_decided_in_the_inbox_and_revised_from_its_page() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let manager = app
        .user(
            "manager.web@example.com",
            json!({"name": "王经理", "time_zone": "Asia/Shanghai"}),
        )
        .await;
    process(&app, &manager).await;
    let (_, id) = deal_and_quote(&app, &c.entry, "25", Some(&manager)).await;
    let path = format!("/o/quote/{id}");
    let admin = app.web_as(&app.admin().await, PASSWORD).await;

    // the quote's page: not submitted, its line with what it sells, its totals
    let quote = page(&admin, &path).await;
    quote
        .assert_contains("Approval status: <strong class=\"status-none\" data-approval-status=\"none\">Not submitted</strong>")
        .assert_contains(&format!("action=\"{path}/approval/submit\""))
        .assert_contains("Not submitted for approval yet.")
        .assert_contains("<th scope=\"col\">Quantity</th><th scope=\"col\">Unit price</th><th scope=\"col\">Discount</th><th scope=\"col\">Subtotal</th><th scope=\"col\">Total</th>")
        .assert_contains("<td class=\"num\">CN¥12,500.00</td>")
        .assert_contains("<dt>Subtotal</dt><dd>CN¥50,000.00</dd>")
        .assert_contains("<dt>Header discount amount</dt><dd>CN¥12,500.00</dd>")
        .assert_contains("<dt>Tax</dt><dd>CN¥4,875.00</dd>")
        .assert_contains("<dt>Total</dt><dd>CN¥42,375.00</dd>")
        .assert_contains("华夏银行 CRM &#60;script&#62;");
    assert!(!panel(&quote).contains("/revise"), "a draft is not revised");
    // sending it before approval is refused on the field, not with an error page
    let version = quote.hidden("_version").expect("the record's version");
    let send = admin
        .submit(
            &path,
            &format!("{path}/field/status"),
            &[("_version", &version), ("status", "sent")],
        )
        .await;
    send.assert_status(422)
        .assert_contains("needs approval first");
    assert_eq!(quote_api(&app, &id).await["status"], "draft");

    // submitted from the page, with a word for the approver
    let submitted = admin
        .submit(
            &path,
            &format!("{path}/approval/submit"),
            &[("comment", "战略客户，请批准 <i>")],
        )
        .await;
    let quote = follow(&admin, &submitted).await;
    quote.assert_contains("Submitted for approval.");
    let p = panel(&quote);
    assert!(p.contains(">In approval</strong>"), "{p}");
    assert!(
        p.contains(&format!("action=\"{path}/approval/recall\"")),
        "{p}"
    );
    assert!(!p.contains("/approval/submit"), "{p}");
    assert!(p.contains("战略客户，请批准 &#60;i&#62;"), "{p}");
    assert_eq!(quote_api(&app, &id).await["approval_status"], "pending");

    // the approver: the navigation counts it; the inbox shows what and who
    let web = app.web_as(&manager, PASSWORD).await;
    page(&web, "/").await.assert_contains(
        "<a href=\"/approvals\">Approvals <span class=\"badge\">1<span class=\"sr\">",
    );
    let inbox = page(&web, "/approvals").await;
    inbox
        .assert_contains("<a href=\"/approvals\" aria-current=\"page\">Approvals")
        .assert_contains("Waiting for me (1)")
        .assert_contains(&format!("<a href=\"{path}\">华夏银行 CRM &#60;script&#62;"))
        .assert_contains("<dd>折扣超过 20% &#60;审批&#62;</dd>")
        .assert_contains("<dd>Step 1 · 销售经理审批</dd>")
        .assert_contains("<dd>Q-2026-0001</dd>")
        .assert_contains("<dd>CN¥42,375.00</dd>")
        .assert_contains("<dd>25%</dd>")
        .assert_contains("战略客户，请批准 &#60;i&#62;")
        .assert_contains("name=\"decision\" value=\"approve\"")
        .assert_contains("name=\"decision\" value=\"reject\"");
    let request = app
        .client_for(&manager)
        .await
        .get("/api/v1/approvals")
        .await
        .body["data"][0]["id"]
        .as_str()
        .expect("the request")
        .to_owned();
    let decide = format!("/approvals/{request}/decide");

    // in Chinese too
    switch_to_chinese(&web, "/approvals").await;
    let inbox = page(&web, "/approvals").await;
    inbox
        .assert_contains("<h1>审批</h1>")
        .assert_contains("待我审批（1）")
        .assert_contains("<dd>第 1 步 · 销售经理审批</dd>")
        .assert_contains("<dd>¥42,375.00</dd>")
        .assert_contains(">同意</button>")
        .assert_contains(">驳回</button>");

    // a rejection needs a comment: said beside the form, nothing decided
    let refused = web
        .submit(
            "/approvals",
            &decide,
            &[("decision", "reject"), ("comment", "  ")],
        )
        .await;
    refused
        .assert_status(422)
        .assert_contains("role=\"alert\"")
        .assert_contains(&format!("id=\"c-{request}-error\">请填写驳回理由"))
        .assert_contains("aria-invalid=\"true\"");
    assert_eq!(quote_api(&app, &id).await["approval_status"], "pending");

    // approved with a comment: back to the inbox, now empty
    let approved = web
        .submit(
            "/approvals",
            &decide,
            &[("decision", "approve"), ("comment", "同意，下不为例 <i>")],
        )
        .await;
    let inbox = follow(&web, &approved).await;
    inbox
        .assert_contains("已同意。")
        .assert_contains("没有待您审批的申请。")
        .assert_not_contains("class=\"badge\"");
    assert_eq!(quote_api(&app, &id).await["approval_status"], "approved");
    // the bell told the approver, and tells the submitter the outcome
    page(&web, "/notifications").await.assert_contains(
        "<a href=\"/approvals\">Administrator 提交了报价单“华夏银行 CRM &#60;script&#62;",
    );
    page(&admin, "/notifications")
        .await
        .assert_contains(&format!(
            "<a href=\"{path}\">Your Quote “华夏银行 CRM &#60;script&#62;"
        ))
        .assert_contains("Q-2026-0001” was approved.");
    // deciding again is refused with the reason, not an error page
    web.submit("/approvals", &decide, &[("decision", "approve")])
        .await
        .assert_status(422)
        .assert_contains("审批未保存：");

    // the page shows the outcome and the decision, to the approver in Chinese
    let seen = page(&web, &path).await;
    let p = panel(&seen);
    assert!(p.contains(">已通过</strong>"), "{p}");
    assert!(p.contains("<td>王经理</td><td class=\"verdict-approved\">同意</td><td>同意，下不为例 &#60;i&#62;</td>"), "{p}");
    assert!(
        !p.contains("/revise"),
        "the approver may not edit the quote: {p}"
    );

    // and to the admin, who may now revise it
    let quote = page(&admin, &path).await;
    let p = panel(&quote);
    assert!(p.contains(">Approved</strong>"), "{p}");
    assert!(
        p.contains(
            "<td class=\"verdict-approved\">Approved</td><td>同意，下不为例 &#60;i&#62;</td>"
        ),
        "{p}"
    );
    assert!(p.contains(">Revise quote</button>"), "{p}");
    assert!(!p.contains("/approval/submit"), "{p}");
    assert!(!p.contains("/approval/recall"), "{p}");
    // the lines of a fixed quote offer no "add"
    assert!(
        !quote
            .html
            .contains(&format!("/o/quote_line_item/new?quote_id={id}"))
    );

    // revised: version 2 opens, a draft with its line, and the old one says it was replaced
    let revised = admin.submit(&path, &format!("{path}/revise"), &[]).await;
    let v2 = follow(&admin, &revised).await;
    v2.assert_contains("Version 2 created");
    let v2_id = revised
        .location
        .as_deref()
        .and_then(|l| l.strip_prefix("/o/quote/"))
        .and_then(|l| l.split('?').next())
        .expect("the new version's page")
        .to_owned();
    let p = panel(&v2);
    assert!(p.contains(">Not submitted</strong>"), "{p}");
    assert!(p.contains("/approval/submit"), "{p}");
    v2.assert_contains("<dt>Total</dt><dd>CN¥42,375.00</dd>")
        .assert_contains(&format!("/o/quote_line_item/new?quote_id={v2_id}"));
    let api = quote_api(&app, &v2_id).await;
    assert_eq!(api["quote_version"], 2);
    assert_eq!(api["quote_number"], "Q-2026-0001");
    assert_eq!(api["previous_version_id"], id.as_str());
    let old = page(&admin, &path).await;
    let p = panel(&old);
    assert!(p.contains("A newer version replaced this quote"), "{p}");
    assert!(
        p.contains(&format!(
            "<a href=\"/o/quote/{v2_id}\">Open the newer version</a>"
        )),
        "{p}"
    );
    assert!(
        !p.contains("/revise") && !p.contains("/approval/submit"),
        "{p}"
    );
    // revising the old one again is refused on its page, not with a server error
    admin
        .submit(&path, &format!("{path}/revise"), &[])
        .await
        .assert_status(409)
        .assert_contains("Could not revise the quote: a newer version of this quote exists");
}

#[tokio::test]
async fn a_submitter_recalls_a_request_and_only_the_approver_decides_it() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    let manager = app.user("manager.recall@example.com", json!({})).await;
    let rep = app
        .user("rep.recall@example.com", json!({"name": "李销售"}))
        .await;
    process(&app, &manager).await;
    let (_, id) = deal_and_quote(&app, &c.entry, "30", Some(&manager)).await;
    // the rep may edit the quote: the admin makes them the deal's owner
    let deal = quote_api(&app, &id).await["opportunity_id"]
        .as_str()
        .expect("the deal")
        .to_owned();
    app.patch(
        &format!("/api/v1/records/opportunity/{deal}"),
        &json!({"owner_id": rep.user_id.0.to_string()}),
    )
    .await
    .assert_status(200);
    let path = format!("/o/quote/{id}");
    let rep_web = app.web_as(&rep, PASSWORD).await;
    let submitted = rep_web
        .submit(&path, &format!("{path}/approval/submit"), &[])
        .await;
    let quote = follow(&rep_web, &submitted).await;
    let p = panel(&quote);
    assert!(
        p.contains(&format!("action=\"{path}/approval/recall\"")),
        "{p}"
    );
    assert!(p.contains("Submitted by 李销售"), "{p}");

    // someone who is not the approver is told so
    let request = app
        .client_for(&manager)
        .await
        .get("/api/v1/approvals")
        .await
        .body["data"][0]["id"]
        .as_str()
        .expect("the request")
        .to_owned();
    rep_web
        .submit(
            "/approvals",
            &format!("/approvals/{request}/decide"),
            &[("decision", "approve")],
        )
        .await
        .assert_status(422)
        .assert_contains("you are not an approver of this step");
    page(&rep_web, "/approvals")
        .await
        .assert_contains("Nothing is waiting for your decision.");
    // the approver sees the request waiting for them on the page too
    let manager_web = app.web_as(&manager, PASSWORD).await;
    let seen = page(&manager_web, &path).await;
    let p = panel(&seen);
    assert!(
        p.contains(&format!("href=\"/approvals#r-{request}\"")),
        "{p}"
    );
    assert!(
        !p.contains("/approval/recall"),
        "only its submitter recalls: {p}"
    );

    // recalled: back to not submitted, the request kept in the history
    let recalled = rep_web
        .submit(
            &path,
            &format!("{path}/approval/recall"),
            &[("request", &request)],
        )
        .await;
    let quote = follow(&rep_web, &recalled).await;
    quote.assert_contains("The approval request was recalled.");
    let p = panel(&quote);
    assert!(p.contains(">Not submitted</strong>"), "{p}");
    assert!(p.contains(">Recalled</strong>"), "{p}");
    assert!(p.contains("/approval/submit"), "{p}");
    assert_eq!(quote_api(&app, &id).await["approval_status"], "none");
    page(&manager_web, "/approvals")
        .await
        .assert_contains("Waiting for me (0)");
    // a recall of a request that is no longer pending is refused on the page
    rep_web
        .submit(
            &path,
            &format!("{path}/approval/recall"),
            &[("request", &request)],
        )
        .await
        .assert_status(422)
        .assert_contains("Could not recall the request:");
}

#[tokio::test]
async fn a_quote_no_process_matches_is_approved_at_once_and_a_deal_totals_its_products() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    let manager = app.user("manager.none@example.com", json!({})).await;
    process(&app, &manager).await;
    let (deal, id) = deal_and_quote(&app, &c.entry, "10", None).await;
    app.create(
        "opportunity_line_item",
        &json!({"opportunity_id": deal, "price_book_entry_id": c.entry, "quantity": "4"}),
    )
    .await;
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let path = format!("/o/quote/{id}");
    let submitted = admin
        .submit(&path, &format!("{path}/approval/submit"), &[])
        .await;
    let quote = follow(&admin, &submitted).await;
    quote.assert_contains("No approval is needed: it is approved.");
    assert!(panel(&quote).contains(">Approved</strong>"));
    // the deal lists its products with what they sell and their totals (4 × ¥12,500, 13 %)
    let deal_page = page(&admin, &format!("/o/opportunity/{deal}")).await;
    deal_page
        .assert_contains("<th scope=\"col\">Quantity</th><th scope=\"col\">Unit price</th><th scope=\"col\">Discount</th><th scope=\"col\">Subtotal</th><th scope=\"col\">Total</th>")
        .assert_contains("<dt>Subtotal</dt><dd>CN¥50,000.00</dd>")
        .assert_contains("<dt>Tax</dt><dd>CN¥6,500.00</dd>")
        .assert_contains("<dt>Total</dt><dd>CN¥56,500.00</dd>");
    // a deal has no approval panel
    deal_page.assert_not_contains("<section class=\"card approval\"");
}
