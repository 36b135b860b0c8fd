//! Reading records: the column list of an object, decoding rows, get by id, and keyset-paged
//! lists. Every query appends the caller's visibility predicate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value as Json, json};

use relata_domain::filter::{Op, Operand, TypedFilter};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{Record, Value};
use relata_store::codec::{column_count, decode, encode};
use relata_store::ddl::{currency_column, table_name};
use relata_store::filter_sql::push_filter;

use crate::filter_scope::RelatedVisibility;
use relata_store::{Conn, Row, Sql, SqlValue};

use crate::error::CoreError;
use crate::visibility::Visibility;

/// `col1, col2_currency, …` for every live field, prefixed by `alias`.
pub fn select_list(object: &ObjectDef, alias: &str) -> String {
    let mut cols = Vec::new();
    for f in object.live_fields() {
        cols.push(format!("{alias}{}", f.name()));
        if f.field_type == FieldType::Currency {
            cols.push(format!("{alias}{}", currency_column(f.name())));
        }
    }
    cols.join(", ")
}

/// Decodes a row selected with [`select_list`] (extra trailing columns are ignored).
pub fn decode_row(object: &ObjectDef, row: &Row) -> Result<Record, CoreError> {
    let mut record = Record::default();
    let mut i = 0;
    for f in object.live_fields() {
        let n = column_count(f);
        let cols = row
            .get(i..i + n)
            .ok_or_else(|| CoreError::Internal("short row".into()))?;
        record.set(f.name(), decode(f, cols)?);
        i += n;
    }
    Ok(record)
}

/// Which records a read considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Live,
    Deleted,
    Any,
}

pub(crate) fn push_bin(sql: &mut Sql, bin: Bin, alias: &str) {
    match bin {
        Bin::Live => sql.push(&format!(" AND {alias}deleted_at IS NULL")),
        Bin::Deleted => sql.push(&format!(" AND {alias}deleted_at IS NOT NULL")),
        Bin::Any => sql,
    };
}

/// The number a `SELECT COUNT(*) …` answers.
pub fn count(conn: &mut dyn Conn, sql: &str, params: &[SqlValue]) -> Result<i64, CoreError> {
    Ok(conn
        .query_one(sql, params)?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}

/// One record by id, if it exists, is in `bin` and is visible.
pub fn get(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    id: uuid::Uuid,
    vis: &Visibility,
    bin: Bin,
) -> Result<Option<Record>, CoreError> {
    select_one(conn, object, id, vis, bin, false)
}

/// The live, visible records among `ids`, by id, in one query.
pub fn get_many(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    ids: &[uuid::Uuid],
    vis: &Visibility,
) -> Result<std::collections::HashMap<uuid::Uuid, Record>, CoreError> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(found);
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {} FROM {} t WHERE t.deleted_at IS NULL",
        select_list(object, "t."),
        table_name(object)
    ));
    vis.push(&mut sql, "t.");
    sql.push(" AND t.id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*id));
    }
    sql.push(")");
    for row in conn.query(&sql.text, &sql.params)? {
        let record = decode_row(object, &row)?;
        if let Some(id) = record.id() {
            found.insert(id, record);
        }
    }
    Ok(found)
}

/// Like [`get`], locking the row until the transaction ends on PostgreSQL, so concurrent
/// updates of one record queue up (SQLite's single writer needs no lock).
pub fn get_for_update(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    id: uuid::Uuid,
    vis: &Visibility,
    bin: Bin,
) -> Result<Option<Record>, CoreError> {
    select_one(conn, object, id, vis, bin, true)
}

fn select_one(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    id: uuid::Uuid,
    vis: &Visibility,
    bin: Bin,
    lock: bool,
) -> Result<Option<Record>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {} FROM {} WHERE id = ",
        select_list(object, ""),
        table_name(object)
    ));
    sql.param(SqlValue::Uuid(id));
    push_bin(&mut sql, bin, "");
    vis.push(&mut sql, "");
    if lock && conn.dialect() == relata_store::Dialect::Postgres {
        sql.push(" FOR UPDATE");
    }
    let row = conn.query_one(&sql.text, &sql.params)?;
    row.map(|r| decode_row(object, &r)).transpose()
}

/// A sort key: a field and a direction. Empty values sort as the smallest.
#[derive(Debug, Clone)]
pub struct Sort {
    pub field: FieldDef,
    pub descending: bool,
}

/// A list request after validation.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub filter: TypedFilter,
    /// What the filter's related-record conditions may see.
    pub related: RelatedVisibility,
    pub sort: Option<Sort>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    pub count: bool,
    pub count_cap: Option<u64>,
    pub bin: Bin,
}

