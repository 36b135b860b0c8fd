//! Accounts as Chinese customers have them: the unified social credit code (checked,
//! normalized, unique) and the province; and account hierarchies with figures rolled up
//! over each branch, under the caller's visibility. Through the real server, both backends.

use crate::common;

use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

use common::id_of;

#[tokio::test]
async fn a_credit_code_is_checked_normalized_and_unique_and_the_province_is_a_choice() {
    let app = TestApp::spawn().await;
    let huawei = app
        .create(
            "account",
            &json!({"name": "华为技术有限公司", "credit_code": " 9144 0300-1922 0382 16 ", "province": "guangdong"}),
        )
        .await;
    assert_eq!(huawei["credit_code"], "914403001922038216", "{huawei}");
    assert_eq!(huawei["province"], "guangdong");

    let typo = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "华为", "credit_code": "914403001922038215"}),
        )
        .await;
    typo.assert_status(422);
    assert_eq!(typo.error_fields(), vec!["credit_code"]);
    assert_eq!(
        typo.error_code("credit_code").as_deref(),
        Some("invalid_credit_code")
    );
    assert!(typo.text.contains("should be '6'"), "{}", typo.text);
    for bad in ["12345", "91440300192203821I"] {
        let r = app
            .post(
                "/api/v1/records/account",
                &json!({"name": "x", "credit_code": bad}),
            )
            .await;
        assert_eq!(
            r.error_code("credit_code").as_deref(),
            Some("invalid_credit_code"),
            "{bad}"
        );
    }
    let again = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "华为（重复）", "credit_code": "９１４４０３００１９２２０３８２１６"}),
        )
        .await;
    again.assert_status(422);
    assert_eq!(
        again.error_code("credit_code").as_deref(),
        Some("duplicate")
    );
    let nowhere = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "x", "province": "atlantis"}),
        )
        .await;
    assert_eq!(nowhere.error_fields(), vec!["province"]);

    // the web UI names both in Chinese
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let here = format!("/o/account/{}", id_of(&huawei));
    web.submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    web.get(&here)
        .await
        .assert_contains("统一社会信用代码")
        .assert_contains("广东省")
        .assert_contains("914403001922038216");
}

fn node<'a>(tree: &'a Json, name: &str) -> &'a Json {
    tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {tree}"))
}

