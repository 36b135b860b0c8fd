//! The admin settings pages through the real server: building a custom object with fields,
//! picklist values and a page layout; users, roles, teams, permission sets with field
//! security, sharing rules, and the audit log — each change visible where it matters, and
//! none of it open to a user without the capability.

use relata_testkit::TestApp;
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-9";

#[tokio::test]
async fn an_admin_builds_a_custom_object_with_fields_and_a_layout_and_uses_it() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;

    // a bad API name is reported by its field, what was typed kept
    let bad = web
        .submit(
            "/settings/objects",
            "/settings/objects",
            &[
                ("label", "项目"),
                ("plural_label", "项目"),
                ("api_name", "Select"),
            ],
        )
        .await;
    bad.assert_status(422);
    bad.assert_contains("id=\"e-o-api\"")
        .assert_contains("value=\"项目\"");

    let made = web
        .submit(
            "/settings/objects",
            "/settings/objects",
            &[
                ("label", "项目"),
                ("plural_label", "项目"),
                ("api_name", "project"),
                ("name_label", "项目名称"),
            ],
        )
        .await;
    made.assert_status(303);
    assert_eq!(made.location.as_deref(), Some("/settings/objects/project"));

    let page = "/settings/objects/project";
    let add = |fields: Vec<(&'static str, &'static str)>| {
        let web = web.clone();
        async move {
            let r = web
                .submit(page, "/settings/objects/project/fields", &fields)
                .await;
            assert_eq!(r.status, 303, "{}", &r.html[..r.html.len().min(3000)]);
        }
    };
    add(vec![
        ("label", "预算"),
        ("api_name", "budget"),
        ("type", "currency"),
        ("required", "false"),
    ])
    .await;
    add(vec![
        ("label", "阶段"),
        ("api_name", "phase"),
        ("type", "picklist"),
        ("values", "plan = 规划\ndo = 实施\ncheck"),
        ("tracked", "false"),
        ("tracked", "true"),
    ])
    .await;
    add(vec![
        ("label", "客户"),
        ("api_name", "client_id"),
        ("type", "lookup"),
        ("target", "account"),
    ])
    .await;
    // a lookup without a target is refused, by field
    let no_target = web
        .submit(
            page,
            "/settings/objects/project/fields",
            &[
                ("label", "Oops"),
                ("api_name", "oops"),
                ("type", "lookup"),
                ("target", ""),
            ],
        )
        .await;
    no_target.assert_status(422);
    no_target.assert_contains("field-error");

    let object = app.get("/api/v1/meta/objects/project").await;
    let fields = object.body["fields"].as_array().unwrap();
    let phase = fields.iter().find(|f| f["api_name"] == "phase").unwrap();
    assert_eq!(phase["values"][0]["value"], "plan");
    assert_eq!(phase["values"][1]["label"], "实施");
    assert_eq!(phase["tracked"], true);

    // deactivate a picklist value, relabel another, add one
    let edit = web
        .submit(
            "/settings/objects/project/fields/phase",
            "/settings/objects/project/fields/phase",
            &[
                ("label", "项目阶段"),
                ("label_plan", "计划"),
                ("active", "plan"),
                ("active", "do"),
                ("new_values", "act = 改进"),
                ("required", "false"),
                ("unique", "false"),
                ("tracked", "false"),
                ("tracked", "true"),
                ("searchable", "false"),
                ("filterable", "false"),
                ("filterable", "true"),
            ],
        )
        .await;
    edit.assert_status(303);
    let object = app.get("/api/v1/meta/objects/project").await;
    let phase = object.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["api_name"] == "phase")
        .unwrap()
        .clone();
    assert_eq!(phase["label"], "项目阶段");
    let values: Vec<(String, bool)> = phase["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap().to_owned(),
                v["active"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![
            ("plan".into(), true),
            ("do".into(), true),
            ("check".into(), false),
            ("act".into(), true)
        ]
    );

    // a layout: budget and phase under 基本信息, the client under 客户信息
    let layout = web
        .submit(
            "/settings/objects/project/layout",
            "/settings/objects/project/layout",
            &[
                ("section_label_1", "基本信息"),
                ("section_label_2", "客户信息"),
                ("section_name", "1"),
                ("order_name", "10"),
                ("section_phase", "1"),
                ("order_phase", "20"),
                ("section_budget", "1"),
                ("order_budget", "15"),
                ("section_client_id", "2"),
                ("order_client_id", "10"),
            ],
        )
        .await;
    layout.assert_status(303);
    let form = web.get("/o/project/new").await;
    let html = &form.html;
    let (a, b, c) = (
        html.find("<legend>基本信息</legend>").unwrap(),
        html.find("<legend>客户信息</legend>").unwrap(),
        html.find("id=\"f-client_id\"").unwrap(),
    );
    assert!(
        a < b && b < c,
        "sections in order, the client under the second"
    );
    assert!(html.find("id=\"f-budget\"").unwrap() < html.find("id=\"f-phase\"").unwrap());

    // the object is in the navigation and takes records through its generated form
    web.get("/").await.assert_contains("<a href=\"/o/project\"");
    let csrf = form.csrf();
    let created = web
        .post(
            "/o/project",
            &[
                ("_csrf", &csrf),
                ("name", "ERP 升级"),
                ("budget", "880000"),
                ("budget:currency", "CNY"),
                ("phase", "do"),
            ],
        )
        .await;
    created.assert_status(303);
    let record = web.get(created.location.as_deref().unwrap()).await;
    record
        .assert_contains("<h2>基本信息</h2>")
        .assert_contains("实施")
        .assert_contains("CN¥880,000.00");

    // archiving a field takes it off the pages
    web.submit(
        "/settings/objects/project/fields/budget",
        "/settings/objects/project/fields/budget/archive",
        &[],
    )
    .await
    .assert_status(303);
    assert!(
        !web.get("/o/project/new")
            .await
            .html
            .contains("id=\"f-budget\"")
    );
}

