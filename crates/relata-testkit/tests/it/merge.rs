//! Merging duplicate records through the real server: the surviving values, every related
//! record of every object re-pointed (contacts, opportunities, tasks, notes, a custom object,
//! a child account, records in the recycle bin), shares moved, a unique value handed over,
//! the merged record in the recycle bin, the audit entry; then the undo, which keeps what was
//! edited since. Permissions (403 and nothing changed) and bad input, on both backends.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use relata_core::Settings;
use relata_domain::ManualClock;
use relata_testkit::{SpawnOptions, TestApp};
use serde_json::{Value as Json, json};

use common::{DbState, add_field, create_object, id_of, share};

async fn list_ids(app: &TestApp, object: &str, filter: &str) -> Vec<String> {
    let r = app
        .get(&format!(
            "/api/v1/records/{object}?limit=100&filter={}",
            common::urlencode(filter)
        ))
        .await;
    r.assert_status(200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn a_merge_keeps_the_chosen_values_repoints_everything_and_its_undo_puts_it_back() {
    let app = TestApp::spawn().await;
    create_object(&app, "site_visit", "Site visit", "Site visits").await;
    add_field(
        &app,
        "site_visit",
        json!({"api_name": "account_id", "type": "lookup", "label": "Account", "target": "account"}),
    )
    .await;
    add_field(
        &app,
        "account",
        json!({"api_name": "erp_code", "type": "text", "label": "ERP code", "unique": true}),
    )
    .await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let rep_client = app.client_for(&rep).await;

    let keep = app
        .create(
            "account",
            &json!({"name": "华远科技", "industry": "technology", "city": "上海"}),
        )
        .await;
    let dup = app
        .create(
            "account",
            &json!({"name": "上海华远科技有限公司", "phone": "021-5555 0101", "level": "a", "erp_code": "ERP-0042"}),
        )
        .await;
    let (keep_id, dup_id) = (id_of(&keep), id_of(&dup));
    let contact = app
        .create("contact", &json!({"name": "张伟", "account_id": dup_id}))
        .await;
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "CRM 项目", "account_id": dup_id}),
        )
        .await;
    let task = app
        .create("task", &json!({"subject": "回访", "account_id": dup_id}))
        .await;
    let note = app
        .create("note", &json!({"title": "纪要", "account_id": dup_id}))
        .await;
    let visit = app
        .create("site_visit", &json!({"name": "拜访", "account_id": dup_id}))
        .await;
    let branch = app
        .create(
            "account",
            &json!({"name": "华远北京分公司", "parent_id": dup_id}),
        )
        .await;
    let binned = app
        .create(
            "task",
            &json!({"subject": "已删除的任务", "account_id": dup_id}),
        )
        .await;
    app.delete(&format!("/api/v1/records/task/{}", id_of(&binned)))
        .await
        .assert_status(204);
    // the merged record is shared with the rep, the survivor is not
    share(&app, "account", &dup_id, &rep, "read").await;
    rep_client
        .get(&format!("/api/v1/records/account/{keep_id}"))
        .await
        .assert_status(404);

    // the plan: the survivor first, the newer record's values by default
    let plan = app
        .get(&format!(
            "/api/v1/records/account/{keep_id}/merge?with={dup_id}"
        ))
        .await;
    plan.assert_status(200);
    assert_eq!(plan.body["records"][0]["id"], keep["id"]);
    assert_eq!(plan.body["sources"]["name"], dup["id"], "{}", plan.text);
    assert_eq!(
        plan.body["sources"]["industry"], keep["id"],
        "only it has one"
    );
    assert_eq!(plan.body["sources"]["phone"], dup["id"]);
    assert!(
        plan.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f != "owner_id" && f != "id"),
        "{}",
        plan.body["fields"]
    );

    let merged = app
        .post(
            &format!("/api/v1/records/account/{keep_id}/merge"),
            &json!({"records": [dup_id], "values": {"name": keep_id}}),
        )
        .await;
    merged.assert_status(200);
    let record = &merged.body["record"];
    assert_eq!(record["name"], "华远科技", "chosen");
    assert_eq!(
        record["industry"], "technology",
        "only the survivor had one"
    );
    assert_eq!(
        record["phone"], dup["phone"],
        "taken from the merged record"
    );
    assert_eq!(record["level"], "a");
    assert_eq!(record["erp_code"], "ERP-0042", "a unique value handed over");
    assert_eq!(merged.body["reparented"], 7, "{}", merged.text);
    assert_eq!(merged.body["shares_moved"], 1);
    let merge_id = merged.body["merge_id"].as_str().unwrap().to_owned();

    // everything points at the survivor, the binned task included
    for (object, child) in [
        ("contact", &contact),
        ("opportunity", &opp),
        ("task", &task),
        ("note", &note),
        ("site_visit", &visit),
    ] {
        let got = app
            .get(&format!("/api/v1/records/{object}/{}", id_of(child)))
            .await;
        assert_eq!(got.body["account_id"], keep["id"], "{object}: {}", got.text);
    }
    let got = app
        .get(&format!("/api/v1/records/account/{}", id_of(&branch)))
        .await;
    assert_eq!(got.body["parent_id"], keep["id"]);
    let bin = app.get("/api/v1/records/task?deleted=true").await;
    assert_eq!(
        bin.body["data"][0]["account_id"], keep["id"],
        "{}",
        bin.text
    );
    // the merged record is in the recycle bin; the rep now sees the survivor through the share
    app.get(&format!("/api/v1/records/account/{dup_id}"))
        .await
        .assert_status(404);
    assert_eq!(
        list_ids(
            &app,
            "account",
            &format!("name eq {}", "上海华远科技有限公司")
        )
        .await,
        Vec::<String>::new()
    );
    rep_client
        .get(&format!("/api/v1/records/account/{keep_id}"))
        .await
        .assert_status(200);
    // the survivor's timeline holds what was the other's; the change is in its history
    let timeline = app
        .get(&format!("/api/v1/records/account/{keep_id}/timeline?kinds=contact,opportunity,task,note,site_visit"))
        .await;
    assert_eq!(
        timeline.body["data"].as_array().unwrap().len(),
        5,
        "{}",
        timeline.text
    );
    let history = app
        .get(&format!("/api/v1/records/account/{keep_id}/history"))
        .await;
    assert!(history.text.contains("\"level\""), "{}", history.text);
    let audit = app.get("/api/v1/admin/audit?action=record.merge").await;
    assert!(audit.text.contains(&merge_id), "{}", audit.text);
    let merges = app
        .get(&format!("/api/v1/records/account/{keep_id}/merges"))
        .await;
    assert_eq!(merges.body["data"][0]["id"], merge_id.as_str());

    // an edit after the merge survives its undo
    app.patch(
        &format!("/api/v1/records/account/{keep_id}"),
        &json!({"level": "b"}),
    )
    .await
    .assert_status(200);
    let undone = app
        .post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await;
    undone.assert_status(200);
    let after = &undone.body["record"];
    assert_eq!(after["level"], "b", "edited since: kept");
    assert_eq!(undone.body["kept"], json!(["level"]), "{}", undone.text);
    assert_eq!(after["phone"], Json::Null, "the merge's change went back");
    assert_eq!(after["erp_code"], Json::Null);
    let back = app.get(&format!("/api/v1/records/account/{dup_id}")).await;
    back.assert_status(200);
    assert_eq!(back.body["erp_code"], "ERP-0042", "given back");
    for (object, child) in [
        ("contact", &contact),
        ("site_visit", &visit),
        ("task", &task),
    ] {
        let got = app
            .get(&format!("/api/v1/records/{object}/{}", id_of(child)))
            .await;
        assert_eq!(got.body["account_id"], dup["id"], "{object} back");
    }
    rep_client
        .get(&format!("/api/v1/records/account/{keep_id}"))
        .await
        .assert_status(404);
    app.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_problem(409, "merge_undone");
    let merges = app
        .get(&format!("/api/v1/records/account/{keep_id}/merges"))
        .await;
    assert_eq!(merges.body["data"], json!([]));
}

