//! Traffic that wrk cannot send: the metadata call that creates `external_id`, the bulk load
//! (large generated bodies whose answers carry the new ids), and the files of paths and
//! bodies that wrk rotates over.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::data::{self, contact};

/// An authenticated client of one Relata server.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Json> {
        let resp = req.bearer_auth(&self.token).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(2000)])
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Json> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// Creates the custom unique text field `external_id` on contact (the upsert key).
    pub async fn create_external_id(&self) -> anyhow::Result<()> {
        let body = json!({"api_name": "external_id", "type": "text", "label": "External ID",
                          "unique": true, "max_length": 64});
        self.send(
            self.http
                .post(format!("{}/api/v1/meta/objects/contact/fields", self.base))
                .json(&body),
        )
        .await
        .context("cannot create the external_id field")?;
        Ok(())
    }

    /// Live contacts, counted by the server.
    pub async fn count_contacts(&self) -> anyhow::Result<u64> {
        let page = self
            .get("/api/v1/records/contact?limit=1&count=true")
            .await?;
        page.get("total")
            .and_then(Json::as_u64)
            .context("the list answer has no total")
    }
}

/// What the bulk load did.
pub struct BulkOutcome {
    pub records: u64,
    pub seconds: f64,
    pub batches: usize,
    /// Ids of the created records, in data-set order.
    pub ids: Vec<String>,
}

/// The body of one bulk call: records `from..to` of the data set, upserted by `external_id`.
fn bulk_body(seed: u64, from: u64, to: u64) -> anyhow::Result<Vec<u8>> {
    let records: Vec<Json> = (from..to).map(|i| contact(seed, i).to_json()).collect();
    Ok(serde_json::to_vec(&json!({
        "key": "external_id",
        "mode": "all_or_nothing",
        "records": records,
    }))?)
}

/// Loads records `0..records` through `POST /api/v1/records/contact/bulk`, `batch` per call,
/// `senders` calls in flight. Bodies are generated before the clock starts, so the figure is
/// the server's, not the generator's. Bounded by the record count and by `limit`.
pub async fn bulk_load(
    api: &Api,
    seed: u64,
    records: u64,
    batch: u64,
    senders: usize,
    limit: Duration,
) -> anyhow::Result<BulkOutcome> {
    let mut bodies = Vec::new();
    let mut from = 0;
    while from < records {
        let to = (from + batch).min(records);
        bodies.push((from, to, bulk_body(seed, from, to)?));
        from = to;
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders.max(1) {
        let (api, bodies, next) = (api.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut done: Vec<(usize, Vec<String>)> = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((from, to, body)) = bodies.get(k) else {
                    return Ok::<_, anyhow::Error>(done);
                };
                if start.elapsed() > limit {
                    bail!("the bulk load did not finish within {limit:?}");
                }
                let answer = api
                    .send(
                        api.http
                            .post(format!("{}/api/v1/records/contact/bulk", api.base))
                            .header("content-type", "application/json")
                            .timeout(Duration::from_secs(600))
                            .body(body.clone()),
                    )
                    .await
                    .with_context(|| format!("bulk call for records {from}..{to}"))?;
                let created = answer.get("created").and_then(Json::as_u64).unwrap_or(0);
                if created != to - from {
                    bail!(
                        "bulk call for records {from}..{to} created {created}: {}",
                        answer.to_string().chars().take(500).collect::<String>()
                    );
                }
                let ids = answer
                    .get("results")
                    .and_then(Json::as_array)
                    .map(|rs| {
                        rs.iter()
                            .filter_map(|r| r.get("id").and_then(Json::as_str).map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                done.push((k, ids));
            }
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    parts.sort_by_key(|(k, _)| *k);
    Ok(BulkOutcome {
        records,
        seconds,
        batches: bodies.len(),
        ids: parts.into_iter().flat_map(|(_, ids)| ids).collect(),
    })
}

/// Percent-encodes a query-string value (UTF-8, everything but unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub fn write_lines(path: &Path, lines: &[String]) -> anyhow::Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `count` ids spread evenly over `ids`.
pub fn spread<T: Clone>(ids: &[T], count: usize) -> Vec<T> {
    if ids.len() <= count {
        return ids.to_vec();
    }
    let step = ids.len() as f64 / count as f64;
    (0..count)
        .filter_map(|k| ids.get((k as f64 * step) as usize).cloned())
        .collect()
}

/// List pages: one filter (the city, varied) and one sort, 50 records.
pub fn list_paths() -> Vec<String> {
    data::list_cities()
        .into_iter()
        .map(|city| {
            format!(
                "/api/v1/records/contact?filter={}&sort=-created_at&limit=50",
                encode(&format!("city eq '{city}'"))
            )
        })
        .collect()
}

/// Searches: two Chinese characters of a name, four phone digits, an email prefix.
pub fn search_paths(seed: u64, records: u64) -> Vec<String> {
    data::search_terms(seed, records, 300)
        .into_iter()
        .map(|q| format!("/api/v1/search?q={}&objects=contact", encode(&q)))
        .collect()
}

/// Bodies for single creates: records from far beyond the loaded range, without an external
/// id (as a user typing a contact in would send).
pub fn create_bodies(seed: u64, count: u64) -> Vec<String> {
    (0..count)
        .map(|k| {
            let mut record = contact(seed, 1_000_000_000 + k).to_json();
            if let Some(map) = record.as_object_mut() {
                map.remove("external_id");
            }
            record.to_string()
        })
        .collect()
}
