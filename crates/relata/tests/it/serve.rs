//! `relata serve`: `--demo` on an empty database loads the demo data and prints a working
//! admin token; SIGTERM and Ctrl-C stop it gracefully — no new connections, the request in
//! flight still gets its answer, then a clean exit.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{PATIENCE, Server, http, read_response, request_head, token_from};
use common::{lines, relata, sqlite_url};

#[test]
fn demo_mode_gives_a_newcomer_a_working_system_and_sigterm_stops_it_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = sqlite_url(d, "relata.db");
    let server = Server::start(d, &url, &["--demo", "--demo-scale", "small"]);
    let printed = server.wait_for_stdout("curl");
    let token = token_from(&printed).unwrap_or_else(|| panic!("no token in {printed:?}"));
    assert!(
        printed
            .iter()
            .any(|l| l.contains("curl") && l.contains(&server.addr)),
        "a one-line hint with the address: {printed:?}"
    );

    assert_eq!(http(&server.addr, "GET", "/healthz", None, "").0, 200);
    let (status, body) = http(
        &server.addr,
        "GET",
        "/api/v1/records/account?limit=5&count=true",
        Some(&token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["total"], 40, "{body}");

    // The demo's workflow rules run on the server's own workers: a meeting marked done
    // gets a follow-up task.
    let (status, body) = http(
        &server.addr,
        "GET",
        "/api/v1/workflow_rules",
        Some(&token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let rules: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rules["data"].as_array().unwrap().len(), 5, "{body}");
    let meeting = r#"{"subject":"客户会议 with 华远","status":"completed"}"#;
    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/records/task",
        Some(&token),
        meeting,
    );
    assert_eq!(status, 201, "{body}");
    let start = Instant::now();
    loop {
        let (_, body) = http(
            &server.addr,
            "GET",
            "/api/v1/records/task?filter=subject%20contains%20%27Follow%20up%27",
            Some(&token),
            "",
        );
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        if page["data"].as_array().is_some_and(|d| !d.is_empty()) {
            assert_eq!(page["data"][0]["subject"], "Follow up: 客户会议 with 华远");
            break;
        }
        assert!(start.elapsed() < PATIENCE, "no follow-up task: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A request in flight when SIGTERM arrives: headers and half the body sent.
    let record = r#"{"name":"停机前提交的客户 Ltd","industry":"technology"}"#;
    let (first, rest) = record.as_bytes().split_at(10);
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(
        request_head(
            "POST",
            "/api/v1/records/account",
            Some(&token),
            record.len(),
        )
        .as_bytes(),
    )
    .unwrap();
    slow.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    server.signal("TERM");
    server.wait_for_log("shutting down");
    // No new connections once shutting down.
    let start = Instant::now();
    while TcpStream::connect(&server.addr).is_ok() {
        assert!(start.elapsed() < PATIENCE, "still accepting connections");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The request in flight still completes.
    slow.write_all(rest).unwrap();
    let (status, body) = read_response(&mut slow);
    assert_eq!(status, 201, "{body}");

    let (ok, log) = server.wait();
    assert!(ok, "exit status after SIGTERM:\n{log}");
    assert!(log.contains("stopped"), "{log}");
    let accounts = lines(&common::export(d, &url, "account"));
    assert_eq!(accounts.len(), 41);

    // Started again with --demo on a database with data: no reload, no new token.
    let again = Server::start(d, &url, &["--demo", "--demo-scale", "small"]);
    assert!(
        token_from(&again.stdout()).is_none(),
        "{:?}",
        again.stdout()
    );
    again.signal("INT");
    let (ok, log) = again.wait();
    assert!(ok, "exit status after Ctrl-C:\n{log}");
    assert_eq!(lines(&common::export(d, &url, "account")).len(), 41);
}

#[test]
fn serve_fails_clearly_when_the_address_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = relata(d)
        .args([
            "--database-url",
            &sqlite_url(d, "relata.db"),
            "serve",
            "--listen",
            &addr,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

/// Passwords, token secrets, session secrets and password hashes never reach the log, even at
/// the most verbose level: the test drives setup, logins (right and wrong), token creation and
/// use, and a password reset, then reads every line the server wrote.
#[test]
fn secrets_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = sqlite_url(d, "relata.db");
    let server = Server::start(d, &url, &["--log", "trace,hyper=info,h2=info"]);
    let a = server.addr.clone();
    let password = "correct horse battery staple";
    let wrong = "wrong horse battery staple";

    // setup first: it closes once a token exists
    let (status, _) = http(
        &a,
        "POST",
        "/api/v1/setup",
        None,
        &format!(r#"{{"name":"Li Lei","email":"li.lei@example.com","password":"{password}"}}"#),
    );
    assert_eq!(status, 201);
    let (status, _) = http(
        &a,
        "POST",
        "/api/v1/auth/login",
        None,
        &format!(r#"{{"email":"li.lei@example.com","password":"{wrong}"}}"#),
    );
    assert_eq!(status, 403);
    let mut stream = TcpStream::connect(&a).unwrap();
    let body = format!(r#"{{"email":"li.lei@example.com","password":"{password}"}}"#);
    stream
        .write_all(request_head("POST", "/api/v1/auth/login", None, body.len()).as_bytes())
        .unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let session = raw
        .split("relata_session=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let admin_token = common::stdout(&common::run_ok(relata(d).args([
        "--database-url",
        &url,
        "token",
        "create",
    ])))
    .trim()
    .to_owned();
    let (status, created) = http(
        &a,
        "POST",
        "/api/v1/me/tokens",
        Some(&admin_token),
        r#"{"name":"ci"}"#,
    );
    assert_eq!(status, 201, "{created}");
    let token: String = serde_json::from_str::<serde_json::Value>(&created).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = http(
        &a,
        "GET",
        "/api/v1/records/account?limit=1",
        Some(&token),
        "",
    );
    assert_eq!(status, 200);
    let (status, _) = http(
        &a,
        "GET",
        "/api/v1/me",
        Some("rlt_not_a_real_token_but_secret_looking"),
        "",
    );
    assert_eq!(status, 401);
    let (status, _) = http(
        &a,
        "POST",
        "/api/v1/auth/password_reset",
        None,
        r#"{"email":"li.lei@example.com"}"#,
    );
    assert_eq!(status, 202);

    server.signal("TERM");
    let (ok, log) = server.wait();
    assert!(ok, "{log}");
    assert!(
        log.lines().count() > 10,
        "the log is too quiet to prove anything:\n{log}"
    );
    for secret in [
        password,
        wrong,
        admin_token.as_str(),
        token.as_str(),
        session.as_str(),
        "rlt_not_a_real_token_but_secret_looking",
        "$argon2",
    ] {
        assert!(
            !log.contains(secret),
            "the log contains a secret ({secret}):\n{log}"
        );
    }
}
