//! `relata backup FILE`: a backup restores (with `relata db-copy`, or by using the file in
//! place) to the same data, and a backup taken while another process keeps writing is one
//! consistent snapshot: every record it holds has its change-feed event, the records it holds
//! are exactly the first k written, and the restored database's search index (rebuilt from
//! the records, as after every `db-copy`) finds every one of them.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::fixture::{self, OBJECTS};
use common::{
    TestDb, dump_tables, export_all, lines, open_store, postgres_url, relata, run_ok, sqlite_url,
    stderr,
};
use relata_core::{Actor, Core, Settings};
use relata_domain::SystemClock;
use relata_store::{StoreError, StoreOptions};
use serde_json::json;

fn backup(dir: &Path, url: &str, file: &Path) -> std::process::Output {
    relata(dir)
        .args(["--database-url", url, "backup"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn a_backup_restores_to_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let live = sqlite_url(d, "live.db");
    fixture::build(&live);
    run_ok(relata(d).args(["--database-url", &live, "demo", "--scale", "small"]));

    let file = d.join("backup.db");
    let out = backup(d, &live, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(file.is_file());
    // One self-contained file: nothing left beside it.
    assert!(!d.join("backup.db-wal").exists() && !d.join("backup.db.partial").exists());

    // Restore with db-copy into a fresh database.
    let restored = sqlite_url(d, "restored.db");
    let snapshot = format!("sqlite://{}", file.display());
    run_ok(relata(d).args(["db-copy", "--from", &snapshot, "--to", &restored]));
    let expected = export_all(d, &live, &OBJECTS);
    assert_eq!(export_all(d, &restored, &OBJECTS), expected);

    // Or put the file in place (server stopped) and use it as it is.
    let in_place = d.join("in-place.db");
    std::fs::copy(&file, &in_place).unwrap();
    let in_place_url = format!("sqlite://{}", in_place.display());
    assert_eq!(export_all(d, &in_place_url, &OBJECTS), expected);
    let (a, b) = (open_store(&live), open_store(&in_place_url));
    assert_eq!(dump_tables(&a), dump_tables(&b));

    // An existing file is never overwritten.
    let out = backup(d, &live, &file);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

/// Writes accounts `w-0`, `w-1`, … one committed create at a time until told to stop.
struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn start(url: &str) -> Writer {
        let mut opts = StoreOptions::new(url);
        opts.pool_size = 2;
        let core = Core::open(&opts, Arc::new(SystemClock), Settings::default()).unwrap();
        let actor = Actor::system(core.ensure_admin_blocking().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let (s, w) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut i = 0;
            while !s.load(Ordering::SeqCst) {
                let name = format!("w-{i}");
                rt.block_on(core.create_record(
                    &actor,
                    "account",
                    json!({"name": name, "phone": "138 0013 8000"}),
                ))
                .expect("concurrent write");
                i += 1;
                w.store(i, Ordering::SeqCst);
            }
            core.store.close();
        });
        Writer {
            stop,
            written,
            thread,
        }
    }

    fn wait_for(&self, n: usize) {
        while self.written.load(Ordering::SeqCst) < n {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        self.written.load(Ordering::SeqCst)
    }
}

fn rebuild_search_index(url: &str) {
    let mut opts = StoreOptions::new(url);
    opts.pool_size = 2;
    let core = Core::open(&opts, Arc::new(SystemClock), Settings::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(core.rebuild_search_index_if_stale()).unwrap();
    core.store.close();
}

/// The restored database holds accounts w-0 … w-(k-1) for some k, each with its event and
/// search terms: one snapshot, not a mix of moments. Returns k.
fn check_consistent_prefix(dir: &Path, url: &str) -> usize {
    let accounts = lines(&export_all(dir, url, &["account"])["account"]);
    let names: BTreeSet<usize> = accounts
        .iter()
        .filter_map(|a| a["name"].as_str()?.strip_prefix("w-")?.parse().ok())
        .collect();
    let k = names.len();
    assert_eq!(names, (0..k).collect(), "not a prefix of the writes");
    rebuild_search_index(url);
    let store = open_store(url);
    let (events, indexed) = store
        .read_blocking(|c| -> Result<_, StoreError> {
            let events = c.query(
                "SELECT COUNT(*) FROM sys_events WHERE object = 'account' AND kind = 'created'",
                &[],
            )?;
            let indexed = relata_store::search_index::indexed_records(c, "account")?;
            Ok((events[0][0].as_i64(), Some(indexed)))
        })
        .unwrap();
    store.close();
    assert_eq!(events, Some(accounts.len() as i64), "events vs records");
    assert_eq!(
        indexed,
        Some(accounts.len() as i64),
        "search terms vs records"
    );
    k
}

#[test]
fn a_backup_taken_while_another_process_writes_is_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let live = sqlite_url(d, "live.db");
    let writer = Writer::start(&live);
    writer.wait_for(20);
    let file = d.join("during.db");
    let out = backup(d, &live, &file);
    writer.wait_for(writer.written.load(Ordering::SeqCst) + 5);
    let total = writer.finish();
    assert!(out.status.success(), "{}", stderr(&out));

    let restored = sqlite_url(d, "restored.db");
    let snapshot = format!("sqlite://{}", file.display());
    run_ok(relata(d).args(["db-copy", "--from", &snapshot, "--to", &restored]));
    let k = check_consistent_prefix(d, &restored);
    assert!(k >= 20 && k < total, "backup holds {k} of {total} writes");
}

#[test]
fn postgres_backups_are_sqlite_files_of_one_snapshot() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("RELATA_TEST_POSTGRES_URL not set: skipping the PostgreSQL backup test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let live = TestDb::fresh_postgres(&admin_url);
    fixture::build(&live.url);
    let file = d.join("pg-backup.db");
    let out = backup(d, &live.url, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let snapshot = format!("sqlite://{}", file.display());
    let expected = export_all(d, &live.url, &OBJECTS);
    assert_eq!(export_all(d, &snapshot, &OBJECTS), expected);

    // Restore into a fresh PostgreSQL schema with db-copy.
    let restored = TestDb::fresh_postgres(&admin_url);
    run_ok(relata(d).args(["db-copy", "--from", &snapshot, "--to", &restored.url]));
    assert_eq!(export_all(d, &restored.url, &OBJECTS), expected);

    // While another process writes.
    let busy = TestDb::fresh_postgres(&admin_url);
    let writer = Writer::start(&busy.url);
    writer.wait_for(20);
    let during = d.join("pg-during.db");
    let out = backup(d, &busy.url, &during);
    writer.wait_for(writer.written.load(Ordering::SeqCst) + 5);
    let total = writer.finish();
    assert!(out.status.success(), "{}", stderr(&out));
    let k = check_consistent_prefix(d, &format!("sqlite://{}", during.display()));
    assert!(k >= 20 && k < total, "backup holds {k} of {total} writes");
}
