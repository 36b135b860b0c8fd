//! Crash safety of workflow runs and webhook deliveries (issue 8: "`kill -9` a worker in the
//! middle of jobs → every job completes exactly once in effect; a webhook is delivered at
//! least once with a stable delivery id"): a rule gives every new contact a welcome task, and
//! a webhook sends every new contact to a receiver in this process; contacts are being
//! created, and the server is killed (`kill -9`) while they are and the rule's runs and the
//! deliveries are under way — some judged, some run, some neither. After the restart the
//! engine catches up (the dead server's jobs are taken over when their leases end): every
//! contact must have exactly one task, none lost, none made twice, and its creation must have
//! reached the receiver, every time under the one delivery id.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};

use super::instance::Context;
use super::{PartReport, say};
use crate::load::Api;

async fn total(api: &Api, path: &str) -> anyhow::Result<u64> {
    api.get(path)
        .await?
        .get("total")
        .and_then(Json::as_u64)
        .with_context(|| format!("no total from {path}"))
}

async fn tasks(api: &Api) -> anyhow::Result<u64> {
    total(api, "/api/v1/records/task?limit=1&count=true").await
}

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let contacts = if ctx.opts.quick { 1_500 } else { 20_000 };
    let inst = ctx.fresh("crash_workflow")?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    api.post(
        "/api/v1/workflow_rules",
        &json!({"name": "Welcome task", "object": "contact", "definition": {
            "trigger": {"type": "created"},
            "steps": [
                {"type": "create_record", "object": "task", "set": {
                    "subject": {"formula": "'Welcome ' & name"}, "contact_id": {"formula": "id"}}},
                {"type": "notify", "to": ["owner"], "message": "New contact: {{ name }}"}
            ]
        }}),
    )
    .await
    .context("creating the rule")?;
    let (hook_url, received, receiver) = crate::webhooks::start_receiver().await?;
    api.post(
        "/api/v1/webhooks",
        &json!({"name": "ERP", "url": hook_url, "object": "contact", "events": ["created"]}),
    )
    .await
    .context("creating the webhook")?;
    // contacts are created while the rule runs; the server is killed once a third of the
    // tasks are in, in the middle of both
    let creator = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..contacts {
                let body =
                    json!({"name": format!("流程{i}"), "email": format!("flow{i}@example.cn")});
                if api.post("/api/v1/records/contact", &body).await.is_err() {
                    break; // the server is gone
                }
            }
        })
    };
    let started = Instant::now();
    let before = loop {
        let n = tasks(&api).await?;
        if n >= contacts / 3 {
            break n;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the rule made {n} of {contacts} tasks in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.crash()?;
    let _ = creator.await;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    if let Some(problem) = inst.integrity_problem()? {
        report.problem(format!("after the crash during workflow runs: {problem}"));
    }
    let restarted = Instant::now();
    loop {
        let b = api.get("/api/v1/workflow_backlog").await?;
        if b["events_behind"] == 0 && b["queued_runs"] == 0 {
            break;
        }
        if restarted.elapsed() > Duration::from_secs(300) {
            report.problem(format!(
                "the rules had not caught up 5 minutes after the restart: {b}"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let caught_up = restarted.elapsed().as_secs_f64();
    let made = tasks(&api).await?;
    let created = api.count_contacts().await?;
    let without = total(
        &api,
        "/api/v1/records/contact?limit=1&count=true&filter=has_no%20task%20via%20contact_id",
    )
    .await?;
    let failed = api
        .get("/api/v1/workflow_runs?status=failed&limit=10")
        .await?["data"]
        .as_array()
        .map_or(0, Vec::len);
    say(&format!(
        "   workflow runs for new contacts: killed at {before} tasks while creating contacts, caught up {caught_up:.1} s after the restart: {created} contacts, {made} tasks, {without} contacts without one, {failed} failed runs"
    ));
    if made != created || without != 0 || failed != 0 {
        report.problem(format!(
            "every contact should have exactly one welcome task after the crash: {made} tasks for {created} contacts, {without} contacts without one, {failed} failed runs"
        ));
    }
    // every creation delivered, a record's tries all under its one delivery id
    let waited = Instant::now();
    let delivered = loop {
        let n = received
            .lock()
            .map(|r| r.by_record.len() as u64)
            .unwrap_or(0);
        if n >= created || waited.elapsed() > Duration::from_secs(300) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (ids, requests, unstable) = received.lock().map_or((0, 0, 0), |r| {
        let unstable = r.by_record.values().filter(|ids| ids.len() > 1).count();
        (r.ids.len(), r.requests, unstable)
    });
    receiver.abort();
    say(&format!(
        "   webhook: {delivered} of {created} contacts delivered, {ids} delivery ids, {requests} requests (repeats are retries of a delivery the crash left unrecorded), {unstable} contacts under more than one id"
    ));
    if delivered != created || unstable != 0 {
        report.problem(format!(
            "every contact's creation should reach the webhook under one delivery id after the crash: {delivered} of {created} delivered, {unstable} under more than one id"
        ));
    }
    report.fact("webhook_crash_delivered", delivered);
    report.fact("webhook_crash_requests", requests);
    report.fact("workflow_crash_contacts", created);
    report.fact("workflow_crash_killed_at_tasks", before);
    report.fact("workflow_crash_tasks", made);
    report.fact("workflow_crash_catch_up_seconds", caught_up);
    server.stop(Duration::from_secs(30))?;
    Ok(())
}
