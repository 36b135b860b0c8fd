//! Activities (issue 9): calls logged with their outcome, meetings with their attendees,
//! recurring tasks; each on the timeline of what it is about; contact made (a call that
//! reached someone, a meeting held) restarts the pool's clock of the customer — also when
//! it was about one of the customer's contacts — and an attempt does not.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

use crate::common::{self, assert_field_problem, id_of};

/// A user with no part in the meeting.
async fn contact_owner_free(app: &TestApp) -> String {
    app.user("other.meeting@example.com", json!({}))
        .await
        .user_id
        .0
        .to_string()
}

async fn last_activity(app: &TestApp, account: &str) -> Json {
    let r = app.get(&format!("/api/v1/records/account/{account}")).await;
    r.assert_status(200);
    r.body["last_activity_at"].clone()
}

#[tokio::test]
async fn contact_made_restarts_the_customers_clock_and_an_attempt_does_not() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, clock, _runner) = common::app_on_clock(start, 1).await;
    let account = id_of(&app.create("account", &json!({"name": "招商银行"})).await);
    let contact = id_of(
        &app.create("contact", &json!({"name": "李娜", "account_id": account}))
            .await,
    );
    assert!(last_activity(&app, &account).await.is_null());

    clock.advance(Duration::days(1));
    // rang out: an attempt, not a follow-up
    let r = app
        .post(
            "/api/v1/records/call",
            &json!({"subject": "回访", "contact_id": contact, "outcome": "no_answer",
                    "duration_minutes": 0}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["direction"], "outbound", "the default direction");
    assert_eq!(
        r.body["call_at"], "2026-12-02T02:00:00.000000Z",
        "logged now"
    );
    assert!(last_activity(&app, &account).await.is_null());
    // reached, about the account's contact: the account was followed up
    clock.advance(Duration::hours(2));
    let call = app
        .post(
            "/api/v1/records/call",
            &json!({"subject": "回访", "contact_id": contact, "outcome": "connected",
                    "duration_minutes": 12, "direction": "inbound"}),
        )
        .await;
    call.assert_status(201);
    assert_eq!(
        last_activity(&app, &account).await,
        "2026-12-02T04:00:00.000000Z"
    );
    let r = app
        .post(
            "/api/v1/records/call",
            &json!({"subject": "x", "duration_minutes": -5}),
        )
        .await;
    assert_field_problem(&r, 422, "duration_minutes", "too_small");

    // a meeting planned is a promise; held, it is contact made
    clock.advance(Duration::days(1));
    let meeting_at = Utc.with_ymd_and_hms(2026, 12, 8, 6, 0, 0).unwrap();
    let r = app
        .post(
            "/api/v1/records/meeting",
            &json!({"subject": "方案汇报", "account_id": account,
                    "start_at": meeting_at, "end_at": meeting_at - Duration::hours(1)}),
        )
        .await;
    assert_field_problem(&r, 422, "end_at", "too_small");
    let meeting = app
        .post(
            "/api/v1/records/meeting",
            &json!({"subject": "方案汇报", "account_id": account, "location": "深圳总部",
                    "start_at": meeting_at, "end_at": meeting_at + Duration::hours(2)}),
        )
        .await;
    meeting.assert_status(201);
    assert_eq!(meeting.body["status"], "planned");
    let meeting_id = id_of(&meeting.body);
    assert_eq!(
        last_activity(&app, &account).await,
        "2026-12-02T04:00:00.000000Z"
    );

    // attendees: a contact and a colleague, each shown by their name; never both or none
    let rep = app
        .user("rep.meeting@example.com", json!({"name": "王芳"}))
        .await;
    let r = app
        .post(
            "/api/v1/records/meeting_attendee",
            &json!({"meeting_id": meeting_id, "contact_id": contact}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["name"], "李娜");
    assert_eq!(r.body["response"], "invited");
    let r = app
        .post(
            "/api/v1/records/meeting_attendee",
            &json!({"meeting_id": meeting_id, "user_id": rep.user_id.0.to_string(),
                    "response": "accepted"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["name"], "王芳");
    let invitation = id_of(&r.body);
    // the colleague invited may read the meeting, and no longer once uninvited
    let rep_client = app.client_for(&rep).await;
    let meeting_path = format!("/api/v1/records/meeting/{meeting_id}");
    rep_client.get(&meeting_path).await.assert_status(200);
    app.delete(&format!("/api/v1/records/meeting_attendee/{invitation}"))
        .await
        .assert_status(204);
    rep_client.get(&meeting_path).await.assert_status(404);
    app.post(
        &format!("/api/v1/records/meeting_attendee/{invitation}/restore"),
        &json!({}),
    )
    .await
    .assert_status(200);
    rep_client.get(&meeting_path).await.assert_status(200);
    let r = app
        .post(
            "/api/v1/records/meeting_attendee",
            &json!({"meeting_id": meeting_id}),
        )
        .await;
    assert_field_problem(&r, 422, "contact_id", "required");
    // an invitation is of one person: changing who is a new invitation
    let r = app
        .patch(
            &format!("/api/v1/records/meeting_attendee/{invitation}"),
            &json!({"user_id": contact_owner_free(&app).await}),
        )
        .await;
    assert_field_problem(&r, 422, "user_id", "read_only");
    // seeing a meeting does not let one invite people to it
    let reader = app.user("reader.meeting@example.com", json!({})).await;
    app.post(
        &format!("/api/v1/records/meeting/{meeting_id}/shares"),
        &json!({"principal": {"kind": "user", "id": reader.user_id.0.to_string()}, "access": "read"}),
    )
    .await
    .assert_status(201);
    let reader_client = app.client_for(&reader).await;
    reader_client.get(&meeting_path).await.assert_status(200);
    let r = reader_client
        .post(
            "/api/v1/records/meeting_attendee",
            &json!({"meeting_id": meeting_id, "user_id": reader.user_id.0.to_string()}),
        )
        .await;
    assert_field_problem(&r, 422, "meeting_id", "lookup_not_found");

    clock.advance(Duration::days(5));
    app.patch(
        &format!("/api/v1/records/meeting/{meeting_id}"),
        &json!({"status": "held", "description": "客户认可方案"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        last_activity(&app, &account).await,
        "2026-12-08T04:00:00.000000Z"
    );

    // each activity is on the timeline of what it is about
    let timeline = app
        .get(&format!("/api/v1/records/account/{account}/timeline"))
        .await;
    timeline.assert_status(200);
    let kinds: Vec<&str> = timeline.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"meeting"), "{kinds:?}");
    let on_contact = app
        .get(&format!("/api/v1/records/contact/{contact}/timeline"))
        .await;
    let calls = on_contact.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "call")
        .count();
    assert_eq!(calls, 2, "{}", on_contact.body);
}

#[tokio::test]
async fn a_recurring_task_done_brings_the_next_until_its_series_ends() {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let account = id_of(&app.create("account", &json!({"name": "平安保险"})).await);
    let r = app
        .post(
            "/api/v1/records/task",
            &json!({"subject": "周报客户", "account_id": account, "due_date": "2026-12-07",
                    "reminder_at": "2026-12-07T01:30:00Z", "priority": "high",
                    "recurrence": "weekly", "recurrence_end": "2026-12-14"}),
        )
        .await;
    r.assert_status(201);
    let first = id_of(&r.body);
    let r = app
        .post(
            "/api/v1/records/task",
            &json!({"subject": "x", "due_date": "2026-12-07", "recurrence": "daily",
                    "recurrence_end": "2026-12-01"}),
        )
        .await;
    assert_field_problem(&r, 422, "recurrence_end", "too_small");

    let open = || async {
        let r = app
            .get("/api/v1/records/task?filter=status%20eq%20not_started&sort=due_date")
            .await;
        r.assert_status(200);
        r.body["data"].as_array().unwrap().clone()
    };
    app.patch(
        &format!("/api/v1/records/task/{first}"),
        &json!({"status": "completed"}),
    )
    .await
    .assert_status(200);
    // reopened and completed again, it brings no second "next": the rule went on
    let path = format!("/api/v1/records/task/{first}");
    let done = app.get(&path).await;
    assert!(done.body["recurrence"].is_null(), "{}", done.body);
    app.patch(&path, &json!({"status": "in_progress"}))
        .await
        .assert_status(200);
    app.patch(&path, &json!({"status": "completed"}))
        .await
        .assert_status(200);
    let next = open().await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0]["recurrence"], "weekly");
    assert_eq!(next[0]["due_date"], "2026-12-14");
    assert_eq!(next[0]["reminder_at"], "2026-12-14T01:30:00.000000Z");
    assert_eq!(
        (
            &next[0]["subject"],
            &next[0]["priority"],
            &next[0]["account_id"]
        ),
        (&json!("周报客户"), &json!("high"), &json!(account))
    );
    // the last of the series brings no other
    app.patch(
        &format!("/api/v1/records/task/{}", id_of(&next[0])),
        &json!({"status": "completed"}),
    )
    .await
    .assert_status(200);
    assert!(open().await.is_empty());
}

