//! Converting a lead in the web UI (线索转化): the lead page's "Convert" button, the page that
//! proposes the customer's existing account and a new contact, the post that converts and
//! opens the contact, the converted lead's notice of what it became; refusals shown beside
//! what they are about with nothing written; and the page in Chinese.

use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::common::{DbState, id_of};

const PASSWORD: &str = "correct-horse-battery-9";
const HUAWEI: &str = "华为技术有限公司";

/// The pages of one lead to convert, the customer's account already in the CRM.
struct Story {
    app: TestApp,
    web: WebSession,
    account_id: String,
    lead_id: String,
}

impl Story {
    async fn new() -> Story {
        let app = TestApp::spawn().await;
        let web = app.web_as(&app.admin().await, PASSWORD).await;
        let account = app
            .create("account", &json!({"name": HUAWEI, "city": "深圳"}))
            .await;
        let lead = app
            .create(
                "lead",
                &json!({
                    "name": "张伟", "company": HUAWEI, "title": "采购总监",
                    "email": "zhang.wei@huawei.example", "source": "event"
                }),
            )
            .await;
        Story {
            account_id: id_of(&account),
            lead_id: id_of(&lead),
            app,
            web,
        }
    }

    fn lead_page(&self) -> String {
        format!("/o/lead/{}", self.lead_id)
    }

    fn convert_page(&self) -> String {
        format!("/o/lead/{}/convert", self.lead_id)
    }

    async fn record(&self, object: &str, id: &str) -> Json {
        let r = self
            .app
            .get(&format!("/api/v1/records/{object}/{id}"))
            .await;
        r.assert_status(200);
        r.body.clone()
    }

    /// Posts the conversion form as a browser would: the page's token, then `fields`.
    async fn post(&self, fields: &[(&str, &str)]) -> Page {
        let csrf = self.web.get(&self.convert_page()).await.csrf();
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.web.post(&self.convert_page(), &all).await
    }
}

/// The converted lead's notice of what it became, as shown at the top of its page.
fn converted_notice(page: &Page) -> String {
    let start = page
        .html
        .find("<p class=\"notice converted\"")
        .unwrap_or_else(|| panic!("no conversion notice on the page: {}", page.html));
    let end = page.html[start..]
        .find("</p>")
        .map_or(page.html.len(), |e| start + e);
    page.html[start..end].to_owned()
}

fn radio(name: &str, value: &str, checked: bool) -> String {
    format!(
        "<input type=\"radio\" name=\"{name}\" value=\"{value}\"{}>",
        if checked { " checked" } else { "" }
    )
}

