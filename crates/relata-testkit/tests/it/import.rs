//! Importing CSV and XLSX files on both backends: Chinese and English headings mapped by
//! themselves, values transformed (dates, money, picklists by label, phones to E.164),
//! lookups by name, per-row errors with nothing half-written, dry runs that write nothing,
//! update and upsert by key, duplicate handling, resuming after the process died between
//! batches without writing a row twice, the error report, and undo.

use crate::common;

use std::sync::Arc;

use relata_core::import::{ImportRequest, ImportStatus, OnDuplicate};
use relata_core::{Actor, Core};
use relata_domain::ManualClock;
use relata_testkit::{SpawnOptions, TestApp};
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// Runs queued imports to their end, as the server's worker would.
async fn run_all(core: &Core) {
    while core
        .run_next_import(None)
        .await
        .expect("run import")
        .is_some()
    {}
}

async fn upload(app: &TestApp, actor: &Actor, object: &str, name: &str, data: &[u8]) -> Uuid {
    app.core
        .create_import(
            actor,
            object,
            name,
            None,
            std::io::Cursor::new(data.to_vec()),
        )
        .await
        .expect("upload")
        .id
}

async fn import(
    app: &TestApp,
    actor: &Actor,
    object: &str,
    name: &str,
    data: &[u8],
    request: ImportRequest,
) -> relata_core::import::ImportJob {
    let id = upload(app, actor, object, name, data).await;
    app.core
        .start_import(actor, id, request)
        .await
        .expect("start");
    run_all(&app.core).await;
    app.core.import_job(actor, id).await.expect("job")
}

/// Asserts that the outcomes a job reports are its ledger counted row by row (before an undo
/// they come from the job's tally, which each batch updates with its ledger rows).
async fn assert_outcomes_are_the_ledger(app: &TestApp, actor: &Actor, id: Uuid) {
    let ledger = app
        .core
        .import_ledger(actor, id, None, 0, 1_000)
        .await
        .unwrap();
    let mut counted = std::collections::BTreeMap::new();
    for row in &ledger {
        *counted.entry(row.outcome.clone()).or_insert(0i64) += 1;
    }
    assert!(!counted.is_empty(), "the job wrote no ledger rows");
    let outcomes = app.core.import_outcomes(actor, id).await.unwrap();
    assert_eq!(outcomes, counted, "outcomes against the ledger");
}

async fn records(app: &TestApp, object: &str, filter: &str) -> Vec<Json> {
    let r = app
        .get(&format!(
            "/api/v1/records/{object}?limit=1000&sort=created_at{filter}"
        ))
        .await;
    r.assert_status(200);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

fn by_name<'a>(list: &'a [Json], name: &str) -> &'a Json {
    list.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no record named {name} in {list:?}"))
}

const CONTACTS_ZH: &str = "\u{feff}姓名,邮箱,手机号,生日,来源,所属客户,备注\n\
张伟,zhang.wei@example.cn,138 1234 5678,1990年3月5日,网站,华为技术有限公司,老客户\n\
李娜,li.na@example.cn,+86 139-0000-1111,1988/12/01,展会,,\n\
王芳,not-an-email,13700001111,1992-02-30,,,\n\
赵强,zhao@example.cn,,,,没有这家公司,\n";

