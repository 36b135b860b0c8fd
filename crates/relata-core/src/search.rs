//! Global search: the term index (`sys_search`) kept in the write transaction, and queries
//! over it that join each object's table with the caller's visibility predicate.
//! How text becomes terms is a domain rule: `relata_domain::search_terms`.

use std::sync::Arc;

use serde::Serialize;

use relata_domain::meta::ObjectDef;
use relata_domain::search_terms::{
    QueryPart, normalize, prefix_upper_bound, query_parts, terms_of, whole_key, whole_term,
};
use relata_domain::{Record, Value};
use relata_store::{Conn, Sql, SqlValue};

use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::read::{decode_row, select_list};
use crate::visibility::Visibility;

/// Writes the search terms of `record`'s searchable fields; with `changed`, only those fields
/// are rewritten.
pub fn index_record(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    record: &Record,
    changed: Option<&[&str]>,
) -> Result<(), CoreError> {
    let Some(id) = record.id() else { return Ok(()) };
    let d = conn.dialect();
    for field in object.searchable_fields() {
        if let Some(changed) = changed {
            if !changed.contains(&field.name()) {
                continue;
            }
            let sql = format!(
                "DELETE FROM sys_search WHERE record_id = {} AND field = {}",
                relata_store::dialect::placeholder(d, 1),
                relata_store::dialect::placeholder(d, 2)
            );
            conn.execute(
                &sql,
                &[SqlValue::Uuid(id), SqlValue::Text(field.name().to_owned())],
            )?;
            side.forget_terms(id, Some(field.name()));
        }
        let Value::Text(text) = record.get(field.name()) else {
            continue;
        };
        for term in terms_of(text) {
            side.add_term(vec![
                SqlValue::Text(term.text),
                SqlValue::Text(object.name().to_owned()),
                SqlValue::Uuid(id),
                SqlValue::Text(field.name().to_owned()),
                SqlValue::Int(term.kind as i64),
            ]);
        }
    }
    Ok(())
}

/// Removes every term of a record (deleted to the recycle bin, or purged).
pub fn remove_record(
    conn: &mut dyn Conn,
    side: &mut Companions,
    _object: &ObjectDef,
    id: uuid::Uuid,
) -> Result<(), CoreError> {
    let sql = format!(
        "DELETE FROM sys_search WHERE record_id = {}",
        relata_store::dialect::placeholder(conn.dialect(), 1)
    );
    conn.execute(&sql, &[SqlValue::Uuid(id)])?;
    side.forget_terms(id, None);
    Ok(())
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

/// Searches `objects` for `q`, at most `limit` hits per object, best first.
pub fn search(
    conn: &mut dyn Conn,
    objects: &[Arc<ObjectDef>],
    q: &str,
    vis: &Visibility,
    limit: usize,
) -> Result<Vec<ObjectHits>, CoreError> {
    let parts = query_parts(q);
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let whole = whole_key(q);
    let mut out = Vec::new();
    for object in objects {
        if object.searchable_fields().next().is_none() {
            continue;
        }
        let hits = search_object(conn, object, &parts, &whole, vis, limit)?;
        if !hits.is_empty() {
            out.push(ObjectHits {
                object: object.clone(),
                hits,
            });
        }
    }
    Ok(out)
}

/// How a record matched, from its values: exact when a searchable field's whole value is the
/// query, prefix when one starts with it; otherwise what the parts' terms say (`part_ranks`,
/// the sum over the parts of 0 exact / 1 prefix / 2 inner).
fn rank_of(
    object: &ObjectDef,
    record: &Record,
    whole: &str,
    parts: &[QueryPart],
    part_ranks: i64,
) -> MatchRank {
    let by_parts = if part_ranks == 0 && parts.iter().all(|p| p.verify.is_none()) {
        MatchRank::Exact
    } else if part_ranks <= parts.len() as i64 {
        MatchRank::Prefix
    } else {
        MatchRank::Substring
    };
    let by_value = object
        .searchable_fields()
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
    by_parts.min(by_value)
}

/// Candidates fetched per round: ranked in the term index alone, then looked up in the object's
/// table (visibility and recycle bin applied) until enough are visible.
const CANDIDATE_PAGE: usize = 200;

/// Index entries a one-word query ranks at most (see `ranked_candidates`).
const SCAN_CAP: usize = 5_000;

fn search_object(
    conn: &mut dyn Conn,
    object: &Arc<ObjectDef>,
    parts: &[QueryPart],
    whole: &str,
    vis: &Visibility,
    limit: usize,
) -> Result<Vec<Hit>, CoreError> {
    let wanted = limit.saturating_mul(2).max(limit + 1);
    // Ranking happens in the term index, before any record is read: a common query (a
    // frequent surname, four digits) matches thousands of records, and reading each of them
    // to rank it would cost a random lookup per match. Records are read only for the best
    // candidates, a page at a time, until `wanted` of them are visible.
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let candidates = ranked_candidates(conn, object, parts, whole, CANDIDATE_PAGE, offset)?;
        let exhausted = candidates.len() < CANDIDATE_PAGE;
        offset += candidates.len();
        rows.extend(visible_records(conn, object, &candidates, vis)?);
        if rows.len() >= wanted || exhausted {
            break;
        }
    }
    rows.truncate(wanted);
    let mut hits = Vec::new();
    for (record, part_ranks) in rows {
        // Queries longer than a stored term matched on their first characters: verify.
        let verified = parts.iter().filter_map(|p| p.verify.as_ref()).all(|full| {
            object.searchable_fields().any(|f| matches!(record.get(f.name()), Value::Text(t) if normalize(t).contains(full.as_str())))
        });
        if !verified {
            continue;
        }
        let rank = rank_of(object, &record, whole, parts, part_ranks);
        hits.push(Hit { record, rank });
    }
    // The database ordered by the stored (possibly cut) terms; the values have the last word.
    hits.sort_by_key(|h| h.rank);
    hits.truncate(limit);
    Ok(hits)
}

