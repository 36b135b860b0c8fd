//! The search index: where the terms of `relata_domain::search_terms` are stored and how
//! records are found by them. The one place where the two backends store something
//! differently (see ADRs 0003 and 0005 in `docs/adr/`):
//!
//! - **SQLite**: one FTS5 row per record (`sys_search_fts`, contentless, its rowid a `doc`
//!   number mapped to the record by `sys_search_docs`). FTS5 buffers a transaction's terms and
//!   writes them as one sorted segment, merging segments in the background: a bulk call of
//!   5,000 contacts writes a few sequential pages instead of touching one random B-tree page
//!   per term, which made the index three quarters of the cost of every write.
//! - **PostgreSQL**: one row per term in `sys_search` (a B-tree on `(term, object, record_id,
//!   field)`), found by range scans.
//!
//! Both answer the same question the same way: the records of one object matching every
//! query part, in three classes — exact, prefix, substring — newest first within a class.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use uuid::Uuid;

use relata_domain::search_terms::{QueryPart, RULES_VERSION, prefix_upper_bound};

use crate::batch::{OnDuplicate, insert_rows};
use crate::conn::Conn;
use crate::dialect::ColType::*;
use crate::dialect::{Dialect, Sql, placeholder};
use crate::error::StoreError;
use crate::schema::{ColumnDef, TableDef};
use crate::sql_value::SqlValue;

/// One stored term of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTerm {
    pub text: String,
    /// 0 whole value, 1 start of the value, 2 inside it (`TermKind` as a number).
    pub kind: i64,
    pub field: String,
}

/// A change to the index, queued while records are written and applied before commit.
#[derive(Debug, Clone)]
pub enum IndexOp {
    /// The record's terms are now `terms` (all of its searchable fields). `fresh`: the record
    /// was created in this transaction, so nothing of it can be stored yet.
    Put {
        object: String,
        record_id: Uuid,
        terms: Vec<StoredTerm>,
        /// Exact duplicate-candidate keys (`relata_domain::dedupe::candidate_keys`).
        keys: Vec<String>,
        fresh: bool,
    },
    /// The record leaves the index (recycle bin, purge).
    Remove { record_id: Uuid },
}

impl IndexOp {
    fn record_id(&self) -> Uuid {
        match self {
            IndexOp::Put { record_id, .. } | IndexOp::Remove { record_id } => *record_id,
        }
    }

    fn fresh(&self) -> bool {
        matches!(self, IndexOp::Put { fresh: true, .. })
    }

    /// `(object, record_id, terms)` of a put; `None` for a removal.
    fn into_put(self) -> Option<(String, Uuid, Vec<StoredTerm>)> {
        match self {
            IndexOp::Put {
                object,
                record_id,
                terms,
                ..
            } => Some((object, record_id, terms)),
            IndexOp::Remove { .. } => None,
        }
    }

    /// The candidate-key rows of a put: `[object, key, record_id]`.
    fn key_rows(&self) -> Vec<Vec<SqlValue>> {
        match self {
            IndexOp::Put {
                object,
                record_id,
                keys,
                ..
            } => keys
                .iter()
                .map(|k| {
                    vec![
                        SqlValue::Text(object.clone()),
                        SqlValue::Text(k.clone()),
                        SqlValue::Uuid(*record_id),
                    ]
                })
                .collect(),
            IndexOp::Remove { .. } => Vec::new(),
        }
    }
}

/// Token lengths FTS5 keeps a prefix index for, so that the broadest queries — three Latin
/// letters (10: the object's 4 + 6), four digits or letters (12), two Chinese characters or six
/// letters (16) — read one index entry instead of merging every term they start: at 1,000,000
/// contacts, four digits of a phone number start thousands of distinct terms.
const PREFIX_INDEXES: &str = "10 12 16";

/// `sys_meta_state` row holding the term-rules version the index was built with.
const BUILT_WITH_ROW: i64 = 2;

