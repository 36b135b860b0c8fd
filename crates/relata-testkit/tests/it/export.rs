//! Export through the real server: CSV, XLSX, JSON Lines and vCard files of a view or of
//! picked records, with the export permission, record visibility and field-level security
//! applied, formulas defused, paging through more records than one page, and an audit entry.

use relata_testkit::{TestApp, WebSession};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-9";

/// The records of a CSV export (header first), BOM stripped.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let body = text
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a BOM");
    csv_reader(body).collect()
}

/// A minimal CSV reader for the tests (quoted fields with doubled quotes, CRLF or LF).
fn csv_reader(text: &str) -> std::vec::IntoIter<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows.into_iter()
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

async fn exporter(app: &TestApp, email: &str) -> relata_core::Actor {
    let admin = app.admin().await;
    let profile = app
        .core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": format!("exporter {email}"),
                "is_profile": true,
                "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true, "export": true},
                    "fields": {"account": {"annual_revenue": "hidden"}}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    app.user(email, json!({"name": email, "profile_id": profile.id}))
        .await
}

#[tokio::test]
async fn a_csv_export_holds_what_the_reader_may_see_with_names_and_currencies() {
    let app = TestApp::spawn().await;
    let rep = exporter(&app, "rep@example.com").await;
    let rep_client = app.client_for(&rep).await;
    let mine = rep_client
        .create(
            "account",
            &json!({"name": "华远科技, \"总部\"", "industry": "technology", "city": "上海"}),
        )
        .await;
    rep_client
        .create(
            "contact",
            &json!({"name": "=HYPERLINK(\"http://evil\")", "title": "-2+3", "account_id": mine["id"]}),
        )
        .await;
    app.create(
        "account",
        &json!({"name": "别人的客户", "annual_revenue": {"amount": "5000000", "currency": "USD"}}),
    )
    .await;

    let file = rep_client.get("/api/v1/records/account/export").await;
    file.assert_status(200);
    assert_eq!(
        file.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        file.header("content-disposition")
            .unwrap()
            .contains("account-export.csv")
    );
    let rows = csv_rows(&file.text);
    assert_eq!(
        rows.len(),
        2,
        "the header and the rep's own account: {rows:?}"
    );
    assert_eq!(rows[1][column(&rows, "name")], "华远科技, \"总部\"");
    assert_eq!(rows[1][column(&rows, "owner_id_name")], "rep@example.com");
    assert!(
        !rows[0].iter().any(|h| h.starts_with("annual_revenue")),
        "a hidden field is not exported: {:?}",
        rows[0]
    );

    let contacts = csv_rows(&rep_client.get("/api/v1/records/contact/export").await.text);
    assert_eq!(
        contacts[1][column(&contacts, "name")],
        "'=HYPERLINK(\"http://evil\")"
    );
    assert_eq!(contacts[1][column(&contacts, "title")], "'-2+3");
    assert_eq!(
        contacts[1][column(&contacts, "account_id_name")],
        "华远科技, \"总部\""
    );

    // the administrator sees both accounts, and money with its currency
    let all = csv_rows(
        &app.get("/api/v1/records/account/export?sort=name&filter=annual_revenue%20gte%201000")
            .await
            .text,
    );
    assert_eq!(all.len(), 2);
    assert_eq!(all[1][column(&all, "annual_revenue")], "5000000.00");
    assert_eq!(all[1][column(&all, "annual_revenue_currency")], "USD");
    let labelled = csv_rows(
        &app.get("/api/v1/records/account/export?header=labels&fields=name,annual_revenue")
            .await
            .text,
    );
    assert_eq!(
        labelled[0],
        vec![
            "Account name",
            "Annual revenue",
            "Annual revenue (currency)"
        ]
    );

    // the export is in the audit log, with its format
    let audit = app.get("/api/v1/admin/audit?action=record.export").await;
    audit.assert_status(200);
    let entries = audit.body["data"].as_array().unwrap();
    assert!(entries.len() >= 4, "{entries:?}");
    assert!(
        entries
            .iter()
            .any(|e| e["detail"]["format"] == "csv" && e["detail"]["object"] == "contact"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn export_needs_the_export_permission_and_names_bad_parameters() {
    let app = TestApp::spawn().await;
    // the standard profile works with records but does not take them out
    let rep = app.user("plain@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    rep_client
        .get("/api/v1/records/account/export")
        .await
        .assert_status(403);
    app.get("/api/v1/records/account/export?format=pdf")
        .await
        .assert_status(422);
    let unknown = app
        .get("/api/v1/records/account/export?fields=name,nope")
        .await;
    unknown.assert_status(422);
    assert_eq!(unknown.error_fields(), vec!["fields"]);
    app.get("/api/v1/records/account/export?format=vcf")
        .await
        .assert_status(422);
    app.get("/api/v1/records/nothing/export")
        .await
        .assert_status(404);
    app.get("/api/v1/records/account/export?ids=not-an-id")
        .await
        .assert_status(422);
}

#[tokio::test]
async fn json_lines_page_through_every_record_and_picked_ids_narrow_it() {
    let app = TestApp::spawn().await;
    let records: Vec<serde_json::Value> = (0..1_234)
        .map(|i| json!({"id": uuid::Uuid::new_v4().to_string(), "name": format!("联系人{i:04}"), "email": format!("c{i}@example.com")}))
        .collect();
    app.post(
        "/api/v1/records/contact/bulk",
        &json!({"key": "id", "records": records}),
    )
    .await
    .assert_status(200);
    let file = app
        .get("/api/v1/records/contact/export?format=jsonl&fields=name,email&sort=name")
        .await;
    file.assert_status(200);
    let lines: Vec<serde_json::Value> = file
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1_234, "three pages, every record once");
    assert_eq!(lines[0]["name"], "联系人0000");
    assert_eq!(lines[1_233]["name"], "联系人1233");
    assert!(lines[5].get("city").is_none() && lines[5].get("id").is_some());
    let ids = format!(
        "{},{}",
        lines[3]["id"].as_str().unwrap(),
        lines[7]["id"].as_str().unwrap()
    );
    let picked = app
        .get(&format!(
            "/api/v1/records/contact/export?format=jsonl&ids={ids}"
        ))
        .await;
    assert_eq!(picked.text.lines().count(), 2);
}

#[tokio::test]
async fn xlsx_and_vcard_files_carry_the_records() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "云帆集团"})).await;
    app.create(
        "contact",
        &json!({"name": "李娜", "last_name": "李", "first_name": "娜", "mobile": "+8613900001111", "account_id": acct["id"], "title": "CTO"}),
    )
    .await;
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/records/contact/export?format=xlsx",
            app.base
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let bytes = raw.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a zip archive");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    let mut strings = String::new();
    if let Ok(mut s) = archive.by_name("xl/sharedStrings.xml") {
        std::io::Read::read_to_string(&mut s, &mut strings).unwrap();
    }
    let all = format!("{sheet}{strings}");
    for text in ["李娜", "云帆集团", "+8613900001111", "account_id_name"] {
        assert!(all.contains(text), "{text} in the workbook");
    }

    let card = app.get("/api/v1/records/contact/export?format=vcf").await;
    card.assert_status(200);
    assert_eq!(
        card.header("content-type").as_deref(),
        Some("text/vcard; charset=utf-8")
    );
    for line in [
        "BEGIN:VCARD\r\nVERSION:4.0\r\n",
        "FN:李娜\r\n",
        "N:李;娜;;;\r\n",
        "ORG:云帆集团;\r\n",
        "TITLE:CTO\r\n",
        "TEL;TYPE=\"cell,voice\":+8613900001111\r\n",
    ] {
        assert!(card.text.contains(line), "{line:?} in {}", card.text);
    }
}

