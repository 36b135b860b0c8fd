//! Disagreements the filter property test (`filter_property/`) found between SQL and the
//! in-memory evaluator, or between the backends, each pinned through the real server on
//! whichever backend the test kit runs.

use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

async fn object_with(app: &TestApp, fields: Json) {
    app.post(
        "/api/v1/meta/objects",
        &json!({"api_name": "gadget", "label": "Gadget", "plural_label": "Gadgets"}),
    )
    .await
    .assert_status(201);
    for f in fields.as_array().unwrap() {
        app.post("/api/v1/meta/objects/gadget/fields", f)
            .await
            .assert_status(201);
    }
}

async fn names(app: &TestApp, filter: &str) -> Vec<String> {
    let url = reqwest::Url::parse_with_params(
        &app.url("/api/v1/records/gadget"),
        &[("filter", filter), ("sort", "name")],
    )
    .unwrap();
    let r = app
        .get(&format!("{}?{}", url.path(), url.query().unwrap()))
        .await;
    r.assert_status(200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// SQLite keeps dates as fixed-width text: a datetime in year 10000 UTC was stored as
/// "+10000-…", which sorted first and could not be read back, so every list of the object
/// failed; a relative operand such as "+9000y" compared as text before every stored date,
/// and "-100000m" was a 500 on PostgreSQL (before 4713 BC).
#[tokio::test]
async fn dates_stay_within_four_digit_years() {
    let app = TestApp::spawn().await;
    object_with(
        &app,
        json!([{"api_name": "due", "type": "date", "label": "Due"},
               {"api_name": "seen_at", "type": "datetime", "label": "Seen at"}]),
    )
    .await;
    let r = app
        .post(
            "/api/v1/records/gadget",
            &json!({"name": "late", "seen_at": "9999-12-31T20:00:00-05:00"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.error_code("seen_at").as_deref(), Some("invalid_datetime"));
    let r = app
        .post(
            "/api/v1/records/gadget",
            &json!({"name": "early", "due": "-001-01-01"}),
        )
        .await;
    assert_eq!(r.error_code("due").as_deref(), Some("invalid_date"));

    app.create(
        "gadget",
        &json!({"name": "last", "due": "9999-12-31", "seen_at": "9999-12-31T23:59:59.999999Z"}),
    )
    .await;
    app.create(
        "gadget",
        &json!({"name": "first", "due": "0001-01-01", "seen_at": "0001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(names(&app, "due lt +7000y").await, ["first"]);
    assert_eq!(names(&app, "seen_at gt -2000y").await, ["last"]);
    for (filter, field, code) in [
        ("due lt +9000y", "due", "invalid_date"),
        ("due gt -100000m", "due", "invalid_date"),
        ("seen_at lt +100000y", "seen_at", "invalid_datetime"),
    ] {
        let url = reqwest::Url::parse_with_params(
            &app.url("/api/v1/records/gadget"),
            &[("filter", filter)],
        )
        .unwrap();
        let r = app
            .get(&format!("{}?{}", url.path(), url.query().unwrap()))
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.error_code(field).as_deref(), Some(code), "{filter}");
    }
}

/// SQLite stores a decimal times 10^scale in 64 bits: with 8 places, 999,999,999,999,999
/// did not fit and was silently saturated to 92,233,720,368.54775807, so equal filters
/// matched different records in SQL and in memory.
#[tokio::test]
async fn decimals_with_many_places_are_exact_or_refused() {
    let app = TestApp::spawn().await;
    object_with(
        &app,
        json!([{"api_name": "fine", "type": "decimal", "label": "Fine", "scale": 8}]),
    )
    .await;
    let r = app
        .post(
            "/api/v1/records/gadget",
            &json!({"name": "huge", "fine": "100000000000"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.error_code("fine").as_deref(), Some("too_large"));

    let big = app
        .create(
            "gadget",
            &json!({"name": "big", "fine": "9999999999.99999999"}),
        )
        .await;
    assert_eq!(big["fine"], "9999999999.99999999");
    app.create(
        "gadget",
        &json!({"name": "small", "fine": "-9999999999.99999999"}),
    )
    .await;
    assert_eq!(names(&app, "fine eq '9999999999.99999999'").await, ["big"]);
    assert_eq!(names(&app, "fine gt '9999999999.99999998'").await, ["big"]);
    assert_eq!(names(&app, "fine lt 0").await, ["small"]);
}

/// PostgreSQL cannot hold U+0000 in text: writing, filtering or naming metadata with it was a
/// 500 there and worked on SQLite.
#[tokio::test]
async fn nul_characters_are_a_validation_error_on_both_backends() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/v1/records/account", &json!({"name": "a\u{0}b"}))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.error_code("name").as_deref(), Some("wrong_type"));
    for filter in [
        json!({"field": "name", "op": "eq", "value": "a\u{0}b"}),
        json!({"field": "name", "op": "contains", "value": "\u{0}"}),
        json!({"field": "name", "op": "in", "value": ["x", "\u{0}"]}),
    ] {
        let url = reqwest::Url::parse_with_params(
            &app.url("/api/v1/records/account"),
            &[("filter", filter.to_string())],
        )
        .unwrap();
        let r = app
            .get(&format!("{}?{}", url.path(), url.query().unwrap()))
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            r.error_code("name").as_deref(),
            Some("wrong_type"),
            "{filter}"
        );
    }
    // metadata too: labels, picklist values and patterns
    let r = app
        .post(
            "/api/v1/meta/objects",
            &json!({"api_name": "gadget", "label": "G\u{0}", "plural_label": "Gs"}),
        )
        .await;
    assert_eq!(r.error_code("label").as_deref(), Some("invalid_option"));
    for (field, body) in [
        (
            "values",
            json!({"api_name": "tier", "type": "picklist", "label": "Tier", "values": ["a\u{0}b"]}),
        ),
        (
            "values",
            json!({"api_name": "tier", "type": "picklist", "label": "Tier",
                   "values": [{"value": "a", "label": "A\u{0}"}]}),
        ),
        (
            "pattern",
            json!({"api_name": "code", "type": "text", "label": "Code", "pattern": "a\u{0}"}),
        ),
    ] {
        let r = app.post("/api/v1/meta/objects/account/fields", &body).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            r.error_code(field).as_deref(),
            Some("invalid_option"),
            "{body}"
        );
    }
}
