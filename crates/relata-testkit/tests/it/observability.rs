//! What operators see: `/metrics` (public, OpenMetrics text) counts requests by route template,
//! method and status, times them in histograms and shows the database pool; every response
//! carries an `x-request-id` (a caller's own is kept), which is also in problem bodies and on
//! the log lines of the request; `/docs` is a browsable page; `/healthz` answers without a token.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::id_of;
use relata_testkit::{Resp, TestApp};
use reqwest::Method;
use serde_json::json;
use tracing_subscriber::util::SubscriberInitExt;

/// One sample of the exposition: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition, panicking on a line that is not a comment or a sample.
fn parse_samples(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name.to_owned(), parse_labels(body, line))
            }
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// `a="x",b="y"`, with `\"` and `\\` escapes inside values.
fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    if let Some((_, c)) = chars.next() {
                        value.push(c);
                    }
                }
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    labels
}

/// The value of the sample named `name` whose labels include `labels`; `None` when absent.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name}{labels:?} is ambiguous: {found:?}");
    found.first().copied()
}

fn requests(samples: &[Sample], method: &str, route: &str, status: &str) -> Option<f64> {
    value(
        samples,
        "relata_http_requests_total",
        &[("method", method), ("route", route), ("status", status)],
    )
}

async fn scrape(app: &TestApp) -> (Resp, Vec<Sample>) {
    let r = app.anonymous().get("/metrics").await;
    r.assert_status(200);
    let samples = parse_samples(&r.text);
    (r, samples)
}

/// A request id as the server makes them: a random per-process prefix and a counter, in hex.
fn is_server_request_id(id: &str) -> bool {
    let Some((prefix, counter)) = id.split_once('-') else {
        return false;
    };
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    prefix.len() == 8 && hex(prefix) && hex(counter) && counter.len() <= 16
}

#[tokio::test]
async fn metrics_are_public_openmetrics_text() {
    let app = TestApp::spawn().await;
    app.create("account", &json!({"name": "Secret Co"})).await;
    let (r, samples) = scrape(&app).await;
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    assert!(r.text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    for (family, kind) in [
        ("relata_http_requests", "counter"),
        ("relata_http_request_duration_seconds", "histogram"),
        ("relata_db_pool_connections", "gauge"),
    ] {
        assert!(
            r.text.contains(&format!("# TYPE {family} {kind}\n")),
            "{family} is a {kind}: {}",
            r.text
        );
        assert!(r.text.contains(&format!("# HELP {family} ")), "{family}");
    }
    assert!(!samples.is_empty());
    assert!(!r.text.contains("Secret Co"), "metrics carry no data");
    // the token changes nothing: the same endpoint, no 401
    app.get("/metrics").await.assert_status(200);
}

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_method_and_status() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["Acme", "Globex"] {
        let r = app
            .post("/api/v1/records/account", &json!({"name": name}))
            .await;
        r.assert_status(201);
        ids.push(id_of(&r.body));
    }
    for _ in 0..3 {
        app.get(&format!("/api/v1/records/account/{}", ids[0]))
            .await
            .assert_status(200);
    }
    let missing = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/records/contact/{missing}"))
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/records/account").await.assert_status(200);
    app.anonymous()
        .get("/api/v1/records/account")
        .await
        .assert_problem(401, "unauthenticated");
    app.post("/api/v1/records/account", &json!({"name": 42}))
        .await
        .assert_problem(422, "validation_failed");
    let unknown_route = format!("/api/v1/nothing/here/{missing}");
    app.get(&unknown_route)
        .await
        .assert_problem(404, "route_not_found");
    app.send(Method::PUT, "/api/v1/records/account", None, &[])
        .await
        .assert_problem(405, "method_not_allowed");
    // methods a client makes up are counted together, or each would start a new series
    for made_up in ["BREW", "SCAN1", "SCAN2"] {
        let m = Method::from_bytes(made_up.as_bytes()).expect("method");
        app.send(m, "/api/v1/records/account", None, &[])
            .await
            .assert_problem(405, "method_not_allowed");
    }
    app.anonymous().get("/healthz").await.assert_status(200);

    let (first, samples) = scrape(&app).await;
    let records = "/api/v1/records/{object}";
    let record = "/api/v1/records/{object}/{id}";
    for (method, route, status, n) in [
        ("POST", records, "201", 2.0),
        ("POST", records, "422", 1.0),
        ("GET", records, "200", 1.0),
        ("GET", records, "401", 1.0),
        ("GET", record, "200", 3.0),
        ("GET", record, "404", 1.0),
        ("PUT", records, "405", 1.0),
        ("other", records, "405", 3.0),
        ("GET", "/healthz", "200", 1.0),
    ] {
        assert_eq!(
            requests(&samples, method, route, status),
            Some(n),
            "{method} {route} {status}: {}",
            first.text
        );
    }
    // a path that matches no route is counted under one label, whatever the path was
    assert_eq!(
        requests(&samples, "GET", "unmatched", "404"),
        Some(1.0),
        "{}",
        first.text
    );
    // concrete paths never become labels (one series per id would be unbounded)
    for concrete in [
        ids[0].as_str(),
        ids[1].as_str(),
        &missing.to_string(),
        "account",
        "BREW",
        "SCAN",
    ] {
        assert!(
            !first.text.contains(concrete),
            "{concrete} leaked into a label: {}",
            first.text
        );
    }
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "relata_http_requests_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 15.0, "every request counted once: {}", first.text);

    // latency: one histogram per route, its count the requests to that route
    for (route, n) in [(records, 9.0), (record, 4.0), ("/healthz", 1.0)] {
        let series = |suffix: &str| format!("relata_http_request_duration_seconds_{suffix}");
        let count = value(&samples, &series("count"), &[("route", route)]);
        assert_eq!(count, Some(n), "{route}: {}", first.text);
        let sum = value(&samples, &series("sum"), &[("route", route)]).expect("sum");
        assert!(sum > 0.0, "{route} took some time");
        let mut buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| {
                s.name == series("bucket")
                    && s.labels.get("route").map(String::as_str) == Some(route)
            })
            .map(|s| {
                let le = s.labels.get("le").expect("le");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le is a number")
                };
                (le, s.value)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() >= 10, "{route} has {} buckets", buckets.len());
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative");
        assert_eq!(buckets.last(), Some(&(f64::INFINITY, n)), "{route} +Inf");
    }

    // the scrape itself is a request too, counted once it has been answered
    assert_eq!(requests(&samples, "GET", "/metrics", "200"), None);
    let (_, again) = scrape(&app).await;
    assert_eq!(requests(&again, "GET", "/metrics", "200"), Some(1.0));
    assert_eq!(requests(&again, "GET", record, "200"), Some(3.0));
}

