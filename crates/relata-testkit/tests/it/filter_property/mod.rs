//! DESIGN principle 4 as a property: a filter compiled to SQL and run by the database selects
//! exactly the records that `TypedFilter::matches` accepts in memory — over random records
//! and random filters, on whichever backend the test kit runs (SQLite, or PostgreSQL with
//! `RELATA_TEST_POSTGRES_URL`). And the compact query-string form parses to the same filter
//! as the JSON form.

mod compact_text;
mod paging;
mod strategies;
mod world;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value as Json;

use relata_core::CoreError;
use relata_domain::filter::{Filter, compact, json as filter_json, type_filter};

use compact_text::{Choices, render};
use world::{OBJECT, World, list_all, now};

const RECORDS: usize = 300;
/// Filters per run and backend; `PROPTEST_CASES` overrides it for a deeper search.
const FILTERS: u32 = 512;

fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    }
}

#[derive(Default)]
struct Tally {
    compared: usize,
    refused: usize,
    over_http: usize,
    /// How many records each accepted filter selected, bucketed: none, some, all.
    sizes: BTreeMap<&'static str, usize>,
}

#[test]
fn sql_selects_exactly_what_matches_in_memory() {
    let mut runner = TestRunner::new(config(FILTERS));
    let world = World::build(&mut runner, RECORDS);
    let strategy = (
        strategies::filter(&world.object, &world.records),
        paging::paging(),
    );
    let tally = RefCell::new(Tally::default());
    let result = runner.run(&strategy, |(json, paging)| {
        check_filter(&world, &json, &paging, &tally)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner();
    eprintln!(
        "{} backend: {} filters compared ({} also over HTTP), {} refused by both; selections {:?}",
        world.app.backend(),
        t.compared,
        t.over_http,
        t.refused,
        t.sizes
    );
    // The generator must mostly produce valid filters that split the records.
    assert!(t.compared * 2 > t.compared + t.refused, "too many refused");
    assert!(t.sizes.get("some").copied().unwrap_or(0) * 3 > t.compared);
}

fn check_filter(
    world: &World,
    json: &Json,
    paging: &paging::Paging,
    tally: &RefCell<Tally>,
) -> Result<(), TestCaseError> {
    let filter = filter_json::parse(json)
        .map_err(|e| TestCaseError::fail(format!("generated an unparsable filter: {e:?}")))?;
    let typed = type_filter(&filter, &world.object, now(), &|_| true);
    let listed = world
        .rt
        .block_on(list_all(&world.app, &world.actor, Some(filter)));
    let (typed, listed) = match (typed, listed) {
        (Err(_), Err(CoreError::Validation(_))) => {
            tally.borrow_mut().refused += 1;
            return Ok(());
        }
        (Err(e), other) => {
            return Err(TestCaseError::fail(format!(
                "typing refused {json} ({e:?}) but the list gave {other:?}"
            )));
        }
        (Ok(_), Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "the list failed for {json}: {e:?}"
            )));
        }
        (Ok(t), Ok(l)) => (t, l),
    };
    let in_memory: BTreeSet<String> = world
        .records
        .iter()
        .filter(|r| typed.matches(r))
        .map(id_of)
        .collect();
    let in_sql: BTreeSet<String> = listed.iter().map(id_of).collect();
    if in_memory != in_sql {
        return Err(TestCaseError::fail(disagreement(
            world, json, &in_memory, &in_sql,
        )));
    }
    let mut t = tally.borrow_mut();
    t.compared += 1;
    let bucket = match in_sql.len() {
        0 => "none",
        n if n == world.records.len() => "all",
        _ => "some",
    };
    *t.sizes.entry(bucket).or_default() += 1;
    // Every fourth filter also goes through the API: in the JSON form, sorted and paged to
    // the end, and (when it has one) in the compact form.
    if t.compared.is_multiple_of(4) {
        t.over_http += 1;
        drop(t);
        let (field, paged) =
            world
                .rt
                .block_on(paging::list_paged(world, &json.to_string(), paging))?;
        let selected: Vec<&relata_domain::Record> =
            world.records.iter().filter(|r| typed.matches(r)).collect();
        let expected = paging::expected_order(&selected, &field, paging.descending);
        prop_assert_eq!(
            &paged,
            &expected,
            "JSON filter over HTTP: {}, sorted by {} (descending: {})",
            json,
            field,
            paging.descending
        );
        if !contains_object(json) {
            let parsed =
                filter_json::parse(json).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let text = render(&parsed, &mut Choices::new(in_sql.len() as u64 + 7));
            let by_compact = world.rt.block_on(list_over_http(world, &text))?;
            prop_assert_eq!(
                &by_compact,
                &in_memory,
                "compact filter over HTTP: {}",
                text
            );
        }
    }
    Ok(())
}

