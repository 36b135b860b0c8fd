//! The visibility predicate is composed into every read path from day one: a non-admin actor
//! sees only what it owns through get, list, count, search, bulk key lookup, history and the
//! change feed. Users have the standard profile and no role, so ownership is all they have.

use relata_core::records::ListRequest;
use relata_core::records::bulk::BulkMode;
use relata_core::{Actor, CoreError};
use relata_testkit::TestApp;
use serde_json::json;

async fn user(app: &TestApp, email: &str) -> Actor {
    app.user(email, json!({})).await
}

#[tokio::test]
async fn a_rep_sees_only_their_own_records_on_every_read_path() {
    let app = TestApp::spawn().await;
    let alice = user(&app, "alice@example.com").await;
    let bob = user(&app, "bob@example.com").await;
    let core = &app.core;

    let mine = core
        .create_record(
            &alice,
            "contact",
            json!({"name": "张伟明", "mobile": "13800138000"}),
        )
        .await
        .unwrap();
    let theirs = core
        .create_record(
            &bob,
            "contact",
            json!({"name": "张伟", "mobile": "13800139999"}),
        )
        .await
        .unwrap();
    let mine_id = mine.id().unwrap();
    let theirs_id = theirs.id().unwrap();

    // get: someone else's record does not exist for alice
    assert!(core.get_record(&alice, "contact", mine_id).await.is_ok());
    assert!(matches!(
        core.get_record(&alice, "contact", theirs_id).await,
        Err(CoreError::NotFound { .. })
    ));

    // list and count
    let (_, page) = core
        .list_records(
            &alice,
            "contact",
            ListRequest {
                count: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, Some(1));
    assert_eq!(
        page.records
            .iter()
            .map(|r| r.id().unwrap())
            .collect::<Vec<_>>(),
        vec![mine_id]
    );

    // search finds both names for an admin, one for alice
    let admin_hits = app.get("/api/v1/search?q=%E5%BC%A0%E4%BC%9F").await;
    assert_eq!(
        admin_hits.body["data"][0]["hits"].as_array().unwrap().len(),
        2,
        "{}",
        admin_hits.text
    );
    let hits = core.search(&alice, "张伟", None, 10).await.unwrap();
    let ids: Vec<_> = hits
        .iter()
        .flat_map(|g| g.hits.iter().map(|h| h.record.id().unwrap()))
        .collect();
    assert_eq!(ids, vec![mine_id]);

    // update, delete and history of someone else's record: not found
    assert!(matches!(
        core.update_record(&alice, "contact", theirs_id, json!({"title": "x"}), None)
            .await,
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        core.delete_record(&alice, "contact", theirs_id, None).await,
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        core.record_history(&alice, "contact", theirs_id).await,
        Err(CoreError::NotFound { .. })
    ));

    // bulk upsert by id cannot reach someone else's record: it is not found, so it is not updated
    let result = core
        .bulk_upsert(
            &alice,
            "contact",
            "id",
            BulkMode::PerRecord,
            vec![json!({"id": theirs_id.to_string(), "name": "hijacked"})],
        )
        .await
        .unwrap();
    assert_eq!(result.updated, 0);
    let still = core.get_record(&bob, "contact", theirs_id).await.unwrap();
    assert_eq!(still.get("name").to_json(), json!("张伟"));

    // the change feed shows alice only her own record's events
    let events = core.changes(&alice, 0, 100, None).await.unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.record_id == mine_id.to_string()),
        "{events:?}"
    );
}

/// Search ranks candidates in the term index and reads records a page at a time: a rep whose
/// only matches rank below hundreds of matches they may not see still finds them, best first.
#[tokio::test]
async fn search_finds_a_reps_records_behind_many_they_may_not_see() {
    let app = TestApp::spawn().await;
    let alice = user(&app, "alice@example.com").await;
    let bob = user(&app, "bob@example.com").await;
    let core = &app.core;

    // 450 of bob's contacts whose names start with 王芳 (prefix matches) and one named
    // exactly 王芳 (an exact match, ranked first).
    let mut theirs: Vec<_> = (0..450)
        .map(|i| json!({"name": format!("王芳{i:03}")}))
        .collect();
    theirs.push(json!({"name": "王芳"}));
    core.bulk_upsert(&bob, "contact", "id", BulkMode::AllOrNothing, theirs)
        .await
        .unwrap();
    // alice's two: a substring match (ranked last) and a prefix match.
    let inner = core
        .create_record(&alice, "contact", json!({"name": "李王芳"}))
        .await
        .unwrap();
    let prefix = core
        .create_record(&alice, "contact", json!({"name": "王芳华"}))
        .await
        .unwrap();

    let ids = |groups: &[relata_core::search::ObjectHits]| -> Vec<uuid::Uuid> {
        groups
            .iter()
            .flat_map(|g| g.hits.iter().map(|h| h.record.id().unwrap()))
            .collect()
    };
    let hits = core.search(&alice, "王芳", None, 10).await.unwrap();
    assert_eq!(
        ids(&hits),
        vec![prefix.id().unwrap(), inner.id().unwrap()],
        "alice sees her two, the prefix match first"
    );

    // bob sees the exact match first, then the newest prefix matches.
    let hits = core.search(&bob, "王芳", None, 5).await.unwrap();
    let names: Vec<String> = hits
        .iter()
        .flat_map(|g| g.hits.iter())
        .map(|h| h.record.get("name").to_json().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 5);
    assert_eq!(names[0], "王芳");
    assert!(
        names[1..].iter().all(|n| n.starts_with("王芳")),
        "{names:?}"
    );
}
