//! The 360° timeline through the real server: creation, field changes and every record that
//! points at an account (tasks, notes, opportunities, contacts, a custom object) in one
//! stream, newest first; paging without gaps or repeats; a filter by kind; bad input; and
//! visibility (related records under their own sharing, hidden fields left out, a record the
//! caller may not see is not found). Also the record page's panel and the full page.

use crate::common;

use std::collections::HashSet;

use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

use common::{add_field, create_object, id_of, user_without_fields};

fn kinds_and_titles(page: &Json) -> Vec<(String, String)> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {page}"))
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_account_timeline_holds_everything_about_it_newest_first_and_pages_without_gaps() {
    let app = TestApp::spawn().await;
    create_object(&app, "site_visit", "Site visit", "Site visits").await;
    add_field(
        &app,
        "site_visit",
        json!({"api_name": "account_id", "type": "lookup", "label": "Account", "target": "account"}),
    )
    .await;
    let acct = app
        .create(
            "account",
            &json!({"name": "上海华远科技有限公司", "level": "b"}),
        )
        .await;
    let id = id_of(&acct);
    let r = app
        .patch(
            &format!("/api/v1/records/account/{id}"),
            &json!({"level": "a"}),
        )
        .await;
    r.assert_status(200);
    app.create("contact", &json!({"name": "张伟", "account_id": id}))
        .await;
    app.create(
        "task",
        &json!({"subject": "回访", "status": "not_started", "account_id": id}),
    )
    .await;
    app.create(
        "note",
        &json!({"title": "需求纪要", "body": "预算 50 万", "account_id": id}),
    )
    .await;
    app.create(
        "opportunity",
        &json!({"name": "华远 CRM 项目", "stage": "proposal", "amount": {"amount": "120000", "currency": "CNY"}, "account_id": id}),
    )
    .await;
    app.create("site_visit", &json!({"name": "上海拜访", "account_id": id}))
        .await;
    // not about this account: another account's task and a task about nothing
    let other = app.create("account", &json!({"name": "别家"})).await;
    app.create(
        "task",
        &json!({"subject": "别家的任务", "account_id": other["id"]}),
    )
    .await;
    app.create("task", &json!({"subject": "无关任务"})).await;

    let all = app
        .get(&format!("/api/v1/records/account/{id}/timeline"))
        .await;
    all.assert_status(200);
    assert_eq!(
        kinds_and_titles(&all.body),
        vec![
            ("site_visit".to_owned(), "上海拜访".to_owned()),
            ("opportunity".into(), "华远 CRM 项目".into()),
            ("note".into(), "需求纪要".into()),
            ("task".into(), "回访".into()),
            ("contact".into(), "张伟".into()),
            ("field_change".into(), "level".into()),
            ("created".into(), "上海华远科技有限公司".into()),
        ],
        "{}",
        all.text
    );
    assert_eq!(all.body["next_cursor"], Json::Null);
    let change = &all.body["data"][5];
    assert_eq!(change["detail"]["old_value"], "b");
    assert_eq!(change["detail"]["new_value"], "a");
    assert_eq!(change["record_id"], acct["id"]);
    let opp = &all.body["data"][1];
    assert_eq!(opp["object"], "opportunity");
    assert_eq!(opp["detail"]["stage"], "proposal");
    assert!(opp["actor"].is_string(), "who did it: {opp}");
    let kinds: Vec<&str> = all.body["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    for k in [
        "created",
        "field_change",
        "task",
        "note",
        "opportunity",
        "contact",
        "site_visit",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    // paging two at a time walks the same stream, each item once
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!("/api/v1/records/account/{id}/timeline?limit=2&cursor={c}"),
            None => format!("/api/v1/records/account/{id}/timeline?limit=2"),
        };
        let page = app.get(&url).await;
        page.assert_status(200);
        assert!(page.body["data"].as_array().unwrap().len() <= 2);
        seen.extend(kinds_and_titles(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, kinds_and_titles(&all.body));

    // a filter by kind
    let activities = app
        .get(&format!(
            "/api/v1/records/account/{id}/timeline?kinds=task,note"
        ))
        .await;
    assert_eq!(
        kinds_and_titles(&activities.body),
        vec![
            ("note".to_owned(), "需求纪要".to_owned()),
            ("task".into(), "回访".into())
        ]
    );

    // the contact's own timeline: its creation, and nothing of the account's
    let contact_id = all.body["data"][4]["record_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = app
        .get(&format!("/api/v1/records/contact/{contact_id}/timeline"))
        .await;
    assert_eq!(
        kinds_and_titles(&contact.body),
        vec![("created".to_owned(), "张伟".to_owned())]
    );
}

#[tokio::test]
async fn bad_timeline_requests_name_the_problem() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "华远"})).await;
    let id = id_of(&acct);
    let unknown = app
        .get(&format!("/api/v1/records/account/{id}/timeline?kinds=fax"))
        .await;
    unknown.assert_status(422);
    assert_eq!(unknown.error_fields(), vec!["kinds"]);
    let big = app
        .get(&format!("/api/v1/records/account/{id}/timeline?limit=5000"))
        .await;
    big.assert_status(422);
    assert_eq!(big.error_fields(), vec!["limit"]);
    app.get(&format!(
        "/api/v1/records/account/{id}/timeline?cursor=garbage"
    ))
    .await
    .assert_problem(400, "invalid_cursor");
    app.get("/api/v1/records/account/not-a-uuid/timeline")
        .await
        .assert_status(404);
    app.get(&format!(
        "/api/v1/records/account/{}/timeline",
        uuid::Uuid::now_v7()
    ))
    .await
    .assert_status(404);
    app.get(&format!("/api/v1/records/nothing/{id}/timeline"))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_timeline_shows_only_what_the_reader_may_see() {
    let app = TestApp::spawn().await;
    let rep = user_without_fields(
        &app,
        "rep@example.com",
        json!({"account": ["level"], "opportunity": ["amount"]}),
    )
    .await;
    let other = user_without_fields(&app, "other@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let other_client = app.client_for(&other).await;

    let acct = app
        .create(
            "account",
            &json!({"name": "华远", "level": "b", "owner_id": rep.user_id.0}),
        )
        .await;
    let id = id_of(&acct);
    app.patch(
        &format!("/api/v1/records/account/{id}"),
        &json!({"level": "a", "city": "上海"}),
    )
    .await
    .assert_status(200);
    // the admin's own task on the rep's account: private, so not the rep's to see
    app.create(
        "task",
        &json!({"subject": "管理员的任务", "account_id": id}),
    )
    .await;
    rep_client
        .create("task", &json!({"subject": "我的任务", "account_id": id}))
        .await;
    // theirs, with an amount they may not see
    app.create(
        "opportunity",
        &json!({"name": "我的商机", "amount": {"amount": "5", "currency": "CNY"}, "account_id": id, "owner_id": rep.user_id.0}),
    )
    .await;

    let admin_view = app
        .get(&format!("/api/v1/records/account/{id}/timeline"))
        .await;
    let titles: HashSet<String> = kinds_and_titles(&admin_view.body)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(
        titles.contains("管理员的任务") && titles.contains("level"),
        "{titles:?}"
    );

    let rep_view = rep_client
        .get(&format!("/api/v1/records/account/{id}/timeline"))
        .await;
    rep_view.assert_status(200);
    assert_eq!(
        kinds_and_titles(&rep_view.body),
        vec![
            ("opportunity".to_owned(), "我的商机".to_owned()),
            ("task".into(), "我的任务".into()),
            ("created".into(), "华远".into()),
        ],
        "no admin's task, no change of the hidden level: {}",
        rep_view.text
    );
    let opp = &rep_view.body["data"][0]["detail"];
    assert!(
        opp.get("amount").is_none(),
        "a hidden field in the detail: {opp}"
    );
    assert!(
        !rep_view.text.contains("\"level\""),
        "the hidden field is named nowhere: {}",
        rep_view.text
    );

    // someone who may not see the account does not learn it exists
    other_client
        .get(&format!("/api/v1/records/account/{id}/timeline"))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn the_record_page_shows_the_newest_items_and_the_timeline_page_filters_and_pages() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let acct = app.create("account", &json!({"name": "华远科技"})).await;
    let id = id_of(&acct);
    for i in 0..60 {
        app.create(
            "task",
            &json!({"subject": format!("任务 {i:02}"), "account_id": id, "status": "in_progress"}),
        )
        .await;
    }
    app.create("note", &json!({"title": "最新纪要", "account_id": id}))
        .await;

    let record = web.get(&format!("/o/account/{id}")).await;
    record.assert_status(200);
    record
        .assert_contains("最新纪要")
        .assert_contains("任务 59")
        .assert_contains(&format!("href=\"/o/account/{id}/timeline\""));
    assert!(
        !record.html.contains("任务 10"),
        "the panel holds the newest items only"
    );

    let full = web.get(&format!("/o/account/{id}/timeline")).await;
    full.assert_status(200);
    full.assert_contains("任务 11")
        .assert_contains("In progress");
    assert!(!full.html.contains("任务 10<"), "50 a page");
    let older = full
        .html
        .split("rel=\"next\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .map(|h| h.trim_end_matches("\" ").replace("&amp;", "&"))
        .expect("an older link");
    let page2 = web.get(&older).await;
    page2.assert_status(200);
    page2.assert_contains("任务 10").assert_contains("任务 00");
    assert!(!page2.html.contains("任务 11<"), "{older}");

    let notes = web
        .get(&format!("/o/account/{id}/timeline?kind=note"))
        .await;
    notes.assert_contains("最新纪要");
    assert!(!notes.html.contains("任务 59"));
    assert!(notes.html.contains("aria-current=\"page\""));

    // in Chinese
    let here = format!("/o/account/{id}/timeline");
    web.submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    web.get(&here)
        .await
        .assert_contains("筛选动态")
        .assert_contains("全部")
        .assert_contains("字段变更")
        .assert_contains("进行中");
}