#[tokio::test]
async fn chinese_csv_maps_itself_reads_values_and_reports_bad_rows() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let account = app
        .post(
            "/api/v1/records/account",
            &json!({"name": "华为技术有限公司"}),
        )
        .await;
    account.assert_status(201);
    let account_id = account.body["id"].as_str().unwrap().to_owned();

    let id = upload(
        &app,
        &admin,
        "contact",
        "联系人.csv",
        CONTACTS_ZH.as_bytes(),
    )
    .await;
    let preview = app.core.import_preview(&admin, id).await.unwrap();
    let targets: Vec<Option<&str>> = preview
        .columns
        .iter()
        .map(|c| c.target.as_deref())
        .collect();
    assert_eq!(
        targets,
        [
            Some("name"),
            Some("email"),
            Some("mobile"),
            Some("birthday"),
            Some("source"),
            Some("account_id"),
            Some("description")
        ]
    );
    assert_eq!(preview.sample.len(), 4);
    assert_eq!(preview.sample[0][0], "张伟");

    // 展会 (trade fair) is no label of a source: the importer says what it stands for
    let request = ImportRequest {
        picklist_map: [(
            "source".to_owned(),
            [("展会".to_owned(), "event".to_owned())].into(),
        )]
        .into(),
        ..Default::default()
    };
    app.core.start_import(&admin, id, request).await.unwrap();
    run_all(&app.core).await;
    let job = app.core.import_job(&admin, id).await.unwrap();
    assert_eq!(job.status, ImportStatus::Done, "{job:?}");
    let all = app
        .core
        .import_ledger(&admin, id, None, 0, 100)
        .await
        .unwrap();
    assert_eq!((job.tally.created, job.tally.failed), (2, 2), "{all:?}");
    assert_outcomes_are_the_ledger(&app, &admin, id).await;
    assert_eq!(
        (
            job.tally.created,
            job.tally.failed,
            job.total_rows,
            job.rows_done
        ),
        (2, 2, Some(4), 4)
    );

    let list = records(&app, "contact", "").await;
    assert_eq!(list.len(), 2, "the bad rows wrote nothing: {list:?}");
    let zhang = by_name(&list, "张伟");
    assert_eq!(zhang["mobile"], "+8613812345678");
    assert_eq!(zhang["birthday"], "1990-03-05");
    assert_eq!(zhang["account_id"], account_id.as_str());
    assert_eq!(zhang["description"], "老客户");
    let li = by_name(&list, "李娜");
    assert_eq!(li["mobile"], "+8613900001111");
    assert_eq!(li["birthday"], "1988-12-01");
    assert_eq!(li["source"], "event");
    assert_eq!(
        zhang["source"], "web",
        "a picklist value read from its Chinese label"
    );

    // every row of the file has a ledger row; the bad ones say which field and why
    let rows = app
        .core
        .import_ledger(&admin, id, Some("failed".into()), 0, 100)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [4, 5]);
    let wang: Vec<&str> = rows[0].errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        wang.contains(&"email") && wang.contains(&"birthday"),
        "{:?}",
        rows[0].errors
    );
    assert_eq!(rows[1].errors[0].field, "account_id");
    assert!(
        rows[1].errors[0].message.contains("没有这家公司"),
        "{:?}",
        rows[1].errors
    );

    // the error report has the failed rows as they were, ready to be fixed and imported again
    let report =
        String::from_utf8(app.core.import_error_report(&admin, id).await.unwrap()).unwrap();
    let report = report.strip_prefix('\u{feff}').expect("BOM");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0],
        "Row,Errors,姓名,邮箱,手机号,生日,来源,所属客户,备注"
    );
    assert!(
        lines[1].starts_with("4,")
            && lines[1].contains("王芳")
            && lines[1].contains("not-an-email"),
        "{report}"
    );
    assert!(
        lines[2].starts_with("5,") && lines[2].contains("没有这家公司"),
        "{report}"
    );
    assert_eq!(lines.len(), 3);
}

#[tokio::test]
async fn gbk_csv_and_xlsx_read_like_utf8() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let text = "客户名称,行业,年收入,员工数\n上海申通物流有限公司,,\"￥1,250,000.50\",320\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let job = import(
        &app,
        &admin,
        "account",
        "客户.csv",
        &gbk,
        ImportRequest::default(),
    )
    .await;
    let rows = app
        .core
        .import_ledger(&admin, job.id, None, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        (job.status, job.tally.created, job.tally.failed),
        (ImportStatus::Done, 1, 0),
        "{rows:?}"
    );
    let list = records(&app, "account", "").await;
    let a = by_name(&list, "上海申通物流有限公司");
    assert_eq!(a["employees"], 320);
    assert_eq!(a["annual_revenue"]["amount"], "1250000.50");
    assert_eq!(a["annual_revenue"]["currency"], "CNY");

    // the same through an XLSX workbook, dates and numbers as Excel stores them
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Name", "E-mail", "Birthday", "Mobile phone"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "Alice Chen").unwrap();
    sheet.write_string(1, 1, "alice@example.com").unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1991, 7, 14).unwrap();
    let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    sheet
        .write_datetime_with_format(1, 2, &date, &format)
        .unwrap();
    sheet.write_number(1, 3, 13811112222.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let job = import(
        &app,
        &admin,
        "contact",
        "contacts.xlsx",
        &bytes,
        ImportRequest::default(),
    )
    .await;
    assert_eq!(
        (job.status, job.tally.created, job.tally.failed),
        (ImportStatus::Done, 1, 0),
        "{job:?}"
    );
    let c = records(&app, "contact", "").await;
    assert_eq!(c[0]["birthday"], "1991-07-14");
    assert_eq!(c[0]["mobile"], "+8613811112222");
    assert_eq!(c[0]["email"], "alice@example.com");
}