#[tokio::test]
async fn the_database_pool_is_shown() {
    let app = TestApp::spawn().await;
    // some reads in parallel, so the pool has opened connections
    let reads: Vec<_> = (0..6)
        .map(|_| {
            let client = app.client.clone();
            tokio::spawn(async move { client.get("/api/v1/records/account").await })
        })
        .collect();
    for r in reads {
        r.await.expect("read").assert_status(200);
    }
    let (r, samples) = scrape(&app).await;
    let open = value(&samples, "relata_db_pool_connections", &[("state", "open")])
        .unwrap_or_else(|| panic!("no open gauge: {}", r.text));
    let idle = value(&samples, "relata_db_pool_connections", &[("state", "idle")])
        .unwrap_or_else(|| panic!("no idle gauge: {}", r.text));
    // the test kit opens pools of at most 4 connections
    assert!((1.0..=4.0).contains(&open), "open {open}");
    assert!((0.0..=open).contains(&idle), "idle {idle} of {open}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let account = app.create("account", &json!({"name": "Acme"})).await;
    let path = format!("/api/v1/records/account/{}", id_of(&account));
    let anonymous = app.anonymous();
    let responses: Vec<(&str, Resp)> = vec![
        ("healthz", anonymous.get("/healthz").await),
        ("docs", anonymous.get("/docs").await),
        ("metrics", anonymous.get("/metrics").await),
        ("openapi", app.get("/api/v1/openapi.json").await),
        ("get", app.get(&path).await),
        (
            "create",
            app.post("/api/v1/records/account", &json!({"name": "Globex"}))
                .await,
        ),
        (
            "invalid",
            app.post("/api/v1/records/account", &json!({"name": 1}))
                .await,
        ),
        ("unauthenticated", anonymous.get(&path).await),
        ("no route", anonymous.get("/nowhere").await),
        (
            "wrong method",
            app.send(Method::PUT, &path, None, &[]).await,
        ),
        (
            "bad json",
            app.send_raw(
                Method::POST,
                "/api/v1/records/account",
                "application/json",
                b"{".to_vec(),
            )
            .await,
        ),
        ("delete", app.delete(&path).await),
    ];
    let mut seen = HashSet::new();
    for (what, r) in &responses {
        let id = r
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{what} ({}) has no x-request-id", r.status));
        assert!(is_server_request_id(&id), "{what}: {id:?}");
        assert!(seen.insert(id.clone()), "{what}: {id} was used before");
        if r.status >= 400 {
            assert_eq!(
                r.header("content-type").as_deref(),
                Some("application/problem+json"),
                "{what}"
            );
            assert_eq!(r.body["request_id"], id.as_str(), "{what}: {}", r.text);
        }
    }
    assert_eq!(responses.last().map(|(_, r)| r.status), Some(204));
}

#[tokio::test]
async fn a_callers_request_id_is_kept() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let own = "checkout-7f3a-0001";
    let with_id = [("x-request-id", own)];
    let health = anonymous
        .send(Method::GET, "/healthz", None, &with_id)
        .await;
    health.assert_status(200);
    let invalid = app
        .send(
            Method::POST,
            "/api/v1/records/account",
            Some(&json!({"name": 1})),
            &with_id,
        )
        .await;
    invalid.assert_problem(422, "validation_failed");
    let unauthenticated = anonymous
        .send(Method::GET, "/api/v1/records/account", None, &with_id)
        .await;
    unauthenticated.assert_problem(401, "unauthenticated");
    for r in [&health, &invalid, &unauthenticated] {
        assert_eq!(r.header("x-request-id").as_deref(), Some(own), "{}", r.text);
    }
    for r in [&invalid, &unauthenticated] {
        assert_eq!(r.body["request_id"], own, "{}", r.text);
    }
}

