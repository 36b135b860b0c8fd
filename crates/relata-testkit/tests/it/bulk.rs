//! Bulk upsert: thousands of records per call, matched by a unique field or the id, with a
//! result per record; all-or-nothing writes none when one fails, per-record writes the rest.

use crate::common;

use common::{DbState, add_field, assert_field_problem, assert_no_leak, count, last_seq};
use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

fn products(n: usize, tag: &str) -> Vec<Json> {
    (0..n)
        .map(|i| {
            let family = ["software", "hardware", "service"][i % 3];
            json!({
                "sku": format!("SKU-{i:05}"),
                "name": format!("产品 {i} {tag}"),
                "family": family,
                "list_price": {"amount": format!("{}.{:02}", i, i % 100), "currency": "CNY"},
            })
        })
        .collect()
}

async fn bulk(app: &TestApp, object: &str, body: &Json) -> relata_testkit::Resp {
    app.post(&format!("/api/v1/records/{object}/bulk"), body)
        .await
}

fn statuses(r: &relata_testkit::Resp) -> Vec<String> {
    r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| x["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn five_thousand_records_in_one_call_then_an_upsert_of_the_same() {
    let app = TestApp::spawn().await;
    let seq = last_seq(&app).await;
    let records = products(5000, "v1");
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "mode": "all_or_nothing", "records": records}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 5000, "{}", &r.text[..300]);
    assert_eq!(r.body["updated"], 0);
    assert_eq!(r.body["unchanged"], 0);
    assert_eq!(r.body["failed"], 0);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5000);
    for (i, res) in results.iter().enumerate() {
        assert_eq!(res["index"], i);
        assert_eq!(res["status"], "created");
        assert!(res["id"].is_string());
    }
    assert_eq!(count(&app, "product").await, 5000);
    assert_eq!(last_seq(&app).await - seq, 5000, "one event per record");

    // a record reads back as sent
    let one = app
        .get(&format!(
            "/api/v1/records/product/{}",
            results[1234]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one.body["sku"], "SKU-01234");
    assert_eq!(one.body["name"], "产品 1234 v1");
    assert_eq!(one.body["family"], "hardware");
    assert_eq!(
        one.body["list_price"],
        json!({"amount": "1234.34", "currency": "CNY"})
    );
    assert_eq!(one.body["active"], true, "defaults apply in bulk");

    // the same again with every fifth name changed and ten new records
    let mut again = products(5010, "v1");
    for (i, rec) in again.iter_mut().enumerate() {
        if i % 5 == 0 {
            rec["name"] = json!(format!("产品 {i} v2"));
        }
    }
    let seq = last_seq(&app).await;
    let r = bulk(&app, "product", &json!({"key": "sku", "records": again})).await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 10);
    assert_eq!(r.body["updated"], 1000);
    assert_eq!(r.body["unchanged"], 4000);
    assert_eq!(r.body["failed"], 0);
    let st = statuses(&r);
    assert_eq!(st[0], "updated");
    assert_eq!(st[1], "unchanged");
    assert_eq!(st[4995], "updated");
    assert_eq!(st[5001], "created");
    assert_eq!(st[5005], "created");
    // the updated record kept its id
    assert_eq!(r.body["results"][1234]["id"], results[1234]["id"]);
    assert_eq!(count(&app, "product").await, 5010);
    assert_eq!(
        last_seq(&app).await - seq,
        1010,
        "events only for real changes"
    );
    let changed = app
        .get(&format!(
            "/api/v1/records/product/{}",
            results[1235]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(changed.body["name"], "产品 1235 v2");
    assert_eq!(changed.body["version"], 2);
    assert_eq!(
        app.get(&format!(
            "/api/v1/records/product/{}",
            results[1234]["id"].as_str().unwrap()
        ))
        .await
        .body["version"],
        1,
        "an unchanged record keeps its version"
    );
}

#[tokio::test]
async fn one_bad_record_among_thousands_writes_none_in_all_or_nothing() {
    let app = TestApp::spawn().await;
    let mut records = products(3000, "v1");
    records[2345]["name"] = Json::Null;
    records[2345]["family"] = json!("furniture");
    let before = DbState::capture(&app, &["product"]).await;
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "mode": "all_or_nothing", "records": records}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_no_leak(&r);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["records[2345].family", "records[2345].name"]);
    assert_eq!(
        r.error_code("records[2345].name").as_deref(),
        Some("required")
    );
    assert_eq!(
        r.error_code("records[2345].family").as_deref(),
        Some("unknown_picklist_value")
    );
    // the per-record outcome is attached: one failed, the rest skipped
    assert_eq!(r.body["result"]["failed"], 1);
    assert_eq!(r.body["result"]["created"], 0);
    let st = r.body["result"]["results"].as_array().unwrap();
    assert_eq!(st[2345]["status"], "failed");
    assert_eq!(st[0]["status"], "skipped");
    before
        .assert_unchanged(&app, "an all-or-nothing bulk call with a bad record")
        .await;
    assert_eq!(count(&app, "product").await, 0);

    // a failure only the database sees (a lookup to nothing) also writes none
    let mut contacts: Vec<Json> = (0..500)
        .map(|i| json!({"name": format!("联系人 {i}")}))
        .collect();
    contacts[499]["account_id"] = json!(uuid::Uuid::new_v4().to_string());
    let r = bulk(&app, "contact", &json!({"key": "id", "records": contacts})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.error_fields(), ["records[499].account_id"]);
    assert_eq!(count(&app, "contact").await, 0);
}

