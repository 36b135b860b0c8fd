//! The web UI at the HTML level, through the real server: signing in, CSRF on every form,
//! escaping of every value a user can type, forms that keep what was typed and show errors
//! in place, search, custom objects, the language switch, and record visibility.

use crate::common;

use common::{DbState, count};
use relata_testkit::{TestApp, WebSession};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-9";

async fn admin_web(app: &TestApp) -> WebSession {
    app.web_as(&app.admin().await, PASSWORD).await
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_returns_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, PASSWORD).await;
    let web = WebSession::new(&app.base);

    let page = web.get("/o/account?sort=name").await;
    page.assert_status(303);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Fo%2Faccount%3Fsort%3Dname")
    );

    let wrong = web.sign_in("admin@relata.local", "not-the-password").await;
    wrong.assert_status(422);
    wrong.assert_contains("The email or password is wrong");
    assert!(web.cookie("relata_session").is_none());

    let form = web.get("/login?next=%2Fo%2Faccount").await;
    let token = form.hidden("_login").unwrap();
    let ok = web
        .post(
            "/login",
            &[
                ("_login", &token),
                ("next", "/o/account"),
                ("email", "admin@relata.local"),
                ("password", PASSWORD),
            ],
        )
        .await;
    ok.assert_status(303);
    assert_eq!(ok.location.as_deref(), Some("/o/account"));
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("relata_session="))
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    web.get("/o/account").await.assert_status(200);

    // a foreign redirect target is not followed
    let evil = web
        .post(
            "/login",
            &[
                ("_login", &token),
                ("next", "//evil.example/"),
                ("email", "admin@relata.local"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(evil.location.as_deref(), Some("/"));

    // signing out ends the session for good
    let out = web.submit("/", "/logout", &[]).await;
    out.assert_status(303);
    web.get("/").await.assert_status(303);
}

#[tokio::test]
async fn sign_in_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, PASSWORD).await;
    // no token cookie from our own sign-in page: a cross-site form post
    let web = WebSession::new(&app.base);
    let page = web
        .post(
            "/login",
            &[
                ("_login", "forged-token-forged-token"),
                ("email", "admin@relata.local"),
                ("password", PASSWORD),
            ],
        )
        .await;
    page.assert_status(403);
    assert!(web.cookie("relata_session").is_none());
}

