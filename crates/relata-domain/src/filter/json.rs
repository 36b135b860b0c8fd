//! The JSON form: `{"and": [...]}`, `{"or": [...]}`, `{"not": {...}}`,
//! `{"field": "...", "op": "...", "value": ...}`, and about what surrounds a record:
//! `{"has": "opportunity", "via": "account_id", "where": {...}}` (`has_no` for none; `via`
//! and `where` optional), `{"tagged": "VIP"}`, `{"in_list": "<list id>"}`.

use serde_json::Value as Json;

use super::{Filter, Op};
use crate::error::{FieldError, FieldErrorCode};

const MAX_DEPTH: usize = 16;

fn invalid(path: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(path, FieldErrorCode::InvalidFilter, msg)
}

/// Parses the JSON form. Errors name `filter` or the offending field.
pub fn parse(input: &Json) -> Result<Filter, FieldError> {
    parse_at(input, 0)
}

fn parse_at(input: &Json, depth: usize) -> Result<Filter, FieldError> {
    if depth > MAX_DEPTH {
        return Err(invalid(
            "filter",
            format!("is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let Json::Object(map) = input else {
        return Err(invalid("filter", "each filter must be a JSON object"));
    };
    if let Some(list) = map.get("and").or_else(|| map.get("or")) {
        let key = if map.contains_key("and") { "and" } else { "or" };
        if map.len() != 1 {
            return Err(invalid(
                "filter",
                format!("'{key}' must be the only key of its object"),
            ));
        }
        let Json::Array(items) = list else {
            return Err(invalid(
                "filter",
                format!("'{key}' takes an array of filters"),
            ));
        };
        let parsed = items
            .iter()
            .map(|i| parse_at(i, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if key == "and" {
            Filter::And(parsed)
        } else {
            Filter::Or(parsed)
        });
    }
    if let Some(inner) = map.get("not") {
        if map.len() != 1 {
            return Err(invalid(
                "filter",
                "'not' must be the only key of its object",
            ));
        }
        return Ok(Filter::Not(Box::new(parse_at(inner, depth + 1)?)));
    }
    if let Some(kind) = ["has", "has_no"].into_iter().find(|k| map.contains_key(*k)) {
        return related(map, kind, depth);
    }
    for key in ["tagged", "in_list"] {
        if let Some(v) = map.get(key) {
            let Json::String(name) = v else {
                return Err(invalid("filter", format!("'{key}' takes a string")));
            };
            if map.len() != 1 {
                return Err(invalid(
                    "filter",
                    format!("'{key}' must be the only key of its object"),
                ));
            }
            return Ok(if key == "tagged" {
                Filter::Tagged(name.clone())
            } else {
                Filter::InList(name.clone())
            });
        }
    }
    let field = map
        .get("field")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid("filter", "a condition needs a 'field' string"))?;
    let op_text = map
        .get("op")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(field, "a condition needs an 'op' string"))?;
    let op = Op::parse(op_text).ok_or_else(|| {
        FieldError::new(field, FieldErrorCode::InvalidOperator, format!(
            "unknown operator '{op_text}'; use one of eq, ne, lt, lte, gt, gte, in, contains, starts_with, is_null"
        ))
    })?;
    if let Some(extra) = map
        .keys()
        .find(|k| !["field", "op", "value"].contains(&k.as_str()))
    {
        return Err(invalid(
            field,
            format!("unexpected key '{extra}' in a condition"),
        ));
    }
    let value = map.get("value").cloned().unwrap_or(Json::Null);
    Ok(Filter::Cond {
        field: field.to_owned(),
        op,
        value,
    })
}

fn related(
    map: &serde_json::Map<String, Json>,
    kind: &str,
    depth: usize,
) -> Result<Filter, FieldError> {
    let Some(Json::String(object)) = map.get(kind) else {
        return Err(invalid("filter", format!("'{kind}' takes an object name")));
    };
    if let Some(extra) = map
        .keys()
        .find(|k| ![kind, "via", "where"].contains(&k.as_str()))
    {
        return Err(invalid(
            "filter",
            format!("unexpected key '{extra}' in a '{kind}' condition"),
        ));
    }
    let via = match map.get("via") {
        None | Some(Json::Null) => None,
        Some(Json::String(v)) => Some(v.clone()),
        Some(_) => return Err(invalid("filter", "'via' takes a field name")),
    };
    let filter = match map.get("where") {
        None | Some(Json::Null) => Filter::And(Vec::new()),
        Some(w) => parse_at(w, depth + 1)?,
    };
    Ok(Filter::Related {
        object: object.clone(),
        via,
        exists: kind == "has",
        filter: Box::new(filter),
    })
}

/// The JSON form of a filter (for saved views and round trips).
pub fn to_json(filter: &Filter) -> Json {
    match filter {
        Filter::And(items) => {
            serde_json::json!({"and": items.iter().map(to_json).collect::<Vec<_>>()})
        }
        Filter::Or(items) => {
            serde_json::json!({"or": items.iter().map(to_json).collect::<Vec<_>>()})
        }
        Filter::Not(inner) => serde_json::json!({"not": to_json(inner)}),
        Filter::Cond { field, op, value } => {
            serde_json::json!({"field": field, "op": op.as_str(), "value": value})
        }
        Filter::Related {
            object,
            via,
            exists,
            filter,
        } => {
            let mut out = serde_json::Map::new();
            out.insert(
                if *exists { "has" } else { "has_no" }.into(),
                Json::String(object.clone()),
            );
            if let Some(v) = via {
                out.insert("via".into(), Json::String(v.clone()));
            }
            if !matches!(filter.as_ref(), Filter::And(items) if items.is_empty()) {
                out.insert("where".into(), to_json(filter));
            }
            Json::Object(out)
        }
        Filter::Tagged(name) => serde_json::json!({ "tagged": name }),
        Filter::InList(id) => serde_json::json!({ "in_list": id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_nested() {
        let f = parse(&json!({"and": [
            {"field": "name", "op": "contains", "value": "acme"},
            {"not": {"or": [{"field": "level", "op": "in", "value": ["a", "b"]}]}}
        ]}))
        .unwrap();
        assert_eq!(parse(&to_json(&f)).unwrap(), f);
    }

    #[test]
    fn related_tags_and_lists_round_trip() {
        let f = parse(&json!({"and": [
            {"has": "opportunity", "where": {"field": "amount", "op": "gt", "value": 100000}},
            {"has_no": "ticket", "via": "account_id"},
            {"tagged": "重点客户"},
            {"in_list": "0b9f7c1e-0000-4000-8000-000000000001"}
        ]}))
        .unwrap();
        let Filter::And(items) = &f else {
            panic!("{f:?}")
        };
        assert!(matches!(
            &items[0],
            Filter::Related {
                exists: true,
                via: None,
                ..
            }
        ));
        assert!(
            matches!(&items[1], Filter::Related { exists: false, via: Some(v), .. } if v == "account_id")
        );
        assert_eq!(items[2], Filter::Tagged("重点客户".into()));
        assert_eq!(parse(&to_json(&f)).unwrap(), f);
        assert!(parse(&json!({"has": 1})).is_err());
        assert!(parse(&json!({"has": "opportunity", "when": {}})).is_err());
        assert!(parse(&json!({"tagged": "a", "field": "b"})).is_err());
    }

    #[test]
    fn names_the_problem() {
        let e = parse(&json!({"field": "amount", "op": "bigger", "value": 1})).unwrap_err();
        assert_eq!(e.field, "amount");
        assert_eq!(e.code, FieldErrorCode::InvalidOperator);
        assert!(parse(&json!([1])).is_err());
        assert!(parse(&json!({"and": {}})).is_err());
    }
}