#[tokio::test]
async fn a_dry_run_writes_nothing_then_the_same_file_imports_for_real() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before = common::DbState::capture(&app, &["contact", "account"]).await;
    let id = upload(&app, &admin, "contact", "c.csv", CONTACTS_ZH.as_bytes()).await;
    let dry = ImportRequest {
        dry_run: true,
        ..Default::default()
    };
    app.core.start_import(&admin, id, dry).await.unwrap();
    run_all(&app.core).await;
    let job = app.core.import_job(&admin, id).await.unwrap();
    assert_eq!(job.status, ImportStatus::Done);
    assert!(job.dry_run);
    // no account 华为 here, 展会 unmapped, a bad email and date, an unknown account
    assert_eq!((job.tally.created, job.tally.failed), (0, 4), "{job:?}");
    before.assert_unchanged(&app, "a dry run").await;
    assert!(
        app.core.undo_import(&admin, id).await.is_err(),
        "nothing to undo after a dry run"
    );

    app.core
        .start_import(&admin, id, ImportRequest::default())
        .await
        .unwrap();
    run_all(&app.core).await;
    let job = app.core.import_job(&admin, id).await.unwrap();
    assert!(!job.dry_run);
    assert_eq!((job.tally.created, job.tally.failed), (0, 4));
    assert_eq!(records(&app, "contact", "").await.len(), 0);
}

#[tokio::test]
async fn update_and_upsert_by_key_and_duplicates_skipped_updated_or_created() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app
        .post(
            "/api/v1/meta/objects/contact/fields",
            &json!({"api_name": "crm_code", "type": "text", "label": "CRM code", "unique": true}),
        )
        .await;
    r.assert_status(201);
    let first = "crm_code,name,email,title\nC-1,Ann Lee,ann@example.com,Buyer\nC-2,Bob Wu,bob@example.com,CFO\n";
    let job = import(
        &app,
        &admin,
        "contact",
        "a.csv",
        first.as_bytes(),
        ImportRequest::default(),
    )
    .await;
    assert_eq!(job.tally.created, 2);

    // upsert by the unique code: C-1 updated, C-3 created
    let second = "crm_code,title,name\nC-1,Head of buying,Ann Lee\nC-3,Engineer,Cao Yu\n";
    let upsert = ImportRequest {
        mode: relata_core::import::ImportMode::Upsert,
        key: Some("crm_code".into()),
        ..Default::default()
    };
    let job = import(&app, &admin, "contact", "b.csv", second.as_bytes(), upsert).await;
    assert_eq!(
        (job.tally.created, job.tally.updated, job.tally.failed),
        (1, 1, 0),
        "{job:?}"
    );
    let list = records(&app, "contact", "").await;
    assert_eq!(by_name(&list, "Ann Lee")["title"], "Head of buying");
    assert_eq!(list.len(), 3);

    // update only: a code no record has fails, nothing is created
    let third = "crm_code,title\nC-2,CEO\nC-9,Nobody\n";
    let update = ImportRequest {
        mode: relata_core::import::ImportMode::Update,
        key: Some("crm_code".into()),
        ..Default::default()
    };
    let job = import(
        &app,
        &admin,
        "contact",
        "c.csv",
        third.as_bytes(),
        update.clone(),
    )
    .await;
    assert_eq!(
        (job.tally.updated, job.tally.failed, job.tally.created),
        (1, 1, 0),
        "{job:?}"
    );
    assert_eq!(records(&app, "contact", "").await.len(), 3);

    // a key that is not unique is refused before anything runs
    let id = upload(&app, &admin, "contact", "d.csv", third.as_bytes()).await;
    let bad = ImportRequest {
        key: Some("title".into()),
        ..update
    };
    assert!(app.core.start_import(&admin, id, bad).await.is_err());

    // a new row with Bob's email (written differently) is a duplicate: skipped by default …
    let dup = "name,email\nRobert Wu,BOB@Example.com\nNew Person,new@example.com\nNew Person again,new@example.com\n";
    let job = import(
        &app,
        &admin,
        "contact",
        "e.csv",
        dup.as_bytes(),
        ImportRequest::default(),
    )
    .await;
    assert_eq!(
        (job.tally.created, job.tally.skipped),
        (1, 2),
        "a duplicate of a record and of a row created just before: {job:?}"
    );
    assert_outcomes_are_the_ledger(&app, &admin, job.id).await;
    let skipped = app
        .core
        .import_ledger(&admin, job.id, Some("skipped".into()), 0, 10)
        .await
        .unwrap();
    let bob = by_name(&records(&app, "contact", "").await, "Bob Wu")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        skipped[0].record_id.map(|u| u.to_string()),
        Some(bob.clone())
    );
    // … updates the matched record when asked …
    let update_dup = ImportRequest {
        on_duplicate: OnDuplicate::Update,
        ..Default::default()
    };
    let dup2 = "name,email,title\nBob Wu,bob@example.com,Chairman\n";
    let job = import(
        &app,
        &admin,
        "contact",
        "f.csv",
        dup2.as_bytes(),
        update_dup,
    )
    .await;
    assert_eq!((job.tally.updated, job.tally.created), (1, 0), "{job:?}");
    let r = app.get(&format!("/api/v1/records/contact/{bob}")).await;
    assert_eq!(r.body["title"], "Chairman");
    // … or is created anyway
    let create_dup = ImportRequest {
        on_duplicate: OnDuplicate::Create,
        ..Default::default()
    };
    let job = import(
        &app,
        &admin,
        "contact",
        "g.csv",
        dup2.as_bytes(),
        create_dup,
    )
    .await;
    assert_eq!(job.tally.created, 1);
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_alone_and_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.post(
        "/api/v1/meta/objects/contact/fields",
        &json!({"api_name": "crm_code", "type": "text", "label": "CRM code", "unique": true}),
    )
    .await
    .assert_status(201);
    app.create("contact", &json!({"name": "Old Ann", "crm_code": "C-1"}))
        .await;
    // the 2nd and 5th data rows pass every check made before the write and are refused by the unique
    // index: the rest of their batch is written as if they were not there
    let file = "crm_code,name,email
                C-7,Kai Sun,kai@example.com
                C-1,Dup Ann,dup.ann@example.com
                C-8,Lin Mo,lin@example.com
                C-9,Qi Xu,qi@example.com
                C-9,Second Qi,second.qi@example.com