fn figure(n: &Json, which: &str, key: &str) -> (i64, Vec<(String, String)>) {
    let f = &n[which][key];
    (
        f["count"].as_i64().unwrap(),
        f["sums"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["currency"].as_str().unwrap().to_owned(),
                    s["amount"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_hierarchy_rolls_figures_up_each_branch_and_shows_only_what_the_reader_may_see() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let owner = rep.user_id.0.to_string();
    let group = app.create("account", &json!({"name": "华远集团"})).await;
    let east = app
        .create(
            "account",
            &json!({"name": "华远华东", "parent_id": group["id"], "owner_id": owner}),
        )
        .await;
    let shanghai = app
        .create(
            "account",
            &json!({"name": "华远上海", "parent_id": east["id"], "owner_id": owner}),
        )
        .await;
    let south = app
        .create(
            "account",
            &json!({"name": "华远华南", "parent_id": group["id"]}),
        )
        .await;
    app.create("account", &json!({"name": "无关公司"})).await;
    let opp = |account: &Json, stage: &str, amount: &str, currency: &str, own: bool| {
        let mut body = json!({"name": format!("商机 {stage} {amount}"), "account_id": account["id"], "stage": stage,
            "amount": {"amount": amount, "currency": currency}});
        if own {
            body["owner_id"] = json!(owner);
        }
        match stage {
            "closed_won" => body["win_reason"] = json!("product"),
            "closed_lost" => body["loss_reason"] = json!("price"),
            _ => {}
        }
        body
    };
    for body in [
        opp(&group, "proposal", "100", "CNY", false),
        opp(&east, "negotiation", "200", "CNY", true),
        opp(&shanghai, "prospecting", "300", "CNY", true),
        opp(&shanghai, "closed_won", "50", "USD", true),
        opp(&south, "closed_won", "400", "CNY", false),
        opp(&south, "closed_lost", "999", "CNY", false),
    ] {
        app.create("opportunity", &body).await;
    }
    for (account, name, own) in [
        (&shanghai, "张伟", true),
        (&shanghai, "李娜", true),
        (&south, "王芳", false),
    ] {
        let mut body = json!({"name": name, "account_id": account["id"]});
        if own {
            body["owner_id"] = json!(owner);
        }
        app.create("contact", &body).await;
    }

    // from the grandchild, the admin sees the whole group from its top
    let tree = app
        .get(&format!(
            "/api/v1/records/account/{}/hierarchy",
            id_of(&shanghai)
        ))
        .await;
    tree.assert_status(200);
    let names: Vec<&str> = tree.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["华远集团", "华远华东", "华远上海", "华远华南"],
        "{}",
        tree.text
    );
    assert_eq!(tree.body["truncated"], false);
    let top = node(&tree.body, "华远集团");
    assert_eq!(top["depth"], 0);
    assert_eq!(
        figure(top, "total", "open_opportunities"),
        (3, vec![("CNY".to_owned(), "600.00".to_owned())])
    );
    let (won, mut sums) = figure(top, "total", "won_opportunities");
    sums.sort();
    assert_eq!(
        (won, sums),
        (
            2,
            vec![
                ("CNY".into(), "400.00".into()),
                ("USD".into(), "50.00".into())
            ]
        )
    );
    assert_eq!(figure(top, "total", "contacts").0, 3);
    assert_eq!(figure(top, "own", "open_opportunities").0, 1);
    let east_node = node(&tree.body, "华远华东");
    assert_eq!(east_node["parent_id"], group["id"]);
    assert_eq!(
        figure(east_node, "total", "open_opportunities"),
        (2, vec![("CNY".to_owned(), "500.00".to_owned())])
    );

    // the rep owns the east branch only: it is their top, and only their records count
    let rep_client = app.client_for(&rep).await;
    let theirs = rep_client
        .get(&format!(
            "/api/v1/records/account/{}/hierarchy",
            id_of(&shanghai)
        ))
        .await;
    theirs.assert_status(200);
    let names: Vec<&str> = theirs.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["华远华东", "华远上海"], "{}", theirs.text);
    assert!(!theirs.text.contains("华远集团") && !theirs.text.contains("100"));
    rep_client
        .get(&format!(
            "/api/v1/records/account/{}/hierarchy",
            id_of(&south)
        ))
        .await
        .assert_status(404);

    // a loop of parents ends
    app.patch(
        &format!("/api/v1/records/account/{}", id_of(&group)),
        &json!({"parent_id": shanghai["id"]}),
    )
    .await
    .assert_status(200);
    let looped = app
        .get(&format!(
            "/api/v1/records/account/{}/hierarchy",
            id_of(&east)
        ))
        .await;
    looped.assert_status(200);
    assert_eq!(
        looped.body["nodes"].as_array().unwrap().len(),
        4,
        "{}",
        looped.text
    );
    // an object without a parent field has no hierarchy
    let task = app.create("task", &json!({"subject": "x"})).await;
    app.get(&format!("/api/v1/records/task/{}/hierarchy", id_of(&task)))
        .await
        .assert_status(404);

    // the page
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let record = web.get(&format!("/o/account/{}", id_of(&south))).await;
    record.assert_contains(&format!("/o/account/{}/hierarchy", id_of(&south)));
    let page = web
        .get(&format!("/o/account/{}/hierarchy", id_of(&south)))
        .await;
    page.assert_status(200)
        .assert_contains("Open opportunities")
        .assert_contains("class=\"depth-2\"")
        .assert_contains("aria-current=\"true\"")
        .assert_contains("¥400.00");
}

#[tokio::test]
async fn a_hierarchy_leaves_out_the_figures_the_reader_may_not_see() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let profile = |name: &str, grants: Json| {
        let core = app.core.clone();
        let admin = admin.clone();
        let body = json!({"name": name, "is_profile": true, "grants": grants});
        async move {
            core.create_permission_set(&admin, serde_json::from_value(body).unwrap())
                .await
                .unwrap()
        }
    };
    let all = json!({"create": true, "read": true, "edit": true, "delete": true, "view_all": true});
    let no_deals = profile(
        "no deals",
        json!({"default_objects": all, "objects": {"opportunity": {}}}),
    )
    .await;
    let no_amounts = profile(
        "no amounts",
        json!({"default_objects": all, "fields": {"opportunity": {"amount": "hidden"}}}),
    )
    .await;
    let group = app.create("account", &json!({"name": "远航集团"})).await;
    let child = app
        .create(
            "account",
            &json!({"name": "远航物流", "parent_id": group["id"]}),
        )
        .await;
    app.create(
        "opportunity",
        &json!({"name": "仓储", "account_id": child["id"], "stage": "proposal",
            "amount": {"amount": "800", "currency": "CNY"}}),
    )
    .await;
    app.create(
        "contact",
        &json!({"name": "赵敏", "account_id": child["id"]}),
    )
    .await;
    let path = format!("/api/v1/records/account/{}/hierarchy", id_of(&group));

    let full = app.get(&path).await;
    full.assert_status(200);
    assert_eq!(
        full.body["rollups"],
        json!(["contacts", "open_opportunities", "won_opportunities"]),
        "{}",
        full.text
    );
    assert_eq!(
        figure(node(&full.body, "远航集团"), "total", "open_opportunities").0,
        1
    );

    // no read access to deals, or their amounts hidden: the deal columns are absent, not zero
    for (set, email) in [
        (&no_deals, "nodeals@example.com"),
        (&no_amounts, "noamounts@example.com"),
    ] {
        let reader = app.user(email, json!({"profile_id": set.id})).await;
        let tree = app.client_for(&reader).await.get(&path).await;
        tree.assert_status(200);
        assert_eq!(
            tree.body["rollups"],
            json!(["contacts"]),
            "{email}: {}",
            tree.text
        );
        let top = node(&tree.body, "远航集团");
        assert_eq!(figure(top, "total", "contacts").0, 1, "{email}");
        assert!(
            top["total"].get("open_opportunities").is_none(),
            "{email}: {}",
            tree.text
        );
        assert!(!tree.text.contains("800"), "{email}: {}", tree.text);
    }
}

