//! The search index under the record service, on the backend under test: queued changes
//! resolve to the last one per record, a scan returns each match once — exact, then prefix,
//! then substring, newest first within a class — and, on SQLite, the candidate query walks the
//! FTS index in doc order instead of sorting the matches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use relata_domain::search_terms::{query_parts, terms_of, whole_key, whole_term};
use relata_store::search_index::{self, Candidate, IndexOp, Scan, SearchQuery, StoredTerm};
use relata_store::{Conn, Dialect, Store, StoreError, StoreOptions, migrations};
use relata_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn open(db: &TestDb) -> Store {
    let mut opts = StoreOptions::new(db.url.clone());
    opts.pool_size = 2;
    let store = Store::open(&opts).unwrap();
    migrations::migrate_blocking(&store).unwrap();
    store
}

fn put(object: &str, id: Uuid, text: &str, fresh: bool) -> IndexOp {
    IndexOp::Put {
        object: object.into(),
        record_id: id,
        terms: terms_of(text)
            .into_iter()
            .map(|t| StoredTerm {
                text: t.text,
                kind: t.kind as i64,
                field: "name".into(),
            })
            .collect(),
        keys: Vec::new(),
        fresh,
    }
}

fn apply(store: &Store, ops: Vec<IndexOp>) {
    store
        .write_blocking(move |c: &mut dyn Conn| search_index::apply(c, ops))
        .unwrap();
}

/// Every candidate of `q` in `object`, fetched `page` at a time.
fn scan(store: &Store, object: &str, q: &str, page: usize) -> Vec<Candidate> {
    let (object, q) = (object.to_owned(), q.to_owned());
    store
        .read_blocking(move |c: &mut dyn Conn| -> Result<_, StoreError> {
            let parts = query_parts(&q);
            let whole = whole_term(&whole_key(&q));
            let query = SearchQuery {
                object: &object,
                parts: &parts,
                whole: &whole,
            };
            let mut scan = Scan::default();
            let mut out = Vec::new();
            loop {
                let got = search_index::candidates(c, &query, &mut scan, page)?;
                let last = got.len() < page;
                out.extend(got);
                if last {
                    return Ok(out);
                }
            }
        })
        .unwrap()
}

fn ids(n: usize) -> Vec<Uuid> {
    // increasing, as record ids made one after another are
    (0..n)
        .map(|i| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + i as u128))
        .collect()
}

#[test]
fn a_scan_returns_each_match_once_best_class_first_newest_first() {
    let db = TestDb::fresh();
    let store = open(&db);
    let id = ids(6);
    apply(
        &store,
        vec![
            put("account", id[0], "Acme", true),
            put("account", id[1], "Acme Trading", true),
            put("account", id[2], "Global Acme", true),
            put("account", id[3], "Acme", true),
            put("account", id[4], "Acmeville Global", true),
            put("contact", id[5], "Acme", true),
        ],
    );
    for page in [1, 2, 50] {
        let got = scan(&store, "account", "acme", page);
        let want = vec![(id[3], 0), (id[0], 0), (id[4], 1), (id[1], 1), (id[2], 2)];
        let got: Vec<(Uuid, u8)> = got.iter().map(|c| (c.record_id, c.class)).collect();
        assert_eq!(got, want, "page size {page} on {}", db.backend());
    }
    // several words: the whole query starting a value ranks it a prefix match
    let got = scan(&store, "account", "acme tra", 10);
    assert_eq!(
        got,
        vec![Candidate {
            record_id: id[1],
            class: 1
        }]
    );
    assert!(scan(&store, "lead", "acme", 10).is_empty());
    // every word must match, even when the whole query equals a whole value
    apply(
        &store,
        vec![put("account", ids(7)[6], "John O'Brien", true)],
    );
    assert!(scan(&store, "account", "john o'brien", 10).is_empty());
    assert_eq!(scan(&store, "account", "john brien", 10).len(), 1);
}