";
    let request = ImportRequest {
        on_duplicate: relata_core::import::OnDuplicate::Create,
        ..Default::default()
    };
    let before = app.get("/api/v1/changes?after=0&limit=1000").await.body["data"]
        .as_array()
        .unwrap()
        .len();
    let job = import(&app, &admin, "contact", "u.csv", file.as_bytes(), request).await;
    assert_eq!((job.tally.created, job.tally.failed), (3, 2), "{job:?}");
    let failed = app
        .core
        .import_ledger(&admin, job.id, Some("failed".into()), 0, 100)
        .await
        .unwrap();
    let rows: Vec<i64> = failed.iter().map(|r| r.row).collect();
    assert_eq!(
        rows,
        vec![3, 6],
        "numbered as in the sheet, the heading is row 1"
    );
    for r in &failed {
        assert_eq!(r.errors[0].field, "crm_code", "{r:?}");
        assert!(r.record_id.is_none());
    }
    let names: Vec<String> = records(&app, "contact", "")
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["Old Ann", "Kai Sun", "Lin Mo", "Qi Xu"]);
    // nothing of a refused row: no event, no search entry, no duplicate key
    let events = app.get("/api/v1/changes?after=0&limit=1000").await.body["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(events - before, 3);
    let hits = app.get("/api/v1/search?q=second").await;
    assert_eq!(hits.body["data"], json!([]), "{}", hits.text);
    let dup = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"email": "dup.ann@example.com"}),
        )
        .await;
    assert_eq!(dup.body["data"], json!([]), "{}", dup.text);
    let kai = app
        .post(
            "/api/v1/records/contact/duplicates",
            &json!({"email": "KAI@example.com"}),
        )
        .await;
    assert_eq!(
        kai.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        kai.text
    );
}

