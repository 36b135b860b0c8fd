//! The web UI's actions through the real server: bulk changes and the one-time message that
//! reports them, what a record page offers to someone with a read-only share, token expiry
//! on the profile page, the user picker, and layouts with many sections.

use relata_testkit::{TestApp, WebSession};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-9";

async fn admin_web(app: &TestApp) -> WebSession {
    app.web_as(&app.admin().await, PASSWORD).await
}

fn id_of(record: &serde_json::Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_bulk_owner_change_is_one_transfer_with_one_notification_and_one_message() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let rep = app.user("rep@example.com", json!({"name": "王强"})).await;
    let ids: Vec<String> = futures_ids(&app, 3).await;
    let mut fields: Vec<(&str, &str)> = vec![
        ("action", "owner"),
        ("value", "王强"),
        ("back", "/o/account?sort=name"),
    ];
    fields.extend(ids.iter().map(|i| ("ids", i.as_str())));
    let done = web.submit("/o/account", "/o/account/bulk", &fields).await;
    done.assert_status(303);
    let at = done.location.clone().unwrap();
    web.get(&at)
        .await
        .assert_status(200)
        .assert_contains("3 of 3 records changed.");
    for id in &ids {
        let record = app.get(&format!("/api/v1/records/account/{id}")).await;
        assert_eq!(record.body["owner_id"], rep.user_id.0.to_string());
    }
    let (notes, unread) = app.core.my_notifications(&rep, 10).await.unwrap();
    assert_eq!(
        (notes.len(), unread),
        (1, 1),
        "one notification for the batch"
    );
    assert_eq!(notes[0].kind, "records.transferred");

    // a second bulk action from the page the first one led to: one message, the new one
    let mut again: Vec<(&str, &str)> = vec![
        ("action", "field"),
        ("field", "industry"),
        ("value", "technology"),
        ("back", &at),
    ];
    again.extend(ids.iter().map(|i| ("ids", i.as_str())));
    let second = web.submit(&at, "/o/account/bulk", &again).await;
    let second_at = second.location.clone().unwrap();
    assert_eq!(second_at.matches("outcome=").count(), 1, "{second_at}");
    assert!(second_at.contains("sort=name"), "{second_at}");
    let page = web.get(&second_at).await;
    assert_eq!(page.html.matches("3 of 3 records changed.").count(), 1);
}

async fn futures_ids(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let a = app
            .create("account", &json!({"name": format!("批量客户{i}")}))
            .await;
        ids.push(id_of(&a));
    }
    ids
}

#[tokio::test]
async fn a_message_in_a_crafted_link_or_a_saved_view_is_never_shown() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let crafted = web
        .get("/o/account?outcome=Your+account+is+locked%2C+call+400-000-0000")
        .await;
    crafted.assert_status(200);
    assert!(
        !crafted.html.contains("call 400"),
        "unsigned text is not shown"
    );
    let forged = web
        .get("/o/account?outcome=call+400&sig=0000000000000000000000000000000000000000000000000000000000000000")
        .await;
    assert!(!forged.html.contains("call 400"));

    // a message signed for one session does not show in another's
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    let a = app.create("account", &json!({"name": "华远"})).await;
    let id = id_of(&a);
    let done = web
        .submit(
            "/o/account",
            "/o/account/bulk",
            &[
                ("action", "field"),
                ("field", "industry"),
                ("value", "technology"),
                ("back", "/o/account"),
                ("ids", &id),
            ],
        )
        .await;
    let at = done.location.clone().unwrap();
    web.get(&at)
        .await
        .assert_contains("1 of 1 records changed.");
    assert!(!rep_web.get(&at).await.html.contains("records changed"));

    // a view saved through the API keeps none of a visit's parameters
    let saved = app
        .post(
            "/api/v1/views/account",
            &json!({"name": "mine", "query": "sort=name&outcome=call+400&sig=ab&cursor=x&view=y", "shared": true}),
        )
        .await;
    saved.assert_status(201);
    assert_eq!(saved.body["query"], "sort=name");
}

#[tokio::test]
async fn a_read_only_share_shows_the_record_without_edit_or_delete() {
    let app = TestApp::spawn().await;
    let owner = app
        .user("owner@example.com", json!({"name": "Owner"}))
        .await;
    let reader = app
        .user("reader@example.com", json!({"name": "Reader"}))
        .await;
    let owner_client = app.client_for(&owner).await;
    let contact = owner_client
        .create("contact", &json!({"name": "共享联系人"}))
        .await;
    let id = id_of(&contact);
    for (who, access) in [(&reader, "read")] {
        owner_client
            .post(
                &format!("/api/v1/records/contact/{id}/shares"),
                &json!({"principal": {"kind": "user", "id": who.user_id.0.to_string()}, "access": access}),
            )
            .await
            .assert_status(201);
    }
    let reader_web = app.web_as(&reader, PASSWORD).await;
    let page = reader_web.get(&format!("/o/contact/{id}")).await;
    page.assert_status(200).assert_contains("共享联系人");
    assert!(
        !page.html.contains(&format!("/o/contact/{id}/edit")),
        "no edit button"
    );
    assert!(
        !page.html.contains(&format!("/o/contact/{id}/field/")),
        "no inline editors"
    );
    assert!(!page.html.contains(&format!("/o/contact/{id}/delete")));

    // with edit access the same page offers the editor, and still no delete
    owner_client
        .post(
            &format!("/api/v1/records/contact/{id}/shares"),
            &json!({"principal": {"kind": "user", "id": reader.user_id.0.to_string()}, "access": "edit"}),
        )
        .await
        .assert_status(201);
    let page = reader_web.get(&format!("/o/contact/{id}")).await;
    page.assert_contains(&format!("/o/contact/{id}/edit"));
    assert!(!page.html.contains(&format!("/o/contact/{id}/delete")));
    // the owner has both
    let owner_web = app.web_as(&owner, PASSWORD).await;
    owner_web
        .get(&format!("/o/contact/{id}"))
        .await
        .assert_contains(&format!("/o/contact/{id}/delete"));
}

