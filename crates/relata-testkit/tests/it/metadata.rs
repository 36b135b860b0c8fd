//! Metadata through the API: standard objects, custom objects and fields of every type, field
//! options, relabelling, picklist values going inactive, archiving and purging fields.

use crate::common;

use common::{DbState, add_field, assert_field_problem, count, create_object, id_of, urlencode};
use relata_core::CoreError;
use relata_store::{SqlValue, dialect};
use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

fn names(list: &Json) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|o| o["api_name"].as_str().expect("api_name").to_owned())
        .collect()
}

fn field<'a>(object: &'a Json, name: &str) -> Option<&'a Json> {
    object["fields"]
        .as_array()
        .expect("fields array")
        .iter()
        .find(|f| f["api_name"] == name)
}

/// Reads one column of one row straight from the table (to see data the API hides).
async fn raw_column(app: &TestApp, table: &str, column: &str, id: &str) -> Option<SqlValue> {
    let sql_table = table.to_owned();
    let sql_column = column.to_owned();
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    app.core
        .store
        .read(move |conn| -> Result<Option<SqlValue>, CoreError> {
            let sql = format!(
                "SELECT {sql_column} FROM {sql_table} WHERE id = {}",
                dialect::placeholder(conn.dialect(), 1)
            );
            Ok(conn
                .query_one(&sql, &[SqlValue::Uuid(id)])?
                .and_then(|row| row.into_iter().next()))
        })
        .await
        .expect("raw read")
}

#[tokio::test]
async fn standard_objects_are_listed_with_their_fields() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/meta/objects").await;
    r.assert_status(200);
    let listed = names(&r.body);
    for standard in [
        "account",
        "contact",
        "lead",
        "opportunity",
        "task",
        "note",
        "product",
    ] {
        assert!(
            listed.iter().any(|n| n == standard),
            "{standard} missing: {listed:?}"
        );
    }
    let account = app.get("/api/v1/meta/objects/account").await;
    account.assert_status(200);
    assert_eq!(account.body["standard"], true);
    assert_eq!(account.body["name_field"], "name");
    assert_eq!(field(&account.body, "name").unwrap()["required"], true);
    assert_eq!(field(&account.body, "id").unwrap()["system"], true);
    let industry = field(&account.body, "industry").unwrap();
    assert_eq!(industry["type"], "picklist");
    assert!(
        industry["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == "technology" && v["active"] == true)
    );
    assert_eq!(
        field(&account.body, "parent_id").unwrap()["target"],
        "account"
    );
    let task = app.get("/api/v1/meta/objects/task").await;
    assert_eq!(task.body["name_field"], "subject");
    let product = app.get("/api/v1/meta/objects/product").await;
    assert_eq!(field(&product.body, "sku").unwrap()["unique"], true);
    // archived flags are internal
    assert!(!r.text.contains("\"archived\""), "{}", r.text);
}

#[tokio::test]
async fn a_custom_object_is_a_first_class_object() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": "project", "label": "Project", "plural_label": "Projects"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["api_name"], "project");
    assert_eq!(r.body["label"], "Project");
    assert_eq!(r.body["plural_label"], "Projects");
    assert_eq!(r.body["standard"], false);
    assert_eq!(r.body["name_field"], "name");
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["api_name"].as_str().unwrap())
        .collect();
    for f in [
        "id",
        "owner_id",
        "created_at",
        "updated_at",
        "version",
        "name",
    ] {
        assert!(fields.contains(&f), "{f} missing: {fields:?}");
    }
    assert!(names(&app.get("/api/v1/meta/objects").await.body).contains(&"project".to_owned()));
    assert_eq!(app.get("/api/v1/meta/objects/project").await.body, r.body);

    // records: create, get, list, filter, update, delete
    add_field(
        &app,
        "project",
        json!({"api_name": "budget", "type": "integer", "label": "Budget", "filterable": true}),
    )
    .await;
    for (name, budget) in [("Alpha", 100), ("Beta", 200), ("Gamma", 300)] {
        app.create("project", &json!({"name": name, "budget": budget}))
            .await;
    }
    assert_eq!(count(&app, "project").await, 3);
    let r = app
        .get(&format!(
            "/api/v1/records/project?filter={}&sort=-budget",
            urlencode("budget gte 200")
        ))
        .await;
    r.assert_status(200);
    let got: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["Gamma", "Beta"]);
    let alpha = app
        .get(&format!(
            "/api/v1/records/project?filter={}",
            urlencode("name eq Alpha")
        ))
        .await
        .body["data"][0]
        .clone();
    let path = format!("/api/v1/records/project/{}", id_of(&alpha));
    let r = app.patch(&path, &json!({"budget": 150})).await;
    r.assert_status(200);
    assert_eq!(r.body["budget"], 150);
    app.delete(&path).await.assert_status(204);
    assert_eq!(count(&app, "project").await, 2);

    // the same name cannot be taken twice
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": "project", "label": "Project", "plural_label": "Projects"}),
        )
        .await;
    assert_field_problem(&r, 422, "api_name", "already_exists");
    // labels are checked
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": "shipment", "label": "", "plural_label": "x".repeat(81)}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let mut bad = r.error_fields();
    bad.sort();
    assert_eq!(bad, ["label", "plural_label"]);
    // unknown keys in the definition are refused
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": "shipment", "label": "Shipment", "plural_label": "Shipments", "colour": "red"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(!names(&app.get("/api/v1/meta/objects").await.body).contains(&"shipment".to_owned()));
}