#[tokio::test]
async fn a_lead_converts_into_its_existing_account_a_new_contact_and_an_opportunity() {
    let s = Story::new().await;
    let duplicate = s
        .app
        .create(
            "lead",
            &json!({"name": "张伟", "email": "zhang.wei@huawei.example"}),
        )
        .await;

    s.web
        .get(&s.lead_page())
        .await
        .assert_status(200)
        .assert_contains(&format!(
            "<a class=\"button primary\" href=\"{}\">Convert</a>",
            s.convert_page()
        ))
        .assert_not_contains("Converted on");
    s.web
        .get(&format!("/o/account/{}", s.account_id))
        .await
        .assert_not_contains("/convert\"");

    let page = s.web.get(&s.convert_page()).await;
    page.assert_status(200)
        .assert_contains(&format!(
            "{} {HUAWEI}</label>",
            radio("account", &s.account_id, true)
        ))
        .assert_contains("% match</span>")
        .assert_contains(&format!("href=\"/o/account/{}\"", s.account_id))
        .assert_contains(&radio("account", "new", false))
        .assert_contains(&radio("account", "none", false))
        .assert_contains("No contact you can see matches this lead.")
        .assert_contains(&radio("contact", "new", true))
        .assert_contains("name=\"contact.name\" type=\"text\" value=\"张伟\"")
        .assert_contains(&format!(
            "name=\"opportunity.name\" type=\"text\" value=\"{HUAWEI}\""
        ))
        .assert_contains("<input type=\"checkbox\" name=\"opportunity\" value=\"on\">")
        .assert_contains("<option value=\"qualification\">Qualification</option>")
        .assert_contains("<option value=\"prospecting\" selected>Prospecting</option>")
        .assert_contains("id=\"duplicate-leads\"")
        .assert_contains(&format!("href=\"/o/lead/{}\"", id_of(&duplicate)));

    let done = s
        .post(&[
            ("account", &s.account_id),
            ("contact", "new"),
            ("contact.name", "张伟"),
            ("opportunity", "on"),
            ("opportunity.name", "华为 2027 扩容"),
            ("opportunity.amount", "250,000"),
            ("opportunity.amount:currency", "CNY"),
            ("opportunity.stage", "qualification"),
            ("opportunity.close_date", "2027-03-31"),
        ])
        .await;
    done.assert_status(303);
    let location = done.location.clone().unwrap_or_default();
    let contact_id = location
        .strip_prefix("/o/contact/")
        .and_then(|rest| rest.strip_suffix("?saved=converted"))
        .unwrap_or_else(|| panic!("not the new contact's page: {location}"))
        .to_owned();

    let lead = s.record("lead", &s.lead_id).await;
    assert_eq!(lead["status"], "converted");
    assert_eq!(lead["converted_account_id"], s.account_id.as_str());
    assert_eq!(lead["converted_contact_id"], contact_id.as_str());
    let opportunity_id = lead["converted_opportunity_id"]
        .as_str()
        .expect("an opportunity was made")
        .to_owned();
    let contact = s.record("contact", &contact_id).await;
    assert_eq!(contact["name"], "张伟");
    assert_eq!(contact["email"], "zhang.wei@huawei.example");
    assert_eq!(
        contact["account_id"],
        s.account_id.as_str(),
        "the matched account"
    );
    let opportunity = s.record("opportunity", &opportunity_id).await;
    assert_eq!(opportunity["name"], "华为 2027 扩容");
    assert_eq!(opportunity["stage"], "qualification");
    assert_eq!(opportunity["close_date"], "2027-03-31");
    assert_eq!(opportunity["account_id"], s.account_id.as_str());
    assert_eq!(opportunity["contact_id"], contact_id.as_str());
    let amount = &opportunity["amount"];
    assert_eq!(amount["currency"], "CNY");
    assert_eq!(
        amount["amount"]
            .as_str()
            .and_then(|a| a.parse::<f64>().ok()),
        Some(250_000.0),
        "{amount}"
    );
    assert_eq!(
        crate::common::count(&s.app, "account").await,
        1,
        "matched, not duplicated"
    );

    s.web
        .get(&location)
        .await
        .assert_contains("<p class=\"notice\" role=\"status\">Lead converted.</p>");
    let lead_page = s.web.get(&s.lead_page()).await;
    lead_page.assert_not_contains(&s.convert_page());
    let notice = converted_notice(&lead_page);
    assert!(notice.contains("Converted on "), "{notice}");
    assert!(
        notice.ends_with(&format!(
            "<a href=\"/o/account/{}\">{HUAWEI}</a> / <a href=\"/o/contact/{contact_id}\">张伟</a> / <a href=\"/o/opportunity/{opportunity_id}\">华为 2027 扩容</a>",
            s.account_id
        )),
        "{notice}"
    );

    // converted once: the page and a second post lead back to the lead, making nothing
    let again = s.web.get(&s.convert_page()).await;
    again.assert_status(303);
    assert_eq!(again.location.as_deref(), Some(s.lead_page().as_str()));
    let before = DbState::capture(&s.app, &["account", "contact", "opportunity"]).await;
    let csrf = s.web.get(&s.lead_page()).await.csrf();
    let twice = s
        .web
        .post(
            &s.convert_page(),
            &[
                ("_csrf", &csrf),
                ("account", "new"),
                ("contact", "new"),
                ("contact.name", "张伟"),
            ],
        )
        .await;
    twice.assert_status(303);
    assert_eq!(twice.location.as_deref(), Some(s.lead_page().as_str()));
    before.assert_unchanged(&s.app, "a second conversion").await;
}

