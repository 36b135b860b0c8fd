//! Traffic that wrk cannot send: the metadata and admin calls that set the server up, the bulk
//! load (large generated bodies whose answers carry the new ids), password logins, and the
//! files of paths and bodies that wrk rotates over.

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
        if body.is_empty() {
            return Ok(Json::Null); // 204
        }
        Ok(serde_json::from_slice(&body)?)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Json> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Json) -> anyhow::Result<Json> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
            .with_context(|| format!("POST {path}"))
    }

    pub async fn patch(&self, path: &str, body: &Json) -> anyhow::Result<Json> {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(body))
            .await
            .with_context(|| format!("PATCH {path}"))
    }

    /// Any method with a JSON body.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Json,
    ) -> anyhow::Result<Json> {
        self.send(
            self.http
                .request(method.clone(), format!("{}{path}", self.base))
                .json(body),
        )
        .await
        .with_context(|| format!("{method} {path}"))
    }

    pub async fn put(&self, path: &str) -> anyhow::Result<Json> {
        self.send(self.http.put(format!("{}{path}", self.base)))
            .await
            .with_context(|| format!("PUT {path}"))
    }

    /// Creates the custom unique text field `external_id` on contact (the upsert key).
    pub async fn create_external_id(&self) -> anyhow::Result<()> {
        self.create_external_id_on("contact").await
    }

    /// Creates the custom unique text field `external_id` on `object` (the upsert key).
    pub async fn create_external_id_on(&self, object: &str) -> anyhow::Result<()> {
        let body = json!({"api_name": "external_id", "type": "text", "label": "External ID",
                          "unique": true, "max_length": 64});
        self.send(
            self.http
                .post(format!("{}/api/v1/meta/objects/{object}/fields", self.base))
                .json(&body),
        )
        .await
        .with_context(|| format!("cannot create the external_id field of {object}"))?;
        Ok(())
    }

    /// Live contacts, counted by the server.
    pub async fn count_contacts(&self) -> anyhow::Result<u64> {
        self.count("contact").await
    }

    /// Live records of `object`, counted by the server.
    pub async fn count(&self, object: &str) -> anyhow::Result<u64> {
        let page = self
            .get(&format!("/api/v1/records/{object}?limit=1&count=true"))
            .await?;
        page.get("total")
            .and_then(Json::as_u64)
            .with_context(|| format!("the list of {object} has no total"))
    }
}

/// What a bulk load did.
pub struct BulkOutcome {
    pub records: u64,
    pub seconds: f64,
    pub batches: usize,
    /// Ids of the created records, in the order of the records sent.
    pub ids: Vec<String>,
}

/// The bodies of the bulk calls of one load, generated before its clock starts.
pub struct Batches {
    object: String,
    /// Position of the first record of the call among those of the load, records, body.
    calls: Vec<(u64, u64, Vec<u8>)>,
    records: u64,
}

/// The bulk calls that upsert `record(i)` for each of `indices` into `object` by
/// `external_id`, `batch` records per call, all or nothing.
pub fn batches(
    object: &str,
    indices: impl IntoIterator<Item = u64>,
    batch: u64,
    mut record: impl FnMut(u64) -> Json,
) -> anyhow::Result<Batches> {
    let mut calls = Vec::new();
    let mut records = Vec::new();
    let mut sent = 0;
    let mut flush = |records: &mut Vec<Json>, sent: &mut u64| -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let count = records.len() as u64;
        let body = serde_json::to_vec(&json!({
            "key": "external_id",
            "mode": "all_or_nothing",
            "records": std::mem::take(records),
        }))?;
        calls.push((*sent, count, body));
        *sent += count;
        Ok(())
    };
    for i in indices {
        records.push(record(i));
        if records.len() as u64 >= batch.max(1) {
            flush(&mut records, &mut sent)?;
        }
    }
    flush(&mut records, &mut sent)?;
    Ok(Batches {
        object: object.to_owned(),
        calls,
        records: sent,
    })
}

/// Contact `i` of the data set of `seed` as the bulk load sends it: owned by one of `owners`
/// (user ids; [`data::owner_index`]), or by the caller when `owners` is empty, and at
/// `account` when it has one.
pub fn contact_record(seed: u64, i: u64, owners: &[String], account: Option<&str>) -> Json {
    let mut record = contact(seed, i).to_json();
    if let Some(map) = record.as_object_mut() {
        if !owners.is_empty() {
            let owner = &owners[data::owner_index(seed, i, owners.len())];
            map.insert("owner_id".into(), json!(owner));
        }
        if let Some(account) = account {
            map.insert("account_id".into(), json!(account));
        }
    }
    record
}