#[tokio::test]
async fn a_field_of_every_type_round_trips_exactly() {
    let app = TestApp::spawn().await;
    create_object(&app, "milestone", "Milestone", "Milestones").await;
    create_object(&app, "project", "Project", "Projects").await;
    let defs = [
        json!({"api_name": "code", "type": "text", "label": "Code"}),
        json!({"api_name": "brief", "type": "long_text", "label": "Brief"}),
        json!({"api_name": "headcount", "type": "integer", "label": "Headcount"}),
        json!({"api_name": "ratio", "type": "decimal", "label": "Ratio", "scale": 4}),
        json!({"api_name": "budget", "type": "currency", "label": "Budget"}),
        json!({"api_name": "progress", "type": "percent", "label": "Progress"}),
        json!({"api_name": "kickoff", "type": "date", "label": "Kickoff"}),
        json!({"api_name": "review_at", "type": "datetime", "label": "Review at"}),
        json!({"api_name": "billable", "type": "boolean", "label": "Billable"}),
        json!({"api_name": "tier", "type": "picklist", "label": "Tier", "values": ["gold", "silver", {"value": "bronze", "label": "Bronze (old)"}]}),
        json!({"api_name": "colours", "type": "multi_picklist", "label": "Colours", "values": ["red", "green", "blue"]}),
        json!({"api_name": "contact_email", "type": "email", "label": "Contact email"}),
        json!({"api_name": "hotline", "type": "phone", "label": "Hotline"}),
        json!({"api_name": "homepage", "type": "url", "label": "Homepage"}),
        json!({"api_name": "milestone_id", "type": "lookup", "label": "Milestone", "target": "milestone"}),
        json!({"api_name": "reviewer_id", "type": "user_lookup", "label": "Reviewer"}),
    ];
    for def in &defs {
        let created = add_field(&app, "project", def.clone()).await;
        assert_eq!(created["api_name"], def["api_name"]);
        assert_eq!(created["type"], def["type"]);
        assert_eq!(created["label"], def["label"]);
    }
    let meta = app.get("/api/v1/meta/objects/project").await.body;
    for def in &defs {
        let f = field(&meta, def["api_name"].as_str().unwrap()).expect("field listed");
        assert_eq!(f["type"], def["type"]);
    }
    assert_eq!(field(&meta, "milestone_id").unwrap()["target"], "milestone");
    assert_eq!(field(&meta, "ratio").unwrap()["scale"], 4);
    let tier_values: Vec<&str> = field(&meta, "tier").unwrap()["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(tier_values, ["gold", "silver", "bronze"]);

    let milestone = app.create("milestone", &json!({"name": "M1"})).await;
    let me = milestone["owner_id"].as_str().unwrap().to_owned();
    let values = json!({
        "name": "Apollo 阿波罗",
        "code": "AP-11",
        "brief": "第一行\nsecond line with \"quotes\" and 'apostrophes'; DROP TABLE project;--",
        "headcount": 9007199254740993_i64,
        "ratio": "3.1416",
        "budget": {"amount": "1200000.50", "currency": "USD"},
        "progress": "12.50",
        "kickoff": "2026-03-31",
        "review_at": "2026-03-31T09:30:00.123456Z",
        "billable": false,
        "tier": "bronze",
        "colours": ["red", "blue"],
        "contact_email": "li.na@example.com",
        "hotline": "+86 (21) 5555-0100",
        "homepage": "https://example.com/projects/apollo?tab=1",
        "milestone_id": id_of(&milestone),
        "reviewer_id": me,
    });
    let created = app.create("project", &values).await;
    let check = |record: &Json, how: &str| {
        for (k, v) in values.as_object().unwrap() {
            assert_eq!(&record[k], v, "{k} after {how}: {record}");
        }
    };
    check(&created, "create");
    let path = format!("/api/v1/records/project/{}", id_of(&created));
    let got = app.get(&path).await;
    check(&got.body, "get");
    let listed = app.get("/api/v1/records/project").await;
    check(&listed.body["data"][0], "list");

    // other wire forms of the same values are normalised
    let other = app
        .create(
            "project",
            &json!({
                "name": "Gemini",
                "ratio": 2.5,
                "budget": "99.9",
                "progress": 7,
                "review_at": "2026-03-31T17:30:00+08:00",
                "billable": true,
                "colours": ["blue", "red"],
                "contact_email": "Li.Na@Example.COM",
            }),
        )
        .await;
    assert_eq!(other["ratio"], "2.5000");
    assert_eq!(
        other["budget"],
        json!({"amount": "99.90", "currency": "CNY"})
    );
    assert_eq!(other["progress"], "7.00");
    assert_eq!(other["review_at"], "2026-03-31T09:30:00.000000Z");
    assert_eq!(other["billable"], true);
    assert_eq!(other["colours"], json!(["red", "blue"]));
    assert_eq!(other["contact_email"], "li.na@example.com");

    // filters work on custom fields of each kind
    for (filter, expected) in [
        ("headcount gt 9007199254740992", "Apollo 阿波罗"),
        ("ratio lt 3", "Gemini"),
        ("tier eq bronze", "Apollo 阿波罗"),
        ("billable eq false", "Apollo 阿波罗"),
        ("kickoff eq 2026-03-31", "Apollo 阿波罗"),
        (
            "review_at eq '2026-03-31T09:30:00.123456Z'",
            "Apollo 阿波罗",
        ),
        ("colours contains red", ""),
    ] {
        let r = app
            .get(&format!(
                "/api/v1/records/project?filter={}",
                urlencode(filter)
            ))
            .await;
        if r.status == 422 {
            // an operator a type does not take is named, never a 500
            assert!(expected.is_empty(), "{filter}: {}", r.text);
            continue;
        }
        r.assert_status(200);
        let got: Vec<&str> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        if !expected.is_empty() {
            assert_eq!(got, [expected], "{filter}");
        }
    }
    let r = app
        .get(&format!(
            "/api/v1/records/project?filter={}",
            urlencode(
                &json!({"field": "milestone_id", "op": "eq", "value": id_of(&milestone)})
                    .to_string()
            )
        ))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);

    // null clears every field
    let mut clear = serde_json::Map::new();
    for k in values.as_object().unwrap().keys().filter(|k| *k != "name") {
        clear.insert(k.clone(), Json::Null);
    }
    let r = app.patch(&path, &Json::Object(clear.clone())).await;
    r.assert_status(200);
    for k in clear.keys() {
        assert_eq!(r.body[k], Json::Null, "{k} not cleared: {}", r.text);
    }
    assert_eq!(app.get(&path).await.body, r.body);
}

