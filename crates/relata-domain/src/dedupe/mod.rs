//! Duplicate detection rules: how two records of one object are compared field by field, and
//! how the evidence adds up to a score between 0 and 1.
//!
//! Each field of a rule has a comparator (exact, email, phone, company name, person name,
//! fuzzy text) that gives a similarity, and a weight: how sure a perfect match of that field
//! alone makes us. Evidence combines as independent signals ("noisy or"): the score is
//! `1 − Π(1 − weight × similarity)`. So one matching email (0.95) is a duplicate, a matching
//! name alone (0.7) is not — there are many 张伟 — but a name and the same account are (0.85).
//! Fuzzy similarities below [`FUZZY_FLOOR`] count as no evidence.
//!
//! Evidence also counts against: when two records both have identifiers that decide alone
//! under the rule (an email or phone group weighing at least the threshold) and not one of
//! them agrees, they are most likely two people — two 张伟 at one company, each with their
//! own mobile — and the score keeps only [`CONFLICT_FACTOR`] of itself. Where phones and
//! emails are weak evidence (an account's switchboard, a shared info@ address), differing
//! ones say nothing against.

pub mod batch;
pub mod company;
pub mod merge;
pub mod person;
pub mod phone;

use serde::{Deserialize, Serialize};

use crate::Value;
use crate::error::{FieldError, FieldErrorCode};
use crate::meta::{FieldType, ObjectDef};
use crate::record::Record;
use crate::search_terms::normalize;
use phone::PhoneRegion;

/// A fuzzy similarity below this says nothing.
pub const FUZZY_FLOOR: f64 = 0.85;

/// What a score keeps when the records' identifiers all disagree (see the module doc).
pub const CONFLICT_FACTOR: f64 = 0.8;

/// The score from each field group's best similarity and whether both records had a value
/// for it: independent evidence, less when every shared identifier disagrees.
pub(crate) fn combine(rule: &MatchRule, groups: &[(f64, bool)]) -> f64 {
    let mut doubt = 1.0;
    let (mut compared, mut agreed) = (0, 0);
    for (f, (best, both)) in rule.fields.iter().zip(groups) {
        doubt *= 1.0 - f.weight.clamp(0.0, 1.0) * best;
        let decisive = f.weight >= rule.threshold;
        if *both && decisive && matches!(f.comparator, Comparator::Email | Comparator::Phone) {
            compared += 1;
            if *best > 0.0 {
                agreed += 1;
            }
        }
    }
    let score = 1.0 - doubt;
    if compared > 0 && agreed == 0 {
        score * CONFLICT_FACTOR
    } else {
        score
    }
}

/// How one field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    /// Equal after width folding and lower-casing (ids, codes, picklists).
    Exact,
    Email,
    /// Equal in E.164.
    Phone,
    CompanyName,
    PersonName,
    /// Jaro-Winkler over the folded text.
    Fuzzy,
}

/// One piece of evidence: a group of fields compared across (a contact's phone with the
/// other's mobile), and how much a perfect match says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchField {
    pub fields: Vec<String>,
    pub comparator: Comparator,
    pub weight: f64,
}

/// What a likely duplicate does to a create or an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Save, and show the possible duplicates.
    #[default]
    Warn,
    /// Refuse to save.
    Block,
}

/// A matching rule of one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchRule {
    pub object: String,
    pub fields: Vec<MatchField>,
    /// The score from which two records are possible duplicates.
    pub threshold: f64,
    #[serde(default)]
    pub action: RuleAction,
    /// An inactive rule finds no duplicates (an admin switched checking off).
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// Most field groups a rule compares.
pub const MAX_RULE_FIELDS: usize = 10;

/// The comparators that suit a field type.
fn suits(comparator: Comparator, t: FieldType) -> bool {
    use Comparator::*;
    match comparator {
        // what `key` reads: text and references (numbers and dates are not identities)
        Exact => matches!(
            t,
            FieldType::Text
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Picklist
                | FieldType::Lookup
                | FieldType::UserLookup
                | FieldType::Id
        ),
        Email => matches!(t, FieldType::Email | FieldType::Text),
        Phone => matches!(t, FieldType::Phone | FieldType::Text),
        CompanyName | PersonName | Fuzzy => matches!(t, FieldType::Text),
    }
}

/// Why two records matched: each field group's similarity that counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub fields: Vec<String>,
    pub similarity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

fn field(names: &[&str], comparator: Comparator, weight: f64) -> MatchField {
    MatchField {
        fields: names.iter().map(|n| (*n).to_owned()).collect(),
        comparator,
        weight,
    }
}

