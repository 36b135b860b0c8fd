//! API fuzzing: schemathesis (from PyPI, in a virtualenv `scripts/reliability.sh` makes) runs
//! over the OpenAPI document the server serves, as the administrator, with every phase
//! (examples, coverage, fuzzing, stateful), and checks that no answer is a 5xx and none breaks
//! the documented schema. Every request it sent is counted from its HAR report, by status.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value as Json, json};

use super::instance::{Context, add_check_fields, output_within};
use super::{PartReport, say};

pub async fn run(ctx: &Context<'_>, report: &mut PartReport) -> anyhow::Result<()> {
    let Some(st) = ctx.opts.schemathesis.clone() else {
        report.problem(
            "no schemathesis command given (--schemathesis; scripts/reliability.sh installs it)",
        );
        return Ok(());
    };
    // Absolute, as it runs in another directory.
    let st = std::fs::canonicalize(&st).with_context(|| format!("no {}", st.display()))?;
    let inst = ctx.fresh("fuzz")?;
    let server = inst.start(&ctx.http).await?;
    let api = inst.api(&server, &ctx.http);
    // Something to find: a few records, so that stateful links and ids lead somewhere.
    add_check_fields(&api).await?;
    for i in 0..20 {
        api.post(
            "/api/v1/records/contact",
            &json!({"name": format!("模糊 {i}"), "external_id": format!("f-{i}"), "seq": i}),
        )
        .await?;
    }
    // Absolute: schemathesis runs in the part's directory (its own `.schemathesis/` cache
    // stays there, out of the work tree).
    let dir = std::fs::canonicalize(&ctx.dir)?;
    let har = dir.join("fuzz.har");
    let junit = dir.join("fuzz.junit.xml");
    let out = dir.join("schemathesis.txt");
    let examples = ctx.opts.fuzz_examples.max(1);
    let mut cmd = Command::new(&st);
    cmd.arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.base()))
        .args(["--url", &server.base()])
        .args(["-H", &format!("Authorization: Bearer {}", inst.token)])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &ctx.opts.seed.to_string()])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .args(["--suppress-health-check", "all"])
        .args(["--report", "har,junit"])
        .arg("--report-har-path")
        .arg(&har)
        .arg("--report-junit-path")
        .arg(&junit)
        .arg("--no-color")
        .current_dir(&dir)
        .env("SCHEMATHESIS_TELEMETRY", "false");
    say(&format!(
        "   schemathesis, {examples} examples per operation, every phase"
    ));
    let output =
        tokio::task::spawn_blocking(move || output_within(cmd, Duration::from_secs(3_600)))
            .await?
            .with_context(|| format!("running {}", st.display()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    std::fs::write(&out, &text)?;
    server.stop(Duration::from_secs(30))?;

    let har_text = std::fs::read_to_string(&har).with_context(|| {
        format!(
            "schemathesis wrote no HAR report; its output is in {}",
            out.display()
        )
    })?;
    let har: Json = serde_json::from_str(&har_text)?;
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    let mut server_errors = Vec::new();
    for entry in har
        .pointer("/log/entries")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let status = entry
            .pointer("/response/status")
            .and_then(Json::as_u64)
            .unwrap_or(0) as u16;
        *by_status.entry(status).or_default() += 1;
        if status >= 500 || status == 0 {
            let method = entry
                .pointer("/request/method")
                .and_then(Json::as_str)
                .unwrap_or("?");
            let url = entry
                .pointer("/request/url")
                .and_then(Json::as_str)
                .unwrap_or("?");
            server_errors.push(format!("{method} {url} → {status}"));
        }
    }
    let requests: u64 = by_status.values().sum();
    let five_xx: u64 = by_status
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    // The summary schemathesis prints: "Test cases:" and, on the next line, e.g.
    // "1659 generated, 1659 passed".
    let cases = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Test cases:"))
        .nth(1)
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "no summary line".into());
    let generated = cases
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(0);
    say(&format!(
        "   {cases}; {requests} requests, by status {by_status:?}; {five_xx} answered 5xx; schemathesis exited {}",
        output.status
    ));
    for e in server_errors.iter().take(20) {
        report.problem(format!("server error: {e}"));
    }
    // Its exit status is not the verdict: it also fails on its own errors (a Python
    // "SystemError: AST constructor recursion depth mismatch" from hypothesis on CPython 3.11
    // was seen). Failed checks are the verdict, from the JUnit report (and, should its format
    // change, from the summary text too); its own errors are counted and shown.
    let junit_text = std::fs::read_to_string(&junit).unwrap_or_default();
    let junit_failures = junit_text.matches("<failure").count();
    let failed_checks = junit_failures > 0
        || text
            .lines()
            .any(|l| l.trim() == "Failures:" || (l.starts_with('=') && l.contains(" FAILURES ")));
    if junit_text.is_empty() {
        report.problem(format!(
            "schemathesis wrote no JUnit report; see {}",
            out.display()
        ));
    }
    if failed_checks {
        report.problem(format!(
            "schemathesis: checks failed; the full output is in {}:\n{}",
            out.display(),
            tail(&text, 60)
        ));
    }
    let tool_errors = text
        .lines()
        .skip_while(|l| l.trim() != "Errors:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect::<Vec<_>>();
    if !output.status.success() && !failed_checks && tool_errors.is_empty() {
        report.problem(format!(
            "schemathesis exited {} without a summary; see {}",
            output.status,
            out.display()
        ));
    }
    report.fact("fuzz_tool_errors", json!(tool_errors));
    // which operations they were on, and the exception: so far always schemathesis's own
    // (hypothesis describing a lambda on CPython 3.11: "SystemError: AST constructor
    // recursion depth mismatch"), never an answer of the server's
    let details = tool_error_details(&text);
    if !details.is_empty() {
        say(&format!(
            "   schemathesis's own errors: {}",
            details.join("; ")
        ));
    }
    report.fact("fuzz_tool_error_details", json!(details));
    if requests == 0 {
        report.problem("schemathesis sent no request");
    }
    // Were the fuzzer to revoke its own token, everything after would be a 401 and pass.
    let unauthorised = by_status.get(&401).copied().unwrap_or(0);
    if unauthorised * 10 > requests {
        report.problem(format!(
            "{unauthorised} of {requests} requests answered 401: the fuzzer lost its credentials"
        ));
    }
    report.fact("fuzz_junit_failures", junit_failures as u64);
    report.fact("fuzz_examples_per_operation", u64::from(examples));
    report.fact("fuzz_test_cases", generated);
    report.fact("fuzz_summary", cases);
    report.fact("fuzz_requests", requests);
    report.fact("fuzz_5xx", five_xx);
    report.fact(
        "fuzz_statuses",
        super::concurrency::status_counts(&by_status),
    );
    Ok(())
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Each entry of the ERRORS section schemathesis prints: the operation (its heading, e.g.
/// `____ POST /api/v1/x ____`), the kind of error, and the last exception line under it.
fn tool_error_details(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    let section = text
        .lines()
        .skip_while(|l| !(l.starts_with('=') && l.contains(" ERRORS ")))
        .skip(1);
    for line in section {
        let t = line.trim();
        if t.starts_with("Need more help") || (t.starts_with('=') && t.ends_with('=')) {
            break;
        }
        if t.len() > 6 && t.starts_with("___") && t.ends_with("___") {
            out.extend(current.take().map(describe));
            current = Some((
                t.trim_matches('_').trim().to_owned(),
                String::new(),
                String::new(),
            ));
            continue;
        }
        let Some((_, kind, exception)) = current.as_mut() else {
            continue;
        };
        let bare = t.trim_start_matches(['|', '+', '-', ' ']);
        if kind.is_empty() && !bare.is_empty() {
            bare.clone_into(kind);
        } else if bare
            .split_once(": ")
            .is_some_and(|(name, _)| name.ends_with("Error") && !name.contains(' '))
        {
            bare.clone_into(exception);
        }
    }
    out.extend(current.map(describe));
    out
}

fn describe((operation, kind, exception): (String, String, String)) -> String {
    if exception.is_empty() {
        format!("{operation}: {kind}")
    } else {
        format!("{operation}: {kind} ({exception})")
    }
}
