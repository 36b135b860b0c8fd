//! Identity and access over HTTP: bad input to the admin API, API tokens (shown once,
//! revocation, expiry, scopes), password logins with session cookies and CSRF, lockout and
//! the per-address throttle, per-credential rate limits, the audit log, secrets that never
//! come back, and who may administer at all.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{assert_field_problem, assert_no_leak, count};
use relata_core::Settings;
use relata_domain::ManualClock;
use relata_testkit::{Client, Resp, SpawnOptions, TestApp};
use reqwest::Method;
use serde_json::{Value as Json, json};

/// A password the strength rules accept.
const PASSWORD: &str = "Plum-Orchard-42-Kite";
/// Another strong password, wrong for every user here.
const WRONG_PASSWORD: &str = "Granite-Lantern-77-Fox";
/// A strong password set later.
const NEW_PASSWORD: &str = "Velvet-Harbour-19-Moth";

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-04-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn spawn_with_clock(settings: Settings) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        settings: Some(settings),
        ..Default::default()
    })
    .await;
    (app, clock)
}

async fn spawn_with_settings(settings: Settings) -> TestApp {
    TestApp::spawn_with(SpawnOptions {
        settings: Some(settings),
        ..Default::default()
    })
    .await
}

/// The bootstrap administrator's id, as `/api/v1/me` tells it.
async fn admin_id(app: &TestApp) -> String {
    let r = app.get("/api/v1/me").await;
    r.assert_status(200);
    r.body["id"].as_str().expect("id").to_owned()
}

/// Creates a user through the admin API and returns their id.
async fn create_user(app: &TestApp, body: &Json) -> String {
    let r = app.post("/api/v1/admin/users", body).await;
    r.assert_status(201);
    r.body["id"].as_str().expect("user id").to_owned()
}

async fn create_user_with_password(app: &TestApp, email: &str) -> String {
    create_user(
        app,
        &json!({"name": "Li Na", "email": email, "password": PASSWORD}),
    )
    .await
}

async fn create_role(app: &TestApp, name: &str, parent: Option<&str>) -> String {
    let r = app
        .post(
            "/api/v1/admin/roles",
            &json!({"name": name, "parent_id": parent}),
        )
        .await;
    r.assert_status(201);
    r.body["id"].as_str().expect("role id").to_owned()
}

async fn list(app: &TestApp, path: &str) -> Json {
    let r = app.get(path).await;
    r.assert_status(200);
    r.body["data"].clone()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Resp {
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
}

/// A signed-in browser: the session cookie and the CSRF token.
struct Session {
    client: Client,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn open(app: &TestApp, email: &str, password: &str) -> Session {
        let r = login(app, email, password).await;
        r.assert_status(200);
        let set_cookie = r.header("set-cookie").expect("a Set-Cookie header");
        let pair = set_cookie.split(';').next().unwrap().trim();
        let value = pair
            .strip_prefix("relata_session=")
            .unwrap_or_else(|| panic!("not the session cookie: {set_cookie}"));
        assert!(!value.is_empty(), "{set_cookie}");
        Session {
            client: app.anonymous(),
            cookie: pair.to_owned(),
            csrf: r.body["csrf_token"]
                .as_str()
                .expect("csrf_token")
                .to_owned(),
        }
    }

    /// A request with the cookie, and the CSRF header when `csrf` is given.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        csrf: Option<&str>,
    ) -> Resp {
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if let Some(t) = csrf {
            headers.push(("x-csrf-token", t));
        }
        self.client.send(method, path, body, &headers).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, None).await
    }

    /// A write with the right CSRF token.
    async fn write(&self, method: Method, path: &str, body: Option<&Json>) -> Resp {
        self.send(method, path, body, Some(&self.csrf.clone()))
            .await
    }
}

#[track_caller]
fn assert_retry_after(r: &Resp, max_secs: u64) -> u64 {
    let secs: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}: {}", r.status, r.text))
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=max_secs).contains(&secs),
        "Retry-After {secs} not in 1..={max_secs}"
    );
    secs
}

// ---------------------------------------------------------------------------------------------
// 1. Bad input to the admin API: a problem that names what is wrong, and nothing changed.

