//! Pools (公海, issue 9): a rep's customer with no follow-up for 30 days (fake clock) returns
//! to the pool, its owner warned on day 27; another rep claims it within the limits; a rep
//! over a limit is refused; a follow-up restarts the clock; members alone see and claim the
//! pool's records; every move is in the record's history.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::{Client, Resp, TestApp};

use crate::common::{self, assert_field_problem, id_of};

struct World {
    app: TestApp,
    clock: std::sync::Arc<relata_domain::ManualClock>,
    start: DateTime<Utc>,
    pool: String,
    reps: Vec<(relata_core::Actor, Client)>,
}

async fn world(rules: Json) -> World {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, clock, _runner) = common::app_on_clock(start, 1).await;
    let mut reps = Vec::new();
    for n in 1..=3 {
        let rep = app.user(&format!("rep{n}@example.com"), json!({})).await;
        let client = app.client_for(&rep).await;
        reps.push((rep, client));
    }
    let members: Vec<Json> = reps
        .iter()
        .map(|(r, _)| json!({"kind": "user", "id": r.user_id.0.to_string()}))
        .collect();
    let r = app
        .post(
            "/api/v1/pools",
            &json!({"name": "华南公海", "object": "account", "rules": rules, "members": members}),
        )
        .await;
    r.assert_status(201);
    let pool = id_of(&r.body);
    World {
        app,
        clock,
        start,
        pool,
        reps,
    }
}

impl World {
    /// Accounts made by the admin and put into the pool.
    async fn pooled_accounts(&self, names: &[&str]) -> Vec<String> {
        let mut ids = Vec::new();
        for name in names {
            let r = self
                .app
                .post("/api/v1/records/account", &json!({"name": name}))
                .await;
            r.assert_status(201);
            ids.push(id_of(&r.body));
        }
        let r = self
            .app
            .post(
                &format!("/api/v1/pools/{}/add", self.pool),
                &json!({"ids": ids}),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.body["done"], names.len());
        ids
    }

    async fn claim(&self, rep: usize, id: &str) -> Resp {
        self.reps[rep]
            .1
            .post(
                &format!("/api/v1/pools/{}/claim", self.pool),
                &json!({"ids": [id]}),
            )
            .await
    }

    fn at_day(&self, day: i64) {
        self.clock.set(self.start + Duration::days(day));
    }

    async fn sweep(&self) -> (usize, usize) {
        let r = self.app.core.sweep_pools().await.unwrap();
        (r.warned, r.reclaimed)
    }

    async fn owner(&self, id: &str) -> Json {
        let r = self.app.get(&format!("/api/v1/records/account/{id}")).await;
        r.assert_status(200);
        r.body["owner_id"].clone()
    }

