//! A stream of single writes whose every outcome is logged: each writer creates a contact and
//! then changes it once (`PATCH` with `If-Match`), over and over, until told to stop or until
//! the server stops answering. The log says, per write, whether it was acknowledged, so that
//! after a crash (or in a backup) every record can be checked against what the client was told.
//!
//! Record `k` of writer `w` has the external id `w{w}-{k}`; version 1 carries `seq` 0 and
//! payload `w{w}-{k}/v1`, version 2 `seq` 1 and payload `w{w}-{k}/v2`. A record found in any
//! other state is half-written or phantom.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value as Json, json};

use super::PartReport;
use super::instance::payload;
use crate::load::{Api, encode};

pub const PAYLOAD_BYTES: usize = 3_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Patch,
}

/// One write and what the client knows of it.
#[derive(Debug, Clone)]
pub struct Write {
    pub k: u64,
    pub step: Step,
    pub sent: Instant,
    /// When the server acknowledged it; `None`: no answer came (the server died).
    pub acked: Option<Instant>,
}

/// Everything one writer did.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub writes: Vec<Write>,
    /// Server ids of the records whose create was acknowledged, by `k`.
    pub ids: HashMap<u64, String>,
    /// Answers that were errors (not a dead server): each one is a problem.
    pub refused: Vec<String>,
}

pub fn external_id(writer: usize, k: u64) -> String {
    format!("w{writer}-{k}")
}

pub fn body_of(writer: usize, k: u64, version: u64) -> Json {
    let ext = external_id(writer, k);
    json!({
        "name": format!("可靠性 {ext}"),
        "external_id": ext,
        "seq": version - 1,
        "payload": payload(&format!("{ext}/v{version}"), PAYLOAD_BYTES),
    })
}

/// Writers running in the background.
pub struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Log>>,
}

impl Writers {
    /// Starts `count` writers; writer `w` continues from record `next_k[w]`.
    pub fn start(api: &Api, next_k: &[u64]) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = next_k
            .iter()
            .enumerate()
            .map(|(w, &k0)| {
                let (api, stop) = (api.clone(), stop.clone());
                tokio::spawn(async move { write_loop(api, w, k0, stop).await })
            })
            .collect();
        Writers { stop, tasks }
    }

    /// Asks the writers to stop after their current write and collects their logs.
    pub async fn finish(self) -> anyhow::Result<Vec<Log>> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for t in self.tasks {
            logs.push(t.await?);
        }
        Ok(logs)
    }
}

pub enum Outcome {
    Acked(Json),
    /// The server answered with an error.
    Refused(String),
    /// No answer: the connection failed or was cut.
    Lost,
}

