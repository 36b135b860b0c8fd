//! Configuration: the printed defaults parse back into the defaults, and the layers stack in
//! the documented order — defaults → relata.toml → RELATA_* environment → flags.

use crate::common;

use common::{relata, run_ok, stdout};
use toml::Table;

fn parse(text: &str) -> Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn printed_defaults_parse_back_and_match_the_effective_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = stdout(&run_ok(relata(dir.path()).args(["config", "--default"])));
    let table = parse(&defaults);
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(
        table["database_url"].as_str(),
        Some("sqlite://relata-data/relata.db")
    );
    assert_eq!(table["log"].as_str(), Some("info"));
    assert_eq!(table["log_format"].as_str(), Some("text"));
    assert_eq!(table["default_currency"].as_str(), Some("CNY"));
    for key in [
        "pool_size",
        "sqlite_synchronous",
        "sqlite_cache_mb",
        "max_body_bytes",
        "bulk_limit",
        "max_page_size",
        "shutdown_grace_secs",
    ] {
        assert!(table.contains_key(key), "{key} missing from:\n{defaults}");
    }

    // With no file, environment or flags, the effective configuration is the defaults.
    let effective = stdout(&run_ok(relata(dir.path()).arg("config")));
    assert_eq!(effective, defaults);

    // Written back as a file, the defaults change nothing.
    std::fs::write(dir.path().join("relata.toml"), &defaults).unwrap();
    let from_file = stdout(&run_ok(relata(dir.path()).arg("config")));
    assert_eq!(from_file, defaults);
}

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("relata.toml"),
        "pool_size = 3\nsqlite_cache_mb = 16\ndatabase_url = \"sqlite://from-file.db\"\nlog = \"warn\"\n",
    )
    .unwrap();

    // ./relata.toml is read when present.
    let t = parse(&stdout(&run_ok(relata(dir.path()).arg("config"))));
    assert_eq!(t["pool_size"].as_integer(), Some(3));
    assert_eq!(t["database_url"].as_str(), Some("sqlite://from-file.db"));

    // The environment beats the file; untouched keys keep the file's value.
    let t = parse(&stdout(&run_ok(
        relata(dir.path())
            .env("RELATA_POOL_SIZE", "5")
            .env("RELATA_DATABASE_URL", "sqlite://from-env.db")
            .arg("config"),
    )));
    assert_eq!(t["pool_size"].as_integer(), Some(5));
    assert_eq!(t["sqlite_cache_mb"].as_integer(), Some(16));
    assert_eq!(t["database_url"].as_str(), Some("sqlite://from-env.db"));
    assert_eq!(t["log"].as_str(), Some("warn"));

    // Flags beat the environment.
    let t = parse(&stdout(&run_ok(
        relata(dir.path())
            .env("RELATA_DATABASE_URL", "sqlite://from-env.db")
            .env("RELATA_LOG", "debug")
            .args([
                "--database-url",
                "sqlite://from-flag.db",
                "--log",
                "error",
                "config",
            ]),
    )));
    assert_eq!(t["database_url"].as_str(), Some("sqlite://from-flag.db"));
    assert_eq!(t["log"].as_str(), Some("error"));

    // --config names another file, which replaces ./relata.toml.
    std::fs::write(dir.path().join("other.toml"), "max_page_size = 200\n").unwrap();
    let t = parse(&stdout(&run_ok(relata(dir.path()).args([
        "--config",
        "other.toml",
        "config",
    ]))));
    assert_eq!(t["max_page_size"].as_integer(), Some(200));
    assert_eq!(t["pool_size"].as_integer(), Some(8));
}

#[test]
fn bad_settings_fail_with_a_message_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let fails = |cmd: &mut std::process::Command, needle: &str| {
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "expected a failure");
        assert!(err.contains(needle), "'{needle}' not in: {err}");
    };
    fails(
        relata(dir.path())
            .env("RELATA_POOL_SIZE", "lots")
            .arg("config"),
        "RELATA_POOL_SIZE",
    );
    fails(
        relata(dir.path())
            .env("RELATA_LOG_FORMAT", "xml")
            .arg("config"),
        "log_format",
    );
    std::fs::write(dir.path().join("bad.toml"), "pool_sise = 3\n").unwrap();
    fails(
        relata(dir.path()).args(["--config", "bad.toml", "config"]),
        "pool_sise",
    );
    fails(
        relata(dir.path()).args(["--config", "missing.toml", "config"]),
        "missing.toml",
    );
}

#[test]
fn printed_configuration_masks_database_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run_ok(relata(dir.path()).args([
        "--database-url",
        "postgres://app:s3cret@db.internal/relata",
        "config",
    ])));
    assert!(!out.contains("s3cret"), "{out}");
    assert!(
        out.contains("postgres://app:***@db.internal/relata"),
        "{out}"
    );
}

#[test]
fn json_log_format_writes_one_json_object_per_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "relata.db");
    let out = run_ok(relata(dir.path()).args([
        "--database-url",
        &url,
        "--log-format",
        "json",
        "migrate",
    ]));
    let err = common::stderr(&out);
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "applied migration" && e["version"] == 1),
        "{err}"
    );
    assert!(events.iter().all(|e| e["level"].is_string()));
}
