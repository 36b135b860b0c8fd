//! Helpers for tests that run the real `relata` binary: a command in its own directory with
//! no inherited `RELATA_*` settings, exports of every object, and dumps of every table for
//! comparing two databases row by row.

#![allow(dead_code)]
// each test file uses a different subset
// Test helpers: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixture;
pub mod hooks;
pub mod server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use relata_store::migrations::system_tables;
use relata_store::{Dialect, SqlValue, Store, StoreError, StoreOptions, ddl, meta_sql};
use serde_json::Value as Json;

#[allow(unused_imports)] // not every test file runs on PostgreSQL
pub use relata_testkit::{TestDb, postgres_url};

pub const STANDARD_OBJECTS: [&str; 7] = [
    "account",
    "contact",
    "lead",
    "opportunity",
    "task",
    "note",
    "product",
];

/// `relata` run in `dir`, with settings only from what the test passes.
pub fn relata(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relata"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RELATA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs `cmd`, failing the test with its stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run relata");
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `relata export --object O` of the database at `url`, as text.
pub fn export(dir: &Path, url: &str, object: &str) -> String {
    stdout(&run_ok(relata(dir).args([
        "--database-url",
        url,
        "export",
        "--object",
        object,
    ])))
}

/// Exports of every object of the database at `url`.
pub fn export_all(dir: &Path, url: &str, objects: &[&str]) -> BTreeMap<String, String> {
    objects
        .iter()
        .map(|o| ((*o).to_owned(), export(dir, url, o)))
        .collect()
}

/// Parsed lines of an export.
pub fn lines(export: &str) -> Vec<Json> {
    export
        .lines()
        .map(|l| serde_json::from_str(l).expect("export lines are JSON"))
        .collect()
}

/// A store on `url` (migrating it if new), for reading tables directly.
pub fn open_store(url: &str) -> Store {
    let mut opts = StoreOptions::new(url);
    opts.pool_size = 2;
    Store::open(&opts).expect("open store")
}

/// A value comparable across backends: JSON text becomes JSON (PostgreSQL's JSONB does not
/// keep key order), everything else its text form.
fn normalise(v: &SqlValue) -> Json {
    match v {
        SqlValue::Null => Json::Null,
        SqlValue::Int(i) => Json::from(*i),
        SqlValue::Text(s) => match serde_json::from_str::<Json>(s) {
            Ok(j) if j.is_object() || j.is_array() => j,
            _ => Json::String(s.clone()),
        },
        SqlValue::Json(j) => j.clone(),
        other => Json::String(format!("{other:?}")),
    }
}

/// Every row of every table of a SQLite database (system tables, `sys_migrations` and the
/// object tables of its metadata), ordered by key, values normalised.
pub fn dump_tables(store: &Store) -> BTreeMap<String, Vec<Vec<Json>>> {
    assert_eq!(
        store.dialect(),
        Dialect::Sqlite,
        "dumps compare SQLite files"
    );
    store
        .read_blocking(|conn| -> Result<_, StoreError> {
            let schema = meta_sql::load_schema(conn)?;
            let mut tables: Vec<(String, Vec<String>)> = system_tables()
                .into_iter()
                .map(|t| {
                    let cols = t.columns.iter().map(|c| c.name.clone()).collect();
                    (t.name, cols)
                })
                .collect();
            tables.push((
                "sys_migrations".into(),
                vec!["version".into(), "name".into(), "applied_at".into()],
            ));
            for object in schema.objects() {
                let t = ddl::object_table(object);
                tables.push((t.name, t.columns.iter().map(|c| c.name.clone()).collect()));
            }
            let mut out = BTreeMap::new();
            for (name, cols) in tables {
                let list = cols.join(", ");
                let rows =
                    conn.query(&format!("SELECT {list} FROM {name} ORDER BY {list}"), &[])?;
                out.insert(
                    name,
                    rows.iter()
                        .map(|r| r.iter().map(normalise).collect())
                        .collect(),
                );
            }
            Ok(out)
        })
        .expect("dump tables")
}

/// `sqlite://…` URL of a file in `dir`.
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}
