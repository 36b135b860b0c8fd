//! Duplicate rules configured by administrators: a rule replaces the standard one, is checked
//! against the object's fields, can be switched off, and — set to block — refuses creates,
//! edits and imported rows that would make a duplicate, naming the duplicates the user may
//! see and only counting the others.

use crate::common;

use relata_core::import::{ImportRequest, OnDuplicate};
use relata_testkit::TestApp;
use serde_json::json;

use common::{assert_field_problem, id_of, user_without_fields};

/// `PUT` as the admin client.
async fn put(app: &TestApp, path: &str, body: &serde_json::Value) -> relata_testkit::Resp {
    app.client
        .send(reqwest::Method::PUT, path, Some(body), &[])
        .await
}

fn email_rule(action: &str) -> serde_json::Value {
    json!({"fields": [
        {"fields": ["email"], "comparator": "email", "weight": 0.95},
        {"fields": ["phone", "mobile"], "comparator": "phone", "weight": 0.9}
    ], "threshold": 0.9, "action": action})
}

#[tokio::test]
async fn a_blocking_rule_refuses_creates_and_edits_that_make_a_duplicate() {
    let app = TestApp::spawn().await;
    let url = "/api/v1/meta/objects/contact/matching_rule";
    let standard = app.get(url).await;
    assert_eq!(standard.body["standard"], true, "{}", standard.text);
    assert_eq!(standard.body["rule"]["action"], "warn");
    let set = put(&app, url, &email_rule("block")).await;
    set.assert_status(200);
    assert_eq!(set.body["standard"], false);

    let first = app
        .create(
            "contact",
            &json!({"name": "张伟", "email": "zhang.wei@huayuan.cn"}),
        )
        .await;
    // the same address in other case and spacing is the same person
    let again = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "张 伟", "email": " Zhang.Wei@HUAYUAN.cn"}),
        )
        .await;
    again.assert_problem(409, "duplicate_blocked");
    assert!(again.text.contains(&id_of(&first)), "{}", again.text);
    assert_eq!(common::count(&app, "contact").await, 1, "nothing written");

    // a colleague who cannot see the first contact is refused too, without learning its id
    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let theirs = rep_client
        .post(
            "/api/v1/records/contact",
            &json!({"name": "Wei Zhang", "email": "zhang.wei@huayuan.cn"}),
        )
        .await;
    theirs.assert_problem(409, "duplicate_blocked");
    assert!(!theirs.text.contains(&id_of(&first)), "{}", theirs.text);
    assert!(
        theirs.text.contains("1 record(s) you may not see"),
        "{}",
        theirs.text
    );

    // an edit into a duplicate is refused; an edit of other fields is not
    let second = app
        .create("contact", &json!({"name": "李娜", "mobile": "13900001111"}))
        .await;
    let url2 = format!("/api/v1/records/contact/{}", id_of(&second));
    app.patch(&url2, &json!({"email": "zhang.wei@huayuan.cn"}))
        .await
        .assert_problem(409, "duplicate_blocked");
    app.patch(&url2, &json!({"title": "经理"}))
        .await
        .assert_status(200);
    // the first contact's own edits are not against itself
    app.patch(
        &format!("/api/v1/records/contact/{}", id_of(&first)),
        &json!({"email": "zhang.wei@huayuan.cn", "title": "总监"}),
    )
    .await
    .assert_status(200);

    // a bulk upsert is refused as a whole when one record would be a duplicate; updating the
    // record itself by its id is not a duplicate of itself
    let bulk = app
        .post(
            "/api/v1/records/contact/bulk",
            &json!({"key": "id", "records": [{"name": "新人", "email": "new@x.cn"}, {"name": "又一个张伟", "email": "ZHANG.WEI@huayuan.cn"}]}),
        )
        .await;
    bulk.assert_problem(409, "duplicate_blocked");
    assert!(bulk.text.contains("records[1]"), "{}", bulk.text);
    assert_eq!(common::count(&app, "contact").await, 2, "nothing written");
    app.post(
        "/api/v1/records/contact/bulk",
        &json!({"key": "id", "records": [{"id": first["id"], "email": "zhang.wei@huayuan.cn", "title": "副总"}]}),
    )
    .await
    .assert_status(200);
    // two records of one call that duplicate each other are refused as well, naming both
    let twins = app
        .post(
            "/api/v1/records/contact/bulk",
            &json!({"key": "id", "records": [
                {"name": "王芳", "email": "wang.fang@example.cn"},
                {"name": "赵强", "email": "zhao@example.cn"},
                {"name": "王 芳", "email": "Wang.Fang+crm@example.cn"}
            ]}),
        )
        .await;
    twins.assert_problem(409, "duplicate_blocked");
    assert!(
        twins.text.contains("records[2]") && twins.text.contains("records[0]"),
        "{}",
        twins.text
    );
    assert_eq!(common::count(&app, "contact").await, 2, "nothing written");

    // switched off: no duplicates at all, creates pass
    let mut off = email_rule("block");
    off["active"] = json!(false);
    put(&app, url, &off).await.assert_status(200);
    let check = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"email": "zhang.wei@huayuan.cn"}),
        )
        .await;
    assert_eq!(check.body["data"], json!([]), "{}", check.text);
    app.post(
        "/api/v1/records/contact",
        &json!({"name": "张伟2", "email": "zhang.wei@huayuan.cn"}),
    )
    .await
    .assert_status(201);
    // back to the standard rule
    let reset = app.delete(url).await;
    assert_eq!(reset.body["standard"], true, "{}", reset.text);
    let audit = app
        .get("/api/v1/admin/audit?action=metadata.matching_rule_update")
        .await;
    assert_eq!(
        audit.body["data"].as_array().unwrap().len(),
        3,
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn a_rule_is_checked_against_the_object_and_set_by_admins_only() {
    let app = TestApp::spawn().await;
    let url = "/api/v1/meta/objects/account/matching_rule";
    let bad = put(
        &app,
        url,
        &json!({"fields": [
                {"fields": ["no_such_field"], "comparator": "exact", "weight": 0.5},
                {"fields": ["annual_revenue"], "comparator": "company_name", "weight": 0.5},
                {"fields": ["name"], "comparator": "company_name", "weight": 1.5}
            ], "threshold": 0}),
    )
    .await;
    bad.assert_status(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "fields.0.fields",
            "fields.1.comparator",
            "fields.2.weight",
            "threshold"
        ],
        "{}",
        bad.text
    );
    assert_field_problem(
        &put(&app, url, &json!({"fields": [], "threshold": 0.9})).await,
        422,
        "fields",
        "invalid_option",
    );
    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    app.client_for(&rep)
        .await
        .send(reqwest::Method::PUT, url, Some(&email_rule("warn")), &[])
        .await
        .assert_status(403);
    // a custom object may have a rule of its own; it had none
    common::create_object(&app, "supplier", "Supplier", "Suppliers").await;
    let none = app.get("/api/v1/meta/objects/supplier/matching_rule").await;
    assert_eq!(none.body["rule"], json!(null));
    let set = put(&app, "/api/v1/meta/objects/supplier/matching_rule", &json!({"fields": [{"fields": ["name"], "comparator": "company_name", "weight": 0.95}], "threshold": 0.9, "action": "block"})).await;
    set.assert_status(200);
    app.create("supplier", &json!({"name": "上海华远科技有限公司"}))
        .await;
    app.post("/api/v1/records/supplier", &json!({"name": "华远科技"}))
        .await
        .assert_problem(409, "duplicate_blocked");
}

