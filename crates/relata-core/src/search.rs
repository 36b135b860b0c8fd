//! Global search: the index (`relata_store::search_index`) kept in the write transaction, and
//! queries over it that join each object's table with the caller's visibility predicate.
//! How text becomes terms is a domain rule: `relata_domain::search_terms`.

use std::sync::Arc;

use serde::Serialize;

use relata_domain::meta::ObjectDef;
use relata_domain::search_terms::{
    QueryPart, RULES_VERSION, normalize, query_parts, terms_of, whole_key, whole_term,
};
use relata_domain::{Record, Value};
use relata_store::search_index::{self, Candidate, IndexOp, Scan, SearchQuery, StoredTerm};
use relata_store::{Conn, Sql, SqlValue};

use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::read::{decode_row, select_list};
use crate::visibility::Visibility;

/// Why a record is (re)indexed.
#[derive(Debug, Clone, Copy)]
pub enum Indexing<'a> {
    /// Created in this transaction: nothing of it is stored yet.
    Created,
    /// These fields changed: the record is reindexed when one of them is searchable.
    Changed(&'a [&'a str]),
    /// Rewritten whatever is stored (restore from the recycle bin, rebuild).
    Rewritten,
}

/// Queues the terms of `record`'s searchable fields (all of them: the index holds a record's
/// terms as one entry).
pub fn index_record(side: &mut Companions, object: &ObjectDef, record: &Record, why: Indexing<'_>) {
    let Some(record_id) = record.id() else { return };
    if let Indexing::Changed(fields) = why
        && !object
            .live_fields()
            .filter(|f| f.searchable || relata_domain::dedupe::is_keyed(f.field_type))
            .any(|f| fields.contains(&f.name()))
    {
        return;
    }
    let mut terms = Vec::new();
    for field in object.searchable_fields() {
        let Value::Text(text) = record.get(field.name()) else {
            continue;
        };
        for term in terms_of(text) {
            terms.push(StoredTerm {
                text: term.text,
                kind: term.kind as i64,
                field: field.name().to_owned(),
            });
        }
    }
    side.index(IndexOp::Put {
        object: object.name().to_owned(),
        record_id,
        terms,
        keys: relata_domain::dedupe::candidate_keys(object, record),
        fresh: matches!(why, Indexing::Created),
    });
}

/// Removes every term of a record (deleted to the recycle bin, or purged).
pub fn remove_record(side: &mut Companions, record_id: uuid::Uuid) {
    side.index(IndexOp::Remove { record_id });
}

/// Records reindexed per statement (and, in a rebuild, per transaction).
const REINDEX_PAGE: usize = 1_000;

/// Rewrites the index entries of the live records of `object` with ids after `after`, at most
/// one page of them; returns the last id rewritten (`None` when there were none) and how many.
fn reindex_page(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    after: Option<uuid::Uuid>,
) -> Result<(Option<uuid::Uuid>, u64), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {} FROM {} WHERE deleted_at IS NULL",
        select_list(object, ""),
        relata_store::ddl::table_name(object)
    ));
    if let Some(after) = after {
        sql.push(" AND id > ");
        sql.param(SqlValue::Uuid(after));
    }
    sql.push(&format!(" ORDER BY id LIMIT {REINDEX_PAGE}"));
    if conn.dialect() == relata_store::Dialect::Postgres {
        // A write to one of these records waits until their terms are rewritten: otherwise
        // terms read from the old values could replace the new ones (SQLite has one writer).
        sql.push(" FOR SHARE");
    }
    let mut side = Companions::new();
    let (mut last, mut count) = (None, 0);
    for row in conn.query(&sql.text, &sql.params)? {
        let record = decode_row(object, &row)?;
        index_record(&mut side, object, &record, Indexing::Rewritten);
        last = record.id();
        count += 1;
    }
    side.flush(conn)?;
    Ok((last, count))
}

/// Rewrites the index entries of every live record of `object`, in the caller's transaction
/// (its searchable fields changed).
pub fn reindex_object(conn: &mut dyn Conn, object: &ObjectDef) -> Result<(), CoreError> {
    let mut after = None;
    while let (Some(last), _) = reindex_page(conn, object, after)? {
        after = Some(last);
    }
    Ok(())
}

/// `name`'s definition as stored now (a rebuild runs alongside metadata changes).
fn current_object(conn: &mut dyn Conn, name: &str) -> Result<Option<ObjectDef>, CoreError> {
    let schema = relata_store::meta_sql::load_schema(conn)?;
    Ok(schema.object(name).map(|o| (**o).clone()))
}

/// Attempts per rebuild transaction (PostgreSQL may abort one that deadlocks with a writer).
const REBUILD_ATTEMPTS: u32 = 5;