impl MatchRule {
    /// The rule a standard object starts with; `None` for objects without one.
    pub fn standard(object: &str) -> Option<MatchRule> {
        use Comparator::*;
        let fields = match object {
            "contact" => vec![
                field(&["email"], Email, 0.95),
                field(&["phone", "mobile"], Phone, 0.9),
                field(&["name"], PersonName, 0.7),
                field(&["account_id"], Exact, 0.5),
            ],
            "lead" => vec![
                field(&["email"], Email, 0.95),
                field(&["phone", "mobile"], Phone, 0.9),
                field(&["name"], PersonName, 0.7),
                field(&["company"], CompanyName, 0.5),
            ],
            "account" => vec![
                field(&["name"], CompanyName, 0.9),
                field(&["phone"], Phone, 0.6),
                field(&["email"], Email, 0.6),
                field(&["website"], Exact, 0.6),
            ],
            _ => return None,
        };
        Some(MatchRule {
            object: object.to_owned(),
            fields,
            threshold: 0.85,
            action: RuleAction::Warn,
            active: true,
        })
    }

    /// The rule an object uses: the one an admin set, else the standard one (`None`: the
    /// object has no rule, or it is switched off).
    pub fn of(object: &ObjectDef) -> Option<MatchRule> {
        object
            .matching_rule
            .clone()
            .or_else(|| MatchRule::standard(object.name()))
            .filter(|r| r.active)
    }

