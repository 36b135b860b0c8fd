//! Test kit: spawns the real Relata server on 127.0.0.1:0 over a fresh database — a SQLite
//! file in a temp dir, or a fresh PostgreSQL schema when `RELATA_TEST_POSTGRES_URL` is set —
//! and gives tests a typed client. Every test gets its own database, so tests run in parallel
//! and never share state. The same test files therefore form one conformance suite that
//! `scripts/test.sh` runs once per backend.

mod client;
mod db;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use relata_core::{Core, Settings};
use relata_domain::{Clock, ManualClock, SystemClock};
use relata_store::StoreOptions;

pub use client::{Client, Resp};
pub use db::{TestDb, postgres_url};
pub use web::{Page, WebSession};

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
    /// How email is sent; none configured when `None`.
    pub mailer: Option<Arc<dyn relata_core::mail::Mailer>>,
    /// Leave the installation untouched: no admin token (first-run setup stays open, and
    /// the app's client is anonymous).
    pub untouched: bool,
    /// Run the import worker in the background, as `relata serve` does. Off by default, so
    /// a test can run import jobs itself, a batch at a time.
    pub import_worker: bool,
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
        let settings = opts.settings.clone().unwrap_or_default();
        let untouched = opts.untouched;
        // Opening migrates and the admin token is written synchronously: off the runtime.
        let (db, core, token) = tokio::task::spawn_blocking(move || {
            let db = TestDb::fresh();
            let mut store_opts = StoreOptions::new(db.url.clone());
            store_opts.pool_size = 4;
            let core = Core::open(&store_opts, clock, settings).expect("open core");
            let token = if untouched {
                String::new()
            } else {
                core.create_admin_token_blocking("test")
                    .expect("admin token")
            };
            (db, core, token)
        })
        .await
        .expect("spawn blocking");

        let mut api_opts = relata_api::ApiOptions::default();
        if let Some(max) = opts.max_body_bytes {
            api_opts.max_body_bytes = max;
        }
        if let Some(mailer) = opts.mailer {
            core.set_mailer(mailer);
        }
        let router =
            relata_api::router_with(core.clone(), api_opts, relata_web::router(core.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        });
        if opts.import_worker {
            core.spawn_import_worker();
            core.spawn_duplicate_worker();
        }
        let base = format!("http://{addr}");
        let client = Client::new(&base, (!token.is_empty()).then(|| token.clone()));
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

    /// The bootstrap administrator as an actor of the services.
    pub async fn admin(&self) -> relata_core::Actor {
        let core = self.core.clone();
        let id = tokio::task::spawn_blocking(move || core.ensure_admin_blocking())
            .await
            .expect("spawn blocking")
            .expect("admin");
        let access = self.core.fresh_access_of(id).await.expect("admin access");
        relata_core::Actor::user(access, relata_core::Source::Api)
    }

    /// Creates a user through the user service (`fields` adds to or overrides name and email;
    /// the standard profile unless `profile_id` says otherwise) and returns them as an actor.
    pub async fn user(&self, email: &str, fields: serde_json::Value) -> relata_core::Actor {
        let mut input =
            serde_json::json!({"name": email.split('@').next().unwrap_or(email), "email": email});
        if let (Some(base), Some(extra)) = (input.as_object_mut(), fields.as_object()) {
            base.extend(extra.clone());
        }
        let admin = self.admin().await;
        let view = self
            .core
            .create_user(&admin, input)
            .await
            .expect("create user");
        self.actor_of(&view.id).await
    }

    /// A user (by id) as an actor, with their current access.
    pub async fn actor_of(&self, id: &str) -> relata_core::Actor {
        let id = relata_domain::UserId(id.parse().expect("user id"));
        let access = self.core.fresh_access_of(id).await.expect("access");
        relata_core::Actor::user(access, relata_core::Source::Api)
    }

    /// An HTTP client holding a new API token of `actor`.
    pub async fn client_for(&self, actor: &relata_core::Actor) -> Client {
        let (_, token) = self
            .core
            .create_token(
                actor,
                relata_core::auth::TokenInput {
                    name: "test".into(),
                    expires_in_days: None,
                    scopes: None,
                },
            )
            .await
            .expect("token");
        Client::new(&self.base, Some(token))
    }

    /// Gives a user a password (through the user service) so they can sign in to the web UI.
    pub async fn set_password(&self, user: &relata_core::Actor, password: &str) {
        let admin = self.admin().await;
        self.core
            .update_user(
                &admin,
                user.user_id.0,
                serde_json::json!({ "password": password }),
            )
            .await
            .expect("set password");
    }

    /// A browser session signed in as `user` (given `password` first).
    pub async fn web_as(&self, user: &relata_core::Actor, password: &str) -> WebSession {
        self.set_password(user, password).await;
        let view = self
            .core
            .get_user(&self.admin().await, user.user_id.0)
            .await
            .expect("user");
        let web = WebSession::new(&self.base);
        let page = web.sign_in(&view.email, password).await;
        assert_eq!(page.status, 303, "sign-in failed: {}", page.html);
        web
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
