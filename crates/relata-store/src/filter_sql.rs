//! Typed filters compiled to SQL, with exactly the semantics of the in-memory evaluator
//! (`relata_domain::filter::eval`): comparisons with NULL are false except `ne`; `not` is
//! two-valued (hence the COALESCE); `contains`/`starts_with` lower-case ASCII only (SQLite's
//! `lower()` does that, and PostgreSQL's does it for "C"-collated columns).

use relata_domain::filter::{Op, Operand, TypedFilter};

use crate::codec::encode;
use crate::dialect::Sql;

/// Appends `filter` as a boolean SQL expression; `alias` prefixes column names (e.g. `t.`).
pub fn push_filter(sql: &mut Sql, filter: &TypedFilter, alias: &str) {
    match filter {
        TypedFilter::And(items) | TypedFilter::Or(items) if items.is_empty() => {
            sql.push(if matches!(filter, TypedFilter::And(_)) {
                "(1=1)"
            } else {
                "(1=0)"
            });
        }
        TypedFilter::And(items) | TypedFilter::Or(items) => {
            let joiner = if matches!(filter, TypedFilter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                push_filter(sql, item, alias);
            }
            sql.push(")");
        }
        TypedFilter::Not(inner) => {
            sql.push("(NOT COALESCE(");
            push_filter(sql, inner, alias);
            sql.push(", FALSE))");
        }
        TypedFilter::Cond { field, op, operand } => {
            let col = format!("{alias}{}", field.name());
            let d = sql.dialect;
            match (op, operand) {
                (Op::IsNull, Operand::Null(true)) => {
                    sql.push(&format!("({col} IS NULL)"));
                }
                (Op::IsNull, _) => {
                    sql.push(&format!("({col} IS NOT NULL)"));
                }
                (Op::Ne, Operand::One(v)) => {
                    let p = sql.bind(encode(field, v, d));
                    sql.push(&format!("({col} <> {p} OR {col} IS NULL)"));
                }
                (Op::Eq | Op::Lt | Op::Lte | Op::Gt | Op::Gte, Operand::One(v)) => {
                    let sym = match op {
                        Op::Eq => "=",
                        Op::Lt => "<",
                        Op::Lte => "<=",
                        Op::Gt => ">",
                        _ => ">=",
                    };
                    let p = sql.bind(encode(field, v, d));
                    sql.push(&format!("({col} {sym} {p})"));
                }
                (Op::In, Operand::Many(values)) if values.is_empty() => {
                    sql.push("(1=0)");
                }
                (Op::In, Operand::Many(values)) => {
                    let ps: Vec<String> = values
                        .iter()
                        .map(|v| sql.bind(encode(field, v, d)))
                        .collect();
                    sql.push(&format!("({col} IN ({}))", ps.join(", ")));
                }
                (Op::Contains, Operand::One(v)) => {
                    // multi-picklist membership
                    let p = sql.bind(crate::SqlValue::Text(match v {
                        relata_domain::Value::Text(s) => s.clone(),
                        _ => String::new(),
                    }));
                    sql.push(&format!("({})", d.json_array_contains(&col, &p)));
                }
                (Op::Contains, Operand::Text(needle)) => {
                    let p = sql.bind(crate::SqlValue::Text(needle.clone()));
                    sql.push(&format!("({} > 0)", d.strpos(&format!("lower({col})"), &p)));
                }
                (Op::StartsWith, Operand::Text(needle)) => {
                    let p = sql.bind(crate::SqlValue::Text(needle.clone()));
                    sql.push(&format!("({} = 1)", d.strpos(&format!("lower({col})"), &p)));
                }
                // type_filter never produces other pairs
                _ => {
                    sql.push("(1=0)");
                }
            }
        }
    }
}
