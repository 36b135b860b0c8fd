//! Tags, static lists and dynamic segments through the real server: related-record
//! conditions in the filter language (counting only related records the caller may see),
//! tags with colours and counts, lists whose members are read, counted and exported with
//! `in_list`, segments built on segments, who may change what, and merges carrying tags and
//! list memberships (and their undo taking them back).

use crate::common;

use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

use common::{assert_field_problem, id_of, urlencode, user_without_fields};

async fn names(client: &relata_testkit::Client, object: &str, filter: &str) -> Vec<String> {
    let r = client
        .get(&format!(
            "/api/v1/records/{object}?sort=name&filter={}",
            urlencode(filter)
        ))
        .await;
    r.assert_status(200);
    let mut out: Vec<String> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn related_record_conditions_see_only_what_the_reader_may_see() {
    let app = TestApp::spawn().await;
    let rep = user_without_fields(
        &app,
        "rep@example.com",
        json!({"opportunity": ["next_step"]}),
    )
    .await;
    let rep_client = app.client_for(&rep).await;
    let mine = |name: &str| json!({"name": name, "owner_id": rep.user_id.0, "city": "上海"});
    let big = app.create("account", &mine("大单客户")).await;
    let small = app.create("account", &mine("小单客户")).await;
    let hidden_big = app.create("account", &mine("别人的大单")).await;
    app.create("account", &mine("没有商机")).await;
    let opp = |acct: &Json, amount: i64, stage: &str, owner: Option<uuid::Uuid>| {
        let mut o = json!({"name": "商机", "account_id": acct["id"], "amount": {"amount": amount.to_string(), "currency": "CNY"}, "stage": stage});
        if let Some(owner) = owner {
            o["owner_id"] = json!(owner);
        }
        if stage == "closed_lost" {
            o["loss_reason"] = json!("competitor");
        }
        o
    };
    app.create(
        "opportunity",
        &opp(&big, 500_000, "proposal", Some(rep.user_id.0)),
    )
    .await;
    app.create(
        "opportunity",
        &opp(&big, 900_000, "closed_lost", Some(rep.user_id.0)),
    )
    .await;
    app.create(
        "opportunity",
        &opp(&small, 20_000, "proposal", Some(rep.user_id.0)),
    )
    .await;
    // the admin's own opportunity: private, not the rep's to see
    app.create("opportunity", &opp(&hidden_big, 800_000, "proposal", None))
        .await;

    let open_big = "has opportunity (amount gt 100000 and stage not in (closed_won, closed_lost))";
    let open_big = open_big.replace("stage not in", "not stage in");
    assert_eq!(
        names(&app.client, "account", &open_big).await,
        vec!["别人的大单", "大单客户"]
    );
    assert_eq!(
        names(&rep_client, "account", &open_big).await,
        vec!["大单客户"],
        "an opportunity the rep may not see does not make its account match"
    );
    assert_eq!(
        names(
            &rep_client,
            "account",
            "city eq 上海 and has_no opportunity"
        )
        .await,
        vec!["别人的大单", "没有商机"]
    );
    // the JSON form, and counts
    let filter = json!({"has": "opportunity", "via": "account_id", "where": {"field": "amount", "op": "lt", "value": 100000}});
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account?count=true&filter={}",
            urlencode(&filter.to_string())
        ))
        .await;
    assert_eq!(r.body["total"], 1, "{}", r.text);

    // a field hidden from the rep cannot be asked about through a relation either
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode("has opportunity (next_step eq x)")
        ))
        .await;
    assert_field_problem(&r, 422, "next_step", "unknown_field");
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode("has nothing_here")
        ))
        .await;
    assert_field_problem(&r, 422, "filter", "invalid_filter");
    let r = app
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode("has opportunity via owner_id")
        ))
        .await;
    assert_field_problem(&r, 422, "filter", "invalid_filter");
    // grouped totals take the same conditions
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account/aggregate?group_by=city&filter={}",
            urlencode("has opportunity")
        ))
        .await;
    r.assert_status(200);
    assert!(r.text.contains("\"count\":2"), "{}", r.text);
}

