//! The pool (公海) reclaim sweep figure (issue 9: "a reclaim sweep over 1,000,000 accounts
//! ≤ 30 s"), measured in process: a `relata_core::Core` opened on the database, accounts
//! generated through the bulk write path when the database holds fewer than asked, their
//! follow-up dates back-dated by SQL into a realistic mix, a default account pool with the rule
//! `{no_follow_up_days: 30, warn_days_before: 3}`, then one timed `Core::sweep_pools()`.
//!
//! The mix, drawn per account from the data set's generator (so the same accounts each time):
//!
//! - 10 % due: owned 31–120 days ago, no follow-up (or one older than 30 days);
//! - 5 % in the warning window: owned 27 days 1 h – 29 days 23 h ago, no follow-up;
//! - 85 % recent: half owned 0–26 days ago with no follow-up, half owned 31–400 days ago and
//!   followed up 0–26 days ago (they pass the age test and fail the follow-up test).
//!
//! Every run resets the accounts first (owner back, out of any pool, warnings cleared), so
//! the sweep can be repeated on a kept database.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use relata_core::pools::PoolInput;
use relata_core::records::bulk::BulkMode;
use relata_core::{Actor, Core, CoreError, Source};
use relata_domain::clock::SystemClock;
use relata_domain::pool::{PoolRules, ReclaimRule};
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue, StoreOptions};

use crate::data::{Rng, contact};
use crate::results::{Figure, Machine, SCHEMA};

/// The rule measured.
pub const NO_FOLLOW_UP_DAYS: u32 = 30;
pub const WARN_DAYS_BEFORE: u32 = 3;
/// Accounts created per bulk call while generating.
const BULK: usize = 5_000;
/// Accounts back-dated per transaction.
const RESET_BATCH: usize = 5_000;
/// Owners the generated accounts are spread over (when the database has fewer users).
const OWNERS: usize = 20;

pub struct Options {
    /// `sqlite://PATH` or `postgres://…?schema=NAME`.
    pub db: String,
    pub accounts: u64,
    pub seed: u64,
    /// The database was back-dated by an earlier run of the same seed: only what that run's
    /// sweep changed is put back (owners, pools, warnings, and the owned-since date a release
    /// clears: back-dating made it the creation date), in one statement, instead of
    /// back-dating every account again (12 minutes at a million).
    pub reuse: bool,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub backend: &'static str,
    pub accounts: u64,
    pub generated: u64,
    pub generate_seconds: f64,
    pub reset_seconds: f64,
    /// Expected from the mix.
    pub due: u64,
    pub in_window: u64,
    /// Counting the due accounts with the sweep's condition (one query, no LIMIT).
    pub due_query_seconds: f64,
    pub due_query_plan: Vec<String>,
    pub seconds: f64,
    pub reclaimed: u64,
    pub warned: u64,
    pub peak_rss_mb: Option<f64>,
}

impl Outcome {
    pub fn reclaimed_per_second(&self) -> f64 {
        self.reclaimed as f64 / self.seconds.max(1e-9)
    }

    pub fn figure(&self) -> Figure {
        let met = (self.accounts >= 1_000_000).then_some(self.seconds <= 30.0);
        let mut fig = Figure::new(
            "pool_sweep",
            "Pool reclaim sweep (Core::sweep_pools, in process): default account pool, rule 30 days without follow-up, warned 3 days before; 10 % due, 5 % in the warning window",
            self.seconds,
            "s",
        )
        .target("≤ 30 s over 1,000,000 accounts", met)
        .detail("accounts", self.accounts)
        .detail("reclaimed", self.reclaimed)
        .detail("warned", self.warned)
        .detail("due_expected", self.due)
        .detail("in_window_expected", self.in_window)
        .detail("reclaimed_per_s", self.reclaimed_per_second())
        .detail("due_query_seconds", self.due_query_seconds);
        if let Some(mb) = self.peak_rss_mb {
            fig = fig.detail("peak_rss_mb", mb);
        }
        fig
    }
}

/// One run as kept in `bench/results/pool_sweep/`, for `BENCHMARKS.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolSweepRun {
    pub schema: u32,
    /// RFC 3339, UTC.
    pub date: String,
    pub commit: String,
    pub dirty: bool,
    pub backend: String,
    pub accounts: u64,
    pub seed: u64,
    pub machine: Machine,
    pub figure: Figure,
}