impl crate::Core {
    /// Rebuilds the search index from the records when it was built with other term rules
    /// (or never: a database copied by `db-copy`, or one whose index format changed). Runs a
    /// page of records per transaction, so writes go on meanwhile: each page is rewritten
    /// from the records and the object's definition as they are when it runs, and every write
    /// in between maintains the index itself. Searches miss what is not rebuilt yet. Returns
    /// the records reindexed (`None`: the index was current).
    pub async fn rebuild_search_index_if_stale(&self) -> Result<Option<u64>, CoreError> {
        let built = self
            .store
            .read(|conn| search_index::built_with(conn).map_err(CoreError::from))
            .await?;
        if built == Some(RULES_VERSION) {
            return Ok(None);
        }
        tracing::info!(built_with = ?built, rules = RULES_VERSION, "rebuilding the search index");
        let names: Vec<String> = self
            .schema()
            .objects()
            .map(|o| o.name().to_owned())
            .collect();
        let mut total = 0u64;
        for name in names {
            let n = name.clone();
            let exists = self
                .rebuild_step(move |conn| {
                    let Some(object) = current_object(conn, &n)? else {
                        return Ok(false);
                    };
                    let table = relata_store::ddl::table_name(&object);
                    search_index::renumber(conn, object.name(), table)?;
                    Ok(true)
                })
                .await?;
            let mut after = if exists { None } else { continue };
            loop {
                let n = name.clone();
                let (last, count) = self
                    .rebuild_step(move |conn| match current_object(conn, &n)? {
                        Some(object) => reindex_page(conn, &object, after),
                        None => Ok((None, 0)),
                    })
                    .await?;
                total += count;
                let Some(last) = last else { break };
                after = Some(last);
            }
        }
        self.store
            .write(|conn| {
                search_index::set_built_with(conn, RULES_VERSION).map_err(CoreError::from)
            })
            .await?;
        tracing::info!(records = total, "search index rebuilt");
        Ok(Some(total))
    }

    /// One transaction of a rebuild, retried when the database aborts it.
    async fn rebuild_step<T, F>(&self, step: F) -> Result<T, CoreError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn Conn) -> Result<T, CoreError> + Clone + Send + 'static,
    {
        let mut attempt = 1;
        loop {
            let f = step.clone();
            match self.store.write(move |conn| f(conn)).await {
                Err(e) if attempt < REBUILD_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "search index rebuild: retrying a step");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)))
                        .await;
                }
                other => return other,
            }
        }
    }
}

/// How well a record matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRank {
    Exact,
    Prefix,
    Substring,
}

#[derive(Debug)]
pub struct Hit {
    pub record: Record,
    pub rank: MatchRank,
}

#[derive(Debug)]
pub struct ObjectHits {
    pub object: Arc<ObjectDef>,
    pub hits: Vec<Hit>,
}

/// One object to search, as one caller sees it.
#[derive(Debug, Clone)]
pub struct SearchTarget {
    pub object: Arc<ObjectDef>,
    pub vis: Visibility,
    /// Searchable fields hidden from the caller by field-level security: a record must match
    /// on its other fields (the index holds a record's terms as one entry, so a match through
    /// a hidden field is found by the index and refused here).
    pub hidden: Vec<String>,
}

/// Searches `targets` for `q`, at most `limit` hits per object, best first.
pub fn search(
    conn: &mut dyn Conn,
    targets: &[SearchTarget],
    q: &str,
    limit: usize,
) -> Result<Vec<ObjectHits>, CoreError> {
    let parts = query_parts(q);
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let whole = whole_key(q);
    let mut out = Vec::new();
    for target in targets {
        let object = &target.object;
        if visible_searchable(target).next().is_none() {
            continue;
        }
        let hits = search_object(conn, target, &parts, &whole, limit)?;
        if !hits.is_empty() {
            out.push(ObjectHits {
                object: object.clone(),
                hits,
            });
        }
    }
    Ok(out)
}

/// How a record matched: the class the index gave it, or better when a searchable field's
/// whole value equals (exact) or starts with (prefix) the query.
fn rank_of(
    target: &SearchTarget,
    record: &Record,
    whole: &str,
    parts: &[QueryPart],
    class: u8,
) -> MatchRank {
    // With fields hidden from the caller, the index's class may come from one of them (an
    // exact match on a hidden phone would rank first and tell its value): rank by the
    // visible values alone.
    let by_index = match class {
        _ if !target.hidden.is_empty() => MatchRank::Substring,
        // a query longer than a term matched on its first characters only
        0 if parts.iter().all(|p| p.verify.is_none()) => MatchRank::Exact,
        0 | 1 => MatchRank::Prefix,
        _ => MatchRank::Substring,
    };
    let by_value = visible_searchable(target)
        .filter_map(|f| match record.get(f.name()) {
            Value::Text(t) => Some(whole_key(t)),
            _ => None,
        })
        .map(|key| {
            if key == whole {
                MatchRank::Exact
            } else if key.starts_with(whole) {
                MatchRank::Prefix
            } else {
                MatchRank::Substring
            }
        })
        .min()
        .unwrap_or(MatchRank::Substring);
    by_index.min(by_value)
}