pub async fn send(req: reqwest::RequestBuilder) -> Outcome {
    let resp = match req.timeout(Duration::from_secs(60)).send().await {
        Ok(r) => r,
        Err(_) => return Outcome::Lost,
    };
    let status = resp.status();
    let Ok(bytes) = resp.bytes().await else {
        return Outcome::Lost;
    };
    if !status.is_success() {
        return Outcome::Refused(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    match serde_json::from_slice(&bytes) {
        Ok(json) => Outcome::Acked(json),
        Err(e) => Outcome::Refused(format!("HTTP {status} with a body that is not JSON: {e}")),
    }
}

async fn write_loop(api: Api, w: usize, k0: u64, stop: Arc<AtomicBool>) -> Log {
    let mut log = Log::default();
    let mut k = k0;
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let create = api
            .http
            .post(format!("{}/api/v1/records/contact", api.base))
            .bearer_auth(&api.token)
            .json(&body_of(w, k, 1));
        let outcome = send(create).await;
        let id = match &outcome {
            Outcome::Acked(record) => record.get("id").and_then(Json::as_str).map(str::to_owned),
            _ => None,
        };
        let acked = matches!(outcome, Outcome::Acked(_)).then(Instant::now);
        log.writes.push(Write {
            k,
            step: Step::Create,
            sent,
            acked,
        });
        match (outcome, id) {
            (Outcome::Acked(_), Some(id)) => {
                log.ids.insert(k, id.clone());
                let sent = Instant::now();
                let mut patch = body_of(w, k, 2);
                if let Some(map) = patch.as_object_mut() {
                    map.remove("name");
                    map.remove("external_id");
                }
                let req = api
                    .http
                    .patch(format!("{}/api/v1/records/contact/{id}", api.base))
                    .bearer_auth(&api.token)
                    .header("if-match", "\"1\"")
                    .json(&patch);
                let outcome = send(req).await;
                log.writes.push(Write {
                    k,
                    step: Step::Patch,
                    sent,
                    acked: matches!(outcome, Outcome::Acked(_)).then(Instant::now),
                });
                match outcome {
                    Outcome::Acked(_) => {}
                    Outcome::Refused(e) => {
                        log.refused
                            .push(format!("PATCH {}: {e}", external_id(w, k)));
                        return log;
                    }
                    Outcome::Lost => return log,
                }
            }
            (Outcome::Acked(answer), None) => {
                log.refused.push(format!(
                    "create {}: answer without id: {answer}",
                    external_id(w, k)
                ));
                return log;
            }
            (Outcome::Refused(e), _) => {
                log.refused
                    .push(format!("create {}: {e}", external_id(w, k)));
                return log;
            }
            (Outcome::Lost, _) => return log,
        }
        k += 1;
    }
    log
}

/// A contact as found in the database: the fields the checks read.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub version: i64,
    pub seq: Option<i64>,
    pub payload: Option<String>,
}

impl Found {
    pub fn from_json(record: &Json) -> Option<(String, Found)> {
        let ext = record.get("external_id")?.as_str()?.to_owned();
        Some((
            ext,
            Found {
                id: record.get("id")?.as_str()?.to_owned(),
                version: record.get("version")?.as_i64()?,
                seq: record.get("seq").and_then(Json::as_i64),
                payload: record
                    .get("payload")
                    .and_then(Json::as_str)
                    .map(str::to_owned),
            },
        ))
    }

    /// Whether the record is exactly version `version` of writer `w`'s record `k`.
    pub fn is_version(&self, w: usize, k: u64, version: u64) -> bool {
        let expected = body_of(w, k, version);
        self.version == version as i64
            && self.seq == Some(version as i64 - 1)
            && self.payload.as_deref() == expected.get("payload").and_then(Json::as_str)
    }
}

/// Every live contact, by external id, paged through the list API (the server's view, with
/// its permissions and its JSON: what a client would read back). Duplicated external ids are
/// problems.
pub async fn list_all(
    api: &Api,
    filter: Option<&str>,
    report: &mut PartReport,
) -> anyhow::Result<HashMap<String, Found>> {
    let mut found = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/records/contact?limit=500&sort=id".to_owned();
        if let Some(f) = filter {
            path.push_str(&format!("&filter={}", encode(f)));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let page = api.get(&path).await.context("listing contacts")?;
        for record in page
            .get("data")
            .and_then(Json::as_array)
            .context("a list page without data")?
        {
            let Some((ext, f)) = Found::from_json(record) else {
                report.problem(format!("a contact without the checked fields: {record}"));
                continue;
            };
            if let Some(other) = found.insert(ext.clone(), f) {
                report.problem(format!(
                    "external id {ext} is on two records ({} and another): the unique field did not hold",
                    other.id
                ));
            }
        }
        match page.get("next_cursor").and_then(Json::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(found),
        }
    }
}

/// What checking writers' logs against the database found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub acked: u64,
    pub acked_found: u64,
    /// Writes sent without an answer (the server died under them).
    pub unanswered: u64,
    /// …of which the database holds the result.
    pub unanswered_applied: u64,
}

