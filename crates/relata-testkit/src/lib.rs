//! Test kit: spawns the real Relata server on 127.0.0.1:0 over a fresh database — a SQLite
//! file in a temp dir, or a fresh PostgreSQL schema when `RELATA_TEST_POSTGRES_URL` is set —
//! and gives tests a typed client. Every test gets its own database, so tests run in parallel
//! and never share state. The same test files therefore form one conformance suite that
//! `scripts/test.sh` runs once per backend.

mod client;
mod db;

use std::net::SocketAddr;
use std::sync::Arc;

use relata_core::{Core, Settings};
use relata_domain::{Clock, ManualClock, SystemClock};
use relata_store::StoreOptions;

pub use client::{Client, Resp};
pub use db::{TestDb, postgres_url};

/// A running server with an admin token.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub token: String,
    pub core: Arc<Core>,
    pub client: Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    db: Option<TestDb>,
}

/// Options for [`TestApp::spawn_with`].
#[derive(Default)]
pub struct SpawnOptions {
    /// A clock the test controls; the system clock when `None`.
    pub clock: Option<Arc<ManualClock>>,
    pub settings: Option<Settings>,
    pub max_body_bytes: Option<usize>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(SpawnOptions::default()).await
    }

    pub async fn spawn_with(opts: SpawnOptions) -> TestApp {
        let clock: Arc<dyn Clock> = match &opts.clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let settings = opts.settings.unwrap_or_default();
        // Opening migrates and the admin token is written synchronously: off the runtime.
        let (db, core, token) = tokio::task::spawn_blocking(move || {
            let db = TestDb::fresh();
            let mut store_opts = StoreOptions::new(db.url.clone());
            store_opts.pool_size = 4;
            let core = Core::open(&store_opts, clock, settings).expect("open core");
            let token = core
                .create_admin_token_blocking("test")
                .expect("admin token");
            (db, core, token)
        })
        .await
        .expect("spawn blocking");

        let mut api_opts = relata_api::ApiOptions::default();
        if let Some(max) = opts.max_body_bytes {
            api_opts.max_body_bytes = max;
        }
        let router = relata_api::router(core.clone(), api_opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let base = format!("http://{addr}");
        let client = Client::new(&base, Some(token.clone()));
        TestApp {
            addr,
            base,
            token,
            core,
            client,
            shutdown: Some(tx),
            db: Some(db),
        }
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// Which backend this app runs on: "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.db.as_ref().map(|d| d.backend()).unwrap_or("sqlite")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.core.store.close();
        // TestDb drops its schema or temp dir on its own thread.
        drop(self.db.take());
    }
}

impl std::ops::Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}
