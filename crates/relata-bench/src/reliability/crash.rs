//! Crash safety: `kill -9` the server while it writes, restart it, and check the database.
//!
//! - Single writes: eight writers create and change contacts; the server is killed at a random
//!   moment, restarted, and every record is checked against the writers' logs (see
//!   [`super::writers`]); then again, on the same database, several rounds.
//! - Bulk import: batches of an import (bulk upsert by external id, all or nothing) are sent
//!   two at a time; the server is killed part-way, restarted, and every batch must be either
//!   wholly there (certainly when it was acknowledged) or wholly absent; the import is then
//!   resumed by sending again every batch without an acknowledgement, and in the end the
//!   database holds each record of the import exactly once.
//! - CSV import job: killed while it runs, taken over after the restart, each row once
//!   ([`super::import_job`]).
//! - Workflow runs: killed while a rule gives new contacts a task each; after the restart,
//!   each contact has exactly one ([`super::workflow_job`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value as Json, json};

use super::instance::{Context, Instance, add_check_fields, payload};
use super::writers::{self, Log, Outcome, Writers};
use super::{PartReport, say};
use crate::data::Rng;
use crate::load::Api;
use crate::process::Server;

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    single_writes(ctx, report).await?;
    bulk_import(ctx, report).await?;
    super::import_job::run(ctx, report).await?;
    super::workflow_job::run(ctx, report).await
}

/// Restarts on the crashed database and runs its integrity check.
async fn restart(
    ctx: &Context<'_>,
    inst: &Instance,
    report: &mut PartReport,
) -> anyhow::Result<(Server, Api)> {
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    if let Some(problem) = inst.integrity_problem()? {
        report.problem(format!("after the crash: {problem}"));
    }
    Ok((server, api))
}

async fn single_writes(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let quick = ctx.opts.quick;
    let (rounds, writer_count) = if quick { (3, 8) } else { (10, 8) };
    let inst = ctx.fresh("crash_writes")?;
    let mut server = inst.start(&ctx.http).await?;
    let mut api = inst.api(&server, &ctx.http);
    add_check_fields(&api).await?;
    let mut rng = Rng::new(ctx.opts.seed);
    let mut logs: Vec<Log> = vec![Log::default(); writer_count];
    let mut tally = writers::Tally::default();
    let mut per_round = Vec::new();
    for round in 1..=rounds {
        let running = Writers::start(&api, &writers::next_k(&logs));
        let delay = Duration::from_millis(if quick {
            400 + rng.below(1_200) as u64
        } else {
            1_000 + rng.below(4_000) as u64
        });
        tokio::time::sleep(delay).await;
        server.crash()?;
        let round_logs = running.finish().await?;
        writers::report_refused(&round_logs, report);
        writers::merge(&mut logs, round_logs);
        (server, api) = restart(ctx, &inst, report).await?;
        let found = writers::list_all(&api, None, report).await?;
        // Every round checks everything written so far: what survived one crash must
        // survive the next.
        tally = writers::check(&logs, &found, report);
        say(&format!(
            "   single writes, crash {round}/{rounds} after {} ms: {} acknowledged writes, {} found; {} unanswered, {} of them applied; {} records",
            delay.as_millis(),
            tally.acked,
            tally.acked_found,
            tally.unanswered,
            tally.unanswered_applied,
            found.len()
        ));
        per_round.push(json!({
            "killed_after_ms": delay.as_millis() as u64,
            "acknowledged_writes": tally.acked,
            "acknowledged_found": tally.acked_found,
            "unanswered_writes": tally.unanswered,
            "unanswered_applied": tally.unanswered_applied,
            "records": found.len(),
        }));
    }
    server.stop(Duration::from_secs(30))?;
    report.fact("single_writes_crashes", rounds);
    report.fact("single_writes_writers", writer_count as u64);
    report.fact("single_writes_acknowledged", tally.acked);
    report.fact("single_writes_acknowledged_found", tally.acked_found);
    report.fact("single_writes_unanswered", tally.unanswered);
    report.fact("single_writes_unanswered_applied", tally.unanswered_applied);
    report.fact("single_writes_rounds", Json::Array(per_round));
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    NotSent,
    /// Sent, and no answer came.
    Unanswered,
    Acked,
}

