//! Which value survives a merge: for each field, the record whose value the merged record
//! keeps. The rules are the defaults a reviewer sees before choosing otherwise field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Value;
use crate::meta::{FieldDef, FieldType, ObjectDef};
use crate::record::Record;

/// How the default value of each field is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// The value of the most recently updated record that has one.
    #[default]
    MostRecent,
    /// The value of the most complete record (most fields filled) that has one.
    MostComplete,
}

/// Whether a field's value is chosen in a merge: the record's own fields, not its id,
/// owner, audit columns or version.
pub fn is_mergeable(field: &FieldDef) -> bool {
    !field.system && field.field_type != FieldType::Id
}

fn filled(object: &ObjectDef, record: &Record) -> usize {
    object
        .live_fields()
        .filter(|f| is_mergeable(f) && !record.get(f.name()).is_null())
        .count()
}

fn updated_at(record: &Record) -> Option<chrono::DateTime<chrono::Utc>> {
    match record.get("updated_at") {
        Value::Datetime(t) => Some(*t),
        _ => None,
    }
}

/// The records in the order their values are preferred under `strategy` (ties: the order
/// given, so the surviving record, given first, wins them).
pub fn preference(object: &ObjectDef, records: &[Record], strategy: MergeStrategy) -> Vec<usize> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    match strategy {
        MergeStrategy::MostRecent => {
            order.sort_by_key(|&i| std::cmp::Reverse(updated_at(&records[i])));
        }
        MergeStrategy::MostComplete => {
            order.sort_by_key(|&i| std::cmp::Reverse(filled(object, &records[i])));
        }
    }
    order
}

/// The default source of every mergeable field among `fields`: the first record in
/// preference order with a value, or the first record (the survivor) when none has one.
pub fn default_sources(
    object: &ObjectDef,
    records: &[Record],
    fields: &[&FieldDef],
    strategy: MergeStrategy,
) -> BTreeMap<String, usize> {
    let order = preference(object, records, strategy);
    fields
        .iter()
        .filter(|f| is_mergeable(f))
        .map(|f| {
            let source = order
                .iter()
                .copied()
                .find(|&i| !records[i].get(f.name()).is_null())
                .unwrap_or(0);
            (f.name().to_owned(), source)
        })
        .collect()
}

/// The record an object would suggest keeping among several: the most complete, then the
/// oldest (the one other systems are most likely to point at).
pub fn suggested_survivor(object: &ObjectDef, records: &[Record]) -> usize {
    let created = |r: &Record| match r.get("created_at") {
        Value::Datetime(t) => Some(*t),
        _ => None,
    };
    (0..records.len())
        .max_by(|&a, &b| {
            filled(object, &records[a])
                .cmp(&filled(object, &records[b]))
                .then_with(|| created(&records[b]).cmp(&created(&records[a])))
                .then_with(|| b.cmp(&a))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::standard_objects;

    fn contact() -> ObjectDef {
        standard_objects()
            .into_iter()
            .find(|o| o.name() == "contact")
            .unwrap_or_else(|| panic!("no contact object"))
    }

    fn record(pairs: &[(&str, Value)], updated_secs: i64, created_secs: i64) -> Record {
        let mut r = Record::default();
        for (k, v) in pairs {
            r.set(k, v.clone());
        }
        let at = |s| Value::Datetime(chrono::DateTime::from_timestamp(s, 0).unwrap_or_default());
        r.set("updated_at", at(updated_secs));
        r.set("created_at", at(created_secs));
        r
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn the_most_recent_non_empty_value_wins_by_default() {
        let object = contact();
        let fields: Vec<&FieldDef> = ["name", "email", "title", "city"]
            .iter()
            .filter_map(|n| object.field(n))
            .collect();
        let records = vec![
            record(&[("name", text("张伟")), ("title", text("经理"))], 10, 1),
            record(
                &[
                    ("name", text("张 伟")),
                    ("email", text("zw@x.cn")),
                    ("title", text("总监")),
                ],
                20,
                2,
            ),
            record(&[("name", text("Zhang Wei")), ("city", text("上海"))], 5, 3),
        ];
        let chosen = default_sources(&object, &records, &fields, MergeStrategy::MostRecent);
        assert_eq!(chosen["name"], 1, "most recently updated");
        assert_eq!(chosen["email"], 1);
        assert_eq!(chosen["title"], 1);
        assert_eq!(chosen["city"], 2, "the only one with a city");
    }

    #[test]
    fn most_complete_prefers_the_record_with_more_filled_fields() {
        let object = contact();
        let fields: Vec<&FieldDef> = ["name", "title"]
            .iter()
            .filter_map(|n| object.field(n))
            .collect();
        let records = vec![
            record(&[("name", text("A"))], 30, 1),
            record(
                &[
                    ("name", text("B")),
                    ("title", text("T")),
                    ("city", text("C")),
                ],
                10,
                2,
            ),
        ];
        let chosen = default_sources(&object, &records, &fields, MergeStrategy::MostComplete);
        assert_eq!(chosen["name"], 1);
        assert_eq!(suggested_survivor(&object, &records), 1);
    }

    #[test]
    fn a_field_nobody_filled_stays_with_the_survivor_and_ties_go_to_it() {
        let object = contact();
        let fields: Vec<&FieldDef> = ["mobile", "name"]
            .iter()
            .filter_map(|n| object.field(n))
            .collect();
        let records = vec![
            record(&[("name", text("A"))], 10, 1),
            record(&[("name", text("B"))], 10, 2),
        ];
        let chosen = default_sources(&object, &records, &fields, MergeStrategy::MostRecent);
        assert_eq!(chosen["mobile"], 0);
        assert_eq!(chosen["name"], 0, "a tie goes to the survivor");
        assert_eq!(
            suggested_survivor(&object, &records),
            0,
            "equally complete: the oldest"
        );
        assert!(!fields.iter().any(|f| f.name() == "id"));
        assert!(!is_mergeable(
            object.field("owner_id").unwrap_or_else(|| panic!())
        ));
    }
}