#[tokio::test]
async fn users_roles_teams_permissions_and_sharing_rules_are_managed_in_settings() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;

    // a role hierarchy
    web.submit(
        "/settings/org",
        "/settings/roles",
        &[("name", "销售总监"), ("parent_id", "")],
    )
    .await
    .assert_status(303);
    let roles = app.get("/api/v1/admin/roles").await;
    let director = roles.body["data"][0]["id"].as_str().unwrap().to_owned();
    web.submit(
        "/settings/org",
        "/settings/roles",
        &[("name", "华东区域经理"), ("parent_id", &director)],
    )
    .await
    .assert_status(303);
    let org = web.get("/settings/org").await;
    org.assert_contains("销售总监")
        .assert_contains("— </span>华东区域经理");

    // a user in a role, with a password, who can then sign in
    let bad = web
        .submit(
            "/settings/users",
            "/settings/users",
            &[
                ("name", "周婷"),
                ("email", "not-an-email"),
                ("password", ""),
                ("role_id", ""),
            ],
        )
        .await;
    bad.assert_status(422);
    bad.assert_contains("id=\"e-nu-email\"")
        .assert_contains("value=\"周婷\"");
    let made = web
        .submit(
            "/settings/users",
            "/settings/users",
            &[
                ("name", "周婷"),
                ("email", "zhou.ting@example.com"),
                ("password", "a-long-and-new-password-7"),
                ("role_id", &director),
                ("locale", "zh-CN"),
                ("time_zone", "Asia/Shanghai"),
            ],
        )
        .await;
    made.assert_status(303);
    let user_page = made.location.clone().unwrap();
    let user_id = user_page.trim_start_matches("/settings/users/").to_owned();
    let rep = relata_testkit::WebSession::new(&app.base);
    rep.sign_in("zhou.ting@example.com", "a-long-and-new-password-7")
        .await
        .assert_status(303);
    rep.get("/").await.assert_contains("<html lang=\"zh-CN\">");
    // settings are not for her
    rep.get("/settings/users").await.assert_status(403);
    rep.get("/settings/objects").await.assert_status(403);
    let forged = rep
        .submit(
            "/",
            "/settings/roles",
            &[("name", "偷偷加的角色"), ("parent_id", "")],
        )
        .await;
    forged.assert_status(403);

    // a team with her in it
    web.submit(
        "/settings/org",
        "/settings/teams",
        &[("name", "大客户团队")],
    )
    .await
    .assert_status(303);
    let teams = app.get("/api/v1/admin/teams").await;
    let team = teams.body["data"][0]["id"].as_str().unwrap().to_owned();
    web.submit(
        "/settings/org",
        &format!("/settings/teams/{team}/members"),
        &[("user_id", &user_id)],
    )
    .await
    .assert_status(303);
    web.get("/settings/org").await.assert_contains("周婷");

    // a permission set that hides the phone field of contacts, given to her
    web.submit(
        "/settings/permissions",
        "/settings/permissions",
        &[("name", "隐藏电话"), ("is_profile", "false")],
    )
    .await
    .assert_status(303);
    let sets = app.get("/api/v1/admin/permission_sets").await;
    let set = sets.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "隐藏电话")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grid = web
        .get(&format!("/settings/permissions/{set}?object=contact"))
        .await;
    grid.assert_contains("name=\"field.phone\"");
    web.post(
        &format!("/settings/permissions/{set}"),
        &[
            ("_csrf", &grid.csrf()),
            ("name", "隐藏电话"),
            ("field_object", "contact"),
            ("perm", "contact.read"),
            ("field.phone", "hidden"),
            ("field.email", "read"),
        ],
    )
    .await
    .assert_status(303);
    let stored = app.get("/api/v1/admin/permission_sets").await;
    let grants = &stored.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == set.as_str())
        .unwrap()["grants"];
    assert_eq!(grants["fields"]["contact"]["phone"], "hidden");
    assert_eq!(grants["objects"]["contact"]["read"], true);
    assert_eq!(grants["objects"]["contact"]["edit"], false);

    // a sharing rule: Shanghai contacts readable by her role
    let rule = web
        .submit(
            "/settings/sharing",
            "/settings/sharing",
            &[
                ("name", "上海联系人"),
                ("object", "contact"),
                ("filter", "city eq 上海"),
                ("principal", &format!("role:{director}")),
                ("access", "read"),
            ],
        )
        .await;
    rule.assert_status(303);
    let bad_rule = web
        .submit(
            "/settings/sharing",
            "/settings/sharing",
            &[
                ("name", "坏规则"),
                ("object", "contact"),
                ("filter", "city eq"),
                ("principal", &format!("role:{director}")),
            ],
        )
        .await;
    bad_rule.assert_status(422);
    bad_rule.assert_contains("value=\"city eq\"");
    app.create("contact", &json!({"name": "上海的联系人", "city": "上海"}))
        .await;
    app.create("contact", &json!({"name": "北京的联系人", "city": "北京"}))
        .await;
    let list = rep.get("/o/contact").await;
    list.assert_contains("上海的联系人");
    assert!(!list.html.contains("北京的联系人"));

    // every change above is in the audit log, newest first
    let audit = web.get("/settings/audit").await;
    audit
        .assert_contains("sharing.rule_create")
        .assert_contains("team.add_member")
        .assert_contains("user.create")
        .assert_contains("auth.login");
    let creates = web.get("/settings/audit?action=role.").await;
    assert_eq!(creates.html.matches("<code>role.create</code>").count(), 2);
    assert!(!creates.html.contains("user.create"));
}

