//! Concurrency: clients racing on the same records.
//!
//! - Optimistic locking: sixteen clients increment counters on four records, each by reading
//!   the record and sending `PATCH` with the `If-Match` it read, retrying on 412. Every
//!   increment that was answered 200 must be in the final count (no lost update), and the
//!   record's version must have moved once per increment.
//! - Unique fields under concurrent creates: eight clients create a contact with the same
//!   unique external id at once, for many ids; exactly one create per id succeeds, the others
//!   are refused with 409, and one record per id exists.
//! - Unique fields under concurrent bulk upserts: four clients upsert the same keys at once,
//!   again and again; each key ends on exactly one record, holding one client's whole version.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::instance::{Context, add_check_fields, payload};
use super::writers;
use super::{PartReport, say};
use crate::load::Api;

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let inst = ctx.fresh("concurrency")?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    add_check_fields(&api).await?;
    let quick = ctx.opts.quick;
    if_match(&api, if quick { 20 } else { 100 }, report).await?;
    unique_creates(&api, if quick { 40 } else { 250 }, report).await?;
    unique_bulk(&api, if quick { 3 } else { 10 }, report).await?;
    if let Some(problem) = inst.integrity_problem()? {
        report.problem(problem);
    }
    server.stop(Duration::from_secs(30))?;
    Ok(())
}

const CLIENTS: usize = 16;
const COUNTERS: usize = 4;

/// One client's increments of record `id`: returns (increments answered 200, 412s seen).
async fn increment(
    api: Api,
    id: String,
    increments: u64,
) -> anyhow::Result<(u64, u64, Vec<String>)> {
    let (mut done, mut conflicts, mut errors) = (0u64, 0u64, Vec::new());
    let url = format!("{}/api/v1/records/contact/{id}", api.base);
    let mut attempts = 0u64;
    while done < increments {
        attempts += 1;
        if attempts > increments * 500 {
            errors.push(format!("{id}: gave up after {attempts} attempts"));
            break;
        }
        let resp = api.http.get(&url).bearer_auth(&api.token).send().await?;
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .context("GET without an ETag")?;
        let record: Json = resp.json().await?;
        let seq = record.get("seq").and_then(Json::as_i64).unwrap_or(0);
        let resp = api
            .http
            .patch(&url)
            .bearer_auth(&api.token)
            .header("if-match", etag)
            .json(&json!({ "seq": seq + 1 }))
            .send()
            .await?;
        match resp.status() {
            StatusCode::OK => done += 1,
            StatusCode::PRECONDITION_FAILED => conflicts += 1,
            other => {
                errors.push(format!(
                    "PATCH {id}: HTTP {other}: {:.300}",
                    resp.text().await.unwrap_or_default()
                ));
                break;
            }
        }
    }
    Ok((done, conflicts, errors))
}

async fn if_match(api: &Api, per_client: u64, report: &mut PartReport) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    for r in 0..COUNTERS {
        let record = api
            .post(
                "/api/v1/records/contact",
                &json!({"name": format!("计数器 {r}"), "external_id": format!("counter-{r}"), "seq": 0}),
            )
            .await?;
        ids.push(
            record
                .get("id")
                .and_then(Json::as_str)
                .context("a create without id")?
                .to_owned(),
        );
    }
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let id = ids[c % COUNTERS].clone();
        tasks.push((
            c % COUNTERS,
            tokio::spawn(increment(api.clone(), id, per_client)),
        ));
    }
    let mut answered = [0u64; COUNTERS];
    let mut conflicts = 0;
    for (r, t) in tasks {
        let (done, seen, errors) = t.await??;
        answered[r] += done;
        conflicts += seen;
        for e in errors {
            report.problem(e);
        }
    }
    let mut lost = 0i64;
    for (r, id) in ids.iter().enumerate() {
        let record = api.get(&format!("/api/v1/records/contact/{id}")).await?;
        let seq = record.get("seq").and_then(Json::as_i64).unwrap_or(-1);
        let version = record.get("version").and_then(Json::as_i64).unwrap_or(-1);
        let expected = answered[r] as i64;
        lost += expected - seq;
        if seq != expected || version != expected + 1 {
            report.problem(format!(
                "counter {r}: {expected} increments were answered 200, it reads {seq} at version {version}"
            ));
        }
    }
    let total: u64 = answered.iter().sum();
    say(&format!(
        "   If-Match: {total} increments by {CLIENTS} clients on {COUNTERS} records, {conflicts} answered 412 and retried, {lost} lost"
    ));
    report.fact("if_match_increments", total);
    report.fact("if_match_conflicts_412", conflicts);
    report.fact("if_match_lost_updates", lost);
    Ok(())
}

/// POSTs `body` as JSON and returns the status and the body text, whatever the status.
async fn post_answer(api: &Api, path: &str, body: &Json) -> anyhow::Result<(u16, String)> {
    let resp = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .json(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.unwrap_or_default()))
}

