//! Typed filters compiled to SQL, with exactly the semantics of the in-memory evaluator
//! (`relata_domain::filter::eval`): comparisons with NULL are false except `ne`; `not` is
//! two-valued (hence the COALESCE); `contains`/`starts_with` lower-case ASCII only (SQLite's
//! `lower()` does that, and PostgreSQL's does it for "C"-collated columns).

use relata_domain::filter::{Op, Operand, TypedFilter};

use crate::codec::encode;
use crate::dialect::Sql;

/// Restricts the related records a related-record condition looks at to those the caller
/// may see: "has an open opportunity" must not count one they may not see, or the answer
/// (and every count over it) would reveal it.
pub trait RelatedRows {
    /// Appends ` AND <predicate>` keeping the visible rows of `object`'s table aliased `alias`.
    fn push_visible(&self, sql: &mut Sql, object: &str, alias: &str);
}

/// For filters typed without related-record conditions (sharing rules): sees no related row.
pub struct NoRelatedRows;

impl RelatedRows for NoRelatedRows {
    fn push_visible(&self, sql: &mut Sql, _: &str, _: &str) {
        sql.push(" AND 1=0");
    }
}

/// Appends `filter` as a boolean SQL expression; `alias` prefixes column names (e.g. `t.`);
/// `related` says which related records the caller may see.
pub fn push_filter(sql: &mut Sql, filter: &TypedFilter, alias: &str, related: &dyn RelatedRows) {
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
                push_filter(sql, item, alias, related);
            }
            sql.push(")");
        }
        TypedFilter::Not(inner) => {
            sql.push("(NOT COALESCE(");
            push_filter(sql, inner, alias, related);
            sql.push(", FALSE))");
        }
        TypedFilter::Related {
            object,
            via,
            exists,
            filter: inner,
        } => {
            // a nested condition's alias extends its parent's: t. → tr. → trr.
            let r = format!("{}r.", alias.trim_end_matches('.'));
            let table = crate::ddl::table_name(object);
            sql.push(&format!(
                "({}EXISTS (SELECT 1 FROM {table} {} WHERE {r}{} = {alias}id AND {r}deleted_at IS NULL",
                if *exists { "" } else { "NOT " },
                r.trim_end_matches('.'),
                via.name(),
            ));
            related.push_visible(sql, object.name(), &r);
            sql.push(" AND ");
            push_filter(sql, inner, &r, related);
            sql.push("))");
        }
        TypedFilter::Tagged { object, tag } => {
            let o = sql.bind(crate::SqlValue::Text(object.clone()));
            let n = sql.bind(crate::SqlValue::Text(tag.clone()));
            sql.push(&format!(
                "({alias}id IN (SELECT rt.record_id FROM sys_record_tags rt \
                 JOIN sys_tags tg ON tg.id = rt.tag_id WHERE tg.object = {o} AND tg.name = {n}))"
            ));
        }
        TypedFilter::InList(list) => {
            let p = sql.bind(crate::SqlValue::Uuid(*list));
            sql.push(&format!(
                "({alias}id IN (SELECT lm.record_id FROM sys_list_members lm WHERE lm.list_id = {p}))"
            ));
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
