//! The web UI in a real browser: Debian's chromium driven through chromedriver (WebDriver,
//! fantoccini). One walk through what a sales user does, with JavaScript on, and the same
//! essentials with JavaScript off. Screenshots of the key pages go to
//! `target/screenshots/` (CI keeps them as artifacts).
//!
//! Skipped when chromedriver is not installed, unless `RELATA_BROWSER_TESTS=required`
//! (set by `scripts/test.sh` on CI, which installs chromium).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use relata_testkit::TestApp;
use serde_json::{Value as Json, json};

const PASSWORD: &str = "correct-horse-battery-9";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// chromedriver on a free loopback port, or `None` (and the test is skipped) when it is not
/// installed and not required.
async fn start_driver() -> Option<Driver> {
    let Some(bin) = chromedriver() else {
        assert!(
            std::env::var("RELATA_BROWSER_TESTS").as_deref() != Ok("required"),
            "RELATA_BROWSER_TESTS=required but chromedriver is not installed (apt-get install chromium-driver)"
        );
        eprintln!("chromedriver not installed: browser test skipped");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // waited for by `Driver`'s Drop
    #[allow(clippy::zombie_processes)]
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(Driver { child, url });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(driver: &Driver, javascript: bool) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": args, "binary": "/usr/bin/chromium" }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

async fn css(c: &Client, selector: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
}

/// The text of `selector`, found again if the page replaced it meanwhile.
async fn text_of(c: &Client, selector: &str) -> String {
    for _ in 0..50 {
        if let Ok(t) = css(c, selector).await.text().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{selector} kept going stale");
}

/// Waits until `selector`'s text is `expected` (the page may be replaced meanwhile).
async fn wait_text(c: &Client, selector: &str, expected: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(selector)).await
            && let Ok(t) = e.text().await
        {
            if t == expected {
                return;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{selector} shows {last:?}, not {expected:?}");
}

async fn path_of(c: &Client) -> String {
    let url = c.current_url().await.expect("url");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Waits until the page's path starts with `prefix` (a submitted form has navigated).
async fn wait_path(c: &Client, prefix: &str) -> String {
    for _ in 0..100 {
        let p = path_of(c).await;
        if p.starts_with(prefix) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser stayed at {}, not {prefix}", path_of(c).await);
}

async fn fill(c: &Client, selector: &str, value: &str) {
    let field = css(c, selector).await;
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

async fn sign_in(c: &Client, base: &str) {
    c.goto(&format!("{base}/login")).await.expect("goto");
    fill(c, "#email", "admin@relata.local").await;
    fill(c, "#password", PASSWORD).await;
    shot(c, "01-sign-in").await;
    css(c, "form button.primary")
        .await
        .click()
        .await
        .expect("submit");
    wait_path(c, "/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_user_works_through_the_ui_in_a_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.set_password(&app.admin().await, PASSWORD).await;
    let base = app.base.trim_end_matches('/').to_owned();
    let c = browser(&driver, true).await;

    sign_in(&c, &base).await;
    shot(&c, "02-home").await;

    // an account, first with a validation error shown next to its field
    c.goto(&format!("{base}/o/account/new"))
        .await
        .expect("goto");
    fill(&c, "#f-email", "not-an-email").await;
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    let name_error = text_of(&c, "#e-name").await;
    assert!(
        !name_error.is_empty(),
        "the required name is reported by its field"
    );
    assert!(!text_of(&c, "#e-email").await.is_empty());
    let kept = css(&c, "#f-email")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(
        kept.as_deref(),
        Some("not-an-email"),
        "what was typed is kept"
    );
    shot(&c, "03-account-form-errors").await;
    fill(&c, "#f-name", "上海华远科技有限公司").await;
    fill(&c, "#f-email", "info@huayuan.example").await;
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    wait_path(&c, "/o/account/0").await;
    assert!(text_of(&c, "h1").await.contains("上海华远科技有限公司"));

    // a contact of that account, the account picked from the type-ahead
    c.goto(&format!("{base}/o/contact/new"))
        .await
        .expect("goto");
    fill(&c, "#f-name", "欧阳明轩").await;
    fill(&c, "#f-title", "采购经理").await;
    fill(&c, "#f-account_id", "华远").await;
    let suggestion = css(&c, ".lookup .instant a[data-id]").await;
    suggestion.click().await.expect("pick the account");
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    let contact_page = wait_path(&c, "/o/contact/0").await;
    assert!(
        text_of(&c, ".key-fields")
            .await
            .contains("上海华远科技有限公司")
    );
    shot(&c, "04-contact").await;

    // found again by two characters of the name in the instant search
    c.goto(&format!("{base}/")).await.expect("goto");
    css(&c, "body")
        .await
        .send_keys("/")
        .await
        .expect("slash focuses search");
    let search = css(&c, "#global-search").await;
    search.send_keys("明轩").await.expect("type");
    let hit = css(&c, "#instant-results a[href^='/o/contact/']").await;
    assert_eq!(
        hit.text().await.expect("text").split_whitespace().next(),
        Some("欧阳明轩")
    );
    shot(&c, "05-instant-search").await;
    hit.click().await.expect("open the hit");
    wait_path(&c, contact_page.split('?').next().unwrap_or_default()).await;

    // inline edit of the title
    css(&c, "[data-inline=title]")
        .await
        .click()
        .await
        .expect("pencil");
    fill(&c, "#v-title .inline-form #f-title", "采购总监").await;
    css(&c, "#v-title .inline-form button.primary")
        .await
        .click()
        .await
        .expect("save");
    wait_path(&c, "/o/contact/").await;
    // the page is already a contact's: wait for the saved value, not for the address
    wait_text(&c, "#v-title .shown", "采购总监").await;
    assert!(text_of(&c, ".timeline").await.contains("Contact created"));

    // the list with keyboard navigation
    c.goto(&format!("{base}/o/contact")).await.expect("goto");
    css(&c, "body").await.send_keys("j").await.expect("j");
    let current: Json = c
        .execute(
            "return document.querySelectorAll('tr.current').length",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(current, json!(1));
    shot(&c, "06-contact-list").await;

    // drag an opportunity from one stage to the next on the board
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "华远 ERP 二期", "stage": "qualification", "amount": "500000"}),
        )
        .await;
    let opp_id = opp["id"].as_str().unwrap().to_owned();
    c.goto(&format!("{base}/o/opportunity/board"))
        .await
        .expect("goto");
    css(&c, &format!("#card-{opp_id}")).await;
    shot(&c, "06a-board-before").await;
    // HTML5 drag and drop, as the browser dispatches it (WebDriver's pointer actions do not
    // start a native drag in headless chromium)
    c.execute(
        r#"
        const card = document.getElementById(arguments[0]);
        const target = document.querySelector('.column[data-value="' + arguments[1] + '"]');
        const data = new DataTransfer();
        card.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: data}));
        target.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: data}));
        target.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: data}));
        card.dispatchEvent(new DragEvent('dragend', {bubbles: true, dataTransfer: data}));
        "#,
        vec![json!(format!("card-{opp_id}")), json!("proposal")],
    )
    .await
    .expect("drag");
    let mut stage = Json::Null;
    for _ in 0..50 {
        stage = app
            .get(&format!("/api/v1/records/opportunity/{opp_id}"))
            .await
            .body["stage"]
            .clone();
        if stage == "proposal" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stage, "proposal", "the drop changed the stage");
    // the board was read again: the card sits in its new column, with the column's total
    wait_text(
        &c,
        ".column[data-value=proposal] .col-total",
        "CN¥500,000.00",
    )
    .await;
    wait_text(&c, ".column[data-value=qualification] .col-count", "0").await;
    assert!(
        text_of(&c, &format!(".column[data-value=proposal] #card-{opp_id}"))
            .await
            .contains("华远 ERP 二期")
    );
    shot(&c, "06b-board-after").await;

    // build a custom object with a field in settings, then create a record of it
    c.goto(&format!("{base}/settings/objects"))
        .await
        .expect("goto");
    fill(&c, "#o-label", "Project").await;
    fill(&c, "#o-plural", "Projects").await;
    fill(&c, "#o-api", "project").await;
    css(&c, "section[aria-labelledby=new-object] button.primary")
        .await
        .click()
        .await
        .expect("create");
    wait_path(&c, "/settings/objects/project").await;
    fill(&c, "#nf-label", "Budget").await;
    fill(&c, "#nf-api", "budget").await;
    css(&c, "#nf-type")
        .await
        .select_by_value("currency")
        .await
        .expect("type");
    css(&c, "section[aria-labelledby=new-field] button.primary")
        .await
        .click()
        .await
        .expect("add field");
    wait_path(&c, "/settings/objects/project").await;
    assert!(text_of(&c, "#fields").await.contains("budget"));
    shot(&c, "07a-settings-object").await;
    css(&c, "nav.side a[href='/o/project']")
        .await
        .click()
        .await
        .expect("nav to the new object");
    wait_path(&c, "/o/project").await;
    css(&c, "a.button.primary[href='/o/project/new']")
        .await
        .click()
        .await
        .expect("new");
    fill(&c, "#f-name", "ERP 升级").await;
    fill(&c, "#f-budget", "1,250,000").await;
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    wait_path(&c, "/o/project/0").await;
    assert!(text_of(&c, ".key-fields").await.contains("CN¥1,250,000.00"));

    // switch the language from the user menu
    c.goto(&format!("{base}/o/contact")).await.expect("goto");
    css(&c, ".user-menu summary")
        .await
        .click()
        .await
        .expect("menu");
    css(&c, ".user-menu button[name=lang]")
        .await
        .click()
        .await
        .expect("中文");
    wait_path(&c, "/o/contact").await;
    assert_eq!(
        text_of(&c, "main h1").await.split_whitespace().next(),
        Some("联系人")
    );
    let lang: Json = c
        .execute("return document.documentElement.lang", vec![])
        .await
        .expect("script");
    assert_eq!(lang, json!("zh-CN"));
    shot(&c, "07-contact-list-zh").await;

    // a phone-width screen: nothing wider than the screen
    c.set_window_size(390, 844).await.expect("resize");
    c.goto(&format!("{base}{contact_page}"))
        .await
        .expect("goto");
    let overflow: Json = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "the page scrolls sideways on a phone: {overflow}"
    );
    shot(&c, "08-contact-phone").await;

    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_navigating_and_submitting_forms_work_without_javascript() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.set_password(&app.admin().await, PASSWORD).await;
    app.create("account", &json!({"name": "北京云帆网络科技有限公司"}))
        .await;
    let base = app.base.trim_end_matches('/').to_owned();
    let c = browser(&driver, false).await;

    sign_in(&c, &base).await;
    css(&c, "nav.side a[href='/o/contact']")
        .await
        .click()
        .await
        .expect("nav");
    wait_path(&c, "/o/contact").await;
    css(&c, "a.button.primary[href='/o/contact/new']")
        .await
        .click()
        .await
        .expect("new");
    wait_path(&c, "/o/contact/new").await;
    fill(&c, "#f-name", "周婷").await;
    // without the type-ahead, the account is named as typed
    fill(&c, "#f-account_id", "北京云帆网络科技有限公司").await;
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    wait_path(&c, "/o/contact/0").await;
    assert!(
        text_of(&c, ".key-fields")
            .await
            .contains("北京云帆网络科技有限公司")
    );
    // the pencil falls back to the edit page
    css(&c, "[data-inline=title]")
        .await
        .click()
        .await
        .expect("pencil");
    wait_path(&c, "/o/contact/").await;
    assert!(path_of(&c).await.ends_with("/edit"));
    fill(&c, "#f-title", "财务经理").await;
    css(&c, "button[value=show]")
        .await
        .click()
        .await
        .expect("save");
    wait_path(&c, "/o/contact/0").await;
    assert_eq!(text_of(&c, "#v-title .shown").await, "财务经理");
    // the board's move form instead of drag and drop
    let opp = app
        .create(
            "opportunity",
            &json!({"name": "云帆 CRM", "stage": "prospecting"}),
        )
        .await;
    let opp_id = opp["id"].as_str().unwrap().to_owned();
    c.goto(&format!("{base}/o/opportunity/board"))
        .await
        .expect("goto");
    let select = css(&c, &format!("#move-{opp_id}")).await;
    select
        .select_by_value("negotiation")
        .await
        .expect("choose a column");
    css(&c, &format!("#card-{opp_id} form.move button"))
        .await
        .click()
        .await
        .expect("move");
    wait_path(&c, "/o/opportunity/board").await;
    css(
        &c,
        &format!(".column[data-value=negotiation] #card-{opp_id}"),
    )
    .await;
    let stored = app
        .get(&format!("/api/v1/records/opportunity/{opp_id}"))
        .await;
    assert_eq!(stored.body["stage"], "negotiation");
    // search by submitting the form
    fill(&c, "#global-search", "周婷").await;
    css(&c, "#global-search")
        .await
        .send_keys("\u{E007}")
        .await
        .expect("enter");
    wait_path(&c, "/search").await;
    assert!(text_of(&c, ".results").await.contains("周婷"));
    shot(&c, "09-no-javascript-search").await;
    c.close().await.expect("close");
}
