//! Database access for both backends: SQLite (embedded, the default) through rusqlite, and
//! PostgreSQL through the `postgres` client. Owns pools, the SQLite writer thread, system-table
//! migrations, DDL generated from metadata, SQL compiled from filters, value encoding, and the
//! SQL of the search index and change feed. It knows nothing of HTTP or of permissions beyond
//! the predicate it is handed.
//!
//! Access is through closures over a synchronous [`Conn`], run on blocking threads:
//! [`Store::read`] on a pooled reader, [`Store::write`] in a transaction (on SQLite, on the one
//! writer thread with group commit).

pub mod backup;
pub mod batch;
pub mod codec;
pub mod conn;
pub mod copy;
pub mod ddl;
pub mod dialect;
pub mod email_tables;
pub mod error;
pub mod filter_sql;
mod idle;
pub mod jobs;
pub mod meta_sql;
pub mod migrations;
mod postgres;
pub mod schema;
pub mod search_index;
pub mod sql_value;
mod sqlite;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

pub use conn::{Conn, Row};
pub use dialect::{ColType, Dialect, Sql};
pub use error::StoreError;
pub use sql_value::SqlValue;
pub use sqlite::SqliteOptions;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH`, a bare path, or `postgres://…` (optionally with `?schema=NAME`).
    pub url: String,
    /// Reader connections (SQLite) or pooled connections (PostgreSQL).
    pub pool_size: u32,
    pub sqlite_synchronous: String,
    pub sqlite_cache_mb: u32,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            sqlite_synchronous: "NORMAL".into(),
            sqlite_cache_mb: 64,
        }
    }
}

enum Backend {
    Sqlite {
        writer: Mutex<Option<mpsc::Sender<sqlite::WriteJob>>>,
        readers: Arc<idle::Readers>,
        path: PathBuf,
    },
    Postgres {
        pool: r2d2::Pool<postgres::PgManager>,
        schema: Option<String>,
    },
}

/// Runs `f` inside an open transaction; if it panics, rolls the transaction back before the
/// panic goes on, so the pooled connection is not handed to the next caller mid-transaction.
fn guarded<T, E, F>(conn: &mut dyn Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut dyn Conn) -> Result<T, E>,
{
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn))) {
        Ok(out) => out,
        Err(panic) => {
            let _ = conn.batch("ROLLBACK");
            std::panic::resume_unwind(panic)
        }
    }
}

/// What a caller hears when the writer dropped its write unrun (a panic, or no transaction).
fn abandoned<E: From<StoreError>>() -> E {
    E::from(StoreError::Internal("the write was abandoned".into()))
}

/// The database, shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
}

/// Where a SQLite URL points, or `None` for PostgreSQL URLs.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    Some(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url)))
}

impl Store {
    /// Opens the database and applies pending system migrations.
    pub fn open(opts: &StoreOptions) -> Result<Store, StoreError> {
        let store = match sqlite_path(&opts.url) {
            Some(path) => {
                let sopts = SqliteOptions {
                    path: path.clone(),
                    readers: opts.pool_size.max(1),
                    synchronous: opts.sqlite_synchronous.clone(),
                    cache_mb: opts.sqlite_cache_mb,
                };
                let writer_conn = sqlite::open_writer(&sopts)?;
                let (tx, rx) = mpsc::channel();
                let (committed, commits) = mpsc::sync_channel(1);
                sqlite::spawn_checkpointer(&sopts, commits)?;
                sqlite::spawn_writer(writer_conn, rx, committed)?;
                // No test query at every checkout: a connection to a local file does not go
                // stale, and the test (`SELECT 1`, parsed each time) cost a twentieth of a
                // get by id.
                let pool = r2d2::Pool::builder()
                    .max_size(sopts.readers)
                    .min_idle(Some(1))
                    .test_on_check_out(false)
                    .build(sqlite::ReaderManager { opts: sopts })?;
                let readers = Arc::new(idle::Readers {
                    pool,
                    activity: idle::Activity::default(),
                });
                idle::spawn_housekeeper(Arc::downgrade(&readers)).map_err(|e| {
                    StoreError::Internal(format!("cannot start the sqlite housekeeper: {e}"))
                })?;
                Store {
                    backend: Arc::new(Backend::Sqlite {
                        writer: Mutex::new(Some(tx)),
                        readers,
                        path,
                    }),
                }
            }
            None => {
                let (config, schema) = postgres::parse_url(&opts.url)?;
                // No test query at every checkout: it was one round trip more on every read.
                // A connection the server closed is noticed as closed (`has_broken`) and
                // replaced; one that fails in use is dropped after that request's error.
                let pool = r2d2::Pool::builder()
                    .max_size(opts.pool_size.max(2))
                    .min_idle(Some(1))
                    .test_on_check_out(false)
                    .connection_timeout(std::time::Duration::from_secs(15))
                    .build(postgres::PgManager { config })?;
                Store {
                    backend: Arc::new(Backend::Postgres { pool, schema }),
                }
            }
        };
        migrations::migrate_blocking(&store)?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        match &*self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// The SQLite file, when on SQLite.
    pub fn sqlite_file(&self) -> Option<&PathBuf> {
        match &*self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL schema selected by the URL, if any.
    pub fn pg_schema(&self) -> Option<&str> {
        match &*self.backend {
            Backend::Postgres { schema, .. } => schema.as_deref(),
            Backend::Sqlite { .. } => None,
        }
    }

    /// Runs `f` on a reader connection, on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("read task failed: {e}"))))?
    }

    /// Runs `f` on a reader connection on this thread (for the CLI and blocking contexts).
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut dyn Conn) -> Result<T, E>,
    {
        self.read_on_this_thread(true, f)
    }