#[tokio::test]
async fn a_rebuild_finds_every_record_newest_first_and_runs_once() {
    let db = tokio::task::spawn_blocking(TestDb::fresh).await.unwrap();
    let (core, actor) = db.open_core().await;
    core.rebuild_search_index_if_stale().await.unwrap();
    let mut names = Vec::new();
    for i in 1..=4 {
        if i == 4 {
            // The index is emptied and marked stale, as migration 3 leaves it; Acme 4 is
            // written before the rebuild reaches it (on SQLite it gets the first doc number).
            core.store
                .write(|c: &mut dyn Conn| {
                    let emptied = match c.dialect() {
                        Dialect::Sqlite => {
                            "DELETE FROM sys_search_fts; DELETE FROM sys_search_docs"
                        }
                        Dialect::Postgres => "DELETE FROM sys_search",
                    };
                    c.batch(emptied)?;
                    search_index::invalidate(c)
                })
                .await
                .unwrap();
        }
        let name = format!("Acme {i}");
        core.create_record(&actor, "account", json!({ "name": name }))
            .await
            .unwrap();
        names.push(name);
    }
    assert_eq!(core.rebuild_search_index_if_stale().await.unwrap(), Some(4));
    assert_eq!(core.rebuild_search_index_if_stale().await.unwrap(), None);
    let found = core
        .search(&actor, "acme", Some(vec!["account".into()]), 10)
        .await
        .unwrap();
    let got: Vec<String> = found[0]
        .hits
        .iter()
        .map(|h| h.record.get("name").to_json().as_str().unwrap().to_owned())
        .collect();
    names.reverse();
    assert_eq!(got, names, "newest first on {}", db.backend());
    core.store.close();
}

#[test]
fn the_last_change_queued_for_a_record_is_what_the_index_holds() {
    let db = TestDb::fresh();
    let store = open(&db);
    let id = ids(3);
    // created and renamed in one transaction; another created then removed
    apply(
        &store,
        vec![
            put("account", id[0], "张伟明", true),
            put("account", id[1], "李华", true),
            put("account", id[0], "王芳", false),
            IndexOp::Remove { record_id: id[1] },
        ],
    );
    assert!(scan(&store, "account", "伟明", 10).is_empty());
    assert_eq!(scan(&store, "account", "王芳", 10)[0].record_id, id[0]);
    assert!(scan(&store, "account", "李华", 10).is_empty());
    // a later transaction replaces what is stored, and a record left without terms is gone
    apply(
        &store,
        vec![
            put("account", id[0], "赵远", false),
            put("account", id[2], "赵远航", true),
        ],
    );
    assert!(scan(&store, "account", "王芳", 10).is_empty());
    assert_eq!(scan(&store, "account", "赵远", 10).len(), 2);
    apply(&store, vec![put("account", id[2], "", false)]);
    assert_eq!(scan(&store, "account", "赵远", 10).len(), 1);
    let indexed = store
        .read_blocking(|c: &mut dyn Conn| search_index::indexed_records(c, "account"))
        .unwrap();
    assert_eq!(indexed, 1);
}

#[test]
fn sqlite_walks_the_full_text_index_in_doc_order() {
    let db = TestDb::fresh_sqlite();
    let store = open(&db);
    assert_eq!(store.dialect(), Dialect::Sqlite);
    let plan = store
        .read_blocking(|c: &mut dyn Conn| {
            crate::common::sqlite_plan(
                c,
                "SELECT f.rowid, d.record_id FROM sys_search_fts f \
                 JOIN sys_search_docs d ON d.doc = f.rowid \
                 WHERE sys_search_fts MATCH 'x*' AND f.rowid < 10 AND d.object = 'a' \
                 ORDER BY f.rowid DESC LIMIT 5",
            )
        })
        .unwrap();
    assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "matches are sorted: {plan}");
}

#[test]
fn postgres_ranks_term_candidates_from_the_index_alone() {
    let db = TestDb::fresh();
    let store = open(&db);
    if store.dialect() != Dialect::Postgres {
        return; // SQLite keeps no term table: its index is FTS5 (the test above)
    }
    apply(
        &store,
        ids(50)
            .into_iter()
            .enumerate()
            .map(|(i, id)| put("contact", id, &format!("王伟 1380013{i:04}"), true))
            .collect(),
    );
    let plan = store
        .read_blocking(|c: &mut dyn Conn| -> Result<String, StoreError> {
            // a table this small would be read whole; the plan asked for is a large table's
            c.batch("SET enable_seqscan = off; SET enable_bitmapscan = off")?;
            let rows = c.query(
                "EXPLAIN SELECT record_id, term, kind FROM sys_search \
                 WHERE term >= '0013' AND term < '0014' AND object = 'contact' \
                 ORDER BY term LIMIT 5000",
                &[],
            )?;
            c.batch("RESET enable_seqscan; RESET enable_bitmapscan")?;
            Ok(rows
                .into_iter()
                .filter_map(|r| r.first().and_then(|v| v.as_str().map(str::to_owned)))
                .collect::<Vec<_>>()
                .join("; "))
        })
        .unwrap();
    assert!(
        plan.contains("Index Only Scan using sys_search_pkey"),
        "the term's kind comes from the index: {plan}"
    );
}