/// The tables of the index on `dialect`, for the schema check (the FTS5 table itself and its
/// shadow tables are SQLite's storage, not described here).
pub fn tables(dialect: Dialect) -> Vec<TableDef> {
    match dialect {
        Dialect::Postgres => vec![term_table(), key_table()],
        Dialect::Sqlite => vec![doc_table(), key_table()],
    }
}

/// Exact duplicate-candidate keys (a normalised email, a phone number's last digits) per
/// record, on both backends: an import checking a batch of 500 rows by email and phone asks
/// one B-tree for all their keys at once, where the full-text index would take a query per
/// key, each merging every segment.
pub fn key_table() -> TableDef {
    let mut t = TableDef::new(
        "sys_match_keys",
        vec![
            ColumnDef::new("object", Text),
            ColumnDef::new("match_key", Text),
            ColumnDef::new("record_id", Uuid),
        ],
        &["object", "match_key", "record_id"],
    )
    .index(&["record_id"], false);
    t.without_rowid = true;
    t
}

/// Migration 17: the candidate-key table, filled by a rebuild of the index at the next start.
pub fn add_key_table(conn: &mut dyn Conn) -> Result<(), StoreError> {
    key_table().create(conn)?;
    invalidate(conn)
}

/// Keys per `IN (…)` list when looking candidates up.
const KEY_CHUNK: usize = 500;

/// The records of `object` stored under each of `keys` (keys found under no record are
/// absent), live records only: a record leaves the index when it goes to the recycle bin.
pub fn records_by_keys(
    conn: &mut dyn Conn,
    object: &str,
    keys: &[String],
) -> Result<HashMap<String, Vec<Uuid>>, StoreError> {
    let mut found: HashMap<String, Vec<Uuid>> = HashMap::new();
    let mut keys: Vec<&String> = keys.iter().collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(KEY_CHUNK) {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT match_key, record_id FROM sys_match_keys WHERE object = ");
        sql.param(SqlValue::Text(object.to_owned()));
        sql.push(" AND match_key IN (");
        for (i, k) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(SqlValue::Text((*k).clone()));
        }
        sql.push(")");
        for row in conn.query(&sql.text, &sql.params)? {
            if let (Some(k), Some(id)) = (row[0].as_str(), row[1].as_uuid()) {
                found.entry(k.to_owned()).or_default().push(id);
            }
        }
    }
    Ok(found)
}

/// The term table as migration 1 created it on both backends (PostgreSQL keeps it).
///
/// On PostgreSQL the primary key also carries `kind` (migration 37, [`cover_kind`]), so a
/// search ranks its candidates from the index alone.
pub fn term_table() -> TableDef {
    let mut t = TableDef::new(
        "sys_search",
        vec![
            ColumnDef::new("term", Text),
            ColumnDef::new("object", Text),
            ColumnDef::new("record_id", Uuid),
            ColumnDef::new("field", Text),
            ColumnDef::new("kind", BigInt),
        ],
        &["term", "object", "record_id", "field"],
    )
    .index(&["record_id"], false);
    t.without_rowid = true;
    t
}

/// PostgreSQL: the term index carries each entry's kind (`INCLUDE (kind)`). A search ranks up
/// to [`SCAN_CAP`] entries of a term range by kind; without it every entry cost a read of its
/// table row, scattered over the table. Four phone digits ("7645", 2,217 entries) over
/// 1,000,000 contacts ranked in 12–17 ms that way and in 4.6–7.2 ms from the index alone,
/// with every page cached. The migration rebuilds the index once: building it took 2.5 minutes
/// over the 70 million terms of the 1M benchmark data set. SQLite keeps no term table (FTS5).
pub fn cover_kind(conn: &mut dyn Conn) -> Result<(), StoreError> {
    if conn.dialect() != Dialect::Postgres {
        return Ok(());
    }
    let key = term_table().primary_key.join(", ");
    conn.batch(&format!(
        "ALTER TABLE sys_search DROP CONSTRAINT sys_search_pkey, \
         ADD CONSTRAINT sys_search_pkey PRIMARY KEY ({key}) INCLUDE (kind)"
    ))
}

