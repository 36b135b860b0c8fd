//! The API side of what the web UI shows: page layouts, grouped totals, saved views and
//! recent items.

use relata_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_layout_is_set_through_the_api_and_refused_when_it_names_a_wrong_field() {
    let app = TestApp::spawn().await;
    let ok = app
        .client
        .send(
            reqwest::Method::PUT,
            "/api/v1/meta/objects/account/layout",
            Some(&json!({"sections": [{"label": "基本信息", "fields": ["name", "industry"]}, {"label": "联系方式", "fields": ["phone"]}]})),
            &[],
        )
        .await;
    ok.assert_status(200);
    assert_eq!(ok.body["layout"][0]["fields"], json!(["name", "industry"]));
    let bad = app
        .client
        .send(
            reqwest::Method::PUT,
            "/api/v1/meta/objects/account/layout",
            Some(&json!({"sections": [{"label": "A", "fields": ["name", "nope", "owner_id"]}, {"label": "B", "fields": ["name"]}]})),
            &[],
        )
        .await;
    bad.assert_status(422);
    assert_eq!(bad.error_fields().len(), 3, "{}", bad.text);
    // unchanged after the refusal
    let object = app.get("/api/v1/meta/objects/account").await;
    assert_eq!(object.body["layout"][1]["label"], "联系方式");
}

#[tokio::test]
async fn totals_by_stage_cover_the_visible_records_per_currency() {
    let app = TestApp::spawn().await;
    for (stage, amount, currency) in [
        ("proposal", "100", "CNY"),
        ("proposal", "250.5", "CNY"),
        ("proposal", "10", "USD"),
        ("negotiation", "1000", "CNY"),
    ] {
        app.create(
            "opportunity",
            &json!({"name": "x", "stage": stage, "amount": {"amount": amount, "currency": currency}}),
        )
        .await;
    }
    let rep = app.user("rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    rep_client
        .create(
            "opportunity",
            &json!({"name": "mine", "stage": "proposal", "amount": "7"}),
        )
        .await;

    let all = app
        .get("/api/v1/records/opportunity/aggregate?group_by=stage&sum=amount")
        .await;
    all.assert_status(200);
    let proposal = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["key"] == "proposal")
        .unwrap()
        .clone();
    assert_eq!(proposal["count"], 4);
    let cny = proposal["sums"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "CNY")
        .unwrap();
    assert_eq!(
        cny["amount"].as_str().unwrap().parse::<f64>().unwrap(),
        357.5
    );

    // the rep's totals are over their own record only
    let mine = rep_client
        .get("/api/v1/records/opportunity/aggregate?group_by=stage&sum=amount")
        .await;
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["data"][0]["count"], 1);

    let filtered = app
        .get("/api/v1/records/opportunity/aggregate?group_by=stage&filter=stage%20eq%20negotiation")
        .await;
    assert_eq!(
        filtered.body["data"],
        json!([{"key": "negotiation", "count": 1, "sums": []}])
    );
    app.get("/api/v1/records/opportunity/aggregate?group_by=description")
        .await
        .assert_status(422);
}

#[tokio::test]
async fn saved_views_and_recent_items_through_the_api() {
    let app = TestApp::spawn().await;
    let saved = app
        .post(
            "/api/v1/views/contact",
            &json!({"name": "北京", "query": "f0=city&o0=eq&v0=北京", "shared": true}),
        )
        .await;
    saved.assert_status(201);
    let id = saved.body["id"].as_str().unwrap().to_owned();
    let rep = app.user("rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let theirs = rep_client.get("/api/v1/views/contact").await;
    assert_eq!(theirs.body["data"][0]["name"], "北京");
    rep_client
        .delete(&format!("/api/v1/views/contact/{id}"))
        .await
        .assert_status(404);
    app.delete(&format!("/api/v1/views/contact/{id}"))
        .await
        .assert_status(204);
    app.post("/api/v1/views/contact", &json!({"name": ""}))
        .await
        .assert_status(422);
    let recent = app.get("/api/v1/me/recent").await;
    assert_eq!(recent.body["data"], json!([]));
}
