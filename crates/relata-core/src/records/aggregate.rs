//! Counts and totals of records grouped by one field ("pipeline by stage"), for dashboards
//! and kanban column headers. The grouping runs in the database over exactly the records the
//! caller may see: the visibility predicate and the filter are in its WHERE clause.

use std::sync::Arc;

use rust_decimal::Decimal;

use relata_domain::access::Operation;
use relata_domain::filter::Filter;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Value};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::filter_sql::push_filter;
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;

/// The records sharing one value of the grouping field.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub key: Value,
    pub count: i64,
    /// Totals of the summed field, one per currency (one entry, code empty, for a number).
    pub sums: Vec<(String, Decimal)>,
}

/// The most groups one aggregation returns (the largest ones); a text or lookup field may
/// have as many distinct values as there are records.
pub const MAX_GROUPS: usize = 200;

/// The groups of one aggregation, largest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    pub buckets: Vec<Bucket>,
    /// More groups exist than [`MAX_GROUPS`]; the smallest were left out.
    pub truncated: bool,
}

/// Fields whose values make sensible groups.
fn groupable(t: FieldType) -> bool {
    matches!(
        t,
        FieldType::Picklist
            | FieldType::Boolean
            | FieldType::Text
            | FieldType::Lookup
            | FieldType::UserLookup
            | FieldType::Date
    )
}

fn unknown(param: &str, object: &ObjectDef, name: &str) -> CoreError {
    FieldError::new(
        param,
        FieldErrorCode::UnknownField,
        format!("'{}' has no field '{name}' to use here", object.name()),
    )
    .into()
}

