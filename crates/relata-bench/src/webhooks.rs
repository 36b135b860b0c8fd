//! Webhook fan-out (issue 8: 10,000 events delivered to a local receiver in ≤ 30 s): a receiver
//! on loopback, a webhook on product creations, products created through bulk calls; timed
//! from the first write until the receiver holds a delivery of every event.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::HeaderMap;
use serde_json::json;

use crate::load::Api;

/// Products per bulk call.
const PER_CALL: u64 = 500;

/// What the fan-out measured.
pub struct FanOut {
    pub events: u64,
    /// Until the last bulk call answered.
    pub write_seconds: f64,
    /// Until the receiver held every delivery.
    pub seconds: f64,
    /// Requests the receiver got, duplicates (a retried delivery) included.
    pub requests: u64,
}

impl FanOut {
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// What a receiver was sent: the delivery ids, the delivery ids per record, and how many
/// requests it answered (a retried delivery comes again with the same id).
#[derive(Default)]
pub struct Received {
    pub ids: HashSet<String>,
    pub by_record: HashMap<String, HashSet<String>>,
    pub requests: u64,
}

/// A receiver on loopback answering 200 to every delivery; its URL, and what it got. It
/// stops when the returned task is aborted.
pub async fn start_receiver()
-> anyhow::Result<(String, Arc<Mutex<Received>>, tokio::task::JoinHandle<()>)> {
    let got = Arc::new(Mutex::new(Received::default()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let id = headers
                    .get("x-relata-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let record = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|b| b["record_id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                if let Ok(mut got) = sink.lock() {
                    got.requests += 1;
                    got.by_record.entry(record).or_default().insert(id.clone());
                    got.ids.insert(id);
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, got, task))
}

/// Subscribes a receiver to product creations, creates `events` products, and waits (at most
/// `limit`) until each creation has been delivered. The webhook is deleted afterwards, also
/// when the run fails, so that later figures carry no delivery load.
pub async fn fan_out(api: &Api, events: u64, limit: Duration) -> anyhow::Result<FanOut> {
    let (url, got, receiver) = start_receiver().await?;
    let hook = api
        .post(
            "/api/v1/webhooks",
            &json!({"name": "bench fan-out", "url": url, "object": "product", "events": ["created"]}),
        )
        .await?;
    let hook_id = hook["id"]
        .as_str()
        .context("the webhook has no id")?
        .to_owned();
    let measured = measure(api, events, limit, &got).await;
    let deleted = api
        .send_json(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{hook_id}"),
            &json!({}),
        )
        .await;
    receiver.abort();
    let (write_seconds, seconds) = measured?;
    deleted?;
    let requests = got.lock().map(|g| g.requests).unwrap_or(0);
    Ok(FanOut {
        events,
        write_seconds,
        seconds,
        requests,
    })
}

/// Creates the products and waits for their deliveries: seconds until the writes were done,
/// and until the last delivery.
async fn measure(
    api: &Api,
    events: u64,
    limit: Duration,
    got: &Mutex<Received>,
) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut from = 0;
    while from < events {
        let to = (from + PER_CALL).min(events);
        let records: Vec<_> = (from..to)
            .map(|i| json!({"name": format!("Webhook 基准产品 {i}"), "sku": format!("WH-{i:07}")}))
            .collect();
        let r = api
            .post(
                "/api/v1/records/product/bulk",
                &json!({"key": "sku", "records": records}),
            )
            .await?;
        if r["created"].as_u64() != Some(to - from) {
            bail!("bulk call for products {from}..{to}: {r}");
        }
        from = to;
    }
    let write_seconds = started.elapsed().as_secs_f64();
    loop {
        let delivered = got.lock().map(|g| g.ids.len() as u64).unwrap_or(0);
        if delivered >= events {
            return Ok((write_seconds, started.elapsed().as_secs_f64()));
        }
        if started.elapsed() > limit {
            bail!("{delivered} of {events} webhook events delivered within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
