//! The SQLite writer's group commit: writes queued behind a busy writer share one transaction,
//! and a failing or panicking write undoes only its own changes — whether it opens the group
//! (no savepoint), joins it (its own savepoint), or is a large write that opens a new group.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;

use relata_domain::search_terms::QueryPart;
use relata_store::search_index::{self, IndexOp, Scan, SearchQuery, StoredTerm};
use relata_store::{Conn, SqlValue, Store, StoreError, StoreOptions};
use uuid::Uuid;

fn open(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = Store::open(&StoreOptions::new(url)).unwrap();
    store
        .write_blocking(|c: &mut dyn Conn| {
            c.batch("CREATE TABLE t (name TEXT PRIMARY KEY)")?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
}

fn insert(c: &mut dyn Conn, name: &str) -> Result<u64, StoreError> {
    c.execute(
        "INSERT INTO t (name) VALUES (?1)",
        &[SqlValue::Text(name.into())],
    )
}

fn names(store: &Store) -> Vec<String> {
    store
        .read_blocking(|c: &mut dyn Conn| {
            let rows = c.query("SELECT name FROM t ORDER BY name", &[])?;
            Ok::<_, StoreError>(
                rows.into_iter()
                    .map(|r| match r.into_iter().next() {
                        Some(SqlValue::Text(name)) => name,
                        other => panic!("not a name: {other:?}"),
                    })
                    .collect(),
            )
        })
        .unwrap()
}

/// Holds the writer until `release` is sent, so the writes submitted meanwhile queue up and are
/// taken as one group when it ends.
async fn hold_writer(
    store: &Store,
    release: mpsc::Receiver<()>,
    ok: bool,
) -> Result<u64, StoreError> {
    store
        .write(move |c: &mut dyn Conn| {
            insert(c, "holder")?;
            release.recv().unwrap();
            if ok {
                Ok(1)
            } else {
                Err(StoreError::Internal("the holder fails".into()))
            }
        })
        .await
}

/// Queues the writes behind a held writer on a runtime of its own; their results, holder first.
fn run_group(store: &Store, opener_ok: bool) -> Vec<Result<u64, StoreError>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(queue_behind_a_held_writer(store, opener_ok))
}

/// Every name the queued writes try to write.
const QUEUED: [&str; 8] = [
    "a",
    "b-fails",
    "c-panics",
    "d",
    "e-large",
    "f",
    "g-large-fails",
    "h",
];

async fn queue_behind_a_held_writer(
    store: &Store,
    opener_ok: bool,
) -> Vec<Result<u64, StoreError>> {
    let (release, held) = mpsc::channel();
    let holder = tokio::spawn({
        let store = store.clone();
        async move { hold_writer(&store, held, opener_ok).await }
    });
    // Give the holder time to reach the writer thread first.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // Submitted one after the other, so they queue in this order; the large ones open groups
    // of their own.
    let mut queued = Vec::new();
    for name in QUEUED {
        let store = store.clone();
        let write = move |c: &mut dyn Conn| {
            insert(c, name)?;
            index(c, name)?;
            if name.ends_with("fails") {
                return Err(StoreError::Internal("this write fails".into()));
            }
            if name.ends_with("panics") {
                panic!("this write panics");
            }
            Ok(1)
        };
        queued.push(tokio::spawn(async move {
            if name.contains("large") {
                store.write_large(write).await
            } else {
                store.write(write).await
            }
        }));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    release.send(()).unwrap();
    let mut results = vec![holder.await.unwrap()];
    for q in queued {
        results.push(q.await.unwrap());
    }
    results
}

/// Queues a search-index entry for `name` (on the writer it waits for the group's commit).
fn index(c: &mut dyn Conn, name: &str) -> Result<(), StoreError> {
    search_index::apply(
        c,
        vec![IndexOp::Put {
            object: "t".into(),
            record_id: record_id(name),
            terms: vec![StoredTerm {
                text: name.into(),
                kind: 0,
                field: "name".into(),
            }],
            keys: vec![format!("e:{name}@example.com")],
            fresh: true,
        }],
    )
}

fn record_id(name: &str) -> Uuid {
    let mut bytes = [0u8; 16];
    for (b, c) in bytes.iter_mut().zip(name.bytes()) {
        *b = c;
    }
    Uuid::from_bytes(bytes)
}

/// The names found in the search index, of those given.
fn indexed(store: &Store, names: &[&str]) -> Vec<String> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    store
        .read_blocking(move |c: &mut dyn Conn| -> Result<_, StoreError> {
            let mut found = Vec::new();
            for name in names {
                let parts = [QueryPart {
                    prefix: name.clone(),
                    verify: None,
                }];
                let q = SearchQuery {
                    object: "t",
                    parts: &parts,
                    whole: &name,
                };
                let hits = search_index::candidates(c, &q, &mut Scan::default(), 10)?;
                if hits.iter().any(|h| h.record_id == record_id(&name)) {
                    found.push(name);
                }
            }
            Ok(found)
        })
        .unwrap()
}

#[test]
fn a_failed_write_joining_a_group_undoes_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let results = run_group(&store, true);
    let failed: Vec<bool> = results.iter().map(Result::is_err).collect();
    assert_eq!(
        failed,
        [false, false, true, true, false, false, false, true, false]
    );
    let written = ["a", "d", "e-large", "f", "h", "holder"];
    assert_eq!(names(&store), written);
    // the index changes of the group, written once before its commit, are those of the
    // writes that were kept, and only those
    assert_eq!(indexed(&store, &QUEUED), written[..5]);
}

