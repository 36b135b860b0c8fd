//! Possible duplicates through the real server: a contact typed again with another phone
//! format, an account with another legal form, scores and evidence, a common name that is no
//! duplicate, and visibility (a record the user may not see is never offered).

use relata_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_contact_typed_again_is_found_by_phone_email_or_name_and_account() {
    let app = TestApp::spawn().await;
    let acct = app
        .create("account", &json!({"name": "上海华远科技有限公司"}))
        .await;
    let zhang = app
        .create(
            "contact",
            &json!({"name": "张伟", "mobile": "138-0013-8000", "email": "Wei.Zhang@huayuan.cn", "account_id": acct["id"]}),
        )
        .await;
    // a namesake elsewhere: the same common name alone is no duplicate
    app.create("contact", &json!({"name": "张伟", "mobile": "13900001111"}))
        .await;

    let by_phone = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "张 伟", "phone": "+86 138 0013 8000"}),
        )
        .await;
    by_phone.assert_status(200);
    let data = by_phone.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["id"], zhang["id"]);
    assert!(data[0]["score"].as_f64().unwrap() >= 0.85);
    let matched: Vec<&str> = data[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["fields"].as_array().unwrap())
        .filter_map(|f| f.as_str())
        .collect();
    assert!(
        matched.contains(&"mobile") && matched.contains(&"name"),
        "{matched:?}"
    );
    assert_eq!(data[0]["record"]["name"], "张伟");

    let by_email = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "Zhang Wei", "email": "wei.zhang+crm@HUAYUAN.cn"}),
        )
        .await;
    assert_eq!(by_email.body["data"][0]["id"], zhang["id"]);

    let by_name_and_account = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "张伟", "account_id": acct["id"]}),
        )
        .await;
    assert_eq!(
        by_name_and_account.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        by_name_and_account.text
    );
    let common_name = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "张伟"}),
        )
        .await;
    assert_eq!(common_name.body["data"], json!([]), "{}", common_name.text);

    // of an existing record: the namesake is not its duplicate, and it is not its own
    let of_record = app
        .get(&format!(
            "/api/v1/records/contact/{}/duplicates",
            zhang["id"].as_str().unwrap()
        ))
        .await;
    of_record.assert_status(200);
    assert_eq!(of_record.body["data"], json!([]));

    // a bad value is named as for a create
    let bad = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"email": "not-an-email"}),
        )
        .await;
    bad.assert_status(422);
    assert_eq!(bad.error_fields(), vec!["email"]);
}

#[tokio::test]
async fn an_account_with_another_legal_form_or_place_is_a_possible_duplicate() {
    let app = TestApp::spawn().await;
    let first = app
        .create("account", &json!({"name": "上海华远科技有限公司"}))
        .await;
    app.create("account", &json!({"name": "上海云帆科技有限公司"}))
        .await;
    for variant in [
        "华远科技（中国）有限公司",
        "上海华远科技股份有限公司",
        "华远科技",
    ] {
        let found = app
            .post(
                "/api/v1/records/account/duplicates",
                &json!({ "name": variant }),
            )
            .await;
        let data = found.body["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{variant}: {data:?}");
        assert_eq!(data[0]["id"], first["id"], "{variant}");
    }
    let tasks = app
        .post("/api/v1/records/task/duplicates", &json!({"subject": "x"}))
        .await;
    tasks.assert_status(200);
    assert_eq!(tasks.body["data"], json!([]));
}

