//! A database with everything db-copy must carry: a custom object with a field of every type
//! (and an archived one), a lookup from a standard object to the custom one and a lookup of
//! the custom object to itself (references a copy meets before their targets), records in the
//! recycle bin, field history, search terms, the change feed, users, tokens and an
//! idempotency key. Built through the record service and metadata admin, like real data.

use std::sync::Arc;

use relata_core::meta_admin::{FieldInput, NewObject};
use relata_core::records::bulk::BulkMode;
use relata_core::{Actor, Core, Settings};
use relata_domain::SystemClock;
use relata_store::{SqlValue, StoreError, StoreOptions, dialect::placeholders};
use serde_json::{Value as Json, json};

/// Objects of the fixture, in dependency order.
pub const OBJECTS: [&str; 8] = [
    "account",
    "contact",
    "lead",
    "opportunity",
    "task",
    "note",
    "product",
    "project",
];

fn field(spec: Json) -> FieldInput {
    serde_json::from_value(spec).expect("field input")
}

fn id(record: &relata_domain::Record) -> String {
    record.id().expect("id").to_string()
}

/// Fills the (new or migrated, empty) database at `url`.
pub fn build(url: &str) {
    let mut opts = StoreOptions::new(url);
    opts.pool_size = 2;
    let core = Core::open(&opts, Arc::new(SystemClock), Settings::default()).expect("open");
    let admin = core.ensure_admin_blocking().expect("admin");
    core.create_admin_token_blocking("fixture").expect("token");
    let actor = Actor::system(admin);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(fill(&core, &actor));
    // An idempotency key, as the API leaves them.
    let user = admin.0;
    core.store
        .write_blocking(move |c| -> Result<(), StoreError> {
            let sql = format!(
                "INSERT INTO sys_idempotency (user_id, key, request_hash, status, body, created_at) VALUES ({})",
                placeholders(c.dialect(), 1, 6)
            );
            c.execute(
                &sql,
                &[
                    SqlValue::Uuid(user),
                    SqlValue::Text("key-1".into()),
                    SqlValue::Text("hash".into()),
                    SqlValue::Int(201),
                    SqlValue::Text("{\"id\":\"x\"}".into()),
                    SqlValue::Timestamp(chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap()),
                ],
            )?;
            Ok(())
        })
        .expect("idempotency row");
    core.store.close();
}