fn id_of(r: &relata_domain::Record) -> String {
    r.id().map(|u| u.to_string()).unwrap_or_default()
}

fn contains_object(j: &Json) -> bool {
    match j {
        Json::Object(m) if m.contains_key("field") => m.get("value").is_some_and(contains_object),
        Json::Object(_) => true,
        Json::Array(items) => items.iter().any(contains_object),
        _ => false,
    }
}

async fn list_over_http(world: &World, filter: &str) -> Result<BTreeSet<String>, TestCaseError> {
    let url = reqwest::Url::parse_with_params(
        &world.app.url(&format!("/api/v1/records/{OBJECT}")),
        &[("filter", filter), ("limit", "1000")],
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let r = world.app.get(&path).await;
    if r.status != 200 {
        return Err(TestCaseError::fail(format!(
            "GET {path} answered {}: {}",
            r.status, r.text
        )));
    }
    Ok(r.body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// A readable account of a disagreement: the filter and the records only one side selected.
fn disagreement(
    world: &World,
    json: &Json,
    in_memory: &BTreeSet<String>,
    in_sql: &BTreeSet<String>,
) -> String {
    let show = |ids: Vec<&String>| -> Vec<Json> {
        world
            .records
            .iter()
            .filter(|r| ids.contains(&&id_of(r)))
            .take(3)
            .map(|r| r.to_json(&world.object, None))
            .collect()
    };
    let only_memory: Vec<&String> = in_memory.difference(in_sql).collect();
    let only_sql: Vec<&String> = in_sql.difference(in_memory).collect();
    format!(
        "on {}: filter {json}\n{} only in memory, e.g. {:#?}\n{} only in SQL, e.g. {:#?}",
        world.app.backend(),
        only_memory.len(),
        show(only_memory.clone()),
        only_sql.len(),
        show(only_sql.clone()),
    )
}

// ---- the compact form ----

/// Random filters over random (valid) field names and any values the compact form can write.
fn any_filter() -> impl Strategy<Value = Json> {
    let field = prop_oneof![
        proptest::sample::select(vec!["name", "amount", "stage", "owner_id", "城市"])
            .prop_map(str::to_owned),
        "[a-z][a-z0-9_]{0,12}",
    ]
    .prop_filter("a valid API name", |n| {
        relata_domain::ApiName::parse("field", n).is_ok()
    });
    let scalar = prop_oneof![
        3 => any::<String>().prop_map(Json::String),
        3 => proptest::sample::select(strategies::TEXTS).prop_map(Json::from),
        2 => proptest::sample::select(strategies::RELATIVE).prop_map(Json::from),
        2 => any::<i64>().prop_map(Json::from),
        1 => any::<bool>().prop_map(Json::Bool),
        1 => Just(Json::Null),
        1 => proptest::sample::select(vec!["true", "null", "0", "-5", "+5", "007", "1.5", "and", "or", "not", "()", "a b", "it's", "say \"hi\""]).prop_map(Json::from),
    ];
    let value = prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::vec(scalar, 0..4).prop_map(Json::Array),
    ];
    let op = proptest::sample::select(relata_domain::filter::Op::ALL.to_vec());
    let leaf = (field, op, value, any::<bool>()).prop_map(|(field, op, value, b)| {
        let value = if op == relata_domain::filter::Op::IsNull {
            Json::Bool(b)
        } else {
            value
        };
        serde_json::json!({"field": field, "op": op.as_str(), "value": value})
    });
    // and/or take two or more items: the compact form writes one item without a wrapper.
    leaf.prop_recursive(5, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5).prop_map(|v| serde_json::json!({"and": v})),
            prop::collection::vec(inner.clone(), 2..5).prop_map(|v| serde_json::json!({"or": v})),
            inner.prop_map(|f| serde_json::json!({"not": f})),
        ]
    })
}

#[test]
fn compact_form_parses_to_the_json_form() {
    let mut runner = TestRunner::new(config(2048));
    let result = runner.run(&(any_filter(), any::<u64>()), |(json, seed)| {
        let from_json: Filter =
            filter_json::parse(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e:?}")))?;
        let text = render(&from_json, &mut Choices::new(seed));
        let from_compact = compact::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?} did not parse: {e:?}")))?;
        prop_assert_eq!(&from_compact, &from_json, "compact text: {:?}", text);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