/// Candidates fetched per round: ranked in the index alone, then looked up in the object's
/// table (visibility and recycle bin applied) until enough are visible.
const CANDIDATE_PAGE: usize = 200;

/// The searchable fields the caller of `target` may see.
fn visible_searchable(target: &SearchTarget) -> impl Iterator<Item = &relata_domain::FieldDef> {
    target
        .object
        .searchable_fields()
        .filter(|f| !target.hidden.iter().any(|h| h == f.name()))
}

/// Whether every part of the query matches a term of one of the caller's visible fields.
fn matches_visible_fields(target: &SearchTarget, record: &Record, parts: &[QueryPart]) -> bool {
    let terms: Vec<String> = visible_searchable(target)
        .filter_map(|f| match record.get(f.name()) {
            Value::Text(t) => Some(terms_of(t).into_iter().map(|t| t.text)),
            _ => None,
        })
        .flatten()
        .collect();
    parts
        .iter()
        .all(|p| terms.iter().any(|t| t.starts_with(p.prefix.as_str())))
}

fn search_object(
    conn: &mut dyn Conn,
    target: &SearchTarget,
    parts: &[QueryPart],
    whole: &str,
    limit: usize,
) -> Result<Vec<Hit>, CoreError> {
    let object = &target.object;
    let vis = &target.vis;
    let wanted = limit.saturating_mul(2).max(limit + 1);
    // Ranking happens in the index, before any record is read: a common query (a frequent
    // surname, four digits) matches thousands of records, and reading each of them to rank
    // it would cost a random lookup per match. Records are read only for the best
    // candidates, a page at a time, until `wanted` of them are visible.
    let whole_term = whole_term(whole);
    let query = SearchQuery {
        object: object.name(),
        parts,
        whole: &whole_term,
    };
    let mut scan = Scan::default();
    let mut rows = Vec::new();
    loop {
        let candidates = search_index::candidates(conn, &query, &mut scan, CANDIDATE_PAGE)?;
        let exhausted = candidates.len() < CANDIDATE_PAGE;
        rows.extend(visible_records(conn, object, &candidates, vis)?);
        if rows.len() >= wanted || exhausted {
            break;
        }
    }
    rows.truncate(wanted);
    let mut hits = Vec::new();
    for (record, class) in rows {
        // Queries longer than a stored term matched on their first characters: verify.
        let verified = parts.iter().filter_map(|p| p.verify.as_ref()).all(|full| {
            visible_searchable(target).any(|f| matches!(record.get(f.name()), Value::Text(t) if normalize(t).contains(full.as_str())))
        });
        if !verified
            || (!target.hidden.is_empty() && !matches_visible_fields(target, &record, parts))
        {
            continue;
        }
        let rank = rank_of(target, &record, whole, parts, class);
        hits.push(Hit { record, rank });
    }
    // The index ranked by the stored (possibly cut) terms; the values have the last word.
    hits.sort_by_key(|h| h.rank);
    hits.truncate(limit);
    Ok(hits)
}

/// The live records among `candidates` that the caller may see, in the candidates' order,
/// each with its candidate rank.
fn visible_records(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    candidates: &[Candidate],
    vis: &Visibility,
) -> Result<Vec<(Record, u8)>, CoreError> {
    let ids: Vec<uuid::Uuid> = candidates.iter().map(|c| c.record_id).collect();
    let mut found = crate::records::read::get_many(conn, object, &ids, vis)?;
    Ok(candidates
        .iter()
        .filter_map(|c| found.remove(&c.record_id).map(|record| (record, c.class)))
        .collect())
}

impl crate::Core {
    /// Searches the named objects (all when `None`) as `actor` sees them.
    pub async fn search(
        &self,
        actor: &crate::Actor,
        q: &str,
        objects: Option<Vec<String>>,
        limit: usize,
    ) -> Result<Vec<ObjectHits>, CoreError> {
        let schema = self.schema();
        let chosen: Vec<Arc<ObjectDef>> = match &objects {
            // every object the caller may read
            None => schema
                .objects()
                .filter(|o| actor.may(o.name(), relata_domain::access::Operation::Read))
                .cloned()
                .collect(),
            // naming an object one may not read is refused
            Some(names) => names
                .iter()
                .map(|n| self.object(n))
                .collect::<Result<_, _>>()?,
        };
        let mut targets = Vec::with_capacity(chosen.len());
        for object in chosen {
            let vis = self.visibility(actor, &object, relata_domain::access::Operation::Read)?;
            let hidden = object
                .searchable_fields()
                .filter(|f| !crate::fields::readable(actor, &object, f.name()))
                .map(|f| f.name().to_owned())
                .collect();
            targets.push(SearchTarget {
                object,
                vis,
                hidden,
            });
        }
        let q = q.to_owned();
        let mut hits = self
            .store
            .read(move |conn| search(conn, &targets, &q, limit))
            .await?;
        for group in &mut hits {
            for hit in &mut group.hits {
                crate::fields::redact(actor, &group.object, &mut hit.record);
            }
        }
        Ok(hits)
    }
}