#[tokio::test]
async fn a_refused_conversion_shows_each_problem_where_it_belongs_and_writes_nothing() {
    let s = Story::new().await;
    let before = DbState::capture(&s.app, &["account", "contact", "opportunity", "lead"]).await;

    // a post from another site (no token) is refused before anything is read
    s.web
        .post(
            &s.convert_page(),
            &[
                ("account", "none"),
                ("contact", "new"),
                ("contact.name", "张伟"),
            ],
        )
        .await
        .assert_status(403);

    let bad_stage = s
        .post(&[
            ("account", &s.account_id),
            ("contact", "new"),
            ("contact.name", "张伟"),
            ("opportunity", "on"),
            ("opportunity.name", "华为 2027 扩容"),
            ("opportunity.stage", "won_already"),
        ])
        .await;
    bad_stage
        .assert_status(422)
        .assert_contains("The lead was not converted.")
        .assert_contains("<p class=\"field-error\" id=\"e-opportunity.stage\">")
        .assert_contains("is not one of:")
        .assert_contains("name=\"opportunity.stage\" aria-invalid=\"true\"")
        // what was typed and chosen is still there
        .assert_contains(&radio("account", &s.account_id, true))
        .assert_contains(&radio("contact", "new", true))
        .assert_contains("<input type=\"checkbox\" name=\"opportunity\" value=\"on\" checked>")
        .assert_contains("value=\"华为 2027 扩容\"")
        .assert_contains("<option value=\"won_already\" selected>")
        .assert_not_contains("id=\"e-contact.name\"");

    let no_name = s
        .post(&[
            ("account", "new"),
            ("account.name", "华为终端有限公司"),
            ("contact", "new"),
            ("contact.name", "  "),
        ])
        .await;
    no_name
        .assert_status(422)
        .assert_contains("<p class=\"field-error\" id=\"e-contact.name\">")
        .assert_contains("name=\"contact.name\" type=\"text\" value=\"  \"")
        .assert_contains(&radio("account", "new", true))
        .assert_contains("value=\"华为终端有限公司\"")
        .assert_contains("<input type=\"checkbox\" name=\"opportunity\" value=\"on\">")
        .assert_not_contains("id=\"e-opportunity.stage\"");

    // "no contact" is not a choice: said on the contact's part of the page
    s.post(&[("account", "none"), ("contact", "none")])
        .await
        .assert_status(422)
        .assert_contains("<ul class=\"field-error\" id=\"errors-contact\">");

    before
        .assert_unchanged(&s.app, "four refused conversions")
        .await;
    assert_eq!(s.record("lead", &s.lead_id).await["status"], "new");

    // someone who may only read the lead is offered no conversion, and cannot post one
    let reader = s.app.user("reader@example.com", json!({})).await;
    s.app
        .core
        .share_record(
            &s.app.admin().await,
            "lead",
            s.lead_id.parse().expect("uuid"),
            serde_json::from_value(
                json!({"principal": {"kind": "user", "id": reader.user_id.0}, "access": "read"}),
            )
            .expect("share"),
        )
        .await
        .expect("shared");
    let web = s.app.web_as(&reader, PASSWORD).await;
    web.get(&s.lead_page())
        .await
        .assert_status(200)
        .assert_contains("张伟")
        .assert_not_contains(&s.convert_page());
    web.get(&s.convert_page()).await.assert_status(404);
    let csrf = web.get(&s.lead_page()).await.csrf();
    web.post(
        &s.convert_page(),
        &[
            ("_csrf", &csrf),
            ("account", "none"),
            ("contact", "new"),
            ("contact.name", "张伟"),
        ],
    )
    .await
    .assert_status(404);
    assert_eq!(s.record("lead", &s.lead_id).await["status"], "new");
}

