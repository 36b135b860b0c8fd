//! Counts and totals of records grouped by one field ("pipeline by stage"), for dashboards
//! and kanban column headers. The grouping runs in the database over exactly the records the
//! caller may see: the visibility predicate and the filter are in its WHERE clause.

use std::sync::Arc;

use rust_decimal::Decimal;

use relata_domain::access::Operation;
use relata_domain::filter::{Filter, TypedFilter, type_filter};
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
    /// of `group_by`, largest groups first.
    pub async fn aggregate(
        &self,
        actor: &Actor,
        object: &str,
        group_by: &str,
        sum: Option<&str>,
        filter: Option<Filter>,
    ) -> Result<(Arc<ObjectDef>, Vec<Bucket>), CoreError> {
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
        let typed = match &filter {
            Some(f) => type_filter(f, &object, self.clock.now(), &visible)?,
            None => TypedFilter::all(),
        };
        let obj = object.clone();
        let buckets = self
            .store
            .read(move |conn| {
                let d = conn.dialect();
                let g = group.name();
                let mut select = format!("SELECT t.{g}, COUNT(*)");
                let mut group_cols = format!("t.{g}");
                match &summed {
                    Some(f) if f.field_type == FieldType::Currency => {
                        let c = currency_column(f.name());
                        select.push_str(&format!(", SUM(t.{}), t.{c}", f.name()));
                        group_cols.push_str(&format!(", t.{c}"));
                    }
                    Some(f) => select.push_str(&format!(", SUM(t.{})", f.name())),
                    None => {}
                }
                let mut sql = Sql::new(d);
                sql.push(&format!(
                    "{select} FROM {} t WHERE t.deleted_at IS NULL AND ",
                    table_name(&obj)
                ));
                push_filter(&mut sql, &typed, "t.");
                vis.push(&mut sql, "t.");
                sql.push(&format!(" GROUP BY {group_cols}"));
                let rows = conn.query(&sql.text, &sql.params)?;
                let mut buckets: Vec<Bucket> = Vec::new();
                for row in rows {
                    let key = decode(&group, &row[..1])?;
                    let count = row.get(1).and_then(SqlValue::as_i64).unwrap_or(0);
                    let total = match &summed {
                        Some(f) => match decode(f, &row[2..])? {
                            Value::Money { amount, currency } => Some((currency, amount)),
                            Value::Decimal(d) => Some((String::new(), d)),
                            Value::Int(n) => Some((String::new(), Decimal::from(n))),
                            _ => None,
                        },
                        None => None,
                    };
                    match buckets.iter_mut().find(|b| b.key == key) {
                        Some(b) => {
                            b.count += count;
                            b.sums.extend(total);
                        }
                        None => buckets.push(Bucket {
                            key,
                            count,
                            sums: total.into_iter().collect(),
                        }),
                    }
                }
                buckets.sort_by_key(|b| std::cmp::Reverse(b.count));
                Ok::<_, CoreError>(buckets)
            })
            .await?;
        Ok((object, buckets))
    }
}
