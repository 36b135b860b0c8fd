//! Identity flows end to end: first-run setup, password reset by email, ownership transfer
//! with related records, role hierarchy with manager edit rights, and record shares.

use std::sync::Arc;

use relata_core::mail::CapturingMailer;
use relata_core::records::transfer::TransferInput;
use relata_testkit::{SpawnOptions, TestApp};
use serde_json::json;

#[tokio::test]
async fn setup_gives_the_first_admin_a_password_once() {
    // once a token exists, the owner is in and setup is closed
    let used = TestApp::spawn().await;
    used.anonymous()
        .get("/api/v1/setup")
        .await
        .assert_status(200);
    assert_eq!(
        used.anonymous().get("/api/v1/setup").await.body["needed"],
        false
    );
    used.anonymous()
        .post("/api/v1/setup", &json!({"name": "Mallory", "email": "m@example.com", "password": "a long hijacking phrase"}))
        .await
        .assert_problem(409, "setup_done");

    let app = TestApp::spawn_with(SpawnOptions {
        untouched: true,
        ..Default::default()
    })
    .await;
    let anon = app.anonymous();
    let status = anon.get("/api/v1/setup").await;
    status.assert_status(200);
    assert_eq!(status.body["needed"], true);

    let weak = anon
        .post(
            "/api/v1/setup",
            &json!({"name": "Li Lei", "email": "li.lei@example.com", "password": "short"}),
        )
        .await;
    weak.assert_problem(422, "validation_failed");
    assert_eq!(weak.body["errors"][0]["field"], "password");

    let done = anon
        .post(
            "/api/v1/setup",
            &json!({"name": "Li Lei", "email": "li.lei@example.com", "password": "a long and private phrase"}),
        )
        .await;
    done.assert_status(201);
    assert_eq!(anon.get("/api/v1/setup").await.body["needed"], false);
    let again = anon
        .post(
            "/api/v1/setup",
            &json!({"name": "Mallory", "email": "m@example.com", "password": "another long phrase here"}),
        )
        .await;
    again.assert_problem(409, "setup_done");

    // the administrator signs in with it and is an administrator
    let login = anon
        .post(
            "/api/v1/auth/login",
            &json!({"email": "li.lei@example.com", "password": "a long and private phrase"}),
        )
        .await;
    login.assert_status(200);
    assert_eq!(login.body["user_id"], done.body["user_id"]);
}

