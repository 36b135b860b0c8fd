//! The kanban figure (issue 9: "the kanban of a pipeline with 100,000 open opportunities
//! p95 ≤ 50 ms (per-column paging)"), measured in process: a `relata_core::Core` opened on
//! the database, opportunities generated through the bulk write path when the database holds
//! fewer than asked, then `Core::board` of the standard pipeline timed over and over.
//!
//! The data set, drawn per deal from the data set's generator (so the same deals each time):
//! every deal is in the standard pipeline `new_business`, owned by one of 20 sales reps
//! (created when the database has fewer users besides the administrator), with a bilingual
//! name (a company of the contacts' data set and a product), an amount in CNY between 10,000
//! and about 3,000,000 (log-uniform, so most deals are small), a type, a source and a close
//! date. Open deals: prospecting 35 %, qualification 25 %, needs analysis 18 %, proposal 14 %,
//! negotiation 8 %, closing in the next 180 days; closed deals (`--closed`): 40 % won (with
//! a win reason), 60 % lost (with a loss reason, price most often), closed in the last year,
//! and created before the open ones (the newest deals of a real pipeline are mostly open).
//!
//! One board is one grouped count (and per-currency total) over the pipeline and one page per
//! open column, all under the viewer's visibility, as `Core::board` runs them. Timed for the
//! administrator (sees everything: the largest counts) and for one rep (opportunities are
//! private: sees their own, about 1/20), then the next page of the largest column
//! (`Core::board_column` with its cursor). The parts are timed alone too — the counts
//! (`Core::aggregate`, called as the board calls it) and the column pages — with the
//! database's plan of the counts' statement, so that a slow board says where its time goes.
//!
//! Nothing is written while measuring: a kept database can be measured again as it is.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_core::pipelines::board::{AMOUNT, BoardRequest};
use relata_core::records::bulk::BulkMode;
use relata_core::visibility::Visibility;
use relata_core::{Actor, Core, CoreError, Source};
use relata_domain::UserId;
use relata_domain::clock::{Clock, SystemClock};
use relata_domain::filter::{Filter, Op};
use relata_domain::opportunity::pipeline::{PIPELINE, STANDARD, is_closed};
use relata_domain::opportunity::{LOSS_REASONS, LOST, OBJECT, STAGE, WIN_REASONS, WON};
use relata_domain::standard::SOURCES;
use relata_store::ddl::currency_column;
use relata_store::dialect::placeholder;
use relata_store::filter_sql::push_filter;
use relata_store::{Conn, Dialect, Sql, SqlValue, StoreOptions};

use crate::data::{Rng, contact, owner_index};
use crate::load::percentile;
use crate::process;
use crate::results::{Figure, Latency, Machine};

/// Bump when a field changes meaning; the report skips files it does not understand.
pub const SCHEMA: u32 = 1;
/// The target, per board and per page.
pub const TARGET_MS: f64 = 50.0;
/// The scale the target is stated for.
pub const TARGET_OPEN: u64 = 100_000;
/// Cards per column.
pub const PER_COLUMN: usize = 20;
/// Opportunities created per bulk call while generating.
const BULK: usize = 5_000;
/// Owners the generated opportunities are spread over.
const OWNERS: usize = 20;
/// Untimed runs before each timed series (caches, prepared statements, planner statistics).
const WARM_UP: usize = 10;
/// The open stages of the standard pipeline and their share (%) of the open deals.
pub const OPEN_MIX: &[(&str, usize)] = &[
    ("prospecting", 35),
    ("qualification", 25),
    ("needs_analysis", 18),
    ("proposal", 14),
    ("negotiation", 8),
];
/// Closed deals: the share (%) won.
const WON_PERCENT: u64 = 40;
/// Record indexes of the closed deals in the contacts' data set (names), apart from the open.
const CLOSED_BASE: u64 = 1 << 32;