#[tokio::test]
async fn a_hidden_name_is_not_a_title_and_small_page_limits_still_work() {
    let app = relata_testkit::TestApp::spawn_with(relata_testkit::SpawnOptions {
        settings: Some(relata_core::Settings {
            max_page_size: 5,
            ..relata_core::Settings::default()
        }),
        ..Default::default()
    })
    .await;
    let rep = user_without_fields(&app, "rep@example.com", json!({"account": ["name"]})).await;
    let acct = app
        .create(
            "account",
            &json!({"name": "秘密客户", "owner_id": rep.user_id.0}),
        )
        .await;
    let id = id_of(&acct);
    for i in 0..8 {
        app.create(
            "account",
            &json!({"name": format!("子公司 {i}"), "parent_id": id}),
        )
        .await;
    }
    let seen = app
        .client_for(&rep)
        .await
        .get(&format!("/api/v1/records/account/{id}/timeline"))
        .await;
    seen.assert_status(200);
    assert!(!seen.text.contains("秘密客户"), "{}", seen.text);
    // a page limit below the default list size: the timeline and the hierarchy still answer
    let timeline = app
        .get(&format!("/api/v1/records/account/{id}/timeline?limit=3"))
        .await;
    timeline.assert_status(200);
    let tree = app
        .get(&format!("/api/v1/records/account/{id}/hierarchy"))
        .await;
    tree.assert_status(200);
    assert_eq!(
        tree.body["nodes"].as_array().unwrap().len(),
        9,
        "{}",
        tree.text
    );
}