/// A decision chain as (name, depth) in its order.
fn chart(body: &Json) -> Vec<(String, i64)> {
    body["people"]
        .as_array()
        .unwrap_or_else(|| panic!("no people in {body}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["depth"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_decision_chain_is_the_account_contacts_by_whom_they_report_to_with_their_roles() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let owner = rep.user_id.0.to_string();
    let acct = app
        .create("account", &json!({"name": "华远科技", "owner_id": owner}))
        .await;
    let contact = |name: &str,
                   title: &str,
                   role: &str,
                   boss: Option<&serde_json::Value>,
                   own: bool| {
        let mut body =
            json!({"name": name, "title": title, "decision_role": role, "account_id": acct["id"]});
        if let Some(b) = boss {
            body["reports_to_id"] = b["id"].clone();
        }
        if own {
            body["owner_id"] = json!(owner);
        }
        body
    };
    let ceo = app
        .create(
            "contact",
            &contact("王总", "总经理", "decision_maker", None, true),
        )
        .await;
    let cto = app
        .create(
            "contact",
            &contact("李工", "技术总监", "technical_evaluator", Some(&ceo), false),
        )
        .await;
    app.create(
        "contact",
        &contact("赵工", "工程师", "user", Some(&cto), true),
    )
    .await;
    app.create(
        "contact",
        &contact("钱经理", "采购经理", "gatekeeper", Some(&ceo), true),
    )
    .await;
    app.create("contact", &json!({"name": "别家的人"})).await;
    let bad = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "x", "decision_role": "king"}),
        )
        .await;
    assert_eq!(bad.error_fields(), vec!["decision_role"]);

    let url = format!("/api/v1/records/account/{}/decision_chain", id_of(&acct));
    let chain = app.get(&url).await;
    chain.assert_status(200);
    let shape = chart(&chain.body);
    assert_eq!(
        shape,
        vec![
            ("王总".to_owned(), 0),
            ("李工".into(), 1),
            ("赵工".into(), 2),
            ("钱经理".into(), 1),
        ],
        "{}",
        chain.text
    );
    assert_eq!(chain.body["people"][0]["decision_role"], "decision_maker");
    assert_eq!(chain.body["people"][1]["reports_to_id"], ceo["id"]);

    // the rep does not see the CTO: the engineer starts a branch of their own
    let theirs = app.client_for(&rep).await.get(&url).await;
    let shape = chart(&theirs.body);
    assert_eq!(
        shape,
        vec![
            ("王总".to_owned(), 0),
            ("钱经理".into(), 1),
            ("赵工".into(), 0)
        ],
        "{}",
        theirs.text
    );
    app.get(&format!(
        "/api/v1/records/contact/{}/decision_chain",
        id_of(&ceo)
    ))
    .await
    .assert_status(404);
    // a contact's own hierarchy is its line of managers and reports
    let tree = app
        .get(&format!(
            "/api/v1/records/contact/{}/hierarchy",
            id_of(&cto)
        ))
        .await;
    tree.assert_status(200);
    assert_eq!(tree.body["nodes"][0]["name"], "王总");

    // the page, in Chinese
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let here = format!("/o/account/{}", id_of(&acct));
    web.get(&here)
        .await
        .assert_contains(&format!("{here}/decision-chain"));
    web.submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    let page = web.get(&format!("{here}/decision-chain")).await;
    page.assert_status(200)
        .assert_contains("决策链")
        .assert_contains("决策者")
        .assert_contains("技术评估人")
        .assert_contains("class=\"depth-2\"");
}