const PRODUCTS_CN: &[&str] = &[
    "ERP 升级",
    "CRM 部署",
    "数据中心扩容",
    "云迁移",
    "年度维保",
    "安防系统",
    "智能仓储",
    "培训服务",
    "财务共享平台",
    "MES 实施",
];
const PRODUCTS_EN: &[&str] = &[
    "ERP upgrade",
    "CRM rollout",
    "data centre expansion",
    "cloud migration",
    "annual support",
    "security system",
    "warehouse automation",
    "training",
    "finance shared services",
    "MES implementation",
];
const COMPANY_CN: &[&str] = &[
    "科技有限公司",
    "贸易有限公司",
    "制造集团",
    "信息技术",
    "实业",
];
const COMPANY_EN: &[&str] = &["Ltd", "Group", "Inc.", "Holdings", "Trading"];
const TYPES: &[&str] = &[
    "new_business",
    "new_business",
    "existing_business",
    "renewal",
];

pub struct Options {
    /// `sqlite://PATH` or `postgres://…?schema=NAME`.
    pub db: String,
    pub open: u64,
    pub closed: u64,
    pub iterations: usize,
    pub seed: u64,
    /// The database was filled by an earlier run: measure it as it is, creating no user and
    /// no deal (`--open` and `--closed` are then ignored; the figures count what is there).
    pub reuse: bool,
}

/// One results file of `relata-bench kanban`: `bench/results/kanban/<date>-<backend>-<open>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KanbanRun {
    pub schema: u32,
    /// RFC 3339, UTC.
    pub date: String,
    pub commit: String,
    pub dirty: bool,
    pub backend: String,
    pub pipeline: String,
    /// Open deals in the pipeline (all of them visible to the administrator).
    pub open: u64,
    pub closed: u64,
    /// Open deals the rep owns (and sees).
    pub rep_open: u64,
    pub owners: usize,
    pub per_column: usize,
    pub iterations: usize,
    pub seed: u64,
    pub machine: Machine,
    /// Deals generated by this run, and how long it took (not part of any figure).
    pub generated: u64,
    pub generate_seconds: f64,
    /// The board, the rep's board and the next page (with the target), then the parts.
    pub figures: Vec<Figure>,
    /// The database's plan of the counts' statement as the administrator runs it (`counts`),
    /// and, on SQLite, the planner's statistics of the indexes the board may use (`stats`,
    /// from `sqlite_stat1`). (Runs before the counts were one statement have `count`, `sum`,
    /// `count_rep` and `sum_rep`.)
    pub plans: BTreeMap<String, Vec<String>>,
    /// The explained statements' text, by the same names.
    #[serde(default)]
    pub statements: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Vec<String>,
    pub seconds: f64,
}