#[test]
fn a_failed_opener_is_rolled_back_and_the_queue_still_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let results = run_group(&store, false);
    let failed: Vec<bool> = results.iter().map(Result::is_err).collect();
    assert_eq!(
        failed,
        [true, false, true, true, false, false, false, true, false]
    );
    let written = ["a", "d", "e-large", "f", "h"];
    assert_eq!(names(&store), written);
    assert_eq!(indexed(&store, &QUEUED), written);
}

/// After a large write the writer refreshes the planner's statistics (`PRAGMA optimize`), so
/// the lists that run next plan with real row counts instead of guesses.
#[test]
fn a_large_write_leaves_planner_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(store.write_large(|c: &mut dyn Conn| {
            c.batch("CREATE INDEX t_len ON t (length(name))")?;
            for i in 0..2_000 {
                insert(c, &format!("n{i:05}"))?;
            }
            Ok::<_, StoreError>(())
        }))
        .unwrap();
    // The statistics are written after the group commits, when the queue is empty: a later
    // write runs only once they are.
    store
        .write_blocking(|_c: &mut dyn Conn| Ok::<_, StoreError>(()))
        .unwrap();
    let analysed = store
        .read_blocking(|c: &mut dyn Conn| {
            c.query("SELECT tbl FROM sqlite_stat1 WHERE tbl = 't'", &[])
        })
        .unwrap();
    assert!(!analysed.is_empty(), "no statistics for t");
}

/// After a quiet while every connection drops its page cache and its mapping of the file;
/// reads and writes after that see everything written before, and the file stays sound.
#[test]
fn connections_that_gave_their_memory_back_still_see_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let many: Vec<String> = (0..2_000).map(|i| format!("n{i:05}")).collect();
    let batch = many.clone();
    store
        .write_blocking(move |c: &mut dyn Conn| {
            for n in &batch {
                insert(c, n)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(names(&store).len(), 2_000);
    // the housekeeper, writer and checkpointer release after half a second without work
    std::thread::sleep(std::time::Duration::from_millis(1_600));
    assert_eq!(names(&store), many);
    store
        .write_blocking(|c: &mut dyn Conn| insert(c, "after"))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_600));
    let after = names(&store);
    assert_eq!(after.len(), 2_001);
    assert!(after.contains(&"after".to_owned()));
    let check = store
        .read_blocking(|c: &mut dyn Conn| {
            let rows = c.query("PRAGMA integrity_check", &[])?;
            Ok::<_, StoreError>(format!("{:?}", rows))
        })
        .unwrap();
    assert!(check.contains("ok"), "{check}");
}