fn import_ext(i: usize) -> String {
    format!("imp-{i:07}")
}

fn import_record(i: usize) -> Json {
    json!({
        "name": format!("导入 {}", import_ext(i)),
        "external_id": import_ext(i),
        "seq": i,
        "payload": payload(&import_ext(i), 600),
    })
}

fn batch_body(b: usize, size: usize) -> Vec<u8> {
    let records: Vec<Json> = (b * size..(b + 1) * size).map(import_record).collect();
    serde_json::to_vec(&json!({"key": "external_id", "mode": "all_or_nothing", "records": records}))
        .unwrap_or_default()
}

/// Sends the batches `todo` with `senders` calls in flight until they are done, the server
/// stops answering, or `kill_after` acknowledgements have come (then the server is killed
/// while the next calls are in flight). Returns whether the server was killed.
async fn send_batches(
    api: &Api,
    server: Server,
    todo: &[usize],
    size: usize,
    kill_after: Option<usize>,
    state: &mut [Batch],
    report: &mut PartReport,
) -> anyhow::Result<Option<Server>> {
    let queue = Arc::new(todo.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (api, queue, next, acked, dead) = (
            api.clone(),
            queue.clone(),
            next.clone(),
            acked.clone(),
            dead.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut outcomes: Vec<(usize, Batch, Option<String>)> = Vec::new();
            while !dead.load(Ordering::Relaxed) {
                let Some(&b) = queue.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let req = api
                    .http
                    .post(format!("{}/api/v1/records/contact/bulk", api.base))
                    .bearer_auth(&api.token)
                    .header("content-type", "application/json")
                    .body(batch_body(b, size));
                match writers::send(req).await {
                    Outcome::Acked(answer) => {
                        let n = |k: &str| answer.get(k).and_then(Json::as_u64).unwrap_or(0);
                        let applied = n("created") + n("updated") + n("unchanged");
                        let complaint = (applied != size as u64 || n("failed") > 0)
                            .then(|| format!("batch {b}: the answer counts {applied} of {size} records: {answer:.300}"));
                        outcomes.push((b, Batch::Acked, complaint));
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Outcome::Refused(e) => {
                        outcomes.push((b, Batch::NotSent, Some(format!("batch {b}: {e}"))));
                        break;
                    }
                    Outcome::Lost => {
                        outcomes.push((b, Batch::Unanswered, None));
                        break;
                    }
                }
            }
            outcomes
        }));
    }
    let mut server = Some(server);
    if let Some(limit) = kill_after {
        let started = Instant::now();
        while acked.load(Ordering::Relaxed) < limit
            && next.load(Ordering::Relaxed) < queue.len()
            && started.elapsed() < Duration::from_secs(600)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(s) = server.take() {
            s.crash()?;
        }
        dead.store(true, Ordering::Relaxed);
    }
    for t in tasks {
        for (b, outcome, complaint) in t.await? {
            state[b] = outcome;
            if let Some(c) = complaint {
                report.problem(c);
            }
        }
    }
    Ok(server)
}

