//! The import pages through the real server, on both backends: a Chinese-heading CSV
//! uploaded from the list page, its columns matched by themselves on the mapping page, a dry
//! run with its counts and per-row errors, the import for real, the error report, and undo;
//! progress and cancel while a job waits or runs (and the background worker finishing it);
//! mistakes of the file and of the mapping shown on their forms; the import right; and the
//! same pages in Chinese.

use crate::common;

use relata_core::Core;
use relata_testkit::{Page, SpawnOptions, TestApp, WebSession};
use serde_json::{Value as Json, json};

const PASSWORD: &str = "correct-horse-battery-9";

const CONTACTS_ZH: &str = "\u{feff}姓名,邮箱,手机号,生日,所属客户,备注\n\
张伟,zhang.wei@example.cn,138 1234 5678,1990年3月5日,华为技术有限公司,老客户\n\
李娜,li.na@example.cn,+86 139-0000-1111,1988/12/01,,\n\
王芳,not-an-email,13700001111,1992-02-30,,\n\
赵强,zhao@example.cn,,,没有这家公司,\n";

/// Runs queued imports (and undos) to their end, as the server's worker would.
async fn run_all(core: &Core) {
    while core
        .run_next_import(None)
        .await
        .expect("run import")
        .is_some()
    {}
}

/// The job page a redirect leads to, without its one-time message.
fn job_path(page: &Page) -> String {
    let at = page
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect ({}): {}", page.status, page.html));
    let path = at.split('?').next().unwrap_or_default().to_owned();
    assert!(path.starts_with("/imports/"), "{at}");
    path
}