#[tokio::test]
async fn saving_a_profile_in_settings_keeps_its_grant_for_objects_not_in_the_grid() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let sets = app.get("/api/v1/admin/permission_sets").await;
    let standard = sets.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_profile"] == true && s["grants"]["default_objects"]["read"] == true)
        .expect("a built-in profile that reads every object by default")
        .clone();
    let id = standard["id"].as_str().unwrap();
    let page = web.get(&format!("/settings/permissions/{id}")).await;
    web.post(
        &format!("/settings/permissions/{id}"),
        &[
            ("_csrf", &page.csrf()),
            ("name", standard["name"].as_str().unwrap()),
            ("field_object", "contact"),
            ("perm", "contact.read"),
        ],
    )
    .await
    .assert_status(303);
    let after = app.get("/api/v1/admin/permission_sets").await;
    let saved = after.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(
        saved["grants"]["default_objects"],
        standard["grants"]["default_objects"]
    );
}

#[tokio::test]
async fn background_jobs_are_seen_retried_cancelled_and_scheduled_from_settings() {
    let app = TestApp::spawn().await;
    app.core.ensure_system_schedules().await.unwrap();
    let now = app.core.clock.now();
    let queued = app
        .core
        .enqueue_job(relata_core::jobs::NewJob::new(
            "noop",
            json!({"note": "<b>x</b>"}),
            now + chrono::Duration::hours(1),
        ))
        .await
        .unwrap()
        .unwrap();
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let page = web.get("/settings/jobs").await;
    page.assert_status(200);
    page.assert_contains(&format!("id=\"job-{queued}\""))
        .assert_contains("/settings/jobs/")
        .assert_contains("&#60;b&#62;x&#60;/b&#62;")
        .assert_not_contains("<b>x</b>")
        .assert_contains("purge finished jobs");

    // cancel it, then retry it
    let cancelled = web
        .submit(
            "/settings/jobs",
            &format!("/settings/jobs/{queued}/cancel"),
            &[],
        )
        .await;
    cancelled.assert_status(303);
    let admin = app.admin().await;
    let job = app.core.get_job(&admin, queued).await.unwrap();
    assert_eq!(job.status, relata_core::jobs::JobStatus::Cancelled);
    let cancelled_list = web.get("/settings/jobs?status=cancelled").await;
    cancelled_list.assert_contains(&format!("/settings/jobs/{queued}/retry"));
    web.submit(
        "/settings/jobs?status=cancelled",
        &format!("/settings/jobs/{queued}/retry"),
        &[],
    )
    .await
    .assert_status(303);
    let job = app.core.get_job(&admin, queued).await.unwrap();
    assert_eq!(job.status, relata_core::jobs::JobStatus::Queued);

    // a schedule with a bad expression: the form again, the problem beside the field
    let bad = web
        .submit(
            "/settings/jobs",
            "/settings/schedules",
            &[
                ("name", "nightly"),
                ("kind", "noop"),
                ("cron", "0 9 * *"),
                ("time_zone", "Asia/Shanghai"),
                ("enabled", "on"),
            ],
        )
        .await;
    bad.assert_status(200);
    bad.assert_contains("id=\"s-cron-error\"")
        .assert_contains("value=\"0 9 * *\"");
    let good = web
        .submit(
            "/settings/jobs",
            "/settings/schedules",
            &[
                ("name", "nightly"),
                ("kind", "noop"),
                ("cron", "30 2 * * *"),
                ("time_zone", "Asia/Shanghai"),
                ("enabled", "on"),
            ],
        )
        .await;
    good.assert_status(303);
    let listed = app.get("/api/v1/schedules").await;
    assert!(
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "nightly" && s["cron"] == "30 2 * * *"),
        "{}",
        listed.text
    );

    // closed to a user without the capability
    let rep = app.user("rep.jobs@example.com", json!({})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    rep_web.get("/settings/jobs").await.assert_status(403);
    rep_web
        .post(
            &format!("/settings/jobs/{queued}/cancel"),
            &[("_csrf", &rep_web.get("/").await.csrf())],
        )
        .await
        .assert_status(403);
}