#[tokio::test]
async fn tags_are_created_by_use_filtered_on_counted_and_changed_by_their_creator() {
    let app = TestApp::spawn().await;
    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let a = app
        .create("account", &json!({"name": "甲", "owner_id": rep.user_id.0}))
        .await;
    let b = app
        .create("account", &json!({"name": "乙", "owner_id": rep.user_id.0}))
        .await;
    let admins = app.create("account", &json!({"name": "丙"})).await;

    let tagged = rep_client
        .post(
            "/api/v1/records/account/tags",
            &json!({"ids": [a["id"], b["id"]], "name": "重点客户", "colour": "red"}),
        )
        .await;
    tagged.assert_status(200);
    let tag_id = tagged.body["id"].as_str().unwrap().to_owned();
    assert_eq!(tagged.body["colour"], "red");
    // the same name again reuses the tag; an already tagged record stays tagged once
    let again = app
        .post(
            &format!("/api/v1/records/account/{}/tags", id_of(&a)),
            &json!({"name": "重点客户"}),
        )
        .await;
    assert_eq!(again.body["id"], tag_id.as_str(), "{}", again.text);
    app.post(
        &format!("/api/v1/records/account/{}/tags", id_of(&admins)),
        &json!({"name": "重点客户"}),
    )
    .await
    .assert_status(200);

    assert_eq!(
        names(&rep_client, "account", "tagged 重点客户").await,
        vec!["乙", "甲"]
    );
    assert_eq!(
        names(&app.client, "account", "not tagged 重点客户").await,
        Vec::<String>::new()
    );
    let tags = rep_client.get("/api/v1/tags?object=account").await;
    assert_eq!(
        tags.body["data"][0]["count"], 2,
        "the rep sees two of three: {}",
        tags.text
    );
    let on_a = app
        .get(&format!("/api/v1/records/account/{}/tags", id_of(&a)))
        .await;
    assert_eq!(on_a.body["data"][0]["name"], "重点客户");

    // the rep may not tag the admin's record, and nothing of the request is written
    let refused = rep_client
        .post(
            "/api/v1/records/account/tags",
            &json!({"ids": [a["id"], admins["id"]], "name": "新标签"}),
        )
        .await;
    refused.assert_status(404);
    let tags = app.get("/api/v1/tags?object=account").await;
    assert_eq!(
        tags.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        tags.text
    );
    assert_field_problem(
        &rep_client
            .post(
                &format!("/api/v1/records/account/{}/tags", id_of(&a)),
                &json!({"name": "x", "colour": "#ff0000"}),
            )
            .await,
        422,
        "colour",
        "invalid_option",
    );

    // only the creator (or an admin) renames; the other rep is refused
    let other = user_without_fields(&app, "other@example.com", json!({})).await;
    app.client_for(&other)
        .await
        .patch(&format!("/api/v1/tags/{tag_id}"), &json!({"name": "不行"}))
        .await
        .assert_status(403);
    let renamed = rep_client
        .patch(
            &format!("/api/v1/tags/{tag_id}"),
            &json!({"name": "战略客户", "colour": "purple"}),
        )
        .await;
    renamed.assert_status(200);
    assert_eq!(
        names(&rep_client, "account", "tagged 战略客户").await,
        vec!["乙", "甲"]
    );

    rep_client
        .post(
            &format!("/api/v1/tags/{tag_id}/remove"),
            &json!({"ids": [b["id"]]}),
        )
        .await
        .assert_status(204);
    assert_eq!(
        names(&rep_client, "account", "tagged 战略客户").await,
        vec!["甲"]
    );
    rep_client
        .delete(&format!(
            "/api/v1/records/account/{}/tags/{tag_id}",
            id_of(&a)
        ))
        .await
        .assert_status(204);
    rep_client
        .delete(&format!("/api/v1/tags/{tag_id}"))
        .await
        .assert_status(204);
    assert_eq!(
        app.get("/api/v1/tags?object=account").await.body["data"],
        json!([])
    );
    let audit = app.get("/api/v1/admin/audit?action=tag.add").await;
    assert!(audit.text.contains(&id_of(&a)), "{}", audit.text);
}