#[tokio::test]
async fn field_options_are_enforced() {
    let app = TestApp::spawn().await;
    create_object(&app, "asset", "Asset", "Assets").await;
    for def in [
        json!({"api_name": "serial_no", "type": "text", "label": "Serial", "required": true, "unique": true, "pattern": "[A-Z]{3}-[0-9]+", "max_length": 12}),
        json!({"api_name": "status", "type": "picklist", "label": "Status", "values": ["in_use", "spare"], "default": "spare"}),
        json!({"api_name": "rating", "type": "integer", "label": "Rating", "min": 1, "max": 5, "default": 3}),
        json!({"api_name": "cost", "type": "decimal", "label": "Cost", "min": "0", "max": "10000.00"}),
        json!({"api_name": "insured", "type": "boolean", "label": "Insured", "default": false}),
    ] {
        add_field(&app, "asset", def).await;
    }
    let ok = app
        .create("asset", &json!({"name": "Laptop", "serial_no": "ABC-1"}))
        .await;
    assert_eq!(ok["status"], "spare", "picklist default");
    assert_eq!(ok["rating"], 3, "integer default");
    assert_eq!(ok["insured"], false, "boolean default");
    let explicit = app
        .create(
            "asset",
            &json!({"name": "Phone", "serial_no": "ABC-2", "status": "in_use", "rating": null}),
        )
        .await;
    assert_eq!(
        explicit["status"], "in_use",
        "a given value beats the default"
    );
    assert_eq!(
        explicit["rating"],
        Json::Null,
        "an explicit null beats the default"
    );

    let before = DbState::capture(&app, &["asset"]).await;
    for (body, field, code) in [
        (json!({"name": "x"}), "serial_no", "required"),
        (
            json!({"name": "x", "serial_no": "ABC-1"}),
            "serial_no",
            "duplicate",
        ),
        (
            json!({"name": "x", "serial_no": "abc-3"}),
            "serial_no",
            "pattern_mismatch",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-3 extra"}),
            "serial_no",
            "pattern_mismatch",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-1234567890"}),
            "serial_no",
            "too_long",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-4", "rating": 0}),
            "rating",
            "too_small",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-4", "rating": 6}),
            "rating",
            "too_large",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-4", "cost": "-0.01"}),
            "cost",
            "too_small",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-4", "cost": "10000.01"}),
            "cost",
            "too_large",
        ),
        (
            json!({"name": "x", "serial_no": "ABC-4", "cost": "1.001"}),
            "cost",
            "too_precise",
        ),
    ] {
        let r = app.post("/api/v1/records/asset", &body).await;
        assert_field_problem(&r, 422, field, code);
    }
    // on update too
    let r = app
        .patch(
            &format!("/api/v1/records/asset/{}", id_of(&ok)),
            &json!({"rating": 9, "serial_no": "ABC-2"}),
        )
        .await;
    assert_field_problem(&r, 422, "rating", "too_large");
    before.assert_unchanged(&app, "option violations").await;
    let r = app
        .patch(
            &format!("/api/v1/records/asset/{}", id_of(&ok)),
            &json!({"serial_no": "ABC-2"}),
        )
        .await;
    assert_field_problem(&r, 422, "serial_no", "duplicate");
    before.assert_unchanged(&app, "a duplicate on update").await;

    // option definitions are checked against the type
    for (def, bad) in [
        (
            json!({"api_name": "f1", "type": "integer", "label": "F", "default": "three"}),
            "default",
        ),
        (
            json!({"api_name": "f2", "type": "integer", "label": "F", "min": 5, "max": 1}),
            "min",
        ),
        (
            json!({"api_name": "f3", "type": "boolean", "label": "F", "max_length": 4}),
            "max_length",
        ),
        (
            json!({"api_name": "f4", "type": "text", "label": "F", "pattern": "(unclosed"}),
            "pattern",
        ),
        (
            json!({"api_name": "f5", "type": "picklist", "label": "F"}),
            "values",
        ),
        (
            json!({"api_name": "f6", "type": "picklist", "label": "F", "values": ["a", "a"]}),
            "values",
        ),
        (
            json!({"api_name": "f7", "type": "lookup", "label": "F"}),
            "target",
        ),
        (
            json!({"api_name": "f8", "type": "lookup", "label": "F", "target": "nowhere"}),
            "target",
        ),
        (
            json!({"api_name": "f9", "type": "text", "label": "F", "values": ["a"]}),
            "values",
        ),
        (
            json!({"api_name": "g1", "type": "long_text", "label": "F", "unique": true}),
            "unique",
        ),
        (
            json!({"api_name": "g2", "type": "text", "label": "F", "min": 1}),
            "min",
        ),
        (
            json!({"api_name": "g3", "type": "picklist", "label": "F", "values": ["a"], "default": "b"}),
            "default",
        ),
    ] {
        let r = app.post("/api/v1/meta/objects/asset/fields", &def).await;
        r.assert_problem(422, "validation_failed");
        assert!(
            r.error_fields().contains(&bad.to_owned()),
            "{def} should name {bad}: {}",
            r.text
        );
    }
    let meta = app.get("/api/v1/meta/objects/asset").await.body;
    for name in [
        "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "g1", "g2", "g3",
    ] {
        assert!(field(&meta, name).is_none(), "{name} was created");
    }
}

