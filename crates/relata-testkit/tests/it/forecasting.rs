//! Sales targets and forecasting (issue 10, items 6–7): targets per user, team and the
//! company on won amount, won count, payments and new customers with attainment computed
//! live and shown only to the people they are for and their managers; the forecast by
//! category per rep with the weighted pipeline, a rep's adjustment and a manager's override
//! (with their history), forecast against target, and weekly snapshots of how it moved.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

use crate::common::{self, assert_field_problem, id_of};

pub struct World {
    pub app: TestApp,
    pub clock: std::sync::Arc<relata_domain::ManualClock>,
    pub manager: relata_core::Actor,
    pub rep1: relata_core::Actor,
    pub rep2: relata_core::Actor,
    pub team: String,
    pub won: String,
    pub proposal: String,
}

async fn role(app: &TestApp, name: &str, parent: Option<&str>) -> String {
    let r = app
        .post(
            "/api/v1/admin/roles",
            &json!({"name": name, "parent_id": parent}),
        )
        .await;
    r.assert_status(201);
    r.body["id"].as_str().unwrap().to_owned()
}

pub async fn deal(app: &TestApp, owner: &relata_core::Actor, fields: Json) -> String {
    let mut body = json!({"name": "deal", "owner_id": owner.user_id.0.to_string()});
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    id_of(&app.create("opportunity", &body).await)
}

pub fn cny(amount: &str) -> Json {
    json!({"amount": amount, "currency": "CNY"})
}

/// 2026-12-07. A director's role with reps beneath it: 王经理 directs 李雷 and 韩梅梅, who
/// make up team 华东组.
/// 李雷: won ¥300,000 in November, ¥200,000 in negotiation (commit), ¥100,000 at proposal
/// (best case), and a deal closing next year; 韩梅梅: won $10,000 in October (¥70,000 at
/// 7.0), ¥50,000 prospecting (pipeline).
pub async fn world() -> World {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 2, 0, 0).unwrap();
    let (app, clock, _runner) = common::app_on_clock(start, 1).await;
    let director = role(&app, "销售总监", None).await;
    let reps = role(&app, "销售代表", Some(&director)).await;
    let manager = app
        .user(
            "manager.fc@example.com",
            json!({"name": "王经理", "role_id": director}),
        )
        .await;
    let rep1 = app
        .user(
            "lilei.fc@example.com",
            json!({"name": "李雷", "role_id": reps}),
        )
        .await;
    let rep2 = app
        .user(
            "hanmeimei.fc@example.com",
            json!({"name": "韩梅梅", "role_id": reps}),
        )
        .await;
    let r = app
        .post("/api/v1/admin/teams", &json!({"name": "华东组"}))
        .await;
    r.assert_status(201);
    let team = r.body["id"].as_str().unwrap().to_owned();
    for rep in [&rep1, &rep2] {
        let r = app
            .put(
                &format!("/api/v1/admin/teams/{team}/members/{}", rep.user_id.0),
                &json!({}),
            )
            .await;
        assert!(r.status < 300, "{}", r.text);
    }
    app.create(
        "exchange_rate",
        &json!({"currency": "USD", "base_currency": "CNY", "rate": "7.0", "effective_from": "2026-01-01"}),
    )
    .await;
    let account = id_of(
        &app.create(
            "account",
            &json!({"name": "江南造船", "owner_id": rep1.user_id.0.to_string()}),
        )
        .await,
    );
    let won = deal(
        &app,
        &rep1,
        json!({"account_id": account, "amount": cny("300000"), "stage": "closed_won",
               "win_reason": "relationship", "close_date": "2026-11-10"}),
    )
    .await;
    deal(
        &app,
        &rep1,
        json!({"amount": cny("200000"), "stage": "negotiation", "close_date": "2026-12-20"}),
    )
    .await;
    let proposal = deal(
        &app,
        &rep1,
        json!({"amount": cny("100000"), "stage": "proposal", "close_date": "2026-12-28"}),
    )
    .await;
    deal(
        &app,
        &rep1,
        json!({"amount": cny("900000"), "stage": "negotiation", "close_date": "2027-01-15"}),
    )
    .await;
    deal(
        &app,
        &rep2,
        json!({"amount": {"amount": "10000", "currency": "USD"}, "stage": "closed_won",
               "win_reason": "price", "close_date": "2026-10-05"}),
    )
    .await;
    deal(
        &app,
        &rep2,
        json!({"amount": cny("50000"), "stage": "prospecting", "close_date": "2026-11-30"}),
    )
    .await;
    World {
        app,
        clock,
        manager,
        rep1,
        rep2,
        team,
        won,
        proposal,
    }
}

