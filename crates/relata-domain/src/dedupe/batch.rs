//! Finding the duplicates within a whole object at once, for the batch duplicate job.
//!
//! Comparing every pair of a million records is 5×10¹¹ comparisons; instead each record is
//! put into a few **blocks** — the records sharing an email, a phone number, a name, or a
//! name together with an account — and only records sharing a block are compared. Two
//! records the rule would call duplicates nearly always share one: a duplicate scores above
//! the threshold only on a matching email or phone, or a matching name backed by a matching
//! account or company; a company name also by its core without a leading place ("上海华远科技"
//! and "华远科技"). Blocks larger than [`MAX_BLOCK`] are not compared pair by pair: the
//! thousands of 张伟 are skipped (names are still compared within the smaller
//! name-and-account blocks), and a large block of a deciding identifier (one email on 500
//! records after a bad import, a switchboard number) compares each record with its first
//! only, so copies still join while strangers sharing a number score apart.
//!
//! Each candidate pair is scored by the object's rule on keys computed once per record
//! ([`super::key`]), pairs at or above the threshold are joined into groups (connected
//! components), and each group gets a confidence: the mean score of its matching pairs.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use uuid::Uuid;

use super::phone::PhoneRegion;
use super::{Comparator, MatchRule, key, key_similarity};
use crate::record::Record;

/// Blocks with more records than this are skipped (see the module doc).
pub const MAX_BLOCK: usize = 60;
/// Groups larger than this are kept but split off no further: a chain of weak links through
/// a shared value; their confidence says so.
pub const MAX_GROUP: usize = 50;

/// A record reduced to what the rule compares: per field group of the rule, the keys of its
/// fields that have a value.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: Uuid,
    keys: Vec<Vec<String>>,
}

impl Prepared {
    pub fn new(rule: &MatchRule, id: Uuid, record: &Record, region: &PhoneRegion) -> Prepared {
        let keys = rule
            .fields
            .iter()
            .map(|f| {
                let mut ks: Vec<String> = f
                    .fields
                    .iter()
                    .filter_map(|n| key(f.comparator, record.get(n), region))
                    .collect();
                ks.dedup();
                ks
            })
            .collect();
        Prepared { id, keys }
    }

    /// Whether no field of the rule has a value (such a record matches nothing).
    pub fn is_empty(&self) -> bool {
        self.keys.iter().all(Vec::is_empty)
    }
}

/// The score of two prepared records under `rule`, as [`MatchRule::score`] computes it.
pub fn score(rule: &MatchRule, a: &Prepared, b: &Prepared) -> f64 {
    let groups: Vec<(f64, bool)> = rule
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let best = a.keys[i]
                .iter()
                .flat_map(|x| b.keys[i].iter().map(move |y| (x, y)))
                .map(|(x, y)| key_similarity(f.comparator, x, y))
                .fold(0.0, f64::max);
            (best, !a.keys[i].is_empty() && !b.keys[i].is_empty())
        })
        .collect();
    super::combine(rule, &groups)
}

fn hashed(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish() & !1
}

/// Marks a block hash as one of a deciding identifier (its lowest bit).
fn deciding(hash: u64) -> u64 {
    hash | 1
}