#[tokio::test]
async fn user_create_refuses_weak_passwords_duplicates_and_unknown_fields() {
    let app = TestApp::spawn().await;
    create_user(
        &app,
        &json!({"name": "Wang Fang", "email": "wang.fang@example.com"}),
    )
    .await;
    let before = list(&app, "/api/v1/admin/users").await;

    // weak passwords, each for its own reason
    for weak in [
        "short",
        "aaaaaaaaaaaaaaaa",
        "password123",
        "zhao.lei-secret-2026",
    ] {
        let r = app
            .post(
                "/api/v1/admin/users",
                &json!({"name": "Zhao Lei", "email": "zhao.lei@example.com", "password": weak}),
            )
            .await;
        assert_field_problem(&r, 422, "password", "weak_password");
        assert!(
            !r.text.contains(weak),
            "the problem quotes the password: {}",
            r.text
        );
    }

    // a taken email, also in another case
    for email in ["wang.fang@example.com", "Wang.Fang@Example.COM"] {
        let r = app
            .post(
                "/api/v1/admin/users",
                &json!({"name": "Another Wang", "email": email}),
            )
            .await;
        assert_field_problem(&r, 422, "email", "duplicate");
    }

    // an unknown field
    let r = app
        .post(
            "/api/v1/admin/users",
            &json!({"name": "Sun Li", "email": "sun.li@example.com", "salary": 100}),
        )
        .await;
    assert_field_problem(&r, 422, "salary", "unknown_field");
    // … also on update
    let me = admin_id(&app).await;
    let r = app
        .patch(
            &format!("/api/v1/admin/users/{me}"),
            &json!({"password_hash": "x"}),
        )
        .await;
    assert_field_problem(&r, 422, "password_hash", "unknown_field");

    assert_eq!(list(&app, "/api/v1/admin/users").await, before);
}

#[tokio::test]
async fn a_role_cycle_is_refused() {
    let app = TestApp::spawn().await;
    let director = create_role(&app, "销售总监", None).await;
    let manager = create_role(&app, "区域经理", Some(&director)).await;
    let rep = create_role(&app, "销售代表", Some(&manager)).await;
    let before = list(&app, "/api/v1/admin/roles").await;

    // under its own grandchild, its child, itself
    for parent in [&rep, &manager, &director] {
        let r = app
            .send(
                Method::PUT,
                &format!("/api/v1/admin/roles/{director}"),
                Some(&json!({"name": "销售总监", "parent_id": parent})),
                &[],
            )
            .await;
        assert_field_problem(&r, 422, "parent_id", "role_cycle");
    }
    assert_eq!(list(&app, "/api/v1/admin/roles").await, before);

    // a move that makes no cycle is fine
    let r = app
        .send(
            Method::PUT,
            &format!("/api/v1/admin/roles/{rep}"),
            Some(&json!({"name": "销售代表", "parent_id": director})),
            &[],
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["parent_id"], json!(director));
}