#[tokio::test]
async fn lists_and_segments_are_read_counted_and_exported_through_in_list() {
    let app = TestApp::spawn().await;
    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let acct =
        |name: &str, city: &str| json!({"name": name, "city": city, "owner_id": rep.user_id.0});
    let sh1 = app.create("account", &acct("上海一", "上海")).await;
    let sh2 = app.create("account", &acct("上海二", "上海")).await;
    let bj = app.create("account", &acct("北京一", "北京")).await;
    let admins = app
        .create("account", &json!({"name": "管理员的", "city": "上海"}))
        .await;
    app.create(
        "opportunity",
        &json!({"name": "大单", "account_id": sh2["id"], "owner_id": rep.user_id.0,
            "amount": {"amount": "300000", "currency": "CNY"}, "stage": "proposal"}),
    )
    .await;

    // a static list: members by hand
    let list = rep_client
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "展会名单", "description": "2026 展会"}),
        )
        .await;
    list.assert_status(201);
    assert_eq!(list.body["kind"], "static");
    let list_id = list.body["id"].as_str().unwrap().to_owned();
    let added = rep_client
        .post(
            &format!("/api/v1/lists/{list_id}/members"),
            &json!({"ids": [sh1["id"], bj["id"]]}),
        )
        .await;
    assert_eq!(added.body["added"], 2, "{}", added.text);
    // a record the rep cannot see cannot be added, and nothing is
    rep_client
        .post(
            &format!("/api/v1/lists/{list_id}/members"),
            &json!({"ids": [sh2["id"], admins["id"]]}),
        )
        .await
        .assert_status(404);
    assert_eq!(
        names(&rep_client, "account", &format!("in_list {list_id}")).await,
        vec!["上海一", "北京一"]
    );
    let got = rep_client.get(&format!("/api/v1/lists/{list_id}")).await;
    assert_eq!(got.body["count"], 2, "{}", got.text);

    // a segment: Shanghai accounts with an opportunity, and one built on it and the list
    let seg = rep_client
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "上海有商机", "kind": "dynamic",
                "filter": "city eq 上海 and has opportunity"}),
        )
        .await;
    seg.assert_status(201);
    let seg_id = seg.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        names(&rep_client, "account", &format!("in_list {seg_id}")).await,
        vec!["上海二"]
    );
    let either = format!("in_list {seg_id} or in_list {list_id}");
    assert_eq!(
        names(&rep_client, "account", &either).await,
        vec!["上海一", "上海二", "北京一"]
    );
    let built = rep_client
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "组合", "kind": "dynamic", "filter": either}),
        )
        .await;
    built.assert_status(201);
    let all = rep_client
        .get("/api/v1/lists?object=account&counts=true")
        .await;
    let counts: Vec<(String, i64)> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        counts.contains(&("组合".into(), 3)) && counts.contains(&("上海有商机".into(), 1)),
        "{counts:?}"
    );

    // the segment's export is the record export with its filter (the rep may not export)
    let file = app
        .get(&format!(
            "/api/v1/records/account/export?filter={}",
            urlencode(&format!("in_list {seg_id}"))
        ))
        .await;
    file.assert_status(200);
    assert!(
        file.text.contains("上海二") && !file.text.contains("上海一"),
        "{}",
        file.text
    );

    // a segment's members come from its condition; its condition is checked when saved
    rep_client
        .post(
            &format!("/api/v1/lists/{seg_id}/members"),
            &json!({"ids": [sh1["id"]]}),
        )
        .await
        .assert_status(409);
    assert_field_problem(
        &rep_client
            .post("/api/v1/lists", &json!({"object": "account", "name": "坏", "kind": "dynamic", "filter": "no_such_field eq 1"}))
            .await,
        422,
        "no_such_field",
        "unknown_field",
    );
    assert_field_problem(
        &rep_client
            .post(
                "/api/v1/lists",
                &json!({"object": "account", "name": "坏", "kind": "dynamic"}),
            )
            .await,
        422,
        "filter",
        "required",
    );
    // a list of contacts cannot stand for accounts
    let contacts = rep_client
        .post("/api/v1/lists", &json!({"object": "contact", "name": "联系人", "kind": "dynamic", "filter": "name starts_with 张"}))
        .await;
    let contacts_id = contacts.body["id"].as_str().unwrap();
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode(&format!("in_list {contacts_id}"))
        ))
        .await;
    assert_field_problem(&r, 422, "filter", "invalid_filter");

    // the owner changes a list; another user may not
    let other = user_without_fields(&app, "other@example.com", json!({})).await;
    app.client_for(&other)
        .await
        .delete(&format!("/api/v1/lists/{list_id}"))
        .await
        .assert_status(403);
    let patched = rep_client
        .patch(
            &format!("/api/v1/lists/{seg_id}"),
            &json!({"filter": {"field": "city", "op": "eq", "value": "北京"}, "description": null}),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(
        names(&rep_client, "account", &format!("in_list {seg_id}")).await,
        vec!["北京一"]
    );
    let removed = rep_client
        .post(
            &format!("/api/v1/lists/{list_id}/members/remove"),
            &json!({"ids": [bj["id"]]}),
        )
        .await;
    assert_eq!(removed.body["removed"], 1);
    rep_client
        .delete(&format!("/api/v1/lists/{list_id}"))
        .await
        .assert_status(204);
    assert_eq!(
        names(&rep_client, "account", &format!("in_list {list_id}")).await,
        Vec::<String>::new(),
        "a deleted list has no members"
    );
}