/// Where the previous page ended: the sort value, creation time and id of its last row (the
/// list order is the sort, then newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub sort_value: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}

#[derive(Debug)]
pub struct ListPage {
    pub records: Vec<Record>,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

impl Cursor {
    /// Opaque text form: base64url of a small JSON array.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            json!([
                self.sort_value.to_json(),
                Value::Datetime(self.created_at).to_json(),
                self.id.to_string()
            ])
            .to_string(),
        )
    }

    pub fn decode(text: &str, sort_field: Option<&FieldDef>) -> Result<Cursor, CoreError> {
        let bad = || {
            CoreError::bad_request(
                "invalid_cursor",
                "the cursor is not valid for this list; start again without it",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let json: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let arr = json.as_array().filter(|a| a.len() == 3).ok_or_else(bad)?;
        let created_at = arr[1]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(bad)?;
        let id = arr[2]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(bad)?;
        let sort_value = match sort_field {
            Some(f) if !arr[0].is_null() => {
                let relaxed = FieldDef {
                    max_length: None,
                    min: None,
                    max: None,
                    pattern: None,
                    values: Vec::new(),
                    field_type: if f.field_type == FieldType::Picklist {
                        FieldType::Text
                    } else {
                        f.field_type
                    },
                    ..f.clone()
                };
                Value::parse(&relaxed, &arr[0], &Default::default()).map_err(|_| bad())?
            }
            _ => Value::Null,
        };
        Ok(Cursor {
            sort_value,
            created_at,
            id,
        })
    }
}

/// Lists records of `object` matching `spec`, newest first unless sorted otherwise.
pub fn list(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    vis: &Visibility,
    spec: &ListSpec,
) -> Result<ListPage, CoreError> {
    let d = conn.dialect();
    let table = table_name(object);
    // The WHERE clause comes first in both the page query and the count query, so its
    // numbered placeholders mean the same in both.
    let mut filter = Sql::new(d);
    filter.push("1=1");
    push_bin(&mut filter, spec.bin, "t.");
    vis.push(&mut filter, "t.");
    filter.push(" AND ");
    push_filter(&mut filter, &spec.filter, "t.", &spec.related);

    // Keyset and order apply to the page query; their parameters follow the filter's.
    let mut sql = filter.clone();
    if let Some(c) = &spec.cursor {
        push_keyset(&mut sql, object, spec.sort.as_ref(), c);
    }
    let keyset = sql.text.split_off(filter.text.len());
    let order = order_by(spec.sort.as_ref(), d);
    let columns = select_list(object, "t.");
    let page = spec.limit + 1;

    // First the newest (or first, in sort order) rows of the sort's own index, filtered: a
    // list of a big city's contacts sorted by date finds its page among the first few
    // thousand rows of the date index, where the planner would otherwise collect every
    // contact of the city and sort them. When the window holds too few matches (a rare
    // value, few visible records), the plain query below is the cheap one.
    let mut rows = Vec::new();
    if window_serves(object, spec) {
        // The window carries only the columns the filter, the visibility predicate and the
        // order read; the page's rows are then read whole by id.
        let narrow = window_columns(spec, vis);
        let text = format!(
            "SELECT {columns} FROM {table} t WHERE t.id IN (SELECT t.id FROM \
             (SELECT {narrow} FROM {table} t WHERE 1=1{keyset}{order} LIMIT {LIST_WINDOW}) t \
             WHERE {}{order} LIMIT {page}){order}",
            filter.text
        );
        rows = conn.query(&text, &sql.params)?;
    }
    if rows.len() < page {
        let text = format!(
            "SELECT {columns} FROM {table} t WHERE {}{keyset}{order} LIMIT {page}",
            filter.text
        );
        rows = conn.query(&text, &sql.params)?;
    }
    let mut records = rows
        .iter()
        .map(|r| decode_row(object, r))
        .collect::<Result<Vec<_>, _>>()?;
    let more = records.len() > spec.limit;
    records.truncate(spec.limit);
    let next_cursor = if more {
        records.last().map(|r| {
            Cursor {
                sort_value: spec
                    .sort
                    .as_ref()
                    .map(|s| r.get(s.field.name()).clone())
                    .unwrap_or(Value::Null),
                created_at: match r.get("created_at") {
                    Value::Datetime(t) => *t,
                    _ => chrono::DateTime::UNIX_EPOCH,
                },
                id: r.id().unwrap_or_default(),
            }
            .encode()
        })
    } else {
        None
    };
    let total = if spec.count {
        let count = match spec.count_cap {
            None => format!("SELECT COUNT(*) FROM {table} t WHERE {}", filter.text),
            Some(cap) => format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {table} t WHERE {} LIMIT {cap}) capped",
                filter.text
            ),
        };
        let row = conn.query_one(&count, &filter.params)?;
        row.and_then(|r| r.first().and_then(SqlValue::as_i64))
    } else {
        None
    };
    Ok(ListPage {
        records,
        next_cursor,
        total,
    })
}

