//! Data quality: how complete a record is in the fields that matter for working with it — a
//! contact one cannot call or write to, an account without industry or credit code, is a
//! record a rep cannot use. A score from 0 to 100 and the key fields missing.

use crate::meta::{FieldType, ObjectDef};
use crate::record::Record;

/// A key field (or a group of fields any one of which will do) and how much it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyField {
    pub any_of: Vec<String>,
    pub weight: u32,
}

fn key(any_of: &[&str], weight: u32) -> KeyField {
    KeyField {
        any_of: any_of.iter().map(|s| (*s).to_owned()).collect(),
        weight,
    }
}

/// The key fields of an object: chosen for the standard objects; for others every field an
/// admin added that is not a yes/no box, equally.
pub fn key_fields(object: &ObjectDef) -> Vec<KeyField> {
    let chosen = match object.name() {
        "account" => vec![
            key(&["industry"], 2),
            key(&["phone"], 2),
            key(&["credit_code"], 2),
            key(&["province", "region"], 1),
            key(&["city"], 1),
            key(&["address"], 1),
            key(&["website", "email"], 1),
            key(&["level"], 1),
            key(&["source"], 1),
        ],
        "contact" => vec![
            key(&["mobile", "phone"], 3),
            key(&["email"], 2),
            key(&["account_id"], 2),
            key(&["title"], 1),
            key(&["department"], 1),
            key(&["city"], 1),
            key(&["source"], 1),
        ],
        "lead" => vec![
            key(&["mobile", "phone"], 3),
            key(&["email"], 2),
            key(&["company"], 2),
            key(&["title"], 1),
            key(&["industry"], 1),
            key(&["city"], 1),
            key(&["source"], 1),
        ],
        "opportunity" => vec![
            key(&["account_id"], 2),
            key(&["amount"], 2),
            key(&["close_date"], 2),
            key(&["contact_id"], 1),
            key(&["next_step"], 1),
            key(&["source"], 1),
        ],
        _ => object
            .live_fields()
            .filter(|f| !f.system && f.name() != object.name_field.as_str())
            .filter(|f| f.field_type != FieldType::Boolean)
            .map(|f| key(&[f.name()], 1))
            .collect(),
    };
    // only what the object has now (an admin may have archived a standard field)
    chosen
        .into_iter()
        .map(|k| KeyField {
            any_of: k
                .any_of
                .into_iter()
                .filter(|f| object.field(f).is_some())
                .collect(),
            weight: k.weight,
        })
        .filter(|k| !k.any_of.is_empty())
        .collect()
}

/// A record's score and the key fields it lacks (the first field of each missing group).
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    pub score: u8,
    pub missing: Vec<String>,
}

pub fn score(keys: &[KeyField], record: &Record) -> Quality {
    let total: u32 = keys.iter().map(|k| k.weight).sum();
    let mut have = 0;
    let mut missing = Vec::new();
    for k in keys {
        if k.any_of.iter().any(|f| !record.get(f).is_null()) {
            have += k.weight;
        } else {
            missing.push(k.any_of[0].clone());
        }
    }
    // rounded down, so only a complete record shows 100; nothing to check is complete
    let score = (have * 100).checked_div(total).map_or(100, |s| s as u8);
    Quality { score, missing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use crate::standard::standard_objects;

    fn object(name: &str) -> ObjectDef {
        standard_objects()
            .into_iter()
            .find(|o| o.name() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn a_contact_one_can_call_and_write_to_scores_more_than_one_with_a_title_only() {
        let contact = object("contact");
        let keys = key_fields(&contact);
        let mut reachable = Record::default();
        reachable.set("phone", Value::Text("+8613800138000".into()));
        reachable.set("email", Value::Text("a@b.cn".into()));
        let mut titled = Record::default();
        titled.set("title", Value::Text("经理".into()));
        let a = score(&keys, &reachable);
        let b = score(&keys, &titled);
        assert!(a.score > b.score, "{a:?} {b:?}");
        assert!(
            !a.missing.contains(&"mobile".to_owned()),
            "a phone stands for a mobile"
        );
        assert_eq!(b.missing[0], "mobile");
        assert_eq!(score(&keys, &Record::default()).score, 0);
    }

    #[test]
    fn only_a_complete_record_scores_100_and_custom_objects_count_their_own_fields() {
        let lead = object("lead");
        let keys = key_fields(&lead);
        let mut r = Record::default();
        for k in &keys {
            r.set(&k.any_of[0], Value::Text("x".into()));
        }
        assert_eq!(
            score(&keys, &r),
            Quality {
                score: 100,
                missing: vec![]
            }
        );
        r.set("source", Value::Null);
        assert!(score(&keys, &r).score < 100);

        let mut custom = object("product");
        custom.api_name = crate::ApiName::trusted("site_visit");
        let keys = key_fields(&custom);
        assert!(keys.iter().all(|k| k.weight == 1));
        assert!(
            !keys
                .iter()
                .any(|k| k.any_of[0] == custom.name_field.as_str())
        );
    }
}
