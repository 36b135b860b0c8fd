//! API names of objects and fields. An API name becomes a table or column name, so it is
//! parsed once at the boundary and is safe to put into SQL unquoted afterwards: lower-case
//! ASCII letters, digits and underscores, starting with a letter, 2–40 characters, and not a
//! word that SQL, our system columns or our system tables already use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrorCode};

/// A validated API name (see the module doc for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiName(String);

/// Columns every object table has; a custom field may not take these names.
pub const SYSTEM_COLUMNS: &[&str] = &[
    "id",
    "owner_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
    "deleted_at",
];

/// SQL keywords (SQLite's and PostgreSQL's reserved words that could appear as identifiers),
/// plus names that would confuse readers of the API.
const RESERVED: &[&str] = &[
    "abort",
    "action",
    "add",
    "all",
    "alter",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "attach",
    "authorization",
    "autoincrement",
    "begin",
    "between",
    "binary",
    "both",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "commit",
    "concurrently",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclusive",
    "exists",
    "explain",
    "false",
    "fetch",
    "filter",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "glob",
    "grant",
    "group",
    "having",
    "if",
    "ignore",
    "ilike",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "match",
    "natural",
    "no",
    "not",
    "notnull",
    "null",
    "of",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "over",
    "overlaps",
    "placing",
    "plan",
    "pragma",
    "primary",
    "query",
    "raise",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rowid",
    "oid",
    "savepoint",
    "select",
    "session_user",
    "set",
    "similar",
    "some",
    "symmetric",
    "table",
    "temp",
    "temporary",
    "then",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "vacuum",
    "values",
    "variadic",
    "verbose",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
    "ctid",
    "xmin",
    "xmax",
    "cmin",
    "cmax",
    "tableoid",
    "records",
    "meta",
    "search",
    "changes",
    "bulk",
    "history",
    "restore",
    "count",
    "cursor",
    "fields",
    "sort",
];

/// Prefixes kept for system tables and the databases' own catalogues.
const RESERVED_PREFIXES: &[&str] = &["sys_", "pg_", "sqlite_", "relata_"];

impl ApiName {
    /// Parses an API name, naming `field` in the error (the input field that carried it).
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let ok_shape = (2..=40).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !raw.ends_with('_')
            && !raw.contains("__");
        if !ok_shape {
            return Err(FieldError::new(
                field,
                FieldErrorCode::InvalidName,
                format!(
                    "'{raw}' is not a valid API name: use 2-40 lower-case letters, digits and \
                     single underscores, starting with a letter"
                ),
            ));
        }
        if RESERVED.contains(&raw)
            || SYSTEM_COLUMNS.contains(&raw)
            || RESERVED_PREFIXES.iter().any(|p| raw.starts_with(p))
        {
            return Err(FieldError::new(
                field,
                FieldErrorCode::ReservedName,
                format!("'{raw}' is reserved and cannot be used as an API name"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// For names declared in code (standard objects, system columns), which are known good.
    /// Not for user input: it skips the reserved-word check on purpose, since `id` and
    /// `owner_id` are themselves system names.
    pub fn trusted(raw: &str) -> Self {
        debug_assert!(
            raw.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        Self(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        // Deserialising stored metadata: names were validated when they were created, and
        // system names (`id`) must round-trip, so only the shape is checked here.
        if value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !value.is_empty()
        {
            Ok(Self(value))
        } else {
            Err(format!("invalid api name '{value}'"))
        }
    }
}

impl From<ApiName> for String {
    fn from(value: ApiName) -> Self {
        value.0
    }
}

impl fmt::Display for ApiName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ApiName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_snake_case_names() {
        assert!(ApiName::parse("api_name", "invoice").is_ok());
        assert!(ApiName::parse("api_name", "customer_level2").is_ok());
    }

    #[test]
    fn rejects_sql_like_and_reserved_names() {
        for bad in [
            "select",
            "id",
            "owner_id",
            "sys_users",
            "pg_class",
            "drop",
            "x",
            "A",
            "a-b",
            "a b",
            "name;drop table",
            "ab__c",
            "ab_",
            "1abc",
            "名称",
        ] {
            let err = ApiName::parse("api_name", bad).unwrap_err();
            assert_eq!(err.field, "api_name");
            assert!(
                matches!(
                    err.code,
                    FieldErrorCode::InvalidName | FieldErrorCode::ReservedName
                ),
                "{bad}"
            );
        }
    }
}