    /// A read that does not count as activity: for background pollers asking, every second
    /// or so, whether there is work. Counted, they would keep a quiet server from ever
    /// giving its memory back (`idle.rs`); the small reads themselves leave nothing worth
    /// keeping in the caches.
    pub async fn peek<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_on_this_thread(false, f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("read task failed: {e}"))))?
    }

    fn read_on_this_thread<T, E, F>(&self, counted: bool, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut dyn Conn) -> Result<T, E>,
    {
        match &*self.backend {
            Backend::Sqlite { readers, .. } => {
                if counted {
                    readers.activity.touch();
                }
                let mut conn = readers.pool.get().map_err(StoreError::from)?;
                // One read transaction, so a multi-statement read sees one snapshot.
                conn.batch("BEGIN")?;
                let out = guarded(&mut *conn, f);
                let _ = conn.batch("COMMIT");
                out
            }
            Backend::Postgres { pool, .. } => {
                let mut conn = pool.get().map_err(StoreError::from)?;
                conn.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
                let out = guarded(&mut *conn, f);
                if conn.batch("COMMIT").is_err() {
                    let _ = conn.batch("ROLLBACK");
                }
                out
            }
        }
    }

    /// Runs `f` in a write transaction. Everything `f` does commits together or not at all;
    /// an `Err` from `f` rolls its work back.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        self.write_sized(f, false).await
    }

    /// Like [`Store::write`], for a write of thousands of rows (a bulk call): on SQLite it
    /// always opens its own group commit, where it runs without a savepoint — statements under
    /// an open savepoint slow down with every page the savepoint has changed.
    pub async fn write_large<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        self.write_sized(f, true).await
    }

    async fn write_sized<T, E, F>(&self, f: F, large: bool) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        match &*self.backend {
            Backend::Sqlite { writer, .. } => self
                .submit_sqlite(writer, f, large)?
                .await
                .unwrap_or_else(|_| Err(abandoned())),
            Backend::Postgres { .. } => {
                let store = self.clone();
                tokio::task::spawn_blocking(move || store.write_blocking(f))
                    .await
                    .map_err(|e| E::from(StoreError::Internal(format!("write task failed: {e}"))))?
            }
        }
    }

    /// Like [`Store::write`], blocking this thread (for the CLI and blocking contexts).
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        match &*self.backend {
            Backend::Sqlite { writer, .. } => self
                .submit_sqlite(writer, f, false)?
                .blocking_recv()
                .unwrap_or_else(|_| Err(abandoned())),
            Backend::Postgres { pool, .. } => {
                let mut conn = pool.get().map_err(StoreError::from)?;
                conn.batch("BEGIN")?;
                match guarded(&mut *conn, f) {
                    Ok(t) => {
                        conn.batch("COMMIT")?;
                        Ok(t)
                    }
                    Err(e) => {
                        let _ = conn.batch("ROLLBACK");
                        Err(e)
                    }
                }
            }
        }
    }

    fn submit_sqlite<T, E, F>(
        &self,
        writer: &Mutex<Option<mpsc::Sender<sqlite::WriteJob>>>,
        f: F,
        large: bool,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T, E>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run: sqlite::JobFn = Box::new(move |conn: &mut conn::SqliteConn| match f(conn) {
            Ok(t) => sqlite::Done {
                ok: true,
                completion: Box::new(move |committed: Result<(), StoreError>| {
                    let _ = tx.send(committed.map(|()| t).map_err(E::from));
                }),
            },
            Err(e) => sqlite::Done {
                ok: false,
                completion: Box::new(move |_| {
                    let _ = tx.send(Err(e));
                }),
            },
        });
        let job = sqlite::WriteJob { run, large };
        let guard = writer.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref().map(|sender| sender.send(job)) {
            Some(Ok(())) => Ok(rx),
            _ => Err(E::from(StoreError::Unavailable(
                "the database is shutting down".into(),
            ))),
        }
    }

    /// Stops accepting writes; the writer thread finishes what is queued and exits.
    pub fn close(&self) {
        if let Backend::Sqlite { writer, .. } = &*self.backend {
            writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        }
    }

    /// Whether [`Store::close`] was called: background loops stop instead of retrying.
    pub fn is_closed(&self) -> bool {
        match &*self.backend {
            Backend::Sqlite { writer, .. } => {
                writer.lock().unwrap_or_else(|p| p.into_inner()).is_none()
            }
            Backend::Postgres { .. } => false,
        }
    }

    /// Pool statistics for /metrics: (connections, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        match &*self.backend {
            Backend::Sqlite { readers, .. } => {
                let s = readers.pool.state();
                (s.connections, s.idle_connections)
            }
            Backend::Postgres { pool, .. } => {
                let s = pool.state();
                (s.connections, s.idle_connections)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn activity(store: &Store) -> u64 {
        match &*store.backend {
            Backend::Sqlite { readers, .. } => readers.activity.stamp(),
            Backend::Postgres { .. } => unreachable!("a sqlite store"),
        }
    }

    /// A background poller's reads must not keep a quiet server from giving memory back.
    #[test]
    fn a_peek_is_not_activity_and_a_read_is() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::open(&StoreOptions::new(url)).unwrap();
        let one = |c: &mut dyn Conn| Ok::<_, StoreError>(c.query_one("SELECT 1", &[])?.is_some());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let before = activity(&store);
        assert!(rt.block_on(store.peek(one)).unwrap());
        assert_eq!(activity(&store), before);
        assert!(rt.block_on(store.read(one)).unwrap());
        assert_eq!(activity(&store), before + 1);
    }
}