#[tokio::test]
async fn webhooks_are_subscribed_with_the_secret_shown_once_and_their_deliveries_listed() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let bad = web
        .submit(
            "/settings/webhooks",
            "/settings/webhooks",
            &[
                ("name", "ERP"),
                ("url", "not a url"),
                ("object", "contact"),
                ("events", "created"),
                ("enabled", "on"),
            ],
        )
        .await;
    bad.assert_status(200);
    bad.assert_contains("id=\"w-url-error\"")
        .assert_contains("value=\"not a url\"")
        .assert_not_contains("id=\"webhook-secret\"");
    let made = web
        .submit(
            "/settings/webhooks",
            "/settings/webhooks",
            &[
                ("name", "ERP"),
                ("url", "http://127.0.0.1:9/hook"),
                ("object", "contact"),
                ("events", "created"),
                ("events", "updated"),
                ("filter", "city eq \"上海\""),
                ("enabled", "on"),
            ],
        )
        .await;
    made.assert_status(200);
    made.assert_contains("id=\"webhook-secret\"")
        .assert_contains("whsec_");
    let hooks = app.get("/api/v1/webhooks").await;
    let hook = hooks.body["data"][0].clone();
    assert_eq!(hook["events"], json!(["created", "updated"]));
    let id = hook["id"].as_str().unwrap();
    // the list does not show the secret again
    web.get("/settings/webhooks")
        .await
        .assert_not_contains("whsec_");

    // a delivery appears in the log (the receiver is unreachable: it stays pending)
    app.create("contact", &json!({"name": "张伟", "city": "上海"}))
        .await;
    app.core.fan_out_webhooks().await.unwrap();
    let page = web.get(&format!("/settings/webhooks/{id}")).await;
    page.assert_status(200);
    page.assert_contains("contact.created")
        .assert_contains("/settings/webhook-deliveries/");
    // switched off from its page
    let off = web
        .submit(
            &format!("/settings/webhooks/{id}"),
            &format!("/settings/webhooks/{id}"),
            &[
                ("action", "save"),
                ("name", "ERP"),
                ("url", "http://127.0.0.1:9/hook"),
                ("object", "contact"),
                ("events", "created"),
            ],
        )
        .await;
    off.assert_status(303);
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{id}")).await.body["enabled"],
        false
    );

    let rep = app.user("rep.webhooks@example.com", json!({})).await;
    app.web_as(&rep, PASSWORD)
        .await
        .get("/settings/webhooks")
        .await
        .assert_status(403);
}