#[tokio::test]
async fn relabelling_a_field_keeps_its_data() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "account",
        json!({"api_name": "tax_id", "type": "text", "label": "Tax ID"}),
    )
    .await;
    let a = app
        .create("account", &json!({"name": "Acme", "tax_id": "91310000X"}))
        .await;
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/tax_id",
            &json!({"label": "统一社会信用代码"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["label"], "统一社会信用代码");
    assert_eq!(r.body["type"], "text");
    let meta = app.get("/api/v1/meta/objects/account").await.body;
    assert_eq!(field(&meta, "tax_id").unwrap()["label"], "统一社会信用代码");
    let got = app
        .get(&format!("/api/v1/records/account/{}", id_of(&a)))
        .await;
    assert_eq!(got.body, a, "relabelling touches no record");

    // standard fields can be relabelled too, but not retyped or renamed
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/industry",
            &json!({"label": "行业"}),
        )
        .await;
    r.assert_status(200);
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/tax_id",
            &json!({"type": "integer"}),
        )
        .await;
    assert_field_problem(&r, 422, "type", "read_only");
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/tax_id",
            &json!({"api_name": "vat_id"}),
        )
        .await;
    assert_field_problem(&r, 422, "api_name", "read_only");
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/id",
            &json!({"label": "Key"}),
        )
        .await;
    assert_field_problem(&r, 422, "id", "read_only");
    app.patch(
        "/api/v1/meta/objects/account/fields/nope",
        &json!({"label": "Nope"}),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_picklist_value_removed_from_the_list_becomes_inactive() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "account",
        json!({"api_name": "tier", "type": "picklist", "label": "Tier", "values": ["gold", "silver", "bronze"]}),
    )
    .await;
    let old = app
        .create("account", &json!({"name": "Old Co", "tier": "bronze"}))
        .await;
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/tier",
            &json!({"values": ["gold", "silver", "platinum"]}),
        )
        .await;
    r.assert_status(200);
    let values = r.body["values"].as_array().unwrap();
    let state: Vec<(String, bool)> = values
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap().to_owned(),
                v["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("gold".to_owned(), true),
            ("silver".to_owned(), true),
            ("platinum".to_owned(), true),
            ("bronze".to_owned(), false)
        ]
    );

    // existing records keep it, and can still be found by it
    let path = format!("/api/v1/records/account/{}", id_of(&old));
    assert_eq!(app.get(&path).await.body["tier"], "bronze");
    let r = app
        .get(&format!(
            "/api/v1/records/account?filter={}",
            urlencode("tier eq bronze")
        ))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // other fields of such a record can still change
    let r = app.patch(&path, &json!({"city": "上海"})).await;
    r.assert_status(200);
    assert_eq!(r.body["tier"], "bronze");

    // new writes with it fail
    let before = DbState::capture(&app, &["account"]).await;
    let r = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "New Co", "tier": "bronze"}),
        )
        .await;
    assert_field_problem(&r, 422, "tier", "inactive_picklist_value");
    let other = app.create("account", &json!({"name": "Other"})).await;
    let before_patch = DbState::capture(&app, &["account"]).await;
    let r = app
        .patch(
            &format!("/api/v1/records/account/{}", id_of(&other)),
            &json!({"tier": "bronze"}),
        )
        .await;
    assert_field_problem(&r, 422, "tier", "inactive_picklist_value");
    before_patch
        .assert_unchanged(&app, "an inactive value")
        .await;
    assert_eq!(count(&app, "account").await, 2);
    drop(before);
    app.create("account", &json!({"name": "New Co", "tier": "platinum"}))
        .await;

    // an explicit active: false works the same way, and reactivating brings it back
    let r = app
        .patch(
            "/api/v1/meta/objects/account/fields/tier",
            &json!({"values": ["gold", {"value": "silver", "active": false}, "platinum", "bronze"]}),
        )
        .await;
    r.assert_status(200);
    let r = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "Silver Co", "tier": "silver"}),
        )
        .await;
    assert_field_problem(&r, 422, "tier", "inactive_picklist_value");
    app.create("account", &json!({"name": "Bronze Co", "tier": "bronze"}))
        .await;
}