#[tokio::test]
async fn a_contact_at_several_accounts_shows_on_each_chart_with_the_title_and_role_there() {
    let app = TestApp::spawn().await;
    let group = app.create("account", &json!({"name": "华远集团"})).await;
    let subsidiary = app.create("account", &json!({"name": "华远软件"})).await;
    let ceo = app
        .create(
            "contact",
            &json!({"name": "王总", "title": "集团总裁", "decision_role": "decision_maker", "account_id": group["id"]}),
        )
        .await;
    app.create("contact", &json!({"name": "孙总", "title": "财务总监", "account_id": subsidiary["id"], "reports_to_id": ceo["id"]}))
        .await;
    // the group's CEO chairs the subsidiary's board, and decides there as economic buyer
    let link = app
        .create(
            "account_contact",
            &json!({"account_id": subsidiary["id"], "contact_id": ceo["id"], "title": "董事长", "decision_role": "economic_buyer"}),
        )
        .await;
    let missing = app
        .post(
            "/api/v1/records/account_contact",
            &json!({"account_id": subsidiary["id"]}),
        )
        .await;
    assert_eq!(
        missing.error_fields(),
        vec!["contact_id"],
        "{}",
        missing.text
    );

    let chain = app
        .get(&format!(
            "/api/v1/records/account/{}/decision_chain",
            id_of(&subsidiary)
        ))
        .await;
    chain.assert_status(200);
    assert_eq!(
        chart(&chain.body),
        vec![("王总".to_owned(), 0), ("孙总".into(), 1)],
        "{}",
        chain.text
    );
    let boss = &chain.body["people"][0];
    assert_eq!(boss["title"], "董事长", "the title at this account wins");
    assert_eq!(boss["decision_role"], "economic_buyer");
    assert_eq!(boss["link_id"], link["id"]);
    // at the group the CEO keeps their own title and role
    let at_group = app
        .get(&format!(
            "/api/v1/records/account/{}/decision_chain",
            id_of(&group)
        ))
        .await;
    assert_eq!(at_group.body["people"][0]["title"], "集团总裁");
    assert_eq!(
        at_group.body["people"][0]["decision_role"],
        "decision_maker"
    );
    assert_eq!(at_group.body["people"].as_array().unwrap().len(), 1);
    // the contact's accounts are the links' related list: a filter over the link object
    let theirs = app
        .get(&format!(
            "/api/v1/records/account_contact?filter=contact_id%20eq%20{}",
            id_of(&ceo)
        ))
        .await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 1);
    // and "accounts where 王总 is involved" is a related-record condition
    let involved = app
        .get(&format!(
            "/api/v1/records/account?filter={}",
            common::urlencode(&format!(
                "has account_contact (contact_id eq {})",
                id_of(&ceo)
            ))
        ))
        .await;
    assert_eq!(
        involved.body["data"][0]["name"], "华远软件",
        "{}",
        involved.text
    );
}