#[tokio::test]
async fn first_run_setup_creates_the_administrator_once() {
    let app = TestApp::spawn_with(relata_testkit::SpawnOptions {
        untouched: true,
        ..Default::default()
    })
    .await;
    let web = WebSession::new(&app.base);
    let login = web.get("/login").await;
    assert_eq!(login.location.as_deref(), Some("/setup"));
    let form = web.get("/setup").await;
    form.assert_status(200);
    let token = form.hidden("_login").unwrap();
    let mismatch = web
        .post(
            "/setup",
            &[
                ("_login", &token),
                ("name", "林晓"),
                ("email", "lin@example.com"),
                ("password", PASSWORD),
                ("password_again", "something else"),
            ],
        )
        .await;
    mismatch.assert_status(422);
    mismatch.assert_contains("id=\"e-password_again\"");
    mismatch.assert_contains("value=\"lin@example.com\"");
    let done = web
        .post(
            "/setup",
            &[
                ("_login", &token),
                ("name", "林晓"),
                ("email", "lin@example.com"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    done.assert_status(303);
    web.sign_in("lin@example.com", PASSWORD)
        .await
        .assert_status(303);
    web.get("/").await.assert_contains("林晓");
    // setup is closed now
    assert_eq!(web.get("/setup").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn every_form_that_changes_something_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let account = app
        .create(
            "account",
            &json!({"name": "华远科技", "industry": "technology"}),
        )
        .await;
    let id = account["id"].as_str().unwrap().to_owned();
    let before = DbState::capture(&app, &["account", "contact"]).await;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/logout".into(), vec![]),
        ("/lang".into(), vec![("lang", "zh-CN")]),
        ("/o/account".into(), vec![("name", "CSRF Inc")]),
        (format!("/o/account/{id}/edit"), vec![("name", "changed")]),
        (
            format!("/o/account/{id}/field/name"),
            vec![("name", "changed")],
        ),
        (format!("/o/account/{id}/delete"), vec![]),
        (format!("/o/account/{id}/restore"), vec![]),
        (
            "/o/account/bulk".into(),
            vec![("ids", id.as_str()), ("action", "delete")],
        ),
        (
            "/me".into(),
            vec![("name", "x"), ("locale", "zh-CN"), ("time_zone", "UTC")],
        ),
        (
            "/me/password".into(),
            vec![
                ("current_password", PASSWORD),
                ("new_password", "x"),
                ("new_password_again", "x"),
            ],
        ),
        ("/me/tokens".into(), vec![("token_name", "sneaky")]),
        (format!("/me/sessions/{}/revoke", uuid::Uuid::nil()), vec![]),
        (format!("/me/tokens/{}/revoke", uuid::Uuid::nil()), vec![]),
    ];
    for (path, fields) in &posts {
        let missing = web.post(path, fields).await;
        assert_eq!(
            missing.status, 403,
            "{path} without a token: {}",
            missing.html
        );
        let mut forged = vec![("_csrf", "forged")];
        forged.extend(fields.iter().copied());
        let wrong = web.post(path, &forged).await;
        assert_eq!(wrong.status, 403, "{path} with a wrong token");
    }
    before
        .assert_unchanged(&app, "posts without a CSRF token")
        .await;
    // still signed in, still English, no token made
    let home = web.get("/").await;
    home.assert_status(200);
    home.assert_contains("<html lang=\"en\">");
    let tokens = app.get("/api/v1/me/tokens").await;
    assert!(!tokens.text.contains("sneaky"));
    let name = app.get(&format!("/api/v1/records/account/{id}")).await;
    assert_eq!(name.body["name"], "华远科技");
}

/// What an attacker would type into every field that takes text.
const PAYLOAD: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";

#[tokio::test]
async fn every_value_a_user_typed_is_escaped_on_every_page() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    // a custom object and fields whose labels carry the payload too
    app.post(
        "/api/v1/meta/objects",
        &json!({"api_name": "project", "label": PAYLOAD, "plural_label": PAYLOAD}),
    )
    .await
    .assert_status(201);
    for (name, t) in [("code", "text"), ("notes", "long_text"), ("site", "url")] {
        app.post(
            "/api/v1/meta/objects/project/fields",
            &json!({"api_name": name, "type": t, "label": PAYLOAD}),
        )
        .await
        .assert_status(201);
    }
    app.post(
        "/api/v1/meta/objects/project/fields",
        &json!({"api_name": "phase", "type": "picklist", "label": "Phase",
                "values": [{"value": "p1", "label": PAYLOAD}]}),
    )
    .await
    .assert_status(201);
    let account = app
        .create(
            "account",
            &json!({"name": format!("张伟 {PAYLOAD}"), "city": PAYLOAD, "description": PAYLOAD}),
        )
        .await;
    let project = app
        .create(
            "project",
            &json!({"name": PAYLOAD, "code": PAYLOAD, "notes": PAYLOAD, "site": "https://example.com/?q=<x>", "phase": "p1"}),
        )
        .await;
    let contact = app
        .create(
            "contact",
            &json!({"name": format!("张伟{PAYLOAD}"), "title": PAYLOAD, "account_id": account["id"]}),
        )
        .await;
    // a user whose name carries it, owning a record
    let rep = app.user("rep@example.com", json!({"name": PAYLOAD})).await;
    app.patch(
        &format!(
            "/api/v1/records/contact/{}",
            contact["id"].as_str().unwrap()
        ),
        &json!({"owner_id": rep.user_id.0.to_string(), "title": "changed"}),
    )
    .await
    .assert_status(200);

    let pages = [
        "/".to_owned(),
        "/o/account".to_owned(),
        "/o/contact".to_owned(),
        "/o/project".to_owned(),
        "/o/project/new".to_owned(),
        format!("/o/account/{}", account["id"].as_str().unwrap()),
        format!("/o/account/{}/edit", account["id"].as_str().unwrap()),
        format!("/o/contact/{}", contact["id"].as_str().unwrap()),
        format!("/o/project/{}", project["id"].as_str().unwrap()),
        format!("/o/project/{}/edit", project["id"].as_str().unwrap()),
        "/search?q=%E5%BC%A0%E4%BC%9F".to_owned(),
        format!(
            "/search?q={}",
            form_urlencoded::byte_serialize(PAYLOAD.as_bytes()).collect::<String>()
        ),
        format!(
            "/o/contact?f0=title&o0=eq&v0={}",
            form_urlencoded::byte_serialize(PAYLOAD.as_bytes()).collect::<String>()
        ),
    ];
    for path in &pages {
        let page = web.get(path).await;
        page.assert_status(200);
        assert!(
            !page.html.contains("<script>alert"),
            "{path} holds a raw script tag"
        );
        assert!(
            !page.html.contains("<img src=x"),
            "{path} holds a raw img tag"
        );
        assert!(
            !page.html.contains("\"><img"),
            "{path} lets a quote end an attribute"
        );
    }
    // the escaped text is there, so the check above looked at rendered values
    let record = web
        .get(&format!("/o/project/{}", project["id"].as_str().unwrap()))
        .await;
    record.assert_contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;&#34;&#62;&#60;img");
    // instant results are JSON data (our script puts them in with textContent), never
    // something a browser would render as a page
    let instant = web.get("/search/instant?q=%E5%BC%A0%E4%BC%9F").await;
    assert!(
        instant.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(instant.headers["x-content-type-options"], "nosniff");
    let groups: serde_json::Value = serde_json::from_str(&instant.html).unwrap();
    assert!(
        groups[0]["hits"][0]["name"]
            .as_str()
            .unwrap()
            .contains("<script>")
    );
    // every page forbids inline script, so even a missed escape could not run
    let csp = record.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_failed_submit_keeps_what_was_typed_and_shows_each_error_by_its_field() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let before = DbState::capture(&app, &["contact"]).await;
    let form = web.get("/o/contact/new").await;
    form.assert_status(200);
    let csrf = form.csrf();
    let bad = web
        .post(
            "/o/contact",
            &[
                ("_csrf", &csrf),
                ("name", ""),
                ("title", "销售总监"),
                ("email", "not-an-email"),
                ("birthday", "2026-13-45"),
                ("account_id", ""),
                ("account_id:label", "没有这个客户"),
            ],
        )
        .await;
    bad.assert_status(422);
    for field in ["name", "email", "birthday", "account_id"] {
        bad.assert_contains(&format!("id=\"e-{field}\""));
        bad.assert_contains(&format!("aria-describedby=\"e-{field}\""));
    }
    bad.assert_contains("value=\"销售总监\"");
    bad.assert_contains("value=\"not-an-email\"");
    bad.assert_contains("value=\"2026-13-45\"");
    bad.assert_contains("value=\"没有这个客户\"");
    before
        .assert_unchanged(&app, "a contact form with errors")
        .await;

    // fixed, with the account named as typed (no script needed to pick it)
    let account = app
        .create("account", &json!({"name": "上海华远科技有限公司"}))
        .await;
    let ok = web
        .post(
            "/o/contact",
            &[
                ("_csrf", &csrf),
                ("name", "王芳"),
                ("title", "销售总监"),
                ("email", "wang.fang@example.com"),
                ("birthday", "1990-05-17"),
                ("account_id", ""),
                ("account_id:label", "上海华远科技有限公司"),
            ],
        )
        .await;
    ok.assert_status(303);
    let at = ok.location.clone().unwrap();
    assert!(
        at.starts_with("/o/contact/") && at.ends_with("?saved=created"),
        "{at}"
    );
    assert_eq!(count(&app, "contact").await, 1);
    let id = at
        .trim_start_matches("/o/contact/")
        .trim_end_matches("?saved=created");
    let stored = app.get(&format!("/api/v1/records/contact/{id}")).await;
    assert_eq!(stored.body["account_id"], account["id"]);
    assert_eq!(stored.body["birthday"], "1990-05-17");
    let page = web.get(&at).await;
    page.assert_contains("王芳")
        .assert_contains("上海华远科技有限公司");
}

#[tokio::test]
async fn inline_edit_changes_one_field_and_a_stale_version_is_caught() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let c = app
        .create("contact", &json!({"name": "李娜", "title": "经理"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let page = web.get(&format!("/o/contact/{id}")).await;
    let csrf = page.csrf();
    let ok = web
        .post(
            &format!("/o/contact/{id}/field/title"),
            &[
                ("_csrf", &csrf),
                ("_version", "1"),
                ("title", "总经理"),
                ("name", "ignored"),
            ],
        )
        .await;
    ok.assert_status(303);
    let stored = app.get(&format!("/api/v1/records/contact/{id}")).await;
    assert_eq!(stored.body["title"], "总经理");
    assert_eq!(
        stored.body["name"], "李娜",
        "only the named field is changed"
    );
    // a second edit from the page as it was (version 1) is refused, and says why
    let stale = web
        .post(
            &format!("/o/contact/{id}/field/title"),
            &[("_csrf", &csrf), ("_version", "1"), ("title", "副总")],
        )
        .await;
    stale.assert_status(422);
    stale.assert_contains("Someone else changed this record");
    stale.assert_contains("value=\"副总\"");
    let bad = web
        .post(
            &format!("/o/contact/{id}/field/email"),
            &[("_csrf", &csrf), ("_version", "2"), ("email", "nope")],
        )
        .await;
    bad.assert_status(422);
    bad.assert_contains("class=\"detail editing\" id=\"v-email\"");
    bad.assert_contains("id=\"e-email\"");
}

#[tokio::test]
async fn global_search_finds_a_contact_by_two_chinese_characters() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    app.create(
        "contact",
        &json!({"name": "欧阳明轩", "phone": "13912345678"}),
    )
    .await;
    app.create("contact", &json!({"name": "Zhang Wei"})).await;
    let page = web.get("/search?q=%E6%98%8E%E8%BD%A9").await;
    page.assert_status(200);
    page.assert_contains("欧阳明轩");
    assert!(!page.html.contains("Zhang Wei"));
    let by_phone = web.get("/search?q=2345").await;
    by_phone.assert_contains("欧阳明轩");
    let instant = web.get("/search/instant?q=%E6%98%8E%E8%BD%A9").await;
    let groups: serde_json::Value = serde_json::from_str(&instant.html).unwrap();
    assert_eq!(groups[0]["object"], "contact");
    assert_eq!(groups[0]["hits"][0]["name"], "欧阳明轩");
    assert!(
        groups[0]["hits"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with("/o/contact/")
    );
}

#[tokio::test]
async fn a_custom_object_gets_navigation_a_list_a_form_and_records() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    app.post(
        "/api/v1/meta/objects",
        &json!({"api_name": "project", "label": "Project", "plural_label": "Projects"}),
    )
    .await
    .assert_status(201);
    for body in [
        json!({"api_name": "budget", "type": "currency", "label": "Budget"}),
        json!({"api_name": "kickoff", "type": "date", "label": "Kickoff"}),
        json!({"api_name": "tags", "type": "multi_picklist", "label": "Tags",
               "values": [{"value": "erp", "label": "ERP"}, {"value": "crm", "label": "CRM"}]}),
        json!({"api_name": "client_id", "type": "lookup", "target": "account", "label": "Client"}),
        json!({"api_name": "urgent", "type": "boolean", "label": "Urgent"}),
    ] {
        app.post("/api/v1/meta/objects/project/fields", &body)
            .await
            .assert_status(201);
    }
    let home = web.get("/").await;
    home.assert_contains("<a href=\"/o/project\"");
    let empty = web.get("/o/project").await;
    empty.assert_contains("There are no records here yet.");
    let form = web.get("/o/project/new").await;
    form.assert_contains("name=\"budget:currency\"")
        .assert_contains("type=\"date\"")
        .assert_contains("name=\"tags\" value=\"erp\"")
        .assert_contains("data-lookup=\"/lookup/account\"")
        .assert_contains("type=\"checkbox\" id=\"f-urgent\"");
    let csrf = form.csrf();
    let done = web
        .post(
            "/o/project",
            &[
                ("_csrf", &csrf),
                ("name", "ERP 升级"),
                ("budget", "1,250,000.50"),
                ("budget:currency", "USD"),
                ("kickoff", "2027-01-15"),
                ("tags:present", "1"),
                ("tags", "erp"),
                ("tags", "crm"),
                ("urgent", "false"),
                ("urgent", "true"),
            ],
        )
        .await;
    done.assert_status(303);
    let list = app.get("/api/v1/records/project").await;
    let p = &list.body["data"][0];
    assert_eq!(
        p["budget"],
        json!({"amount": "1250000.50", "currency": "USD"})
    );
    assert_eq!(p["tags"], json!(["erp", "crm"]));
    assert_eq!(p["urgent"], true);
    let page = web.get(done.location.as_deref().unwrap()).await;
    page.assert_contains("$1,250,000.50")
        .assert_contains("Jan 15, 2027");
}

#[tokio::test]
async fn the_language_switch_turns_the_whole_ui_into_chinese() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    app.create(
        "opportunity",
        &json!({"name": "华远 ERP", "stage": "proposal", "amount": "880000"}),
    )
    .await;
    let en = web.get("/o/opportunity").await;
    en.assert_contains("<html lang=\"en\">")
        .assert_contains("Opportunities")
        .assert_contains("Proposal");
    let switched = web
        .submit(
            "/o/opportunity",
            "/lang",
            &[("lang", "zh-CN"), ("back", "/o/opportunity")],
        )
        .await;
    switched.assert_status(303);
    assert_eq!(switched.location.as_deref(), Some("/o/opportunity"));
    let zh = web.get("/o/opportunity").await;
    zh.assert_contains("<html lang=\"zh-CN\">")
        .assert_contains("商机")
        .assert_contains("方案报价")
        .assert_contains("¥880,000.00")
        .assert_contains("退出登录");
    let home = web.get("/").await;
    home.assert_contains("各阶段在途商机");
}

#[tokio::test]
async fn pages_show_only_what_the_user_may_see() {
    let app = TestApp::spawn().await;
    let rep_a = app.user("a@example.com", json!({"name": "Rep A"})).await;
    let rep_b = app.user("b@example.com", json!({"name": "Rep B"})).await;
    let client_b = app.client_for(&rep_b).await;
    let hidden = client_b
        .create(
            "contact",
            &json!({"name": "秘密客户联系人", "phone": "13800001111"}),
        )
        .await;
    let web_a = app.web_as(&rep_a, PASSWORD).await;
    let client_a = app.client_for(&rep_a).await;
    client_a
        .create("contact", &json!({"name": "自己的联系人"}))
        .await;

    let list = web_a.get("/o/contact").await;
    list.assert_contains("自己的联系人");
    assert!(!list.html.contains("秘密客户联系人"));
    assert!(
        list.html.contains("1 records"),
        "the count covers visible records only"
    );
    let search = web_a.get("/search?q=%E7%A7%98%E5%AF%86").await;
    assert!(!search.html.contains("秘密客户联系人"));
    let instant = web_a.get("/search?q=0000111").await;
    assert!(!instant.html.contains("秘密客户联系人"));
    web_a
        .get(&format!("/o/contact/{}", hidden["id"].as_str().unwrap()))
        .await
        .assert_status(404);
    let edit = web_a
        .submit(
            "/o/contact",
            &format!("/o/contact/{}/field/name", hidden["id"].as_str().unwrap()),
            &[("name", "taken over")],
        )
        .await;
    assert_eq!(edit.status, 404);
}

#[tokio::test]
async fn saved_views_are_private_unless_shared_and_recent_items_follow_visibility() {
    let app = TestApp::spawn().await;
    let admin = admin_web(&app).await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    let rep_client = app.client_for(&rep).await;
    app.create(
        "contact",
        &json!({"name": "管理员的上海联系人", "city": "上海"}),
    )
    .await;
    rep_client
        .create(
            "contact",
            &json!({"name": "代表的上海联系人", "city": "上海"}),
        )
        .await;
    rep_client
        .create(
            "contact",
            &json!({"name": "代表的北京联系人", "city": "北京"}),
        )
        .await;

    // the admin saves "上海" privately, then "上海 shared" for everyone
    let query = "f0=city&o0=eq&v0=%E4%B8%8A%E6%B5%B7&sort=-created_at&cursor=abc&outcome=x";
    let private = admin
        .submit(
            "/o/contact",
            "/o/contact/views",
            &[("name", "上海客户"), ("query", query), ("shared", "false")],
        )
        .await;
    private.assert_status(303);
    let at = private.location.clone().unwrap();
    assert!(
        at.contains("f0=city") && !at.contains("cursor") && !at.contains("outcome"),
        "{at}"
    );
    let page = admin.get(&at).await;
    page.assert_contains("管理员的上海联系人")
        .assert_contains("aria-current=\"page\">上海客户");
    assert!(!rep_web.get("/o/contact").await.html.contains("上海客户"));

    admin
        .submit(
            "/o/contact",
            "/o/contact/views",
            &[
                ("name", "上海共享"),
                ("query", query),
                ("shared", "false"),
                ("shared", "true"),
            ],
        )
        .await
        .assert_status(303);
    let rep_list = rep_web.get("/o/contact").await;
    rep_list.assert_contains("上海共享");
    assert!(!rep_list.html.contains("上海客户"));
    // through the shared view the rep sees their own Shanghai contacts only
    let views = app
        .core
        .saved_views(&app.admin().await, "contact")
        .await
        .unwrap();
    let shared = views.iter().find(|v| v.name == "上海共享").unwrap();
    let through = rep_web
        .get(&format!("/o/contact?{}&view={}", shared.query, shared.id))
        .await;
    through.assert_contains("代表的上海联系人");
    assert!(!through.html.contains("管理员的上海联系人"));
    assert!(!through.html.contains("代表的北京联系人"));
    // and may not delete it
    let del = rep_web
        .submit(
            "/o/contact",
            &format!("/o/contact/views/{}/delete", shared.id),
            &[],
        )
        .await;
    del.assert_status(404);

    // recent items: opened records, newest first, and only while visible
    let a = app
        .create("account", &json!({"name": "先打开的客户"}))
        .await;
    let b = app
        .create("account", &json!({"name": "后打开的客户"}))
        .await;
    for id in [&a["id"], &b["id"]] {
        admin
            .get(&format!("/o/account/{}", id.as_str().unwrap()))
            .await
            .assert_status(200);
    }
    let mut home = String::new();
    for _ in 0..50 {
        home = admin.get("/recent").await.html;
        if home.contains("先打开的客户") && home.contains("后打开的客户") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (first, second) = (
        home.find("后打开的客户").unwrap(),
        home.find("先打开的客户").unwrap(),
    );
    assert!(first < second, "newest first");
    app.delete(&format!(
        "/api/v1/records/account/{}",
        a["id"].as_str().unwrap()
    ))
    .await
    .assert_status(204);
    let after = admin.get("/").await;
    after.assert_contains("后打开的客户");
    assert!(
        !after.html.contains("先打开的客户"),
        "a record in the recycle bin is not a recent item"
    );
}

/// Every control a person can reach has a name: a `<label for>` its id, or an `aria-label`.
fn unlabelled_controls(html: &str) -> Vec<String> {
    let tag = regex::Regex::new(r#"<(input|select|textarea)\b[^>]*>"#).unwrap();
    let attr = |t: &str, name: &str| -> Option<String> {
        let re = regex::Regex::new(&format!(r#"\b{name}="([^"]*)""#)).unwrap();
        re.captures(t).map(|c| c[1].to_owned())
    };
    tag.find_iter(html)
        .map(|m| m.as_str())
        .filter(|t| !matches!(attr(t, "type").as_deref(), Some("hidden" | "submit")))
        .filter(|t| {
            let labelled_by_for =
                attr(t, "id").is_some_and(|id| html.contains(&format!("for=\"{id}\"")));
            let wrapped = attr(t, "type").as_deref() == Some("checkbox");
            !(labelled_by_for || wrapped || attr(t, "aria-label").is_some())
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_control_on_every_page_has_a_label() {
    // the check itself finds what it looks for
    assert_eq!(
        unlabelled_controls(r#"<input id="x" name="x"><select name="y"></select>"#).len(),
        2
    );
    assert!(
        unlabelled_controls(
            r#"<label for="x">X</label><input id="x"><input type="hidden" name="h">"#
        )
        .is_empty()
    );
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let account = app.create("account", &json!({"name": "华远"})).await;
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "ERP", "stage": "proposal", "account_id": account["id"]}),
        )
        .await;
    let pages = [
        "/".to_owned(),
        "/o/account".to_owned(),
        "/o/account/new".to_owned(),
        format!("/o/account/{}", account["id"].as_str().unwrap()),
        format!("/o/opportunity/{}/edit", opp["id"].as_str().unwrap()),
        "/o/opportunity/board".to_owned(),
        "/search?q=%E5%8D%8E%E8%BF%9C".to_owned(),
        "/me".to_owned(),
        "/settings/objects".to_owned(),
        "/settings/objects/account".to_owned(),
        "/settings/objects/account/fields/industry".to_owned(),
        "/settings/objects/account/layout".to_owned(),
        "/settings/users".to_owned(),
        "/settings/org".to_owned(),
        "/settings/permissions".to_owned(),
        "/settings/sharing".to_owned(),
        "/settings/audit".to_owned(),
    ];
    for path in &pages {
        let page = web.get(path).await;
        page.assert_status(200);
        let missing = unlabelled_controls(&page.html);
        assert!(
            missing.is_empty(),
            "{path}: controls without a label: {missing:#?}"
        );
        assert!(
            page.html.contains("<main id=\"main\""),
            "{path}: no main landmark"
        );
        assert!(page.html.contains("class=\"skip\""), "{path}: no skip link");
    }
}

#[tokio::test]
async fn the_home_dashboard_draws_my_open_tasks_the_pipeline_and_new_leads() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    for (subject, due, status) in [
        ("逾期任务", "2020-01-01", "not_started"),
        ("另一个逾期", "2021-06-30", "in_progress"),
        ("已完成的", "2020-01-01", "completed"),
        ("没有日期", "", "not_started"),
    ] {
        let mut body = json!({"subject": subject, "status": status});
        if !due.is_empty() {
            body["due_date"] = json!(due);
        }
        app.create("task", &body).await;
    }
    app.create(
        "opportunity",
        &json!({"name": "A", "stage": "proposal", "amount": "300000"}),
    )
    .await;
    app.create(
        "opportunity",
        &json!({"name": "B", "stage": "closed_won", "amount": "999", "win_reason": "relationship"}),
    )
    .await;
    app.create("lead", &json!({"name": "新线索"})).await;
    let home = web.get("/").await;
    home.assert_status(200);
    // bars carry their value in a title and in the table beside the chart
    home.assert_contains("<title>Overdue: 2</title>")
        .assert_contains("<title>No due date: 1</title>")
        .assert_contains("<title>Proposal: CN¥300,000.00 · 1 deals</title>")
        .assert_contains("<svg viewBox=\"0 0 600");
    assert!(
        !home.html.contains("Closed won:"),
        "closed stages are not open pipeline"
    );
    assert!(home.html.contains(": 1</title>"), "this week's new lead");
    assert!(
        !home.html.contains("已完成的"),
        "completed tasks are not open"
    );
}

#[tokio::test]
async fn a_record_given_to_someone_else_notifies_them_and_the_bell_counts_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let rep = app.user("rep@example.com", json!({"name": "王强"})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    assert!(!rep_web.get("/").await.html.contains("class=\"unread\""));
    // created for the rep, then one of the rep's own records edited by the rep: one notification
    let acc = app
        .create(
            "account",
            &json!({"name": "华远科技", "owner_id": rep.user_id.0.to_string()}),
        )
        .await;
    let rep_client = app.client_for(&rep).await;
    let own = rep_client
        .create("account", &json!({"name": "自己建的"}))
        .await;
    rep_client
        .patch(
            &format!("/api/v1/records/account/{}", own["id"].as_str().unwrap()),
            &json!({"city": "上海"}),
        )
        .await
        .assert_status(200);
    // a transfer of two more notifies once
    let a2 = app.create("account", &json!({"name": "云帆"})).await;
    let a3 = app.create("account", &json!({"name": "天成"})).await;
    app.post(
        "/api/v1/records/account/transfer",
        &json!({"ids": [a2["id"], a3["id"]], "to_owner": rep.user_id.0.to_string()}),
    )
    .await
    .assert_status(200);
    let home = rep_web.get("/").await;
    home.assert_contains("<span class=\"unread\"");
    let page = rep_web.get("/notifications").await;
    page.assert_contains("assigned you the Account “华远科技”")
        .assert_contains(&format!(
            "href=\"/o/account/{}\"",
            acc["id"].as_str().unwrap()
        ))
        .assert_contains("transferred 2 records to you");
    assert!(
        !page.html.contains("自己建的"),
        "one's own changes notify no one"
    );
    let api = rep_client.get("/api/v1/me/notifications").await;
    assert_eq!(api.body["unread"], 2);
    assert_eq!(api.body["data"].as_array().unwrap().len(), 2);
    // the admin's own notifications are theirs alone
    let (mine, _) = app.core.my_notifications(&admin, 10).await.unwrap();
    assert!(mine.is_empty());
    rep_web
        .submit("/notifications", "/notifications/read", &[])
        .await
        .assert_status(303);
    assert!(!rep_web.get("/").await.html.contains("class=\"unread\""));
    assert_eq!(
        rep_client.get("/api/v1/me/notifications").await.body["unread"],
        0
    );
}