async fn bulk_import(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let quick = ctx.opts.quick;
    let (records, size, crashes) = if quick {
        (20_000, 1_000, 2)
    } else {
        (200_000, 1_000, 3)
    };
    let batches = records / size;
    let inst = ctx.fresh("crash_import")?;
    let mut server = inst.start(&ctx.http).await?;
    let mut api = inst.api(&server, &ctx.http);
    add_check_fields(&api).await?;
    let mut rng = Rng::new(ctx.opts.seed ^ 0x1A9);
    let mut state = vec![Batch::NotSent; batches];
    let mut rounds = Vec::new();
    for round in 0..=crashes {
        let todo: Vec<usize> = (0..batches).filter(|&b| state[b] != Batch::Acked).collect();
        if todo.is_empty() {
            break;
        }
        // A kill part-way through what is left, except in the last round: the resume that
        // must finish.
        let kill_after = (round < crashes).then(|| {
            let from = todo.len() / 5;
            from + rng.below((todo.len() / 2).max(1))
        });
        let resent_unanswered = todo
            .iter()
            .filter(|&&b| state[b] == Batch::Unanswered)
            .count();
        let still_up =
            send_batches(&api, server, &todo, size, kill_after, &mut state, report).await?;
        server = match still_up {
            Some(s) => s,
            None => {
                let (s, a) = restart(ctx, &inst, report).await?;
                api = a;
                s
            }
        };
        let found = writers::list_all(&api, None, report).await?;
        let mut present = vec![0usize; batches];
        for (ext, f) in &found {
            let Some(i) = ext
                .strip_prefix("imp-")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&i| i < records)
            else {
                report.problem(format!("{ext}: a record the import never sent"));
                continue;
            };
            present[i / size] += 1;
            let whole = f.seq == Some(i as i64)
                && f.payload.as_deref() == import_record(i).get("payload").and_then(Json::as_str);
            if !whole {
                report.problem(format!("{ext}: not the record the import sent"));
            }
        }
        let acked = state.iter().filter(|&&s| s == Batch::Acked).count();
        let unanswered = state.iter().filter(|&&s| s == Batch::Unanswered).count();
        let partial = present.iter().filter(|&&n| n != 0 && n != size).count();
        let mut unanswered_applied = 0;
        for b in 0..batches {
            match state[b] {
                Batch::Acked if present[b] != size => report.problem(format!(
                    "batch {b} was acknowledged; {} of its {size} records are there",
                    present[b]
                )),
                Batch::NotSent if present[b] != 0 => report.problem(format!(
                    "batch {b} was never sent; {} of its records are there",
                    present[b]
                )),
                Batch::Unanswered if present[b] == size => unanswered_applied += 1,
                _ => {}
            }
        }
        if partial > 0 {
            report.problem(format!("{partial} batches are partly there"));
        }
        let killed = kill_after.is_some();
        say(&format!(
            "   import round {}: {} batches sent ({resent_unanswered} of them unanswered before){}; {acked}/{batches} acknowledged, {unanswered} unanswered ({unanswered_applied} applied), {partial} partial; {} records",
            round + 1,
            todo.len(),
            if killed { ", killed part-way" } else { "" },
            found.len()
        ));
        rounds.push(json!({
            "batches_sent": todo.len(),
            "killed": killed,
            "batches_acknowledged": acked,
            "batches_unanswered": unanswered,
            "unanswered_applied": unanswered_applied,
            "batches_partial": partial,
            "records_acknowledged": acked * size,
            "records_found": found.len(),
        }));
    }
    // However the rounds went, the import ends complete, each record exactly once.
    let todo: Vec<usize> = (0..batches).filter(|&b| state[b] != Batch::Acked).collect();
    if !todo.is_empty() {
        server = send_batches(&api, server, &todo, size, None, &mut state, report)
            .await?
            .context("the server went away during the last resume")?;
    }
    let found = writers::list_all(&api, None, report).await?;
    let whole = found.iter().filter(|(ext, f)| {
        ext.strip_prefix("imp-")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|i| {
                f.seq == Some(i as i64)
                    && f.payload.as_deref()
                        == import_record(i).get("payload").and_then(Json::as_str)
            })
    });
    let whole = whole.count();
    if found.len() != records || whole != records {
        report.problem(format!(
            "after the resumed import {} records are there ({whole} whole), not {records}",
            found.len()
        ));
    }
    report.fact("import_final_records", found.len() as u64);
    server.stop(Duration::from_secs(30))?;
    report.fact("import_records", records as u64);
    report.fact("import_batch", size as u64);
    report.fact("import_crashes", crashes as u64);
    report.fact("import_rounds", Json::Array(rounds));
    Ok(())
}