#[tokio::test]
async fn an_opportunity_chart_is_its_contact_roles_and_its_primary_contact_visible_with_it() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let acct = app
        .create(
            "account",
            &json!({"name": "北辰贸易", "owner_id": rep.user_id.0}),
        )
        .await;
    let person = |name: &str, boss: Option<&serde_json::Value>| {
        let mut c = json!({"name": name, "account_id": acct["id"], "owner_id": rep.user_id.0});
        if let Some(b) = boss {
            c["reports_to_id"] = b["id"].clone();
        }
        c
    };
    let buyer = app.create("contact", &person("周总", None)).await;
    let engineer = app.create("contact", &person("吴工", Some(&buyer))).await;
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "ERP 项目", "account_id": acct["id"], "contact_id": buyer["id"], "owner_id": rep.user_id.0}),
        )
        .await;
    app.create(
        "opportunity_contact",
        &json!({"opportunity_id": opp["id"], "contact_id": engineer["id"], "decision_role": "technical_evaluator", "title": "评估组长"}),
    )
    .await;
    let no_role = app
        .post(
            "/api/v1/records/opportunity_contact",
            &json!({"opportunity_id": opp["id"], "contact_id": buyer["id"]}),
        )
        .await;
    assert_eq!(
        no_role.error_fields(),
        vec!["decision_role"],
        "{}",
        no_role.text
    );

    let url = format!("/api/v1/records/opportunity/{}/decision_chain", id_of(&opp));
    // the rep owns the opportunity: its contact roles (controlled by it) are theirs to see
    let chain = app.client_for(&rep).await.get(&url).await;
    chain.assert_status(200);
    assert_eq!(
        chart(&chain.body),
        vec![("周总".to_owned(), 0), ("吴工".into(), 1)],
        "{}",
        chain.text
    );
    assert_eq!(
        chain.body["people"][1]["decision_role"],
        "technical_evaluator"
    );
    assert_eq!(chain.body["people"][1]["title"], "评估组长");
    // someone else sees neither the opportunity nor its chart
    let other = app
        .user("other@example.com", json!({"name": "Other"}))
        .await;
    app.client_for(&other)
        .await
        .get(&url)
        .await
        .assert_status(404);
    // the page
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let here = format!("/o/opportunity/{}", id_of(&opp));
    web.get(&here)
        .await
        .assert_contains(&format!("{here}/decision-chain"));
    web.get(&format!("{here}/decision-chain"))
        .await
        .assert_status(200)
        .assert_contains("吴工")
        .assert_contains("class=\"depth-1\"");
}