/// Record ids matching every part, best first: by rank class (multi-word queries), by the
/// sum of the parts' ranks, then newest id first; `count` of them from `offset`. A one-word
/// query that matches more than [`SCAN_CAP`] index entries ranks the first of them in term
/// order (exact, then the shortest terms), so that a broad query answers as fast as a narrow
/// one; every hit is still a true match.
fn ranked_candidates(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    parts: &[QueryPart],
    whole: &str,
    count: usize,
    offset: usize,
) -> Result<Vec<(uuid::Uuid, i64)>, CoreError> {
    let n = parts.len();
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT s.record_id, s.r FROM (SELECT record_id, SUM(r) AS r FROM (");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        let exact = sql.bind(SqlValue::Text(part.prefix.clone()));
        sql.push(&format!(
            "SELECT record_id, {i} AS part, MIN(CASE WHEN term = {exact} AND kind = 0 THEN 0 WHEN kind <= 1 THEN 1 ELSE 2 END) AS r \
             FROM (SELECT record_id, term, kind FROM sys_search WHERE term >= "
        ));
        sql.param(SqlValue::Text(part.prefix.clone()));
        sql.push(" AND term < ");
        sql.param(SqlValue::Text(prefix_upper_bound(&part.prefix)));
        sql.push(" AND object = ");
        sql.param(SqlValue::Text(object.name().to_owned()));
        // A one-word query ranks among the first terms of its range only: the range starts
        // with the exact term, then the shortest continuations, so a query as broad as "wei"
        // or "138" ranks a few thousand of its matches instead of every one of them. Words
        // of a longer query must meet in the same record, so their ranges are read whole.
        if n == 1 {
            sql.push(&format!(" ORDER BY term LIMIT {SCAN_CAP}"));
        }
        sql.push(") m GROUP BY record_id");
    }
    sql.push(&format!(") p GROUP BY record_id HAVING COUNT(*) = {n}) s"));
    // A query of several words can still equal (or start) a whole value, e.g. a company
    // name typed in full: look its key up among the whole-value terms, so such records rank
    // first (a one-word query's part already is its whole key).
    let rank_class = if n > 1 {
        let key = whole_term(whole);
        let exact = sql.bind(SqlValue::Text(key.clone()));
        let from = sql.bind(SqlValue::Text(key.clone()));
        let to = sql.bind(SqlValue::Text(prefix_upper_bound(&key)));
        let obj = sql.bind(SqlValue::Text(object.name().to_owned()));
        sql.push(&format!(
            " LEFT JOIN (SELECT record_id, MIN(CASE WHEN term = {exact} THEN 0 ELSE 1 END) AS w \
             FROM sys_search WHERE term >= {from} AND term < {to} AND object = {obj} AND kind = 0 \
             GROUP BY record_id) wq ON wq.record_id = s.record_id"
        ));
        format!(
            "CASE WHEN s.r = 0 OR wq.w = 0 THEN 0 WHEN s.r <= {n} OR wq.w = 1 THEN 1 ELSE 2 END, "
        )
    } else {
        String::new()
    };
    sql.push(&format!(
        " ORDER BY {rank_class}s.r, s.record_id DESC LIMIT {count} OFFSET {offset}"
    ));
    let mut out = Vec::new();
    for row in conn.query(&sql.text, &sql.params)? {
        let id = row.first().and_then(SqlValue::as_uuid).ok_or_else(|| {
            CoreError::Internal(format!("not a record id in sys_search: {:?}", row.first()))
        })?;
        let r = row
            .get(1)
            .and_then(SqlValue::as_i64)
            .unwrap_or(2 * n as i64);
        out.push((id, r));
    }
    Ok(out)
}

/// The live records among `candidates` that the caller may see, in the candidates' order,
/// each with its candidate rank.
fn visible_records(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    candidates: &[(uuid::Uuid, i64)],
    vis: &Visibility,
) -> Result<Vec<(Record, i64)>, CoreError> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {} FROM {} t WHERE t.deleted_at IS NULL",
        select_list(object, "t."),
        object.name()
    ));
    vis.push(&mut sql, "t.");
    sql.push(" AND t.id IN (");
    for (i, (id, _)) in candidates.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*id));
    }
    sql.push(")");
    let mut found = std::collections::HashMap::new();
    for row in conn.query(&sql.text, &sql.params)? {
        let record = decode_row(object, &row)?;
        if let Some(id) = record.id() {
            found.insert(id, record);
        }
    }
    Ok(candidates
        .iter()
        .filter_map(|(id, r)| found.remove(id).map(|record| (record, *r)))
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
        let chosen: Vec<Arc<ObjectDef>> = match objects {
            None => schema.objects().cloned().collect(),
            Some(names) => names
                .iter()
                .map(|n| self.object(n))
                .collect::<Result<_, _>>()?,
        };
        let vis = Visibility::of(actor);
        let q = q.to_owned();
        self.store
            .read(move |conn| search(conn, &chosen, &q, &vis, limit))
            .await
    }
}
