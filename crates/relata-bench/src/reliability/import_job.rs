//! Crash safety of a CSV import job: the server is killed (`kill -9`) while the job runs,
//! restarted, and takes the job over once its heartbeat is stale; in the end every row of the
//! file is there exactly once (the external id is unique, so a row written twice would fail),
//! and the ledger accounts for every row.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};

use super::instance::{Context, add_check_fields};
use super::{PartReport, say};
use crate::load::Api;

fn csv(rows: usize) -> String {
    let mut out = String::from("external_id,姓名,邮箱,手机,seq\n");
    for i in 0..rows {
        let _ = writeln!(out, "csv-{i:07},导入{i},csv{i}@example.cn,1390{i:07},{i}");
    }
    out
}

async fn job(api: &Api, id: &str) -> anyhow::Result<Json> {
    api.get(&format!("/api/v1/imports/{id}")).await
}

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let rows = if ctx.opts.quick { 5_000 } else { 100_000 };
    let inst = ctx.fresh("crash_csv_import")?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    add_check_fields(&api).await?;
    let resp = api
        .http
        .post(format!(
            "{}/api/v1/imports?object=contact&file_name=crash.csv",
            api.base
        ))
        .bearer_auth(&api.token)
        .body(csv(rows))
        .send()
        .await?;
    let upload: Json = resp.json().await?;
    let id = upload["id"]
        .as_str()
        .context("the upload answered no job")?
        .to_owned();
    api.post(&format!("/api/v1/imports/{id}/start"), &json!({}))
        .await?;
    // kill it once a third of the rows are in
    let started = Instant::now();
    let done_before = loop {
        let j = job(&api, &id).await?;
        let done = j["rows_done"].as_u64().unwrap_or(0);
        if done as usize >= rows / 3 || j["status"] != "running" && j["status"] != "queued" {
            break done;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the import did not get a third through in 10 minutes: {j}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.crash()?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    if let Some(problem) = inst.integrity_problem()? {
        report.problem(format!("after the crash during the CSV import: {problem}"));
    }
    let after_restart = job(&api, &id).await?;
    let resumed_from = after_restart["rows_done"].as_u64().unwrap_or(0);
    let restarted = Instant::now();
    let end = loop {
        let j = job(&api, &id).await?;
        if j["status"] != "running" && j["status"] != "queued" {
            break j;
        }
        if restarted.elapsed() > Duration::from_secs(900) {
            bail!("the import was not finished 15 minutes after the restart: {j}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let took_over = restarted.elapsed().as_secs_f64();
    let count = api.count_contacts().await?;
    say(&format!(
        "   CSV import of {rows} rows: killed at {done_before} rows, {resumed_from} committed, finished {took_over:.1} s after the restart: {} created, {} failed, {count} contacts",
        end["created"], end["failed"]
    ));
    if end["status"] != "done" {
        report.problem(format!(
            "the CSV import ended {} after the crash: {end}",
            end["status"]
        ));
    }
    if count != rows as u64
        || end["created"].as_u64() != Some(rows as u64)
        || end["failed"].as_u64() != Some(0)
    {
        report.problem(format!(
            "the CSV import killed midway should end with each of its {rows} rows once: {count} contacts, job {end}"
        ));
    }
    server.stop(Duration::from_secs(30))?;
    report.fact("csv_import_rows", rows as u64);
    report.fact("csv_import_killed_at_rows", done_before);
    report.fact("csv_import_committed_at_kill", resumed_from);
    report.fact("csv_import_finished_after_restart_s", took_over);
    report.fact("csv_import_contacts_after", count);
    Ok(())
}