#[tokio::test]
async fn an_import_under_a_blocking_rule_fails_the_rows_that_would_be_duplicates() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "/api/v1/meta/objects/contact/matching_rule",
        &email_rule("block"),
    )
    .await
    .assert_status(200);
    app.create(
        "contact",
        &json!({"name": "Bob Wu", "email": "bob@example.com"}),
    )
    .await;
    let admin = app.admin().await;
    let csv =
        "name,email\nBob W.,BOB@example.com\nAnn Li,ann@example.com\nAnn Lee,ann@example.com\n";
    let id = app
        .core
        .create_import(
            &admin,
            "contact",
            "c.csv",
            None,
            std::io::Cursor::new(csv.as_bytes().to_vec()),
        )
        .await
        .expect("upload")
        .id;
    app.core
        .start_import(
            &admin,
            id,
            ImportRequest {
                on_duplicate: OnDuplicate::Create,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    while app.core.run_next_import(None).await.expect("run").is_some() {}
    let job = app.core.import_job(&admin, id).await.expect("job");
    assert_eq!(
        (job.tally.created, job.tally.failed),
        (1, 2),
        "Bob again and the second Ann are refused: {job:?}"
    );
    assert_eq!(common::count(&app, "contact").await, 2);
}

#[tokio::test]
async fn the_settings_page_shows_the_standard_rule_and_saves_a_blocking_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let page = "/settings/objects/lead/duplicates";
    web.get(page)
        .await
        .assert_status(200)
        .assert_contains("value=\"phone, mobile\"")
        .assert_contains("id=\"rule-threshold\"");
    let fields = [
        ("active", "1"),
        ("action", "block"),
        ("threshold", "0.9"),
        ("fields", "email"),
        ("comparator", "email"),
        ("weight", "0.95"),
        ("fields", ""),
        ("comparator", "exact"),
        ("weight", ""),
    ];
    web.submit(page, page, &fields).await.assert_status(303);
    let rule = app.get("/api/v1/meta/objects/lead/matching_rule").await;
    assert_eq!(rule.body["rule"]["action"], "block", "{}", rule.text);
    assert_eq!(rule.body["rule"]["fields"].as_array().unwrap().len(), 1);
    app.create("lead", &json!({"name": "A", "email": "a@b.cn"}))
        .await;
    app.post(
        "/api/v1/records/lead",
        &json!({"name": "B", "email": "A@B.cn"}),
    )
    .await
    .assert_problem(409, "duplicate_blocked");
    // a bad weight is shown on the page, nothing saved
    let bad = web
        .submit(
            page,
            page,
            &[
                ("threshold", "0.9"),
                ("fields", "email"),
                ("comparator", "email"),
                ("weight", "2"),
            ],
        )
        .await;
    bad.assert_status(422).assert_contains("role=\"alert\"");
    // back to the standard rule
    web.submit(page, page, &[("reset", "1")])
        .await
        .assert_status(303);
    let rule = app.get("/api/v1/meta/objects/lead/matching_rule").await;
    assert_eq!(rule.body["standard"], true);
}