#[tokio::test]
async fn a_lead_without_a_company_becomes_a_contact_without_an_account() {
    let s = Story::new().await;
    let person = s
        .app
        .create("lead", &json!({"name": "李娜", "mobile": "13900139000"}))
        .await;
    let id = id_of(&person);
    let convert = format!("/o/lead/{id}/convert");
    let page = s.web.get(&convert).await;
    page.assert_status(200)
        .assert_contains("No account you can see matches this lead.")
        .assert_contains(&radio("account", "none", true))
        .assert_contains(&radio("account", "new", false))
        .assert_not_contains("id=\"duplicate-leads\"");
    let done = s
        .web
        .post(
            &convert,
            &[
                ("_csrf", &page.csrf()),
                ("account", "none"),
                ("contact", "new"),
                ("contact.name", "李娜"),
            ],
        )
        .await;
    done.assert_status(303);
    let lead = s.record("lead", &id).await;
    assert_eq!(lead["converted_account_id"], Json::Null);
    assert_eq!(lead["converted_opportunity_id"], Json::Null);
    let contact_id = lead["converted_contact_id"].as_str().expect("a contact");
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/o/contact/{contact_id}?saved=converted").as_str())
    );
    assert_eq!(
        s.record("contact", contact_id).await["account_id"],
        Json::Null
    );
    let notice = converted_notice(&s.web.get(&format!("/o/lead/{id}")).await);
    assert!(
        notice.ends_with(&format!(
            " into <a href=\"/o/contact/{contact_id}\">李娜</a>"
        )),
        "only the contact: {notice}"
    );
}

#[tokio::test]
async fn the_conversion_page_speaks_chinese() {
    let s = Story::new().await;
    s.web
        .submit(
            &s.lead_page(),
            "/lang",
            &[("lang", "zh-CN"), ("back", &s.lead_page())],
        )
        .await
        .assert_status(303);
    s.web
        .get(&s.lead_page())
        .await
        .assert_contains(&format!("href=\"{}\">转化</a>", s.convert_page()));
    s.web
        .get(&s.convert_page())
        .await
        .assert_status(200)
        .assert_contains("<html lang=\"zh-CN\">")
        .assert_contains("<h1>转化线索</h1>")
        .assert_contains("<legend>客户</legend>")
        .assert_contains("<legend>联系人</legend>")
        .assert_contains("<legend>商机</legend>")
        .assert_contains("匹配度 ")
        .assert_contains("新建客户")
        .assert_contains("不关联客户")
        .assert_contains("新建联系人")
        .assert_contains("同时创建商机")
        .assert_contains(">阶段")
        .assert_contains("<option value=\"qualification\">需求确认</option>")
        .assert_contains(">转化</button>")
        .assert_not_contains("Create a new account");

    let refused = s
        .post(&[
            ("account", &s.account_id),
            ("contact", "new"),
            ("contact.name", ""),
        ])
        .await;
    refused
        .assert_status(422)
        .assert_contains("线索未转化")
        .assert_contains("<p class=\"field-error\" id=\"e-contact.name\">此项为必填。</p>");

    let done = s
        .post(&[
            ("account", &s.account_id),
            ("contact", "new"),
            ("contact.name", "张伟"),
        ])
        .await;
    done.assert_status(303);
    s.web
        .get(done.location.as_deref().unwrap_or_default())
        .await
        .assert_contains("线索已转化。");
    let notice = converted_notice(&s.web.get(&s.lead_page()).await);
    assert!(
        notice.contains("已于 ") && notice.contains(" 转化为 <a href=\"/o/account/"),
        "{notice}"
    );
}
