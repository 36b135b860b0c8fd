//! Possible duplicates of a record — one about to be created, or one that exists — under its
//! object's matching rule (`relata_domain::dedupe`), for the create form, the record page and
//! the API.
//!
//! Candidates come from the search index (so a check costs a few index lookups, not a scan):
//! the record's email, the last eight digits of each phone, its name (a company name without
//! its legal form and leading place). Each candidate is then scored field by field. Reads go
//! through search, so only records the actor may see are candidates, and a score never
//! rests on a field hidden from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::dedupe::phone::{PhoneRegion, to_e164};
use relata_domain::dedupe::{Comparator, MatchRule, RuleAction, Score, company, person};
use relata_domain::meta::ObjectDef;
use relata_domain::{Record, Value};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;
use crate::records::write;

/// Index hits read per lookup.
const HITS_PER_QUERY: usize = 20;
/// The most possible duplicates answered.
const MAX_ANSWERED: usize = 10;

/// A record that may be the same customer, with its score and the evidence.
#[derive(Debug, Clone)]
pub struct PossibleDuplicate {
    pub record: Record,
    pub score: Score,
}

impl Core {
    /// The installation's reading of phone numbers without a country code.
    pub fn phone_region(&self) -> PhoneRegion {
        PhoneRegion {
            country_code: self.settings.phone_country_code.clone(),
            trunk_prefix: "0".into(),
        }
    }

    /// Possible duplicates of a record described by `input` (as for a create), best first.
    /// Fields the input does not carry count as empty; invalid values are reported as for a
    /// create, missing required ones are not. An object without a matching rule has no duplicates.
    pub async fn duplicates_of_input(
        &self,
        actor: &Actor,
        object: &str,
        input: &Json,
    ) -> Result<(Arc<ObjectDef>, Vec<PossibleDuplicate>), CoreError> {
        let object = self.object(object)?;
        actor.require(object.name(), Operation::Read)?;
        // parsed as an update: a partial record (only a phone, say) is a fair question
        let values = write::parse_input(&object, input, &self.parse_context(), false, false)
            .map_err(CoreError::Validation)?;
        let mut candidate = Record::default();
        for (k, v) in values {
            candidate.set(&k, v);
        }
        let found = self.duplicates(actor, &object, &candidate, None).await?;
        Ok((object, found))
    }