#[tokio::test]
async fn deleting_a_field_archives_it_and_keeps_the_data() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "contact",
        json!({"api_name": "wechat_id", "type": "text", "label": "WeChat", "filterable": true}),
    )
    .await;
    let c = app
        .create(
            "contact",
            &json!({"name": "张伟", "wechat_id": "zhangwei88"}),
        )
        .await;
    let path = format!("/api/v1/records/contact/{}", id_of(&c));
    app.delete("/api/v1/meta/objects/contact/fields/wechat_id")
        .await
        .assert_status(204);

    // hidden everywhere
    let meta = app.get("/api/v1/meta/objects/contact").await.body;
    assert!(field(&meta, "wechat_id").is_none(), "still in metadata");
    let list = app.get("/api/v1/meta/objects").await;
    assert!(!list.text.contains("wechat_id"), "still in the object list");
    let got = app.get(&path).await;
    got.assert_status(200);
    assert!(got.body.get("wechat_id").is_none(), "{}", got.text);
    assert_eq!(got.body["name"], "张伟");
    let listed = app.get("/api/v1/records/contact").await;
    assert!(listed.body["data"][0].get("wechat_id").is_none());
    // and unusable
    let before = DbState::capture(&app, &["contact"]).await;
    let r = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "李娜", "wechat_id": "lina"}),
        )
        .await;
    assert_field_problem(&r, 422, "wechat_id", "unknown_field");
    let r = app.patch(&path, &json!({"wechat_id": "other"})).await;
    assert_field_problem(&r, 422, "wechat_id", "unknown_field");
    let r = app
        .get(&format!(
            "/api/v1/records/contact?filter={}",
            urlencode("wechat_id eq zhangwei88")
        ))
        .await;
    assert_field_problem(&r, 422, "wechat_id", "unknown_field");
    before
        .assert_unchanged(&app, "writes to an archived field")
        .await;
    // deleting again: it is gone
    app.delete("/api/v1/meta/objects/contact/fields/wechat_id")
        .await
        .assert_problem(404, "not_found");
    // the name stays taken while the data is kept
    let r = app
        .post(
            "/api/v1/meta/objects/contact/fields",
            &json!({"api_name": "wechat_id", "type": "text", "label": "WeChat"}),
        )
        .await;
    assert_field_problem(&r, 422, "api_name", "already_exists");

    // the data is still in the column
    assert_eq!(
        raw_column(&app, "contact", "wechat_id", &id_of(&c)).await,
        Some(SqlValue::Text("zhangwei88".into()))
    );

    // purging drops it; then the name is free again and starts empty
    app.send(
        reqwest::Method::DELETE,
        "/api/v1/meta/objects/contact/fields/wechat_id?purge=true",
        None,
        &[],
    )
    .await
    .assert_status(204);
    add_field(
        &app,
        "contact",
        json!({"api_name": "wechat_id", "type": "text", "label": "WeChat"}),
    )
    .await;
    assert_eq!(app.get(&path).await.body["wechat_id"], Json::Null);
}