#[tokio::test]
async fn docs_is_a_page_of_every_documented_operation() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/docs").await;
    r.assert_status(200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(r.text.starts_with("<!doctype html>"), "{}", r.text);
    assert!(r.text.ends_with("</html>"));
    assert!(r.text.contains("<title>Relata API</title>"));
    assert!(r.text.contains("OpenAPI 3.1"));
    assert!(r.text.contains("href=\"/api/v1/openapi.json\""));
    // a self-contained page: nothing fetched from elsewhere
    assert!(!r.text.contains("<script"), "no script");
    assert!(!r.text.contains("http://") && !r.text.contains("https://cdn"));

    let doc = app.get("/api/v1/openapi.json").await.body;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        assert!(
            r.text.contains(&format!("<code>{path}</code>")),
            "{path} is not on the page"
        );
        for method in item.as_object().expect("path item").keys() {
            operations += 1;
            assert!(
                r.text.contains(&format!(
                    "<span class=\"m {method}\">{method}</span> <code>{path}</code>"
                )),
                "{method} {path}"
            );
        }
    }
    assert_eq!(r.text.matches("<div class=\"op\">").count(), operations);
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/healthz").await;
    r.assert_status(200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.body, json!({"status": "ok"}));
    // a token (even a wrong one) does not matter
    let r = relata_testkit::Client::new(&app.base, Some("garbage".into()))
        .get("/healthz")
        .await;
    r.assert_status(200);
}

/// Everything logged in this test process, for the log test. Installed once: tracing allows
/// one global subscriber, and nextest runs each test in its own process anyway.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        // the binary's text format (crates/relata/src/logging.rs) with request-level detail
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,tower_http=debug,relata_api=debug",
            ))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        let _ = subscriber.try_init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines_with(logs: &Mutex<Vec<u8>>, needle: &str) -> Vec<String> {
    let bytes = logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn log_lines_of_a_request_carry_its_id() {
    let logs = captured_logs();
    let app = TestApp::spawn().await;

    // a caller's id, and one the server made
    let own = format!("trace-{}", uuid::Uuid::new_v4().simple());
    app.send(
        Method::GET,
        "/api/v1/records/account",
        None,
        &[("x-request-id", own.as_str())],
    )
    .await
    .assert_status(200);
    let made = app
        .post("/api/v1/records/account", &json!({"name": 1}))
        .await;
    made.assert_problem(422, "validation_failed");
    let made_id = made.header("x-request-id").expect("x-request-id");

    for (id, path) in [
        (own.as_str(), "/api/v1/records/account"),
        (made_id.as_str(), "/api/v1/records/account"),
    ] {
        let lines = log_lines_with(&logs, id);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("started processing request")),
            "{id}: {lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("finished processing request")),
            "{id}: {lines:#?}"
        );
        for line in &lines {
            assert!(line.contains(&format!("request_id={id}")), "{line}");
            assert!(line.contains(path), "{line}");
        }
    }

    // An operator's line about a failed request names the request the client was told about.
    // Only SQLite can lose its database on demand here: closing the store stops its writer.
    if app.backend() == "sqlite" {
        app.core.store.close();
        let r = app
            .post("/api/v1/records/account", &json!({"name": "Too late"}))
            .await;
        r.assert_problem(503, "unavailable");
        let id = r.header("x-request-id").expect("x-request-id");
        assert_eq!(r.body["request_id"], id.as_str());
        let lines = log_lines_with(&logs, &format!("request_id={id}"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("WARN") && l.contains("service unavailable")),
            "{lines:#?}"
        );
        assert!(!r.text.contains("writer"), "the cause stays in the log");
    }
}
