//! The batch duplicate job through the real server: a job over a whole object groups the
//! likely duplicates it finds (through any shared identifier, not namesakes), the review
//! queue shows each group with a confidence, and groups are merged — one by one or in bulk —
//! or dismissed; only administrators start jobs, and an object needs a rule.

use crate::common;

use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

use common::{count, user_without_fields};

async fn finished(app: &TestApp, id: &str) -> Json {
    for _ in 0..200 {
        let job = app.get(&format!("/api/v1/duplicate_jobs/{id}")).await;
        let status = job.body["status"].as_str().unwrap_or_default().to_owned();
        if status == "done" || status == "failed" {
            return job.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

async fn run_job(app: &TestApp, object: &str) -> Json {
    let started = app
        .post("/api/v1/duplicate_jobs", &json!({"object": object}))
        .await;
    started.assert_status(202);
    assert_eq!(started.body["status"], "queued");
    // as the server's worker would (tests drive background work themselves)
    while app
        .core
        .run_next_duplicate_job()
        .await
        .expect("run")
        .is_some()
    {}
    let job = finished(app, started.body["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");
    job
}

fn names(group: &Json) -> Vec<String> {
    let mut n: Vec<String> = group["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_job_groups_the_duplicates_and_the_queue_merges_or_dismisses_them() {
    let app = TestApp::spawn().await;
    for c in [
        json!({"name": "张伟", "email": "zhang.wei@huayuan.cn"}),
        json!({"name": "张 伟", "email": "Zhang.Wei@HUAYUAN.cn", "mobile": "138 0013 8000"}),
        json!({"name": "张伟", "phone": "+86-138-0013-8000"}),
        json!({"name": "张伟", "mobile": "13900001111"}),
        json!({"name": "Wei Li", "email": "li@beichen.cn"}),
        json!({"name": "li wei", "email": "LI@beichen.cn"}),
        json!({"name": "王芳", "email": "wang@b.cn"}),
    ] {
        app.create("contact", &c).await;
    }
    let job = run_job(&app, "contact").await;
    assert_eq!(job["records"], 7);
    assert_eq!(job["groups"], 2, "{job}");
    let id = job["id"].as_str().unwrap();
    let queue = app
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups"))
        .await;
    queue.assert_status(200);
    let groups = queue.body["data"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 2, "{}", queue.text);
    let all: Vec<Vec<String>> = groups.iter().map(names).collect();
    assert!(
        all.contains(&vec!["张 伟".to_owned(), "张伟".into(), "张伟".into()]),
        "{all:?}"
    );
    assert!(
        all.contains(&vec!["Wei Li".to_owned(), "li wei".into()]),
        "{all:?}"
    );
    assert!(
        groups
            .iter()
            .all(|g| g["confidence"].as_f64().unwrap() >= 0.85)
    );

    let zhang = groups.iter().find(|g| names(g).len() == 3).unwrap();
    let li = groups.iter().find(|g| names(g).len() == 2).unwrap();
    let merged = app
        .post(
            &format!(
                "/api/v1/duplicate_groups/{}/merge",
                zhang["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    merged.assert_status(200);
    assert_eq!(merged.body["merged"].as_array().unwrap().len(), 2);
    assert_eq!(count(&app, "contact").await, 5);
    // a reviewed group is not merged twice
    app.post(
        &format!(
            "/api/v1/duplicate_groups/{}/merge",
            zhang["id"].as_str().unwrap()
        ),
        &json!({}),
    )
    .await
    .assert_problem(409, "group_reviewed");
    app.post(
        &format!(
            "/api/v1/duplicate_groups/{}/dismiss",
            li["id"].as_str().unwrap()
        ),
        &json!({}),
    )
    .await
    .assert_status(204);
    let open = app
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups"))
        .await;
    assert_eq!(open.body["data"], json!([]));
    let done = app
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups?status=merged"))
        .await;
    assert_eq!(
        done.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        done.text
    );
    // the merge is an ordinary merge: it can be undone
    let merge_id = merged.body["merge_id"].as_str().unwrap();
    app.post(&format!("/api/v1/merges/{merge_id}/undo"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(count(&app, "contact").await, 7);
}

#[tokio::test]
async fn reviewed_groups_are_merged_in_bulk_and_only_admins_run_jobs() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        let email = format!("buyer{i}@huayuan.cn");
        app.create(
            "account",
            &json!({"name": format!("华远{i}号科技有限公司")}),
        )
        .await;
        app.create(
            "contact",
            &json!({"name": format!("客户{i}"), "email": email}),
        )
        .await;
        app.create(
            "contact",
            &json!({"name": format!("客户{i}"), "email": email.to_uppercase()}),
        )
        .await;
    }
    let job = run_job(&app, "contact").await;
    let id = job["id"].as_str().unwrap();
    let groups: Vec<String> = app
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups"))
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(groups.len(), 3);
    let bulk = app
        .post(
            "/api/v1/duplicate_groups/merge",
            &json!({"groups": groups, "strategy": "most_complete"}),
        )
        .await;
    bulk.assert_status(200);
    assert!(
        bulk.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["error"].is_null()),
        "{}",
        bulk.text
    );
    assert_eq!(count(&app, "contact").await, 3);

    let rep = user_without_fields(&app, "rep@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    rep_client
        .post("/api/v1/duplicate_jobs", &json!({"object": "contact"}))
        .await
        .assert_status(403);
    rep_client
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups"))
        .await
        .assert_status(403);
    // an object without a rule has nothing to match by
    common::assert_field_problem(
        &app.post("/api/v1/duplicate_jobs", &json!({"object": "product"}))
            .await,
        422,
        "object",
        "invalid_option",
    );
    let listed = app.get("/api/v1/duplicate_jobs?object=contact").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_review_queue_in_settings_starts_a_job_and_merges_ticked_groups() {
    let app = TestApp::spawn().await;
    for i in 0..2 {
        let email = format!("owner{i}@beichen.cn");
        app.create("lead", &json!({"name": format!("线索{i}"), "email": email}))
            .await;
        app.create(
            "lead",
            &json!({"name": format!("线索{i}"), "email": email.to_uppercase()}),
        )
        .await;
    }
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let rule_page = "/settings/objects/lead/duplicates";
    web.get(rule_page)
        .await
        .assert_status(200)
        .assert_contains("/duplicates/run");
    let started = web
        .submit(rule_page, "/settings/objects/lead/duplicates/run", &[])
        .await;
    started.assert_status(303);
    let job_page = started.location.clone().unwrap();
    while app
        .core
        .run_next_duplicate_job()
        .await
        .expect("run")
        .is_some()
    {}
    let queue = web.get(&job_page).await;
    queue
        .assert_status(200)
        .assert_contains("线索0")
        .assert_contains("线索1");
    let ids: Vec<String> = app
        .get(&format!(
            "/api/v1/duplicate_jobs/{}/groups",
            job_page.rsplit('/').next().unwrap()
        ))
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let mut fields: Vec<(&str, &str)> = vec![("action", "merge_all")];
    fields.extend(ids.iter().map(|i| ("group", i.as_str())));
    let done = web
        .submit(&job_page, &format!("{job_page}/review"), &fields)
        .await;
    done.assert_status(303);
    web.get(done.location.as_deref().unwrap())
        .await
        .assert_contains("2 of 2 groups merged.");
    assert_eq!(count(&app, "lead").await, 2);
}

#[tokio::test]
async fn a_jobs_groups_are_reviewed_by_its_requester_only() {
    let app = TestApp::spawn().await;
    app.create("contact", &json!({"name": "甲", "email": "a@x.cn"}))
        .await;
    app.create("contact", &json!({"name": "甲", "email": "A@x.cn"}))
        .await;
    let job = run_job(&app, "contact").await;
    let id = job["id"].as_str().unwrap();
    let admin = app.admin().await;
    let other_admin = app.user("admin2@example.com", json!({})).await;
    // an administrator of metadata who did not run the job
    let set = app
        .core
        .create_permission_set(
            &admin,
            serde_json::from_value(
                json!({"name": "metadata admins", "is_profile": false, "grants": {
                "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                "capabilities": ["manage_metadata"]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    app.core
        .assign_permission_set(&admin, other_admin.user_id.0, set.id.parse().unwrap(), true)
        .await
        .unwrap();
    let other = app
        .client_for(&app.actor_of(&other_admin.user_id.0.to_string()).await)
        .await;
    other
        .get(&format!("/api/v1/duplicate_jobs/{id}/groups"))
        .await
        .assert_status(404);
    assert_eq!(
        other.get("/api/v1/duplicate_jobs").await.body["data"],
        json!([])
    );
}