/// Loads records `0..records` through `POST /api/v1/records/contact/bulk`, `batch` per call,
/// `senders` calls in flight, each record owned by one of `owners` and at no account. Bodies
/// are generated before the clock starts, so the figure is the server's, not the
/// generator's. Bounded by the record count and by `limit`.
pub async fn bulk_load(
    api: &Api,
    seed: u64,
    records: u64,
    owners: &[String],
    batch: u64,
    senders: usize,
    limit: Duration,
) -> anyhow::Result<BulkOutcome> {
    let calls = batches("contact", 0..records, batch, |i| {
        contact_record(seed, i, owners, None)
    })?;
    send_bulk(api, calls, senders, limit).await
}

/// Sends `batches`, `senders` calls in flight, each checked to have created all its records.
/// Timed from the first call to the last answer; bounded by `limit`.
pub async fn send_bulk(
    api: &Api,
    batches: Batches,
    senders: usize,
    limit: Duration,
) -> anyhow::Result<BulkOutcome> {
    let Batches {
        object,
        calls,
        records,
    } = batches;
    let url = format!("{}/api/v1/records/{object}/bulk", api.base);
    let calls = Arc::new(calls);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders.max(1) {
        let (api, calls, next, url) = (api.clone(), calls.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut done: Vec<(usize, Vec<String>)> = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((from, count, body)) = calls.get(k) else {
                    return Ok::<_, anyhow::Error>(done);
                };
                let to = from + count;
                if start.elapsed() > limit {
                    bail!("the bulk load did not finish within {limit:?}");
                }
                let answer = api
                    .send(
                        api.http
                            .post(&url)
                            .header("content-type", "application/json")
                            .timeout(Duration::from_secs(600))
                            .body(body.clone()),
                    )
                    .await
                    .with_context(|| format!("bulk call for records {from}..{to} of {url}"))?;
                let created = answer.get("created").and_then(Json::as_u64).unwrap_or(0);
                if created != *count {
                    bail!(
                        "bulk call for records {from}..{to} of {url} created {created}: {}",
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
        batches: calls.len(),
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

/// The web UI's list page with the same filters as [`list_paths`]: a page of 50, sorted,
/// with its count, as a browser asks for it.
pub fn web_list_paths() -> Vec<String> {
    data::list_cities()
        .into_iter()
        .map(|city| {
            format!(
                "/o/contact?f0=city&o0=eq&v0={}&sort=-created_at",
                encode(city)
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

/// A signed-in browser: the session cookie (`relata_session=…`) and its CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// Signs in with a password (`POST /api/v1/auth/login`).
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Session> {
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let status = resp.status();
    let cookie = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.trim().starts_with("relata_session="))
        .map(|pair| pair.trim().to_owned());
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!(
            "login as {email}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    let answer: Json = serde_json::from_slice(&body)?;
    Ok(Session {
        cookie: cookie.with_context(|| format!("login as {email}: no session cookie"))?,
        csrf: answer
            .get("csrf_token")
            .and_then(Json::as_str)
            .with_context(|| format!("login as {email}: no csrf_token"))?
            .to_owned(),
    })
}

/// A new API token of the session's user (`POST /api/v1/me/tokens` with the cookie): how a
/// user gets a token of their own, so its requests see what that user sees.
pub async fn user_token(
    http: &reqwest::Client,
    base: &str,
    session: &Session,
    name: &str,
) -> anyhow::Result<String> {
    let resp = http
        .post(format!("{base}/api/v1/me/tokens"))
        .header(reqwest::header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&json!({ "name": name }))
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!(
            "token {name}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    let answer: Json = serde_json::from_slice(&body)?;
    Ok(answer
        .get("token")
        .and_then(Json::as_str)
        .with_context(|| format!("token {name}: no token in the answer"))?
        .to_owned())
}

/// One login of the login load: when it answered, how long it took, and its HTTP status (0
/// when no answer came).
type LoginSample = (Instant, Duration, u16);

fn succeeded(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Password logins kept in flight in the background: one worker per email, each signing in
/// again as soon as its previous login answered. Bounded: at most `per_worker` logins per
/// worker, no worker starts a login after `limit`, and each login times out after 30 s.
pub struct LoginLoad {
    stop: Arc<std::sync::atomic::AtomicBool>,
    done: Arc<AtomicUsize>,
    started: Instant,
    workers: Vec<tokio::task::JoinHandle<Vec<LoginSample>>>,
}

/// What the login load did within a measurement window.
pub struct LoginOutcome {
    /// Logins that answered within the window, and those of them that failed.
    pub logins: u64,
    pub failures: u64,
    /// Successful logins per second over the window.
    pub per_second: f64,
    /// Latency of the logins that answered within the window.
    pub latency_ms: crate::results::Latency,
    /// How the failed ones answered: HTTP status (0: no answer) → count.
    pub failure_statuses: std::collections::BTreeMap<u16, u64>,
    /// Logins over the whole load, warm-up and wind-down included.
    pub total: u64,
    pub total_seconds: f64,
}

impl LoginLoad {
    pub fn start(
        base: &str,
        emails: &[String],
        password: &str,
        per_worker: u64,
        limit: Duration,
    ) -> anyhow::Result<LoginLoad> {
        // Its own client: the login connections stay apart from the harness's other calls.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(emails.len())
            .build()?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let workers = emails
            .iter()
            .map(|email| {
                let (http, stop, done) = (http.clone(), stop.clone(), done.clone());
                let url = format!("{base}/api/v1/auth/login");
                let body = json!({"email": email, "password": password});
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while (samples.len() as u64) < per_worker
                        && !stop.load(Ordering::Relaxed)
                        && started.elapsed() < limit
                    {
                        let t = Instant::now();
                        let status = match http
                            .post(&url)
                            .json(&body)
                            .timeout(Duration::from_secs(30))
                            .send()
                            .await
                        {
                            Ok(resp) => {
                                let status = resp.status().as_u16();
                                // read the answer to the end: the connection is reused
                                if resp.bytes().await.is_ok() {
                                    status
                                } else {
                                    0
                                }
                            }
                            Err(_) => 0,
                        };
                        samples.push((Instant::now(), t.elapsed(), status));
                        done.fetch_add(1, Ordering::Relaxed);
                        if !succeeded(status) {
                            // no hot loop against a refusing server
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    samples
                })
            })
            .collect();
        Ok(LoginLoad {
            stop,
            done,
            started,
            workers,
        })
    }

    /// Waits until `n` logins have answered (the load is at its steady state), at most `limit`.
    pub async fn warm_up(&self, n: usize, limit: Duration) {
        let start = Instant::now();
        while self.done.load(Ordering::Relaxed) < n && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the workers (each finishes the login it has in flight) and counts the logins
    /// that answered between `from` and `to`.
    pub async fn finish(self, from: Instant, to: Instant) -> anyhow::Result<LoginOutcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut samples = Vec::new();
        for w in self.workers {
            samples.extend(w.await?);
        }
        let total_seconds = self.started.elapsed().as_secs_f64();
        let total = samples.len() as u64;
        let window: Vec<&LoginSample> = samples
            .iter()
            .filter(|(at, _, _)| *at >= from && *at <= to)
            .collect();
        let mut failure_statuses = std::collections::BTreeMap::new();
        for (_, _, status) in window.iter().filter(|(_, _, s)| !succeeded(*s)) {
            *failure_statuses.entry(*status).or_insert(0) += 1;
        }
        let failures = failure_statuses.values().sum::<u64>();
        let logins = window.len() as u64;
        let seconds = to.duration_since(from).as_secs_f64().max(1e-9);
        let mut ms: Vec<f64> = window
            .iter()
            .map(|(_, d, _)| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        Ok(LoginOutcome {
            logins,
            failures,
            per_second: (logins - failures) as f64 / seconds,
            latency_ms: crate::results::Latency {
                p50: percentile(&ms, 50.0),
                p95: percentile(&ms, 95.0),
                p99: percentile(&ms, 99.0),
            },
            failure_statuses,
            total,
            total_seconds,
        })
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Changes for `PATCH`: a new title and city, as a user editing a contact sends.
fn patch_body(rng: &mut data::Rng) -> String {
    const TITLES: [&str; 6] = [
        "销售经理",
        "采购总监",
        "IT Manager",
        "CFO",
        "工程师",
        "Buyer",
    ];
    let cities = data::list_cities();
    json!({"title": rng.pick(&TITLES), "city": rng.pick(&cities)}).to_string()
}

/// Whole requests for wrk's mixed mode (`METHOD<TAB>PATH[<TAB>BODY]`, see rotate.lua):
/// `reads`% get by id, `changes`% PATCH of a title and city, the rest creates, shuffled by
/// `seed`. Ids come from `ids`; creates are new contacts without an external id.
pub fn mixed_lines(
    ids: &[String],
    seed: u64,
    count: usize,
    reads: u64,
    changes: u64,
) -> Vec<String> {
    let mut rng = data::Rng::new(seed ^ 0x00BA_5EED);
    let mut created = 0u64;
    (0..count)
        .map(|_| {
            let roll = rng.below(100) as u64;
            let id = &ids[rng.below(ids.len().max(1)).min(ids.len().saturating_sub(1))];
            if roll < reads {
                format!("GET\t/api/v1/records/contact/{id}")
            } else if roll < reads + changes {
                format!(
                    "PATCH\t/api/v1/records/contact/{id}\t{}",
                    patch_body(&mut rng)
                )
            } else {
                created += 1;
                let mut record = contact(seed, 2_000_000_000 + created).to_json();
                if let Some(map) = record.as_object_mut() {
                    map.remove("external_id");
                }
                format!("POST\t/api/v1/records/contact\t{record}")
            }
        })
        .collect()
}