fn doc_table() -> TableDef {
    TableDef::new(
        "sys_search_docs",
        vec![
            ColumnDef::new("doc", BigInt),
            ColumnDef::new("object", Text),
            ColumnDef::new("record_id", Uuid),
        ],
        &["doc"],
    )
    .index(&["record_id"], true)
}

/// Migration 3: on SQLite, replaces the term table by the FTS5 index, rebuilt from the records
/// at the next start (the built-with row is absent). On PostgreSQL the term table stays.
pub fn migrate_to_fts(conn: &mut dyn Conn) -> Result<(), StoreError> {
    if conn.dialect() != Dialect::Sqlite {
        // the term table stays, and its terms are current
        return set_built_with(conn, RULES_VERSION);
    }
    conn.batch("DROP TABLE sys_search")?;
    doc_table().create(conn)?;
    // contentless: the terms are ours to recompute, storing them twice would double the
    // index; contentless_delete lets a record's row be deleted by rowid alone. detail=column
    // keeps which column (whole / start / inner) a term is in, which ranking needs, without
    // positions. The `ascii` tokenizer splits on the spaces between our hex tokens only.
    conn.batch(&format!(
        "CREATE VIRTUAL TABLE sys_search_fts USING fts5(w, s, i, content = '', \
         contentless_delete = 1, detail = column, tokenize = 'ascii', prefix = '{PREFIX_INDEXES}')"
    ))?;
    invalidate(conn)
}

/// Marks the index as needing a rebuild from the records.
pub fn invalidate(conn: &mut dyn Conn) -> Result<(), StoreError> {
    conn.execute(
        &format!("DELETE FROM sys_meta_state WHERE id = {BUILT_WITH_ROW}"),
        &[],
    )?;
    Ok(())
}

/// The term-rules version the index was built with (`None`: never, or since invalidated).
pub fn built_with(conn: &mut dyn Conn) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_one(
            &format!("SELECT version FROM sys_meta_state WHERE id = {BUILT_WITH_ROW}"),
            &[],
        )?
        .and_then(|r| r.first().and_then(SqlValue::as_i64)))
}

pub fn set_built_with(conn: &mut dyn Conn, version: i64) -> Result<(), StoreError> {
    invalidate(conn)?;
    conn.execute(
        &format!(
            "INSERT INTO sys_meta_state (id, version) VALUES ({BUILT_WITH_ROW}, {})",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Int(version)],
    )?;
    Ok(())
}