#[tokio::test]
async fn a_merge_carries_tags_and_list_memberships_and_its_undo_takes_them_back() {
    let app = TestApp::spawn().await;
    let keep = app.create("account", &json!({"name": "华远科技"})).await;
    let dup = app
        .create("account", &json!({"name": "华远科技有限公司"}))
        .await;
    app.post(
        &format!("/api/v1/records/account/{}/tags", id_of(&dup)),
        &json!({"name": "VIP"}),
    )
    .await
    .assert_status(200);
    let list = app
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "名单"}),
        )
        .await;
    let list_id = list.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/lists/{list_id}/members"),
        &json!({"ids": [dup["id"]]}),
    )
    .await
    .assert_status(200);

    let merged = app
        .post(
            &format!("/api/v1/records/account/{}/merge", id_of(&keep)),
            &json!({"records": [dup["id"]], "values": {"name": keep["id"]}}),
        )
        .await;
    merged.assert_status(200);
    let merge_id = merged.body["merge_id"].as_str().unwrap().to_owned();
    assert_eq!(
        names(&app.client, "account", "tagged VIP").await,
        vec!["华远科技"]
    );
    assert_eq!(
        names(&app.client, "account", &format!("in_list {list_id}")).await,
        vec!["华远科技"]
    );

    app.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        names(&app.client, "account", "tagged VIP").await,
        vec!["华远科技有限公司"]
    );
    assert_eq!(
        names(&app.client, "account", &format!("in_list {list_id}")).await,
        vec!["华远科技有限公司"]
    );
}

#[tokio::test]
async fn a_segment_on_a_hidden_field_hides_its_condition_and_expansion_is_bounded() {
    let app = TestApp::spawn().await;
    let seg = app
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "高价值", "kind": "dynamic", "filter": "annual_revenue gt 100000000"}),
        )
        .await;
    seg.assert_status(201);
    let seg_id = seg.body["id"].as_str().unwrap().to_owned();
    let rep = user_without_fields(
        &app,
        "rep@example.com",
        json!({"account": ["annual_revenue"]}),
    )
    .await;
    let rep_client = app.client_for(&rep).await;
    let seen = rep_client.get("/api/v1/lists?object=account").await;
    let listed = seen.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == seg_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        listed["filter"],
        Json::Null,
        "the condition names a field hidden from the rep"
    );
    assert!(!seen.text.contains("100000000"), "{}", seen.text);
    // nor can the rep use it to learn who is above the line
    let r = rep_client
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode(&format!("in_list {seg_id}"))
        ))
        .await;
    assert_field_problem(&r, 422, "annual_revenue", "unknown_field");

    // a segment of 40 references to a segment of 1,000 values is refused, not sent to the database
    let ids: Vec<String> = (0..1000)
        .map(|i| format!("0193b7e0-0000-7000-8000-{i:012}"))
        .collect();
    let wide = app
        .post(
            "/api/v1/lists",
            &json!({"object": "account", "name": "wide", "kind": "dynamic", "filter": {"field": "id", "op": "in", "value": ids}}),
        )
        .await;
    wide.assert_status(201);
    let wide_id = wide.body["id"].as_str().unwrap();
    let many = vec![format!("in_list {wide_id}"); 40].join(" or ");
    let r = app
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode(&many)
        ))
        .await;
    assert_field_problem(&r, 422, "filter", "too_large");
}