#[tokio::test]
async fn standard_and_system_fields_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    create_object(&app, "project", "Project", "Projects").await;
    let account_before = app.get("/api/v1/meta/objects/account").await.body;
    for (object, f) in [
        ("account", "name"),
        ("account", "industry"),
        ("account", "id"),
        ("account", "owner_id"),
        ("contact", "email"),
        ("project", "name"),
        ("project", "created_at"),
    ] {
        let r = app
            .delete(&format!("/api/v1/meta/objects/{object}/fields/{f}"))
            .await;
        assert_field_problem(&r, 422, f, "read_only");
    }
    app.delete("/api/v1/meta/objects/account/fields/no_such_field")
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/api/v1/meta/objects/account").await.body,
        account_before
    );
}

#[tokio::test]
async fn a_duplicate_field_name_already_exists() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "lead",
        json!({"api_name": "budget", "type": "currency", "label": "Budget"}),
    )
    .await;
    let meta = app.get("/api/v1/meta/objects/lead").await.body;
    for def in [
        json!({"api_name": "budget", "type": "text", "label": "Budget again"}),
        json!({"api_name": "company", "type": "text", "label": "Standard name"}),
        // the hidden currency-code column of `budget`
        json!({"api_name": "budget_currency", "type": "text", "label": "Clash"}),
    ] {
        let r = app.post("/api/v1/meta/objects/lead/fields", &def).await;
        assert_field_problem(&r, 422, "api_name", "already_exists");
    }
    assert_eq!(app.get("/api/v1/meta/objects/lead").await.body, meta);
}

