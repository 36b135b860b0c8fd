//! Pipelines (销售流程) in the settings pages: an admin starts one from the standard stages,
//! reorders, adds, removes and asks for fields on its page, sees a bad edit refused beside
//! the row it was typed on with nothing saved, cannot delete one a deal is in (told why, in
//! English and Chinese), and reps do not get in.

use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::common::id_of;

const PASSWORD: &str = "correct-horse-battery-9";

async fn admin_web(app: &TestApp) -> WebSession {
    app.web_as(&app.admin().await, PASSWORD).await
}

/// Creates pipeline `name` through the list page's form; answers the page it opens on.
async fn create(web: &WebSession, name: &str, label: &str) -> Page {
    let made = web
        .submit(
            "/settings/pipelines",
            "/settings/pipelines",
            &[("name", name), ("label", label)],
        )
        .await;
    made.assert_status(303);
    let to = made.location.clone().unwrap_or_default();
    assert!(
        to.starts_with(&format!("/settings/pipelines/{name}?")),
        "{to}"
    );
    let page = web.get(&to).await;
    page.assert_status(200);
    page
}

async fn switch_to_chinese(web: &WebSession, here: &str) {
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await
        .assert_status(303);
}

/// The pipeline as the API has it.
async fn stored(app: &TestApp, name: &str) -> Json {
    let r = app.get(&format!("/api/v1/pipelines/{name}")).await;
    r.assert_status(200);
    r.body
}