#[tokio::test]
async fn workflow_rules_are_defined_on_their_page_with_errors_named_and_runs_listed() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let page = web.get("/settings/workflows").await;
    page.assert_status(200);
    page.assert_contains("field_changed")
        .assert_contains("id=\"r-definition\"");
    let not_json = web
        .submit(
            "/settings/workflows",
            "/settings/workflows",
            &[
                ("name", "Broken"),
                ("object", "account"),
                ("definition", "{not json"),
            ],
        )
        .await;
    not_json.assert_status(200);
    not_json
        .assert_contains("not valid JSON")
        .assert_contains("{not json");
    let unknown = web
        .submit(
            "/settings/workflows",
            "/settings/workflows",
            &[
                ("name", "Wrong field"),
                ("object", "account"),
                (
                    "definition",
                    r#"{"trigger": {"type": "created"}, "steps": [{"type": "update_fields", "set": {"colour": "red"}}]}"#,
                ),
            ],
        )
        .await;
    unknown.assert_status(200);
    unknown.assert_contains("steps[0].set.colour");
    let made = web
        .submit(
            "/settings/workflows",
            "/settings/workflows",
            &[
                ("name", "Describe new accounts"),
                ("object", "account"),
                (
                    "definition",
                    r#"{"trigger": {"type": "created"}, "steps": [{"type": "update_fields", "set": {"description": {"formula": "'New: ' & name"}}}]}"#,
                ),
                ("enabled", "on"),
            ],
        )
        .await;
    made.assert_status(303);
    let rules = app.get("/api/v1/workflow_rules").await;
    let id = rules.body["data"][0]["id"].as_str().unwrap().to_owned();
    app.create("account", &json!({"name": "Acme"})).await;
    let runner = relata_jobs::Runner::new(
        app.core.clone(),
        relata_jobs::Handlers::standard(),
        relata_jobs::RunnerOptions::default(),
    );
    runner.run_due().await.unwrap();
    let detail = web.get(&format!("/settings/workflows/{id}")).await;
    detail.assert_status(200);
    detail
        .assert_contains("Describe new accounts")
        .assert_contains("Done")
        .assert_contains("created (record created)");

    let rep = app.user("rep.workflows@example.com", json!({})).await;
    app.web_as(&rep, PASSWORD)
        .await
        .get("/settings/workflows")
        .await
        .assert_status(403);
}