#[tokio::test]
async fn a_sharing_rule_on_an_unknown_field_is_refused() {
    let app = TestApp::spawn().await;
    let role = create_role(&app, "华东区", None).await;
    let rule = |filter: Json| {
        json!({
            "object": "contact",
            "name": "East China",
            "filter": filter,
            "principal": {"kind": "role", "id": role},
            "access": "read",
        })
    };
    let r = app
        .post(
            "/api/v1/admin/sharing_rules",
            &rule(json!({"field": "no_such_field", "op": "eq", "value": "x"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.error_code("filter.no_such_field").as_deref(),
        Some("unknown_field"),
        "{}",
        r.text
    );
    assert_no_leak(&r);
    // nested in an `and`
    let r = app
        .post(
            "/api/v1/admin/sharing_rules",
            &rule(json!({"and": [
                {"field": "name", "op": "eq", "value": "x"},
                {"field": "province_code", "op": "eq", "value": "31"}
            ]})),
        )
        .await;
    assert_field_problem(&r, 422, "filter.province_code", "unknown_field");
    assert_eq!(list(&app, "/api/v1/admin/sharing_rules").await, json!([]));

    // the same rule on a real field is accepted
    let r = app
        .post(
            "/api/v1/admin/sharing_rules",
            &rule(json!({"field": "name", "op": "eq", "value": "x"})),
        )
        .await;
    r.assert_status(201);
    assert_eq!(
        list(&app, "/api/v1/admin/sharing_rules")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_role_that_users_hold_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let role = create_role(&app, "销售代表", None).await;
    let user = create_user(
        &app,
        &json!({"name": "Chen Jie", "email": "chen.jie@example.com", "role_id": role}),
    )
    .await;
    let roles = list(&app, "/api/v1/admin/roles").await;
    let users = list(&app, "/api/v1/admin/users").await;

    let r = app.delete(&format!("/api/v1/admin/roles/{role}")).await;
    r.assert_problem(409, "role_in_use");
    assert_no_leak(&r);
    assert_eq!(list(&app, "/api/v1/admin/roles").await, roles);
    assert_eq!(list(&app, "/api/v1/admin/users").await, users);

    // once nobody holds it, it goes
    app.patch(
        &format!("/api/v1/admin/users/{user}"),
        &json!({"role_id": null}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/api/v1/admin/roles/{role}"))
        .await
        .assert_status(204);
    assert_eq!(list(&app, "/api/v1/admin/roles").await, json!([]));
}

#[tokio::test]
async fn the_last_admin_cannot_demote_or_deactivate_themselves() {
    let app = TestApp::spawn().await;
    let me = admin_id(&app).await;
    let before = list(&app, "/api/v1/admin/users").await;
    for change in [json!({"is_admin": false}), json!({"active": false})] {
        let r = app
            .patch(&format!("/api/v1/admin/users/{me}"), &change)
            .await;
        r.assert_problem(409, "last_admin");
        assert_no_leak(&r);
    }
    assert_eq!(list(&app, "/api/v1/admin/users").await, before);
    // the token still administers
    app.get("/api/v1/admin/users").await.assert_status(200);

    // with a second administrator, stepping down is allowed
    create_user(
        &app,
        &json!({"name": "Second Admin", "email": "second@example.com", "is_admin": true}),
    )
    .await;
    let r = app
        .patch(
            &format!("/api/v1/admin/users/{me}"),
            &json!({"is_admin": false}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["is_admin"], false);
}

// ---------------------------------------------------------------------------------------------
// 2. API tokens.

#[tokio::test]
async fn a_token_secret_is_shown_once_and_revocation_is_immediate() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/v1/me/tokens", &json!({"name": "crm-sync"}))
        .await;
    r.assert_status(201);
    let secret = r.body["token"].as_str().expect("token").to_owned();
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("rlt_"), "{secret}");
    assert_eq!(r.body["name"], "crm-sync");

    let listed = app.get("/api/v1/me/tokens").await;
    listed.assert_status(200);
    assert!(!listed.text.contains(&secret), "{}", listed.text);
    assert!(!listed.text.contains(&app.token), "{}", listed.text);
    let mine = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(id))
        .expect("the new token is listed")
        .clone();
    assert!(mine.get("token").is_none(), "{mine}");
    assert_eq!(mine["name"], "crm-sync");

    let token_client = Client::new(&app.base, Some(secret.clone()));
    token_client
        .get("/api/v1/records/contact")
        .await
        .assert_status(200);
    // used again within the cache's lifetime, then revoked: refused at once
    token_client.get("/api/v1/me").await.assert_status(200);
    app.delete(&format!("/api/v1/me/tokens/{id}"))
        .await
        .assert_status(204);
    let r = token_client.get("/api/v1/records/contact").await;
    r.assert_problem(401, "unauthenticated");
    let listed = app.get("/api/v1/me/tokens").await;
    assert!(
        !listed.text.contains(&id),
        "a revoked token is still listed: {}",
        listed.text
    );
    // revoking twice: not found
    app.delete(&format!("/api/v1/me/tokens/{id}"))
        .await
        .assert_problem(404, "not_found");
    // the admin's own token is untouched
    app.get("/api/v1/records/contact").await.assert_status(200);
}

/// A token used shortly before it expires: the middleware's cache of verified tokens
/// (`relata-api/src/state.rs`, `TokenCache`) must not outlive the token.
#[tokio::test]
async fn an_expired_token_is_refused_even_right_after_use() {
    let (app, clock) = spawn_with_clock(Settings::default()).await;
    let r = app
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "one day", "expires_in_days": 1}),
        )
        .await;
    r.assert_status(201);
    let expiring = Client::new(
        &app.base,
        Some(r.body["token"].as_str().unwrap().to_owned()),
    );
    let r = app
        .post("/api/v1/me/tokens", &json!({"name": "forever"}))
        .await;
    r.assert_status(201);
    let lasting = Client::new(
        &app.base,
        Some(r.body["token"].as_str().unwrap().to_owned()),
    );

    clock.advance(Duration::hours(2));
    expiring.get("/api/v1/me").await.assert_status(200);

    clock.advance(Duration::days(2));
    let r = expiring.get("/api/v1/me").await;
    r.assert_problem(401, "unauthenticated");
    lasting.get("/api/v1/me").await.assert_status(200);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, clock) = spawn_with_clock(Settings::default()).await;
    let r = app
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "one day", "expires_in_days": 1}),
        )
        .await;
    r.assert_status(201);
    let expiring = Client::new(
        &app.base,
        Some(r.body["token"].as_str().unwrap().to_owned()),
    );
    clock.advance(Duration::days(2));
    expiring
        .get("/api/v1/records/contact")
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_scoped_token_does_only_what_its_scopes_allow() {
    let app = TestApp::spawn().await;
    let contact = app.create("contact", &json!({"name": "张伟"})).await;
    app.create("account", &json!({"name": "Acme"})).await;
    // even an administrator's token is narrowed by its scopes
    let r = app
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "reader", "scopes": [{"object": "contact", "access": "read"}]}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(
        r.body["scopes"],
        json!([{"object": "contact", "access": "read"}])
    );
    let reader = Client::new(
        &app.base,
        Some(r.body["token"].as_str().unwrap().to_owned()),
    );

    let r = reader.get("/api/v1/records/contact").await;
    r.assert_status(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    reader
        .get(&format!(
            "/api/v1/records/contact/{}",
            contact["id"].as_str().unwrap()
        ))
        .await
        .assert_status(200);

    let r = reader
        .post("/api/v1/records/contact", &json!({"name": "李娜"}))
        .await;
    r.assert_problem(403, "forbidden");
    let r = reader
        .patch(
            &format!(
                "/api/v1/records/contact/{}",
                contact["id"].as_str().unwrap()
            ),
            &json!({"name": "改名"}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    reader
        .get("/api/v1/records/account")
        .await
        .assert_problem(403, "forbidden");
    for (method, path, body) in [
        (Method::GET, "/api/v1/admin/users", None),
        (Method::GET, "/api/v1/admin/audit", None),
        (
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "Sneaky"})),
        ),
        (
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"name": "Sneaky", "email": "sneaky@example.com", "is_admin": true})),
        ),
        (
            Method::POST,
            "/api/v1/meta/objects",
            Some(json!({"api_name": "sneaky", "label": "S", "plural_label": "Ss"})),
        ),
    ] {
        let r = reader.send(method.clone(), path, body.as_ref(), &[]).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        r.assert_problem(403, "forbidden");
    }
    // nor can it mint itself a wider token
    let r = reader
        .post("/api/v1/me/tokens", &json!({"name": "wider"}))
        .await;
    r.assert_problem(403, "forbidden");
    let r = reader
        .post(
            "/api/v1/me/tokens",
            &json!({"name": "wider", "scopes": [{"object": "*", "access": "write"}]}),
        )
        .await;
    r.assert_problem(403, "forbidden");

    // nothing was written
    assert_eq!(count(&app, "contact").await, 1);
    assert_eq!(list(&app, "/api/v1/admin/roles").await, json!([]));
    assert_eq!(
        list(&app, "/api/v1/admin/users")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let names: Vec<String> = list(&app, "/api/v1/me/tokens")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&"wider".to_owned()), "{names:?}");
    let c = app
        .get(&format!(
            "/api/v1/records/contact/{}",
            contact["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c.body["name"], "张伟");
}

// ---------------------------------------------------------------------------------------------
// 3. Password logins and sessions.

#[tokio::test]
async fn a_login_opens_a_cookie_session_whose_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let user = create_user_with_password(&app, "li.na@example.com").await;

    let r = login(&app, "li.na@example.com", PASSWORD).await;
    r.assert_status(200);
    let set_cookie = r.header("set-cookie").expect("Set-Cookie");
    assert!(set_cookie.starts_with("relata_session="), "{set_cookie}");
    assert!(set_cookie.contains("; HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("; SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("; Path=/"), "{set_cookie}");
    assert_eq!(r.body["user_id"], json!(user));
    assert!(
        r.body["csrf_token"].as_str().is_some_and(|t| t.len() >= 32),
        "{}",
        r.text
    );
    assert!(!r.text.contains(PASSWORD));
    // the email is case-insensitive
    login(&app, "Li.Na@Example.com", PASSWORD)
        .await
        .assert_status(200);

    let session = Session::open(&app, "li.na@example.com", PASSWORD).await;
    let me = session.get("/api/v1/me").await;
    me.assert_status(200);
    assert_eq!(me.body["id"], json!(user));
    assert_eq!(me.body["email"], "li.na@example.com");

    // a write with the cookie but without (or with a wrong) CSRF token
    let before = count(&app, "contact").await;
    let body = json!({"name": "张伟"});
    let r = session
        .send(Method::POST, "/api/v1/records/contact", Some(&body), None)
        .await;
    r.assert_problem(403, "csrf_failed");
    let r = session
        .send(
            Method::POST,
            "/api/v1/records/contact",
            Some(&body),
            Some("not-the-token"),
        )
        .await;
    r.assert_problem(403, "csrf_failed");
    assert_eq!(count(&app, "contact").await, before);

    // with it
    let r = session
        .write(Method::POST, "/api/v1/records/contact", Some(&body))
        .await;
    r.assert_status(201);
    assert_eq!(r.body["owner_id"], json!(user));
    assert_eq!(count(&app, "contact").await, before + 1);

    // logout needs the token too, then the cookie is dead
    session
        .send(Method::POST, "/api/v1/auth/logout", None, None)
        .await
        .assert_problem(403, "csrf_failed");
    let r = session
        .write(Method::POST, "/api/v1/auth/logout", None)
        .await;
    r.assert_status(204);
    let cleared = r.header("set-cookie").expect("a clearing Set-Cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    session
        .get("/api/v1/me")
        .await
        .assert_problem(401, "unauthenticated");
    session
        .write(Method::POST, "/api/v1/records/contact", Some(&body))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(count(&app, "contact").await, before + 1);
}

#[tokio::test]
async fn an_idle_session_expires() {
    let settings = Settings {
        session_idle_minutes: 30,
        ..Settings::default()
    };
    let (app, clock) = spawn_with_clock(settings).await;
    create_user_with_password(&app, "idle@example.com").await;
    let session = Session::open(&app, "idle@example.com", PASSWORD).await;
    session.get("/api/v1/me").await.assert_status(200);

    // activity keeps it alive
    clock.advance(Duration::minutes(25));
    session.get("/api/v1/me").await.assert_status(200);
    clock.advance(Duration::minutes(25));
    session.get("/api/v1/me").await.assert_status(200);

    // half an hour without a request ends it
    clock.advance(Duration::minutes(31));
    session
        .get("/api/v1/me")
        .await
        .assert_problem(401, "unauthenticated");
    // and it stays ended
    session
        .get("/api/v1/me")
        .await
        .assert_problem(401, "unauthenticated");
    // a new login works
    Session::open(&app, "idle@example.com", PASSWORD)
        .await
        .get("/api/v1/me")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_lock_the_account_until_unlocked() {
    let settings = Settings {
        login_lockout_failures: 3,
        ..Settings::default()
    };
    let app = spawn_with_settings(settings).await;
    let user = create_user_with_password(&app, "lock@example.com").await;

    // wrong password, unknown email: the same refusal
    let unknown = login(&app, "nobody@example.com", PASSWORD).await;
    unknown.assert_problem(403, "forbidden");
    for _ in 0..3 {
        let r = login(&app, "lock@example.com", WRONG_PASSWORD).await;
        r.assert_problem(403, "forbidden");
        assert_eq!(r.body["detail"], unknown.body["detail"]);
        assert!(r.header("set-cookie").is_none());
    }
    // locked: even the right password is refused
    let r = login(&app, "lock@example.com", PASSWORD).await;
    r.assert_problem(403, "forbidden");
    assert!(r.header("set-cookie").is_none());
    let u = app.get(&format!("/api/v1/admin/users/{user}")).await;
    assert_eq!(u.body["locked"], true, "{}", u.text);

    let r = app
        .post(&format!("/api/v1/admin/users/{user}/unlock"), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["locked"], false);
    login(&app, "lock@example.com", PASSWORD)
        .await
        .assert_status(200);

    // the count starts again after unlocking and after a success
    for _ in 0..2 {
        login(&app, "lock@example.com", WRONG_PASSWORD)
            .await
            .assert_status(403);
    }
    login(&app, "lock@example.com", PASSWORD)
        .await
        .assert_status(200);
    for _ in 0..2 {
        login(&app, "lock@example.com", WRONG_PASSWORD)
            .await
            .assert_status(403);
    }
    login(&app, "lock@example.com", PASSWORD)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_lockout_also_ends_open_sessions() {
    let settings = Settings {
        login_lockout_failures: 2,
        ..Settings::default()
    };
    let app = spawn_with_settings(settings).await;
    create_user_with_password(&app, "open@example.com").await;
    let session = Session::open(&app, "open@example.com", PASSWORD).await;
    session.get("/api/v1/me").await.assert_status(200);
    for _ in 0..2 {
        login(&app, "open@example.com", WRONG_PASSWORD)
            .await
            .assert_status(403);
    }
    session
        .get("/api/v1/me")
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn concurrent_wrong_passwords_still_lock_the_account() {
    let settings = Settings {
        login_lockout_failures: 3,
        ..Settings::default()
    };
    let app = spawn_with_settings(settings).await;
    let user = create_user_with_password(&app, "burst@example.com").await;
    // eight browsers guess at once
    let anonymous = app.anonymous();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let client = anonymous.clone();
            tokio::spawn(async move {
                client
                    .post(
                        "/api/v1/auth/login",
                        &json!({"email": "burst@example.com", "password": WRONG_PASSWORD}),
                    )
                    .await
            })
        })
        .collect();
    for a in attempts {
        a.await
            .expect("login task")
            .assert_problem(403, "forbidden");
    }
    let u = app.get(&format!("/api/v1/admin/users/{user}")).await;
    assert_eq!(
        u.body["locked"], true,
        "8 concurrent wrong passwords did not lock an account that locks after 3: {}",
        u.text
    );
    login(&app, "burst@example.com", PASSWORD)
        .await
        .assert_problem(403, "forbidden");
    // every attempt is in the log, the lockout once
    let failed = list(&app, "/api/v1/admin/audit?action=auth.login_failed").await;
    assert_eq!(failed.as_array().unwrap().len(), 9, "{failed}");
    let lockouts = list(&app, "/api/v1/admin/audit?action=auth.lockout").await;
    assert_eq!(lockouts.as_array().unwrap().len(), 1, "{lockouts}");
}

#[tokio::test]
async fn an_address_with_many_failed_logins_must_wait() {
    let settings = Settings {
        login_address_failures: 3,
        ..Settings::default()
    };
    let (app, clock) = spawn_with_clock(settings).await;
    create_user_with_password(&app, "addr@example.com").await;
    for _ in 0..3 {
        login(&app, "addr@example.com", WRONG_PASSWORD)
            .await
            .assert_problem(403, "forbidden");
    }
    for password in [WRONG_PASSWORD, PASSWORD] {
        let r = login(&app, "addr@example.com", password).await;
        r.assert_problem(429, "too_many_logins");
        assert_retry_after(&r, 15 * 60);
        assert!(r.header("set-cookie").is_none());
    }
    // the account itself is not locked: after the window the right password works
    clock.advance(Duration::minutes(16));
    login(&app, "addr@example.com", PASSWORD)
        .await
        .assert_status(200);
}

// ---------------------------------------------------------------------------------------------
// 4. Rate limits per credential.

#[tokio::test]
async fn the_rate_limit_counts_per_token() {
    let settings = Settings {
        api_rate_limit_per_minute: 5,
        ..Settings::default()
    };
    let app = spawn_with_settings(settings).await;
    let admin = app.admin().await;
    let other = app.client_for(&admin).await;

    for i in 0..5 {
        let r = app.get("/api/v1/records/contact").await;
        assert_eq!(r.status, 200, "request {}: {}", i + 1, r.text);
    }
    let r = app.get("/api/v1/records/contact").await;
    r.assert_problem(429, "rate_limited");
    assert_retry_after(&r, 60);
    assert_no_leak(&r);
    // writes too, and nothing is written
    let r = app
        .post("/api/v1/records/contact", &json!({"name": "张伟"}))
        .await;
    r.assert_problem(429, "rate_limited");

    // another token of the same user has its own budget
    let r = other.get("/api/v1/records/contact?count=true").await;
    r.assert_status(200);
    assert_eq!(r.body["total"], 0);
    for _ in 0..4 {
        other.get("/api/v1/me").await.assert_status(200);
    }
    other
        .get("/api/v1/me")
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn the_rate_limit_applies_to_sessions() {
    let settings = Settings {
        api_rate_limit_per_minute: 3,
        ..Settings::default()
    };
    let app = spawn_with_settings(settings).await;
    create_user_with_password(&app, "rate@example.com").await;
    let session = Session::open(&app, "rate@example.com", PASSWORD).await;
    for _ in 0..3 {
        session.get("/api/v1/me").await.assert_status(200);
    }
    let r = session.get("/api/v1/me").await;
    r.assert_problem(429, "rate_limited");
    assert_retry_after(&r, 60);
    // a second session of the same user is a separate credential
    let second = Session::open(&app, "rate@example.com", PASSWORD).await;
    second.get("/api/v1/me").await.assert_status(200);
}

// ---------------------------------------------------------------------------------------------
// 5. The audit log.

#[tokio::test]
async fn the_audit_log_records_user_changes_and_failed_logins_without_passwords() {
    let app = TestApp::spawn().await;
    let admin = admin_id(&app).await;
    let user = create_user_with_password(&app, "audit@example.com").await;
    app.patch(
        &format!("/api/v1/admin/users/{user}"),
        &json!({"department": "华东销售部"}),
    )
    .await
    .assert_status(200);
    login(&app, "audit@example.com", WRONG_PASSWORD)
        .await
        .assert_status(403);
    login(&app, "nobody@example.com", WRONG_PASSWORD)
        .await
        .assert_status(403);
    login(&app, "audit@example.com", PASSWORD)
        .await
        .assert_status(200);

    // a prefix lists every user action, oldest first, and nothing else
    let r = app.get("/api/v1/admin/audit?action=user.").await;
    r.assert_status(200);
    let entries = r.body["data"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.create", "user.update"], "{}", r.text);
    let created = &entries[0];
    assert_eq!(created["actor"], json!(admin));
    assert_eq!(created["object"], "user");
    assert_eq!(created["record_id"], json!(user));
    assert_eq!(created["source"], "api");
    assert!(created["client_addr"].as_str().is_some(), "{created}");
    assert!(entries[0]["seq"].as_i64() < entries[1]["seq"].as_i64());

    // failed logins, with the email and the reason
    let r = app
        .get("/api/v1/admin/audit?action=auth.login_failed")
        .await;
    r.assert_status(200);
    let failed = r.body["data"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 2, "{}", r.text);
    assert_eq!(failed[0]["detail"]["email"], "audit@example.com");
    assert_eq!(failed[0]["detail"]["reason"], "wrong_password");
    assert_eq!(failed[0]["actor"], json!(user));
    assert_eq!(failed[1]["detail"]["email"], "nobody@example.com");
    assert_eq!(failed[1]["detail"]["reason"], "unknown_email");
    let ok = app.get("/api/v1/admin/audit?action=auth.login").await;
    assert_eq!(ok.body["data"].as_array().unwrap().len(), 1, "{}", ok.text);

    // no password and no hash anywhere in the log
    let all = app.get("/api/v1/admin/audit?limit=1000").await;
    all.assert_status(200);
    assert!(all.body["data"].as_array().unwrap().len() >= 5);
    for secret in [PASSWORD, WRONG_PASSWORD, "$argon2", &app.token] {
        assert!(
            !all.text.contains(secret),
            "the audit log contains {secret:?}: {}",
            all.text
        );
    }

    // paging with `after`
    let first = created["seq"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/v1/admin/audit?action=user.&after={first}"))
        .await;
    let rest: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["user.update"]);

    // a user without view_audit may not read it
    let rep = app.user("rep@example.com", json!({})).await;
    let rep = app.client_for(&rep).await;
    rep.get("/api/v1/admin/audit")
        .await
        .assert_problem(403, "forbidden");
    rep.get("/api/v1/admin/audit?action=auth.login_failed")
        .await
        .assert_problem(403, "forbidden");
}

// ---------------------------------------------------------------------------------------------
// 6. Secrets never come back.

#[tokio::test]
async fn passwords_and_token_secrets_never_appear_in_responses() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/admin/users",
            &json!({"name": "Secret Keeper", "email": "keeper@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_status(201);
    let user = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["has_password"], true);
    let mut bodies = vec![r];
    let token = app
        .post("/api/v1/me/tokens", &json!({"name": "secret"}))
        .await;
    token.assert_status(201);
    let secret = token.body["token"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/api/v1/admin/users/{user}"),
            &json!({"password": NEW_PASSWORD}),
        )
        .await;
    r.assert_status(200);
    bodies.push(r);
    login(&app, "keeper@example.com", PASSWORD)
        .await
        .assert_problem(403, "forbidden");
    let session = Session::open(&app, "keeper@example.com", NEW_PASSWORD).await;

    for path in [
        "/api/v1/admin/users".to_owned(),
        format!("/api/v1/admin/users/{user}"),
        "/api/v1/me/tokens".to_owned(),
        "/api/v1/admin/audit?limit=1000".to_owned(),
        "/api/v1/me".to_owned(),
    ] {
        let r = app.get(&path).await;
        r.assert_status(200);
        bodies.push(r);
    }
    for path in ["/api/v1/me", "/api/v1/me/sessions"] {
        let r = session.get(path).await;
        r.assert_status(200);
        bodies.push(r);
    }
    for r in &bodies {
        for needle in [PASSWORD, NEW_PASSWORD, "$argon2", &secret, &app.token] {
            assert!(
                !r.text.contains(needle),
                "a response contains {needle:?}: {}",
                r.text
            );
        }
        assert!(
            !r.text.contains("password_hash") && !r.text.contains("token_hash"),
            "{}",
            r.text
        );
    }
    // the session secret is only in the Set-Cookie of the login
    let cookie_value = session.cookie.trim_start_matches("relata_session=");
    for r in &bodies {
        assert!(!r.text.contains(cookie_value), "{}", r.text);
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Who may administer.

#[tokio::test]
async fn a_standard_user_cannot_administer() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({})).await;
    let rep_id = rep.user_id.0.to_string();
    let rep = app.client_for(&rep).await;
    let users = list(&app, "/api/v1/admin/users").await;
    let objects = app.get("/api/v1/meta/objects").await.body;

    for (method, path, body) in [
        (Method::GET, "/api/v1/admin/users".to_owned(), None),
        (
            Method::POST,
            "/api/v1/admin/users".to_owned(),
            Some(json!({"name": "Sneaky", "email": "sneaky@example.com"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/users/{rep_id}"),
            Some(json!({"is_admin": true})),
        ),
        (Method::GET, "/api/v1/admin/roles".to_owned(), None),
        (
            Method::POST,
            "/api/v1/admin/roles".to_owned(),
            Some(json!({"name": "Sneaky"})),
        ),
        (
            Method::POST,
            "/api/v1/meta/objects".to_owned(),
            Some(json!({"api_name": "sneaky", "label": "S", "plural_label": "Ss"})),
        ),
    ] {
        let r = rep.send(method.clone(), &path, body.as_ref(), &[]).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        r.assert_problem(403, "forbidden");
        assert_no_leak(&r);
    }
    // but may read themselves
    let me = rep.get("/api/v1/me").await;
    me.assert_status(200);
    assert_eq!(me.body["is_admin"], false);
    assert_eq!(me.body["capabilities"], json!([]));

    assert_eq!(list(&app, "/api/v1/admin/users").await, users);
    assert_eq!(list(&app, "/api/v1/admin/roles").await, json!([]));
    assert_eq!(app.get("/api/v1/meta/objects").await.body, objects);
}

/// Every state-changing operation of the API, walked from the OpenAPI document, refuses a
/// cookie-authenticated request without the CSRF token — before it changes anything.
#[tokio::test]
async fn every_cookie_write_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = admin_id(&app).await;
    app.patch(
        &format!("/api/v1/admin/users/{admin}"),
        &json!({"password": PASSWORD}),
    )
    .await
    .assert_status(200);
    let email = app.get(&format!("/api/v1/admin/users/{admin}")).await.body["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = Session::open(&app, &email, PASSWORD).await;
    let doc = app.get("/api/v1/openapi.json").await.body;
    let mut checked = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{object}", "account")
            .replace("{field}", "name")
            .replace("{id}", &admin)
            .replace("{user}", &admin)
            .replace("{set}", &admin)
            .replace("{share}", &admin);
        for (method, op) in ops.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let public = op["security"] == json!([{}]);
            if !path.starts_with("/api/") || public || matches!(m, Method::GET | Method::HEAD) {
                continue;
            }
            let r = session.send(m.clone(), &path, Some(&json!({})), None).await;
            r.assert_problem(403, "csrf_failed");
            let wrong = session
                .send(m.clone(), &path, Some(&json!({})), Some("not-the-token"))
                .await;
            wrong.assert_problem(403, "csrf_failed");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} write operations found");
    // the session itself still works for reads
    session.get("/api/v1/me").await.assert_status(200);
}
