//! Soak: a fixed time of mixed load (70% reads, 20% changes, 10% creates, by wrk over 16
//! connections) on a server holding a loaded data set, with the server's memory read every
//! few seconds. Passes when no request failed and nothing leaked: once the load is over and
//! the server has been quiet for a few seconds, its anonymous resident memory (heap, not the
//! memory-mapped database file) is within 20% + 16 MB of what it was when quiet before the
//! load.
//!
//! Why quiet to quiet, not the start of the load to its end: under load SQLite's page
//! caches fill as the database grows (every create writes new pages, which the writer keeps,
//! up to `sqlite_cache_mb`), so memory rises for as long as the run lasts without anything
//! leaking; when quiet, the server drops those caches (`relata-store/src/idle.rs`). What does
//! not come back then is what was lost.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use super::instance::Context;
use super::{PartReport, say};
use crate::load;
use crate::process::Wrk;
use crate::run::WRK_SCRIPT;

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let seconds = ctx.opts.soak_seconds.max(10);
    let records = if ctx.opts.quick { 5_000 } else { 50_000 };
    let inst = ctx.fresh("soak")?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    api.create_external_id().await?;
    let loaded = load::bulk_load(
        &api,
        ctx.opts.seed,
        records,
        &[],
        1_000,
        2,
        Duration::from_secs(600),
    )
    .await?;
    let lines = ctx.dir.join("mixed.txt");
    load::write_lines(
        &lines,
        &load::mixed_lines(&loaded.ids, ctx.opts.seed, 50_000, 70, 20),
    )?;
    let script = ctx.dir.join("rotate.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let wrk = Wrk {
        script,
        threads: 2,
        connections: 16,
        seconds: u32::try_from(seconds).unwrap_or(u32::MAX),
        lines,
        token: inst.token.clone(),
        post_path: Some("-".into()),
    };
    let quiet_before = quiet_anon_mb(&server).await?;
    let base = server.base();
    let w = wrk.clone();
    let load = tokio::task::spawn_blocking(move || w.run(&base));
    let every = Duration::from_secs((seconds / 20).max(1));
    let started = Instant::now();
    let mut samples = Vec::new();
    while !load.is_finished() && started.elapsed() < Duration::from_secs(seconds + 30) {
        let (rss, _) = server.memory_mb()?;
        let anon = server
            .anon_mb()
            .context("no RssAnon in /proc/PID/status: the memory check cannot be made")?;
        samples.push((started.elapsed().as_secs_f64(), rss, anon));
        tokio::time::sleep(every).await;
    }
    let result = load.await??;
    let (end_rss, peak) = server.memory_mb()?;
    let end_anon = server.anon_mb().context("no RssAnon in /proc/PID/status")?;
    let quiet_after = quiet_anon_mb(&server).await?;
    server.stop(Duration::from_secs(30))?;

    let tenth = samples
        .iter()
        .find(|(t, _, _)| *t >= seconds as f64 / 10.0)
        .or(samples.first())
        .copied()
        .unwrap_or((0.0, end_rss, end_anon));
    let errors = result.error_count();
    let latency = result.latency_ms();
    say(&format!(
        "   soak: {} requests in {seconds} s ({:.0}/s), {errors} errors, p99 {:.1} ms; anonymous memory {:.1} MB after {:.0} s → {:.1} MB at the end (resident {:.1} → {:.1} MB, peak {:.1} MB); when quiet {quiet_before:.1} MB before the load, {quiet_after:.1} MB after",
        result.requests,
        result.ok_per_second(),
        latency.p99,
        tenth.2,
        tenth.0,
        end_anon,
        tenth.1,
        end_rss,
        peak
    ));
    if errors > 0 {
        report.problem(format!(
            "{errors} of {} requests failed: {:?}",
            result.requests, result.errors
        ));
    }
    if quiet_after > quiet_before * 1.2 + 16.0 {
        report.problem(format!(
            "memory was not given back: anonymous resident memory {quiet_before:.1} MB when quiet before the load, {quiet_after:.1} MB when quiet after it"
        ));
    }
    report.fact("soak_seconds", seconds);
    report.fact("soak_records_loaded", records);
    report.fact("soak_requests", result.requests);
    report.fact("soak_requests_per_s", result.ok_per_second());
    report.fact("soak_errors", errors);
    report.fact(
        "soak_latency_ms",
        json!({"p50": latency.p50, "p95": latency.p95, "p99": latency.p99}),
    );
    report.fact("soak_rss_start_mb", tenth.1);
    report.fact("soak_rss_end_mb", end_rss);
    report.fact("soak_anon_start_mb", tenth.2);
    report.fact("soak_anon_end_mb", end_anon);
    report.fact("soak_peak_rss_mb", peak);
    report.fact("soak_quiet_anon_before_mb", quiet_before);
    report.fact("soak_quiet_anon_after_mb", quiet_after);
    report.fact(
        "soak_samples",
        json!(
            samples
                .iter()
                .map(|(t, rss, anon)| json!({"s": t, "rss_mb": rss, "anon_mb": anon}))
                .collect::<Vec<_>>()
        ),
    );
    Ok(())
}

/// The server's anonymous resident memory after [`QUIET_WAIT`] without a request: long
/// enough for it to drop its caches and for the allocator to purge what that freed.
async fn quiet_anon_mb(server: &crate::process::Server) -> anyhow::Result<f64> {
    tokio::time::sleep(QUIET_WAIT).await;
    server
        .anon_mb()
        .context("no RssAnon in /proc/PID/status: the memory check cannot be made")
}

/// The store gives memory back after half a second without work and nudges the allocator
/// 1.5 s later (`relata-store/src/idle.rs`); tokio ends a blocking thread after ten idle
/// seconds, and its stack and its allocator's thread cache go with it. Twelve seconds sees
/// all of that done, so what is left is what the server kept.
const QUIET_WAIT: Duration = Duration::from_secs(12);