/// What a browser would send for each select of the page: its selected option, else its
/// first one.
fn selections(html: &str) -> Vec<(String, String)> {
    let select =
        regex::Regex::new(r#"(?s)<select[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>"#).unwrap();
    let chosen = regex::Regex::new(r#"<option value="([^"]*)" selected>"#).unwrap();
    let first = regex::Regex::new(r#"<option value="([^"]*)""#).unwrap();
    select
        .captures_iter(html)
        .map(|c| {
            let options = &c[2];
            let value = chosen
                .captures(options)
                .or_else(|| first.captures(options))
                .map(|v| v[1].to_owned())
                .unwrap_or_default();
            (c[1].to_owned(), value)
        })
        .collect()
}

fn selected(html: &str, name: &str) -> String {
    selections(html)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no select {name}"))
        .1
}

/// Posts the mapping form of `job` as the page shows it, with `changes` over it.
async fn submit_mapping(web: &WebSession, job: &str, changes: &[(&str, &str)]) -> Page {
    let page = web.get(job).await;
    page.assert_status(200);
    let mut fields: Vec<(String, String)> = vec![("_csrf".into(), page.csrf())];
    for (name, value) in selections(&page.html) {
        let value = changes
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(value, |(_, v)| (*v).to_owned());
        fields.push((name, value));
    }
    fields.extend(
        changes
            .iter()
            .filter(|(n, _)| *n == "run")
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    web.post(&format!("{job}/start"), &pairs).await
}

async fn contacts(app: &TestApp) -> Vec<Json> {
    let r = app.get("/api/v1/records/contact?limit=100").await;
    r.assert_status(200);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_chinese_csv_goes_through_mapping_a_dry_run_the_import_and_its_undo() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let account = app
        .create("account", &json!({"name": "华为技术有限公司"}))
        .await;

    // the list offers the import; its page takes CSV and Excel files
    web.get("/o/contact")
        .await
        .assert_contains("href=\"/o/contact/import\"");
    web.get("/o/contact/import")
        .await
        .assert_status(200)
        .assert_contains("enctype=\"multipart/form-data\"")
        .assert_contains("accept=\".csv,.xlsx\"");
    let uploaded = web
        .upload(
            "/o/contact/import",
            "/o/contact/import",
            "联系人.csv",
            CONTACTS_ZH.as_bytes(),
        )
        .await;
    uploaded.assert_status(303);
    let job = job_path(&uploaded);

    // the mapping page: every Chinese heading found its field, with a sample of the rows
    let mapping = web.get(&job).await;
    mapping
        .assert_status(200)
        .assert_contains("Import of 联系人.csv")
        .assert_contains("<label for=\"col0\">姓名</label>")
        .assert_contains("zhang.wei@example.cn")
        .assert_contains("<option value=\"\">— skip —</option>")
        .assert_contains("<option value=\"account_id_name\">Account (by name)</option>")
        .assert_contains("Check (dry run)");
    let guessed: Vec<String> = (0..6)
        .map(|i| selected(&mapping.html, &format!("col{i}")))
        .collect();
    assert_eq!(
        guessed,
        [
            "name",
            "email",
            "mobile",
            "birthday",
            "account_id",
            "description"
        ]
    );
    assert_eq!(selected(&mapping.html, "mode"), "create");
    assert_eq!(selected(&mapping.html, "on_duplicate"), "skip");
    assert_eq!(selected(&mapping.html, "date_order"), "ymd");

    // a dry run: queued first, shown with a progress bar, then its counts and bad rows
    let before = common::DbState::capture(&app, &["contact"]).await;
    let dry = submit_mapping(&web, &job, &[("run", "dry")]).await;
    dry.assert_status(303);
    let queued = web.get(dry.location.as_deref().unwrap()).await;
    queued
        .assert_contains("The dry run has started")
        .assert_contains("<progress")
        .assert_contains("data-running")
        .assert_contains("<meta http-equiv=\"refresh\" content=\"2\">");
    run_all(&app.core).await;
    let checked = web.get(&job).await;
    checked
        .assert_status(200)
        .assert_contains("Dry run: nothing was written.")
        .assert_contains("<dt>Created</dt><dd>2</dd>")
        .assert_contains("<dt>Failed</dt><dd>2</dd>")
        .assert_contains("<q>not-an-email</q>")
        .assert_contains("<strong>Birthday</strong> <q>1992-02-30</q>")
        .assert_contains("<strong>Account</strong> <q>没有这家公司</q>")
        .assert_contains("no account named &#39;没有这家公司&#39;")
        .assert_contains(&format!("href=\"{job}/errors.csv\""))
        .assert_contains("Import for real");
    assert!(!checked.html.contains("data-running"), "the job settled");
    assert!(
        !checked.html.contains("Undo import"),
        "a dry run has nothing to undo"
    );
    // the failed rows are rows 4 and 5 of the file (the headings are row 1)
    let rows = regex::Regex::new(r#"<tr><td class="num">(\d+)</td>"#).unwrap();
    let numbers: Vec<&str> = rows
        .captures_iter(&checked.html)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(numbers, ["4", "5"]);
    before.assert_unchanged(&app, "a dry run").await;

    // the error report downloads as CSV
    let report = web.get(&format!("{job}/errors.csv")).await;
    report.assert_status(200);
    assert_eq!(
        report.headers["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        report.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let text = report
        .html
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Row,Errors,姓名,邮箱,手机号,生日,所属客户,备注");
    assert!(
        lines[1].starts_with("4,") && lines[1].contains("not-an-email"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("5,") && lines[2].contains("没有这家公司"),
        "{text}"
    );

    // for real, with the same choices
    let real = web
        .submit(&job, &format!("{job}/start"), &[("again", "real")])
        .await;
    real.assert_status(303);
    web.get(real.location.as_deref().unwrap())
        .await
        .assert_contains("The import has started.")
        .assert_contains("<progress");
    run_all(&app.core).await;
    let done = web.get(&job).await;
    done.assert_contains("<dt>Created</dt><dd>2</dd>")
        .assert_contains("<dt>Failed</dt><dd>2</dd>")
        .assert_contains("Undo import")
        .assert_contains("data-confirm=\"Undo this import?");
    assert!(!done.html.contains("Dry run: nothing was written."));
    assert!(!done.html.contains("Import for real"));
    let list = contacts(&app).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let zhang = list.iter().find(|c| c["name"] == "张伟").expect("张伟");
    assert_eq!(zhang["mobile"], "+8613812345678");
    assert_eq!(zhang["birthday"], "1990-03-05");
    assert_eq!(zhang["account_id"], account["id"]);
    assert!(list.iter().any(|c| c["name"] == "李娜"));

    // the imports list shows the job
    web.get("/imports")
        .await
        .assert_contains(&format!("href=\"{job}\">联系人.csv</a>"))
        .assert_contains("2 created · 0 updated · 2 failed");

    // undo: the created records go, and the page says so
    let undo = web.submit(&job, &format!("{job}/undo"), &[]).await;
    undo.assert_status(303);
    web.get(undo.location.as_deref().unwrap())
        .await
        .assert_contains("The import is being undone.")
        .assert_contains("Undoing the import…");
    run_all(&app.core).await;
    let undone = web.get(&job).await;
    undone
        .assert_contains("Undone")
        .assert_contains("<dt>Undone</dt><dd>2</dd>");
    assert!(!undone.html.contains("Undo import"), "undone is final");
    assert!(
        contacts(&app).await.is_empty(),
        "the imported contacts are gone"
    );
}

#[tokio::test]
async fn a_waiting_import_shows_progress_and_cancels_and_the_worker_finishes_another() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let csv = "name,email\nAnn Lee,ann@example.com\nBob Wu,bob@example.com\n";
    let job = job_path(
        &web.upload(
            "/o/contact/import",
            "/o/contact/import",
            "people.csv",
            csv.as_bytes(),
        )
        .await,
    );
    submit_mapping(&web, &job, &[("run", "real")])
        .await
        .assert_status(303);
    let waiting = web.get(&job).await;
    waiting
        .assert_contains("Waiting to start…")
        .assert_contains("<progress")
        .assert_contains("Cancel the import");
    let cancelled = web.submit(&job, &format!("{job}/cancel"), &[]).await;
    cancelled.assert_status(303);
    web.get(cancelled.location.as_deref().unwrap())
        .await
        .assert_contains("The import was cancelled.")
        .assert_contains("Cancelled");
    run_all(&app.core).await;
    assert!(
        contacts(&app).await.is_empty(),
        "a cancelled job wrote nothing"
    );
    // cancelling again is no error, just said
    let again = web.submit(&job, &format!("{job}/cancel"), &[]).await;
    web.get(again.location.as_deref().unwrap())
        .await
        .assert_contains("This import has already finished.");

    // with the server's worker running, the page reaches the end by itself
    let app = TestApp::spawn_with(SpawnOptions {
        import_worker: true,
        ..Default::default()
    })
    .await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let job = job_path(
        &web.upload(
            "/o/contact/import",
            "/o/contact/import",
            "people.csv",
            csv.as_bytes(),
        )
        .await,
    );
    submit_mapping(&web, &job, &[("run", "real")])
        .await
        .assert_status(303);
    let mut page = web.get(&job).await;
    for _ in 0..200 {
        if !page.html.contains("data-running") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = web.get(&job).await;
    }
    page.assert_contains("<dt>Created</dt><dd>2</dd>")
        .assert_contains("Every row went through.");
    assert_eq!(contacts(&app).await.len(), 2);
}

#[tokio::test]
async fn mistakes_of_the_file_and_of_the_mapping_are_shown_on_their_forms() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let form = "/o/contact/import";
    let refused = web.upload(form, form, "notes.pdf", b"%PDF-1.4").await;
    refused
        .assert_status(422)
        .assert_contains("“notes.pdf” is not a file an import reads")
        .assert_contains("aria-invalid=\"true\"");
    web.upload(form, form, "empty.csv", b"")
        .await
        .assert_status(422)
        .assert_contains("The file is empty.");
    web.upload(form, form, "", b"")
        .await
        .assert_status(422)
        .assert_contains("Choose a file to import.");
    web.upload(form, form, "book.xlsx", b"not a zip")
        .await
        .assert_status(422)
        .assert_contains("The file cannot be read: not an Excel workbook");
    // no CSRF token, no upload
    let forged = web
        .post_multipart(form, &[], ("file", "c.csv", b"name\nX\n"))
        .await;
    forged.assert_status(403);
    assert!(
        app.core
            .import_jobs(&app.admin().await, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // two columns into one field, and an upsert whose key has no column
    let job = job_path(
        &web.upload(
            form,
            form,
            "c.csv",
            "name,email,备注\nAnn,ann@example.com,x\n".as_bytes(),
        )
        .await,
    );
    let twice = submit_mapping(&web, &job, &[("col2", "email"), ("run", "dry")]).await;
    twice
        .assert_status(422)
        .assert_contains("Two columns are mapped to “Email”: choose one.");
    assert_eq!(
        selected(&twice.html, "col2"),
        "email",
        "the form keeps what was chosen"
    );
    let keyless = submit_mapping(
        &web,
        &job,
        &[("mode", "upsert"), ("key", "id"), ("run", "dry")],
    )
    .await;
    keyless
        .assert_status(422)
        .assert_contains("No column is mapped to the key “ID”.");
    assert_eq!(selected(&keyless.html, "mode"), "upsert");
    // the job is still a draft: nothing started
    web.get(&job)
        .await
        .assert_contains("Waiting for the column mapping");
}

#[tokio::test]
async fn only_users_with_the_import_right_import_and_each_sees_their_own_jobs() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let rep = app.user("rep@example.com", json!({"name": "Rep"})).await;
    let rep_web = app.web_as(&rep, PASSWORD).await;
    rep_web.get("/o/contact").await.assert_status(200);
    assert!(
        !rep_web
            .get("/o/contact")
            .await
            .html
            .contains("/o/contact/import"),
        "no import link without the right"
    );
    rep_web
        .get("/o/contact/import")
        .await
        .assert_status(403)
        .assert_contains("You may not import Contacts.");
    let csrf = rep_web.get("/o/contact").await.csrf();
    rep_web
        .post_multipart(
            "/o/contact/import",
            &[("_csrf", &csrf)],
            ("file", "c.csv", b"name\nX\n"),
        )
        .await
        .assert_status(403);

    // someone given the right imports, and sees only their own jobs
    let profile = app
        .core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": "importer",
                "is_profile": true,
                "grants": {"default_objects": {"create": true, "read": true, "edit": true, "delete": true, "import": true}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let importer = app
        .user(
            "importer@example.com",
            json!({"name": "导入员", "profile_id": profile.id}),
        )
        .await;
    let web = app.web_as(&importer, PASSWORD).await;
    web.get("/o/contact")
        .await
        .assert_contains("href=\"/o/contact/import\"");
    let job = job_path(
        &web.upload(
            "/o/contact/import",
            "/o/contact/import",
            "mine.csv",
            b"name\nMine\n",
        )
        .await,
    );
    submit_mapping(&web, &job, &[("run", "real")])
        .await
        .assert_status(303);
    run_all(&app.core).await;
    web.get(&job)
        .await
        .assert_contains("<dt>Created</dt><dd>1</dd>");
    web.get("/o/contact/import")
        .await
        .assert_contains("mine.csv");

    // the rep cannot open it; the admin sees it, with who uploaded it
    rep_web.get(&job).await.assert_status(404);
    rep_web
        .get(&format!("{job}/errors.csv"))
        .await
        .assert_status(404);
    assert!(!rep_web.get("/imports").await.html.contains("mine.csv"));
    let admin_web = app.web_as(&admin, PASSWORD).await;
    admin_web
        .get("/imports")
        .await
        .assert_contains("mine.csv")
        .assert_contains("<td>导入员</td>");
}

#[tokio::test]
async fn the_import_pages_speak_chinese() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    app.create("account", &json!({"name": "华为技术有限公司"}))
        .await;
    web.submit(
        "/o/contact",
        "/lang",
        &[("lang", "zh-CN"), ("back", "/o/contact")],
    )
    .await
    .assert_status(303);
    web.get("/o/contact").await.assert_contains(">导入</a>");
    let form = "/o/contact/import";
    web.get(form)
        .await
        .assert_contains("<html lang=\"zh-CN\">")
        .assert_contains("导入联系人")
        .assert_contains("上传并对应列");
    web.upload(form, form, "笔记.pdf", b"%PDF")
        .await
        .assert_status(422)
        .assert_contains("“笔记.pdf”不是可导入的文件");
    web.upload(form, form, "空.csv", b"")
        .await
        .assert_contains("文件是空的。");

    let job = job_path(
        &web.upload(form, form, "联系人.csv", CONTACTS_ZH.as_bytes())
            .await,
    );
    web.get(&job)
        .await
        .assert_contains("对应列")
        .assert_contains("<option value=\"\">— 跳过 —</option>")
        .assert_contains("<option value=\"mobile\" selected>手机</option>")
        .assert_contains("<option value=\"account_id_name\">客户（按名称）</option>")
        .assert_contains("检查（试运行）");
    submit_mapping(&web, &job, &[("run", "dry")])
        .await
        .assert_status(303);
    web.get(&job)
        .await
        .assert_contains("等待开始…")
        .assert_contains("取消导入");
    run_all(&app.core).await;
    web.get(&job)
        .await
        .assert_contains("试运行：没有写入任何数据。")
        .assert_contains("<dt>新建</dt><dd>2</dd>")
        .assert_contains("<dt>失败</dt><dd>2</dd>")
        .assert_contains("<strong>邮箱</strong> <q>not-an-email</q> — 不是有效的邮箱地址。")
        .assert_contains("<strong>生日</strong> <q>1992-02-30</q> — 不是有效的日期。")
        .assert_contains("<strong>客户</strong> <q>没有这家公司</q> — 找不到该记录。")
        .assert_contains("下载错误报告（CSV）")
        .assert_contains("正式导入");
    web.get("/imports")
        .await
        .assert_contains("导入记录")
        .assert_contains("新建 2 · 更新 0 · 失败 2")
        .assert_contains("试运行");
}

/// Controls without a name: neither a `<label for>` their id, nor wrapped, nor an
/// `aria-label` (the same rule as web_pages.rs applies to every other page).
fn unlabelled_controls(html: &str) -> Vec<String> {
    let tag = regex::Regex::new(r#"<(input|select|textarea)\b[^>]*>"#).unwrap();
    let attr = |t: &str, name: &str| -> Option<String> {
        let re = regex::Regex::new(&format!(r#"\b{name}="([^"]*)""#)).unwrap();
        re.captures(t).map(|c| c[1].to_owned())
    };
    tag.find_iter(html)
        .map(|m| m.as_str())
        .filter(|t| !matches!(attr(t, "type").as_deref(), Some("hidden" | "submit")))
        .filter(|t| {
            let labelled = attr(t, "id").is_some_and(|id| html.contains(&format!("for=\"{id}\"")));
            !(labelled || attr(t, "aria-label").is_some())
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_control_of_the_import_pages_has_a_label() {
    let app = TestApp::spawn().await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;
    let job = job_path(
        &web.upload(
            "/o/contact/import",
            "/o/contact/import",
            "c.csv",
            CONTACTS_ZH.as_bytes(),
        )
        .await,
    );
    let mut pages = vec![
        web.get("/o/contact/import").await,
        web.get(&job).await,
        web.upload("/o/contact/import", "/o/contact/import", "c.pdf", b"%PDF")
            .await,
    ];
    submit_mapping(&web, &job, &[("run", "dry")])
        .await
        .assert_status(303);
    pages.push(web.get(&job).await); // waiting, with its progress bar
    run_all(&app.core).await;
    pages.push(web.get(&job).await); // the dry run's result, and the mapping again
    pages.push(web.get("/imports").await);
    for page in &pages {
        assert!(page.html.contains("<main id=\"main\""), "{}", page.html);
        let missing = unlabelled_controls(&page.html);
        assert!(missing.is_empty(), "controls without a label: {missing:#?}");
    }
    assert_eq!(
        unlabelled_controls(r#"<select name="x"></select>"#).len(),
        1
    );
}
