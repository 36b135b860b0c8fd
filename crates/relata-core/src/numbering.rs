//! Document numbers by the installation's numbering rules (`org_settings`): the next number
//! of a prefix comes from a counter row advanced in the writing transaction, so two
//! writers never take the same number and a rolled-back write takes none. A prefix's counter
//! starts after the highest number already stored with it (numbers given before the counter
//! existed, or imported).

use chrono::NaiveDate;

use relata_domain::meta::ObjectDef;
use relata_domain::numbering::Pattern;
use relata_store::ddl::table_name;
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::error::CoreError;
use crate::org_settings;

/// A numbering rule: its settings key and the pattern used until one is saved.
pub(crate) struct Rule {
    pub key: &'static str,
    pub default: &'static str,
}

pub(crate) const CONTRACT: Rule = Rule {
    key: org_settings::CONTRACT_NUMBERING,
    default: org_settings::DEFAULT_CONTRACT_PATTERN,
};

pub(crate) const QUOTE: Rule = Rule {
    key: org_settings::QUOTE_NUMBERING,
    default: org_settings::DEFAULT_QUOTE_PATTERN,
};

/// The next number by `rule` on `today`, for `field` of `object`'s records.
pub(crate) fn next(
    conn: &mut dyn Conn,
    rule: &Rule,
    object: &ObjectDef,
    field: &str,
    today: NaiveDate,
) -> Result<String, CoreError> {
    let table = table_name(object);
    let what = Numbered { table, field };
    let saved = org_settings::text(conn, rule.key, rule.default)?;
    let pattern = Pattern::parse(&saved)
        .or_else(|_| Pattern::parse(rule.default))
        .map_err(CoreError::Internal)?;
    let prefix = pattern.prefix(today);
    let key = format!("{}:{prefix}", what.table);
    let d = conn.dialect();
    let advanced = conn.query_one(
        &format!(
            "UPDATE sys_sequences SET value = value + 1 WHERE key = {} RETURNING value",
            placeholder(d, 1)
        ),
        &[SqlValue::Text(key.clone())],
    )?;
    let seq = match advanced.as_ref().and_then(|r| r.first()?.as_i64()) {
        Some(seq) => seq,
        None => {
            let start = highest(conn, &what, &prefix)? + 1;
            // another writer may have made the row meanwhile (PostgreSQL): then advance it
            let row = conn.query_one(
                &format!(
                    "INSERT INTO sys_sequences (key, value) VALUES ({}, {}) ON CONFLICT (key) DO UPDATE SET value = sys_sequences.value + 1 RETURNING value",
                    placeholder(d, 1),
                    placeholder(d, 2)
                ),
                &[SqlValue::Text(key), SqlValue::Int(start)],
            )?;
            row.as_ref()
                .and_then(|r| r.first()?.as_i64())
                .ok_or_else(|| CoreError::Internal("sequence without a value".into()))?
        }
    };
    Ok(pattern.number(&prefix, u64::try_from(seq).unwrap_or_default()))
}

/// Where numbers of one rule are stored.
struct Numbered<'a> {
    table: &'a str,
    field: &'a str,
}

/// The highest sequence stored under `prefix`.
fn highest(conn: &mut dyn Conn, what: &Numbered<'_>, prefix: &str) -> Result<i64, CoreError> {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let rows = conn.query(
        &format!(
            "SELECT {f} FROM {t} WHERE {f} LIKE {} ESCAPE '\\'",
            placeholder(conn.dialect(), 1),
            f = what.field,
            t = what.table,
        ),
        &[SqlValue::Text(format!("{escaped}%"))],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| Pattern::sequence_of(prefix, r.first()?.as_str()?))
        .filter_map(|n| i64::try_from(n).ok())
        .max()
        .unwrap_or(0))
}