#[tokio::test]
async fn a_records_automation_page_says_which_rules_hold_and_what_they_did() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    app.post(
        "/api/v1/workflow_rules",
        &json!({"name": "Big deals", "object": "opportunity", "definition": {
            "trigger": {"type": "created"}, "condition": "amount gte 1000",
            "steps": [{"type": "update_fields", "set": {"next_step": "call"}}]}}),
    )
    .await
    .assert_status(201);
    let small = app
        .create("opportunity", &json!({"name": "Small", "amount": "10"}))
        .await;
    let big = app
        .create("opportunity", &json!({"name": "Big", "amount": "5000"}))
        .await;
    let runner = relata_jobs::Runner::new(
        app.core.clone(),
        relata_jobs::Handlers::standard(),
        relata_jobs::RunnerOptions::default(),
    );
    runner.run_due().await.unwrap();
    let record = web
        .get(&format!("/o/opportunity/{}", big["id"].as_str().unwrap()))
        .await;
    record.assert_contains(&format!(
        "/o/opportunity/{}/automation",
        big["id"].as_str().unwrap()
    ));
    let page = web
        .get(&format!(
            "/o/opportunity/{}/automation",
            big["id"].as_str().unwrap()
        ))
        .await;
    page.assert_status(200);
    page.assert_contains("Big deals")
        .assert_contains("its condition holds now")
        .assert_contains("Done");
    let page = web
        .get(&format!(
            "/o/opportunity/{}/automation",
            small["id"].as_str().unwrap()
        ))
        .await;
    page.assert_contains("its condition does not hold now")
        .assert_contains("Not run on this record.");

    let rep = app.user("rep.automation@example.com", json!({})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    rep_web
        .get(&format!("/o/opportunity/{}", big["id"].as_str().unwrap()))
        .await
        .assert_not_contains("/automation");
}