    async fn notifications(&self, rep: usize) -> Vec<String> {
        let r = self.reps[rep].1.get("/api/v1/me/notifications").await;
        r.assert_status(200);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn user_id(actor: &relata_core::Actor) -> String {
    actor.user_id.0.to_string()
}

#[tokio::test]
async fn a_customer_not_followed_up_is_warned_on_day_27_returns_on_day_30_and_is_claimed_within_limits()
 {
    let w = world(json!({
        "reclaim": [{"no_follow_up_days": 30, "warn_days_before": 3}],
        "max_owned": [{"max": 2}],
        "reclaim_cooldown_days": 7
    }))
    .await;
    let ids = w
        .pooled_accounts(&["深圳市大疆创新科技有限公司", "美的集团", "格力电器"])
        .await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(w.owner(a).await, Json::Null, "pooled records have no owner");
    // members see the pool's records; the pool holds three
    let listed = w.reps[0]
        .1
        .get(&format!(
            "/api/v1/records/account?filter={}",
            common::urlencode(&format!("pool_id = {}", w.pool))
        ))
        .await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        3,
        "{}",
        listed.body
    );

    w.claim(0, a).await.assert_status(200);
    assert_eq!(w.owner(a).await, user_id(&w.reps[0].0).as_str());
    // rep 2 fills their limit of two
    w.claim(1, b).await.assert_status(200);
    w.claim(1, c).await.assert_status(200);

    w.at_day(26);
    assert_eq!(w.sweep().await, (0, 0), "nothing due on day 26");
    w.at_day(27);
    assert_eq!(w.sweep().await.0, 3, "day 27: the three owners are warned");
    assert!(
        w.notifications(0)
            .await
            .contains(&"pool_warning".to_owned())
    );
    assert_eq!(w.sweep().await, (0, 0), "a warning goes once");
    w.at_day(29);
    assert_eq!(w.sweep().await, (0, 0));
    assert_eq!(w.owner(a).await, user_id(&w.reps[0].0).as_str());

    w.clock
        .set(w.start + Duration::days(30) + Duration::minutes(1));
    assert_eq!(w.sweep().await.1, 3, "day 30: back to the pool");
    assert_eq!(w.owner(a).await, Json::Null);
    assert!(
        w.notifications(0)
            .await
            .contains(&"pool_reclaimed".to_owned())
    );
    // the former owner may no longer edit it, nor claim it again before the cooldown ends
    let edit = w.reps[0]
        .1
        .patch(
            &format!("/api/v1/records/account/{a}"),
            &json!({"city": "深圳"}),
        )
        .await;
    edit.assert_status(404);
    let again = w.claim(0, a).await;
    again.assert_status(409);
    assert_eq!(again.body["code"], "cooldown", "{}", again.body);

    // rep 3 claims it; rep 2 takes back one and is then at the limit
    w.claim(2, a).await.assert_status(200);
    assert_eq!(w.owner(a).await, user_id(&w.reps[2].0).as_str());
    w.claim(1, b).await.assert_status(409); // their own, lost: cooldown
    let r = w
        .app
        .post(
            &format!("/api/v1/pools/{}/assign", w.pool),
            &json!({"ids": [b], "user_id": user_id(&w.reps[1].0)}),
        )
        .await;
    r.assert_status(200);
    let r = w
        .app
        .post(
            &format!("/api/v1/pools/{}/assign", w.pool),
            &json!({"ids": [c], "user_id": user_id(&w.reps[1].0)}),
        )
        .await;
    r.assert_status(200);
    w.at_day(40);
    let extra = w.pooled_accounts(&["海尔智家"]).await;
    let over = w.claim(1, &extra[0]).await;
    over.assert_status(409);
    assert_eq!(over.body["code"], "owned_limit", "{}", over.body);
    assert_eq!(
        w.owner(&extra[0]).await,
        Json::Null,
        "a refused claim changes nothing"
    );

    let history = w
        .app
        .get(&format!("/api/v1/records/account/{a}/pool_history"))
        .await;
    history.assert_status(200);
    let actions: Vec<&str> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["added", "claimed", "warned", "reclaimed", "claimed"]
    );
    assert_eq!(
        history.body["data"][1]["user_id"],
        user_id(&w.reps[0].0).as_str()
    );
    assert_eq!(
        history.body["data"][3]["user_id"],
        user_id(&w.reps[0].0).as_str()
    );
}

#[tokio::test]
async fn a_follow_up_restarts_the_clock_and_a_planned_task_does_not() {
    let w = world(json!({"reclaim": [{"no_follow_up_days": 30, "warn_days_before": 3}]})).await;
    let ids = w.pooled_accounts(&["比亚迪", "宁德时代"]).await;
    let (followed, promised) = (&ids[0], &ids[1]);
    w.claim(0, followed).await.assert_status(200);
    w.claim(0, promised).await.assert_status(200);
    w.at_day(20);
    let rep = &w.reps[0].1;
    rep.post(
        "/api/v1/records/note",
        &json!({"title": "拜访纪要", "account_id": followed}),
    )
    .await
    .assert_status(201);
    rep.post(
        "/api/v1/records/task",
        &json!({"subject": "下周回访", "account_id": promised}),
    )
    .await
    .assert_status(201);
    w.clock
        .set(w.start + Duration::days(30) + Duration::minutes(1));
    assert_eq!(
        w.sweep().await.1,
        1,
        "only the one without a follow-up returns"
    );
    assert_eq!(w.owner(followed).await, user_id(&w.reps[0].0).as_str());
    assert_eq!(w.owner(promised).await, Json::Null);
    w.at_day(47);
    assert_eq!(
        w.sweep().await,
        (1, 0),
        "warned 27 days after the follow-up"
    );
    w.clock
        .set(w.start + Duration::days(50) + Duration::minutes(1));
    assert_eq!(w.sweep().await.1, 1);
}