/// How many records of `object` have terms in the index.
pub fn indexed_records(conn: &mut dyn Conn, object: &str) -> Result<i64, StoreError> {
    let name = SqlValue::Text(object.to_owned());
    let row = match conn.dialect() {
        // every token of an object's records starts with the object's part
        Dialect::Sqlite => conn.query_one(
            "SELECT COUNT(*) FROM sys_search_fts f JOIN sys_search_docs d ON d.doc = f.rowid \
             WHERE sys_search_fts MATCH ?1 AND d.object = ?2",
            &[SqlValue::Text(format!("\"{}\"*", token(object, ""))), name],
        )?,
        Dialect::Postgres => conn.query_one(
            "SELECT COUNT(DISTINCT record_id) FROM sys_search WHERE object = $1",
            &[name],
        )?,
    };
    Ok(row
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}

/// Applies queued changes: for each record only its last change counts, and what was stored
/// before this transaction is removed first unless the record is new. On SQLite's writer the
/// changes wait for the end of the group commit ([`flush_deferred`]).
pub fn apply(conn: &mut dyn Conn, ops: Vec<IndexOp>) -> Result<(), StoreError> {
    if let Some(deferred) = conn.deferred_index() {
        deferred.extend(ops);
        return Ok(());
    }
    apply_now(conn, ops)
}

/// Writes the changes deferred so far in this transaction, before its commit.
pub(crate) fn flush_deferred(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let ops = match conn.deferred_index() {
        Some(deferred) if !deferred.is_empty() => std::mem::take(deferred),
        _ => return Ok(()),
    };
    apply_now(conn, ops)
}

fn apply_now(conn: &mut dyn Conn, ops: Vec<IndexOp>) -> Result<(), StoreError> {
    let mut last: HashMap<Uuid, usize> = HashMap::with_capacity(ops.len());
    let mut stored_before: Vec<Uuid> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if last.insert(op.record_id(), i).is_none() && !op.fresh() {
            stored_before.push(op.record_id());
        }
    }
    let finals: Vec<IndexOp> = ops
        .into_iter()
        .enumerate()
        .filter(|(i, op)| last.get(&op.record_id()) == Some(i))
        .map(|(_, op)| op)
        .collect();
    apply_keys(conn, &stored_before, &finals)?;
    match conn.dialect() {
        Dialect::Sqlite => apply_fts(conn, &stored_before, finals),
        Dialect::Postgres => apply_terms(conn, &stored_before, finals),
    }
}

fn apply_keys(
    conn: &mut dyn Conn,
    stored_before: &[Uuid],
    finals: &[IndexOp],
) -> Result<(), StoreError> {
    for sql in id_lists(
        conn.dialect(),
        "DELETE FROM sys_match_keys WHERE record_id",
        stored_before,
    ) {
        conn.execute(&sql.text, &sql.params)?;
    }
    let mut rows: Vec<Vec<SqlValue>> = finals.iter().flat_map(IndexOp::key_rows).collect();
    // in key order, as for the term table: neighbouring rows share B-tree pages
    rows.sort_unstable_by(|a, b| {
        (a[0].as_str(), a[1].as_str()).cmp(&(b[0].as_str(), b[1].as_str()))
    });
    insert_rows(
        conn,
        "sys_match_keys",
        &["object", "match_key", "record_id"],
        &rows,
        OnDuplicate::Skip,
    )
}

/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;

fn apply_terms(
    conn: &mut dyn Conn,
    stored_before: &[Uuid],
    finals: Vec<IndexOp>,
) -> Result<(), StoreError> {
    for sql in id_lists(
        conn.dialect(),
        "DELETE FROM sys_search WHERE record_id",
        stored_before,
    ) {
        conn.execute(&sql.text, &sql.params)?;
    }
    let mut rows: Vec<Vec<SqlValue>> = Vec::new();
    for (object, record_id, terms) in finals.into_iter().filter_map(IndexOp::into_put) {
        for t in terms {
            rows.push(vec![
                SqlValue::Text(t.text),
                SqlValue::Text(object.clone()),
                SqlValue::Uuid(record_id),
                SqlValue::Text(t.field),
                SqlValue::Int(t.kind),
            ]);
        }
    }
    // In the order of the table's key, consecutive rows land on the same or neighbouring
    // B-tree pages: each page is read and written once per flush instead of once per term.
    rows.sort_unstable_by(|a, b| term_key(a).cmp(&term_key(b)));
    insert_rows(
        conn,
        "sys_search",
        &["term", "object", "record_id", "field", "kind"],
        &rows,
        OnDuplicate::Skip,
    )
}

/// The primary key of a `sys_search` row, compared as PostgreSQL compares it under the C
/// collation the cluster is created with (bytewise text, bytewise UUID).
fn term_key(row: &[SqlValue]) -> (Option<&str>, Option<&str>, Option<Uuid>, Option<&str>) {
    (
        row[0].as_str(),
        row[1].as_str(),
        row[2].as_uuid(),
        row[3].as_str(),
    )
}