#[tokio::test]
async fn assignment_rules_are_written_on_their_page_with_each_problem_on_its_row() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let wang = app.user("wang.fang@example.com", json!({})).await;
    let li = app.user("li.lei@example.com", json!({})).await;
    let page = web.get("/settings/assignment").await;
    page.assert_status(200);
    page.assert_contains("name=\"entry0_condition\"")
        .assert_contains("name=\"entry1_users\"");

    // Row 0 names an email nobody has, row 1 is blank (dropped), row 2's condition names a
    // field leads do not have, and the hours are in no real time zone: every problem is
    // shown where it belongs, and nothing is saved.
    let bad = web
        .submit(
            "/settings/assignment",
            "/settings/assignment",
            &[
                ("name", "Leads by region"),
                ("object", "lead"),
                ("strategy", "round_robin"),
                ("entry_rows", "3"),
                ("entry0_condition", "city in (上海, 杭州)"),
                ("entry0_users", "wang.fang@example.com, nobody@example.com"),
                ("entry1_condition", ""),
                ("entry1_users", ""),
                ("entry2_condition", "shoe_size gt 40"),
                ("entry2_users", "li.lei@example.com"),
                ("hours_on", "on"),
                ("time_zone", "Mars/Olympus"),
                ("days", "1"),
                ("start", "09:00"),
                ("end", "18:00"),
            ],
        )
        .await;
    bad.assert_status(200);
    bad.assert_contains("id=\"a-entry0-users-error\"")
        .assert_contains("nobody@example.com")
        .assert_contains("id=\"a-entry2-condition-error\"")
        .assert_not_contains("id=\"a-entry1-condition-error\"")
        .assert_contains("id=\"a-hours-error\"")
        .assert_contains("value=\"shoe_size gt 40\"");
    assert_eq!(
        app.get("/api/v1/assignment_rules").await.body["data"],
        json!([])
    );

    let made = web
        .submit(
            "/settings/assignment",
            "/settings/assignment",
            &[
                ("name", "Leads by region"),
                ("object", "lead"),
                ("strategy", "round_robin"),
                ("entry_rows", "3"),
                ("entry0_condition", "city in (上海, 杭州)"),
                ("entry0_users", "WANG.FANG@example.com"),
                ("entry1_condition", ""),
                ("entry1_users", "li.lei@example.com; wang.fang@example.com"),
                ("entry2_condition", ""),
                ("entry2_users", ""),
                ("fallback", "li.lei@example.com"),
            ],
        )
        .await;
    made.assert_status(303);
    let rules = app.get("/api/v1/assignment_rules").await;
    let rule = rules.body["data"][0].clone();
    let id = rule["id"].as_str().unwrap().to_owned();
    let (w, l) = (wang.user_id.0.to_string(), li.user_id.0.to_string());
    assert_eq!(
        rule["definition"],
        json!({"strategy": "round_robin", "fallback_user": l, "entries": [
            {"condition": "city in (上海, 杭州)", "users": [w]},
            {"users": [l, w]}]})
    );
    let detail = web.get(&format!("/settings/assignment/{id}")).await;
    detail.assert_status(200);
    detail
        .assert_contains("value=\"li.lei@example.com, wang.fang@example.com\"")
        .assert_contains("value=\"city in (上海, 杭州)\"");

    // the rule saved from the page gives a lead in 上海 to 王芳
    let lead = app
        .create(
            "lead",
            &json!({"name": "陈静", "company": "华远", "city": "上海"}),
        )
        .await;
    let assigned = app
        .post(
            &format!("/api/v1/assignment_rules/{id}/assign"),
            &json!({"record_id": lead["id"]}),
        )
        .await;
    assigned.assert_status(200);
    assert_eq!(assigned.body["owner_id"], w);

    // a rule whose condition came through the API as JSON is shown as JSON and saved again
    // unchanged from the page
    let json_rule = app
        .post(
            "/api/v1/assignment_rules",
            &json!({"name": "JSON", "object": "lead", "definition": {"strategy": "round_robin",
                "entries": [{"condition": {"field": "city", "op": "eq", "value": "杭州"}, "users": [w]}]}}),
        )
        .await;
    json_rule.assert_status(201);
    let json_id = json_rule.body["id"].as_str().unwrap().to_owned();
    let stored = json_rule.body["definition"]["entries"][0]["condition"].clone();
    let shown = web.get(&format!("/settings/assignment/{json_id}")).await;
    shown.assert_status(200);
    shown
        .assert_contains("杭州")
        .assert_contains("id=\"a-object\"");
    let condition = stored.to_string();
    web.submit(
        &format!("/settings/assignment/{json_id}"),
        &format!("/settings/assignment/{json_id}"),
        &[
            ("action", "save"),
            ("name", "JSON, renamed"),
            ("strategy", "round_robin"),
            ("entry_rows", "1"),
            ("entry0_condition", condition.as_str()),
            ("entry0_users", "wang.fang@example.com"),
        ],
    )
    .await
    .assert_status(303);
    let saved = app
        .get(&format!("/api/v1/assignment_rules/{json_id}"))
        .await;
    assert_eq!(saved.body["name"], "JSON, renamed");
    assert_eq!(saved.body["object"], "lead");
    assert_eq!(saved.body["definition"]["entries"][0]["condition"], stored);
    app.delete(&format!("/api/v1/assignment_rules/{json_id}"))
        .await
        .assert_status(204);

    // changed to load-balanced from its page, then deleted there
    let changed = web
        .submit(
            &format!("/settings/assignment/{id}"),
            &format!("/settings/assignment/{id}"),
            &[
                ("action", "save"),
                ("name", "Leads by region"),
                ("object", "lead"),
                ("strategy", "load_balanced"),
                ("entry_rows", "1"),
                ("entry0_users", "li.lei@example.com"),
                ("open_condition", "status eq new"),
            ],
        )
        .await;
    changed.assert_status(303);
    let rule = app.get(&format!("/api/v1/assignment_rules/{id}")).await;
    assert_eq!(rule.body["definition"]["strategy"], "load_balanced");
    assert_eq!(rule.body["definition"]["open_condition"], "status eq new");
    web.submit(
        &format!("/settings/assignment/{id}"),
        &format!("/settings/assignment/{id}"),
        &[("action", "delete")],
    )
    .await
    .assert_status(303);
    assert_eq!(
        app.get("/api/v1/assignment_rules").await.body["data"],
        json!([])
    );

    let rep = app.user("rep.assign@example.com", json!({})).await;
    app.web_as(&rep, PASSWORD)
        .await
        .get("/settings/assignment")
        .await
        .assert_status(403);
}