#[tokio::test]
async fn a_duplicate_found_only_by_the_database_rolls_back_all_or_nothing() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "product",
        json!({"api_name": "barcode", "type": "text", "label": "Barcode", "unique": true}),
    )
    .await;
    // two different skus, one barcode: only the unique index can tell
    let records = vec![
        json!({"sku": "A", "name": "A", "barcode": "6901234567892"}),
        json!({"sku": "B", "name": "B"}),
        json!({"sku": "C", "name": "C", "barcode": "6901234567892"}),
    ];
    let before = DbState::capture(&app, &["product"]).await;
    let r = bulk(&app, "product", &json!({"key": "sku", "records": records})).await;
    r.assert_problem(422, "validation_failed");
    assert_no_leak(&r);
    assert_eq!(r.error_fields(), ["records[2].barcode"], "{}", r.text);
    assert_eq!(
        r.error_code("records[2].barcode").as_deref(),
        Some("duplicate")
    );
    before.assert_unchanged(&app, "a bulk duplicate").await;

    // per record: the two good ones land
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "mode": "per_record", "records": records}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(statuses(&r), ["created", "created", "failed"]);
    assert_eq!(r.body["results"][2]["errors"][0]["field"], "barcode");
    assert_eq!(count(&app, "product").await, 2);
}

#[tokio::test]
async fn per_record_mode_writes_the_good_ones() {
    let app = TestApp::spawn().await;
    let mut records = products(2000, "v1");
    records[7]["list_price"] = json!({"amount": "abc"});
    records[1500]["sku"] = json!(12345);
    records[1999]["colour"] = json!("red");
    let seq = last_seq(&app).await;
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "mode": "per_record", "records": records}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 1997);
    assert_eq!(r.body["failed"], 3);
    let results = r.body["results"].as_array().unwrap();
    for (i, field, code) in [
        (7, "list_price", "wrong_type"),
        (1500, "sku", "wrong_type"),
        (1999, "colour", "unknown_field"),
    ] {
        assert_eq!(results[i]["status"], "failed", "{}", results[i]);
        assert!(results[i].get("id").is_none());
        assert_eq!(results[i]["errors"][0]["field"], field, "{}", results[i]);
        assert_eq!(results[i]["errors"][0]["code"], code, "{}", results[i]);
    }
    assert_eq!(results[8]["status"], "created");
    assert_eq!(count(&app, "product").await, 1997);
    assert_eq!(last_seq(&app).await - seq, 1997);
    // the failed ones are really absent
    let r = app
        .get(&format!(
            "/api/v1/records/product?filter={}&count=true",
            common::urlencode("sku in ('SKU-00007', 'SKU-01999')")
        ))
        .await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
}