fn find<'a>(list: &'a Json, key: &str, value: &str) -> &'a Json {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[tokio::test]
async fn targets_are_measured_live_and_shown_to_their_people_and_managers() {
    let w = world().await;
    let app = &w.app;
    let rep1_id = w.rep1.user_id.0.to_string();
    for body in [
        json!({"assignee": {"type": "user", "id": rep1_id}, "period": "2026-Q4",
               "metric": "won_amount", "target": "600000"}),
        json!({"assignee": {"type": "team", "id": w.team}, "period": "2026-Q4",
               "metric": "won_count", "target": "4"}),
        json!({"assignee": {"type": "company"}, "period": "2026-Q4",
               "metric": "payments_collected", "target": "100000", "currency": "CNY"}),
        json!({"assignee": {"type": "user", "id": rep1_id}, "period": "2026-12",
               "metric": "new_customers", "target": "4"}),
    ] {
        app.post("/api/v1/targets", &body).await.assert_status(201);
    }
    // setting it again replaces it
    let again = app
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "user", "id": rep1_id}, "period": "2026-Q4",
                    "metric": "won_amount", "target": "600000.00"}),
        )
        .await;
    again.assert_status(201);

    // payments on the won deal's contract count towards the company's target
    let r = app
        .post(
            &format!("/api/v1/opportunities/{}/contract", w.won),
            &json!({"status": "active"}),
        )
        .await;
    r.assert_status(201);
    app.post(
        "/api/v1/records/payment",
        &json!({"contract_id": id_of(&r.body), "amount": cny("40000"), "payment_date": "2026-12-01"}),
    )
    .await
    .assert_status(201);

    let r = app.get("/api/v1/targets?period=2026-Q4").await;
    r.assert_status(200);
    let data = &r.body["data"];
    assert_eq!(data.as_array().unwrap().len(), 3, "{data}");
    let won = find(data, "metric", "won_amount");
    assert_eq!(won["actual"], "300000.00");
    assert_eq!(won["attainment"], "50.0");
    assert_eq!(won["currency"], "CNY");
    let count = find(data, "metric", "won_count");
    assert_eq!(count["actual"], "2");
    assert_eq!(count["attainment"], "50.0");
    assert_eq!(
        find(data, "metric", "payments_collected")["actual"],
        "40000.00"
    );
    let month = app.get("/api/v1/targets?period=2026-12").await;
    assert_eq!(
        find(&month.body["data"], "metric", "new_customers")["actual"],
        "1"
    );

    // 韩梅梅 sees her team's and the company's, not 李雷's own; the manager sees his
    let rep2 = app.client_for(&w.rep2).await;
    let r = rep2.get("/api/v1/targets?period=2026-Q4").await;
    r.assert_status(200);
    let metrics: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics.len(), 2, "{metrics:?}");
    assert!(!metrics.contains(&"won_amount"));
    let manager = app.client_for(&w.manager).await;
    let r = manager.get("/api/v1/targets?period=2026-Q4").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);

    // a manager sets the targets of the people beneath them, not a team's; a rep none
    let r = manager
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "user", "id": w.rep2.user_id.0}, "period": "2026-Q4",
                    "metric": "won_count", "target": "3"}),
        )
        .await;
    r.assert_status(201);
    let r = manager
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "team", "id": w.team}, "period": "2026-Q4",
                    "metric": "won_amount", "target": "1"}),
        )
        .await;
    r.assert_status(403);
    let r = rep2
        .delete(&format!("/api/v1/targets/{}", won["id"].as_str().unwrap()))
        .await;
    r.assert_status(403);
    // bad input names the field
    let r = rep2
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "company"}, "period": "2026-Q4", "metric": "won_count", "target": "1"}),
        )
        .await;
    r.assert_status(403);
    let r = app
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "company"}, "period": "2026-Q5", "metric": "won_count", "target": "1"}),
        )
        .await;
    assert_field_problem(&r, 422, "period", "invalid_option");
    let r = app
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "company"}, "period": "2026", "metric": "won_count", "target": "1.5"}),
        )
        .await;
    assert_field_problem(&r, 422, "target", "too_precise");
    let r = app
        .post(
            "/api/v1/targets",
            &json!({"assignee": {"type": "user", "id": uuid::Uuid::nil()}, "period": "2026", "metric": "won_count", "target": "1"}),
        )
        .await;
    assert_field_problem(&r, 422, "assignee", "lookup_not_found");
    app.get("/api/v1/targets").await.assert_status(400);
}