#[tokio::test]
async fn the_list_page_downloads_its_view_and_the_ticked_records() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, PASSWORD).await;
    let web: WebSession = app.web_as(&admin, PASSWORD).await;
    let sh = app
        .create("account", &json!({"name": "上海甲", "city": "上海"}))
        .await;
    app.create("account", &json!({"name": "上海乙", "city": "上海"}))
        .await;
    app.create("account", &json!({"name": "北京丙", "city": "北京"}))
        .await;
    let list = web
        .get("/o/account?f0=city&o0=eq&v0=%E4%B8%8A%E6%B5%B7")
        .await;
    let href = "/o/account/export?f0=city&#38;o0=eq&#38;v0=%E4%B8%8A%E6%B5%B7&#38;format=csv";
    list.assert_contains(href);
    let file = web.get(&href.replace("&#38;", "&")).await;
    file.assert_status(200);
    let rows = csv_rows(&file.html);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].contains(&"Account name".to_owned()),
        "{:?}",
        rows[0]
    );
    assert!(
        rows.iter()
            .skip(1)
            .all(|r| !r.contains(&"北京丙".to_owned()))
    );

    let picked = web
        .submit(
            "/o/account",
            "/o/account/bulk",
            &[
                ("action", "export_csv"),
                ("ids", sh["id"].as_str().unwrap()),
            ],
        )
        .await;
    picked.assert_status(200);
    let rows = csv_rows(&picked.html);
    assert_eq!(rows.len(), 2);
    assert!(rows[1].contains(&"上海甲".to_owned()));
}