#[tokio::test]
async fn a_row_repeating_an_earlier_row_of_the_file_is_its_duplicate_in_any_batch() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let batch = relata_core::import::run::BATCH;
    // the next batch's duplicates are checked while this one is written: a row of it that
    // repeats a row of this one is found by the keys the write hands on
    let (next_batch, two_later) = (batch + 50, 2 * batch + 50);
    let mut file = String::from("name,email,mobile\n");
    for i in 1..=2 * batch + 100 {
        let row = match i {
            // the 4th row's mobile spelled another way, in the same batch
            10 => "Dee Four,,+86 138-0000-0004".to_owned(),
            // the 3rd row's email in capitals, in the next batch
            i if i == next_batch => "Cee Three,USER3@EXAMPLE.COM,".to_owned(),
            // the 5th row's mobile with a country code, two batches later
            i if i == two_later => "Eee Five,,+8613800000005".to_owned(),
            _ => format!("User {i},user{i}@example.com,1380000{i:04}"),
        };
        file.push_str(&row);
        file.push('\n');
    }
    let job = import(
        &app,
        &admin,
        "contact",
        "many.csv",
        file.as_bytes(),
        ImportRequest::default(),
    )
    .await;
    assert_eq!(
        (job.tally.created, job.tally.skipped, job.tally.failed),
        (2 * batch as i64 + 97, 3, 0),
        "{job:?}"
    );
    let skipped = app
        .core
        .import_ledger(&admin, job.id, Some("skipped".into()), 0, 100)
        .await
        .unwrap();
    let rows: Vec<i64> = skipped.iter().map(|r| r.row).collect();
    assert_eq!(
        rows,
        vec![11, next_batch as i64 + 1, two_later as i64 + 1],
        "numbered as in the sheet"
    );
}

#[tokio::test]
async fn an_import_resumes_after_its_process_died_without_writing_a_row_twice() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
    ));
    let app = TestApp::spawn_with(SpawnOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let admin = app.admin().await;
    let batch = relata_core::import::run::BATCH as i64;
    let rows = 2 * batch + 234; // three batches
    let mut csv = String::from("name,email\n");
    for i in 0..rows {
        csv.push_str(&format!("Person {i},p{i}@example.com\n"));
    }
    let id = upload(&app, &admin, "contact", "many.csv", csv.as_bytes()).await;
    let request = ImportRequest {
        on_duplicate: OnDuplicate::Create,
        ..Default::default()
    };
    app.core.start_import(&admin, id, request).await.unwrap();
    // one batch, then the process "dies": the job stays running with its last heartbeat
    app.core.run_next_import(Some(1)).await.unwrap();
    let job = app.core.import_job(&admin, id).await.unwrap();
    assert_eq!((job.status, job.rows_done), (ImportStatus::Running, batch));
    // a live job is not taken over …
    assert_eq!(app.core.run_next_import(None).await.unwrap(), None);
    // … one whose heartbeat stopped is
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(app.core.run_next_import(None).await.unwrap(), Some(id));
    let job = app.core.import_job(&admin, id).await.unwrap();
    assert_eq!(
        (job.status, job.rows_done, job.tally.created),
        (ImportStatus::Done, rows, rows),
        "{job:?}"
    );
    assert_eq!(common::count(&app, "contact").await, rows);
    let names: std::collections::HashSet<String> = records(&app, "contact", "")
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 1000, "the first page holds distinct records");
}