#[tokio::test]
async fn the_forecast_adds_up_by_category_with_adjustments_overrides_and_weekly_snapshots() {
    let w = world().await;
    let app = &w.app;
    app.post(
        "/api/v1/targets",
        &json!({"assignee": {"type": "user", "id": w.rep1.user_id.0}, "period": "2026-Q4",
                "metric": "won_amount", "target": "600000"}),
    )
    .await
    .assert_status(201);
    let manager = app.client_for(&w.manager).await;
    let rep1 = app.client_for(&w.rep1).await;
    let rep2 = app.client_for(&w.rep2).await;
    let (id1, id2) = (w.rep1.user_id.0.to_string(), w.rep2.user_id.0.to_string());

    let f = manager.get("/api/v1/forecast?period=2026-Q4").await;
    f.assert_status(200);
    assert_eq!(f.body["currency"], "CNY");
    let lilei = find(&f.body["reps"], "user_id", &id1);
    assert_eq!(lilei["categories"]["closed"]["computed"], "300000.00");
    assert_eq!(lilei["categories"]["commit"]["computed"], "200000.00");
    assert_eq!(lilei["categories"]["best_case"]["computed"], "100000.00");
    // 200,000 × 80 % + 100,000 × 60 %; the deal closing next year is not in Q4
    assert_eq!(lilei["weighted"], "220000.00");
    assert_eq!(lilei["call"], "500000.00");
    assert_eq!(lilei["target"], "600000");
    assert_eq!(lilei["attainment"], "50.0");
    let han = find(&f.body["reps"], "user_id", &id2);
    assert_eq!(
        han["categories"]["closed"]["computed"], "70000.00",
        "USD at 7.0"
    );
    assert_eq!(han["categories"]["pipeline"]["computed"], "50000.00");
    assert_eq!(f.body["totals"]["closed"], "370000.00");

    // a rep sees their own forecast only
    let own = rep1.get("/api/v1/forecast?period=2026-Q4").await;
    own.assert_status(200);
    assert_eq!(own.body["reps"].as_array().unwrap().len(), 1);
    // a team's: its members (for its members and their managers)
    let team = manager
        .get(&format!("/api/v1/forecast?period=2026-Q4&team={}", w.team))
        .await;
    team.assert_status(200);
    assert_eq!(team.body["reps"].as_array().unwrap().len(), 2);

    // the rep adjusts commit; the manager overrides it; the override stands
    let adjust = |client: &relata_testkit::Client, amount: &str| {
        let body = json!({"user_id": id1, "period": "2026-Q4", "category": "commit",
                          "amount": amount, "note": "客户预算推迟"});
        let client = client.clone();
        async move { client.post("/api/v1/forecast/adjustments", &body).await }
    };
    let r = adjust(&rep1, "150000").await;
    r.assert_status(201);
    assert_eq!(r.body["is_override"], false);
    let f = rep1.get("/api/v1/forecast?period=2026-Q4").await;
    assert_eq!(
        f.body["reps"][0]["categories"]["commit"]["adjusted"],
        "150000"
    );
    assert_eq!(f.body["reps"][0]["call"], "450000.00");
    let r = adjust(&manager, "250000").await;
    r.assert_status(201);
    assert_eq!(r.body["is_override"], true);
    let f = rep1.get("/api/v1/forecast?period=2026-Q4").await;
    assert_eq!(f.body["reps"][0]["call"], "550000.00");
    adjust(&rep2, "1").await.assert_status(403);
    let r = rep1
        .post(
            "/api/v1/forecast/adjustments",
            &json!({"user_id": id1, "period": "2026-Q4", "category": "closed", "amount": "1"}),
        )
        .await;
    assert_field_problem(&r, 422, "category", "invalid_option");
    let history = manager
        .get(&format!(
            "/api/v1/forecast/history?period=2026-Q4&user_id={id1}"
        ))
        .await;
    history.assert_status(200);
    let overrides: Vec<bool> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["is_override"].as_bool().unwrap())
        .collect();
    assert_eq!(overrides, [false, true]);
    rep2.get(&format!(
        "/api/v1/forecast/history?period=2026-Q4&user_id={id1}"
    ))
    .await
    .assert_status(404);

    // weekly snapshots: a week later the proposal grew; the trend shows the move
    app.core.snapshot_forecasts().await.unwrap();
    w.clock.advance(Duration::days(7));
    app.patch(
        &format!("/api/v1/records/opportunity/{}", w.proposal),
        &json!({"amount": cny("180000")}),
    )
    .await
    .assert_status(200);
    app.core.snapshot_forecasts().await.unwrap();
    let trend = manager.get("/api/v1/forecast/trend?period=2026-Q4").await;
    trend.assert_status(200);
    let points = trend.body["data"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(points[0]["taken_on"], "2026-12-07");
    assert_eq!(points[0]["categories"]["best_case"], "100000.00");
    assert_eq!(points[1]["categories"]["best_case"], "180000.00");
    assert_eq!(
        points[1]["categories"]["commit"], "250000",
        "the override stands"
    );
    // a rep's trend is their own
    let mine = rep2.get("/api/v1/forecast/trend?period=2026-Q4").await;
    assert_eq!(mine.body["data"][0]["categories"]["closed"], "70000.00");
}

