//! Query-string and header parsing with problem+json errors.

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header;

use relata_domain::filter::{Filter, compact, json as filter_json};
use relata_domain::{FieldError, FieldErrorCode};

use crate::problem::ApiError;

/// An id from the path; one that is not a UUID names nothing, so it is not found (as an id
/// of no record would be), never a 400 that tells the two apart.
pub fn path_id(what: &str, id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::from(relata_core::CoreError::not_found(format!("{what} {id}"))))
}

/// Parses a query string into single values (the last one wins).
pub fn query_map(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::bad_request("invalid_query", "the query string is not valid"))?;
    Ok(pairs.into_iter().collect())
}

/// `filter=` in JSON (when it starts with `{`) or the compact form.
pub fn filter_param(raw: Option<&String>) -> Result<Option<Filter>, ApiError> {
    let Some(raw) = raw.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let parsed = if raw.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
            ApiError::field(FieldError::new(
                "filter",
                FieldErrorCode::InvalidFilter,
                format!("is not valid JSON: {e}"),
            ))
        })?;
        filter_json::parse(&json)?
    } else {
        compact::parse(raw)?
    };
    Ok(Some(parsed))
}

pub fn bool_param(map: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match map.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => Err(ApiError::field(FieldError::new(
            name,
            FieldErrorCode::WrongType,
            format!("'{other}' is not true or false"),
        ))),
    }
}

pub fn usize_param(map: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    map.get(name)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                ApiError::field(FieldError::new(
                    name,
                    FieldErrorCode::WrongType,
                    format!("'{v}' is not a whole number"),
                ))
            })
        })
        .transpose()
}

pub fn i64_param(map: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    map.get(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::field(FieldError::new(
                    name,
                    FieldErrorCode::WrongType,
                    format!("'{v}' is not a whole number"),
                ))
            })
        })
        .transpose()
}

/// The version an `If-Match` header names: `"3"`, `W/"3"` or `3`; `*` or absent means any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_if_match", "If-Match is not valid text"))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_if_match",
            "If-Match must be an ETag this API returned, like \"3\"",
        )
    })
}

/// The strong ETag of a record version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
