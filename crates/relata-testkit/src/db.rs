//! A fresh database per test.

use std::sync::atomic::{AtomicU64, Ordering};

/// A throwaway database: a SQLite file in a temp dir, or a PostgreSQL schema.
pub struct TestDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL test database, when the environment names one.
pub fn postgres_url() -> Option<String> {
    std::env::var("RELATA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

impl TestDb {
    /// PostgreSQL when `RELATA_TEST_POSTGRES_URL` is set, else SQLite. Must be called off the
    /// async runtime (the PostgreSQL client blocks).
    pub fn fresh() -> TestDb {
        match postgres_url() {
            Some(admin_url) => Self::fresh_postgres(&admin_url),
            None => Self::fresh_sqlite(),
        }
    }

    /// A fresh SQLite file, whatever the environment says.
    pub fn fresh_sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("relata.db").display());
        TestDb {
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh schema in the PostgreSQL database at `admin_url`.
    pub fn fresh_postgres(admin_url: &str) -> TestDb {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let schema = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            random.get(..8).unwrap_or("x")
        );
        let mut client = postgres::Client::connect(admin_url, postgres::NoTls)
            .expect("connect to RELATA_TEST_POSTGRES_URL");
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{admin_url}{sep}schema={schema}"),
            dir: None,
            pg: Some((admin_url.to_owned(), schema)),
        }
    }

    pub fn backend(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// A temp directory next to the database (SQLite only), for files a test writes.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, schema)) = self.pg.take() {
            // The blocking client may not run on an async runtime thread: use a plain thread.
            let _ = std::thread::spawn(move || {
                if let Ok(mut client) = postgres::Client::connect(&admin_url, postgres::NoTls) {
                    let _ =
                        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            })
            .join();
        }
    }
}

impl TestDb {
    /// A `Core` on this database, for tests below the HTTP API, and the bootstrap
    /// administrator as the actor (both made on blocking threads: opening migrates).
    pub async fn open_core(&self) -> (std::sync::Arc<relata_core::Core>, relata_core::Actor) {
        let url = self.url.clone();
        let core = tokio::task::spawn_blocking(move || {
            let mut opts = relata_store::StoreOptions::new(url);
            opts.pool_size = 2;
            relata_core::Core::open(
                &opts,
                std::sync::Arc::new(relata_domain::SystemClock),
                relata_core::Settings::default(),
            )
            .expect("open core")
        })
        .await
        .expect("open core");
        let c = core.clone();
        let admin = tokio::task::spawn_blocking(move || c.ensure_admin_blocking())
            .await
            .expect("admin")
            .expect("admin");
        (core, relata_core::Actor::system(admin))
    }
}
