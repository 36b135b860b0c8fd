//! The configuration: one typed struct, built from layers in this order, later winning:
//! built-in defaults → `relata.toml` (`--config FILE`, else `./relata.toml` when present) →
//! `RELATA_<KEY>` environment variables → command-line flags.
//!
//! The layers are merged as TOML tables keyed by the struct's field names and deserialised
//! once, so a setting is declared in exactly one place (the struct) and every layer knows it
//! by the same name: `pool_size` in the file, `RELATA_POOL_SIZE` in the environment.
//! Nothing here is global: `main` loads a [`Config`] and hands it to the command it runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use relata_core::Settings;
use relata_store::StoreOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

/// Every setting of a Relata process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub pool_size: u32,
    pub sqlite_synchronous: String,
    pub sqlite_cache_mb: u32,
    pub default_currency: String,
    pub phone_country_code: String,
    pub max_body_bytes: usize,
    pub bulk_limit: usize,
    pub max_page_size: usize,
    pub session_idle_minutes: u32,
    pub session_absolute_hours: u32,
    pub login_lockout_failures: u32,
    pub login_address_failures: u32,
    pub api_rate_limit_per_minute: u32,
    pub audit_retention_days: u32,
    pub merge_undo_days: u32,
    pub attachment_max_mb: u64,
    pub attachments_dir: String,
    pub shutdown_grace_secs: u64,
    pub job_workers: usize,
    pub job_lease_secs: u64,
    pub smtp_url: String,
    pub mail_from: String,
    pub company_name: String,
    pub company_address: String,
    pub company_logo: String,
    pub public_url: String,
    pub log: String,
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        let store = StoreOptions::new("");
        let settings = Settings::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://relata-data/relata.db".into(),
            pool_size: store.pool_size,
            sqlite_synchronous: store.sqlite_synchronous,
            sqlite_cache_mb: store.sqlite_cache_mb,
            default_currency: settings.default_currency,
            phone_country_code: settings.phone_country_code,
            max_body_bytes: relata_api::ApiOptions::default().max_body_bytes,
            bulk_limit: settings.bulk_limit,
            max_page_size: settings.max_page_size,
            session_idle_minutes: settings.session_idle_minutes,
            session_absolute_hours: settings.session_absolute_hours,
            login_lockout_failures: settings.login_lockout_failures,
            login_address_failures: settings.login_address_failures,
            api_rate_limit_per_minute: settings.api_rate_limit_per_minute,
            audit_retention_days: settings.audit_retention_days,
            merge_undo_days: settings.merge_undo_days,
            attachment_max_mb: settings.attachment_max_bytes >> 20,
            attachments_dir: String::new(),
            shutdown_grace_secs: 30,
            job_workers: 16,
            job_lease_secs: 300,
            smtp_url: String::new(),
            mail_from: "Relata <relata@localhost>".into(),
            company_name: "Relata".into(),
            company_address: String::new(),
            company_logo: String::new(),
            public_url: String::new(),
            log: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