/// HTTP status → count, as a JSON object for the report.
pub fn status_counts<'a>(counts: impl IntoIterator<Item = (&'a u16, &'a u64)>) -> Json {
    Json::Object(
        counts
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

/// Whether a problem answer says that `field` duplicates another record's value.
fn names_duplicate(body: &str, field: &str) -> bool {
    serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|b| b.get("errors").and_then(Json::as_array).cloned())
        .is_some_and(|errors| {
            errors.iter().any(|e| {
                e.get("field").and_then(Json::as_str) == Some(field)
                    && e.get("code").and_then(Json::as_str) == Some("duplicate")
            })
        })
}

async fn unique_creates(api: &Api, ids: usize, report: &mut PartReport) -> anyhow::Result<()> {
    const RACERS: usize = 8;
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for v in 0..ids {
        let ext = format!("u-{v:05}");
        let mut tasks = Vec::new();
        for c in 0..RACERS {
            let (api, body) = (
                api.clone(),
                json!({"name": format!("唯一 {ext} {c}"), "external_id": ext, "seq": c}),
            );
            tasks.push(tokio::spawn(async move {
                post_answer(&api, "/api/v1/records/contact", &body).await
            }));
        }
        let mut created = 0;
        for t in tasks {
            let (status, text) = t.await??;
            *statuses.entry(status).or_default() += 1;
            match status {
                201 => created += 1,
                // The loser is told which field clashed (422 names it, as any validation
                // error does) or that it conflicts (409).
                409 => {}
                422 if names_duplicate(&text, "external_id") => {}
                other => report.problem(format!("create {ext}: HTTP {other}: {text:.300}")),
            }
        }
        if created != 1 {
            report.problem(format!(
                "{ext}: {created} of {RACERS} racing creates succeeded"
            ));
        }
    }
    let found = writers::list_all(api, Some("external_id starts_with 'u-'"), report).await?;
    if found.len() != ids {
        report.problem(format!(
            "{} records hold the {ids} racing unique ids",
            found.len()
        ));
    }
    say(&format!(
        "   unique creates: {ids} ids × {RACERS} racing creates; answers {statuses:?}; {} records",
        found.len()
    ));
    report.fact("unique_create_ids", ids as u64);
    report.fact("unique_create_racers", RACERS as u64);
    report.fact("unique_create_statuses", status_counts(&statuses));
    Ok(())
}

async fn unique_bulk(api: &Api, repeats: usize, report: &mut PartReport) -> anyhow::Result<()> {
    const UPSERTERS: usize = 4;
    const KEYS: usize = 300;
    let body = |c: usize, r: usize| {
        let records: Vec<Json> = (0..KEYS)
            .map(|i| {
                json!({"name": format!("批量 {i}"), "external_id": format!("b-{i:04}"),
                       "seq": i, "payload": payload(&format!("b-{i}/{c}/{r}"), 200)})
            })
            .collect();
        json!({"key": "external_id", "mode": "all_or_nothing", "records": records})
    };
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for r in 0..repeats {
        let mut tasks = Vec::new();
        for c in 0..UPSERTERS {
            let (api, body) = (api.clone(), body(c, r));
            tasks.push(tokio::spawn(async move {
                post_answer(&api, "/api/v1/records/contact/bulk", &body).await
            }));
        }
        for t in tasks {
            let (status, text) = t.await??;
            *statuses.entry(status).or_default() += 1;
            // The server runs a call that lost a race again (PostgreSQL): every call must
            // succeed.
            if status != 200 {
                report.problem(format!("bulk upsert: HTTP {status}: {text:.300}"));
            }
        }
    }
    let found = writers::list_all(api, Some("external_id starts_with 'b-'"), report).await?;
    if found.len() != KEYS {
        report.problem(format!(
            "{} records hold the {KEYS} upserted keys",
            found.len()
        ));
    }
    // Each call writes every key in one transaction, so the call committed last holds them
    // all: one client's version of the last round on every key.
    let mut winners = std::collections::BTreeSet::new();
    for (ext, f) in &found {
        let Some(i) = ext.strip_prefix("b-").and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        let last = repeats - 1;
        let winner = (0..UPSERTERS).find(|c| {
            f.payload.as_deref() == Some(payload(&format!("b-{i}/{c}/{last}"), 200).as_str())
        });
        match winner {
            Some(c) if f.seq == Some(i as i64) => {
                winners.insert(c);
            }
            _ => report.problem(format!(
                "{ext}: not a whole version of the last round's calls"
            )),
        }
    }
    if winners.len() > 1 {
        report.problem(format!(
            "the keys hold versions of {} different calls of the last round: the calls were not atomic",
            winners.len()
        ));
    }
    say(&format!(
        "   unique bulk upserts: {UPSERTERS} clients × {repeats} rounds on the same {KEYS} keys; answers {statuses:?}; {} records",
        found.len()
    ));
    report.fact("unique_bulk_calls", (UPSERTERS * repeats) as u64);
    report.fact("unique_bulk_statuses", status_counts(&statuses));
    Ok(())
}