impl PoolSweepRun {
    pub fn new(done: &Outcome, seed: u64, machine: Machine) -> PoolSweepRun {
        let (commit, dirty) = crate::process::commit();
        PoolSweepRun {
            schema: SCHEMA,
            date: relata_domain::value::format_datetime(&relata_domain::clock::Clock::now(
                &SystemClock,
            )),
            commit,
            dirty,
            backend: done.backend.to_owned(),
            accounts: done.accounts,
            seed,
            machine,
            figure: done
                .figure()
                .detail("generated", done.generated)
                .detail("generate_seconds", done.generate_seconds)
                .detail("due_query_plan", done.due_query_plan.join(" | ")),
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The runs in `dir` (`bench/results/pool_sweep/`), newest first.
pub fn load(dir: &Path) -> Vec<PoolSweepRun> {
    crate::results::load_runs(dir, |r: &PoolSweepRun| r.schema, |r| &r.date)
}

fn say(msg: &str) {
    eprintln!("[pool-sweep] {msg}");
}

fn core_err(e: CoreError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// One account back-dated: id, owner, owned since, last follow-up.
type Dated = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

/// What happens to account `i` of the data set: (owned since, last follow-up), as ages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Due,
    Window,
    Recent,
}

fn ages(seed: u64, i: u64) -> (Kind, Duration, Option<Duration>) {
    let mut rng = Rng::for_record(seed ^ 0x9001_5EED, i);
    let hours = |rng: &mut Rng, from_days: i64, to_days: i64| {
        Duration::hours(from_days * 24 + rng.below(((to_days - from_days) * 24) as usize) as i64)
    };
    match rng.below(1000) {
        0..100 => {
            let owned = hours(&mut rng, 31, 120);
            let activity = rng.chance(50).then(|| hours(&mut rng, 31, 60));
            (Kind::Due, owned, activity)
        }
        100..150 => (
            Kind::Window,
            Duration::days(27) + Duration::hours(1 + rng.below(70) as i64),
            None,
        ),
        _ if rng.chance(50) => (Kind::Recent, hours(&mut rng, 0, 26), None),
        _ => (
            Kind::Recent,
            hours(&mut rng, 31, 400),
            Some(hours(&mut rng, 0, 26)),
        ),
    }
}

fn count(conn: &mut dyn Conn, sql: &str, params: &[SqlValue]) -> Result<u64, CoreError> {
    Ok(conn
        .query_one(sql, params)?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0) as u64)
}

/// Peak resident memory of this process since the last [`reset_peak_rss`], in MB.
fn peak_rss_mb() -> Option<f64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

/// Resets the peak resident memory the kernel keeps (`/proc/self/clear_refs`, 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub async fn measure(opts: &Options) -> anyhow::Result<Outcome> {
    let url = opts.db.clone();
    let core = tokio::task::spawn_blocking(move || {
        Core::open(
            &StoreOptions::new(url),
            Arc::new(SystemClock),
            relata_core::Settings::default(),
        )
    })
    .await?
    .map_err(core_err)
    .with_context(|| format!("cannot open {}", opts.db))?;
    let backend = match core.store.dialect() {
        relata_store::Dialect::Sqlite => "sqlite",
        relata_store::Dialect::Postgres => "postgres",
    };
    let c = core.clone();
    let admin = tokio::task::spawn_blocking(move || c.ensure_admin_blocking())
        .await?
        .map_err(core_err)?;
    let actor = Actor::superuser(admin, Source::Import);

    // --- Owners ---------------------------------------------------------------------------
    let mut owners = users(&core).await?;
    if owners.len() < OWNERS {
        for n in owners.len()..OWNERS {
            let email = format!("pool-sweep-{n}@bench.relata.test");
            core.create_user(
                &actor,
                json!({"name": format!("公海代表{n}"), "email": email}),
            )
            .await
            .map_err(core_err)?;
        }
        owners = users(&core).await?;
    }

    // --- Accounts -------------------------------------------------------------------------
    let have = core
        .store
        .read(|conn| {
            count(
                conn,
                "SELECT COUNT(*) FROM account WHERE deleted_at IS NULL",
                &[],
            )
        })
        .await
        .map_err(core_err)?;
    let mut generated = 0;
    let started = Instant::now();
    if have < opts.accounts {
        let want = opts.accounts - have;
        say(&format!(
            "generating {want} accounts through Core::bulk_upsert ({BULK} per call)"
        ));
        let mut i = have;
        while i < opts.accounts {
            let to = (i + BULK as u64).min(opts.accounts);
            let records = (i..to)
                .map(|k| {
                    let c = contact(opts.seed, k);
                    let owner = owners[Rng::for_record(opts.seed, k).below(owners.len())];
                    json!({
                        "name": format!("{}{}贸易有限公司 {k}", c.city, c.last_name),
                        "city": c.city,
                        "phone": c.phone,
                        "owner_id": owner.to_string(),
                    })
                })
                .collect();
            let r = core
                .bulk_upsert(&actor, "account", "id", BulkMode::AllOrNothing, records)
                .await
                .map_err(core_err)?;
            if r.failed > 0 {
                bail!("bulk create of accounts {i}..{to}: {} failed", r.failed);
            }
            generated += r.created as u64;
            i = to;
            if (i - have).is_multiple_of(100_000) {
                say(&format!(
                    "  {} accounts, {:.0}/s",
                    i - have,
                    (i - have) as f64 / started.elapsed().as_secs_f64()
                ));
            }
        }
    }
    let generate_seconds = started.elapsed().as_secs_f64();

    // --- The mix --------------------------------------------------------------------------
    say("back-dating the accounts (10 % due, 5 % in the warning window, 85 % recent)");
    let started = Instant::now();
    let ids: Vec<Uuid> = core
        .store
        .read(move |conn| -> Result<Vec<Uuid>, CoreError> {
            Ok(conn
                .query(
                    "SELECT id FROM account WHERE deleted_at IS NULL ORDER BY id",
                    &[],
                )?
                .iter()
                .filter_map(|r| r[0].as_uuid())
                .collect())
        })
        .await
        .map_err(core_err)?;
    let ids: Vec<Uuid> = ids.into_iter().take(opts.accounts as usize).collect();
    let accounts = ids.len() as u64;
    let now = core.clock.now();
    let (mut due, mut in_window) = (0, 0);
    if opts.reuse {
        let owner = owners[0];
        core.store
            .write(move |conn| -> Result<(), CoreError> {
                let sql = format!(
                    "UPDATE account SET owner_id = COALESCE(owner_id, {}), pool_id = NULL, pool_warned_at = NULL, owned_since = created_at WHERE owner_id IS NULL OR pool_id IS NOT NULL OR pool_warned_at IS NOT NULL OR owned_since IS NULL OR owned_since <> created_at",
                    placeholder(conn.dialect(), 1)
                );
                conn.execute(&sql, &[SqlValue::Uuid(owner)])?;
                Ok(())
            })
            .await
            .map_err(core_err)?;
        for i in 0..accounts {
            match ages(opts.seed, i).0 {
                Kind::Due => due += 1,
                Kind::Window => in_window += 1,
                Kind::Recent => {}
            }
        }
    }
    for (n, chunk) in ids.chunks(RESET_BATCH).enumerate().filter(|_| !opts.reuse) {
        let rows: Vec<Dated> = chunk
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let i = (n * RESET_BATCH + k) as u64;
                let (kind, owned, activity) = ages(opts.seed, i);
                match kind {
                    Kind::Due => due += 1,
                    Kind::Window => in_window += 1,
                    Kind::Recent => {}
                }
                let owner = owners[Rng::for_record(opts.seed, i).below(owners.len())];
                (*id, owner, now - owned, activity.map(|a| now - a))
            })
            .collect();
        core.store
            .write(move |conn| -> Result<(), CoreError> {
                let d = conn.dialect();
                let sql = format!(
                    "UPDATE account SET owner_id = COALESCE(owner_id, {}), pool_id = NULL, pool_warned_at = NULL, created_at = {p2}, owned_since = {p2}, last_activity_at = {} WHERE id = {}",
                    placeholder(d, 1),
                    placeholder(d, 3),
                    placeholder(d, 4),
                    p2 = placeholder(d, 2),
                );
                for (id, owner, since, activity) in rows {
                    conn.execute(
                        &sql,
                        &[
                            SqlValue::Uuid(owner),
                            SqlValue::Timestamp(since),
                            activity.map_or(SqlValue::Null, SqlValue::Timestamp),
                            SqlValue::Uuid(id),
                        ],
                    )?;
                }
                Ok(())
            })
            .await
            .map_err(core_err)?;
    }
    let reset_seconds = started.elapsed().as_secs_f64();
    say(&format!(
        "  {accounts} accounts in {reset_seconds:.1} s: {due} due, {in_window} in the warning window"
    ));

    // --- The pool -------------------------------------------------------------------------
    let rules = PoolRules {
        reclaim: vec![ReclaimRule {
            level: None,
            no_follow_up_days: Some(NO_FOLLOW_UP_DAYS),
            no_won_deal_days: None,
            warn_days_before: Some(WARN_DAYS_BEFORE),
        }],
        ..PoolRules::default()
    };
    let existing = core.pools(&actor).await.map_err(core_err)?;
    let mut pool_id = None;
    for p in existing.iter().filter(|p| p.object == "account") {
        if p.is_default {
            pool_id = Some(p.id);
        } else if !p.rules.reclaim.is_empty() {
            // only the measured pool sweeps
            let input = PoolInput {
                name: p.name.clone(),
                object: p.object.clone(),
                rules: PoolRules {
                    reclaim: Vec::new(),
                    ..p.rules.clone()
                },
                is_default: false,
                members: p.members.clone(),
            };
            core.save_pool(&actor, Some(p.id), input)
                .await
                .map_err(core_err)?;
        }
    }
    let pool = core
        .save_pool(
            &actor,
            pool_id,
            PoolInput {
                name: "公海 (bench)".into(),
                object: "account".into(),
                rules,
                is_default: true,
                members: Vec::new(),
            },
        )
        .await
        .map_err(core_err)?;

    // --- The sweep's select alone ---------------------------------------------------------
    let cutoff = now - Duration::days(i64::from(NO_FOLLOW_UP_DAYS));
    let pid = pool.id;
    let (due_query_seconds, counted, due_query_plan) = core
        .store
        .read(move |conn| -> Result<(f64, u64, Vec<String>), CoreError> {
            let d = conn.dialect();
            let (p1, p2) = (placeholder(d, 1), placeholder(d, 2));
            let condition = format!(
                "owner_id IS NOT NULL AND deleted_at IS NULL AND (pool_id = {p1} OR pool_id IS NULL) AND ((COALESCE(owned_since, created_at) <= {p2} AND (last_activity_at IS NULL OR last_activity_at <= {p2})))"
            );
            let params = [SqlValue::Uuid(pid), SqlValue::Timestamp(cutoff)];
            let started = Instant::now();
            let n = count(
                conn,
                &format!("SELECT COUNT(*) FROM account WHERE {condition}"),
                &params,
            )?;
            let seconds = started.elapsed().as_secs_f64();
            let explain = match d {
                relata_store::Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
                relata_store::Dialect::Postgres => "EXPLAIN ",
            };
            let plan = conn
                .query(
                    &format!("{explain}SELECT id, owner_id FROM account WHERE {condition} LIMIT 500"),
                    &params,
                )?
                .iter()
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            Ok((seconds, n, plan))
        })
        .await
        .map_err(core_err)?;
    say(&format!(
        "the sweep's condition alone (COUNT, no LIMIT): {counted} due in {due_query_seconds:.2} s; plan: {}",
        due_query_plan.join(" | ")
    ));
    if counted != due {
        say(&format!(
            "note: the mix says {due} due, the condition counts {counted}"
        ));
    }

    // --- The sweep ------------------------------------------------------------------------
    say("sweeping");
    let rss_reset = reset_peak_rss();
    let started = Instant::now();
    let report = core.sweep_pools().await.map_err(core_err)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = if rss_reset { peak_rss_mb() } else { None };
    core.store.close();
    Ok(Outcome {
        backend,
        accounts,
        generated,
        generate_seconds,
        reset_seconds,
        due,
        in_window,
        due_query_seconds,
        due_query_plan,
        seconds,
        reclaimed: report.reclaimed as u64,
        warned: report.warned as u64,
        peak_rss_mb: peak,
    })
}

async fn users(core: &Core) -> anyhow::Result<Vec<Uuid>> {
    core.store
        .read(|conn| -> Result<Vec<Uuid>, CoreError> {
            Ok(conn
                .query(
                    &format!(
                        "SELECT id FROM sys_users WHERE active = {} ORDER BY id",
                        placeholder(conn.dialect(), 1)
                    ),
                    &[SqlValue::Bool(true)],
                )?
                .iter()
                .filter_map(|r| r[0].as_uuid())
                .collect())
        })
        .await
        .map_err(core_err)
}
