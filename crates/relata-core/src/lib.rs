//! Relata's services over the store. The record service here is the one write path (DESIGN
//! principle 3): API, import, bulk upsert, demo data and (later) automation all call it.
//! One module per business area; handlers above stay thin.

pub mod access;
pub mod approvals;
pub mod assignment;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod collection;
pub mod context;
pub mod dashboard;
pub mod decision_chain;
pub mod duplicate_jobs;
pub mod duplicates;
pub mod email;
pub mod error;
pub mod export;
pub mod fields;
pub mod filter_scope;
pub mod hierarchy;
pub mod idempotency;
pub mod import;
pub mod jobs;
pub mod leads;
pub mod lists;
pub mod mail;
pub mod meta_admin;
mod money;
pub mod notifications;
mod numbering;
pub mod org_settings;
pub mod pipelines;
pub mod pools;
pub mod quotes;
pub mod records;
pub mod reminders;
pub mod sales_reports;
pub mod search;
pub mod tags;
pub mod targets;
pub mod timeline;
pub mod ui_state;
pub mod visibility;
pub mod web_forms;
pub mod webhooks;
pub mod workflow;

use std::sync::{Arc, RwLock};

use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::value::ParseContext;
use relata_domain::{Clock, SystemClock};
use relata_store::{Store, StoreOptions};

pub use context::{Actor, Source};
pub use error::{CoreError, ErrorClass};

/// Installation-wide settings the services need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default_currency: String,
    /// Country calling code of phone numbers written without one, for duplicate matching.
    pub phone_country_code: String,
    /// Most records one bulk call may carry.
    pub bulk_limit: usize,
    /// Largest page a list may ask for.
    pub max_page_size: usize,
    /// A browser session ends after this long without a request …
    pub session_idle_minutes: u32,
    /// … and after this long in any case.
    pub session_absolute_hours: u32,
    /// Consecutive failed logins that lock an account until an administrator unlocks it.
    pub login_lockout_failures: u32,
    /// Failed logins from one client address per quarter hour before it must wait.
    pub login_address_failures: u32,
    /// Requests per minute one API token or session may make (0: unlimited).
    pub api_rate_limit_per_minute: u32,
    /// Days the audit log keeps an entry.
    pub audit_retention_days: u32,
    /// Days during which a merge of duplicate records can be undone.
    pub merge_undo_days: u32,
    /// Largest file that may be attached to a record.
    pub attachment_max_bytes: u64,
    /// Where attached files are kept: in the database when `None`, else under this directory.
    pub attachments_dir: Option<std::path::PathBuf>,
    /// Where people reach Relata (no trailing slash): the start of links in mail.
    pub public_url: String,
    /// The installation's sender, "Relata <crm@example.com>": mail of a user without a
    /// sender identity goes from its address under the user's name.
    pub mail_from: String,
    /// The seller on quotes.
    pub company: Company,
}

/// The installation's company, as quotes name it.
#[derive(Debug, Clone)]
pub struct Company {
    pub name: String,
    /// Address, phone, email: one line each.
    pub address: Vec<String>,
    /// A PNG drawn at the top of quotes.
    pub logo: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_currency: "CNY".into(),
            phone_country_code: "86".into(),
            bulk_limit: 10_000,
            max_page_size: 1000,
            session_idle_minutes: 120,
            session_absolute_hours: 12,
            login_lockout_failures: 10,
            login_address_failures: 30,
            api_rate_limit_per_minute: 0,
            audit_retention_days: 365,
            merge_undo_days: 30,
            attachment_max_bytes: 25 << 20,
            attachments_dir: None,
            public_url: "http://127.0.0.1:8080".into(),
            mail_from: "Relata <relata@localhost>".into(),
            company: Company {
                name: "Relata".into(),
                address: Vec::new(),
                logo: None,
            },
        }
    }
}

/// The services, shared by every request.
pub struct Core {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    schema: RwLock<Arc<Schema>>,
    access: access::AccessState,
    login_throttle: Arc<access::sessions::LoginThrottle>,
    passwords: access::password::Passwords,
    mailer: RwLock<Arc<dyn mail::Mailer>>,
    /// Rung when an import is queued or is to be undone.
    import_wake: tokio::sync::Notify,
    duplicate_wake: tokio::sync::Notify,
    /// Rung when jobs are enqueued, for this process's workers.
    job_wake: tokio::sync::Notify,
    /// What timelines are made of; modules add their sources at start.
    timeline: timeline::Registry,
    /// Where attached files are kept.
    files: attachments::Files,
}

impl Core {
    /// Opens the database (migrating it) and loads the metadata.
    pub fn open(
        opts: &StoreOptions,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Arc<Core>, CoreError> {
        let store = Store::open(opts)?;
        Self::with_store(store, clock, settings)
    }

    pub fn with_store(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Arc<Core>, CoreError> {
        let schema = store.read_blocking(|conn| relata_store::meta_sql::load_schema(conn))?;
        let access = store.read_blocking(|conn| access::Snapshot::load(conn))?;
        let files = attachments::Files::new(settings.attachments_dir.as_deref());
        let core = Arc::new(Core {
            store,
            clock,
            settings,
            schema: RwLock::new(Arc::new(schema)),
            access: access::AccessState::new(access),
            login_throttle: Default::default(),
            passwords: access::password::Passwords::start(),
            mailer: RwLock::new(Arc::new(mail::NoMailer)),
            import_wake: tokio::sync::Notify::new(),
            duplicate_wake: tokio::sync::Notify::new(),
            job_wake: tokio::sync::Notify::new(),
            timeline: timeline::Registry::standard(),
            files,
        });
        core.register_timeline_source(Arc::new(attachments::OnTimeline));
        core.register_timeline_source(Arc::new(email::OnTimeline));
        core.seed_org_settings()?;
        Ok(core)
    }

    /// Opens with the system clock and default settings.
    pub fn open_default(url: &str) -> Result<Arc<Core>, CoreError> {
        Self::open(
            &StoreOptions::new(url),
            Arc::new(SystemClock),
            Settings::default(),
        )
    }

    /// Plugs in how email is sent.
    pub fn set_mailer(&self, mailer: Arc<dyn mail::Mailer>) {
        *self.mailer.write().unwrap_or_else(|p| p.into_inner()) = mailer;
    }

    pub fn mailer(&self) -> Arc<dyn mail::Mailer> {
        self.mailer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current metadata snapshot.
    pub fn schema(&self) -> Arc<Schema> {
        self.schema
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An object by API name, or not_found.
    pub fn object(&self, name: &str) -> Result<Arc<ObjectDef>, CoreError> {
        self.schema()
            .object(name)
            .cloned()
            .ok_or_else(|| CoreError::not_found(format!("object '{name}'")))
    }

    /// Reloads metadata from the database (after a change here or by another process).
    pub async fn reload_schema(&self) -> Result<(), CoreError> {
        let schema = self
            .store
            .read(|conn| relata_store::meta_sql::load_schema(conn).map_err(CoreError::from))
            .await?;
        *self.schema.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(schema);
        Ok(())
    }

    /// Reloads the metadata if another process changed it (PostgreSQL scale-out).
    pub async fn refresh_schema_if_stale(&self) -> Result<(), CoreError> {
        let current = self.schema().version;
        let stored = self
            .store
            .read(|conn| relata_store::meta_sql::version(conn).map_err(CoreError::from))
            .await?;
        if stored != current {
            self.reload_schema().await?;
        }
        Ok(())
    }

    pub fn parse_context(&self) -> ParseContext {
        ParseContext {
            default_currency: self.settings.default_currency.clone(),
        }
    }
}