/// `{head} IN (…)` over `ids`, one statement per [`ID_CHUNK`] of them.
fn id_lists<'a>(
    dialect: Dialect,
    head: &'a str,
    ids: &'a [Uuid],
) -> impl Iterator<Item = Sql> + 'a {
    ids.chunks(ID_CHUNK).map(move |chunk| {
        let mut sql = Sql::new(dialect);
        sql.push(head).push(" IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(SqlValue::Uuid(*id));
        }
        sql.push(")");
        sql
    })
}

fn apply_fts(
    conn: &mut dyn Conn,
    stored_before: &[Uuid],
    finals: Vec<IndexOp>,
) -> Result<(), StoreError> {
    // A record keeps its doc number for life, given when it is created: doc order is then
    // creation order, the order of results within a class. Leaving the index (recycle bin,
    // no searchable text left) deletes the FTS row only.
    let mut docs: HashMap<Uuid, i64> = HashMap::new();
    let head = "SELECT record_id, doc FROM sys_search_docs WHERE record_id";
    for sql in id_lists(Dialect::Sqlite, head, stored_before) {
        for row in conn.query(&sql.text, &sql.params)? {
            if let (Some(id), Some(doc)) = (row[0].as_uuid(), row[1].as_i64()) {
                docs.insert(id, doc);
            }
        }
    }
    // FTS5 starts a new segment whenever a rowid is lower than the one before it in a
    // transaction: deletes and inserts go in doc order.
    let mut stale: Vec<i64> = docs.values().copied().collect();
    stale.sort_unstable();
    for doc in stale {
        conn.execute(
            "DELETE FROM sys_search_fts WHERE rowid = ?1",
            &[SqlValue::Int(doc)],
        )?;
    }
    let mut next_doc: Option<i64> = None;
    let mut new_docs: Vec<Vec<SqlValue>> = Vec::new();
    let mut rows: Vec<(i64, [String; 3])> = Vec::new();
    // a removed record's FTS row went above; its doc stays
    for (object, record_id, terms) in finals.into_iter().filter_map(IndexOp::into_put) {
        let doc = match docs.get(&record_id) {
            Some(doc) => *doc,
            None => {
                let n = match next_doc {
                    Some(n) => n,
                    None => max_doc(conn)? + 1,
                };
                next_doc = Some(n + 1);
                new_docs.push(vec![
                    SqlValue::Int(n),
                    SqlValue::Text(object.clone()),
                    SqlValue::Uuid(record_id),
                ]);
                n
            }
        };
        if terms.is_empty() {
            continue;
        }
        let mut columns = [String::new(), String::new(), String::new()];
        for t in &terms {
            let column = &mut columns[t.kind.clamp(0, 2) as usize];
            if !column.is_empty() {
                column.push(' ');
            }
            push_token(column, &object, &t.text);
        }
        rows.push((doc, columns));
    }
    rows.sort_unstable_by_key(|(doc, _)| *doc);
    insert_rows(
        conn,
        "sys_search_docs",
        &["doc", "object", "record_id"],
        &new_docs,
        OnDuplicate::Fail,
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    // One statement for all the rows, whatever their number: FTS5 writes its buffered terms
    // out as a new segment at every statement after the first in a transaction, so rows
    // inserted a chunk at a time made a segment per chunk and then merged them.
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(doc, [w, s, i])| serde_json::json!([doc, w, s, i]))
        .collect();
    conn.execute(
        "INSERT INTO sys_search_fts (rowid, w, s, i) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)",
        &[SqlValue::Text(serde_json::Value::Array(rows).to_string())],
    )?;
    Ok(())
}

