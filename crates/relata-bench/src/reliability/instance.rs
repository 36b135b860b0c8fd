//! A Relata database of the suite's own and the servers started on it: fresh databases (a
//! SQLite file, or a PostgreSQL schema), the administrator token, the custom fields the checks
//! write, crash and restart, and the database's integrity check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::json;

use super::Options;
use crate::ceiling;
use crate::load::Api;
use crate::process::{self, Server};
use crate::run::Backend;

/// What every part gets: the options, a scratch directory and one HTTP client.
pub struct Context<'a> {
    pub opts: &'a Options,
    pub dir: PathBuf,
    pub http: reqwest::Client,
}

/// PostgreSQL schemas made by this process, dropped at the end of each part.
static SCHEMAS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

impl Context<'_> {
    /// A new, empty database named `name` (migrated by `relata token create`, which also
    /// makes the bootstrap administrator's token).
    pub fn fresh(&self, name: &str) -> anyhow::Result<Instance> {
        let db_url = self.db_url(name)?;
        let token = relata_token(&self.opts.relata, &db_url)?;
        Ok(Instance {
            relata: self.opts.relata.clone(),
            db_url,
            token,
            log: self.dir.join(format!("{name}.log")),
        })
    }

    /// The URL of a database `name` that does not exist yet.
    pub fn db_url(&self, name: &str) -> anyhow::Result<String> {
        match self.opts.backend {
            Backend::Sqlite => Ok(format!(
                "sqlite://{}",
                self.dir.join(format!("{name}.db")).display()
            )),
            Backend::Postgres => {
                let url = self
                    .opts
                    .pg_url
                    .clone()
                    .context("--backend postgres needs --pg-url")?;
                // A fresh name each time: a schema left by a killed earlier run is never reused.
                let schema = format!(
                    "rel_{name}_{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                );
                // The postgres client runs a runtime of its own, which cannot start inside
                // tokio's: on a plain thread.
                let (u, sc) = (url.clone(), schema.clone());
                std::thread::spawn(move || ceiling::pg_connect(&u, &sc).map(drop))
                    .join()
                    .map_err(|_| anyhow::anyhow!("the PostgreSQL connection thread panicked"))??;
                SCHEMAS
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push((url.clone(), schema.clone()));
                Ok(format!("{url}?schema={schema}"))
            }
        }
    }

    pub async fn cleanup(&self) {
        let schemas: Vec<(String, String)> = SCHEMAS
            .lock()
            .map(|mut s| s.drain(..).collect())
            .unwrap_or_default();
        for (url, schema) in schemas {
            let outcome =
                tokio::task::spawn_blocking(move || ceiling::pg_drop_schema(&url, &schema)).await;
            if let Ok(Err(e)) = outcome {
                super::say(&format!("could not drop a schema: {e:#}"));
            }
        }
    }
}

/// One database and how to serve it.
pub struct Instance {
    relata: PathBuf,
    pub db_url: String,
    pub token: String,
    log: PathBuf,
}

impl Instance {
    /// Starts `relata serve` on a free loopback port and waits until it answers.
    pub async fn start(&self, http: &reqwest::Client) -> anyhow::Result<Server> {
        let addr = process::free_addr()?;
        let mut cmd = Command::new(&self.relata);
        cmd.args(["serve", "--listen", &addr.to_string()])
            .env("RELATA_DATABASE_URL", &self.db_url)
            // The suite's own clients are many and fast; the per-token limit is not under test.
            .env("RELATA_API_RATE_LIMIT_PER_MINUTE", "0")
            // a killed server's jobs are taken over after this long (default 300 s)
            .env("RELATA_JOB_LEASE_SECS", "10");
        let mut server = Server::spawn(cmd, addr, &self.log)?;
        server
            .wait_ready(http, "/healthz", Duration::from_secs(60))
            .await?;
        Ok(server)
    }

    pub fn api(&self, server: &Server, http: &reqwest::Client) -> Api {
        Api {
            http: http.clone(),
            base: server.base(),
            token: self.token.clone(),
        }
    }

    /// The SQLite file, when the database is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        relata_store::sqlite_path(&self.db_url)
    }

    /// SQLite's `integrity_check` and `foreign_key_check`: `Ok(None)` when both pass (or on
    /// PostgreSQL, whose recovery is its write-ahead log's own business), else what they said.
    pub fn integrity_problem(&self) -> anyhow::Result<Option<String>> {
        let Some(path) = self.sqlite_path() else {
            return Ok(None);
        };
        integrity_problem(&path)
    }
}

pub fn integrity_problem(path: &Path) -> anyhow::Result<Option<String>> {
    let conn = rusqlite::Connection::open(path)?;
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Ok(Some(format!("integrity_check: {verdict}")));
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let broken: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if !broken.is_empty() {
        return Ok(Some(format!(
            "foreign_key_check: {} rows, in tables {:?}",
            broken.len(),
            broken
        )));
    }
    Ok(None)
}

/// Runs `cmd` to its end, or kills it after `limit`: one hung child must not stall CI.
pub fn output_within(mut cmd: Command, limit: Duration) -> anyhow::Result<std::process::Output> {
    use std::io::Read as _;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    // Drained on threads of their own, so that a child writing much never blocks on a pipe.
    let mut out = child.stdout.take().context("no stdout")?;
    let mut err = child.stderr.take().context("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{:?} did not finish within {limit:?}; killed it",
                cmd.get_program()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

pub fn relata_cli(relata: &Path, db_url: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new(relata);
    cmd.args(args).env("RELATA_DATABASE_URL", db_url);
    let out = output_within(cmd, Duration::from_secs(900))
        .with_context(|| format!("relata {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "relata {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn relata_token(relata: &Path, db_url: &str) -> anyhow::Result<String> {
    let token = relata_cli(
        relata,
        db_url,
        &["token", "create", "--name", "reliability"],
    )?
    .trim()
    .to_owned();
    anyhow::ensure!(!token.is_empty(), "relata token create printed nothing");
    Ok(token)
}

/// The contact fields the checks write: `external_id` (unique text, the upsert key), `seq`
/// (an integer: which version of the record this is) and `payload` (long text, a few KiB, so
/// that a record spans more than one database page and a torn write would show).
pub async fn add_check_fields(api: &Api) -> anyhow::Result<()> {
    for body in [
        json!({"api_name": "external_id", "type": "text", "label": "External ID",
               "unique": true, "max_length": 64}),
        json!({"api_name": "seq", "type": "integer", "label": "Sequence"}),
        json!({"api_name": "payload", "type": "long_text", "label": "Payload"}),
    ] {
        api.post("/api/v1/meta/objects/contact/fields", &body)
            .await?;
    }
    Ok(())
}

/// A deterministic payload of about `len` bytes for `tag`: Chinese and ASCII text, so that
/// multi-byte characters are stored and compared too.
pub fn payload(tag: &str, len: usize) -> String {
    const WORDS: [&str; 8] = [
        "客户", "商机", "回款", "alpha", "公海", "合同", "bravo", "线索",
    ];
    let mut out = String::with_capacity(len + 16);
    out.push_str(tag);
    let mut h: u64 = tag.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    while out.len() < len {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        out.push(' ');
        out.push_str(WORDS[(h % 8) as usize]);
    }
    out
}
