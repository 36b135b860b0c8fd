//! `relata demo`, `relata export` and `relata import`: the demo data set round-trips through
//! JSON Lines into a fresh database, a second import changes nothing, and bad lines are
//! reported one by one without stopping the good ones.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{export, lines, relata, run_ok, sqlite_url, stderr};
use serde_json::{Value as Json, json};

/// Objects in dependency order (lookup targets first), as an import must go.
const ORDER: [&str; 18] = [
    "account",
    "contact",
    "lead",
    "opportunity",
    "task",
    "note",
    "product_category",
    "tax_category",
    "product",
    "price_book",
    "price_book_entry",
    "price_tier",
    "exchange_rate",
    "opportunity_line_item",
    "contract",
    "payment_plan",
    "payment",
    "invoice",
];

/// Fields the write path stamps itself: an import sets them afresh (the pool bookkeeping of
/// leads and accounts among them: when the owner got it, the last follow-up and won deal; when
/// an opportunity's stage changed; and
/// the pool a record is in, which is the other database's configuration, not the record's).
const STAMPED: [&str; 12] = [
    "owner_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
    "owned_since",
    "last_activity_at",
    "last_won_at",
    "pool_warned_at",
    "pool_id",
    "stage_changed_at",
];

fn without_stamps(records: Vec<Json>) -> Vec<Json> {
    records
        .into_iter()
        .map(|mut r| {
            let map = r.as_object_mut().expect("records are objects");
            for k in STAMPED {
                map.remove(k);
            }
            r
        })
        .collect()
}

/// Saves the pipelines of the database at `from` in the one at `to`.
fn copy_pipelines(from: &str, to: &str) {
    use std::sync::Arc;

    use relata_core::{Actor, Core, Settings};
    use relata_domain::clock::SystemClock;
    use relata_store::StoreOptions;

    let open = |url: &str| {
        let core = Core::open(
            &StoreOptions::new(url),
            Arc::new(SystemClock),
            Settings::default(),
        )
        .unwrap();
        let admin = core.ensure_admin_blocking().unwrap();
        (core, Actor::system(admin))
    };
    let (source, _) = open(from);
    let pipelines = source.pipelines().unwrap();
    drop(source);
    let (target, admin) = open(to);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for p in pipelines.pipelines {
        rt.block_on(target.save_pipeline(&admin, p)).unwrap();
    }
}