#[tokio::test]
async fn merging_records_the_user_may_not_change_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let rep_client = app.client_for(&rep).await;
    let mine = rep_client
        .create("contact", &json!({"name": "李娜", "mobile": "13912345678"}))
        .await;
    let theirs = app
        .create(
            "contact",
            &json!({"name": "李娜", "mobile": "139 1234 5678"}),
        )
        .await;
    let (mine_id, theirs_id) = (id_of(&mine), id_of(&theirs));

    // theirs is invisible: not found
    rep_client
        .post(
            &format!("/api/v1/records/contact/{mine_id}/merge"),
            &json!({"records": [theirs_id]}),
        )
        .await
        .assert_status(404);
    // shared for reading: seen, but may not be deleted by a merge
    share(&app, "contact", &theirs_id, &rep, "read").await;
    let before = DbState::capture(&app, &["contact"]).await;
    rep_client
        .post(
            &format!("/api/v1/records/contact/{mine_id}/merge"),
            &json!({"records": [theirs_id]}),
        )
        .await
        .assert_problem(403, "forbidden");
    // nor kept as the survivor of mine
    rep_client
        .post(
            &format!("/api/v1/records/contact/{theirs_id}/merge"),
            &json!({"records": [mine_id]}),
        )
        .await
        .assert_problem(403, "forbidden");
    rep_client
        .get(&format!(
            "/api/v1/records/contact/{mine_id}/merge?with={theirs_id}"
        ))
        .await
        .assert_problem(403, "forbidden");
    before
        .assert_unchanged(&app, "merges refused on a read share")
        .await;
    // shared for editing: still not theirs to delete
    share(&app, "contact", &theirs_id, &rep, "edit").await;
    let before = DbState::capture(&app, &["contact"]).await;
    rep_client
        .post(
            &format!("/api/v1/records/contact/{mine_id}/merge"),
            &json!({"records": [theirs_id]}),
        )
        .await
        .assert_problem(403, "forbidden");
    before.assert_unchanged(&app, "refused merges").await;
    for id in [&mine_id, &theirs_id] {
        app.get(&format!("/api/v1/records/contact/{id}"))
            .await
            .assert_status(200);
    }
    // a read-only user may not merge at all
    let reader = app
        .user(
            "reader@example.com",
            json!({"name": "Reader", "profile_id": relata_store::migrations::READ_ONLY_PROFILE_ID.to_string()}),
        )
        .await;
    app.client_for(&reader)
        .await
        .post(
            &format!("/api/v1/records/contact/{mine_id}/merge"),
            &json!({"records": [theirs_id]}),
        )
        .await
        .assert_problem(403, "forbidden");
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-04-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn bad_merge_requests_name_the_problem_and_undo_has_a_window() {
    let clock = Arc::new(ManualClock::new(start()));
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        settings: Some(Settings {
            merge_undo_days: 7,
            ..Settings::default()
        }),
        ..Default::default()
    })
    .await;
    let a = app
        .create("lead", &json!({"name": "王芳", "company": "云帆"}))
        .await;
    let b = app
        .create("lead", &json!({"name": "王 芳", "email": "wf@yunfan.cn"}))
        .await;
    let c = app.create("lead", &json!({"name": "Wang Fang"})).await;
    let (a_id, b_id, c_id) = (id_of(&a), id_of(&b), id_of(&c));
    let url = format!("/api/v1/records/lead/{a_id}/merge");
    let before = DbState::capture(&app, &["lead"]).await;
    for (body, field) in [
        (json!({"records": []}), "records"),
        (json!({"records": [a_id]}), "records"),
        (json!({"records": [b_id, b_id]}), "records"),
        (json!({}), "records"),
        (json!({"records": ["nope"]}), "records[0]"),
        (
            json!({"records": [b_id], "values": {"no_such": b_id}}),
            "values.no_such",
        ),
        (
            json!({"records": [b_id], "values": {"owner_id": b_id}}),
            "values.owner_id",
        ),
        (
            json!({"records": [b_id], "values": {"email": c_id}}),
            "values.email",
        ),
        (
            json!({"records": [b_id], "strategy": "loudest"}),
            "strategy",
        ),
        (json!({"records": [b_id], "colour": "red"}), "colour"),
    ] {
        let r = app.post(&url, &body).await;
        r.assert_status(422);
        assert_eq!(r.error_fields(), vec![field], "{body}: {}", r.text);
    }
    let many: Vec<String> = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let r = app.post(&url, &json!({"records": many})).await;
    assert_eq!(r.error_fields(), vec!["records"]);
    app.post(
        &url,
        &json!({"records": [uuid::Uuid::now_v7().to_string()]}),
    )
    .await
    .assert_status(404);
    let stale = app
        .send(
            reqwest::Method::POST,
            &url,
            Some(&json!({"records": [b_id]})),
            &[("If-Match", "\"7\"")],
        )
        .await;
    stale.assert_status(412);
    before.assert_unchanged(&app, "refused merges").await;

    // three into one, most complete by default
    let merged = app
        .post(
            &url,
            &json!({"records": [b_id, c_id], "strategy": "most_complete"}),
        )
        .await;
    merged.assert_status(200);
    assert_eq!(merged.body["record"]["email"], "wf@yunfan.cn");
    assert_eq!(merged.body["record"]["company"], "云帆");
    let merge_id = merged.body["merge_id"].as_str().unwrap().to_owned();
    assert_eq!(
        merged.body["undo_until"], "2026-04-08T09:00:00.000000Z",
        "seven days"
    );
    clock.advance(chrono::Duration::days(8));
    app.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_problem(409, "undo_window_passed");
    app.post(
        &format!("/api/v1/merges/{}/undo", uuid::Uuid::now_v7()),
        &json!({}),
    )
    .await
    .assert_status(404);
    app.post("/api/v1/merges/not-an-id/undo", &json!({}))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn the_web_ui_merges_from_the_duplicates_page_and_undoes_from_the_record_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let a = app
        .create(
            "contact",
            &json!({"name": "王芳", "email": "wang.fang@example.com", "title": "经理"}),
        )
        .await;
    let b = app
        .create(
            "contact",
            &json!({"name": "王 芳", "email": "Wang.Fang@example.com", "mobile": "13800138000", "title": "总监"}),
        )
        .await;
    let (a_id, b_id) = (id_of(&a), id_of(&b));
    app.create("task", &json!({"subject": "回电", "contact_id": b_id}))
        .await;

    let dups = web.get(&format!("/o/contact/{a_id}/duplicates")).await;
    let merge_href = format!("/o/contact/{a_id}/merge?with={b_id}");
    dups.assert_contains(&merge_href);

    let page = web.get(&merge_href).await;
    page.assert_status(200)
        .assert_contains("Merge duplicates")
        .assert_contains("Kept")
        .assert_contains("13800138000")
        .assert_contains(&format!("href=\"/o/contact/{b_id}/merge?with={a_id}"));
    // the newer title is chosen by default; choose the older one instead
    assert!(
        page.html
            .contains(&format!("name=\"v.title\" value=\"{b_id}\" checked")),
        "{}",
        page.html
    );
    let csrf = page.csrf();
    let done = web
        .post(
            &format!("/o/contact/{a_id}/merge"),
            &[
                ("_csrf", &csrf),
                ("with", &b_id),
                ("strategy", "most_recent"),
                ("v.title", &a_id),
            ],
        )
        .await;
    done.assert_status(303);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/o/contact/{a_id}?saved=merged").as_str())
    );
    let kept = app.get(&format!("/api/v1/records/contact/{a_id}")).await;
    assert_eq!(kept.body["title"], "经理", "as chosen");
    assert_eq!(
        kept.body["mobile"], b["mobile"],
        "the only one with a mobile"
    );
    app.get(&format!("/api/v1/records/contact/{b_id}"))
        .await
        .assert_status(404);
    let record = web.get(&format!("/o/contact/{a_id}?saved=merged")).await;
    record
        .assert_contains("Merged. The other records are in the recycle bin.")
        .assert_contains("1 records were merged into this one")
        .assert_contains("回电");
    let undo_action = record
        .html
        .split("class=\"merged-note\" method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an undo form")
        .to_owned();
    // without the form's token the undo is refused
    web.post(&undo_action, &[("_csrf", "forged")])
        .await
        .assert_status(403);
    let undone = web.post(&undo_action, &[("_csrf", &record.csrf())]).await;
    undone.assert_status(303);
    app.get(&format!("/api/v1/records/contact/{b_id}"))
        .await
        .assert_status(200);
    let record = web.get(&format!("/o/contact/{a_id}?saved=unmerged")).await;
    record.assert_contains("The merge was undone.");
    assert!(!record.html.contains("merged-note"));

    // in Chinese
    let here = format!("/o/contact/{a_id}/merge?with={b_id}");
    web.submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    web.get(&here)
        .await
        .assert_contains("合并重复记录")
        .assert_contains("保留");

    // a rep who may not delete the other sees a refusal, not a form
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    app.set_password(&rep, "correct-horse-battery-9").await;
    let mine = app
        .client_for(&rep)
        .await
        .create("contact", &json!({"name": "王芳"}))
        .await;
    share(&app, "contact", &a_id, &rep, "read").await;
    let rep_web = app.web_as(&rep, "correct-horse-battery-9").await;
    rep_web
        .get(&format!("/o/contact/{}/merge?with={a_id}", id_of(&mine)))
        .await
        .assert_status(403);
}