#[tokio::test]
async fn pools_are_set_up_and_used_only_as_allowed() {
    let w = world(json!({"max_claims_per_day": 1})).await;
    // bad rules are named by place
    let bad = w
        .app
        .post(
            "/api/v1/pools",
            &json!({"name": "x", "object": "account", "rules": {"reclaim": [{"level": "z", "no_follow_up_days": 0}]}}),
        )
        .await;
    assert_field_problem(&bad, 422, "rules.reclaim.0.level", "unknown_picklist_value");
    assert_field_problem(&bad, 422, "rules.reclaim.0.no_follow_up_days", "too_large");
    let r = w.reps[0]
        .1
        .post("/api/v1/pools", &json!({"name": "mine", "object": "lead"}))
        .await;
    r.assert_status(403);

    let ids = w.pooled_accounts(&["小米科技", "华为技术"]).await;
    // one claim a day
    w.claim(0, &ids[0]).await.assert_status(200);
    let second = w.claim(0, &ids[1]).await;
    second.assert_status(409);
    assert_eq!(second.body["code"], "daily_claim_limit");
    w.at_day(1);
    w.claim(0, &ids[1]).await.assert_status(200);

    // an outsider neither sees nor claims; a member cannot hand out
    let outsider = w.app.user("outsider@example.com", json!({})).await;
    let outsider = w.app.client_for(&outsider).await;
    let more = w.pooled_accounts(&["联想集团"]).await;
    outsider
        .get(&format!("/api/v1/records/account/{}", more[0]))
        .await
        .assert_status(404);
    outsider
        .post(
            &format!("/api/v1/pools/{}/claim", w.pool),
            &json!({"ids": [more[0]]}),
        )
        .await
        .assert_status(404);
    w.reps[1]
        .1
        .post(
            &format!("/api/v1/pools/{}/assign", w.pool),
            &json!({"ids": [more[0]], "user_id": user_id(&w.reps[1].0)}),
        )
        .await
        .assert_status(403);

    // returning needs a reason, and lands in the pool it came from
    let rep = &w.reps[0].1;
    let r = rep
        .post(
            "/api/v1/pools/return",
            &json!({"object": "account", "ids": [ids[0]], "reason": " "}),
        )
        .await;
    assert_field_problem(&r, 422, "reason", "required");
    let r = rep
        .post(
            "/api/v1/pools/return",
            &json!({"object": "account", "ids": [ids[0]], "reason": "客户已被竞争对手签下"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(w.owner(&ids[0]).await, Json::Null);
    let history = w
        .app
        .get(&format!("/api/v1/records/account/{}/pool_history", ids[0]))
        .await;
    let last = history.body["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "returned");
    assert_eq!(last["reason"], "客户已被竞争对手签下");

    // a pool holding records is not deleted
    let r = w.app.delete(&format!("/api/v1/pools/{}", w.pool)).await;
    r.assert_status(409);
    assert_eq!(r.body["code"], "pool_not_empty");
}

#[tokio::test]
async fn a_default_pool_takes_back_every_due_record_of_the_object_batch_after_batch() {
    let w = world(json!({"reclaim": [{"no_follow_up_days": 30, "warn_days_before": 3}]})).await;
    // make the pool the accounts' default: it then governs accounts that came from no pool
    let pool = w
        .app
        .get(&format!("/api/v1/pools/{}", w.pool))
        .await
        .body
        .clone();
    let body = json!({"name": pool["name"], "object": "account", "is_default": true,
        "rules": pool["rules"], "members": pool["members"]});
    w.app
        .put(&format!("/api/v1/pools/{}", w.pool), &body)
        .await
        .assert_status(200);
    // more than two batches of owned accounts, made by the admin
    let records: Vec<Json> = (0..1_050)
        .map(|i| json!({"name": format!("客户 {i:04}")}))
        .collect();
    let r = w
        .app
        .post(
            "/api/v1/records/account/bulk",
            &json!({"key": "id", "mode": "all_or_nothing", "records": records}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 1_050);

    w.at_day(27);
    assert_eq!(
        w.sweep().await,
        (1_050, 0),
        "every owner warned, none skipped"
    );
    w.at_day(30);
    assert_eq!(w.sweep().await, (0, 1_050), "all back, across batches");
    let owned = w
        .app
        .get(&format!(
            "/api/v1/records/account?count=true&limit=1&filter={}",
            common::urlencode("owner_id is_null false")
        ))
        .await;
    owned.assert_status(200);
    assert_eq!(owned.body["total"], 0, "{}", owned.body);
}