/// Checks every writer's records against its log: an acknowledged create or change is there,
/// every record is exactly one of its two versions, and no record exists that no writer sent.
/// Records of writers not in `logs` (and contacts without a `w…` external id) are ignored.
pub fn check(logs: &[Log], found: &HashMap<String, Found>, report: &mut PartReport) -> Tally {
    let mut tally = Tally::default();
    let mut known = std::collections::HashSet::new();
    for (w, log) in logs.iter().enumerate() {
        // Per record: (create acked, patch sent, patch acked).
        let mut state: HashMap<u64, (Option<bool>, Option<bool>)> = HashMap::new();
        for write in &log.writes {
            let acked = write.acked.is_some();
            if acked {
                tally.acked += 1;
            } else {
                tally.unanswered += 1;
            }
            let entry = state.entry(write.k).or_default();
            match write.step {
                Step::Create => entry.0 = Some(acked),
                Step::Patch => entry.1 = Some(acked),
            }
        }
        for (&k, &(create, patch)) in &state {
            let ext = external_id(w, k);
            known.insert(ext.clone());
            let record = found.get(&ext);
            let create_acked = create == Some(true);
            match record {
                None if create_acked => {
                    report.problem(format!(
                        "{ext}: its create was acknowledged, the record is gone"
                    ));
                }
                None => {}
                Some(r) => {
                    if create_acked {
                        tally.acked_found += 1;
                        if log.ids.get(&k) != Some(&r.id) {
                            report.problem(format!(
                                "{ext}: found with id {}, the create answered {:?}",
                                r.id,
                                log.ids.get(&k)
                            ));
                        }
                    } else {
                        tally.unanswered_applied += 1;
                    }
                    let v1 = r.is_version(w, k, 1);
                    let v2 = r.is_version(w, k, 2);
                    match patch {
                        Some(true) if v2 => tally.acked_found += 1,
                        Some(true) => report.problem(format!(
                            "{ext}: its change was acknowledged, the record is at version {} seq {:?}{}",
                            r.version,
                            r.seq,
                            if v1 { " (the change is lost)" } else { " (not a whole version)" }
                        )),
                        Some(false) if v2 => tally.unanswered_applied += 1,
                        Some(false) if v1 => {}
                        None if v1 => {}
                        _ => report.problem(format!(
                            "{ext}: not a whole version of what was sent (version {}, seq {:?}, payload of {} bytes)",
                            r.version,
                            r.seq,
                            r.payload.as_ref().map_or(0, String::len)
                        )),
                    }
                }
            }
        }
    }
    for (ext, r) in found {
        let ours = ext
            .strip_prefix('w')
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(w, _)| w.parse::<usize>().ok())
            .is_some_and(|w| w < logs.len());
        if ours && !known.contains(ext) {
            report.problem(format!("{ext} (id {}): a record no writer sent", r.id));
        }
    }
    tally
}

/// Every error answer the writers of one round got: each is a problem (a write the server
/// refused, not one it never answered).
pub fn report_refused(logs: &[Log], report: &mut PartReport) {
    for (w, log) in logs.iter().enumerate() {
        for refused in &log.refused {
            report.problem(format!("writer {w}: {refused}"));
        }
    }
}

/// Where each writer goes on from: one past the highest record it sent.
pub fn next_k(logs: &[Log]) -> Vec<u64> {
    logs.iter()
        .map(|log| log.writes.iter().map(|w| w.k + 1).max().unwrap_or(0))
        .collect()
}

/// Merges the logs of a later round into the logs so far, writer by writer.
pub fn merge(into: &mut Vec<Log>, later: Vec<Log>) {
    if into.len() < later.len() {
        into.resize_with(later.len(), Log::default);
    }
    for (w, log) in later.into_iter().enumerate() {
        into[w].writes.extend(log.writes);
        into[w].ids.extend(log.ids);
        into[w].refused.extend(log.refused);
    }
}