#[tokio::test]
async fn blocking_never_tells_about_hidden_records_and_never_refuses_unchanged_values() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "/api/v1/meta/objects/contact/matching_rule",
        &email_rule("block"),
    )
    .await
    .assert_status(200);
    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let mine = rep_client
        .post(
            "/api/v1/records/contact",
            &json!({"name": "我的", "email": "mine@x.cn"}),
        )
        .await;
    mine.assert_status(201);
    // the admin's own contact, hidden from the rep
    let hidden = app
        .create(
            "contact",
            &json!({"name": "别人的", "email": "theirs@x.cn"}),
        )
        .await;
    // an edit of a hidden record is "not found", never "would be a duplicate of …"
    rep_client
        .patch(
            &format!("/api/v1/records/contact/{}", id_of(&hidden)),
            &json!({"email": "mine@x.cn"}),
        )
        .await
        .assert_status(404);
    // two contacts that were duplicates before the rule blocked: editing other fields of one,
    // even sending its unchanged email along, is fine
    app.create("contact", &json!({"name": "甲", "mobile": "13800001111"}))
        .await;
    let b = app
        .create("contact", &json!({"name": "乙", "title": "x"}))
        .await;
    // make b a duplicate of a while the rule only warns
    put(
        &app,
        "/api/v1/meta/objects/contact/matching_rule",
        &email_rule("warn"),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/api/v1/records/contact/{}", id_of(&b)),
        &json!({"mobile": "138 0000 1111"}),
    )
    .await
    .assert_status(200);
    put(
        &app,
        "/api/v1/meta/objects/contact/matching_rule",
        &email_rule("block"),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/api/v1/records/contact/{}", id_of(&b)),
        &json!({"mobile": "138 0000 1111", "title": "经理"}),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn an_import_under_a_blocking_rule_refuses_a_duplicate_of_a_record_the_importer_cannot_see() {
    let app = TestApp::spawn().await;
    put(&app, "/api/v1/meta/objects/account/matching_rule", &json!({"fields": [{"fields": ["name"], "comparator": "company_name", "weight": 0.9}], "threshold": 0.85, "action": "block"})).await
        .assert_status(200);
    // the admin's account: private, hidden from the rep
    app.create("account", &json!({"name": "上海华远科技有限公司"}))
        .await;
    let admin = app.admin().await;
    let profile = app
        .core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({"name": "importer", "is_profile": true, "grants": {
                "default_objects": {"create": true, "read": true, "edit": true, "import": true}}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let rep = app
        .user("importer@example.com", json!({"profile_id": profile.id}))
        .await;
    let csv = "name\n华远科技\n北辰贸易\n";
    let id = app
        .core
        .create_import(
            &rep,
            "account",
            "a.csv",
            None,
            std::io::Cursor::new(csv.as_bytes().to_vec()),
        )
        .await
        .expect("upload")
        .id;
    app.core
        .start_import(
            &rep,
            id,
            ImportRequest {
                on_duplicate: OnDuplicate::Create,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    while app.core.run_next_import(None).await.expect("run").is_some() {}
    let job = app.core.import_job(&rep, id).await.expect("job");
    assert_eq!((job.tally.created, job.tally.failed), (1, 1), "{job:?}");
}