fn stage_values(pipeline: &Json) -> Vec<String> {
    pipeline["stages"]
        .as_array()
        .map(|stages| {
            stages
                .iter()
                .map(|s| s["value"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One stage row of the edit form: (row, value, existing, order, probability, category,
/// required fields).
type Row<'a> = (
    usize,
    &'a str,
    bool,
    &'a str,
    &'a str,
    &'a str,
    &'a [&'a str],
);

/// The fields the edit form posts for `rows` (nine rows: the form shows the five standard
/// open stages, two blank rows, then the two closed stages).
fn edit_fields(label: &str, rows: &[Row<'_>], extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut fields = vec![
        ("label".to_owned(), label.to_owned()),
        ("active".to_owned(), "false".to_owned()),
        ("active".to_owned(), "true".to_owned()),
        ("stage_rows".to_owned(), "9".to_owned()),
    ];
    for (i, value, existing, order, probability, category, required) in rows {
        let mut put = |part: &str, v: &str| fields.push((format!("stage{i}_{part}"), v.to_owned()));
        if *existing {
            put("existing", "true");
        }
        put("value", value);
        if !order.is_empty() {
            put("order", order);
            put("probability", probability);
            put("forecast_category", category);
        }
        for f in *required {
            put("required", f);
        }
    }
    fields.extend_from_slice(extra);
    fields
}

async fn post_edit(web: &WebSession, name: &str, fields: &[(String, String)]) -> Page {
    let here = format!("/settings/pipelines/{name}");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    web.submit(&here, &here, &pairs).await
}

#[tokio::test]
async fn an_admin_starts_a_pipeline_from_the_standard_stages() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;

    let list = web.get("/settings/pipelines").await;
    list.assert_status(200)
        .assert_contains("<a href=\"/settings/pipelines\" aria-current=\"page\">Pipelines</a>")
        .assert_contains("<a href=\"/settings/pipelines/new_business\">New business</a>")
        .assert_contains("These are the standard pipelines")
        .assert_contains("<td>Proposal</td><td class=\"num\">60%</td><td>Best case</td>")
        .assert_contains("action=\"/settings/pipelines/new_business/delete\"");
    // the settings navigation leads here, next to pools
    web.get("/settings/pools")
        .await
        .assert_contains("<a href=\"/settings/pipelines\">Pipelines</a>");

    let page = create(&web, "project_sale", "项目型销售").await;
    page.assert_contains("Pipeline created.")
        .assert_contains("<h1>项目型销售 <code>project_sale</code></h1>")
        .assert_contains("<input type=\"hidden\" name=\"stage4_value\" value=\"negotiation\">")
        .assert_contains("name=\"stage_rows\" value=\"9\"");

    let all = app.core.pipelines().expect("pipelines");
    assert!(!all.standard);
    let made = all
        .pipelines
        .iter()
        .find(|p| p.name == "project_sale")
        .expect("the new pipeline");
    assert_eq!(made.label, "项目型销售");
    assert!(made.active);
    let r = app.get("/api/v1/pipelines").await;
    r.assert_status(200);
    let listed: Vec<&Json> = r.body["pipelines"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    assert_eq!(listed.len(), 2, "{}", r.body);
    assert_eq!(
        stage_values(listed[1]),
        [
            "prospecting",
            "qualification",
            "needs_analysis",
            "proposal",
            "negotiation",
            "closed_won",
            "closed_lost"
        ]
    );
    assert_eq!(listed[1]["stages"][3]["probability"], 60);

    // a name taken or malformed creates nothing, and says so beside the name
    let again = web
        .submit(
            "/settings/pipelines",
            "/settings/pipelines",
            &[("name", "project_sale"), ("label", "Another")],
        )
        .await;
    again
        .assert_status(422)
        .assert_contains("id=\"p-name-error\">there is already a pipeline named project_sale</p>")
        .assert_contains("value=\"Another\"");
    assert_eq!(stored(&app, "project_sale").await["label"], "项目型销售");
    web.submit(
        "/settings/pipelines",
        "/settings/pipelines",
        &[("name", "Project Sale"), ("label", "")],
    )
    .await
    .assert_status(422)
    .assert_contains("id=\"p-name-error\">&#39;Project Sale&#39; is not a valid API name")
    .assert_contains("id=\"p-label-error\">");
    assert_eq!(app.core.pipelines().expect("pipelines").pipelines.len(), 2);
}

#[tokio::test]
async fn an_admin_sets_the_stages_and_a_bad_edit_is_shown_on_its_row_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    create(&web, "project_sale", "项目型销售").await;

    // qualification removed; a new stage typed on blank row 5 goes second by its number;
    // needs analysis asks for the amount, proposal for a close date, won for a win reason
    let saved = post_edit(
        &web,
        "project_sale",
        &edit_fields(
            "项目型销售",
            &[
                (0, "prospecting", true, "1", "10", "pipeline", &[]),
                (1, "qualification", true, "2", "20", "pipeline", &[]),
                (
                    2,
                    "needs_analysis",
                    true,
                    "3",
                    "40",
                    "pipeline",
                    &["amount"],
                ),
                (3, "proposal", true, "4", "60", "best_case", &["close_date"]),
                (4, "negotiation", true, "5", "85", "commit", &[]),
                (5, "site_visit", false, "2", "25", "pipeline", &[]),
                (7, "closed_won", true, "", "", "", &["win_reason"]),
                (8, "closed_lost", true, "", "", "", &[]),
            ],
            &[
                ("stage1_remove".into(), "true".into()),
                ("stage5_label".into(), "现场考察".into()),
            ],
        ),
    )
    .await;
    saved.assert_status(303);
    let to = saved.location.clone().unwrap_or_default();
    let p = stored(&app, "project_sale").await;
    assert_eq!(
        stage_values(&p),
        [
            "prospecting",
            "site_visit",
            "needs_analysis",
            "proposal",
            "negotiation",
            "closed_won",
            "closed_lost"
        ]
    );
    assert_eq!(p["stages"][1]["probability"], 25);
    assert_eq!(p["stages"][2]["required_fields"], json!(["amount"]));
    assert_eq!(p["stages"][3]["required_fields"], json!(["close_date"]));
    assert_eq!(p["stages"][4]["probability"], 85);
    assert_eq!(p["stages"][5]["required_fields"], json!(["win_reason"]));
    assert_eq!(p["stages"][5]["probability"], 100);

    let page = web.get(&to).await;
    page.assert_status(200)
        .assert_contains("Pipeline saved.")
        .assert_contains("<strong>现场考察</strong> <code>site_visit</code>")
        .assert_contains("name=\"stage2_required\" value=\"amount\" checked>")
        .assert_contains("name=\"stage7_required\" value=\"win_reason\" checked>")
        .assert_not_contains("name=\"stage7_probability\"");
    // the list shows the stages in order with what they ask for
    web.get("/settings/pipelines")
        .await
        .assert_contains(
            "<td>Proposal</td><td class=\"num\">60%</td><td>Best case</td><td>Close date</td>",
        )
        .assert_contains("<td class=\"num\">2</td><td>现场考察</td><td class=\"num\">25%</td>");

    // prospecting removed and negotiation at 150%: the service's problem (stage 3 of what
    // it was given) shows on row 4, where it was typed, with everything typed kept
    let refused = post_edit(
        &web,
        "project_sale",
        &edit_fields(
            "项目型销售（新）",
            &[
                (0, "prospecting", true, "1", "10", "pipeline", &[]),
                (1, "site_visit", true, "2", "25", "pipeline", &[]),
                (
                    2,
                    "needs_analysis",
                    true,
                    "3",
                    "40",
                    "pipeline",
                    &["amount"],
                ),
                (
                    3,
                    "proposal",
                    true,
                    "4",
                    "60",
                    "best_case",
                    &["close_date", "next_step"],
                ),
                (4, "negotiation", true, "5", "150", "commit", &[]),
                (7, "closed_won", true, "", "", "", &["win_reason"]),
                (8, "closed_lost", true, "", "", "", &[]),
            ],
            &[("stage0_remove".into(), "true".into())],
        ),
    )
    .await;
    refused
        .assert_status(422)
        .assert_contains("id=\"s-stage4-probability-error\">must be 0-100</p>")
        .assert_contains("name=\"stage4_probability\" value=\"150\"")
        .assert_not_contains("id=\"s-stage3-probability-error\"")
        .assert_contains("value=\"项目型销售（新）\"")
        .assert_contains("name=\"stage3_required\" value=\"next_step\" checked>")
        .assert_contains("name=\"stage0_remove\" value=\"true\" checked");
    assert_eq!(stored(&app, "project_sale").await, p, "nothing saved");

    // what the form itself cannot read is named too, with the service's problems at once
    let unread = post_edit(
        &web,
        "project_sale",
        &edit_fields(
            "项目型销售",
            &[
                (0, "prospecting", true, "first", "10", "pipeline", &[]),
                (1, "site_visit", true, "2", "25", "pipeline", &[]),
                (2, "needs_analysis", true, "3", "40", "pipeline", &[]),
                (3, "proposal", true, "4", "sixty", "best_case", &[]),
                (4, "negotiation", true, "5", "80", "closed", &[]),
                (5, "", false, "6", "90", "commit", &[]),
                (7, "closed_won", true, "", "", "", &[]),
                (8, "closed_lost", true, "", "", "", &[]),
            ],
            &[],
        ),
    )
    .await;
    unread
        .assert_status(422)
        .assert_contains("id=\"s-stage0-order-error\">a whole number, such as 3</p>")
        .assert_contains("id=\"s-stage3-probability-error\">a whole number from 0 to 100</p>")
        .assert_contains("id=\"s-stage4-forecast_category-error\">must be pipeline, best_case, commit or omitted</p>")
        .assert_contains("id=\"s-stage5-value-error\">give the new stage an API name");
    assert_eq!(stored(&app, "project_sale").await, p, "nothing saved");
}

#[tokio::test]
async fn a_pipeline_a_deal_is_in_is_not_deleted_and_the_page_says_why() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    create(&web, "project_sale", "项目型销售").await;
    let deal = app
        .create(
            "opportunity",
            &json!({"name": "深圳地铁 票务系统", "pipeline": "project_sale"}),
        )
        .await;
    assert_eq!(deal["pipeline"], "project_sale");

    let delete = "/settings/pipelines/project_sale/delete";
    let refused = web.submit("/settings/pipelines", delete, &[]).await;
    refused.assert_status(422).assert_contains(
        "id=\"pipelines-refused\">项目型销售 was not deleted: 1 opportunities are in this \
         pipeline; move them to another or make it inactive instead</p>",
    );
    stored(&app, "project_sale").await;

    switch_to_chinese(&web, "/settings/pipelines").await;
    web.submit("/settings/pipelines", delete, &[])
        .await
        .assert_status(422)
        .assert_contains(
            "未删除 项目型销售：该流程中仍有商机；请先将其移到其他流程，或改为停用该流程",
        );

    // removing a stage the deal is at is refused the same way
    let at_stage = post_edit(
        &web,
        "project_sale",
        &edit_fields(
            "项目型销售",
            &[
                (0, "prospecting", true, "1", "10", "pipeline", &[]),
                (1, "qualification", true, "2", "20", "pipeline", &[]),
                (2, "needs_analysis", true, "3", "40", "pipeline", &[]),
                (3, "proposal", true, "4", "60", "best_case", &[]),
                (4, "negotiation", true, "5", "80", "commit", &[]),
                (7, "closed_won", true, "", "", "", &[]),
                (8, "closed_lost", true, "", "", "", &[]),
            ],
            &[("stage0_remove".into(), "true".into())],
        ),
    )
    .await;
    at_stage
        .assert_status(422)
        .assert_contains("该流程中有商机处于将被移除的阶段，请先移动这些商机");
    assert_eq!(
        stage_values(&stored(&app, "project_sale").await)[0],
        "prospecting"
    );

    // once the deal is gone, so may the pipeline be
    app.delete(&format!("/api/v1/records/opportunity/{}", id_of(&deal)))
        .await
        .assert_status(204);
    let done = web.submit("/settings/pipelines", delete, &[]).await;
    done.assert_status(303);
    web.get(done.location.as_deref().unwrap_or_default())
        .await
        .assert_contains("销售流程已删除。")
        .assert_not_contains("id=\"pipeline-project_sale\"");
    app.get("/api/v1/pipelines/project_sale")
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_rep_may_not_see_or_change_pipelines() {
    let app = TestApp::spawn().await;
    let rep = app
        .user("wang.fang@example.com", json!({"name": "王芳"}))
        .await;
    let web = app.web_as(&rep, PASSWORD).await;
    web.get("/settings/pipelines").await.assert_status(403);
    web.get("/settings/pipelines/new_business")
        .await
        .assert_status(403);
    web.get("/me")
        .await
        .assert_not_contains("href=\"/settings/pipelines\"");
    let csrf = web.get("/me").await.csrf();
    web.post(
        "/settings/pipelines",
        &[("_csrf", &csrf), ("name", "rogue"), ("label", "Rogue")],
    )
    .await
    .assert_status(403);
    web.post(
        "/settings/pipelines/new_business/delete",
        &[("_csrf", &csrf)],
    )
    .await
    .assert_status(403);
    let all = app.core.pipelines().expect("pipelines");
    assert!(all.standard, "nothing was saved");
}

#[tokio::test]
async fn the_pipeline_pages_read_in_chinese() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    switch_to_chinese(&web, "/settings/pipelines").await;

    web.get("/settings/pipelines")
        .await
        .assert_status(200)
        .assert_contains("<h1>销售流程</h1>")
        .assert_contains("<td>初步接洽</td><td class=\"num\">10%</td><td>渠道中</td>")
        .assert_contains("<td>赢单</td><td class=\"num\">100%</td><td>已成交</td>")
        .assert_contains("<h2>新建销售流程</h2>")
        .assert_not_contains("Pipelines");
    web.get("/settings/pipelines/new_business")
        .await
        .assert_status(200)
        .assert_contains("<strong>方案报价</strong> <code>proposal</code>")
        .assert_contains("<option value=\"best_case\" selected>乐观</option>")
        .assert_contains(" 金额</label>")
        .assert_contains("赢率（%）")
        .assert_contains(">保存</button>");
}