/// The blocks a record belongs to, as hashes (a collision only adds a candidate pair,
/// which its score then rejects).
fn blocks(rule: &MatchRule, p: &Prepared) -> Vec<u64> {
    let mut out = Vec::new();
    // the groups whose equal values identify (emails, phones, exact values and lookups)
    let exact: Vec<usize> = rule
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            matches!(
                f.comparator,
                Comparator::Email | Comparator::Phone | Comparator::Exact
            )
        })
        .map(|(i, _)| i)
        .collect();
    for (i, f) in rule.fields.iter().enumerate() {
        let tag = i.to_string();
        let decides = f.weight >= rule.threshold
            && matches!(f.comparator, Comparator::Email | Comparator::Phone);
        for k in &p.keys[i] {
            let h = hashed(&[&tag, k]);
            out.push(if decides { deciding(h) } else { h });
            if f.comparator == Comparator::CompanyName {
                let core = super::company::without_place(k);
                if core != k {
                    out.push(hashed(&[&tag, core]));
                }
            }
            if matches!(
                f.comparator,
                Comparator::PersonName | Comparator::CompanyName | Comparator::Fuzzy
            ) {
                // a common name narrowed by an account, a company, an email domain…
                for j in &exact {
                    for other in &p.keys[*j] {
                        out.push(hashed(&[&tag, &j.to_string(), k, other]));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A group of likely duplicates: indexes into the records given, and how sure we are.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub members: Vec<usize>,
    /// The mean score of the group's matching pairs.
    pub confidence: f64,
}

/// What a batch found, and how much work it took.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub groups: Vec<Group>,
    /// Candidate pairs scored.
    pub pairs: u64,
    /// Blocks skipped as too large.
    pub skipped_blocks: u64,
}

/// The groups of likely duplicates among `records` under `rule`, most confident first.
pub fn find_groups(rule: &MatchRule, records: &[Prepared]) -> Found {
    let mut entries: Vec<(u64, u32)> = Vec::new();
    for (i, p) in records.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        entries.extend(blocks(rule, p).into_iter().map(|b| (b, i as u32)));
    }
    entries.sort_unstable();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut skipped = 0u64;
    for block in entries.chunk_by(|a, b| a.0 == b.0) {
        if block.len() < 2 {
            continue;
        }
        if block.len() > MAX_BLOCK {
            if block[0].0 & 1 == 1 {
                pairs.extend(block[1..].iter().map(|b| (block[0].1, b.1)));
            } else {
                skipped += 1;
            }
            continue;
        }
        for (x, a) in block.iter().enumerate() {
            for b in &block[x + 1..] {
                pairs.push((a.1, b.1));
            }
        }
    }
    drop(entries);
    pairs.sort_unstable();
    pairs.dedup();
    let mut sets = DisjointSets::new(records.len());
    let mut matched: Vec<(u32, u32, f64)> = Vec::new();
    for &(a, b) in &pairs {
        let s = score(rule, &records[a as usize], &records[b as usize]);
        if s >= rule.threshold {
            matched.push((a, b, s));
            sets.join(a as usize, b as usize);
        }
    }
    // members and pair scores per component
    let mut by_root: std::collections::HashMap<usize, (Vec<usize>, f64, u32)> =
        std::collections::HashMap::new();
    for &(a, _, s) in &matched {
        let e = by_root.entry(sets.root(a as usize)).or_default();
        e.1 += s;
        e.2 += 1;
    }
    for &(a, b, _) in &matched {
        for i in [a as usize, b as usize] {
            let root = sets.root(i);
            if let Some(e) = by_root.get_mut(&root) {
                e.0.push(i);
            }
        }
    }
    let mut groups: Vec<Group> = by_root
        .into_values()
        .map(|(mut members, total, count)| {
            members.sort_unstable();
            members.dedup();
            let mean = total / f64::from(count.max(1));
            // a long chain is less sure than its links: one weak link joins two clusters
            let confidence = if members.len() > MAX_GROUP {
                mean * 0.5
            } else {
                mean
            };
            Group {
                members,
                confidence,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.members.cmp(&b.members))
    });
    Found {
        groups,
        pairs: pairs.len() as u64,
        skipped_blocks: skipped,
    }
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let grand = self.parent[self.parent[i] as usize];
            self.parent[i] = grand;
            i = grand as usize;
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.root(a), self.root(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a as u32;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn contact(n: u128, pairs: &[(&str, &str)]) -> (Uuid, Record) {
        let mut r = Record::default();
        for (k, v) in pairs {
            r.set(k, Value::Text((*v).to_owned()));
        }
        (Uuid::from_u128(n), r)
    }

    fn prepared(rule: &MatchRule, records: &[(Uuid, Record)]) -> Vec<Prepared> {
        let region = PhoneRegion::default();
        records
            .iter()
            .map(|(id, r)| Prepared::new(rule, *id, r, &region))
            .collect()
    }

    #[test]
    fn duplicates_are_grouped_through_any_shared_identifier_and_namesakes_are_not() {
        let rule = MatchRule::standard("contact").unwrap();
        let records = [
            contact(1, &[("name", "张伟"), ("email", "zhang.wei@huayuan.cn")]),
            contact(
                2,
                &[
                    ("name", "张 伟"),
                    ("email", "Zhang.Wei@HUAYUAN.cn"),
                    ("mobile", "138 0013 8000"),
                ],
            ),
            contact(3, &[("name", "张伟"), ("phone", "+86-138-0013-8000")]),
            contact(4, &[("name", "张伟"), ("mobile", "13900001111")]),
            contact(5, &[("name", "Wei Li"), ("email", "li@b.cn")]),
            contact(6, &[("name", "li wei"), ("email", "LI@b.cn")]),
        ];
        let found = find_groups(&rule, &prepared(&rule, &records));
        let groups: Vec<Vec<usize>> = found.groups.iter().map(|g| g.members.clone()).collect();
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert!(
            groups.contains(&vec![0, 1, 2]),
            "by email, then by phone: {groups:?}"
        );
        assert!(groups.contains(&vec![4, 5]));
        assert!(found.groups.iter().all(|g| g.confidence >= rule.threshold));
    }

    #[test]
    fn the_prepared_score_is_the_rule_score() {
        let rule = MatchRule::standard("lead").unwrap();
        let region = PhoneRegion::default();
        let (_, a) = contact(
            1,
            &[
                ("name", "Zhang Wei"),
                ("company", "上海华远科技有限公司"),
                ("phone", "021-5555 0101"),
            ],
        );
        let (_, b) = contact(
            2,
            &[
                ("name", "wei zhang"),
                ("company", "华远科技"),
                ("mobile", "+86 21 5555 0101"),
            ],
        );
        let pa = Prepared::new(&rule, Uuid::from_u128(1), &a, &region);
        let pb = Prepared::new(&rule, Uuid::from_u128(2), &b, &region);
        let direct = rule.score(&a, &b, &region).score;
        assert!((score(&rule, &pa, &pb) - direct).abs() < 1e-12, "{direct}");
    }

    #[test]
    fn copies_beyond_a_block_still_join_and_a_place_name_does_not_hide_a_company() {
        let rule = MatchRule::standard("contact").unwrap();
        let copies: Vec<(Uuid, Record)> = (0..100)
            .map(|i| contact(i, &[("name", "李雷"), ("email", "li.lei@huayuan.cn")]))
            .collect();
        let found = find_groups(&rule, &prepared(&rule, &copies));
        assert_eq!(found.groups.len(), 1);
        assert_eq!(found.groups[0].members.len(), 100);

        let rule = MatchRule::standard("account").unwrap();
        let accounts = [
            contact(1, &[("name", "上海华远科技有限公司")]),
            contact(2, &[("name", "华远科技")]),
        ];
        let found = find_groups(&rule, &prepared(&rule, &accounts));
        assert_eq!(found.groups.len(), 1, "{:?}", found);
    }

    #[test]
    fn a_common_name_is_compared_within_its_account_only() {
        let rule = MatchRule::standard("contact").unwrap();
        let account = Uuid::from_u128(99);
        let mut records: Vec<(Uuid, Record)> = (0..200)
            .map(|i| {
                contact(
                    i,
                    &[("name", "王芳"), ("mobile", &format!("1380000{i:04}"))],
                )
            })
            .collect();
        // two of them at one account, without numbers: the name with the account is a
        // duplicate; two others at another account, each with their own mobile, are two people
        let other = Uuid::from_u128(98);
        for (i, r) in records.iter_mut().enumerate().take(4) {
            r.1.set(
                "account_id",
                Value::Ref(if i < 2 { account } else { other }),
            );
            if i < 2 {
                r.1.set("mobile", Value::Null);
            }
        }
        let found = find_groups(&rule, &prepared(&rule, &records));
        assert_eq!(found.groups.len(), 1, "{:?}", found.groups);
        assert_eq!(found.groups[0].members, vec![0, 1]);
        assert!(
            found.skipped_blocks >= 1,
            "the 200-strong name block is skipped"
        );
        assert!(
            found.pairs < 100,
            "not every pair of namesakes: {}",
            found.pairs
        );
    }
}
