//! Both backends end up with the same tables, columns and indexes: the live catalogue matches
//! the table definitions the migrations and the metadata DDL render from, and — when a
//! PostgreSQL test database is configured — SQLite and PostgreSQL match each other after the
//! same metadata changes.

use std::sync::Arc;

use relata_core::Core;
use relata_core::meta_admin::{FieldInput, NewObject};
use relata_store::schema::{LiveTable, TableDef, introspect};
use relata_store::{Dialect, ddl, migrations, search_index};
use relata_testkit::TestDb;
use serde_json::json;

/// Opens a Core on `db` and applies the same metadata changes every time.
async fn prepared_core(db: &TestDb) -> Arc<Core> {
    let (core, actor) = db.open_core().await;
    core.create_object(
        &actor,
        NewObject {
            api_name: "project".into(),
            label: "Project".into(),
            plural_label: "Projects".into(),
            name_label: None,
        },
    )
    .await
    .unwrap();
    for (name, ty, extra) in [
        ("code", "text", json!({"unique": true})),
        ("budget", "currency", json!({"filterable": true})),
        ("phase", "picklist", json!({"values": ["plan", "build"]})),
        ("tags", "multi_picklist", json!({"values": ["x", "y"]})),
        ("starts_on", "date", json!({})),
        ("account_id", "lookup", json!({"target": "account"})),
        ("manager", "user_lookup", json!({})),
        ("done", "boolean", json!({})),
        ("score", "decimal", json!({"scale": 4})),
    ] {
        let mut input = json!({"api_name": name, "type": ty, "label": name});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        let input: FieldInput = serde_json::from_value(input).unwrap();
        core.add_field(&actor, "project", input).await.unwrap();
    }
    core
}

async fn live(core: &Arc<Core>) -> Vec<LiveTable> {
    core.store.read(|conn| introspect(conn)).await.unwrap()
}

/// The shape the definitions promise.
fn expected(core: &Core) -> Vec<LiveTable> {
    let mut defs: Vec<TableDef> = migrations::system_tables();
    defs.push(migrations::migrations_table());
    defs.extend(search_index::tables(core.store.dialect()));
    defs.extend(core.schema().objects().map(|o| ddl::object_table(o)));
    let mut tables: Vec<LiveTable> = defs
        .into_iter()
        .map(|t| {
            let mut indexes: Vec<(String, bool, Vec<String>)> = t
                .indexes
                .iter()
                .map(|i| (i.name.clone(), i.unique, i.columns.clone()))
                .collect();
            indexes.sort();
            LiveTable {
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.nullable))
                    .collect(),
                indexes,
            }
        })
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    tables
}

fn normalised(mut tables: Vec<LiveTable>) -> Vec<LiveTable> {
    for t in &mut tables {
        t.indexes.sort();
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    tables
}

#[tokio::test]
async fn live_catalogue_matches_the_definitions() {
    let db = tokio::task::spawn_blocking(TestDb::fresh).await.unwrap();
    let core = prepared_core(&db).await;
    let live = normalised(live(&core).await);
    let expected = expected(&core);
    assert_eq!(
        live.iter().map(|t| &t.name).collect::<Vec<_>>(),
        expected.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    for (l, e) in live.iter().zip(&expected) {
        assert_eq!(
            l,
            e,
            "table {} differs from its definition on {}",
            l.name,
            db.backend()
        );
    }
    core.store.close();
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_are_identical() {
    let Some(pg_url) = relata_testkit::postgres_url() else {
        eprintln!(
            "RELATA_TEST_POSTGRES_URL not set: comparing against PostgreSQL is skipped here (scripts/test.sh sets it)"
        );
        return;
    };
    let (lite, pg) = tokio::task::spawn_blocking(move || {
        (TestDb::fresh_sqlite(), TestDb::fresh_postgres(&pg_url))
    })
    .await
    .unwrap();
    let a = prepared_core(&lite).await;
    let b = prepared_core(&pg).await;
    // The search index is the one thing stored differently per backend (ADR 0002); each
    // side's index tables are checked against their definitions by the test above.
    let without_index = |tables: Vec<LiveTable>| -> Vec<LiveTable> {
        let index: Vec<String> = [Dialect::Sqlite, Dialect::Postgres]
            .into_iter()
            .flat_map(search_index::tables)
            .map(|t| t.name)
            .collect();
        tables
            .into_iter()
            .filter(|t| !index.contains(&t.name))
            .collect()
    };
    let (la, lb) = (
        without_index(normalised(live(&a).await)),
        without_index(normalised(live(&b).await)),
    );
    assert_eq!(la, lb);
    a.store.close();
    b.store.close();
}