#[tokio::test]
async fn making_a_field_unique_over_duplicate_data_is_refused() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "contact",
        json!({"api_name": "employee_no", "type": "text", "label": "Employee no."}),
    )
    .await;
    app.create("contact", &json!({"name": "张伟", "employee_no": "E1"}))
        .await;
    app.create("contact", &json!({"name": "张伟明", "employee_no": "E1"}))
        .await;
    app.create("contact", &json!({"name": "李娜", "employee_no": "E2"}))
        .await;
    let r = app
        .patch(
            "/api/v1/meta/objects/contact/fields/employee_no",
            &json!({"unique": true}),
        )
        .await;
    assert_field_problem(&r, 422, "unique", "duplicate");
    let meta = app.get("/api/v1/meta/objects/contact").await.body;
    assert_eq!(field(&meta, "employee_no").unwrap()["unique"], false);
    // still not unique: another duplicate is accepted
    app.create("contact", &json!({"name": "王芳", "employee_no": "E2"}))
        .await;
    assert_eq!(count(&app, "contact").await, 4);

    // once the data is clean it can be made unique, and then it is enforced
    add_field(
        &app,
        "contact",
        json!({"api_name": "badge_no", "type": "text", "label": "Badge no."}),
    )
    .await;
    let r = app
        .patch(
            "/api/v1/meta/objects/contact/fields/badge_no",
            &json!({"unique": true}),
        )
        .await;
    r.assert_status(200);
    app.create("contact", &json!({"name": "赵强", "badge_no": "B1"}))
        .await;
    let r = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "孙丽", "badge_no": "B1"}),
        )
        .await;
    assert_field_problem(&r, 422, "badge_no", "duplicate");
}

#[tokio::test]
async fn unique_fields_with_long_names_are_each_enforced() {
    // Index names join the table and column names; PostgreSQL cuts identifiers at 63 bytes,
    // so two long names sharing a prefix must still get two distinct unique indexes.
    let app = TestApp::spawn().await;
    let object = "customer_contract_registration_archive"; // 38 characters
    create_object(&app, object, "Contract", "Contracts").await;
    let a = "external_reference_number_primary";
    let b = "external_reference_number_secondary";
    for f in [a, b] {
        add_field(
            &app,
            object,
            json!({"api_name": f, "type": "text", "label": f, "unique": true}),
        )
        .await;
    }
    app.create(object, &json!({"name": "one", a: "A1", b: "B1"}))
        .await;
    let before = DbState::capture(&app, &[object]).await;
    let r = app
        .post(
            &format!("/api/v1/records/{object}"),
            &json!({"name": "two", a: "A2", b: "B1"}),
        )
        .await;
    assert_field_problem(&r, 422, b, "duplicate");
    let r = app
        .post(
            &format!("/api/v1/records/{object}"),
            &json!({"name": "three", a: "A1", b: "B3"}),
        )
        .await;
    assert_field_problem(&r, 422, a, "duplicate");
    before
        .assert_unchanged(&app, "duplicates on long-named fields")
        .await;
}

/// Notes attach to records of any object: a custom object gets its lookup on note when it is
/// created, so its records have notes on their timeline like accounts do.
#[tokio::test]
async fn a_custom_objects_records_take_notes() {
    let app = TestApp::spawn().await;
    common::create_object(&app, "project", "Project", "Projects").await;
    let note = app.get("/api/v1/meta/objects/note").await;
    assert!(note.text.contains("\"project_id\""), "{}", note.text);
    let project = app
        .create("project", &serde_json::json!({"name": "ERP 上线"}))
        .await;
    let id = project["id"].as_str().unwrap();
    app.create(
        "note",
        &serde_json::json!({"title": "启动会纪要", "body": "范围已确认", "project_id": id}),
    )
    .await;
    let timeline = app
        .get(&format!("/api/v1/records/project/{id}/timeline"))
        .await;
    timeline.assert_status(200);
    assert!(timeline.text.contains("启动会纪要"), "{}", timeline.text);
}