#[tokio::test]
async fn upsert_by_id_updates_known_ids_and_creates_the_rest() {
    let app = TestApp::spawn().await;
    let a = app.create("account", &json!({"name": "Acme"})).await;
    let b = app.create("account", &json!({"name": "Globex"})).await;
    let new_id = uuid::Uuid::now_v7().to_string();
    let r = bulk(
        &app,
        "account",
        &json!({"key": "id", "records": [
            {"id": a["id"], "name": "Acme Ltd"},
            {"id": b["id"], "name": "Globex"},
            {"name": "Initech"},
            {"id": new_id, "name": "Umbrella"},
        ]}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(statuses(&r), ["updated", "unchanged", "created", "created"]);
    assert_eq!(r.body["results"][0]["id"], a["id"]);
    assert_eq!(
        r.body["results"][3]["id"],
        new_id.as_str(),
        "a given id is kept"
    );
    assert_eq!(count(&app, "account").await, 4);
    let got = app
        .get(&format!(
            "/api/v1/records/account/{}",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got.body["name"], "Acme Ltd");
    assert_eq!(got.body["version"], 2);
    // ids that are not ids
    let r = bulk(
        &app,
        "account",
        &json!({"key": "id", "records": [{"id": "not-a-uuid", "name": "X"}]}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.error_fields(), ["records[0].id"]);
    assert_eq!(count(&app, "account").await, 4);
}

#[tokio::test]
async fn repeated_keys_in_one_call_update_the_first() {
    let app = TestApp::spawn().await;
    let r = bulk(
        &app,
        "product",
        &json!({"key": "sku", "records": [
            {"sku": "W-1", "name": "Widget"},
            {"sku": "W-1", "name": "Widget v2"},
        ]}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(statuses(&r), ["created", "updated"]);
    assert_eq!(r.body["results"][0]["id"], r.body["results"][1]["id"]);
    assert_eq!(count(&app, "product").await, 1);
}

#[tokio::test]
async fn a_custom_object_upserts_by_its_external_id() {
    let app = TestApp::spawn().await;
    common::create_object(&app, "supplier", "Supplier", "Suppliers").await;
    add_field(
        &app,
        "supplier",
        json!({"api_name": "external_id", "type": "text", "label": "External id", "unique": true}),
    )
    .await;
    let records: Vec<Json> = (0..1000)
        .map(|i| json!({"external_id": format!("ERP-{i}"), "name": format!("供应商 {i}")}))
        .collect();
    let r = bulk(
        &app,
        "supplier",
        &json!({"key": "external_id", "records": records}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 1000);
    let r = bulk(
        &app,
        "supplier",
        &json!({"key": "external_id", "records": [{"external_id": "ERP-5", "name": "供应商 五"}]}),
    )
    .await;
    assert_eq!(statuses(&r), ["updated"]);
    assert_eq!(count(&app, "supplier").await, 1000);
}

#[tokio::test]
async fn a_key_that_is_not_unique_or_unknown_is_refused() {
    let app = TestApp::spawn().await;
    let before = DbState::capture(&app, &["contact"]).await;
    let records = vec![json!({"name": "张伟", "email": "zw@example.com"})];
    let r = bulk(
        &app,
        "contact",
        &json!({"key": "email", "records": records}),
    )
    .await;
    assert_field_problem(&r, 422, "key", "invalid_option");
    let r = bulk(
        &app,
        "contact",
        &json!({"key": "wechat", "records": records}),
    )
    .await;
    assert_field_problem(&r, 422, "key", "unknown_field");
    let r = bulk(
        &app,
        "contact",
        &json!({"key": "id", "mode": "sometimes", "records": records}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_no_leak(&r);
    let r = bulk(&app, "contact", &json!({"records": records})).await;
    assert_eq!(r.status, 400, "a key is required: {}", r.text);
    before.assert_unchanged(&app, "bad bulk keys").await;
}

#[tokio::test]
async fn more_than_the_limit_is_refused_whole() {
    let app = TestApp::spawn().await;
    let records: Vec<Json> = (0..10_001)
        .map(|i| json!({"name": format!("A{i}")}))
        .collect();
    let before = DbState::capture(&app, &["account"]).await;
    let r = bulk(&app, "account", &json!({"key": "id", "records": records})).await;
    assert_field_problem(&r, 422, "records", "too_large");
    before
        .assert_unchanged(&app, "an oversized bulk call")
        .await;
    // exactly the limit is fine
    let records: Vec<Json> = (0..10_000)
        .map(|i| json!({"name": format!("A{i}")}))
        .collect();
    let r = bulk(&app, "account", &json!({"key": "id", "records": records})).await;
    r.assert_status(200);
    assert_eq!(r.body["created"], 10_000);
    assert_eq!(count(&app, "account").await, 10_000);
}

#[tokio::test]
async fn concurrent_upserts_of_the_same_keys_all_succeed_and_leave_one_record_per_key() {
    // On PostgreSQL two transactions can both find a key missing (the second insert then
    // breaks the unique index) or both read a record (the second update finds its version
    // gone); the server runs such a call again, or (per record) makes the losing create an
    // update, instead of refusing it. SQLite serialises writers and never races.
    for mode in ["all_or_nothing", "per_record"] {
        // A database each: the first round's creates are where the races are.
        let app = TestApp::spawn().await;
        racing_upserts(&app, mode).await;
        assert_eq!(count(&app, "product").await, 200, "{mode}");
    }
}

/// Four clients upsert the same 200 keys at once, three times over: every record of every
/// call must be written.
async fn racing_upserts(app: &TestApp, mode: &str) {
    let bodies: Vec<Json> = (0..4)
        .map(|c| {
            json!({"key": "sku", "mode": mode,
                   "records": products(200, &format!("{mode} client {c}"))})
        })
        .collect();
    for round in 0..3 {
        let (a, b, c, d) = tokio::join!(
            bulk(app, "product", &bodies[0]),
            bulk(app, "product", &bodies[1]),
            bulk(app, "product", &bodies[2]),
            bulk(app, "product", &bodies[3]),
        );
        for r in [&a, &b, &c, &d] {
            let text = &r.text[..r.text.len().min(400)];
            assert_eq!(r.status, 200, "{mode} round {round}: {text}");
            assert_eq!(r.body["failed"], 0, "{mode} round {round}: {text}");
        }
    }
}