#[tokio::test]
async fn undo_removes_what_was_created_and_restores_what_was_updated_but_keeps_later_edits() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let a = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "Kept Edit", "title": "Old"}),
        )
        .await;
    let b = app
        .post(
            "/api/v1/records/contact",
            &json!({"name": "Restored", "title": "Old"}),
        )
        .await;
    let (a, b) = (
        a.body["id"].as_str().unwrap().to_owned(),
        b.body["id"].as_str().unwrap().to_owned(),
    );
    let csv = format!(
        "id,name,title\n{a},Kept Edit,New\n{b},Restored,New\n,Created One,New\n,Created Two,New\n"
    );
    let upsert = ImportRequest {
        mode: relata_core::import::ImportMode::Upsert,
        key: Some("id".into()),
        on_duplicate: OnDuplicate::Create,
        ..Default::default()
    };
    let job = import(&app, &admin, "contact", "u.csv", csv.as_bytes(), upsert).await;
    assert_eq!((job.tally.created, job.tally.updated), (2, 2), "{job:?}");
    assert_outcomes_are_the_ledger(&app, &admin, job.id).await;
    // someone edits one of the updated records after the import
    let r = app.get(&format!("/api/v1/records/contact/{a}")).await;
    let version = r.body["version"].as_i64().unwrap();
    app.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/records/contact/{a}"),
        Some(&json!({"title": "Edited later"})),
        &[("If-Match", &version.to_string())],
    )
    .await
    .assert_status(200);

    app.core.undo_import(&admin, job.id).await.unwrap();
    run_all(&app.core).await;
    let job = app.core.import_job(&admin, job.id).await.unwrap();
    assert_eq!(job.status, ImportStatus::Undone);
    let list = records(&app, "contact", "").await;
    assert_eq!(
        list.len(),
        2,
        "the created records went to the recycle bin: {list:?}"
    );
    assert_eq!(by_name(&list, "Restored")["title"], "Old");
    assert_eq!(by_name(&list, "Kept Edit")["title"], "Edited later");
    let outcomes = app.core.import_outcomes(&admin, job.id).await.unwrap();
    assert_eq!(outcomes.get("undone"), Some(&3));
    assert_eq!(outcomes.get("kept"), Some(&1));
    // undone is final
    assert!(app.core.undo_import(&admin, job.id).await.is_err());
}

#[tokio::test]
async fn imports_need_the_import_right_and_see_only_what_the_user_sees() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let rep = app.user("rep@example.com", json!({})).await;
    let refused = app
        .core
        .create_import(
            &rep,
            "contact",
            "c.csv",
            None,
            std::io::Cursor::new(b"name\nX\n".to_vec()),
        )
        .await;
    assert!(
        refused.is_err(),
        "a user without the import right cannot upload"
    );
    // another user's job is not found
    let id = upload(&app, &admin, "contact", "c.csv", b"name\nX\n").await;
    assert!(app.core.import_job(&rep, id).await.is_err());
    // files that are neither CSV nor XLSX are refused at upload, with the field named
    let e = app
        .core
        .create_import(
            &admin,
            "contact",
            "c.pdf",
            None,
            std::io::Cursor::new(b"%PDF".to_vec()),
        )
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("format"), "{e:?}");
    let e = app
        .core
        .create_import(
            &admin,
            "contact",
            "c.xlsx",
            None,
            std::io::Cursor::new(b"not a zip".to_vec()),
        )
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("file"), "{e:?}");
}

