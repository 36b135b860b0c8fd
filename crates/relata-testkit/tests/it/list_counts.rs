//! A list's capped count ("10,000+ contacts") reads only the index of the filtered field:
//! field indexes end with `deleted_at`, so whether an entry is live is in the index too
//! (migration 36). An installation made before that gets the new indexes when migrated.

use relata_store::ddl::list_key;
use relata_store::migrations::migrate_blocking;
use relata_store::schema::{IndexDef, introspect};
use relata_store::{Conn, Dialect, SqlValue, StoreError};
use relata_testkit::TestDb;

#[tokio::test]
async fn sqlite_counts_the_live_records_of_a_filter_from_the_field_index_alone() {
    let db = TestDb::fresh_sqlite();
    let (core, _) = db.open_core().await;
    assert_eq!(core.store.dialect(), Dialect::Sqlite);
    // the shape of the capped count the list pages ask for (`records::read`)
    let plan = core
        .store
        .read(|c: &mut dyn Conn| {
            crate::common::sqlite_plan(
                c,
                "SELECT COUNT(*) FROM (SELECT 1 FROM contact t \
                 WHERE t.city = 'Shanghai' AND t.deleted_at IS NULL LIMIT 10000) capped",
            )
        })
        .await
        .unwrap();
    let index = IndexDef::new("contact", &list_key("city"), false).name;
    assert!(
        plan.contains(&format!("COVERING INDEX {index}")),
        "the count reads the table: {plan}"
    );
}

#[tokio::test]
async fn an_older_installation_gets_field_indexes_that_end_with_deleted_at() {
    let db = tokio::task::spawn_blocking(TestDb::fresh).await.unwrap();
    let (core, _) = db.open_core().await;
    let new = IndexDef::new("contact", &list_key("city"), false);
    let old = IndexDef::new("contact", &["city", "created_at", "id"], false);
    let (drop_new, create_old) = (new.name.clone(), old.clone());
    core.store
        .write(move |c: &mut dyn Conn| -> Result<(), StoreError> {
            c.batch(&format!("DROP INDEX {drop_new}"))?;
            c.batch(&create_old.render(c.dialect()))?;
            c.execute(
                "DELETE FROM sys_migrations WHERE version = 36",
                &[] as &[SqlValue],
            )?;
            Ok(())
        })
        .await
        .unwrap();

    let store = core.store.clone();
    let applied = tokio::task::spawn_blocking(move || migrate_blocking(&store))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied, vec![36]);

    let tables = core.store.read(|c| introspect(c)).await.unwrap();
    let contact = tables.iter().find(|t| t.name == "contact").unwrap();
    let names: Vec<&str> = contact.indexes.iter().map(|i| i.0.as_str()).collect();
    assert!(names.contains(&new.name.as_str()), "{names:?}");
    assert!(!names.contains(&old.name.as_str()), "{names:?}");
    let columns = &contact.indexes.iter().find(|i| i.0 == new.name).unwrap().2;
    assert_eq!(columns, &["city", "created_at", "id", "deleted_at"]);
}
