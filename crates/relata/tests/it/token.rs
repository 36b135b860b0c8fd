//! `relata token create` and `relata migrate` on a fresh database.

use crate::common;

use common::{relata, run_ok, sqlite_url, stdout};

#[test]
fn token_create_prints_only_a_new_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "relata.db");
    let first = run_ok(relata(dir.path()).args(["--database-url", &url, "token", "create"]));
    let text = stdout(&first);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must hold the token alone: {text:?}");
    assert!(lines[0].starts_with("rlt_"), "{text:?}");
    assert!(lines[0].len() > 40);

    let second = stdout(&run_ok(relata(dir.path()).args([
        "--database-url",
        &url,
        "token",
        "create",
        "--name",
        "ci",
    ])));
    assert_ne!(second.trim(), lines[0], "every call makes a new token");

    // Both tokens belong to the one bootstrap administrator.
    let store = common::open_store(&url);
    let counts = store
        .read_blocking(|c| -> Result<_, relata_store::StoreError> {
            let users = c.query("SELECT COUNT(*) FROM sys_users", &[])?;
            let tokens = c.query("SELECT COUNT(*) FROM sys_api_tokens", &[])?;
            Ok((users[0][0].as_i64(), tokens[0][0].as_i64()))
        })
        .unwrap();
    assert_eq!(counts, (Some(1), Some(2)));
}

#[test]
fn the_default_database_lives_under_relata_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run_ok(relata(dir.path()).args(["token", "create"])));
    assert!(out.starts_with("rlt_"));
    assert!(dir.path().join("relata-data/relata.db").is_file());
}

#[test]
fn migrate_lists_what_it_applied_then_that_nothing_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "relata.db");
    let first = stdout(&run_ok(relata(dir.path()).args([
        "--database-url",
        &url,
        "migrate",
    ])));
    assert!(first.contains("system tables"), "{first}");
    assert!(first.contains("standard objects"), "{first}");
    assert!(first.contains("search index"), "{first}");
    assert!(first.contains("identity and access"), "{first}");
    assert!(first.contains("saved list views"), "{first}");
    let all = relata_store::migrations::all().len();
    assert!(first.contains("in-app notifications"), "{first}");
    assert!(
        first.contains(&format!("{all} migration(s) applied now")),
        "{first}"
    );
    let again = stdout(&run_ok(relata(dir.path()).args([
        "--database-url",
        &url,
        "migrate",
    ])));
    assert!(again.contains("0 migration(s) applied now"), "{again}");
    assert!(again.contains("already applied"), "{again}");
}