impl KanbanRun {
    /// `<dir>/kanban/<date>-<backend>-<open>.json`.
    pub fn path_in(&self, results: &Path) -> PathBuf {
        results.join("kanban").join(format!(
            "{}-{}-{}.json",
            self.date.get(..10).unwrap_or("undated"),
            self.backend,
            scale_name(self.open)
        ))
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `100000` → `100k`, `1000000` → `1m`.
fn scale_name(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The kanban runs in `dir` (`bench/results/kanban/`), newest first.
pub fn load(dir: &Path) -> Vec<KanbanRun> {
    crate::results::load_runs(dir, |r: &KanbanRun| r.schema, |r| &r.date)
}

fn say(msg: &str) {
    eprintln!("[kanban] {msg}");
}

fn core_err(e: CoreError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// A timed series: the latency percentiles and what they came from.
#[derive(Debug, Clone)]
pub struct Timing {
    pub latency: Latency,
    pub max: f64,
    pub mean: f64,
    pub samples: usize,
}

impl Timing {
    fn of(mut ms: Vec<f64>) -> Timing {
        ms.sort_by(f64::total_cmp);
        Timing {
            latency: Latency {
                p50: percentile(&ms, 50.0),
                p95: percentile(&ms, 95.0),
                p99: percentile(&ms, 99.0),
            },
            max: ms.last().copied().unwrap_or(0.0),
            mean: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
            samples: ms.len(),
        }
    }

    fn text(&self) -> String {
        format!(
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.latency.p50, self.latency.p95, self.latency.p99, self.max
        )
    }

    /// A figure valued at the p95.
    fn figure(&self, id: &str, label: &str) -> Figure {
        Figure::new(id, label, self.latency.p95, "ms p95")
            .latency(self.latency.clone())
            .detail("max_ms", self.max)
            .detail("mean_ms", self.mean)
            .detail("samples", self.samples as u64)
    }
}

/// `warm` untimed calls of `f`, then `n` timed ones.
async fn sample<T, Fut>(warm: usize, n: usize, mut f: impl FnMut() -> Fut) -> anyhow::Result<Timing>
where
    Fut: Future<Output = anyhow::Result<T>>,
{
    for _ in 0..warm {
        f().await?;
    }
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Timing::of(ms))
}

fn count(conn: &mut dyn Conn, sql: &str, params: &[SqlValue]) -> Result<u64, CoreError> {
    Ok(conn
        .query_one(sql, params)?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0) as u64)
}

/// Uniform in `[0, 1)`.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Open deal `k`, or closed deal `k` when `closed`, of the data set, owned by `owner`.
fn deal(seed: u64, k: u64, closed: bool, owner: Uuid, today: NaiveDate) -> Json {
    let index = if closed { CLOSED_BASE + k } else { k };
    let c = contact(seed, index);
    let mut rng = Rng::for_record(seed ^ 0x0CA2_BA2D, index);
    let name = if c.first_name.is_ascii() {
        format!(
            "{} {} — {}",
            c.last_name,
            rng.pick(COMPANY_EN),
            rng.pick(PRODUCTS_EN)
        )
    } else {
        format!(
            "{}{}{} · {}",
            c.city,
            c.last_name,
            rng.pick(COMPANY_CN),
            rng.pick(PRODUCTS_CN)
        )
    };
    // 10,000 to about 3,160,000 yuan, log-uniform, to the hundred
    let amount = (10f64.powf(4.0 + 2.5 * unit(&mut rng)) / 100.0).round() as u64 * 100;
    let mut out = json!({
        "name": name,
        "owner_id": owner.to_string(),
        PIPELINE: STANDARD,
        AMOUNT: {"amount": format!("{amount}.00"), "currency": "CNY"},
        "type": rng.pick(TYPES),
        "source": rng.pick(SOURCES).0,
    });
    let close_date;
    if closed {
        close_date = today - Duration::days(rng.below(365) as i64);
        if rng.chance(WON_PERCENT) {
            out[STAGE] = json!(WON);
            out["win_reason"] = json!(rng.pick(WIN_REASONS).0);
        } else {
            out[STAGE] = json!(LOST);
            // price is the most common reason a deal is lost
            let reason = if rng.chance(40) {
                "price"
            } else {
                rng.pick(LOSS_REASONS).0
            };
            out["loss_reason"] = json!(reason);
        }
    } else {
        close_date = today + Duration::days(rng.below(180) as i64);
        let mut at = rng.below(100);
        let stage = OPEN_MIX
            .iter()
            .find(|(_, share)| {
                let here = at < *share;
                at = at.saturating_sub(*share);
                here
            })
            .map_or(OPEN_MIX[0].0, |(s, _)| *s);
        out[STAGE] = json!(stage);
        if rng.chance(50) {
            out["next_step"] = json!(if c.first_name.is_ascii() {
                "Send the proposal"
            } else {
                "发送报价单"
            });
        }
    }
    out["close_date"] = json!(close_date.format("%Y-%m-%d").to_string());
    out
}

/// The filter of the board's counts, as `Core::board` builds it: the pipeline, and only the
/// stages it shows (the open ones).
fn board_filter(core: &Core) -> anyhow::Result<Filter> {
    let pipeline = core.pipeline(STANDARD).map_err(core_err)?;
    let shown: Vec<&str> = pipeline
        .stages
        .iter()
        .map(|s| s.value.as_str())
        .filter(|s| !is_closed(s))
        .collect();
    Ok(Filter::And(vec![
        Filter::Cond {
            field: PIPELINE.to_owned(),
            op: Op::Eq,
            value: json!(STANDARD),
        },
        Filter::Cond {
            field: STAGE.to_owned(),
            op: Op::In,
            value: json!(shown),
        },
    ]))
}

/// The database's plan of `sql`, one line per step.
fn plan(conn: &mut dyn Conn, sql: &Sql) -> Result<Vec<String>, CoreError> {
    let explain = match conn.dialect() {
        Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
        Dialect::Postgres => "EXPLAIN ",
    };
    Ok(conn
        .query(&format!("{explain}{}", sql.text), &sql.params)?
        .iter()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

/// The counts' statement and its plan, for `actor`. It mirrors the bounded-group path of
/// `relata_core::records::aggregate` (a picklist grouped, money counted and totalled per
/// group and currency in one statement); it is only explained here, never timed: the counts
/// are timed through `Core::aggregate` itself.
async fn counts_plan(
    core: &Core,
    actor: &Actor,
    filter: &Filter,
) -> anyhow::Result<(String, Vec<String>)> {
    let object = core.object(OBJECT).map_err(core_err)?;
    let (typed, related) = core
        .type_filter_for(actor, &object, Some(filter))
        .await
        .map_err(core_err)?;
    let vis = Visibility::read(&actor.access, &object, &core.schema(), core.clock.now());
    let c = currency_column(AMOUNT);
    let mut sql = Sql::new(core.store.dialect());
    sql.push(&format!(
        "SELECT t.{STAGE}, t.{c}, COUNT(*), SUM(t.{AMOUNT}) FROM {OBJECT} t WHERE t.deleted_at IS NULL AND "
    ));
    push_filter(&mut sql, &typed, "t.", &related);
    vis.push(&mut sql, "t.");
    sql.push(&format!(" GROUP BY t.{STAGE}, t.{c}"));
    let text = sql.text.clone();
    let plan = core
        .store
        .read(move |conn| plan(conn, &sql))
        .await
        .map_err(core_err)?;
    Ok((text, plan))
}

/// What one viewer's board measured.
struct Viewer {
    board: Timing,
    counts: Timing,
    pages: Timing,
    next_page: Option<Timing>,
    /// The first page of each column alone, one after another: (stage, timing).
    column_pages: Vec<(String, Timing)>,
    /// The board's columns: (stage, count, cards on the first page).
    columns: Vec<(String, i64, usize)>,
    biggest: String,
}

async fn measure_viewer(
    core: &Arc<Core>,
    actor: &Actor,
    who: &str,
    iterations: usize,
) -> anyhow::Result<Viewer> {
    let req = BoardRequest {
        per_column: Some(PER_COLUMN),
        ..Default::default()
    };
    let board = core
        .board(actor, STANDARD, req.clone())
        .await
        .map_err(core_err)?;
    let columns: Vec<(String, i64, usize)> = board
        .columns
        .iter()
        .map(|c| (c.stage.clone(), c.count, c.page.records.len()))
        .collect();
    let biggest = board
        .columns
        .iter()
        .max_by_key(|c| c.count)
        .context("the board has no column")?;
    let (biggest_stage, cursor) = (biggest.stage.clone(), biggest.page.next_cursor.clone());
    say(&format!(
        "{who}: columns {}",
        columns
            .iter()
            .map(|(s, n, cards)| format!("{s} {n} ({cards} cards)"))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let (c, a, r) = (core.as_ref(), actor, &req);
    let timed = sample(WARM_UP, iterations, move || async move {
        c.board(a, STANDARD, r.clone()).await.map_err(core_err)
    })
    .await?;
    say(&format!("{who}: the board: {}", timed.text()));

    let next_page = match cursor {
        Some(cursor) => {
            let (stage, cursor) = (&biggest_stage, &cursor);
            let t = sample(WARM_UP, iterations, move || async move {
                c.board_column(a, STANDARD, stage, r, Some(cursor.clone()))
                    .await
                    .map_err(core_err)
            })
            .await?;
            say(&format!(
                "{who}: the next page of {biggest_stage}: {}",
                t.text()
            ));
            Some(t)
        }
        None => None,
    };

    let filter = &board_filter(core)?;
    let counts = sample(WARM_UP, iterations, move || async move {
        c.aggregate(a, OBJECT, STAGE, Some(AMOUNT), Some(filter.clone()))
            .await
            .map_err(core_err)
    })
    .await?;
    say(&format!(
        "{who}: the counts alone (Core::aggregate): {}",
        counts.text()
    ));

    // the first page of every open column, concurrently, as the board runs them
    let stages: Vec<String> = columns.iter().map(|(s, _, _)| s.clone()).collect();
    let stages = &stages;
    let pages = sample(WARM_UP, iterations, move || async move {
        let mut set = tokio::task::JoinSet::new();
        for stage in stages {
            let (core, actor, req, stage) = (core.clone(), actor.clone(), r.clone(), stage.clone());
            set.spawn(async move {
                core.board_column(&actor, STANDARD, &stage, &req, None)
                    .await
                    .map(|p| p.records.len())
            });
        }
        while let Some(done) = set.join_next().await {
            done?.map_err(core_err)?;
        }
        anyhow::Ok(())
    })
    .await?;
    say(&format!(
        "{who}: the {} first pages alone (concurrently): {}",
        stages.len(),
        pages.text()
    ));

    // the first page of each column alone
    let mut column_pages = Vec::new();
    for stage in stages {
        let t = sample(WARM_UP, iterations, move || async move {
            c.board_column(a, STANDARD, stage, r, None)
                .await
                .map_err(core_err)
        })
        .await?;
        column_pages.push((stage.clone(), t));
    }
    say(&format!(
        "{who}: the first page of each column alone (p50 / p95 ms): {}",
        column_pages
            .iter()
            .map(|(s, t)| format!("{s} {:.2} / {:.2}", t.latency.p50, t.latency.p95))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    Ok(Viewer {
        board: timed,
        counts,
        pages,
        next_page,
        column_pages,
        columns,
        biggest: biggest_stage,
    })
}

pub async fn measure(opts: &Options) -> anyhow::Result<KanbanRun> {
    let run_started = Instant::now();
    let (commit, dirty) = process::commit();
    let mut machine = process::machine();
    let date = relata_domain::value::format_datetime(&SystemClock.now());
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
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
    };
    let c = core.clone();
    let admin = tokio::task::spawn_blocking(move || c.ensure_admin_blocking())
        .await?
        .map_err(core_err)?;
    let admin = Actor::superuser(admin, Source::Import);
    core.pipeline(STANDARD)
        .map_err(core_err)
        .context("the standard pipeline")?;

    // --- Owners ---------------------------------------------------------------------------
    let mut owners = reps(&core).await?;
    if owners.len() < OWNERS && !opts.reuse {
        for n in owners.len()..OWNERS {
            core.create_user(
                &admin,
                json!({
                    "name": format!("商机代表{n}"),
                    "email": format!("kanban-{n}@bench.relata.test"),
                }),
            )
            .await
            .map_err(core_err)?;
        }
        owners = reps(&core).await?;
    }
    owners.truncate(OWNERS);
    let Some(&rep) = owners.first() else {
        bail!("no user besides the administrator to own deals (run without --reuse)");
    };

    // --- Opportunities --------------------------------------------------------------------
    let (have_open, have_closed) = if opts.reuse {
        (opts.open, opts.closed)
    } else {
        counts(&core).await?
    };
    let today = core.clock.now().date_naive();
    let started = Instant::now();
    let mut generated = 0;
    // the closed deals first: they are the older ones, as in a real pipeline, so the newest
    // deals — the top of each column — are open ones
    for (closed, have, want) in [
        (true, have_closed, opts.closed),
        (false, have_open, opts.open),
    ] {
        if have >= want {
            continue;
        }
        say(&format!(
            "generating {} {} opportunities through Core::bulk_upsert ({BULK} per call)",
            want - have,
            if closed { "closed" } else { "open" }
        ));
        let mut k = have;
        while k < want {
            let to = (k + BULK as u64).min(want);
            let records = (k..to)
                .map(|i| {
                    let index = if closed { CLOSED_BASE + i } else { i };
                    let owner = owners[owner_index(opts.seed, index, owners.len())];
                    deal(opts.seed, i, closed, owner, today)
                })
                .collect();
            let r = core
                .bulk_upsert(&admin, OBJECT, "id", BulkMode::AllOrNothing, records)
                .await
                .map_err(core_err)?;
            if r.failed > 0 {
                let first = r
                    .results
                    .iter()
                    .find(|i| !i.errors.is_empty())
                    .map(|i| format!("{:?}", i.errors))
                    .unwrap_or_default();
                bail!(
                    "bulk create of opportunities {k}..{to}: {} failed: {first}",
                    r.failed
                );
            }
            generated += r.created as u64;
            k = to;
            if (k - have).is_multiple_of(20_000) || k == want {
                say(&format!(
                    "  {generated} opportunities, {:.0}/s",
                    generated as f64 / started.elapsed().as_secs_f64()
                ));
            }
        }
    }
    let generate_seconds = started.elapsed().as_secs_f64();
    let (open, closed) = if opts.reuse || generated > 0 {
        counts(&core).await?
    } else {
        (have_open, have_closed)
    };
    let rep_open = core
        .store
        .read(move |conn| {
            let d = conn.dialect();
            count(
                conn,
                &format!(
                    "SELECT COUNT(*) FROM {OBJECT} WHERE deleted_at IS NULL AND {PIPELINE} = {} AND {STAGE} NOT IN ({}, {}) AND owner_id = {}",
                    placeholder(d, 1),
                    placeholder(d, 2),
                    placeholder(d, 3),
                    placeholder(d, 4)
                ),
                &[
                    SqlValue::Text(STANDARD.into()),
                    SqlValue::Text(WON.into()),
                    SqlValue::Text(LOST.into()),
                    SqlValue::Uuid(rep),
                ],
            )
        })
        .await
        .map_err(core_err)?;
    say(&format!(
        "{open} open and {closed} closed opportunities in {STANDARD}; the rep owns {rep_open} open"
    ));

    // --- The boards -----------------------------------------------------------------------
    let rep_actor = Actor::user(
        core.fresh_access_of(UserId(rep)).await.map_err(core_err)?,
        Source::Api,
    );
    let mut notes = Vec::new();
    let a = measure_viewer(&core, &admin, "admin", opts.iterations).await?;
    let r = measure_viewer(&core, &rep_actor, "rep", opts.iterations).await?;
    for (who, v, want) in [("admin", &a, open), ("rep", &r, rep_open)] {
        let seen: i64 = v.columns.iter().map(|(_, n, _)| n).sum();
        if seen as u64 != want {
            notes.push(format!(
                "the {who}'s board counts {seen} open deals, the database {want}"
            ));
        }
        for (stage, n, cards) in &v.columns {
            if *cards != (*n as usize).min(PER_COLUMN) {
                notes.push(format!(
                    "the {who}'s column {stage} shows {cards} cards of {n}"
                ));
            }
        }
    }
    for n in &notes {
        say(&format!("note: {n}"));
    }

    // --- Figures --------------------------------------------------------------------------
    let at_scale = open >= TARGET_OPEN;
    let target = format!("p95 ≤ {TARGET_MS:.0} ms over 100,000 open opportunities");
    let met = |t: &Timing| at_scale.then_some(t.latency.p95 <= TARGET_MS);
    let columns = |v: &Viewer| {
        v.columns
            .iter()
            .map(|(s, n, _)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut figures = vec![
        a.board
            .figure(
                "kanban_board",
                &format!("Board of {STANDARD}, as the administrator (sees every deal): counts and totals of the open stages + the first {PER_COLUMN} cards of each"),
            )
            .target(&target, met(&a.board))
            .detail("columns", columns(&a)),
        r.board
            .figure(
                "kanban_board_rep",
                &format!("Board of {STANDARD}, as a sales rep (private sharing: sees their own deals)"),
            )
            .against(&a.board.figure("kanban_board", ""))
            .target(&target, met(&r.board))
            .detail("columns", columns(&r)),
    ];
    if let Some(t) = &a.next_page {
        figures.push(
            t.figure(
                "kanban_next_page",
                &format!(
                    "Next page of the largest column ({}), as the administrator (Core::board_column with the cursor)",
                    a.biggest
                ),
            )
            .target(&target, met(t)),
        );
    }
    if let Some(t) = &r.next_page {
        figures.push(t.figure(
            "kanban_next_page_rep",
            &format!(
                "Next page of the largest column ({}), as the rep",
                r.biggest
            ),
        ));
    }
    for (v, who, suffix) in [(&a, "administrator", ""), (&r, "rep", "_rep")] {
        figures.push(v.counts.figure(
            &format!("kanban_counts{suffix}"),
            &format!("Part: the counts and totals alone (Core::aggregate by stage, summing amount, over the open stages, as the board calls it), as the {who}"),
        ));
        let per_column: serde_json::Map<String, Json> = v
            .column_pages
            .iter()
            .map(|(s, t)| {
                (
                    s.clone(),
                    json!({"p50": t.latency.p50, "p95": t.latency.p95, "max": t.max}),
                )
            })
            .collect();
        figures.push(
            v.pages
                .figure(
                    &format!("kanban_pages{suffix}"),
                    &format!(
                        "Part: the {} first pages alone, concurrently as the board runs them, as the {who}",
                        v.columns.len()
                    ),
                )
                .detail("column_alone_ms", Json::Object(per_column)),
        );
    }
    let (statement, plan) = counts_plan(&core, &admin, &board_filter(&core)?).await?;
    say(&format!(
        "the counts' statement, as the administrator: {statement}; plan: {}",
        plan.join(" | ")
    ));
    let plans = BTreeMap::from([
        ("counts".to_owned(), plan),
        ("stats".to_owned(), planner_stats(&core).await?),
    ]);
    let statements = BTreeMap::from([("counts".to_owned(), statement)]);
    core.store.close();
    machine.loadavg_end = process::loadavg();
    Ok(KanbanRun {
        schema: SCHEMA,
        date,
        commit,
        dirty,
        backend: backend.to_owned(),
        pipeline: STANDARD.to_owned(),
        open,
        closed,
        rep_open,
        owners: owners.len(),
        per_column: PER_COLUMN,
        iterations: opts.iterations,
        seed: opts.seed,
        machine,
        generated,
        generate_seconds,
        figures,
        plans,
        statements,
        notes,
        seconds: run_started.elapsed().as_secs_f64(),
    })
}

/// Open and closed opportunities of the standard pipeline.
async fn counts(core: &Core) -> anyhow::Result<(u64, u64)> {
    core.store
        .read(|conn| -> Result<(u64, u64), CoreError> {
            let d = conn.dialect();
            let (p1, p2, p3) = (placeholder(d, 1), placeholder(d, 2), placeholder(d, 3));
            let params = [
                SqlValue::Text(STANDARD.into()),
                SqlValue::Text(WON.into()),
                SqlValue::Text(LOST.into()),
            ];
            let base = format!("SELECT COUNT(*) FROM {OBJECT} WHERE deleted_at IS NULL AND {PIPELINE} = {p1} AND {STAGE}");
            let open = count(conn, &format!("{base} NOT IN ({p2}, {p3})"), &params)?;
            let closed = count(conn, &format!("{base} IN ({p2}, {p3})"), &params)?;
            Ok((open, closed))
        })
        .await
        .map_err(core_err)
}

/// The active users besides administrators, by id.
async fn reps(core: &Core) -> anyhow::Result<Vec<Uuid>> {
    core.store
        .read(|conn| -> Result<Vec<Uuid>, CoreError> {
            let d = conn.dialect();
            Ok(conn
                .query(
                    &format!(
                        "SELECT id FROM sys_users WHERE active = {} AND is_admin = {} ORDER BY id",
                        placeholder(d, 1),
                        placeholder(d, 2)
                    ),
                    &[SqlValue::Bool(true), SqlValue::Bool(false)],
                )?
                .iter()
                .filter_map(|r| r[0].as_uuid())
                .collect())
        })
        .await
        .map_err(core_err)
}

/// On SQLite, what the planner knows of the indexes a board may use (`sqlite_stat1`: rows,
/// then rows per distinct key prefix), which decides the index it walks.
async fn planner_stats(core: &Core) -> anyhow::Result<Vec<String>> {
    if core.store.dialect() != Dialect::Sqlite {
        return Ok(Vec::new());
    }
    core.store
        .read(|conn| -> Result<Vec<String>, CoreError> {
            let sql =
                format!("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = '{OBJECT}' ORDER BY idx");
            // no statistics yet: no table
            let Ok(rows) = conn.query(&sql, &[]) else {
                return Ok(Vec::new());
            };
            Ok(rows
                .iter()
                .filter_map(|r| Some((r.first()?.as_str()?, r.get(1)?.as_str()?)))
                // those fields' indexes, and the others: the kanban's covering index (named by a hash), the key
                .filter(|(idx, _)| {
                    !idx.contains("__")
                        || [PIPELINE, STAGE, "owner_id"]
                            .iter()
                            .any(|f| idx.contains(&format!("__{f}__")))
                })
                .map(|(idx, stat)| format!("{idx}: {stat}"))
                .collect())
        })
        .await
        .map_err(core_err)
}
