//! Possible duplicates of a record — one about to be created, or one that exists — under its
//! object's matching rule (`relata_domain::dedupe`), for the create form, the record page and
//! the API.
//!
//! Candidates come from indexes, so a check costs a few lookups, not a scan: the exact keys
//! of its email and phone fields (a normalised email, a number's last seven digits), which the
//! search index keeps in `sys_match_keys`, and search queries for its name (a company name
//! without its legal form and leading place). Each candidate is then scored field by field.
//! Candidates are read with the actor's visibility, so only records the actor may see are
//! candidates, and a score never rests on a field hidden from them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::dedupe::phone::{PhoneRegion, to_e164};
use relata_domain::dedupe::{self, Comparator, MatchRule, RuleAction, Score, company, person};
use relata_domain::meta::ObjectDef;
use relata_domain::{Record, Value};
use relata_store::search_index;

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;
use crate::records::{read, write};

/// Index hits read per lookup.
const HITS_PER_QUERY: usize = 20;
/// Candidate records read per query.
const CANDIDATES_PER_READ: usize = 500;
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
        let (keys, queries) = lookups(&rule, object, candidate, &region, which);
        let mut seen: BTreeMap<Uuid, Record> = BTreeMap::new();
        if !keys.is_empty() {
            for record in self
                .candidates_by_key(actor, object, keys)
                .await?
                .into_values()
                .flatten()
            {
                if let Some(id) = record.id() {
                    seen.entry(id).or_insert(record);
                }
            }
        }
        for query in queries {
            let groups = self
                .search(
                    actor,
                    &query,
                    Some(vec![object.name().to_owned()]),
                    HITS_PER_QUERY,
                )
                .await?;
            for hit in groups.into_iter().flat_map(|g| g.hits) {
                if let Some(id) = hit.record.id() {
                    seen.entry(id).or_insert(hit.record);
                }
            }
        }
        Ok(scored(
            &rule,
            candidate,
            seen.into_values(),
            exclude,
            &region,
        ))
    }

    /// The live records of `object` the actor may see stored under each of `keys` (at most
    /// [`HITS_PER_QUERY`] per key), fields hidden from the actor removed. One query for all
    /// the keys and one per 500 candidates, however many keys: an import asks once per batch.
    pub(crate) async fn candidates_by_key(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        keys: Vec<String>,
    ) -> Result<HashMap<String, Vec<Record>>, CoreError> {
        let vis = self.visibility(actor, object, Operation::Read)?;
        let target = object.clone();
        let mut found = self
            .store
            .read(move |conn| {
                let by_key = search_index::records_by_keys(conn, target.name(), &keys)?;
                let mut ids: Vec<Uuid> = by_key
                    .values()
                    .flat_map(|ids| ids.iter().take(HITS_PER_QUERY))
                    .copied()
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let mut records = HashMap::with_capacity(ids.len());
                for chunk in ids.chunks(CANDIDATES_PER_READ) {
                    records.extend(read::get_many(conn, &target, chunk, &vis)?);
                }
                Ok::<_, CoreError>(
                    by_key
                        .into_iter()
                        .map(|(key, ids)| {
                            let visible = ids
                                .iter()
                                .take(HITS_PER_QUERY)
                                .filter_map(|id| records.get(id).cloned())
                                .collect::<Vec<_>>();
                            (key, visible)
                        })
                        .collect::<HashMap<_, _>>(),
                )
            })
            .await?;
        for record in found.values_mut().flatten() {
            fields::redact(actor, object, record);
        }
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

/// The records among `records` the rule takes for duplicates of `candidate` (other than
/// `exclude`), best first, at most [`MAX_ANSWERED`].
pub(crate) fn scored(
    rule: &MatchRule,
    candidate: &Record,
    records: impl IntoIterator<Item = Record>,
    exclude: Option<Uuid>,
    region: &PhoneRegion,
) -> Vec<PossibleDuplicate> {
    let mut found: Vec<PossibleDuplicate> = records
        .into_iter()
        .filter(|r| exclude.is_none() || r.id() != exclude)
        .map(|record| {
            let score = rule.score(candidate, &record, region);
            PossibleDuplicate { record, score }
        })
        .filter(|d| rule.matches(&d.score))
        .collect();
    found.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
    found.truncate(MAX_ANSWERED);
    found
}

/// What finds every record the rule could match with `candidate`: exact candidate keys of
/// its email and phone fields (`relata_domain::dedupe::candidate_key`), and search queries
/// for the rest (names, company names, and emails or phones kept in text fields, which have
/// no stored keys).
pub(crate) fn lookups(
    rule: &MatchRule,
    object: &ObjectDef,
    candidate: &Record,
    region: &PhoneRegion,
    which: Candidates,
) -> (Vec<String>, Vec<String>) {
    let (mut keys, mut out): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
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
            if matches!(f.comparator, Comparator::Email | Comparator::Phone)
                && let Some(field) = object.field(name)
                && dedupe::is_keyed(field.field_type)
            {
                if let Some(k) = dedupe::candidate_key(field.field_type, text)
                    && !keys.contains(&k)
                {
                    keys.push(k);
                }
                continue;
            }
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
    (keys, out)
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