#[tokio::test]
async fn the_sales_report_shows_revenue_products_and_collection_the_viewer_may_see() {
    let w = world().await;
    let app = &w.app;
    december_sales(&w).await;
    let r = app
        .get("/api/v1/reports/sales?from=2026-10-01&to=2027-01-01")
        .await;
    r.assert_status(200);
    let b = &r.body;
    assert_eq!(b["currency"], "CNY");
    assert_eq!(b["won_by_month"]["2026-10"]["amount"], "70000.00");
    assert_eq!(b["won_by_month"]["2026-11"]["amount"], "300000.00");
    assert_eq!(b["won_by_month"]["2026-12"]["amount"], "56500.00");
    assert_eq!(b["won_by_month"]["2026-12"]["deals"], 1);
    let rep2 = w.rep2.user_id.0.to_string();
    assert_eq!(b["won_by_rep"][&rep2]["amount"], "126500.00");
    assert_eq!(b["won_by_rep"][&rep2]["deals"], 2);
    assert_eq!(b["won_by_product"][0]["name"], "销售云 专业版");
    assert_eq!(b["won_by_product"][0]["quantity"], "4.000");
    assert_eq!(b["won_by_product"][0]["amount"], "50000.00");
    assert_eq!(b["product_mix"][0]["name"], "CRM 套件");
    assert_eq!(b["product_mix"][0]["share"], "100.0");
    let december = &b["collection_by_month"]["2026-12"];
    assert_eq!(december["planned"], "100000.00");
    assert_eq!(december["collected"], "40000.00");
    assert_eq!(december["rate"], "40.00");

    // 韩梅梅 sees her own deals only, and none of 李雷's contract
    let mine = app
        .client_for(&w.rep2)
        .await
        .get("/api/v1/reports/sales?from=2026-10-01&to=2027-01-01")
        .await;
    mine.assert_status(200);
    assert!(
        mine.body["won_by_month"]["2026-11"].is_null(),
        "{}",
        mine.body
    );
    assert_eq!(mine.body["won_by_rep"].as_object().unwrap().len(), 1);
    assert!(mine.body["collection_by_month"]["2026-12"].is_null());

    app.get("/api/v1/reports/sales?from=2027-01-01&to=2026-10-01")
        .await
        .assert_problem(400, "invalid_parameter");
    app.get("/api/v1/reports/sales?from=2026-10-01")
        .await
        .assert_problem(400, "invalid_parameter");
}

/// December's business on top of the world: 韩梅梅 wins four seats (¥50,000 before 13 %
/// VAT, a product of category CRM 套件); 李雷's won deal gets a contract with ¥100,000 due
/// in December, of which ¥40,000 is paid.
pub async fn december_sales(w: &World) {
    let app = &w.app;
    let c = crate::line_items::catalogue(app).await;
    // 韩梅梅 wins four seats in December: ¥50,000 before 13 % VAT
    let seats = deal(
        app,
        &w.rep2,
        json!({"amount": cny("1"), "stage": "negotiation", "close_date": "2026-12-02"}),
    )
    .await;
    app.create(
        "opportunity_line_item",
        &json!({"opportunity_id": seats, "price_book_entry_id": c.entry, "quantity": "4"}),
    )
    .await;
    app.patch(
        &format!("/api/v1/records/opportunity/{seats}"),
        &json!({"stage": "closed_won", "win_reason": "product"}),
    )
    .await
    .assert_status(200);
    // 李雷's won deal: a contract, ¥100,000 due in December, ¥40,000 paid
    let r = app
        .post(
            &format!("/api/v1/opportunities/{}/contract", w.won),
            &json!({"status": "active"}),
        )
        .await;
    r.assert_status(201);
    let contract = id_of(&r.body);
    app.post(
        "/api/v1/records/payment_plan",
        &json!({"contract_id": contract, "amount": cny("100000"), "due_date": "2026-12-15"}),
    )
    .await
    .assert_status(201);
    app.post(
        "/api/v1/records/payment",
        &json!({"contract_id": contract, "amount": cny("40000"), "payment_date": "2026-12-01"}),
    )
    .await
    .assert_status(201);
}
