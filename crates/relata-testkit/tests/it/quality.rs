//! Data quality through the real server: scores by the key fields of an object, the weakest
//! records first, only records the caller may see, and a field hidden from them neither
//! counted nor named; the record page's line and the weakest-records page.

use crate::common;

use relata_testkit::TestApp;
use serde_json::json;

use common::{id_of, user_without_fields};

#[tokio::test]
async fn the_weakest_records_come_first_with_what_they_lack() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "华远"})).await;
    app.create(
            "contact",
            &json!({"name": "完整", "mobile": "13800138000", "email": "a@huayuan.cn", "account_id": acct["id"],
                "title": "经理", "department": "采购", "city": "上海", "source": "web"}),
        )
        .await;
    app.create("contact", &json!({"name": "空白"})).await;
    let half = app
        .create(
            "contact",
            &json!({"name": "一半", "phone": "021-5555 0101", "email": "b@huayuan.cn"}),
        )
        .await;

    let weakest = app.get("/api/v1/records/contact/quality?limit=10").await;
    weakest.assert_status(200);
    let data = weakest.body["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["空白", "一半", "完整"], "{}", weakest.text);
    assert_eq!(data[0]["score"], 0);
    assert_eq!(data[2]["score"], 100);
    assert_eq!(data[2]["missing"], json!([]));
    let half_missing: Vec<&str> = data[1]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert!(
        half_missing.contains(&"account_id") && !half_missing.contains(&"mobile"),
        "{half_missing:?}"
    );
    let score = data[1]["score"].as_i64().unwrap();
    assert!(0 < score && score < 100);

    let one = app
        .get(&format!("/api/v1/records/contact/{}/quality", id_of(&half)))
        .await;
    assert_eq!(one.body["score"].as_i64(), Some(score));
    app.get("/api/v1/records/contact/quality?limit=5000")
        .await
        .assert_status(422);
}

#[tokio::test]
async fn a_reader_sees_the_quality_of_their_records_only_and_hidden_fields_do_not_count() {
    let app = TestApp::spawn().await;
    let rep = user_without_fields(&app, "rep@example.com", json!({"contact": ["email"]})).await;
    let rep_client = app.client_for(&rep).await;
    let mine = rep_client
        .create("contact", &json!({"name": "我的", "mobile": "13800138000"}))
        .await;
    app.create("contact", &json!({"name": "别人的"})).await;
    let seen = rep_client.get("/api/v1/records/contact/quality").await;
    let data = seen.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{}", seen.text);
    assert_eq!(data[0]["id"], mine["id"]);
    assert!(!seen.text.contains("\"email\""), "{}", seen.text);
    let admins = app
        .get(&format!("/api/v1/records/contact/{}/quality", id_of(&mine)))
        .await;
    assert!(
        data[0]["score"].as_i64().unwrap() > admins.body["score"].as_i64().unwrap(),
        "without the email to count, the mobile weighs more: {} vs {}",
        data[0]["score"],
        admins.body["score"]
    );

    // the pages
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    web.get("/o/contact")
        .await
        .assert_contains("href=\"/o/contact/quality\"");
    let page = web.get("/o/contact/quality").await;
    page.assert_status(200)
        .assert_contains("Weakest records")
        .assert_contains("别人的")
        .assert_contains("0%");
    web.get(&format!("/o/contact/{}", id_of(&mine)))
        .await
        .assert_contains("Data quality")
        .assert_contains("missing: Email");
}

/// A custom object with nothing but its name has no key fields: every record is complete, and
/// the weakest-records view still answers (it once sent `ORDER BY (0)`, read by both
/// databases as a column position, and answered 500).
#[tokio::test]
async fn an_object_without_key_fields_ranks_by_age_and_scores_100() {
    let app = TestApp::spawn().await;
    common::create_object(&app, "project", "Project", "Projects").await;
    app.create("project", &json!({"name": "甲"})).await;
    app.create("project", &json!({"name": "乙"})).await;
    let weakest = app.get("/api/v1/records/project/quality").await;
    weakest.assert_status(200);
    let data = weakest.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{}", weakest.text);
    assert!(
        data.iter()
            .all(|d| d["score"] == 100 && d["missing"] == json!([]))
    );
}
