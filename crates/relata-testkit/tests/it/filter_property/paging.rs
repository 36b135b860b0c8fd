//! The same filters through the API, paged: `GET /api/v1/records/{object}?filter&sort&limit`
//! followed by `cursor` to the end must give the filtered records in the order the sort
//! promises (nulls first ascending, ties by id, descending the exact reverse), each once, and
//! `count=true` must count them.

use std::cmp::Ordering;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value as Json;

use relata_domain::meta::FieldType;
use relata_domain::{ObjectDef, Record, Value};

use crate::filter_property::world::{OBJECT, World};

/// How to page: the sort field (an index into the sortable fields), its direction, page size.
#[derive(Debug, Clone)]
pub struct Paging {
    pub field: prop::sample::Index,
    pub descending: bool,
    pub page: usize,
}

pub fn paging() -> impl Strategy<Value = Paging> {
    (any::<prop::sample::Index>(), any::<bool>(), 7usize..60).prop_map(
        |(field, descending, page)| Paging {
            field,
            descending,
            page,
        },
    )
}

fn sortable(object: &ObjectDef) -> Vec<String> {
    object
        .live_fields()
        .filter(|f| !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist))
        .map(|f| f.name().to_owned())
        .collect()
}

fn by_value(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.compare(b).unwrap_or(Ordering::Equal),
    }
}

/// Ids of `selected` in the order the list promises for `field`.
pub fn expected_order(selected: &[&Record], field: &str, descending: bool) -> Vec<String> {
    let mut rows: Vec<&Record> = selected.to_vec();
    rows.sort_by(|a, b| {
        // ties newest first: creation time, then id (the list order of the API)
        by_value(a.get(field), b.get(field))
            .then(by_value(a.get("created_at"), b.get("created_at")))
            .then(by_value(a.get("id"), b.get("id")))
    });
    if descending {
        rows.reverse();
    }
    rows.iter()
        .map(|r| r.id().map(|u| u.to_string()).unwrap_or_default())
        .collect()
}

/// Pages through the API with `filter` (JSON text) and returns the sort field and the ids in
/// the order given, checking `count=true` against them.
pub async fn list_paged(
    world: &World,
    filter: &str,
    paging: &Paging,
) -> Result<(String, Vec<String>), TestCaseError> {
    let fields = sortable(&world.object);
    let field = paging.field.get(&fields).clone();
    let sort = if paging.descending {
        format!("-{field}")
    } else {
        field.clone()
    };
    let page = paging.page.to_string();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    loop {
        let mut params = vec![
            ("filter", filter),
            ("sort", sort.as_str()),
            ("limit", page.as_str()),
        ];
        match &cursor {
            Some(c) => params.push(("cursor", c.as_str())),
            None => params.push(("count", "true")),
        }
        let url = reqwest::Url::parse_with_params(
            &world.app.url(&format!("/api/v1/records/{OBJECT}")),
            &params,
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
        if cursor.is_none() {
            total = r.body["total"].as_u64();
        }
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        ids.extend(
            data.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned)),
        );
        match &r.body["next_cursor"] {
            Json::String(c) if ids.len() <= world.records.len() => cursor = Some(c.clone()),
            Json::String(_) => return Err(TestCaseError::fail("the pages do not end")),
            _ => break,
        }
    }
    prop_assert_eq!(
        total,
        Some(ids.len() as u64),
        "count=true with sort {}",
        sort
    );
    Ok((field, ids))
}