    /// The problems of a rule an admin wrote for `object`, each naming where it is
    /// (`fields.1.comparator`, `threshold`…).
    pub fn problems(&self, object: &ObjectDef) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.fields.is_empty() || self.fields.len() > MAX_RULE_FIELDS {
            out.push(FieldError::new(
                "fields",
                FieldErrorCode::InvalidOption,
                format!("a rule compares 1-{MAX_RULE_FIELDS} groups of fields"),
            ));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            out.push(FieldError::new(
                "threshold",
                FieldErrorCode::InvalidOption,
                "must be more than 0 and at most 1",
            ));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if !(f.weight > 0.0 && f.weight <= 1.0) {
                out.push(FieldError::new(
                    format!("fields.{i}.weight"),
                    FieldErrorCode::InvalidOption,
                    "must be more than 0 and at most 1",
                ));
            }
            if f.fields.is_empty() || f.fields.len() > 4 {
                out.push(FieldError::new(
                    format!("fields.{i}.fields"),
                    FieldErrorCode::InvalidOption,
                    "name 1-4 fields compared with one another",
                ));
            }
            for name in &f.fields {
                match object.field(name).filter(|d| !d.archived) {
                    None => out.push(FieldError::new(
                        format!("fields.{i}.fields"),
                        FieldErrorCode::UnknownField,
                        format!("'{}' has no field '{name}'", object.name()),
                    )),
                    Some(d) if !suits(f.comparator, d.field_type) => out.push(FieldError::new(
                        format!("fields.{i}.comparator"),
                        FieldErrorCode::InvalidOption,
                        format!(
                            "'{name}' is a {} field; this comparator does not apply to it",
                            d.field_type.as_str()
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
        out
    }

    /// The score of `a` against `b`, and the evidence behind it.
    pub fn score(&self, a: &Record, b: &Record, region: &PhoneRegion) -> Score {
        let mut groups = Vec::with_capacity(self.fields.len());
        let mut evidence = Vec::new();
        for f in &self.fields {
            let best = f
                .fields
                .iter()
                .flat_map(|x| f.fields.iter().map(move |y| (x, y)))
                .map(|(x, y)| similarity(f.comparator, a.get(x), b.get(y), region))
                .fold(0.0, f64::max);
            let has = |r: &Record| {
                f.fields
                    .iter()
                    .any(|n| key(f.comparator, r.get(n), region).is_some())
            };
            groups.push((best, has(a) && has(b)));
            if best > 0.0 {
                evidence.push(Evidence {
                    fields: f.fields.clone(),
                    similarity: best,
                });
            }
        }
        Score {
            score: combine(self, &groups),
            evidence,
        }
    }

    /// Whether `score` makes two records possible duplicates.
    pub fn matches(&self, score: &Score) -> bool {
        score.score >= self.threshold
    }
}

/// The exact key under which a value of an email or phone field is found as a duplicate
/// candidate: `e:` and the email's matching form, `p:` and the number's last digits
/// ([`phone::candidate_key`]). `None` for other field types and for values that are no email
/// or phone. Stored for every such field, whatever the matching rule says, so a changed rule
/// needs no rebuild; candidates found by key are then scored by the rule.
pub fn candidate_key(field_type: FieldType, text: &str) -> Option<String> {
    match field_type {
        FieldType::Email => person::email_key(text).map(|k| format!("e:{k}")),
        FieldType::Phone => phone::candidate_key(text).map(|k| format!("p:{k}")),
        _ => None,
    }
}

/// Whether values of fields of this type are stored as candidate keys: the types
/// [`candidate_key`] reads.
pub fn is_keyed(field_type: FieldType) -> bool {
    matches!(field_type, FieldType::Email | FieldType::Phone)
}

/// The candidate keys of `record`'s email and phone fields, each once.
pub fn candidate_keys(object: &ObjectDef, record: &Record) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for field in object.live_fields() {
        let Value::Text(text) = record.get(field.name()) else {
            continue;
        };
        if let Some(k) = candidate_key(field.field_type, text)
            && !keys.contains(&k)
        {
            keys.push(k);
        }
    }
    keys
}

/// The similarity of two values under `comparator`, 0 when either is empty.
pub fn similarity(comparator: Comparator, a: &Value, b: &Value, region: &PhoneRegion) -> f64 {
    match (key(comparator, a, region), key(comparator, b, region)) {
        (Some(a), Some(b)) => key_similarity(comparator, &a, &b),
        _ => 0.0,
    }
}

/// A value in the form `comparator` compares (`None`: empty, or no email or phone at all).
/// Computing it once per record is what lets a batch job compare millions of pairs.
pub fn key(comparator: Comparator, value: &Value, region: &PhoneRegion) -> Option<String> {
    let text = match value {
        Value::Text(t) if !t.trim().is_empty() => t.as_str(),
        Value::Ref(id) => return Some(id.to_string()),
        _ => return None,
    };
    let key = match comparator {
        Comparator::Exact | Comparator::Fuzzy => Some(normalize(text)),
        Comparator::Email => person::email_key(text),
        Comparator::Phone => phone::to_e164(text, region),
        Comparator::CompanyName => Some(company::company_key(text)),
        Comparator::PersonName => Some(person::name_key(text)),
    };
    key.filter(|k| !k.is_empty())
}

/// The similarity of two keys made by [`key`] with the same comparator.
pub fn key_similarity(comparator: Comparator, a: &str, b: &str) -> f64 {
    let fuzzy = |s: f64| if s >= FUZZY_FLOOR { s } else { 0.0 };
    match comparator {
        Comparator::Exact | Comparator::Email | Comparator::Phone => {
            if a == b {
                1.0
            } else {
                0.0
            }
        }
        Comparator::CompanyName => fuzzy(company::key_similarity(a, b)),
        Comparator::PersonName => fuzzy(person::key_similarity(a, b)),
        Comparator::Fuzzy => fuzzy(strsim::jaro_winkler(a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(pairs: &[(&str, &str)]) -> Record {
        let mut r = Record::default();
        for (k, v) in pairs {
            r.set(k, Value::Text((*v).to_owned()));
        }
        r
    }

    #[test]
    fn one_strong_signal_or_two_weak_ones_make_a_duplicate_and_a_common_name_does_not() {
        let rule = MatchRule::standard("contact").unwrap();
        let region = PhoneRegion::default();
        let a = contact(&[("name", "张伟"), ("mobile", "138-0013-8000")]);
        let same_phone = contact(&[("name", "张 伟"), ("phone", "+86 13800138000")]);
        let s = rule.score(&a, &same_phone, &region);
        assert!(rule.matches(&s), "{s:?}");
        assert_eq!(s.evidence.len(), 2);

        let namesake = contact(&[("name", "张伟"), ("mobile", "13900001111")]);
        assert!(!rule.matches(&rule.score(&a, &namesake, &region)));

        let account = uuid::Uuid::from_u128(1);
        let mut a2 = contact(&[("name", "Wei Zhang")]);
        a2.set("account_id", Value::Ref(account));
        let mut b2 = contact(&[("name", "zhang wei")]);
        b2.set("account_id", Value::Ref(account));
        let s = rule.score(&a2, &b2, &region);
        assert!(rule.matches(&s), "name and account: {s:?}");

        let e1 = contact(&[("email", "Li.Na@Example.com")]);
        let e2 = contact(&[("email", "li.na+work@example.com")]);
        assert!(rule.matches(&rule.score(&e1, &e2, &region)));
        assert!(!rule.matches(&rule.score(&e1, &contact(&[]), &region)));
    }

    #[test]
    fn accounts_match_by_company_name_variants() {
        let rule = MatchRule::standard("account").unwrap();
        let region = PhoneRegion::default();
        let a = contact(&[("name", "上海华远科技有限公司")]);
        for b in ["华远科技（中国）有限公司", "上海华远科技股份有限公司"] {
            let s = rule.score(&a, &contact(&[("name", b)]), &region);
            assert!(rule.matches(&s), "{b}: {s:?}");
        }
        let other = contact(&[("name", "上海云帆科技有限公司")]);
        assert!(!rule.matches(&rule.score(&a, &other, &region)));
        assert!(MatchRule::standard("task").is_none());
    }
}
