//! The JSON form: `{"and": [...]}`, `{"or": [...]}`, `{"not": {...}}` or
//! `{"field": "...", "op": "...", "value": ...}`.

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
    fn names_the_problem() {
        let e = parse(&json!({"field": "amount", "op": "bigger", "value": 1})).unwrap_err();
        assert_eq!(e.field, "amount");
        assert_eq!(e.code, FieldErrorCode::InvalidOperator);
        assert!(parse(&json!([1])).is_err());
        assert!(parse(&json!({"and": {}})).is_err());
    }
}
