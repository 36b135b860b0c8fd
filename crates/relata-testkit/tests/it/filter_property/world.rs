//! The data the property test runs against: one custom object with a field of every filterable
//! type, a few hundred random records written through the record service, and the records as
//! read back (the in-memory side of the comparison).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value as Json, json};

use relata_core::Actor;
use relata_core::meta_admin::{FieldInput, NewObject, PicklistInput};
use relata_core::records::ListRequest;
use relata_domain::{ManualClock, ObjectDef, Record};
use relata_testkit::{SpawnOptions, TestApp};

use crate::filter_property::strategies::{created_offset_nanos, record_input};

pub const OBJECT: &str = "gadget";
pub const STAGES: &[&str] = &["new", "won", "lost", "赢单", "Zeta", "zeta"];
pub const TAGS: &[&str] = &["vip", "重点", "b2b", "B2B", "x y"];

/// "Now" for every relative date, in the database and in memory. Nanoseconds on purpose:
/// both sides must truncate to the microseconds the databases keep.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-31T10:20:30.123456789Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Field definitions of the test object: (api_name, type, extra options).
fn fields() -> Vec<FieldInput> {
    let field = |name: &str, t: &str| FieldInput {
        api_name: Some(name.into()),
        field_type: Some(t.into()),
        label: Some(name.into()),
        ..Default::default()
    };
    let values = |vs: &[&str]| {
        Some(
            vs.iter()
                .map(|v| PicklistInput::Plain((*v).into()))
                .collect(),
        )
    };
    vec![
        field("note", "text"),
        field("body", "long_text"),
        field("qty", "integer"),
        field("amount", "decimal"),
        FieldInput {
            scale: Some(8),
            ..field("fine", "decimal")
        },
        field("price", "currency"),
        field("rate", "percent"),
        field("due", "date"),
        field("seen_at", "datetime"),
        field("active", "boolean"),
        FieldInput {
            values: values(STAGES),
            ..field("stage", "picklist")
        },
        FieldInput {
            values: values(TAGS),
            ..field("tags", "multi_picklist")
        },
        field("email", "email"),
        field("phone", "phone"),
        field("site", "url"),
        FieldInput {
            target: Some("account".into()),
            ..field("account_id", "lookup")
        },
        field("user_id", "user_lookup"),
    ]
}

pub struct World {
    // Dropped before the runtime: the app's server task lives on it.
    pub app: TestApp,
    pub actor: Actor,
    pub object: Arc<ObjectDef>,
    /// Every live record, as the database returns it.
    pub records: Vec<Record>,
    pub rt: tokio::runtime::Runtime,
}

impl World {
    pub fn build(runner: &mut TestRunner, record_count: usize) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let clock = Arc::new(ManualClock::new(now()));
        let app = rt.block_on(TestApp::spawn_with(SpawnOptions {
            clock: Some(clock.clone()),
            ..Default::default()
        }));
        let actor = rt
            .block_on(app.core.authenticate_token(&app.token))
            .unwrap();
        let core = app.core.clone();
        rt.block_on(async {
            core.create_object(
                &actor,
                NewObject {
                    api_name: OBJECT.into(),
                    label: "Gadget".into(),
                    plural_label: "Gadgets".into(),
                    name_label: None,
                },
            )
            .await
            .unwrap();
            for f in fields() {
                core.add_field(&actor, OBJECT, f).await.unwrap();
            }
        });
        let accounts: Vec<String> = rt.block_on(async {
            let mut ids = Vec::new();
            for name in ["上海华远科技有限公司", "Acme Global Trading", "acme"] {
                let r = core
                    .create_record(&actor, "account", json!({ "name": name }))
                    .await
                    .unwrap();
                ids.push(r.id().unwrap().to_string());
            }
            ids
        });
        let user = actor.user_id.0.to_string();

        // Records are written at random instants so created_at spreads over years; the clock
        // is set back to `now()` before any filter runs.
        let inputs: Vec<(i64, Json)> = (0..record_count)
            .map(|_| {
                let s = (
                    created_offset_nanos(),
                    record_input(accounts.clone(), user.clone()),
                );
                s.new_tree(runner).unwrap().current()
            })
            .collect();
        // A tenth of the records are then rewritten and a twentieth deleted, so the update
        // path writes values too and the recycle bin stays out of every list.
        let rewrites: Vec<Json> = (0..record_count / 10)
            .map(|_| {
                let s = record_input(accounts.clone(), user.clone());
                s.new_tree(runner).unwrap().current()
            })
            .collect();
        let deleted = rt.block_on(async {
            let mut ids = Vec::new();
            for (offset, input) in inputs {
                clock.set(now() + Duration::nanoseconds(offset));
                match core.create_record(&actor, OBJECT, input.clone()).await {
                    Ok(r) => ids.push(r.id().unwrap()),
                    Err(e) => panic!("creating {input} failed: {e:?}"),
                }
            }
            for (id, input) in ids.iter().step_by(10).zip(rewrites) {
                if let Err(e) = core
                    .update_record(&actor, OBJECT, *id, input.clone(), None)
                    .await
                {
                    panic!("updating with {input} failed: {e:?}");
                }
            }
            let mut deleted = 0;
            for id in ids.iter().skip(3).step_by(20) {
                core.delete_record(&actor, OBJECT, *id, None).await.unwrap();
                deleted += 1;
            }
            deleted
        });
        clock.set(now());
        let object = app.core.object(OBJECT).unwrap();
        let records = rt.block_on(list_all(&app, &actor, None)).unwrap();
        assert_eq!(records.len(), record_count - deleted);
        World {
            app,
            actor,
            object,
            records,
            rt,
        }
    }
}

/// Every live record matching `filter` (all when `None`), through the record service.
pub async fn list_all(
    app: &TestApp,
    actor: &Actor,
    filter: Option<relata_domain::filter::Filter>,
) -> Result<Vec<Record>, relata_core::CoreError> {
    let (_, page) = app
        .core
        .list_records(
            actor,
            OBJECT,
            ListRequest {
                filter,
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await?;
    assert!(page.next_cursor.is_none(), "more than one page");
    Ok(page.records)
}