#[tokio::test]
async fn competitors_are_shared_and_a_deal_names_whom_it_is_up_against() {
    let app = TestApp::spawn().await;
    let competitor = app
        .post(
            "/api/v1/records/competitor",
            &json!({"name": "纷享销客", "strengths": "本地化", "website": "https://www.fxiaoke.com"}),
        )
        .await;
    competitor.assert_status(201);
    let deal = app
        .create("opportunity", &json!({"name": "CRM 选型"}))
        .await;
    let r = app
        .post(
            "/api/v1/records/opportunity_competitor",
            &json!({"opportunity_id": id_of(&deal), "competitor_id": id_of(&competitor.body),
                    "their_offer": "¥300,000/年"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["name"], "纷享销客");
    assert_eq!(r.body["status"], "active");
    // every rep sees the competitors, not the deals of others
    let rep = app.user("rep.competitor@example.com", json!({})).await;
    let client = app.client_for(&rep).await;
    let seen = client.get("/api/v1/records/competitor").await;
    assert_eq!(seen.body["data"].as_array().unwrap().len(), 1);
    let seen = client.get("/api/v1/records/opportunity_competitor").await;
    assert_eq!(seen.body["data"].as_array().unwrap().len(), 0);
}

/// Done tasks in bulk move each customer's follow-up date once, in the order of the
/// customers' ids whatever the order of the tasks: concurrent bulk calls lock the customers
/// in one order and wait for each other instead of deadlocking (PostgreSQL). A trigger logs
/// the order in which the database sees the dates move.
#[tokio::test]
async fn done_tasks_in_bulk_stamp_each_customer_once_in_id_order() {
    let app = TestApp::spawn().await;
    let mut accounts = Vec::new();
    for name in ["甲公司", "乙公司", "丙公司"] {
        let id = id_of(&app.create("account", &json!({"name": name})).await);
        accounts.push(id.parse::<uuid::Uuid>().unwrap());
    }
    let statements: &[&str] = if app.backend() == "postgres" {
        &[
            "CREATE TABLE stamp_log (seq SERIAL PRIMARY KEY, id UUID)",
            "CREATE FUNCTION stamp_logged() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO stamp_log (id) VALUES (NEW.id); RETURN NEW; END $$",
            "CREATE TRIGGER stamp_logged AFTER UPDATE OF last_activity_at ON account \
             FOR EACH ROW EXECUTE FUNCTION stamp_logged()",
        ]
    } else {
        &[
            "CREATE TABLE stamp_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB)",
            "CREATE TRIGGER stamp_logged AFTER UPDATE OF last_activity_at ON account \
             BEGIN INSERT INTO stamp_log (id) VALUES (NEW.id); END",
        ]
    };
    app.core
        .store
        .write(move |conn| {
            for sql in statements {
                conn.execute(sql, &[])?;
            }
            Ok::<_, relata_store::StoreError>(())
        })
        .await
        .unwrap();

    let [a, b, c] = [0, 1, 2].map(|i| accounts[i].to_string());
    let tasks: Vec<Json> = [&c, &a, &b, &c, &a]
        .iter()
        .enumerate()
        .map(|(i, account)| {
            json!({"subject": format!("拜访 {i}"), "status": "completed", "account_id": account})
        })
        .collect();
    let r = app
        .post(
            "/api/v1/records/task/bulk",
            &json!({"key": "id", "records": tasks}),
        )
        .await;
    r.assert_status(200);

    let logged: Vec<uuid::Uuid> = app
        .core
        .store
        .read(|conn| conn.query("SELECT id FROM stamp_log ORDER BY seq", &[]))
        .await
        .unwrap()
        .iter()
        .filter_map(|row| row[0].as_uuid())
        .collect();
    let mut in_order = accounts.clone();
    in_order.sort();
    assert_eq!(logged, in_order, "each customer once, by id");
    for account in [&a, &b, &c] {
        assert!(!last_activity(&app, account).await.is_null(), "{account}");
    }
}