/// Rows of the sort index a filtered list looks at first (see `list`).
const LIST_WINDOW: usize = 2_000;

/// Whether a list's page may come from a window of its sort index: there is a filter to
/// apply, the sort (newest first when none is given) has an index to walk, and no index
/// answers the filter and the order together (then the plain query reads just its page).
fn window_serves(object: &ObjectDef, spec: &ListSpec) -> bool {
    let filtered = !matches!(&spec.filter, TypedFilter::And(items) if items.is_empty());
    let indexed = spec
        .sort
        .as_ref()
        .is_none_or(|s| relata_store::ddl::field_index(object, &s.field).is_some());
    filtered && indexed && !equality_index_serves(object, spec)
}

/// An equality condition the whole filter requires, on a field whose index is unique (one
/// row) or leads to the list order (`(field, created_at, id)` with newest-first order).
fn equality_index_serves(object: &ObjectDef, spec: &ListSpec) -> bool {
    let conditions: &[TypedFilter] = match &spec.filter {
        TypedFilter::And(items) => items,
        single => std::slice::from_ref(single),
    };
    let creation_order = spec.sort.as_ref().is_none_or(is_creation_order);
    conditions.iter().any(|c| match c {
        TypedFilter::Cond {
            field,
            op: Op::Eq,
            operand: Operand::One(v),
        } if !v.is_null() => relata_store::ddl::field_index(object, field)
            .is_some_and(|ix| ix.unique || creation_order),
        _ => false,
    })
}