async fn fill(core: &Core, actor: &Actor) {
    let new_object: NewObject = serde_json::from_value(json!({
        "api_name": "project", "label": "Project", "plural_label": "Projects", "name_label": "项目名称"
    }))
    .unwrap();
    core.create_object(actor, new_object).await.expect("object");
    let fields = [
        json!({"api_name": "code", "type": "text", "label": "Code", "unique": true, "max_length": 40}),
        json!({"api_name": "summary", "type": "long_text", "label": "Summary", "searchable": true}),
        json!({"api_name": "seats", "type": "integer", "label": "Seats", "filterable": true}),
        json!({"api_name": "ratio", "type": "decimal", "label": "Ratio", "scale": 4}),
        json!({"api_name": "budget", "type": "currency", "label": "Budget", "tracked": true}),
        json!({"api_name": "margin", "type": "percent", "label": "Margin"}),
        json!({"api_name": "starts_on", "type": "date", "label": "Starts on"}),
        json!({"api_name": "kickoff_at", "type": "datetime", "label": "Kick-off"}),
        json!({"api_name": "is_strategic", "type": "boolean", "label": "Strategic"}),
        json!({"api_name": "phase", "type": "picklist", "label": "Phase", "values": ["plan", "build", "run"], "tracked": true}),
        json!({"api_name": "regions", "type": "multi_picklist", "label": "Regions", "values": ["cn", "eu", "us"]}),
        json!({"api_name": "contact_email", "type": "email", "label": "E-mail"}),
        json!({"api_name": "hotline", "type": "phone", "label": "Hotline", "searchable": true}),
        json!({"api_name": "homepage", "type": "url", "label": "Homepage"}),
        json!({"api_name": "client_id", "type": "lookup", "label": "Client", "target": "account"}),
        json!({"api_name": "manager_id", "type": "user_lookup", "label": "Manager"}),
        json!({"api_name": "parent_project_id", "type": "lookup", "label": "Parent", "target": "project"}),
        json!({"api_name": "legacy_code", "type": "text", "label": "Legacy code"}),
    ];
    for f in fields {
        core.add_field(actor, "project", field(f))
            .await
            .expect("field");
    }
    core.add_field(
        actor,
        "account",
        field(json!({"api_name": "main_project_id", "type": "lookup", "label": "Main project", "target": "project"})),
    )
    .await
    .expect("lookup on a standard object");

    let huayuan = core
        .create_record(
            actor,
            "account",
            json!({"name": "上海华远科技有限公司", "industry": "technology", "level": "b",
                   "annual_revenue": {"amount": "12345678.90", "currency": "CNY"}, "phone": "021-6234 5678"}),
        )
        .await
        .expect("account");
    let child = core
        .create_record(
            actor,
            "account",
            json!({"name": "华远科技（深圳）有限公司", "parent_id": id(&huayuan)}),
        )
        .await
        .expect("child account");
    let contact = core
        .create_record(
            actor,
            "contact",
            json!({"name": "张伟", "last_name": "张", "first_name": "伟", "account_id": id(&huayuan),
                   "mobile": "138 0013 8000", "email": "zhang.wei@huayuan.com.cn", "birthday": "1985-06-01"}),
        )
        .await
        .expect("contact");
    let full = core
        .create_record(
            actor,
            "project",
            json!({
                "name": "数据中台建设", "code": "P-001", "summary": "第一期：客户主数据\nPhase one: customer master data",
                "seats": 500, "ratio": "3.1416", "budget": {"amount": "1234567.89", "currency": "USD"},
                "margin": "12.50", "starts_on": "2026-03-01", "kickoff_at": "2026-03-01T08:30:00.123456Z",
                "is_strategic": true, "phase": "plan", "regions": ["cn", "us"],
                "contact_email": "pm@huayuan.com.cn", "hotline": "+86 21 6234 5678",
                "homepage": "https://huayuan.com.cn/projects/1", "client_id": id(&huayuan),
                "manager_id": actor.user_id.to_string(), "legacy_code": "OLD-1"
            }),
        )
        .await
        .expect("project with every field");
    let sub = core
        .create_record(
            actor,
            "project",
            json!({"name": "Phase two", "code": "P-002", "is_strategic": false, "parent_project_id": id(&full)}),
        )
        .await
        .expect("sub-project");
    core.create_record(actor, "project", json!({"name": "空项目"}))
        .await
        .expect("sparse project");
    // Tracked changes (history) and a forward reference from a standard object.
    core.update_record(
        actor,
        "project",
        full.id().unwrap(),
        json!({"phase": "build", "budget": {"amount": "2000000.00", "currency": "USD"}}),
        None,
    )
    .await
    .expect("update");
    core.update_record(
        actor,
        "account",
        huayuan.id().unwrap(),
        json!({"main_project_id": id(&sub), "level": "a"}),
        None,
    )
    .await
    .expect("account update");
    core.delete_field(actor, "project", "legacy_code", false)
        .await
        .expect("archive a field");
    // The recycle bin travels too.
    core.delete_record(actor, "account", child.id().unwrap(), None)
        .await
        .expect("delete");
    core.bulk_upsert(
        actor,
        "opportunity",
        "id",
        BulkMode::AllOrNothing,
        vec![
            json!({"name": "华远科技 CRM 系统升级", "account_id": id(&huayuan), "contact_id": id(&contact),
                   "amount": {"amount": "880000.00", "currency": "CNY"}, "stage": "proposal", "close_date": "2026-12-31"}),
            json!({"name": "Northwind – Annual renewal", "stage": "closed_won", "probability": "100", "win_reason": "service"}),
        ],
    )
    .await
    .expect("opportunities");
}