#[tokio::test]
async fn a_password_reset_mails_a_one_time_code() {
    let mailer = Arc::new(CapturingMailer::default());
    let app = TestApp::spawn_with(SpawnOptions {
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let rep = app
        .user(
            "wang.fang@example.com",
            json!({"password": "the old long password"}),
        )
        .await;
    let anon = app.anonymous();

    // unknown emails answer the same and send nothing
    anon.post(
        "/api/v1/auth/password_reset",
        &json!({"email": "nobody@example.com"}),
    )
    .await
    .assert_status(202);
    assert!(mailer.sent().is_empty());

    anon.post(
        "/api/v1/auth/password_reset",
        &json!({"email": "Wang.Fang@example.com"}),
    )
    .await
    .assert_status(202);
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "wang.fang@example.com");
    let code = sent[0]
        .body
        .split_whitespace()
        .find(|w| w.starts_with("rlr_"))
        .expect("a code in the mail")
        .to_owned();

    let weak = anon
        .post(
            "/api/v1/auth/password_reset/confirm",
            &json!({"token": code, "new_password": "123"}),
        )
        .await;
    weak.assert_problem(422, "validation_failed");
    anon.post(
        "/api/v1/auth/password_reset/confirm",
        &json!({"token": code, "new_password": "a brand new long password"}),
    )
    .await
    .assert_status(204);
    // spent
    anon.post(
        "/api/v1/auth/password_reset/confirm",
        &json!({"token": code, "new_password": "yet another long password"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let old = anon
        .post(
            "/api/v1/auth/login",
            &json!({"email": "wang.fang@example.com", "password": "the old long password"}),
        )
        .await;
    old.assert_status(403);
    let new = anon
        .post(
            "/api/v1/auth/login",
            &json!({"email": "wang.fang@example.com", "password": "a brand new long password"}),
        )
        .await;
    new.assert_status(200);
    assert_eq!(new.body["user_id"], rep.user_id.0.to_string());
}

#[tokio::test]
async fn ownership_moves_with_related_records_within_the_actors_rights() {
    let app = TestApp::spawn().await;
    let core = &app.core;
    let admin = app.admin().await;
    let leaving = app.user("leaving@example.com", json!({})).await;
    let taking = app.user("taking@example.com", json!({})).await;
    let other = app.user("other@example.com", json!({})).await;

    let acct = core
        .create_record(&leaving, "account", json!({"name": "阿里巴巴"}))
        .await
        .unwrap();
    let acct_id = acct.id().unwrap();
    let mine = core
        .create_record(
            &leaving,
            "contact",
            json!({"name": "马云", "account_id": acct_id}),
        )
        .await
        .unwrap();
    let opp = core
        .create_record(
            &leaving,
            "opportunity",
            json!({"name": "云服务", "account_id": acct_id, "stage": "prospecting"}),
        )
        .await;
    // someone else's contact on the same account stays theirs
    let theirs = core
        .create_record(
            &admin,
            "contact",
            json!({"name": "张勇", "account_id": acct_id, "owner_id": other.user_id.0}),
        )
        .await
        .unwrap();
    let second = core
        .create_record(&leaving, "account", json!({"name": "腾讯"}))
        .await
        .unwrap();

    // a rep cannot hand over what they may not edit
    let refused = core
        .transfer_ownership(
            &taking,
            "account",
            TransferInput {
                ids: vec![acct_id],
                from_owner: None,
                to_owner: taking.user_id.0,
                include_related: true,
            },
        )
        .await
        .unwrap();
    assert!(refused.transferred.is_empty());
    assert_eq!(refused.not_found, vec![acct_id.to_string()]);

    // the leaver is deactivated; an administrator moves all their accounts, with related records
    core.update_user(&admin, leaving.user_id.0, json!({"active": false}))
        .await
        .unwrap();
    let moved = core
        .transfer_ownership(
            &admin,
            "account",
            TransferInput {
                ids: vec![],
                from_owner: Some(leaving.user_id.0),
                to_owner: taking.user_id.0,
                include_related: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.transferred.get("account"), Some(&2), "{moved:?}");
    assert_eq!(moved.transferred.get("contact"), Some(&1), "{moved:?}");
    if opp.is_ok() {
        assert_eq!(moved.transferred.get("opportunity"), Some(&1), "{moved:?}");
    }
    let taking = app.actor_of(&taking.user_id.0.to_string()).await;
    for (object, id) in [
        ("account", acct_id),
        ("account", second.id().unwrap()),
        ("contact", mine.id().unwrap()),
    ] {
        let r = core.get_record(&taking, object, id).await.unwrap();
        assert_eq!(
            r.get("owner_id"),
            &relata_domain::Value::Ref(taking.user_id.0)
        );
        let history = core.record_history(&admin, object, id).await.unwrap();
        assert!(
            history.iter().any(|h| h.field == "owner_id"),
            "{object} history records the transfer"
        );
    }
    let untouched = core
        .get_record(&admin, "contact", theirs.id().unwrap())
        .await
        .unwrap();
    assert_eq!(
        untouched.get("owner_id"),
        &relata_domain::Value::Ref(other.user_id.0)
    );

    // a deactivated user cannot receive records
    let err = core
        .transfer_ownership(
            &admin,
            "account",
            TransferInput {
                ids: vec![acct_id],
                from_owner: None,
                to_owner: leaving.user_id.0,
                include_related: false,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");

    // the audit log has the transfer and the deactivation
    let audit = core
        .audit_entries(
            &admin,
            relata_core::audit::AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "record.transfer"));
    assert!(audit.iter().any(|e| e.action == "user.deactivate"));
}

#[tokio::test]
async fn managers_see_subordinates_records_and_edit_them_only_when_configured() {
    let app = TestApp::spawn().await;
    let core = &app.core;
    let admin = app.admin().await;
    let director = core
        .create_role(
            &admin,
            serde_json::from_value(json!({"name": "销售总监"})).unwrap(),
        )
        .await
        .unwrap();
    let manager = core
        .create_role(
            &admin,
            serde_json::from_value(json!({"name": "区域经理", "parent_id": director.id})).unwrap(),
        )
        .await
        .unwrap();
    let rep_role = core
        .create_role(
            &admin,
            serde_json::from_value(json!({"name": "销售代表", "parent_id": manager.id})).unwrap(),
        )
        .await
        .unwrap();
    let boss = app
        .user("boss@example.com", json!({"role_id": director.id}))
        .await;
    let rep = app
        .user("rep@example.com", json!({"role_id": rep_role.id}))
        .await;
    let peer = app
        .user("peer@example.com", json!({"role_id": rep_role.id}))
        .await;

    // an actor carries the access of its moment (a request's); take the current one
    let boss = app.actor_of(&boss.user_id.0.to_string()).await;
    let lead = core
        .create_record(&rep, "lead", json!({"name": "刘洋", "company": "小米"}))
        .await
        .unwrap();
    let id = lead.id().unwrap();
    assert!(
        core.get_record(&boss, "lead", id).await.is_ok(),
        "a manager above sees it"
    );
    assert!(
        core.get_record(&peer, "lead", id).await.is_err(),
        "a peer does not"
    );
    let err = core
        .update_record(&boss, "lead", id, json!({"company": "小米科技"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "seeing is not editing: {err:?}");

    core.set_object_sharing(
        &admin,
        "lead",
        serde_json::from_value(json!({"sharing": {"model": "private"}, "manager_edit": true}))
            .unwrap(),
    )
    .await
    .unwrap();
    let boss = app.actor_of(&boss.user_id.0.to_string()).await;
    core.update_record(&boss, "lead", id, json!({"company": "小米科技"}), None)
        .await
        .unwrap();

    // a manual share with the peer, read only
    let share = core
        .share_record(
            &rep,
            "lead",
            id,
            serde_json::from_value(
                json!({"principal": {"kind": "user", "id": peer.user_id.0}, "access": "read"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let peer = app.actor_of(&peer.user_id.0.to_string()).await;
    assert!(core.get_record(&peer, "lead", id).await.is_ok());
    assert!(
        core.update_record(&peer, "lead", id, json!({"company": "x"}), None)
            .await
            .is_err()
    );
    core.unshare_record(&rep, "lead", id, share.id.parse().unwrap())
        .await
        .unwrap();
    assert!(core.get_record(&peer, "lead", id).await.is_err());

    // a role cycle is refused and leaves the tree as it was
    let err = core
        .update_role(
            &admin,
            director.id.parse().unwrap(),
            serde_json::from_value(json!({"name": "销售总监", "parent_id": rep_role.id})).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let roles = core.list_roles(&admin).await.unwrap();
    assert!(
        roles
            .iter()
            .any(|r| r.id == director.id && r.parent_id.is_none())
    );
}

#[tokio::test]
async fn the_audit_log_keeps_entries_for_the_retention_period() {
    let clock = Arc::new(relata_domain::ManualClock::new(
        chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
    ));
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let core = &app.core;
    let admin = app.admin().await;
    core.create_team(&admin, "华东大区").await.unwrap();
    clock.advance(chrono::Duration::days(400));
    core.create_team(&admin, "华南大区").await.unwrap();
    let query = || relata_core::audit::AuditQuery {
        action: Some("team.create".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(core.audit_entries(&admin, query()).await.unwrap().len(), 2);
    assert_eq!(core.sweep_audit_log(365).await.unwrap(), 1);
    let left = core.audit_entries(&admin, query()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].detail["name"], "华南大区");
}

#[tokio::test]
async fn a_user_manager_cannot_take_over_an_administrator() {
    let app = TestApp::spawn().await;
    let core = &app.core;
    let admin = app.admin().await;
    let set = core
        .create_permission_set(
            &admin,
            serde_json::from_value(
                json!({"name": "User managers", "grants": {"capabilities": ["manage_users"]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let hr = app.user("hr@example.com", json!({})).await;
    core.assign_permission_set(&admin, hr.user_id.0, set.id.parse().unwrap(), true)
        .await
        .unwrap();
    let hr = app.actor_of(&hr.user_id.0.to_string()).await;

    // managing ordinary users works
    let rep = core
        .create_user(&hr, json!({"name": "新人", "email": "new@example.com"}))
        .await
        .unwrap();
    core.update_user(
        &hr,
        rep.id.parse().unwrap(),
        json!({"password": "a fine long password"}),
    )
    .await
    .unwrap();

    // but an administrator's password, email or status is out of reach, and so is admin rights
    for change in [
        json!({"password": "a hijacking long password"}),
        json!({"email": "hr@example.com"}),
        json!({"active": false}),
    ] {
        let err = core
            .update_user(&hr, admin.user_id.0, change.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "forbidden", "{change}: {err:?}");
    }
    let err = core
        .update_user(&hr, rep.id.parse().unwrap(), json!({"is_admin": true}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = core
        .create_user(
            &hr,
            json!({"name": "x", "email": "x@example.com", "is_admin": true}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

/// Findings of the security review, each pinned by a test.
mod review {
    use super::*;
    use relata_core::records::bulk::BulkMode;

    #[tokio::test]
    async fn idempotent_replays_stay_with_their_credential_and_never_hold_secrets() {
        let app = TestApp::spawn().await;
        let first = app
            .client
            .send(
                reqwest::Method::POST,
                "/api/v1/records/account",
                Some(&json!({"name": "京东"})),
                &[("idempotency-key", "k1")],
            )
            .await;
        first.assert_status(201);
        // another credential of the same user does not get the first one's answer replayed
        let admin = app.admin().await;
        let other = app.client_for(&admin).await;
        let second = other
            .send(
                reqwest::Method::POST,
                "/api/v1/records/account",
                Some(&json!({"name": "京东"})),
                &[("idempotency-key", "k1")],
            )
            .await;
        second.assert_status(201);
        assert_ne!(first.body["id"], second.body["id"]);
        // a token's secret is never stored for replay
        let t1 = app
            .client
            .send(
                reqwest::Method::POST,
                "/api/v1/me/tokens",
                Some(&json!({"name": "a"})),
                &[("idempotency-key", "k2")],
            )
            .await;
        let t2 = app
            .client
            .send(
                reqwest::Method::POST,
                "/api/v1/me/tokens",
                Some(&json!({"name": "a"})),
                &[("idempotency-key", "k2")],
            )
            .await;
        assert_ne!(t1.body["token"], t2.body["token"], "no replay of a secret");
        let secret = t1.body["token"].as_str().unwrap().to_owned();
        let stored = app
            .core
            .store
            .read(move |conn| {
                let rows = conn.query("SELECT body FROM sys_idempotency", &[])?;
                Ok::<_, relata_core::CoreError>(
                    rows.iter()
                        .any(|r| r[0].as_str().is_some_and(|b| b.contains(&secret))),
                )
            })
            .await
            .unwrap();
        assert!(!stored);
    }

    #[tokio::test]
    async fn only_administrators_create_records_with_ids_of_their_choosing() {
        let app = TestApp::spawn().await;
        let core = &app.core;
        let admin = app.admin().await;
        let rep = app.user("rep@example.com", json!({})).await;
        let hidden = core
            .create_record(&admin, "account", json!({"name": "隐藏客户"}))
            .await
            .unwrap();
        let hidden_id = hidden.id().unwrap();
        for (object, id) in [
            ("account", hidden_id),
            ("lead", hidden_id),
            ("lead", uuid::Uuid::now_v7()),
        ] {
            let r = core
                .bulk_upsert(
                    &rep,
                    object,
                    "id",
                    BulkMode::PerRecord,
                    vec![json!({"id": id, "name": "x"})],
                )
                .await
                .unwrap();
            assert_eq!(r.failed, 1, "{object} {id}: {r:?}");
            assert_eq!(r.results[0].errors[0].code.as_str(), "lookup_not_found");
        }
        // an administrator may (imports, copies between installations)
        let r = core
            .bulk_upsert(
                &admin,
                "lead",
                "id",
                BulkMode::PerRecord,
                vec![json!({"id": uuid::Uuid::now_v7(), "name": "导入"})],
            )
            .await
            .unwrap();
        assert_eq!(r.created, 1, "{r:?}");
    }

    #[tokio::test]
    async fn a_lookup_to_a_record_one_cannot_see_is_refused_like_a_missing_one() {
        let app = TestApp::spawn().await;
        let core = &app.core;
        let admin = app.admin().await;
        let rep = app.user("rep@example.com", json!({})).await;
        let hidden = core
            .create_record(&admin, "account", json!({"name": "隐藏客户"}))
            .await
            .unwrap();
        let mine = core
            .create_record(&rep, "account", json!({"name": "我的客户"}))
            .await
            .unwrap();
        let missing = uuid::Uuid::now_v7();
        for target in [hidden.id().unwrap(), missing] {
            let err = core
                .create_record(
                    &rep,
                    "contact",
                    json!({"name": "张三", "account_id": target}),
                )
                .await
                .unwrap_err();
            let relata_core::CoreError::Validation(errors) = err else {
                panic!("{err:?}")
            };
            assert_eq!(errors[0].code.as_str(), "lookup_not_found");
            assert_eq!(errors[0].message, format!("no account with id {target}"));
        }
        core.create_record(
            &rep,
            "contact",
            json!({"name": "张三", "account_id": mine.id().unwrap()}),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_edit_share_lets_one_edit_but_not_delete_share_or_transfer() {
        let app = TestApp::spawn().await;
        let core = &app.core;
        let owner = app.user("owner@example.com", json!({})).await;
        let helper = app.user("helper@example.com", json!({})).await;
        let third = app.user("third@example.com", json!({})).await;
        let lead = core
            .create_record(&owner, "lead", json!({"name": "孙丽"}))
            .await
            .unwrap();
        let id = lead.id().unwrap();
        core.share_record(
            &owner,
            "lead",
            id,
            serde_json::from_value(
                json!({"principal": {"kind": "user", "id": helper.user_id.0}, "access": "edit"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        core.update_record(&helper, "lead", id, json!({"company": "蚂蚁"}), None)
            .await
            .unwrap();
        assert_eq!(
            core.delete_record(&helper, "lead", id, None)
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        let share = serde_json::from_value(
            json!({"principal": {"kind": "user", "id": third.user_id.0}, "access": "read"}),
        )
        .unwrap();
        assert_eq!(
            core.share_record(&helper, "lead", id, share)
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        let moved = core
            .transfer_ownership(
                &helper,
                "lead",
                TransferInput {
                    ids: vec![id],
                    from_owner: None,
                    to_owner: helper.user_id.0,
                    include_related: false,
                },
            )
            .await
            .unwrap();
        assert!(moved.transferred.is_empty());
        core.delete_record(&owner, "lead", id, None).await.unwrap();
    }

    #[tokio::test]
    async fn an_archived_hidden_field_stays_out_of_the_change_feed() {
        let app = TestApp::spawn().await;
        let core = &app.core;
        let admin = app.admin().await;
        core.add_field(
            &admin,
            "contact",
            serde_json::from_value(
                json!({"api_name": "salary", "type": "text", "label": "Salary"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let profile = core
            .create_permission_set(
                &admin,
                serde_json::from_value(json!({"name": "no salary", "is_profile": true, "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                    "fields": {"contact": {"salary": "hidden"}}}}))
                .unwrap(),
            )
            .await
            .unwrap();
        let rep = app
            .user("rep@example.com", json!({"profile_id": profile.id}))
            .await;
        core.create_record(
            &admin,
            "contact",
            json!({"name": "周杰", "salary": "SECRET-90000", "owner_id": rep.user_id.0}),
        )
        .await
        .unwrap();
        core.delete_field(&admin, "contact", "salary", false)
            .await
            .unwrap();
        let rep = app.actor_of(&rep.user_id.0.to_string()).await;
        let events = core
            .changes(&rep, 0, 100, Some("contact".into()))
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert!(
            events[0].changes.get("salary").is_none(),
            "{}",
            events[0].changes
        );
        assert_eq!(events[0].changes["name"], "周杰");
    }

    #[tokio::test]
    async fn transfer_needs_the_owner_field_editable() {
        let app = TestApp::spawn().await;
        let core = &app.core;
        let admin = app.admin().await;
        let profile = core
            .create_permission_set(
                &admin,
                serde_json::from_value(
                    json!({"name": "fixed owners", "is_profile": true, "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                    "fields": {"lead": {"owner_id": "read"}}}}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let rep = app
            .user("rep@example.com", json!({"profile_id": profile.id}))
            .await;
        let other = app.user("other@example.com", json!({})).await;
        let lead = core
            .create_record(&rep, "lead", json!({"name": "钱多多"}))
            .await
            .unwrap();
        let err = core
            .transfer_ownership(
                &rep,
                "lead",
                TransferInput {
                    ids: vec![lead.id().unwrap()],
                    from_owner: None,
                    to_owner: other.user_id.0,
                    include_related: false,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation_failed", "{err:?}");
    }

    #[tokio::test]
    async fn new_credentials_set_by_an_administrator_end_the_users_sessions() {
        let app = TestApp::spawn().await;
        let password = "the first long password";
        let user = app
            .user("victim@example.com", json!({"password": password}))
            .await;
        let login = app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": "victim@example.com", "password": password}),
            )
            .await;
        login.assert_status(200);
        let cookie = login
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let me = |c: String| {
            let client = app.anonymous();
            async move {
                client
                    .send(
                        reqwest::Method::GET,
                        "/api/v1/me",
                        None,
                        &[("cookie", c.as_str())],
                    )
                    .await
            }
        };
        me(cookie.clone()).await.assert_status(200);
        app.patch(
            &format!("/api/v1/admin/users/{}", user.user_id.0),
            &json!({"password": "a recovered long password"}),
        )
        .await
        .assert_status(200);
        me(cookie).await.assert_status(401);
    }

    #[tokio::test]
    async fn a_login_sent_as_a_plain_text_form_is_refused() {
        let app = TestApp::spawn().await;
        app.user(
            "li.ming@example.com",
            json!({"password": "a long form password"}),
        )
        .await;
        let r = app
            .anonymous()
            .send_raw(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                "text/plain",
                json!({"email": "li.ming@example.com", "password": "a long form password"})
                    .to_string()
                    .into_bytes(),
            )
            .await;
        r.assert_problem(415, "unsupported_media_type");
        assert!(r.header("set-cookie").is_none());
    }
}
