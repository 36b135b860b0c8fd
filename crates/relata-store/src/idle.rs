//! Giving memory back when the database has been quiet for a while.
//!
//! Under load every SQLite connection keeps a page cache and maps the pages of the database
//! file it touches. Both are what make lists and bulk writes fast, and both stay with the
//! process after the load is over: after a bulk load of 1,000,000 contacts the server sat at
//! 3.5 GB of resident memory doing nothing, nearly all of it mapped file pages counted once per
//! connection. Once nothing has happened for [`QUIET`], every connection drops its cache and
//! its mapping; the next query maps what it needs again from the operating system's page
//! cache (minor page faults, microseconds), so a quiet server is small and a busy one fast.

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sqlite::{MMAP_BYTES, ReaderManager};

/// How long without a read or write before connections give their memory back.
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// Ticks of [`QUIET`] after the release before the allocator is nudged: past its purge
/// delay (mimalloc's is one second).
const NUDGE_AFTER_TICKS: u32 = 3;

/// An allocator such as mimalloc returns memory freed a while ago to the system only when
/// some thread frees a page; a quiet server frees nothing, so what the release above freed
/// would stay resident. One large block allocated and freed here is that page.
fn nudge_allocator() {
    let block = vec![1u8; 4 << 20];
    std::hint::black_box(&block);
    drop(block);
}

/// Counts reads; the housekeeper sees the store is quiet when the count stops moving.
#[derive(Debug, Default)]
pub(crate) struct Activity(AtomicU64);

impl Activity {
    pub(crate) fn touch(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stamp(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Frees one connection's page cache, its cached prepared statements and its view of the
/// file. SQLite remaps only when the limit changes, hence the detour through zero; the
/// mapping comes back lazily, with the first read after it. The statement cache (up to 256
/// statements a connection, each holding its compiled program) grows with every distinct
/// list, filter and search a load runs, and is as quickly prepared again as a page is mapped.
/// Must run outside a transaction.
pub(crate) fn release(conn: &rusqlite::Connection) {
    conn.flush_prepared_statement_cache();
    let sql =
        format!("PRAGMA shrink_memory; PRAGMA mmap_size = 0; PRAGMA mmap_size = {MMAP_BYTES};");
    if let Err(e) = conn.execute_batch(&sql) {
        tracing::debug!(error = %e, "sqlite: could not release a connection's memory");
    }
}

/// The reader connections and how busy they are.
pub(crate) struct Readers {
    pub pool: r2d2::Pool<ReaderManager>,
    pub activity: Activity,
}

impl Readers {
    /// Runs `f` on every reader connection nobody is using right now, holding them all so
    /// that none is visited twice.
    fn each_idle(&self, f: impl Fn(&rusqlite::Connection)) {
        let idle = self.pool.state().idle_connections as usize;
        let taken: Vec<_> = (0..idle).map_while(|_| self.pool.try_get()).collect();
        for conn in &taken {
            f(&conn.inner);
        }
    }
}

/// Watches the readers until the store is dropped; after [`QUIET`] without a read, releases
/// the memory of every idle reader once (the writer and checkpointer threads do the same for
/// their own connections).
pub(crate) fn spawn_housekeeper(readers: Weak<Readers>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("relata-sqlite-housekeeper".into())
        .spawn(move || {
            let mut seen = None;
            // ticks since the memory was released, while still quiet
            let mut quiet_ticks: Option<u32> = None;
            loop {
                std::thread::sleep(QUIET);
                let Some(readers) = readers.upgrade() else {
                    break;
                };
                let now = readers.activity.stamp();
                if seen != Some(now) {
                    seen = Some(now);
                    quiet_ticks = None;
                    continue;
                }
                match quiet_ticks {
                    None => {
                        readers.each_idle(release);
                        quiet_ticks = Some(0);
                    }
                    Some(n) if n < NUDGE_AFTER_TICKS => quiet_ticks = Some(n + 1),
                    Some(n) if n == NUDGE_AFTER_TICKS => {
                        nudge_allocator();
                        quiet_ticks = Some(n + 1);
                    }
                    Some(_) => {}
                }
            }
        })
        .map(|_| ())
}