/// A small deterministic generator: the same rounds on every run and backend.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

/// The property: after a merge every record that pointed at a merged record points at the
/// survivor and every other one is untouched; after its undo every one points where it did.
#[tokio::test]
async fn a_merge_repoints_exactly_the_records_of_the_merged_and_its_undo_restores_each() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let core = &app.core;
    let mut rng = SplitMix(7);
    const CHILDREN: [(&str, &str, &str); 5] = [
        ("contact", "account_id", "name"),
        ("opportunity", "account_id", "name"),
        ("task", "account_id", "subject"),
        ("note", "account_id", "title"),
        ("account", "parent_id", "name"),
    ];
    for round in 0..8 {
        let dups = 2 + rng.next(3) as usize;
        let mut accounts = Vec::new();
        for i in 0..=dups {
            let r = core
                .create_record(
                    &admin,
                    "account",
                    json!({"name": format!("客户 {round}-{i}")}),
                )
                .await
                .unwrap();
            accounts.push(r.id().unwrap());
        }
        // the first survives, the last is a bystander: its records must not move
        let (survivor, merged) = (accounts[0], accounts[1..dups].to_vec());
        let mut children = Vec::new();
        for (object, via, name_field) in CHILDREN {
            for j in 0..rng.next(5) {
                let target = accounts[rng.next(accounts.len() as u64) as usize];
                let r = core
                    .create_record(
                        &admin,
                        object,
                        json!({ name_field: format!("{object} {round}-{j}"), via: target.to_string() }),
                    )
                    .await
                    .unwrap();
                let id = r.id().unwrap();
                if rng.next(4) == 0 {
                    core.delete_record(&admin, object, id, None).await.unwrap();
                }
                children.push((object, via, id, target));
            }
        }
        let outcome = core
            .merge_records(
                &admin,
                "account",
                survivor,
                relata_core::records::merge::MergeRequest {
                    records: merged.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let expected_moves = children
            .iter()
            .filter(|(_, _, _, t)| merged.contains(t))
            .count();
        assert_eq!(outcome.reparented, expected_moves, "round {round}");
        for (object, via, id, target) in &children {
            let now = pointer(core, &admin, object, via, *id).await;
            let want = if merged.contains(target) {
                survivor
            } else {
                *target
            };
            assert_eq!(
                now,
                json!(want.to_string()),
                "round {round}: {object} {id} after the merge"
            );
        }
        core.undo_merge(&admin, outcome.merge_id).await.unwrap();
        for (object, via, id, target) in &children {
            let now = pointer(core, &admin, object, via, *id).await;
            assert_eq!(
                now,
                json!(target.to_string()),
                "round {round}: {object} {id} after the undo"
            );
        }
        for id in &merged {
            core.get_record(&admin, "account", *id).await.unwrap();
        }
    }
}

/// Where `via` of a record (live or in the recycle bin) points.
async fn pointer(
    core: &relata_core::Core,
    admin: &relata_core::Actor,
    object: &str,
    via: &str,
    id: uuid::Uuid,
) -> Json {
    let (record, _) = core.get_record_or_binned(admin, object, id).await.unwrap();
    record.get(via).to_json()
}

#[tokio::test]
async fn a_merge_keeps_the_stronger_share_moves_attachments_and_its_undo_reverses_both() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let outsider = app.user("out@example.com", json!({"name": "Out"})).await;
    let rep_client = app.client_for(&rep).await;
    let keep = app.create("account", &json!({"name": "华远"})).await;
    let dup = app.create("account", &json!({"name": "华远科技"})).await;
    let (keep_id, dup_id) = (id_of(&keep), id_of(&dup));
    for (id, access) in [(&keep_id, "read"), (&dup_id, "edit")] {
        share(&app, "account", id, &rep, access).await;
    }
    let file = app
        .send_raw(
            reqwest::Method::POST,
            &format!("/api/v1/records/account/{dup_id}/attachments?file_name=licence.pdf"),
            "application/pdf",
            b"%PDF-1.4\n%%EOF\n".to_vec(),
        )
        .await;
    file.assert_status(201);
    rep_client
        .patch(
            &format!("/api/v1/records/account/{keep_id}"),
            &json!({"city": "上海"}),
        )
        .await
        .assert_status(404);

    let merged = app
        .post(
            &format!("/api/v1/records/account/{keep_id}/merge"),
            &json!({"records": [dup_id]}),
        )
        .await;
    merged.assert_status(200);
    // the rep keeps the edit right the merged record gave them
    rep_client
        .patch(
            &format!("/api/v1/records/account/{keep_id}"),
            &json!({"city": "上海"}),
        )
        .await
        .assert_status(200);
    let files = app
        .get(&format!("/api/v1/records/account/{keep_id}/attachments"))
        .await;
    assert_eq!(
        files.body["data"][0]["file_name"], "licence.pdf",
        "{}",
        files.text
    );

    // one who may not see the survivor learns nothing of the merge, undone or not
    let merge_id = merged.body["merge_id"].as_str().unwrap().to_owned();
    let out = app.client_for(&outsider).await;
    out.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_status(404);
    app.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_status(200);
    out.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_status(404);
    rep_client
        .patch(
            &format!("/api/v1/records/account/{keep_id}"),
            &json!({"city": "北京"}),
        )
        .await
        .assert_status(404);
    let back = app
        .get(&format!("/api/v1/records/account/{dup_id}/attachments"))
        .await;
    assert_eq!(back.body["data"][0]["file_name"], "licence.pdf");
}