/// What each key means, in the order `relata config --default` prints them.
const DOCS: &[(&str, &str)] = &[
    ("listen", "Address `relata serve` listens on."),
    (
        "database_url",
        "sqlite://PATH (embedded, the default) or postgres://USER:PASSWORD@HOST:PORT/DB[?schema=NAME].",
    ),
    (
        "pool_size",
        "Reader connections (SQLite) or pooled connections (PostgreSQL).",
    ),
    (
        "sqlite_synchronous",
        "SQLite durability: NORMAL survives a process crash, FULL also a power loss; OFF or EXTRA.",
    ),
    (
        "sqlite_cache_mb",
        "SQLite page cache per connection, in MiB.",
    ),
    (
        "default_currency",
        "ISO 4217 code given to amounts sent without a currency.",
    ),
    (
        "phone_country_code",
        "Country calling code of phone numbers written without one (86 for China), for duplicate matching.",
    ),
    (
        "max_body_bytes",
        "Largest HTTP request body accepted, in bytes.",
    ),
    ("bulk_limit", "Most records one bulk upsert call may carry."),
    ("max_page_size", "Largest page a list request may ask for."),
    (
        "session_idle_minutes",
        "Minutes without a request after which a browser session ends.",
    ),
    (
        "session_absolute_hours",
        "Hours after sign-in after which a browser session ends in any case.",
    ),
    (
        "login_lockout_failures",
        "Consecutive failed logins that lock an account until an administrator unlocks it.",
    ),
    (
        "login_address_failures",
        "Failed logins from one client address per 15 minutes before it must wait (429).",
    ),
    (
        "api_rate_limit_per_minute",
        "Requests per minute one API token or session may make; 0 for no limit.",
    ),
    ("audit_retention_days", "Days the audit log keeps an entry."),
    (
        "attachment_max_mb",
        "Largest file, in MiB, that may be attached to a record (also bounded by max_body_bytes).",
    ),
    (
        "attachments_dir",
        "Directory for attached files; empty keeps them in the database (works alike on both backends and in every backup).",
    ),
    (
        "merge_undo_days",
        "Days during which a merge of duplicate records can be undone; 0 turns undo off.",
    ),
    (
        "shutdown_grace_secs",
        "On SIGTERM or Ctrl-C, how long in-flight requests may take to finish.",
    ),
    (
        "job_workers",
        "Background jobs one process runs at once (`relata serve` and `relata worker`); 0: `relata serve` runs none, leaving them to `relata worker` processes.",
    ),
    (
        "job_lease_secs",
        "How long a worker holds the jobs it took (renewed every third of it while it runs): the jobs of a worker that died are taken over after this long.",
    ),
    (
        "smtp_url",
        "Outgoing mail server: smtp://USER:PASSWORD@HOST:587?tls=required (STARTTLS), smtps://USER:PASSWORD@HOST:465 (TLS), smtp://HOST:25 (a relay); empty: no mail is sent.",
    ),
    (
        "mail_from",
        "The sender of Relata's mail, e.g. \"Relata CRM <crm@example.com>\".",
    ),
    (
        "company_name",
        "Your company's name, as the seller on quotes, e.g. \"上海云帆信息技术有限公司\".",
    ),
    (
        "company_address",
        "Your company's address, phone and email on quotes; lines separated by \" | \".",
    ),
    (
        "company_logo",
        "A PNG file drawn at the top of quotes; empty: none.",
    ),
    (
        "public_url",
        "The address people reach Relata at, e.g. https://crm.example.com: links in mail (records, unsubscribe, open and click tracking) start with it; empty: http://<listen>.",
    ),
    (
        "log",
        "Log filter (tracing env-filter syntax), e.g. \"info\" or \"info,relata_store=debug\".",
    ),
    (
        "log_format",
        "\"text\" or \"json\" (one JSON object per line).",
    ),
];

/// Environment variables are `RELATA_` followed by the key in capitals.
pub const ENV_PREFIX: &str = "RELATA_";

/// The layers above the defaults, as the command line and the process environment give them.
#[derive(Debug, Default)]
pub struct Sources {
    /// `--config FILE`; when absent, `./relata.toml` is read if it exists.
    pub file: Option<PathBuf>,
    /// The process environment (only `RELATA_*` keys that name a setting are used).
    pub env: Vec<(String, String)>,
    /// Settings given as flags.
    pub flags: Vec<(&'static str, Value)>,
}

/// A loaded configuration and the notes worth logging once logging is set up.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
    pub file: Option<PathBuf>,
}

fn defaults_table() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(t)) => t,
        // Config is a struct of plain fields, which always serialises to a table.
        _ => Table::new(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The file's settings, checked against the known keys and their types.
fn read_file(path: &Path, defaults: &Table) -> anyhow::Result<Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    for (key, value) in &table {
        let Some(default) = defaults.get(key) else {
            let known: Vec<&str> = DOCS.iter().map(|(k, _)| *k).collect();
            bail!(
                "{}: unknown setting '{key}' (known: {})",
                path.display(),
                known.join(", ")
            );
        };
        if std::mem::discriminant(default) != std::mem::discriminant(value) {
            bail!(
                "{}: '{key}' must be {}, not {}",
                path.display(),
                type_name(default),
                type_name(value)
            );
        }
    }
    Ok(table)
}

