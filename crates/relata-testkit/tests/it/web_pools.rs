//! Pools (公海) in the web UI: a member finds their pools and a pool's records, claims one and
//! owns it; a claim over the pool's limit is refused with the reason, in English and Chinese;
//! a manager hands a record out; someone outside the pool does not see it; an owner returns
//! a record with a reason and its page shows the pool history.

use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::common::id_of;

const PASSWORD: &str = "correct-horse-battery-9";

struct World {
    app: TestApp,
    pool: String,
    /// 深圳大疆, 美的集团, 格力电器: made by the admin and put into the pool.
    accounts: Vec<String>,
    rep: relata_core::Actor,
    rep_web: WebSession,
}

async fn world(rules: Json) -> World {
    let app = TestApp::spawn().await;
    let rep = app
        .user("wang.fang@example.com", json!({"name": "王芳"}))
        .await;
    let r = app
        .post(
            "/api/v1/pools",
            &json!({"name": "华南公海", "object": "account", "rules": rules,
                "members": [{"kind": "user", "id": rep.user_id.0.to_string()}]}),
        )
        .await;
    r.assert_status(201);
    let pool = id_of(&r.body);
    let mut accounts = Vec::new();
    for (name, city) in [
        ("深圳市大疆创新科技有限公司", "深圳"),
        ("美的集团", "佛山"),
        ("格力电器", "珠海"),
    ] {
        let created = app
            .create("account", &json!({"name": name, "city": city}))
            .await;
        accounts.push(id_of(&created));
    }
    let r = app
        .post(
            &format!("/api/v1/pools/{pool}/add"),
            &json!({"ids": accounts}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["done"], 3, "{}", r.body);
    let rep_web = app.web_as(&rep, PASSWORD).await;
    World {
        app,
        pool,
        accounts,
        rep,
        rep_web,
    }
}

impl World {
    fn pool_page(&self) -> String {
        format!("/pools/{}", self.pool)
    }

    async fn owner(&self, id: &str) -> Json {
        let r = self.app.get(&format!("/api/v1/records/account/{id}")).await;
        r.assert_status(200);
        r.body["owner_id"].clone()
    }

    /// Ticks `ids` on the pool's page and presses `button` (claim or assign); answers the
    /// page redirected to.
    async fn press(
        &self,
        web: &WebSession,
        button: &str,
        ids: &[&str],
        extra: &[(&str, &str)],
    ) -> Page {
        let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", *id)).collect();
        fields.extend_from_slice(extra);
        let done = web
            .submit(
                &self.pool_page(),
                &format!("/pools/{}/{button}", self.pool),
                &fields,
            )
            .await;
        done.assert_status(303);
        let to = done.location.clone().expect("a redirect");
        assert!(to.starts_with(&self.pool_page()), "{to}");
        let page = web.get(&to).await;
        page.assert_status(200);
        page
    }
}

fn checkbox(id: &str) -> String {
    format!("<input type=\"checkbox\" name=\"ids\" value=\"{id}\"")
}

#[tokio::test]
async fn a_member_sees_the_pools_records_and_claims_one() {
    let w = world(json!({})).await;
    let rep_id = w.rep.user_id.0.to_string();

    w.rep_web
        .get("/pools")
        .await
        .assert_status(200)
        .assert_contains(&format!("<a href=\"/pools/{}\">华南公海</a>", w.pool))
        .assert_contains(&format!("data-held=\"{}\">3</td>", w.pool))
        .assert_contains("<a href=\"/pools\"");

    let page = w.rep_web.get(&w.pool_page()).await;
    page.assert_status(200)
        .assert_contains("3 records in the pool")
        .assert_contains(&format!(
            "<a href=\"/o/account/{}\">美的集团</a>",
            w.accounts[1]
        ))
        .assert_contains("<td>佛山</td>")
        .assert_contains("id=\"pool-claim\"")
        // a member who does not manage the pool hands nothing out
        .assert_not_contains("id=\"pool-assign\"");
    for id in &w.accounts {
        page.assert_contains(&checkbox(id));
    }

    let after = w.press(&w.rep_web, "claim", &[&w.accounts[1]], &[]).await;
    after
        .assert_contains("Claimed 1 of 1.")
        .assert_contains("2 records in the pool")
        .assert_not_contains(&checkbox(&w.accounts[1]))
        .assert_contains(&checkbox(&w.accounts[0]));
    assert_eq!(w.owner(&w.accounts[1]).await, rep_id.as_str());
    assert_eq!(w.owner(&w.accounts[0]).await, Json::Null);
}

#[tokio::test]
async fn a_claim_over_the_pools_limit_is_refused_with_its_reason_in_both_languages() {
    let w = world(json!({"max_owned": [{"max": 1}]})).await;
    let rep_id = w.rep.user_id.0.to_string();
    let (dji, midea, gree) = (&w.accounts[0], &w.accounts[1], &w.accounts[2]);

    let after = w.press(&w.rep_web, "claim", &[dji, midea], &[]).await;
    after
        .assert_contains("Claimed 1 of 2.")
        .assert_contains("美的集团: you already own as many records from this pool as it allows.")
        .assert_contains(&checkbox(midea));
    assert_eq!(w.owner(dji).await, rep_id.as_str());
    assert_eq!(w.owner(midea).await, Json::Null, "a refused record stays");

    let here = w.pool_page();
    w.rep_web
        .submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    let zh = w.press(&w.rep_web, "claim", &[gree], &[]).await;
    zh.assert_contains("已领取 0 / 1 条。")
        .assert_contains("格力电器：你从该公海持有的记录已达上限。")
        .assert_contains(">领取</button>");
    assert_eq!(w.owner(gree).await, Json::Null);
}

#[tokio::test]
async fn a_manager_assigns_and_someone_outside_the_pool_sees_nothing_of_it() {
    let w = world(json!({})).await;
    let admin_web = w.app.web_as(&w.app.admin().await, PASSWORD).await;
    let rep_id = w.rep.user_id.0.to_string();

    let page = admin_web.get(&w.pool_page()).await;
    page.assert_status(200)
        .assert_contains("id=\"pool-assign\"")
        .assert_contains(&format!(
            "<option value=\"{rep_id}\">王芳 &#60;wang.fang@example.com&#62;</option>"
        ));
    let after = w
        .press(
            &admin_web,
            "assign",
            &[&w.accounts[2]],
            &[("user_id", &rep_id)],
        )
        .await;
    after.assert_contains("Assigned 1 of 1.");
    assert_eq!(w.owner(&w.accounts[2]).await, rep_id.as_str());

    let outsider = w.app.user("li.lei@example.com", json!({})).await;
    let web = w.app.web_as(&outsider, PASSWORD).await;
    web.get(&w.pool_page()).await.assert_status(404);
    web.get("/pools")
        .await
        .assert_status(200)
        .assert_not_contains("华南公海")
        .assert_contains("You are a member of no pool.");
    let csrf = web.get("/pools").await.csrf();
    web.post(
        &format!("/pools/{}/claim", w.pool),
        &[("_csrf", &csrf), ("ids", &w.accounts[0])],
    )
    .await
    .assert_status(404);
    assert_eq!(w.owner(&w.accounts[0]).await, Json::Null);
}

#[tokio::test]
async fn an_owner_returns_a_record_with_a_reason_and_its_page_shows_the_pool_history() {
    let w = world(json!({})).await;
    let gree = &w.accounts[2];
    let here = format!("/o/account/{gree}");
    // pooled: nobody owns it, so there is nothing to return yet
    w.rep_web
        .get(&here)
        .await
        .assert_status(200)
        .assert_not_contains(&format!("action=\"{here}/return\""))
        .assert_contains("Pool history")
        .assert_contains("Put into the pool");
    w.press(&w.rep_web, "claim", &[gree], &[]).await;

    let page = w.rep_web.get(&here).await;
    page.assert_status(200)
        .assert_contains(&format!("action=\"{here}/return\""))
        .assert_contains("<td>Claimed · 华南公海</td>")
        .assert_contains("<td>王芳</td>");

    // a reason is required
    let refused = w
        .rep_web
        .submit(&here, &format!("{here}/return"), &[("reason", "  ")])
        .await;
    refused.assert_status(303);
    w.rep_web
        .get(refused.location.as_deref().unwrap_or_default())
        .await
        .assert_contains("Say why the record goes back to the pool.");
    assert_eq!(w.owner(gree).await, w.rep.user_id.0.to_string().as_str());

    let done = w
        .rep_web
        .submit(
            &here,
            &format!("{here}/return"),
            &[("reason", "客户暂无预算")],
        )
        .await;
    done.assert_status(303);
    let to = done.location.clone().unwrap_or_default();
    assert!(to.starts_with(&here), "{to}");
    assert_eq!(w.owner(gree).await, Json::Null);
    let page = w.rep_web.get(&to).await;
    page.assert_status(200)
        .assert_contains("The record is back in its pool.")
        .assert_contains("<td>Returned · 华南公海</td>")
        .assert_contains("<td>客户暂无预算</td>")
        .assert_not_contains(&format!("action=\"{here}/return\""));
    // the history reads newest first
    let returned = page.html.find("Returned · ").unwrap_or(usize::MAX);
    let claimed = page.html.find("Claimed · ").unwrap_or(0);
    assert!(returned < claimed, "newest first");

    // a record from no pool, with no default pool to take it, is not offered a return
    let own = w
        .app
        .client_for(&w.rep)
        .await
        .create("account", &json!({"name": "小米科技"}))
        .await;
    let own_page = format!("/o/account/{}", id_of(&own));
    w.rep_web
        .get(&own_page)
        .await
        .assert_status(200)
        .assert_not_contains(&format!("action=\"{own_page}/return\""))
        .assert_not_contains("Pool history");
}

#[tokio::test]
async fn an_admin_sets_up_a_pool_in_settings_and_each_problem_shows_beside_its_field() {
    let app = TestApp::spawn().await;
    let rep = app
        .user("wang.fang@example.com", json!({"name": "王芳"}))
        .await;
    let rep_id = rep.user_id.0.to_string();
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let new = admin.get("/settings/pools").await;
    new.assert_status(200)
        .assert_contains("No pools yet.")
        .assert_contains("<option value=\"a\">A (key)</option>");

    // row 0 of the rules is left blank: the problem of the rule typed on row 1 shows there
    let bad = admin
        .submit(
            "/settings/pools",
            "/settings/pools",
            &[
                ("name", "华东公海"),
                ("object", "account"),
                ("is_default", "false"),
                ("member_rows", "2"),
                ("member0_kind", "user"),
                ("member0_who", "wang.fang@example.com"),
                ("member1_kind", "user"),
                ("member1_who", "nobody@example.com"),
                ("reclaim_rows", "2"),
                ("reclaim1_level", "a"),
                ("reclaim1_no_follow_up_days", "30"),
                ("reclaim1_warn_days_before", "30"),
                ("limit_rows", "1"),
                ("limit0_max", "many"),
                ("max_claims_per_day", "0"),
            ],
        )
        .await;
    bad.assert_status(422)
        .assert_contains("id=\"p-reclaim1-warn_days_before-error\">must be fewer than the rule")
        .assert_not_contains("id=\"p-reclaim0-warn_days_before-error\"")
        .assert_contains("id=\"p-limit0-max-error\">a whole number, such as 30</p>")
        .assert_contains(
            "id=\"p-member1-id-error\">no active user has the email nobody@example.com</p>",
        )
        .assert_contains("id=\"p-claims-error\">must be at least 1</p>")
        .assert_contains("value=\"华东公海\"")
        .assert_contains("<option value=\"a\" selected>A (key)</option>");
    let none = app.get("/api/v1/pools").await;
    assert_eq!(none.body["data"].as_array().map(Vec::len), Some(0));

    let made = admin
        .submit(
            "/settings/pools",
            "/settings/pools",
            &[
                ("name", "华东公海"),
                ("object", "account"),
                ("is_default", "false"),
                ("is_default", "true"),
                ("member_rows", "1"),
                ("member0_kind", "user"),
                ("member0_who", "Wang.Fang@example.com"),
                ("member0_can_assign", "false"),
                ("member0_can_assign", "true"),
                ("reclaim_rows", "2"),
                ("reclaim0_no_follow_up_days", "30"),
                ("reclaim0_warn_days_before", "3"),
                ("reclaim1_level", "a"),
                ("reclaim1_no_follow_up_days", "60"),
                ("reclaim1_no_won_deal_days", "180"),
                ("reclaim1_warn_days_before", "7"),
                ("limit_rows", "1"),
                ("limit0_max", "200"),
                ("max_claims_per_day", "10"),
                ("reclaim_cooldown_days", "30"),
            ],
        )
        .await;
    made.assert_status(303);
    let to = made.location.clone().unwrap_or_default();
    assert!(to.starts_with("/settings/pools/"), "{to}");
    let listed = app.get("/api/v1/pools").await;
    let pool = &listed.body["data"][0];
    assert_eq!(pool["name"], "华东公海");
    assert_eq!(pool["object"], "account");
    assert_eq!(pool["is_default"], true);
    assert_eq!(
        pool["members"],
        json!([{"kind": "user", "id": rep_id, "can_assign": true}])
    );
    assert_eq!(
        pool["rules"],
        json!({
            "reclaim": [
                {"level": null, "no_follow_up_days": 30, "no_won_deal_days": null, "warn_days_before": 3},
                {"level": "a", "no_follow_up_days": 60, "no_won_deal_days": 180, "warn_days_before": 7}
            ],
            "max_owned": [{"level": null, "max": 200}],
            "max_claims_per_day": 10,
            "reclaim_cooldown_days": 30
        })
    );
    let id = id_of(pool);

    // the pool's page shows what was saved, its object fixed; in Chinese as well
    let here = format!("/settings/pools/{id}");
    let page = admin.get(&to).await;
    page.assert_status(200)
        .assert_contains("Pool saved.")
        .assert_contains("value=\"wang.fang@example.com\"")
        .assert_contains("name=\"reclaim1_no_won_deal_days\" value=\"180\"")
        .assert_contains("A pool keeps the object it was made for.")
        .assert_not_contains("<select id=\"p-object\"");

    // a problem the service finds lands on the row it belongs to
    admin
        .submit(&here, "/lang", &[("lang", "zh-CN"), ("back", &here)])
        .await
        .assert_status(303);
    let refused = admin
        .submit(
            &here,
            &here,
            &[
                ("action", "save"),
                ("name", "华东公海"),
                ("member_rows", "1"),
                ("member0_kind", "user"),
                ("member0_who", "wang.fang@example.com"),
                ("reclaim_rows", "2"),
                ("reclaim1_no_follow_up_days", "10"),
                ("reclaim1_warn_days_before", "12"),
            ],
        )
        .await;
    refused
        .assert_status(422)
        .assert_contains("id=\"p-reclaim1-warn_days_before-error\">")
        .assert_contains("收回规则");
    let kept = app.get(&format!("/api/v1/pools/{id}")).await;
    assert_eq!(kept.body["rules"]["reclaim"][0]["no_follow_up_days"], 30);

    // reps do not set pools up
    let rep_web = app.web_as(&rep, PASSWORD).await;
    rep_web.get("/settings/pools").await.assert_status(403);
}