#[tokio::test]
async fn a_record_the_user_may_not_see_is_never_offered_as_a_duplicate() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com", json!({"name": "Rep A"})).await;
    let b = app.user("b@example.com", json!({"name": "Rep B"})).await;
    let client_a = app.client_for(&a).await;
    let client_b = app.client_for(&b).await;
    client_a
        .create("contact", &json!({"name": "李娜", "mobile": "13912345678"}))
        .await;
    let theirs = client_b
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "李娜", "mobile": "139 1234 5678"}),
        )
        .await;
    theirs.assert_status(200);
    assert_eq!(theirs.body["data"], json!([]));
    let mine = client_a
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"name": "李娜", "mobile": "139 1234 5678"}),
        )
        .await;
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_contact_created_in_the_web_ui_that_looks_like_another_shows_it_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let existing = app
        .create(
            "contact",
            &json!({"name": "王芳", "email": "wang.fang@example.com"}),
        )
        .await;
    let form = web.get("/o/contact/new").await;
    let csrf = form.csrf();
    let created = web
        .post(
            "/o/contact",
            &[
                ("_csrf", &csrf),
                ("name", "王 芳"),
                ("email", "Wang.Fang@Example.com"),
            ],
        )
        .await;
    created.assert_status(303);
    let at = created.location.clone().unwrap();
    assert!(at.ends_with("/duplicates?new=1"), "{at}");
    let page = web.get(&at).await;
    page.assert_status(200)
        .assert_contains("These existing records may be the same customer")
        .assert_contains(&format!(
            "href=\"/o/contact/{}\"",
            existing["id"].as_str().unwrap()
        ));
    assert!(page.html.contains("%</td>"), "a score is shown");
    // the record page offers the check; a record like no other has none
    let other = app.create("contact", &json!({"name": "独一无二"})).await;
    let other_id = other["id"].as_str().unwrap();
    web.get(&format!("/o/contact/{other_id}"))
        .await
        .assert_contains(&format!("/o/contact/{other_id}/duplicates"));
    web.get(&format!("/o/contact/{other_id}/duplicates"))
        .await
        .assert_contains("No other record looks like this one.");
}

/// Ids of the possible duplicates the API answers for `input`.
async fn duplicate_ids(app: &TestApp, input: serde_json::Value) -> Vec<String> {
    let resp = app.post("/api/v1/records/contact/duplicates", &input).await;
    resp.assert_status(200);
    resp.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_email_and_phone_keys_follow_every_change_of_a_record_and_survive_a_rebuild() {
    let app = TestApp::spawn().await;
    let li = app
        .create(
            "contact",
            &json!({"name": "李娜", "mobile": "+86 139 1234 5678", "email": "na.li@example.cn"}),
        )
        .await;
    let id = li["id"].as_str().unwrap().to_owned();
    let by_old_phone = json!({"name": "Li Na", "phone": "139-1234-5678"});
    let by_new_phone = json!({"name": "Li Na", "phone": "0086 186 0000 1111"});
    assert_eq!(
        duplicate_ids(&app, by_old_phone.clone()).await,
        vec![id.clone()]
    );
    assert!(duplicate_ids(&app, by_new_phone.clone()).await.is_empty());

    // a new number: found by it, no longer by the old one
    app.patch(
        &format!("/api/v1/records/contact/{id}"),
        &json!({"mobile": "18600001111"}),
    )
    .await
    .assert_status(200);
    assert!(duplicate_ids(&app, by_old_phone.clone()).await.is_empty());
    assert_eq!(
        duplicate_ids(&app, by_new_phone.clone()).await,
        vec![id.clone()]
    );

    // in the recycle bin it is nobody's duplicate; restored, it is again
    app.delete(&format!("/api/v1/records/contact/{id}"))
        .await
        .assert_status(204);
    assert!(duplicate_ids(&app, by_new_phone.clone()).await.is_empty());
    app.post(&format!("/api/v1/records/contact/{id}/restore"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        duplicate_ids(&app, by_new_phone.clone()).await,
        vec![id.clone()]
    );

    // keys lost (as in a database from before migration 17): the rebuild at start restores them
    app.core
        .store
        .write(|c: &mut dyn relata_store::Conn| {
            c.batch("DELETE FROM sys_match_keys")?;
            relata_store::search_index::invalidate(c)
        })
        .await
        .unwrap();
    assert!(duplicate_ids(&app, by_new_phone.clone()).await.is_empty());
    app.core.rebuild_search_index_if_stale().await.unwrap();
    assert_eq!(duplicate_ids(&app, by_new_phone).await, vec![id.clone()]);
    assert_eq!(
        duplicate_ids(&app, json!({"email": "NA.LI+news@example.cn"})).await,
        vec![id]
    );
}