/// Turns an environment string into a value of the key's type.
fn env_value(var: &str, raw: &str, default: &Value) -> anyhow::Result<Value> {
    Ok(match default {
        Value::Integer(_) => Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("{var} must be a whole number, not '{raw}'"))?,
        ),
        Value::Boolean(_) => Value::Boolean(
            raw.trim()
                .parse()
                .with_context(|| format!("{var} must be true or false, not '{raw}'"))?,
        ),
        _ => Value::String(raw.to_owned()),
    })
}

impl Config {
    /// Merges the layers over the defaults and validates the result.
    pub fn load(sources: Sources) -> anyhow::Result<Loaded> {
        let defaults = defaults_table();
        let mut merged = defaults.clone();
        let mut warnings = Vec::new();

        let file = match sources.file {
            Some(path) => Some(path),
            None => Some(PathBuf::from("relata.toml")).filter(|p| p.is_file()),
        };
        if let Some(path) = &file {
            merged.extend(read_file(path, &defaults)?);
        }

        for (var, raw) in &sources.env {
            let Some(key) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            match defaults.get(&key) {
                Some(default) => {
                    merged.insert(key, env_value(var, raw, default)?);
                }
                // RELATA_TEST_POSTGRES_URL and friends belong to the test tooling.
                None if var.starts_with("RELATA_TEST_") || var.starts_with("RELATA_PG_") => {}
                None => warnings.push(format!(
                    "ignoring the environment variable {var}: there is no setting '{key}'"
                )),
            }
        }

        for (key, value) in sources.flags {
            merged.insert(key.to_owned(), value);
        }

        let config: Config = Value::Table(merged)
            .try_into()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(Loaded {
            config,
            warnings,
            file,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.database_url.trim().is_empty() {
            bail!("database_url must not be empty");
        }
        if self.pool_size == 0 {
            bail!("pool_size must be at least 1");
        }
        // Interpolated into a PRAGMA, so only the four words SQLite knows may pass.
        if !["OFF", "NORMAL", "FULL", "EXTRA"].contains(&self.sqlite_synchronous.as_str()) {
            bail!(
                "sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA, not '{}'",
                self.sqlite_synchronous
            );
        }
        let c = &self.default_currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            bail!("default_currency must be an ISO 4217 code such as CNY, not '{c}'");
        }
        let cc = &self.phone_country_code;
        if !(1..=3).contains(&cc.len())
            || !cc.bytes().all(|b| b.is_ascii_digit())
            || cc.starts_with('0')
        {
            bail!("phone_country_code must be a country calling code such as 86, not '{cc}'");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.bulk_limit == 0 || self.max_page_size == 0 {
            bail!("bulk_limit and max_page_size must be at least 1");
        }
        if self.session_idle_minutes == 0
            || self.session_absolute_hours == 0
            || self.login_lockout_failures == 0
            || self.login_address_failures == 0
            || self.audit_retention_days == 0
        {
            bail!(
                "session_idle_minutes, session_absolute_hours, login_lockout_failures, login_address_failures and audit_retention_days must be at least 1"
            );
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .with_context(|| format!("log is not a valid log filter: '{}'", self.log))?;
        Ok(())
    }

    pub fn store_options(&self) -> StoreOptions {
        self.store_options_for(&self.database_url)
    }

    /// Store options for another database (db-copy), with this configuration's tuning.
    pub fn store_options_for(&self, url: &str) -> StoreOptions {
        StoreOptions {
            url: url.to_owned(),
            pool_size: self.pool_size,
            sqlite_synchronous: self.sqlite_synchronous.clone(),
            sqlite_cache_mb: self.sqlite_cache_mb,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            default_currency: self.default_currency.clone(),
            phone_country_code: self.phone_country_code.clone(),
            bulk_limit: self.bulk_limit,
            max_page_size: self.max_page_size,
            session_idle_minutes: self.session_idle_minutes,
            session_absolute_hours: self.session_absolute_hours,
            login_lockout_failures: self.login_lockout_failures,
            login_address_failures: self.login_address_failures,
            api_rate_limit_per_minute: self.api_rate_limit_per_minute,
            audit_retention_days: self.audit_retention_days,
            merge_undo_days: self.merge_undo_days,
            attachment_max_bytes: self.attachment_max_mb << 20,
            attachments_dir: (!self.attachments_dir.is_empty())
                .then(|| std::path::PathBuf::from(&self.attachments_dir)),
            public_url: if self.public_url.trim().is_empty() {
                format!("http://{}", self.listen)
            } else {
                self.public_url.trim().trim_end_matches('/').to_owned()
            },
            mail_from: self.mail_from.clone(),
            company: relata_core::Company {
                name: self.company_name.clone(),
                address: self
                    .company_address
                    .split(" | ")
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                logo: (!self.company_logo.is_empty())
                    .then(|| std::path::PathBuf::from(&self.company_logo)),
            },
        }
    }

    /// The configuration as commented TOML, in the order of [`DOCS`].
    pub fn to_toml(&self) -> String {
        let table = match Value::try_from(self.clone()) {
            Ok(Value::Table(t)) => t,
            _ => Table::new(),
        };
        let mut out = String::from(
            "# Relata configuration. Every key can also be set as a RELATA_<KEY> environment\n\
             # variable (e.g. RELATA_DATABASE_URL), which wins over this file; flags win over both.\n\n",
        );
        for (key, doc) in DOCS {
            if let Some(value) = table.get(*key) {
                out.push_str(&format!("# {doc}\n{key} = {value}\n\n"));
            }
        }
        out
    }

    /// A copy safe to print: the password of a database URL is masked.
    pub fn redacted(&self) -> Config {
        Config {
            database_url: redact_url(&self.database_url),
            smtp_url: redact_url(&self.smtp_url),
            ..self.clone()
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented_and_the_default_file_parses_back() {
        let defaults = defaults_table();
        let documented: Vec<&str> = DOCS.iter().map(|(k, _)| *k).collect();
        let mut keys: Vec<&str> = defaults.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut sorted = documented.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        let parsed: Config = toml::from_str(&Config::default().to_toml()).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn environment_beats_file_and_flags_beat_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relata.toml");
        std::fs::write(
            &file,
            "pool_size = 3\nlog = \"debug\"\ndatabase_url = \"sqlite://file.db\"\n",
        )
        .unwrap();
        let loaded = Config::load(Sources {
            file: Some(file),
            env: vec![
                ("RELATA_POOL_SIZE".into(), "5".into()),
                ("RELATA_DATABASE_URL".into(), "sqlite://env.db".into()),
                ("RELATA_TEST_POSTGRES_URL".into(), "postgres://x".into()),
                ("PATH".into(), "/bin".into()),
            ],
            flags: vec![("database_url", Value::String("sqlite://flag.db".into()))],
        })
        .unwrap();
        assert_eq!(loaded.config.pool_size, 5);
        assert_eq!(loaded.config.log, "debug");
        assert_eq!(loaded.config.database_url, "sqlite://flag.db");
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn bad_settings_are_named() {
        let err = |env: Vec<(&str, &str)>| {
            Config::load(Sources {
                file: None,
                env: env
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                flags: vec![],
            })
            .unwrap_err()
            .to_string()
        };
        assert!(err(vec![("RELATA_POOL_SIZE", "many")]).contains("RELATA_POOL_SIZE"));
        assert!(
            err(vec![("RELATA_SQLITE_SYNCHRONOUS", "NORMAL; DROP")]).contains("sqlite_synchronous")
        );
        assert!(err(vec![("RELATA_DEFAULT_CURRENCY", "yuan")]).contains("default_currency"));
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/relata?schema=x"),
            "postgres://app:***@db:5432/relata?schema=x"
        );
        assert_eq!(
            redact_url("postgres://app@db/relata"),
            "postgres://app@db/relata"
        );
        assert_eq!(
            redact_url("sqlite://relata-data/relata.db"),
            "sqlite://relata-data/relata.db"
        );
    }
}
