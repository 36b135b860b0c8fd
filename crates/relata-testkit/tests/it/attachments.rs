//! Files attached to records through the real server: upload (what a file is comes from its
//! content), list, download with safe headers, the timeline, removal; who may do what; and
//! the web page's form. Both backends; files kept in the database (the default).

use crate::common;

use relata_testkit::TestApp;
use reqwest::Method;
use serde_json::json;

use common::{id_of, share};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

#[tokio::test]
async fn a_file_is_attached_listed_downloaded_shown_on_the_timeline_and_removed() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "华远科技"})).await;
    let id = id_of(&acct);
    let url = format!("/api/v1/records/account/{id}/attachments");
    let up = app
        .send_raw(
            Method::POST,
            &format!("{url}?file_name={}", common::urlencode("合同 2026.pdf")),
            "application/octet-stream",
            PDF.to_vec(),
        )
        .await;
    up.assert_status(201);
    assert_eq!(up.body["content_type"], "application/pdf");
    assert_eq!(up.body["bytes"], PDF.len());
    assert_eq!(up.body["file_name"], "合同 2026.pdf");
    let file_id = up.body["id"].as_str().unwrap().to_owned();

    // a bigger one in several pieces, and text by its extension
    let big: Vec<u8> = PDF
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'x', 3 << 20))
        .collect();
    app.send_raw(
        Method::POST,
        &format!("{url}?file_name=scan.pdf"),
        "application/pdf",
        big.clone(),
    )
    .await
    .assert_status(201);
    app.send_raw(
        Method::POST,
        &format!("{url}?file_name=notes.txt"),
        "text/plain",
        "纪要".as_bytes().to_vec(),
    )
    .await
    .assert_status(201);

    let list = app.get(&url).await;
    let names: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["notes.txt", "scan.pdf", "合同 2026.pdf"],
        "newest first"
    );

    let down = app.get(&format!("/api/v1/attachments/{file_id}")).await;
    down.assert_status(200);
    assert_eq!(
        down.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        down.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let disposition = down.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E5%90%88%E5%90%8C%202026.pdf"),
        "{disposition}"
    );
    assert_eq!(down.text.as_bytes(), PDF);
    let scan_id = list.body["data"][1]["id"].as_str().unwrap().to_owned();
    let big_down = app.get(&format!("/api/v1/attachments/{scan_id}")).await;
    assert_eq!(big_down.text.len(), big.len(), "every piece, in order");

    let timeline = app
        .get(&format!(
            "/api/v1/records/account/{id}/timeline?kinds=attachment"
        ))
        .await;
    timeline.assert_status(200);
    assert_eq!(
        timeline.body["data"].as_array().unwrap().len(),
        3,
        "{}",
        timeline.text
    );
    assert_eq!(timeline.body["data"][2]["title"], "合同 2026.pdf");

    app.send_raw(
        Method::DELETE,
        &format!("/api/v1/attachments/{file_id}"),
        "application/json",
        vec![],
    )
    .await
    .assert_status(204);
    app.get(&format!("/api/v1/attachments/{file_id}"))
        .await
        .assert_status(404);
    assert_eq!(
        app.get(&url).await.body["data"].as_array().unwrap().len(),
        2
    );
    let audit = app
        .get("/api/v1/admin/audit?action=attachment.create")
        .await;
    assert!(audit.text.contains("合同 2026.pdf"), "{}", audit.text);
}

#[tokio::test]
async fn programs_pages_empty_and_nameless_files_are_refused_and_nothing_is_kept() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "华远"})).await;
    let url = format!("/api/v1/records/account/{}/attachments", id_of(&acct));
    for (name, data) in [
        ("invoice.pdf", b"MZ\x90\0\x03\0\0\0\x04\0\0\0".to_vec()),
        (
            "page.html",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("empty.txt", Vec::new()),
        ("run.sh", b"#!/bin/sh\nrm -rf /\n".to_vec()),
    ] {
        let r = app
            .send_raw(
                Method::POST,
                &format!("{url}?file_name={name}"),
                "application/pdf",
                data,
            )
            .await;
        r.assert_status(422);
        assert_eq!(r.error_fields(), vec!["file"], "{name}: {}", r.text);
    }
    let r = app
        .send_raw(Method::POST, &url, "application/pdf", PDF.to_vec())
        .await;
    assert_eq!(r.error_fields(), vec!["file_name"]);
    assert_eq!(app.get(&url).await.body["data"], json!([]));
    app.send_raw(
        Method::POST,
        &format!(
            "/api/v1/records/account/{}/attachments?file_name=a.pdf",
            uuid::Uuid::now_v7()
        ),
        "application/pdf",
        PDF.to_vec(),
    )
    .await
    .assert_status(404);
}