#[tokio::test]
async fn a_token_expiry_that_is_not_a_number_is_an_error_not_a_token_for_ever() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let before = app.get("/api/v1/me/tokens").await;
    let count = |r: &relata_testkit::Resp| r.body["data"].as_array().map_or(0, Vec::len);
    let n = count(&before);
    for days in ["9O", "-5", "0", "99999"] {
        let page = web
            .submit(
                "/me",
                "/me/tokens",
                &[("token_name", "ci"), ("expires_in_days", days)],
            )
            .await;
        page.assert_status(422)
            .assert_contains("id=\"e-p-token-days\"");
    }
    assert_eq!(count(&app.get("/api/v1/me/tokens").await), n);
    // empty means a token without expiry, on purpose
    web.submit(
        "/me",
        "/me/tokens",
        &[("token_name", "ci"), ("expires_in_days", "")],
    )
    .await
    .assert_status(200);
    assert_eq!(count(&app.get("/api/v1/me/tokens").await), n + 1);
}

#[tokio::test]
async fn the_user_picker_matches_underscores_and_percent_signs_literally() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    app.user("li_lei@example.com", json!({"name": "Li Lei"}))
        .await;
    app.user("lixlei@example.com", json!({"name": "Li X"}))
        .await;
    app.user("han%mei@example.com", json!({"name": "韩梅梅"}))
        .await;
    let found = web.get("/lookup-users?q=li_lei").await;
    found.assert_status(200);
    assert!(found.html.contains("li_lei@example.com"), "{}", found.html);
    assert!(
        !found.html.contains("lixlei"),
        "'_' is not a wildcard: {}",
        found.html
    );
    let percent = web.get("/lookup-users?q=han%25m").await;
    assert!(percent.html.contains("韩梅梅"), "{}", percent.html);
    let none = web.get("/lookup-users?q=%25").await;
    assert!(!none.html.contains("Li Lei"), "{}", none.html);
}

#[tokio::test]
async fn a_layout_with_more_than_six_sections_survives_a_save_from_the_page() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let fields = [
        "name", "industry", "phone", "website", "city", "level", "source", "region",
    ];
    let sections: Vec<serde_json::Value> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| json!({"label": format!("第{}部分", i + 1), "fields": [f]}))
        .collect();
    app.client
        .send(
            reqwest::Method::PUT,
            "/api/v1/meta/objects/account/layout",
            Some(&json!({ "sections": sections })),
            &[],
        )
        .await
        .assert_status(200);
    let page = web.get("/settings/objects/account/layout").await;
    page.assert_status(200)
        .assert_contains("name=\"section_label_8\" value=\"第8部分\"")
        .assert_contains("name=\"section_label_10\"");
    // the page posts back what it shows
    let mut form: Vec<(String, String)> = (1..=8)
        .map(|i| (format!("section_label_{i}"), format!("第{i}部分")))
        .collect();
    for (i, f) in fields.iter().enumerate() {
        form.push((format!("section_{f}"), (i + 1).to_string()));
        form.push((format!("order_{f}"), "10".into()));
    }
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    web.submit(
        "/settings/objects/account/layout",
        "/settings/objects/account/layout",
        &refs,
    )
    .await
    .assert_status(303);
    let object = app.get("/api/v1/meta/objects/account").await;
    let layout = object.body["layout"].as_array().unwrap();
    assert_eq!(layout.len(), 8, "{layout:?}");
    assert_eq!(layout[7]["label"], "第8部分");
    assert_eq!(layout[7]["fields"], json!(["region"]));
}

#[tokio::test]
async fn a_grouped_total_over_a_text_field_is_capped() {
    let app = TestApp::spawn().await;
    let records = (0..230)
        .map(|i| json!({"name": format!("客户{i}"), "city": format!("城市{i:03}"), "industry": "technology"}))
        .chain((0..3).map(|i| json!({"name": format!("上海{i}"), "city": "上海"})));
    for record in records {
        app.create("account", &record).await;
    }
    let groups = app
        .get("/api/v1/records/account/aggregate?group_by=city")
        .await;
    groups.assert_status(200);
    let data = groups.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 200);
    assert_eq!(groups.body["truncated"], true);
    assert_eq!(data[0]["key"], "上海");
    assert_eq!(data[0]["count"], 3);
    let few = app
        .get("/api/v1/records/account/aggregate?group_by=industry")
        .await;
    assert_eq!(few.body["truncated"], false);
}