fn import(dir: &Path, url: &str, object: &str, file: &Path) -> std::process::Output {
    relata(dir)
        .args(["--database-url", url, "import", "--object", object, "--in"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn demo_data_round_trips_through_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = sqlite_url(d, "source.db");
    let target = sqlite_url(d, "target.db");
    run_ok(relata(d).args(["--database-url", &source, "demo", "--scale", "small"]));

    let mut exported = Vec::new();
    for object in ORDER {
        let text = export(d, &source, object);
        let file = d.join(format!("{object}.jsonl"));
        std::fs::write(&file, &text).unwrap();
        exported.push((object, text, file));
    }
    let count = |o: &str| lines(&exported.iter().find(|e| e.0 == o).unwrap().1).len();
    assert_eq!(count("account"), 40);
    assert_eq!(count("contact"), 120);
    assert!(count("lead") > 0 && count("opportunity") > 0 && count("task") > 0);
    assert!(count("note") > 0);
    assert!(count("product") > 0 && count("opportunity_line_item") > 0);
    assert!(count("contract") > 0 && count("payment_plan") > 0 && count("payment") > 0);

    // which pipelines there are is the database's configuration, not its data
    copy_pipelines(&source, &target);
    for (object, _, file) in &exported {
        let out = import(d, &target, object, file);
        assert!(out.status.success(), "import {object}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(" 0 failed"),
            "{object}: {}",
            stderr(&out)
        );
    }

    let mut first_pass = Vec::new();
    for (object, text, _) in &exported {
        let again = export(d, &target, object);
        // Same records with the same ids, lookups and values, in the same order; only what
        // the write path stamps (owner, times, version) is new.
        assert_eq!(
            without_stamps(lines(&again)),
            without_stamps(lines(text)),
            "{object} differs after the round trip"
        );
        // a deal with products is written again by each of its lines (its amount follows
        // them); every other record is written once
        let with_lines: BTreeSet<String> = exported
            .iter()
            .find(|e| e.0 == "opportunity_line_item")
            .map(|e| lines(&e.1))
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l["opportunity_id"].as_str().map(str::to_owned))
            .collect();
        for r in lines(&again) {
            // paid totals roll up from payments to their contract, deal and account, and a
            // contract's instalments are settled again with each of its payments
            let rewritten = (*object == "opportunity"
                && r["id"].as_str().is_some_and(|id| with_lines.contains(id)))
                || (matches!(*object, "account" | "opportunity") && !r["paid_amount"].is_null())
                || matches!(*object, "contract" | "payment_plan");
            if !rewritten {
                assert_eq!(r["version"], json!(1), "{object} {}", r["id"]);
            }
        }
        first_pass.push(again);
    }

    // Importing the same files again updates nothing and duplicates nothing.
    for (object, _, file) in &exported {
        let out = import(d, &target, object, file);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(" 0 created, 0 updated"),
            "re-import of {object}: {err}"
        );
    }
    for ((object, _, _), before) in exported.iter().zip(&first_pass) {
        assert_eq!(&export(d, &target, object), before, "{object} changed");
    }
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = |file: &str, seed: &str| -> BTreeSet<String> {
        let url = sqlite_url(d, file);
        run_ok(relata(d).args([
            "--database-url",
            &url,
            "demo",
            "--scale",
            "small",
            "--seed",
            seed,
        ]));
        lines(&export(d, &url, "contact"))
            .iter()
            .map(|c| format!("{} {} {}", c["name"], c["email"], c["mobile"]))
            .collect()
    };
    let a = names("a.db", "7");
    assert_eq!(a, names("b.db", "7"));
    assert_ne!(a, names("c.db", "8"));
    // Bilingual: Chinese and English names both appear.
    assert!(
        a.iter()
            .any(|n| n.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
    );
    assert!(
        a.iter()
            .any(|n| n.starts_with("\"") && n.as_bytes()[1].is_ascii_uppercase())
    );
}

#[test]
fn bad_lines_are_reported_and_good_lines_still_imported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = sqlite_url(d, "relata.db");
    let file = d.join("accounts.jsonl");
    std::fs::write(
        &file,
        [
            r#"{"name":"上海华远科技有限公司","industry":"technology"}"#,
            r#"{"name": broken"#,
            r#"{"name":"Northwind Trading Ltd","industry":"shipbuilding"}"#,
            "",
            r#"{"industry":"retail"}"#,
            r#"{"name":"Contoso Ltd","email":"sales@contoso.com"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let out = import(d, &url, "account", &file);
    let err = stderr(&out);
    assert!(!out.status.success(), "failures must fail the command");
    assert!(err.contains("line 2: not valid JSON"), "{err}");
    assert!(err.contains("line 3: industry"), "{err}");
    assert!(err.contains("line 5: name"), "{err}");
    assert!(
        err.contains("2 created, 0 updated, 0 unchanged, 3 failed"),
        "{err}"
    );
    let names: BTreeSet<String> = lines(&export(d, &url, "account"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["上海华远科技有限公司".to_owned(), "Contoso Ltd".to_owned()])
    );
}

#[test]
fn a_record_may_come_before_the_record_it_looks_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = sqlite_url(d, "relata.db");
    let parent = uuid::Uuid::now_v7().to_string();
    let child = uuid::Uuid::now_v7().to_string();
    let file = d.join("accounts.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            json!({"id": child, "name": "华远科技（深圳）有限公司", "parent_id": parent}),
            json!({"id": parent, "name": "华远科技集团有限公司"})
        ),
    )
    .unwrap();
    let out = import(d, &url, "account", &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&export(d, &url, "account"));
    let child_record = records.iter().find(|r| r["id"] == json!(child)).unwrap();
    assert_eq!(child_record["parent_id"], json!(parent));

    // A lookup to a record that exists nowhere still fails, naming the field.
    std::fs::write(
        &file,
        json!({"name": "Orphan Ltd", "parent_id": uuid::Uuid::now_v7().to_string()}).to_string(),
    )
    .unwrap();
    let out = import(d, &url, "account", &file);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("line 1: parent_id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn export_of_an_unknown_object_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "relata.db");
    let out = relata(dir.path())
        .args(["--database-url", &url, "export", "--object", "spaceship"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("spaceship"), "{}", stderr(&out));
}

#[test]
fn export_writes_csv_and_vcard_files_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = sqlite_url(d, "relata.db");
    let file = d.join("contacts.jsonl");
    std::fs::write(
        &file,
        r#"{"name":"张伟","last_name":"张","first_name":"伟","mobile":"+8613800001111"}"#,
    )
    .unwrap();
    assert!(import(d, &url, "contact", &file).status.success());
    let csv_file = d.join("contacts.csv");
    run_ok(relata(d).args([
        "--database-url",
        &url,
        "export",
        "--object",
        "contact",
        "--format",
        "csv",
        "--out",
        csv_file.to_str().unwrap(),
    ]));
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    assert!(
        csv.starts_with("\u{feff}id,owner_id,owner_id_name,"),
        "{csv}"
    );
    assert!(csv.contains("张伟"), "{csv}");
    let card = run_ok(relata(d).args([
        "--database-url",
        &url,
        "export",
        "--object",
        "contact",
        "--format",
        "vcf",
    ]));
    let card = String::from_utf8(card.stdout).unwrap();
    assert!(card.contains("FN:张伟\r\n"), "{card}");
    let out = relata(d)
        .args([
            "--database-url",
            &url,
            "export",
            "--object",
            "account",
            "--format",
            "vcf",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "vCard is for contacts");
}

#[test]
fn a_csv_file_imports_as_a_job_with_its_rejected_rows_written_out() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "csv.db");
    let csv = dir.path().join("联系人.csv");
    std::fs::write(
        &csv,
        "\u{feff}姓名,邮箱,手机,生日\n张伟,zw@example.cn,138 1234 5678,1990年3月5日\n李娜,bad,13900001111,1990-13-01\n",
    )
    .unwrap();
    let rejected = dir.path().join("rejected.csv");
    let out = relata(dir.path())
        .args([
            "--database-url",
            &url,
            "import",
            "--object",
            "contact",
            "--in",
        ])
        .arg(&csv)
        .arg("--errors")
        .arg(&rejected)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed row makes the exit status 1: {err}"
    );
    assert!(
        err.contains("1 created") && err.contains("1 failed"),
        "{err}"
    );
    let report = std::fs::read_to_string(&rejected).unwrap();
    assert!(
        report.contains("李娜") && report.contains("Email"),
        "{report}"
    );
    let contacts = lines(&export(dir.path(), &url, "contact"));
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["mobile"], "+8613812345678");
    assert_eq!(contacts[0]["birthday"], "1990-03-05");

    // a dry run writes nothing and exits 0 when every row would import
    std::fs::write(&csv, "Name,E-mail\nAnn Lee,ann@example.com\n").unwrap();
    let out = relata(dir.path())
        .args([
            "--database-url",
            &url,
            "import",
            "--object",
            "contact",
            "--dry-run",
            "--in",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("checked"), "{}", stderr(&out));
    assert_eq!(lines(&export(dir.path(), &url, "contact")).len(), 1);
}