    /// Possible duplicates of the visible record `id`, best first.
    pub async fn duplicates_of_record(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<(Arc<ObjectDef>, Vec<PossibleDuplicate>), CoreError> {
        let record = self.get_record(actor, object, id).await?;
        let object = self.object(object)?;
        let found = self.duplicates(actor, &object, &record, Some(id)).await?;
        Ok((object, found))
    }

    async fn duplicates(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        candidate: &Record,
        exclude: Option<Uuid>,
    ) -> Result<Vec<PossibleDuplicate>, CoreError> {
        self.duplicates_found_by(actor, object, candidate, exclude, Candidates::All)
            .await
    }

    /// Possible duplicates of `candidate`, the candidates looked up by `which` of the rule's
    /// fields, each scored by the whole rule.
    pub(crate) async fn duplicates_found_by(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        candidate: &Record,
        exclude: Option<Uuid>,
        which: Candidates,
    ) -> Result<Vec<PossibleDuplicate>, CoreError> {
        let Some(rule) = self.matching_rule(actor, object) else {
            return Ok(Vec::new());
        };
        let region = self.phone_region();
        let mut seen: BTreeMap<Uuid, Record> = BTreeMap::new();
        for query in lookups(&rule, candidate, &region, which) {
            let groups = self
                .search(
                    actor,
                    &query,
                    Some(vec![object.name().to_owned()]),
                    HITS_PER_QUERY,
                )
                .await?;
            for hit in groups.into_iter().flat_map(|g| g.hits) {
                if let Some(id) = hit.record.id().filter(|id| Some(*id) != exclude) {
                    seen.entry(id).or_insert(hit.record);
                }
            }
        }
        let mut found: Vec<PossibleDuplicate> = seen
            .into_values()
            .map(|record| {
                let score = rule.score(candidate, &record, &region);
                PossibleDuplicate { record, score }
            })
            .filter(|d| rule.matches(&d.score))
            .collect();
        found.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
        found.truncate(MAX_ANSWERED);
        Ok(found)
    }

    /// The object's rule, without the fields the actor may not read (a score must not say
    /// that a hidden phone number matched).
    pub(crate) fn matching_rule(&self, actor: &Actor, object: &ObjectDef) -> Option<MatchRule> {
        let mut rule = MatchRule::of(object)?;
        for f in &mut rule.fields {
            f.fields
                .retain(|n| object.field(n).is_some() && fields::readable(actor, object, n));
        }
        rule.fields.retain(|f| !f.fields.is_empty());
        Some(rule)
    }
}

impl Core {
    /// Refuses a record about to be saved when the object's rule blocks duplicates and it
    /// has one. Looked for among all records, not only the actor's: a rep must not create a
    /// second 华远 because the first is a colleague's. The answer names the duplicates the
    /// actor may see and only counts the others.
    pub(crate) async fn refuse_blocked_duplicate(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        candidate: &Record,
        exclude: Option<Uuid>,
        changed: Option<&[String]>,
    ) -> Result<(), CoreError> {
        let Some(rule) = MatchRule::of(object).filter(|r| r.action == RuleAction::Block) else {
            return Ok(());
        };
        // an edit that leaves the rule's fields alone cannot make a new duplicate
        if let Some(changed) = changed
            && !rule
                .fields
                .iter()
                .flat_map(|f| &f.fields)
                .any(|f| changed.contains(f))
        {
            return Ok(());
        }
        let system = Actor::system(actor.user_id);
        let found = self
            .duplicates_found_by(&system, object, candidate, exclude, Candidates::All)
            .await?;
        if found.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = found.iter().filter_map(|d| d.record.id()).collect();
        let vis = self.visibility(actor, object, relata_domain::access::Operation::Read)?;
        let (obj, wanted) = (object.clone(), ids.clone());
        let seen = self
            .store
            .read(move |conn| crate::records::read::get_many(conn, &obj, &wanted, &vis))
            .await?;
        let named: Vec<String> = found
            .iter()
            .filter_map(|d| {
                d.record
                    .id()
                    .filter(|id| seen.contains_key(id))
                    .map(|id| (id, d.score.score))
            })
            .map(|(id, score)| format!("{id} ({:.0}%)", score * 100.0))
            .collect();
        let hidden = ids.len() - named.len();
        let mut message = format!("this {} is a likely duplicate", object.name());
        if !named.is_empty() {
            message.push_str(&format!(" of {}", named.join(", ")));
        }
        if hidden > 0 {
            message.push_str(&format!(
                "{}{hidden} record(s) you may not see",
                if named.is_empty() { " of " } else { " and of " }
            ));
        }
        message.push_str("; the duplicate rule blocks saving it");
        Err(CoreError::Conflict {
            code: "duplicate_blocked",
            message,
        })
    }
}

/// Which of a rule's fields find candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Candidates {
    /// Every field: emails, phones, names, company names.
    All,
    /// Emails and phones only: a few exact index lookups per record, for imports, where a
    /// common name would otherwise fetch hundreds of candidates for every row.
    EmailAndPhone,
}

/// The search queries that find every record the rule could match with `candidate`.
fn lookups(
    rule: &MatchRule,
    candidate: &Record,
    region: &PhoneRegion,
    which: Candidates,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &rule.fields {
        if which == Candidates::EmailAndPhone
            && !matches!(f.comparator, Comparator::Email | Comparator::Phone)
        {
            continue;
        }
        for name in &f.fields {
            let Value::Text(text) = candidate.get(name) else {
                continue;
            };
            let query = match f.comparator {
                Comparator::Email => person::email_key(text).map(|_| text.trim().to_owned()),
                // any four consecutive digits are indexed: the last eight of the national
                // number are there however the stored number was written
                Comparator::Phone => to_e164(text, region).map(|e| {
                    let digits: Vec<char> = e.chars().filter(char::is_ascii_digit).collect();
                    digits[digits.len().saturating_sub(8)..].iter().collect()
                }),
                Comparator::CompanyName => company_query(text),
                Comparator::PersonName => name_query(text),
                Comparator::Fuzzy | Comparator::Exact => None,
            };
            if let Some(q) = query.filter(|q| q.chars().count() >= 2 && !out.contains(q)) {
                out.push(q);
            }
        }
    }
    out
}

/// A company name as the index finds its variants: the key's CJK core without a leading
/// place (any two of its characters match), or its longest Latin word.
fn company_query(name: &str) -> Option<String> {
    let key = company::company_key(name);
    if !key.is_ascii() {
        let core = company::without_place(&key);
        return Some(core.chars().take(8).collect());
    }
    longest_word(name)
}

fn name_query(name: &str) -> Option<String> {
    let key = person::name_key(name);
    if !key.is_ascii() {
        return Some(key);
    }
    longest_word(&key)
}

fn longest_word(s: &str) -> Option<String> {
    relata_domain::search_terms::normalize(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .max_by_key(|w| w.chars().count())
        .map(str::to_owned)
}
