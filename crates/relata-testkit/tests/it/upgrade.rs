//! An installation made before a standard field existed gets it from its migration: here the
//! account's credit code and province (migration 10) are taken out of a fresh database as if
//! it predated them, and migrating again puts them back, usable, on both backends.

use relata_domain::standard::{credit_code, province};
use relata_store::ddl::{field_index, table_name};
use relata_store::migrations::migrate_blocking;
use relata_store::{SqlValue, meta_sql};
use relata_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn an_older_installation_gets_the_new_account_fields_when_migrated() {
    let app = TestApp::spawn().await;
    app.core
        .store
        .write(|conn| -> Result<(), relata_store::StoreError> {
            let schema = meta_sql::load_schema(conn)?;
            let account = schema.object("account").expect("account");
            let mut older = (**account).clone();
            for field in [credit_code(), province()] {
                if let Some(ix) = field_index(&older, &field) {
                    conn.batch(&format!("DROP INDEX {}", ix.name))?;
                }
                conn.batch(&format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    table_name(&older),
                    field.name()
                ))?;
                older.fields.retain(|f| f.name() != field.name());
            }
            meta_sql::update_object(conn, &older)?;
            meta_sql::bump_version(conn)?;
            conn.execute(
                "DELETE FROM sys_migrations WHERE version = 10",
                &[] as &[SqlValue],
            )?;
            Ok(())
        })
        .await
        .expect("make the database look older");
    app.core.reload_schema().await.unwrap();
    let before = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "x", "credit_code": "914403001922038216"}),
        )
        .await;
    assert_eq!(
        before.error_fields(),
        vec!["credit_code"],
        "gone: {}",
        before.text
    );

    let core = app.core.clone();
    let migrate = move || {
        let core = core.clone();
        async move {
            tokio::task::spawn_blocking(move || migrate_blocking(&core.store))
                .await
                .expect("join")
                .expect("migrate")
        }
    };
    let applied = migrate().await;
    assert_eq!(applied, vec![10]);
    app.core.reload_schema().await.unwrap();
    let account = app
        .create(
            "account",
            &json!({"name": "华为", "credit_code": "914403001922038216", "province": "guangdong"}),
        )
        .await;
    assert_eq!(account["credit_code"], "914403001922038216");
    let again = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "华为 2", "credit_code": "914403001922038216"}),
        )
        .await;
    assert_eq!(
        again.error_code("credit_code").as_deref(),
        Some("duplicate"),
        "the unique index is back: {}",
        again.text
    );
    // a second migration finds nothing to do
    assert_eq!(migrate().await, Vec::<i64>::new());
}