/// The columns a list window must carry: the system columns filters, visibility and order
/// read, the sort field, every field the filter names (both columns of a currency), and the
/// columns the visibility predicate reads.
fn window_columns(spec: &ListSpec, vis: &Visibility) -> String {
    fn walk<'a>(filter: &'a TypedFilter, out: &mut Vec<&'a FieldDef>) {
        match filter {
            TypedFilter::And(items) | TypedFilter::Or(items) => {
                items.iter().for_each(|f| walk(f, out));
            }
            TypedFilter::Not(inner) => walk(inner, out),
            TypedFilter::Cond { field, .. } => out.push(field),
            // conditions on what surrounds a record read its id only
            TypedFilter::Related { .. } | TypedFilter::Tagged { .. } | TypedFilter::InList(_) => {}
        }
    }
    let mut fields = Vec::new();
    walk(&spec.filter, &mut fields);
    fields.extend(spec.sort.as_ref().map(|s| &s.field));
    let mut columns: Vec<String> = ["id", "owner_id", "deleted_at", "created_at"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let mut names = Vec::new();
    for field in fields {
        names.push(field.name().to_owned());
        if field.field_type == FieldType::Currency {
            names.push(currency_column(field.name()));
        }
    }
    // sharing rules' fields and a controlling parent's lookup
    names.extend(vis.columns());
    for name in names {
        if !columns.contains(&name) {
            columns.push(name);
        }
    }
    columns
        .iter()
        .map(|c| format!("t.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` ORDER BY …` for a sort, ties (and lists without a sort) newest first: `created_at`, then
/// `id`. Nulls sort as the smallest value: first ascending, last descending. That is SQLite's
/// native order and the order of our PostgreSQL indexes (NULLS FIRST), so a field's
/// `(field, created_at, id)` index serves the sort on both (`ddl::list_key`).
fn order_by(sort: Option<&Sort>, d: relata_store::Dialect) -> String {
    let descending = sort.is_none_or(|s| s.descending);
    // Every column gets the index's null order on PostgreSQL, even the never-null
    // `created_at` and `id`: its planner matches an index to an ORDER BY only when the null
    // order of every column agrees (a DESC column defaults to NULLS FIRST there).
    let (dir, nulls) = match (descending, d) {
        (true, relata_store::Dialect::Postgres) => ("DESC", " NULLS LAST"),
        (false, relata_store::Dialect::Postgres) => ("ASC", " NULLS FIRST"),
        (true, relata_store::Dialect::Sqlite) => ("DESC", ""),
        (false, relata_store::Dialect::Sqlite) => ("ASC", ""),
    };
    let tail = format!("t.created_at {dir}{nulls}, t.id {dir}{nulls}");
    match sort.filter(|s| !is_creation_order(s)) {
        Some(s) => format!(" ORDER BY t.{} {dir}{nulls}, {tail}", s.field.name()),
        None => format!(" ORDER BY {tail}"),
    }
}

/// A sort by `created_at` is the tie order itself.
fn is_creation_order(sort: &Sort) -> bool {
    sort.field.name() == "created_at"
}

/// Rows strictly after the cursor in (sort value, created_at, id) order; nulls are the
/// smallest values.
fn push_keyset(sql: &mut Sql, object: &ObjectDef, sort: Option<&Sort>, c: &Cursor) {
    let d = sql.dialect;
    let created_at = object
        .field("created_at")
        .map(|f| encode(f, &Value::Datetime(c.created_at), d))
        .unwrap_or(SqlValue::Timestamp(c.created_at));
    // After (created_at, id) in the direction of the sort: the tail of every keyset.
    let tail = |sql: &mut Sql, descending: bool| -> String {
        let cmp = if descending { "<" } else { ">" };
        let a = sql.bind(created_at.clone());
        let b = sql.bind(created_at.clone());
        let id = sql.bind(SqlValue::Uuid(c.id));
        format!("(t.created_at {cmp} {a} OR (t.created_at = {b} AND t.id {cmp} {id}))")
    };
    match sort.filter(|s| !is_creation_order(s)) {
        None => {
            let descending = sort.is_none_or(|s| s.descending);
            let after = tail(sql, descending);
            sql.push(&format!(" AND {after}"));
        }
        Some(s) => {
            let col = format!("t.{}", s.field.name());
            match (s.descending, c.sort_value.is_null()) {
                // ascending, after a null: the rest of the nulls, then every non-null
                (false, true) => {
                    let after = tail(sql, false);
                    sql.push(&format!(
                        " AND (({col} IS NULL AND {after}) OR {col} IS NOT NULL)"
                    ))
                }
                // descending, after a null: only nulls remain
                (true, true) => {
                    let after = tail(sql, true);
                    sql.push(&format!(" AND ({col} IS NULL AND {after})"))
                }
                (descending, false) => {
                    let v = encode(&s.field, &c.sort_value, d);
                    let p1 = sql.bind(v.clone());
                    let p2 = sql.bind(v);
                    let after = tail(sql, descending);
                    let cmp = if descending { "<" } else { ">" };
                    let nulls = if descending {
                        format!(" OR {col} IS NULL")
                    } else {
                        String::new()
                    };
                    sql.push(&format!(
                        " AND ({col} {cmp} {p1} OR ({col} = {p2} AND {after}){nulls})"
                    ))
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> ObjectDef {
        relata_domain::standard::standard_objects()
            .into_iter()
            .find(|o| o.name() == "contact")
            .expect("contact")
    }

    fn spec(object: &ObjectDef, filter: TypedFilter, sort: Option<(&str, bool)>) -> ListSpec {
        ListSpec {
            filter,
            related: Default::default(),
            sort: sort.map(|(name, descending)| Sort {
                field: object.field(name).expect("sort field").clone(),
                descending,
            }),
            limit: 50,
            cursor: None,
            count: false,
            count_cap: None,
            bin: Bin::Live,
        }
    }

    fn eq(object: &ObjectDef, name: &str, value: Value) -> TypedFilter {
        TypedFilter::Cond {
            field: object.field(name).expect("filter field").clone(),
            op: Op::Eq,
            operand: Operand::One(value),
        }
    }

    #[test]
    fn an_equality_on_an_indexed_field_in_creation_order_skips_the_window() {
        let c = contact();
        let city = || eq(&c, "city", Value::Text("上海".into()));
        // the page is read straight from (city, created_at, id)
        assert!(!window_serves(&c, &spec(&c, city(), None)));
        assert!(!window_serves(
            &c,
            &spec(&c, city(), Some(("created_at", true)))
        ));
        assert!(!window_serves(
            &c,
            &spec(
                &c,
                TypedFilter::And(vec![city()]),
                Some(("created_at", false))
            )
        ));
        // a unique field finds at most one row
        let mut with_code = c.clone();
        with_code.fields.push(FieldDef {
            unique: true,
            ..FieldDef::new("code", "Code", FieldType::Text)
        });
        let code = eq(&with_code, "code", Value::Text("X-1".into()));
        assert!(!window_serves(
            &with_code,
            &spec(&with_code, code, Some(("name", false)))
        ));
        // sorted by another field, or no usable equality: the sort index's window first
        assert!(window_serves(&c, &spec(&c, city(), Some(("name", false)))));
        let either = TypedFilter::Or(vec![city(), eq(&c, "city", Value::Text("北京".into()))]);
        assert!(window_serves(&c, &spec(&c, either, None)));
        let unindexed = eq(&c, "title", Value::Text("CEO".into()));
        assert!(window_serves(&c, &spec(&c, unindexed, None)));
        // no filter: nothing to window
        assert!(!window_serves(&c, &spec(&c, TypedFilter::all(), None)));
    }
}