/// Before `object` is rebuilt on SQLite: drops what the index holds for it and gives every
/// live record of `table` a doc number in id order, so that records rebuilt later do not
/// rank as newer than records created during the rebuild. PostgreSQL orders by record id
/// itself: nothing to do there.
pub fn renumber(conn: &mut dyn Conn, object: &str, table: &str) -> Result<(), StoreError> {
    if conn.dialect() != Dialect::Sqlite {
        return Ok(());
    }
    // Records created earlier in this transaction get their doc when their queued change is
    // written (numbered after these, as the newest). Writing the queue now instead would put
    // other writes' changes inside this write's savepoint, undone if it fails.
    let pending: Vec<Uuid> = conn
        .deferred_index()
        .map(|d| {
            d.iter()
                .filter(|op| op.fresh())
                .map(IndexOp::record_id)
                .collect()
        })
        .unwrap_or_default();
    let object = SqlValue::Text(object.to_owned());
    conn.execute(
        "DELETE FROM sys_search_fts WHERE rowid IN (SELECT doc FROM sys_search_docs WHERE object = ?1 ORDER BY doc)",
        std::slice::from_ref(&object),
    )?;
    conn.execute(
        "DELETE FROM sys_search_docs WHERE object = ?1",
        std::slice::from_ref(&object),
    )?;
    let base = max_doc(conn)?;
    conn.execute(
        &format!(
            "INSERT INTO sys_search_docs (doc, object, record_id) \
             SELECT ?1 + ROW_NUMBER() OVER (ORDER BY id), ?2, id FROM {table} WHERE deleted_at IS NULL"
        ),
        &[SqlValue::Int(base), object],
    )?;
    for sql in id_lists(
        Dialect::Sqlite,
        "DELETE FROM sys_search_docs WHERE record_id",
        &pending,
    ) {
        conn.execute(&sql.text, &sql.params)?;
    }
    Ok(())
}

fn max_doc(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn
        .query_one("SELECT MAX(doc) FROM sys_search_docs", &[])?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}

/// An FTS token: four hex digits standing for the object (a hash of its name), then the term
/// as lower-case hex of its UTF-8 bytes. Hex keeps every token one token for the `ascii`
/// tokenizer whatever the term holds (`@`, `.`, CJK), and a term's prefix is still the
/// token's prefix, so a prefix query on the token is a prefix query on the term within the
/// object. The object part has a fixed width so that the shortest queries have fixed token
/// lengths, which [`PREFIX_INDEXES`] serve. Two objects whose names share a hash share
/// tokens: harmless, as every query also checks the doc's object.
fn push_token(out: &mut String, object: &str, text: &str) {
    let hash = crate::schema::fnv1a(object) & 0xffff;
    let _ = write!(out, "{hash:04x}");
    push_hex(out, text.as_bytes());
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

fn token(object: &str, text: &str) -> String {
    let mut s = String::with_capacity(2 * (object.len() + text.len()) + 1);
    push_token(&mut s, object, text);
    s
}

/// A search of one object: the parts of the query, and the whole query as a stored whole
/// term would be (to find values equal to, or starting with, a query of several words).
pub struct SearchQuery<'a> {
    pub object: &'a str,
    pub parts: &'a [QueryPart],
    pub whole: &'a str,
}

/// A matching record and its class: 0 exact, 1 prefix, 2 substring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub record_id: Uuid,
    pub class: u8,
}

/// Where a scan of the candidates has got to.
#[derive(Debug, Clone)]
pub struct Scan {
    class: u8,
    /// SQLite: the last doc returned in this class.
    after: i64,
    /// PostgreSQL: candidates returned so far (the next page's offset).
    returned: usize,
    done: bool,
    /// SQLite: docs returned in earlier classes (a class's query may find them again).
    seen: HashSet<i64>,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            class: 0,
            after: i64::MAX,
            returned: 0,
            done: false,
            seen: HashSet::new(),
        }
    }
}

/// Index entries a one-word query ranks at most on PostgreSQL (see `candidates_by_terms`).
const SCAN_CAP: usize = 5_000;