impl Core {
    /// Live records of `object` matching `filter`, counted (and `sum` totalled) per value
    /// of `group_by`, largest groups first, at most [`MAX_GROUPS`] of them.
    pub async fn aggregate(
        &self,
        actor: &Actor,
        object: &str,
        group_by: &str,
        sum: Option<&str>,
        filter: Option<Filter>,
    ) -> Result<(Arc<ObjectDef>, Groups), CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let visible = |f: &relata_domain::FieldDef| fields::readable(actor, &object, f.name());
        let group = object
            .field(group_by)
            .filter(|f| visible(f) && groupable(f.field_type))
            .ok_or_else(|| unknown("group_by", &object, group_by))?
            .clone();
        let summed = match sum {
            None => None,
            Some(name) => Some(
                object
                    .field(name)
                    .filter(|f| {
                        visible(f)
                            && matches!(
                                f.field_type,
                                FieldType::Currency
                                    | FieldType::Decimal
                                    | FieldType::Integer
                                    | FieldType::Percent
                            )
                    })
                    .ok_or_else(|| unknown("sum", &object, name))?
                    .clone(),
            ),
        };
        let (typed, related) = self
            .type_filter_for(actor, &object, filter.as_ref())
            .await?;
        let obj = object.clone();
        let groups = self
            .store
            .read(move |conn| {
                let d = conn.dialect();
                let g = group.name();
                let currency = summed
                    .as_ref()
                    .filter(|f| f.field_type == FieldType::Currency);
                // a picklist or a yes/no has few groups: money is counted and totalled per
                // group and currency in one pass (the kanban's column headers)
                let bounded = matches!(group.field_type, FieldType::Picklist | FieldType::Boolean);
                if let (Some(f), true) = (currency, bounded) {
                    let c = currency_column(f.name());
                    let mut sql = Sql::new(d);
                    sql.push(&format!(
                        "SELECT t.{g}, t.{c}, COUNT(*), SUM(t.{}) FROM {} t WHERE t.deleted_at IS NULL AND ",
                        f.name(),
                        table_name(&obj)
                    ));
                    push_filter(&mut sql, &typed, "t.", &related);
                    vis.push(&mut sql, "t.");
                    // (no ORDER BY: the index gives the groups; the few rows are sorted here)
                    sql.push(&format!(" GROUP BY t.{g}, t.{c}"));
                    let mut buckets: Vec<Bucket> = Vec::new();
                    for row in conn.query(&sql.text, &sql.params)? {
                        let key = decode(&group, &row[..1])?;
                        let count = row.get(2).and_then(SqlValue::as_i64).unwrap_or(0);
                        let i = match buckets.iter().position(|b| b.key == key) {
                            Some(i) => i,
                            None => {
                                buckets.push(Bucket { key, count: 0, sums: Vec::new() });
                                buckets.len() - 1
                            }
                        };
                        buckets[i].count += count;
                        if let Value::Money { amount, currency } =
                            decode(f, &[row[3].clone(), row[1].clone()])?
                        {
                            buckets[i].sums.push((currency, amount));
                        }
                    }
                    for b in &mut buckets {
                        b.sums.sort_by(|x, y| x.0.cmp(&y.0));
                    }
                    buckets.sort_by_key(|b| std::cmp::Reverse(b.count));
                    let truncated = buckets.len() > MAX_GROUPS;
                    buckets.truncate(MAX_GROUPS);
                    return Ok(Groups { buckets, truncated });
                }
                // one row per group, largest first, at most one past the cap: a text field
                // with a million distinct values costs the database a GROUP BY, never the
                // server a million buckets
                let mut select = format!("SELECT t.{g}, COUNT(*)");
                if let Some(f) = summed.as_ref().filter(|_| currency.is_none()) {
                    select.push_str(&format!(", SUM(t.{})", f.name()));
                }
                let mut sql = Sql::new(d);
                sql.push(&format!(
                    "{select} FROM {} t WHERE t.deleted_at IS NULL AND ",
                    table_name(&obj)
                ));
                push_filter(&mut sql, &typed, "t.", &related);
                vis.push(&mut sql, "t.");
                sql.push(&format!(
                    " GROUP BY t.{g} ORDER BY COUNT(*) DESC, t.{g} LIMIT {}",
                    MAX_GROUPS + 1
                ));
                let mut rows = conn.query(&sql.text, &sql.params)?;
                let truncated = rows.len() > MAX_GROUPS;
                rows.truncate(MAX_GROUPS);
                let mut buckets = Vec::with_capacity(rows.len());
                for row in &rows {
                    let sums = match summed.as_ref().filter(|_| currency.is_none()) {
                        Some(f) => number_total(f, &row[2..])?.into_iter().collect(),
                        None => Vec::new(),
                    };
                    buckets.push(Bucket {
                        key: decode(&group, &row[..1])?,
                        count: row.get(1).and_then(SqlValue::as_i64).unwrap_or(0),
                        sums,
                    });
                }
                // money is totalled per currency, for the groups kept only
                if let (Some(f), false) = (currency, rows.is_empty()) {
                    let c = currency_column(f.name());
                    let mut sql = Sql::new(d);
                    sql.push(&format!(
                        "SELECT t.{g}, t.{c}, SUM(t.{}) FROM {} t WHERE t.deleted_at IS NULL AND ",
                        f.name(),
                        table_name(&obj)
                    ));
                    push_filter(&mut sql, &typed, "t.", &related);
                    vis.push(&mut sql, "t.");
                    push_group_keys(&mut sql, g, &rows);
                    sql.push(&format!(" GROUP BY t.{g}, t.{c} ORDER BY t.{c}"));
                    for row in conn.query(&sql.text, &sql.params)? {
                        let key = decode(&group, &row[..1])?;
                        let Some(bucket) = buckets.iter_mut().find(|b| b.key == key) else {
                            continue;
                        };
                        if let Value::Money { amount, currency } =
                            decode(f, &[row[2].clone(), row[1].clone()])?
                        {
                            bucket.sums.push((currency, amount));
                        }
                    }
                }
                Ok::<_, CoreError>(Groups { buckets, truncated })
            })
            .await?;
        Ok((object, groups))
    }
}

/// The total of a number field as a (currency-less) sum.
fn number_total(
    field: &relata_domain::FieldDef,
    cells: &[SqlValue],
) -> Result<Option<(String, Decimal)>, CoreError> {
    Ok(match decode(field, cells)? {
        Value::Decimal(d) => Some((String::new(), d)),
        Value::Int(n) => Some((String::new(), Decimal::from(n))),
        _ => None,
    })
}

/// ` AND (t.g IN (…) OR t.g IS NULL)`: the groups the first query kept.
fn push_group_keys(sql: &mut Sql, g: &str, rows: &[relata_store::Row]) {
    let (nulls, keys): (Vec<&SqlValue>, Vec<&SqlValue>) =
        rows.iter().map(|r| &r[0]).partition(|v| v.is_null());
    sql.push(" AND (");
    if keys.is_empty() {
        sql.push("1 = 0");
    } else {
        sql.push(&format!("t.{g} IN ("));
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(k.clone());
        }
        sql.push(")");
    }
    if !nulls.is_empty() {
        sql.push(&format!(" OR t.{g} IS NULL"));
    }
    sql.push(")");
}
