//! Leads (issue 9): the status flow, and conversion into an account, a contact and an
//! opportunity in one transaction — matched to the customer's existing records through the
//! duplicate rules, carrying the lead's activities, never matching what the user may not
//! see, and leaving nothing behind when any part is refused.

use serde_json::{Value as Json, json};

use relata_testkit::{Resp, TestApp};

use crate::common::{self, DbState, assert_field_problem, id_of};

async fn create(app: &TestApp, object: &str, body: Json) -> Json {
    let r = app.post(&format!("/api/v1/records/{object}"), &body).await;
    r.assert_status(201);
    r.body.clone()
}

async fn get(app: &TestApp, object: &str, id: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/{object}/{id}")).await;
    r.assert_status(200);
    r.body.clone()
}

async fn convert(app: &TestApp, lead: &str, body: Json) -> Resp {
    app.post(&format!("/api/v1/leads/{lead}/convert"), &body)
        .await
}

#[tokio::test]
async fn a_lead_moves_forward_through_its_flow_and_each_wrong_step_is_named() {
    let app = TestApp::spawn().await;
    let lead = create(&app, "lead", json!({"name": "王芳", "company": "宁德时代"})).await;
    assert_eq!(lead["status"], "new", "a new lead starts new");
    let id = id_of(&lead);
    let path = format!("/api/v1/records/lead/{id}");

    app.patch(&path, &json!({"status": "contacted"}))
        .await
        .assert_status(200);
    let back = app.patch(&path, &json!({"status": "new"})).await;
    assert_field_problem(&back, 422, "status", "invalid_transition");

    let no_reason = app.patch(&path, &json!({"status": "unqualified"})).await;
    assert_field_problem(&no_reason, 422, "unqualified_reason", "required");
    let r = app
        .patch(
            &path,
            &json!({"status": "unqualified", "unqualified_reason": "no_budget"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["unqualified_reason"], "no_budget");

    // converted is reached by converting, whatever the path
    let set = app.patch(&path, &json!({"status": "converted"})).await;
    assert_field_problem(&set, 422, "status", "invalid_transition");
    let created = app
        .post(
            "/api/v1/records/lead",
            &json!({"name": "李雷", "status": "converted"}),
        )
        .await;
    assert_field_problem(&created, 422, "status", "invalid_transition");
    let system = app
        .patch(&path, &json!({"converted_at": "2026-12-06T09:00:00Z"}))
        .await;
    assert_field_problem(&system, 422, "converted_at", "read_only");
    let bulk = app
        .post(
            "/api/v1/records/lead/bulk",
            &json!({"key": "id", "mode": "per_record", "records": [{"name": "韩梅梅", "status": "converted"}]}),
        )
        .await;
    bulk.assert_status(200);
    assert_eq!(bulk.body["results"][0]["status"], "failed", "{}", bulk.body);
    assert_eq!(bulk.body["results"][0]["errors"][0]["field"], "status");
}

#[tokio::test]
async fn conversion_matches_the_existing_account_creates_contact_and_opportunity_and_carries_the_activities()
 {
    let app = TestApp::spawn().await;
    let account = create(
        &app,
        "account",
        json!({"name": "华为技术有限公司", "city": "深圳", "level": "a"}),
    )
    .await;
    let account_id = id_of(&account);
    let lead = create(
        &app,
        "lead",
        json!({
            "name": "张伟", "company": "华为技术有限公司", "title": "采购总监",
            "email": "zhang.wei@huawei.example", "mobile": "13800138000",
            "source": "event", "status": "qualified"
        }),
    )
    .await;
    let lead_id = id_of(&lead);
    let task = create(
        &app,
        "task",
        json!({"subject": "回电话", "lead_id": lead_id}),
    )
    .await;
    let note = create(
        &app,
        "note",
        json!({"title": "展会记录", "lead_id": lead_id}),
    )
    .await;

    let preview = app
        .get(&format!("/api/v1/leads/{lead_id}/conversion"))
        .await;
    preview.assert_status(200);
    assert_eq!(
        preview.body["account"]["matches"][0]["id"],
        account_id.as_str()
    );
    assert_eq!(preview.body["contact"]["matches"], json!([]));
    assert_eq!(
        preview.body["contact"]["new_values"]["email"],
        "zhang.wei@huawei.example"
    );
    assert_eq!(
        preview.body["opportunity"]["new_values"]["name"],
        "华为技术有限公司"
    );

    let r = convert(
        &app,
        &lead_id,
        json!({"opportunity": {"amount": "250000", "stage": "qualification", "close_date": "2027-03-31"}}),
    )
    .await;
    r.assert_status(200);
    let done = r.body.clone();
    assert_eq!(done["account"]["created"], false, "matched, not duplicated");
    assert_eq!(done["account"]["record"]["id"], account_id.as_str());
    assert_eq!(done["contact"]["created"], true);
    let contact = &done["contact"]["record"];
    let contact_id = id_of(contact);
    assert_eq!(contact["name"], "张伟");
    assert_eq!(contact["title"], "采购总监");
    assert_eq!(contact["email"], "zhang.wei@huawei.example");
    assert_eq!(contact["source"], "event");
    assert_eq!(contact["account_id"], account_id.as_str());
    let opportunity = &done["opportunity"];
    assert_eq!(opportunity["name"], "华为技术有限公司");
    assert_eq!(opportunity["account_id"], account_id.as_str());
    assert_eq!(opportunity["contact_id"], contact_id.as_str());
    assert_eq!(opportunity["stage"], "qualification");
    assert_eq!(opportunity["source"], "event");
    assert_eq!(done["relinked"], 2);

    let lead = get(&app, "lead", &lead_id).await;
    assert_eq!(lead["status"], "converted");
    assert!(lead["converted_at"].is_string());
    assert_eq!(lead["converted_account_id"], account_id.as_str());
    assert_eq!(lead["converted_contact_id"], contact_id.as_str());
    assert_eq!(
        lead["converted_opportunity_id"],
        id_of(opportunity).as_str()
    );
    for (object, record) in [("task", &task), ("note", &note)] {
        let now = get(&app, object, &id_of(record)).await;
        assert_eq!(
            now["contact_id"],
            contact_id.as_str(),
            "{object} follows the person"
        );
        assert_eq!(
            now["account_id"],
            account_id.as_str(),
            "{object} follows the company"
        );
        assert_eq!(now["lead_id"], lead_id.as_str(), "{object} keeps its lead");
    }
    // the account the lead matched was left as it was
    let after = get(&app, "account", &account_id).await;
    assert_eq!(after["version"], account["version"]);

    // once converted: not again, and not edited (but it can change hands)
    let again = convert(&app, &lead_id, json!({})).await;
    again.assert_status(409);
    assert_eq!(again.body["code"], "already_converted");
    let path = format!("/api/v1/records/lead/{lead_id}");
    let edit = app.patch(&path, &json!({"title": "副总裁"})).await;
    assert_field_problem(&edit, 422, "title", "read_only");
    let rep = app.user("rep@example.com", json!({})).await;
    app.patch(&path, &json!({"owner_id": rep.user_id.0.to_string()}))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_person_without_a_company_becomes_the_contact_they_already_are() {
    let app = TestApp::spawn().await;
    let existing = create(
        &app,
        "contact",
        json!({"name": "陈静", "email": "chen.jing@example.com"}),
    )
    .await;
    let lead = create(
        &app,
        "lead",
        json!({"name": "陈静", "email": "Chen.Jing@Example.com"}),
    )
    .await;
    let r = convert(&app, &id_of(&lead), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.body["account"], Json::Null, "no company: no account");
    assert_eq!(r.body["contact"]["created"], false);
    assert_eq!(r.body["contact"]["record"]["id"], existing["id"]);
    assert_eq!(r.body["opportunity"], Json::Null);
    assert_eq!(common::count(&app, "contact").await, 1);
    assert_eq!(common::count(&app, "account").await, 0);
}

#[tokio::test]
async fn a_refused_part_leaves_nothing_written() {
    let app = TestApp::spawn().await;
    let lead = create(
        &app,
        "lead",
        json!({"name": "刘洋", "company": "比亚迪股份有限公司", "email": "liu@byd.example"}),
    )
    .await;
    let lead_id = id_of(&lead);
    let before = DbState::capture(&app, &["account", "contact", "opportunity", "lead"]).await;

    // the opportunity is the last thing written: its bad stage must undo the account and contact
    let r = convert(&app, &lead_id, json!({"opportunity": {"stage": "nope"}})).await;
    assert_field_problem(&r, 422, "opportunity.stage", "unknown_picklist_value");
    before.assert_unchanged(&app, "a refused conversion").await;

    let r = convert(
        &app,
        &lead_id,
        json!({"account": {"action": "existing", "id": "00000000-0000-7000-8000-000000000000"}}),
    )
    .await;
    assert_field_problem(&r, 422, "account.id", "lookup_not_found");
    let r = convert(&app, &lead_id, json!({"contact": {"action": "none"}})).await;
    assert_field_problem(&r, 422, "contact.action", "invalid_option");
    let r = convert(
        &app,
        &lead_id,
        json!({"contact": {"action": "create", "values": {"nope": 1}}}),
    )
    .await;
    assert_field_problem(&r, 422, "contact.nope", "unknown_field");
    let r = convert(&app, &lead_id, json!({"account": {"action": "merge"}})).await;
    r.assert_status(400);
    before.assert_unchanged(&app, "refused conversions").await;
    assert_eq!(get(&app, "lead", &lead_id).await["status"], "new");
}

#[tokio::test]
async fn matching_and_copying_never_use_what_the_user_may_not_see() {
    let app = TestApp::spawn().await;
    // the admin's account, private to them
    let hidden = create(&app, "account", json!({"name": "腾讯科技有限公司"})).await;
    let rep =
        common::user_without_fields(&app, "rep@example.com", json!({"lead": ["email"]})).await;
    let rep_client = app.client_for(&rep).await;
    let r = rep_client
        .post(
            "/api/v1/records/lead",
            &json!({"name": "赵敏", "company": "腾讯科技有限公司", "phone": "0755-86013388"}),
        )
        .await;
    r.assert_status(201);
    let lead_id = id_of(&r.body);
    // the admin knows the lead's email; the rep may not see it
    app.patch(
        &format!("/api/v1/records/lead/{lead_id}"),
        &json!({"email": "zhao.min@tencent.example"}),
    )
    .await
    .assert_status(200);

    let preview = rep_client
        .get(&format!("/api/v1/leads/{lead_id}/conversion"))
        .await;
    preview.assert_status(200);
    assert_eq!(
        preview.body["account"]["matches"],
        json!([]),
        "{}",
        preview.body
    );
    assert!(preview.body["contact"]["new_values"].get("email").is_none());
    let r = rep_client
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            &json!({"account": {"action": "existing", "id": id_of(&hidden)}}),
        )
        .await;
    assert_field_problem(&r, 422, "account.id", "lookup_not_found");
    common::assert_no_leak(&r);

    let r = rep_client
        .post(&format!("/api/v1/leads/{lead_id}/convert"), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(
        r.body["account"]["created"], true,
        "their own account, not the hidden one"
    );
    assert_ne!(r.body["account"]["record"]["id"], hidden["id"]);
    let contact = get(&app, "contact", &id_of(&r.body["contact"]["record"])).await;
    assert_eq!(
        contact["email"],
        Json::Null,
        "a field hidden from the rep is not copied"
    );
    assert_eq!(contact["owner_id"], rep.user_id.0.to_string().as_str());

    // someone else's lead is not theirs to convert
    let other = create(&app, "lead", json!({"name": "周杰"})).await;
    let r = rep_client
        .post(
            &format!("/api/v1/leads/{}/convert", id_of(&other)),
            &json!({}),
        )
        .await;
    r.assert_status(404);
}

#[tokio::test]
async fn the_conversion_map_is_set_by_admins_and_checked_line_by_line() {
    let app = TestApp::spawn().await;
    let standard = app.get("/api/v1/leads/conversion_map").await;
    standard.assert_status(200);
    assert_eq!(standard.body["standard"], true);
    let mut fields = standard.body["fields"].as_array().unwrap().clone();

    for object in ["lead", "contact"] {
        common::add_field(
            &app,
            object,
            json!({"api_name": "wechat", "label": "WeChat", "type": "text"}),
        )
        .await;
    }
    fields.push(json!({"lead_field": "wechat", "object": "contact", "field": "wechat"}));
    let r = app
        .put("/api/v1/leads/conversion_map", &json!({"fields": fields}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["standard"], false);

    let bad = app
        .put(
            "/api/v1/leads/conversion_map",
            &json!({"fields": [
                {"lead_field": "wechat", "object": "contact", "field": "birthday"},
                {"lead_field": "name", "object": "product", "field": "name"}
            ]}),
        )
        .await;
    assert_field_problem(&bad, 422, "fields.0.field", "wrong_type");
    assert_field_problem(&bad, 422, "fields.1.object", "invalid_option");
    let rep = app.user("rep@example.com", json!({})).await;
    let r = app
        .client_for(&rep)
        .await
        .put("/api/v1/leads/conversion_map", &json!({"fields": []}))
        .await;
    r.assert_status(403);

    let lead = create(&app, "lead", json!({"name": "孙丽", "wechat": "sunli_88"})).await;
    let r = convert(&app, &id_of(&lead), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.body["contact"]["record"]["wechat"], "sunli_88");

    let reset = app.delete("/api/v1/leads/conversion_map").await;
    reset.assert_status(200);
    assert_eq!(reset.body["standard"], true);
}