#[tokio::test]
async fn only_who_sees_the_record_gets_its_files_and_only_who_edits_it_changes_them() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let other = app
        .user("other@example.com", json!({"name": "Other"}))
        .await;
    let (rep_client, other_client) = (app.client_for(&rep).await, app.client_for(&other).await);
    let acct = rep_client
        .create("account", &json!({"name": "我的客户"}))
        .await;
    let id = id_of(&acct);
    let url = format!("/api/v1/records/account/{id}/attachments");
    let up = rep_client
        .send_raw(
            Method::POST,
            &format!("{url}?file_name=a.pdf"),
            "application/pdf",
            PDF.to_vec(),
        )
        .await;
    up.assert_status(201);
    let file = format!("/api/v1/attachments/{}", up.body["id"].as_str().unwrap());
    // not visible: nothing to see, nothing to add, nothing to remove
    other_client.get(&url).await.assert_status(404);
    other_client.get(&file).await.assert_status(404);
    other_client
        .send_raw(
            Method::POST,
            &format!("{url}?file_name=b.pdf"),
            "application/pdf",
            PDF.to_vec(),
        )
        .await
        .assert_status(404);
    other_client
        .send_raw(Method::DELETE, &file, "application/json", vec![])
        .await
        .assert_status(404);
    // shared for reading: download yes, change no
    share(&rep_client, "account", &id, &other, "read").await;
    other_client.get(&file).await.assert_status(200);
    other_client
        .send_raw(
            Method::POST,
            &format!("{url}?file_name=b.pdf"),
            "application/pdf",
            PDF.to_vec(),
        )
        .await
        .assert_status(403);
    other_client
        .send_raw(Method::DELETE, &file, "application/json", vec![])
        .await
        .assert_status(403);
    assert_eq!(
        rep_client.get(&url).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_record_page_attaches_lists_and_removes_files() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.set_password(&admin, "correct-horse-battery-9").await;
    let web = app.web_as(&admin, "correct-horse-battery-9").await;
    let acct = app.create("account", &json!({"name": "华远"})).await;
    let here = format!("/o/account/{}", id_of(&acct));
    let page = web.get(&here).await;
    page.assert_contains("No files yet.");
    let csrf = page.csrf();
    let sent = web
        .post_multipart(
            &format!("{here}/attachments"),
            &[("_csrf", &csrf)],
            ("file", "报价单.pdf", PDF),
        )
        .await;
    sent.assert_status(303);
    let page = web.get(&format!("{here}?saved=attached")).await;
    page.assert_contains("The file is attached.")
        .assert_contains("报价单.pdf");
    let refused = web
        .post_multipart(
            &format!("{here}/attachments"),
            &[("_csrf", &csrf)],
            ("file", "virus.pdf", b"MZ\x90\0\x03\0\0\0"),
        )
        .await;
    refused.assert_status(422);
    refused.assert_contains("was not attached");
    web.post_multipart(
        &format!("{here}/attachments"),
        &[("_csrf", "forged")],
        ("file", "x.pdf", PDF),
    )
    .await
    .assert_status(403);
    let link = page
        .html
        .split("href=\"/attachments/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a download link")
        .to_owned();
    let file = web.get(&format!("/attachments/{link}")).await;
    file.assert_status(200);
    web.post(
        &format!("/attachments/{link}/delete"),
        &[("_csrf", &csrf), ("back", &here)],
    )
    .await
    .assert_status(303);
    web.get(&here).await.assert_contains("No files yet.");
}
