//! `relata db-copy`: a copy holds the same rows in every table — metadata, users, tokens, the
//! change feed, field history, idempotency keys and every object table, custom objects and
//! archived fields included — and the copy is a working database afterwards, its search
//! index (stored differently per backend, so not copied) rebuilt from the records.
//! With `RELATA_TEST_POSTGRES_URL` set, also SQLite → PostgreSQL → SQLite.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use common::fixture::{self, OBJECTS};
use common::{
    TestDb, dump_tables, export_all, open_store, postgres_url, relata, run_ok, sqlite_url, stderr,
};
use relata_core::{Actor, Core, CoreError, Settings};
use relata_domain::SystemClock;
use relata_store::{StoreError, StoreOptions};
use serde_json::json;

fn db_copy(dir: &Path, from: &str, to: &str) -> std::process::Output {
    relata(dir)
        .args(["db-copy", "--from", from, "--to", to])
        .output()
        .unwrap()
}

fn max_seq(url: &str) -> i64 {
    let store = open_store(url);
    let seq = store
        .read_blocking(|c| -> Result<_, StoreError> {
            Ok(c.query("SELECT MAX(seq) FROM sys_events", &[])?[0][0]
                .as_i64()
                .unwrap_or(0))
        })
        .unwrap();
    store.close();
    seq
}

/// The copy is a working database: its search index is rebuilt from the copied records, new
/// writes continue the change feed after the copied events, and the custom object's unique
/// index came along.
fn check_usable(url: &str) {
    let copied_seq = max_seq(url);
    let mut opts = StoreOptions::new(url);
    opts.pool_size = 2;
    let core = Core::open(&opts, Arc::new(SystemClock), Settings::default()).unwrap();
    let admin = core.ensure_admin_blocking().unwrap();
    let actor = Actor::system(admin);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let rebuilt = core.rebuild_search_index_if_stale().await.expect("rebuild");
        assert!(
            rebuilt.is_some_and(|n| n > 0),
            "the copy's index is rebuilt: {rebuilt:?}"
        );
        let found = core
            .search(&actor, "华远", Some(vec!["account".into()]), 10)
            .await
            .expect("search");
        assert!(
            found.first().is_some_and(|g| !g.hits.is_empty()),
            "copied accounts are found: {found:?}"
        );
        assert_eq!(
            core.rebuild_search_index_if_stale().await.expect("again"),
            None
        );
        core.create_record(&actor, "account", json!({"name": "复制后新建的客户"}))
            .await
            .expect("write after copy");
        let dup = core
            .create_record(&actor, "project", json!({"name": "dup", "code": "P-001"}))
            .await;
        assert!(
            matches!(dup, Err(CoreError::Validation(ref e)) if e[0].field == "code"),
            "unique index missing after the copy: {dup:?}"
        );
    });
    core.store.close();
    assert!(max_seq(url) > copied_seq, "the change feed must continue");
}

#[test]
fn sqlite_to_sqlite_copies_every_row_of_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = sqlite_url(d, "source.db");
    let target = sqlite_url(d, "target.db");
    fixture::build(&source);

    let out = db_copy(d, &source, &target);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("project:"), "{}", stderr(&out));

    let (a, b) = (open_store(&source), open_store(&target));
    let (before, after) = (dump_tables(&a), dump_tables(&b));
    a.close();
    b.close();
    for table in [
        "sys_users",
        "sys_api_tokens",
        "sys_events",
        "sys_field_history",
        "sys_idempotency",
        "project",
        "account",
    ] {
        assert!(!before[table].is_empty(), "the fixture should fill {table}");
    }
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "table {table} differs");
    }
    assert_eq!(
        export_all(d, &source, &OBJECTS),
        export_all(d, &target, &OBJECTS)
    );

    check_usable(&target);
}

#[test]
fn db_copy_refuses_a_target_that_holds_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = sqlite_url(d, "source.db");
    let target = sqlite_url(d, "target.db");
    fixture::build(&source);
    run_ok(relata(d).args(["--database-url", &target, "demo", "--scale", "small"]));
    let before = export_all(d, &target, &["account"]);

    let out = db_copy(d, &source, &target);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(
        export_all(d, &target, &["account"]),
        before,
        "target untouched"
    );

    let out = db_copy(d, &source, &source);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("same database"), "{}", stderr(&out));
}

#[test]
fn sqlite_to_postgres_and_back() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("RELATA_TEST_POSTGRES_URL not set: skipping the PostgreSQL round trip");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = sqlite_url(d, "source.db");
    let back = sqlite_url(d, "back.db");
    let pg = TestDb::fresh_postgres(&admin_url);
    fixture::build(&source);

    let out = db_copy(d, &source, &pg.url);
    assert!(out.status.success(), "to PostgreSQL: {}", stderr(&out));
    let out = db_copy(d, &pg.url, &back);
    assert!(out.status.success(), "back to SQLite: {}", stderr(&out));

    let exports = export_all(d, &source, &OBJECTS);
    assert_eq!(
        exports,
        export_all(d, &pg.url, &OBJECTS),
        "SQLite vs PostgreSQL"
    );
    assert_eq!(
        exports,
        export_all(d, &back, &OBJECTS),
        "after the round trip"
    );

    let (a, b) = (open_store(&source), open_store(&back));
    let (before, after) = (dump_tables(&a), dump_tables(&b));
    a.close();
    b.close();
    for (table, rows) in &before {
        assert_eq!(
            rows, &after[table],
            "table {table} differs after the round trip"
        );
    }

    // Events keep their sequence numbers, and PostgreSQL's identity continues after them.
    check_usable(&pg.url);
}