/// Polls the job over the API until it settles.
async fn settled(app: &TestApp, id: &str) -> Json {
    for _ in 0..200 {
        let r = app.get(&format!("/api/v1/imports/{id}")).await;
        r.assert_status(200);
        let status = r.body["status"].as_str().unwrap_or_default().to_owned();
        if !["queued", "running", "undoing"].contains(&status.as_str()) {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import {id} did not settle");
}

#[tokio::test]
async fn the_api_runs_an_import_in_the_background_from_upload_to_undo() {
    let app = TestApp::spawn_with(SpawnOptions {
        import_worker: true,
        ..Default::default()
    })
    .await;
    let csv = "Name,E-mail,Mobile phone,Title\nAnn Lee,ann@example.com,13800000001,Buyer\nBob Wu,bob@,13800000002,CFO\n";
    // the object and the file name are required
    app.client
        .send_raw(
            reqwest::Method::POST,
            "/api/v1/imports?file_name=a.csv",
            "text/csv",
            csv.into(),
        )
        .await
        .assert_status(422);
    let r = app
        .client
        .send_raw(
            reqwest::Method::POST,
            "/api/v1/imports?object=contact&file_name=a.csv",
            "text/csv",
            csv.into(),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["status"], "draft");
    let id = r.body["id"].as_str().unwrap().to_owned();

    let r = app.get(&format!("/api/v1/imports/{id}/preview")).await;
    r.assert_status(200);
    let targets: Vec<&str> = r.body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(targets, ["name", "email", "mobile", "title"]);

    // an unknown target names the column's problem; nothing starts
    let r = app
        .post(
            &format!("/api/v1/imports/{id}/start"),
            &json!({"columns": {"Title": "no_such_field"}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/imports/{id}/start"),
            &json!({"columns": {"Title": ""}, "dry_run": true}),
        )
        .await;
    r.assert_status(202);
    let job = settled(&app, &id).await;
    assert_eq!(
        (
            job["status"].as_str(),
            job["created"].as_i64(),
            job["failed"].as_i64()
        ),
        (Some("done"), Some(1), Some(1)),
        "{job}"
    );
    assert_eq!(
        common::count(&app, "contact").await,
        0,
        "a dry run writes nothing"
    );
    let r = app
        .get(&format!("/api/v1/imports/{id}/rows?outcome=failed"))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["data"][0]["row"], 3);
    assert_eq!(r.body["data"][0]["errors"][0]["field"], "email");

    // for real, the title skipped as chosen
    app.post(
        &format!("/api/v1/imports/{id}/start"),
        &json!({"columns": {"Title": ""}}),
    )
    .await
    .assert_status(202);
    let job = settled(&app, &id).await;
    assert_eq!(
        (
            job["created"].as_i64(),
            job["failed"].as_i64(),
            job["dry_run"].as_bool()
        ),
        (Some(1), Some(1), Some(false)),
        "{job}"
    );
    let list = records(&app, "contact", "").await;
    assert_eq!(list.len(), 1);
    assert!(list[0]["title"].is_null());
    assert_eq!(list[0]["mobile"], "+8613800000001");
    let r = app.get(&format!("/api/v1/imports/{id}/errors.csv")).await;
    r.assert_status(200);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(
        r.text.contains("Bob Wu") && r.text.contains("bob@"),
        "{}",
        r.text
    );
    let r = app.get("/api/v1/imports").await;
    assert_eq!(r.body["data"][0]["id"], id.as_str());

    // a started job cannot be started again; undo runs in the background too
    app.post(&format!("/api/v1/imports/{id}/start"), &json!({}))
        .await
        .assert_status(409);
    app.post(&format!("/api/v1/imports/{id}/undo"), &json!({}))
        .await
        .assert_status(202);
    let job = settled(&app, &id).await;
    assert_eq!(job["status"], "undone");
    assert_eq!(job["outcomes"]["undone"], 1);
    assert_eq!(common::count(&app, "contact").await, 0);
    // another user does not see the job
    let rep = app.user("rep@example.com", json!({})).await;
    let client = app.client_for(&rep).await;
    assert_eq!(
        client.get(&format!("/api/v1/imports/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn an_upload_over_the_body_limit_is_refused_and_leaves_no_job() {
    let app = TestApp::spawn_with(SpawnOptions {
        max_body_bytes: Some(4096),
        ..Default::default()
    })
    .await;
    let mut csv = String::from("name,email\n");
    for i in 0..500 {
        csv.push_str(&format!("Person {i},p{i}@example.com\n"));
    }
    let r = app
        .client
        .send_raw(
            reqwest::Method::POST,
            "/api/v1/imports?object=contact&file_name=big.csv",
            "text/csv",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    let r = app.get("/api/v1/imports").await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn bad_files_give_per_row_errors_or_a_clear_refusal_never_a_silent_partial_import() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // a broken quote, a row in another encoding, a row with too many cells, among good rows
    let mut csv: Vec<u8> = b"name,email,title\nGood One,one@example.com,A\n".to_vec();
    csv.extend_from_slice(b"\"Broken,two@example.com,B\nGood Three,three@example.com,C\n");
    let mut good = b"Good Four,four@example.com,D\n".to_vec();
    csv.append(&mut good);
    let (gbk, _, _) = encoding_rs::GBK.encode("王五,wang@example.com,经理\n");
    csv.extend_from_slice(&gbk);
    csv.extend_from_slice(b"Too,many@example.com,cells,here\nGood Seven,seven@example.com,G\n");
    let job = import(
        &app,
        &admin,
        "contact",
        "bad.csv",
        &csv,
        ImportRequest::default(),
    )
    .await;
    assert_eq!(job.status, ImportStatus::Done);
    let rows = app
        .core
        .import_ledger(&admin, job.id, None, 0, 100)
        .await
        .unwrap();
    let failed: Vec<_> = rows.iter().filter(|r| r.outcome == "failed").collect();
    assert!(!failed.is_empty(), "{rows:?}");
    for r in &failed {
        assert!(
            !r.errors.is_empty() && !r.errors[0].message.is_empty(),
            "every failed row says why: {r:?}"
        );
    }
    // every row read is accounted for, and only the created ones exist
    assert_eq!(job.rows_done, rows.len() as i64);
    assert_eq!(common::count(&app, "contact").await, job.tally.created);
    // the open quote took the rest of the file into its row, and the error says so
    assert_eq!((job.tally.created, job.tally.failed), (1, 1), "{rows:?}");
    let broken = &failed[0].errors[0].message;
    assert!(
        broken.contains("quote") && broken.contains("from line 3 to line 8"),
        "{broken}"
    );

    // without the broken quote, in a file that is UTF-8 for its first 64 KiB (what its
    // encoding is told by): a row in GBK further down and a row with too many cells fail,
    // each saying why, and the rows around them are imported
    let pad = 2_500;
    let mut csv: Vec<u8> = "name,email,title\n".into();
    for i in 0..pad {
        csv.extend_from_slice(format!("张 Pad {i},pad{i}@example.com,经理\n").as_bytes());
    }
    csv.extend_from_slice(&gbk);
    csv.extend_from_slice(b"Too,many@example.com,cells,here\nGood Seven,seven@example.com,G\n");
    assert!(csv.len() > 64 * 1024);
    let create = ImportRequest {
        on_duplicate: OnDuplicate::Create,
        ..Default::default()
    };
    let job = import(&app, &admin, "contact", "bad2.csv", &csv, create).await;
    let rows = app
        .core
        .import_ledger(&admin, job.id, Some("failed".into()), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        (job.tally.created, job.tally.failed),
        (pad + 1, 2),
        "{rows:?}"
    );
    let messages: Vec<String> = rows
        .iter()
        .flat_map(|r| r.errors.iter().map(|e| e.message.clone()))
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("UTF-8")),
        "the row in another encoding is named: {messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("columns")),
        "the row with too many cells is named: {messages:?}"
    );

    // a file without a column for a required field is refused before any row runs
    let id = upload(
        &app,
        &admin,
        "contact",
        "no-name.csv",
        b"email\nx@example.com\n",
    )
    .await;
    let e = app
        .core
        .start_import(&admin, id, ImportRequest::default())
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("name"), "{e:?}");

    // an XLSX with a formula (its value is imported), a formula error (that row fails) and
    // merged cells (the value is in the first cell of the merge)
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Name").unwrap();
    sheet.write_string(0, 1, "Title").unwrap();
    sheet.write_string(1, 0, "Formula Person").unwrap();
    sheet
        .write_formula(
            1,
            1,
            rust_xlsxwriter::Formula::new("=\"Head\"&\" of sales\"").set_result("Head of sales"),
        )
        .unwrap();
    sheet.write_string(2, 0, "Error Person").unwrap();
    sheet
        .write_formula(
            2,
            1,
            rust_xlsxwriter::Formula::new("=1/0").set_result("#DIV/0!"),
        )
        .unwrap();
    sheet
        .merge_range(3, 0, 3, 1, "Merged Person", &rust_xlsxwriter::Format::new())
        .unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let job = import(
        &app,
        &admin,
        "contact",
        "f.xlsx",
        &bytes,
        ImportRequest::default(),
    )
    .await;
    let rows = app
        .core
        .import_ledger(&admin, job.id, None, 0, 100)
        .await
        .unwrap();
    let list = records(
        &app,
        "contact",
        "&filter=name%20eq%20%22Formula%20Person%22",
    )
    .await;
    assert_eq!(list.len(), 1, "{rows:?}");
    assert_eq!(list[0]["title"], "Head of sales");
    let merged = records(&app, "contact", "&filter=name%20eq%20%22Merged%20Person%22").await;
    assert_eq!(merged.len(), 1, "{rows:?}");
    assert_eq!(
        rows.iter().filter(|r| r.outcome == "failed").count(),
        1,
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_job_whose_stored_file_is_short_refuses_to_run_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let id = upload(&app, &admin, "contact", "c.csv", b"name\nAnn\nBob\n").await;
    // as if the process died between storing the job and the last piece of its file
    app.core
        .store
        .write(move |conn| {
            conn.execute(
                &format!(
                    "DELETE FROM sys_import_files WHERE job_id = {}",
                    relata_store::dialect::placeholder(conn.dialect(), 1)
                ),
                &[relata_store::SqlValue::Uuid(id)],
            )
        })
        .await
        .map_err(|e: relata_store::StoreError| e)
        .unwrap();
    let e = app
        .core
        .start_import(&admin, id, ImportRequest::default())
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("did not complete"), "{e:?}");
    assert_eq!(common::count(&app, "contact").await, 0);
}