/// The next `count` candidates of `q`, best first; fewer only when the matches run out.
pub fn candidates(
    conn: &mut dyn Conn,
    q: &SearchQuery<'_>,
    scan: &mut Scan,
    count: usize,
) -> Result<Vec<Candidate>, StoreError> {
    if scan.done || q.parts.is_empty() {
        return Ok(Vec::new());
    }
    match conn.dialect() {
        Dialect::Sqlite => candidates_by_fts(conn, q, scan, count),
        Dialect::Postgres => {
            let found = candidates_by_terms(conn, q, count, scan.returned)?;
            scan.returned += found.len();
            scan.done = found.len() < count;
            Ok(found)
        }
    }
}

/// The FTS5 expression of each class. A record matching an earlier class may match a later
/// one too; the scan skips it there. (Excluding it in the expression with `NOT` made FTS5
/// expand the earlier classes' prefixes again for every later class: for four digits of a
/// phone number, thousands of terms each time.)
fn class_expressions(q: &SearchQuery<'_>) -> [String; 3] {
    let o = q.object;
    let all = |column: &str, star: &str| -> String {
        q.parts
            .iter()
            .map(|p| format!("{column}\"{}\"{star}", token(o, &p.prefix)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    if q.parts.len() == 1 {
        // exact: a whole value; prefix: a whole value or a value's start; substring: inside
        return [all("w : ", ""), all("{w s} : ", "*"), all("i : ", "*")];
    }
    // Several words: every word must match; exact or prefix when the whole query equals
    // (or starts) a whole value, or every word is a whole value (or starts one).
    let whole = token(o, q.whole);
    let every = all("", "*");
    [
        format!("({every}) AND ((w : \"{whole}\") OR ({}))", all("w : ", "")),
        format!(
            "({every}) AND ((w : \"{whole}\"*) OR ({}))",
            all("{w s} : ", "*")
        ),
        every,
    ]
}

fn candidates_by_fts(
    conn: &mut dyn Conn,
    q: &SearchQuery<'_>,
    scan: &mut Scan,
    count: usize,
) -> Result<Vec<Candidate>, StoreError> {
    let expressions = class_expressions(q);
    let mut out = Vec::new();
    while out.len() < count && !scan.done {
        let want = count - out.len();
        let rows = conn.query(
            "SELECT f.rowid, d.record_id FROM sys_search_fts f \
             JOIN sys_search_docs d ON d.doc = f.rowid \
             WHERE sys_search_fts MATCH ?1 AND f.rowid < ?2 AND d.object = ?3 \
             ORDER BY f.rowid DESC LIMIT ?4",
            &[
                SqlValue::Text(expressions[scan.class as usize].clone()),
                SqlValue::Int(scan.after),
                SqlValue::Text(q.object.to_owned()),
                SqlValue::Int(want as i64),
            ],
        )?;
        let n = rows.len();
        for row in rows {
            let Some(doc) = row[0].as_i64() else { continue };
            scan.after = doc;
            if !scan.seen.insert(doc) {
                continue; // returned in an earlier class
            }
            if let Some(record_id) = row[1].as_uuid() {
                out.push(Candidate {
                    record_id,
                    class: scan.class,
                });
            }
        }
        if n < want {
            if scan.class == 2 {
                scan.done = true;
            } else {
                scan.class += 1;
                scan.after = i64::MAX;
            }
        }
    }
    Ok(out)
}

/// Record ids matching every part, best first: by class, then newest id first; `count` of
/// them from `offset`. A one-word query that matches more than [`SCAN_CAP`] index entries
/// ranks the first of them in term order (exact, then the shortest terms), so that a broad
/// query answers as fast as a narrow one; every hit is still a true match.
fn candidates_by_terms(
    conn: &mut dyn Conn,
    q: &SearchQuery<'_>,
    count: usize,
    offset: usize,
) -> Result<Vec<Candidate>, StoreError> {
    let n = q.parts.len();
    // The class of a record: by the ranks (0 exact, 1 start, 2 inside) of its best term per
    // part — their sum `r` and maximum `mr` — and, for several words, by `wq.w`: 0 when the
    // whole query equals a whole value, 1 when it starts one.
    let class = if n > 1 {
        "CASE WHEN s.r = 0 OR wq.w = 0 THEN 0 WHEN s.mr <= 1 OR wq.w = 1 THEN 1 ELSE 2 END"
    } else {
        "s.r"
    };
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT s.record_id, {class} FROM (SELECT record_id, SUM(r) AS r, MAX(r) AS mr FROM ("
    ));
    for (i, part) in q.parts.iter().enumerate() {
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
        sql.param(SqlValue::Text(q.object.to_owned()));
        // A one-word query ranks among the first terms of its range only: the range starts
        // with the exact term, then the shortest continuations, so a query as broad as "wei"
        // ranks a few thousand of its matches instead of every one of them. Words of a longer
        // query must meet in the same record, so their ranges are read whole.
        if n == 1 {
            sql.push(&format!(" ORDER BY term LIMIT {SCAN_CAP}"));
        }
        sql.push(") m GROUP BY record_id");
    }
    sql.push(&format!(") p GROUP BY record_id HAVING COUNT(*) = {n}) s"));
    if n > 1 {
        let exact = sql.bind(SqlValue::Text(q.whole.to_owned()));
        let from = sql.bind(SqlValue::Text(q.whole.to_owned()));
        let to = sql.bind(SqlValue::Text(prefix_upper_bound(q.whole)));
        let obj = sql.bind(SqlValue::Text(q.object.to_owned()));
        sql.push(&format!(
            " LEFT JOIN (SELECT record_id, MIN(CASE WHEN term = {exact} THEN 0 ELSE 1 END) AS w \
             FROM sys_search WHERE term >= {from} AND term < {to} AND object = {obj} AND kind = 0 \
             GROUP BY record_id) wq ON wq.record_id = s.record_id"
        ));
    }
    sql.push(&format!(
        " ORDER BY 2, s.record_id DESC LIMIT {count} OFFSET {offset}"
    ));
    let mut out = Vec::new();
    for row in conn.query(&sql.text, &sql.params)? {
        let record_id = row[0].as_uuid().ok_or_else(|| {
            StoreError::Internal(format!("not a record id in sys_search: {:?}", row[0]))
        })?;
        let class = row[1].as_i64().unwrap_or(2).clamp(0, 2) as u8;
        out.push(Candidate { record_id, class });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_prefixes_and_separate_objects() {
        assert!(token("ab", "张").ends_with("e5bca0"));
        assert_eq!(token("ab", "张").len(), 4 + 6);
        assert!(token("contact", "张伟明").starts_with(&token("contact", "张伟")));
        assert_ne!(token("contact_x", "a")[..4], token("contact", "a")[..4]);
        // the shortest queries have the lengths the prefix indexes are kept for
        for (q, len) in [("wan", 10), ("1380", 12), ("张伟", 16)] {
            let n = token("contact", q).len();
            assert!(
                PREFIX_INDEXES.split(' ').any(|p| p == n.to_string()),
                "{q}: {len}"
            );
            assert_eq!(n, len);
        }
        assert!(
            token("contact", "zhang.wei@x.cn")
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn several_words_must_all_match_in_every_class() {
        let parts = relata_domain::search_terms::query_parts("acme glo");
        let q = SearchQuery {
            object: "a",
            parts: &parts,
            whole: "acme glo",
        };
        let [exact, prefix, substring] = class_expressions(&q);
        assert!(exact.starts_with(&format!("({substring}) AND ")), "{exact}");
        assert!(
            prefix.starts_with(&format!("({substring}) AND ")),
            "{prefix}"
        );
        assert!(!substring.contains("NOT"));
    }
}
