//! The sales dashboard page (销售仪表盘, issue 9): a manager sees the pipeline by stage with
//! its money, how deals convert, each rep's activities, leads by source and the age of the
//! open deals; a rep sees only their own; the period and the pipeline are chosen on the page,
//! a bad choice is told plainly, and the page reads in Chinese.

use serde_json::json;

use relata_testkit::{Page, TestApp, WebSession};

const PASSWORD: &str = "correct-horse-battery-9";

/// The dashboard's data (`common::sales_world`) and 李雷, the rep in it.
struct World {
    app: TestApp,
    rep: relata_core::Actor,
}

async fn world() -> World {
    let (app, rep) = crate::common::sales_world().await;
    World { app, rep }
}

impl World {
    async fn admin_web(&self) -> WebSession {
        self.app.web_as(&self.app.admin().await, PASSWORD).await
    }
}

/// The text of each cell of the rows of `class` (`stage-row`, `rep-row`…), tags dropped.
fn rows(page: &Page, class: &str) -> Vec<Vec<String>> {
    let marker = format!("<tr class=\"{class}\">");
    page.html
        .split(&marker)
        .skip(1)
        .map(|rest| {
            let row = rest.split("</tr>").next().unwrap_or_default();
            let mut cells = Vec::new();
            let mut text = String::new();
            let mut in_tag = false;
            for ch in row.chars() {
                match ch {
                    '<' => {
                        in_tag = true;
                        if !text.trim().is_empty() {
                            cells.push(text.trim().to_owned());
                        }
                        text.clear();
                    }
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            cells
        })
        .collect()
}

/// The row of `class` whose first cell is `label`.
#[track_caller]
fn row(page: &Page, class: &str, label: &str) -> Vec<String> {
    rows(page, class)
        .into_iter()
        .find(|r| r.first().is_some_and(|c| c == label))
        .unwrap_or_else(|| panic!("no {class} {label:?} in {:?}", rows(page, class)))
}

#[tokio::test]
async fn a_manager_sees_stages_money_conversion_reps_sources_and_ageing() {
    let w = world().await;
    let web = w.admin_web().await;
    let page = web.get("/dashboard/sales?days=365").await;
    page.assert_status(200);
    page.assert_contains(r#"<a href="/dashboard/sales" aria-current="page">Sales dashboard</a>"#)
        .assert_contains(r#"<option value="365" selected>Last 365 days</option>"#)
        .assert_contains(r#"<option value="new_business" selected>"#);

    // by stage: count, amount, and each deal's amount times its probability
    assert_eq!(
        row(&page, "stage-row", "Prospecting"),
        ["Prospecting", "1", "CN¥1,000.00", "CN¥100.00"]
    );
    assert_eq!(
        row(&page, "stage-row", "Proposal"),
        ["Proposal", "2", "CN¥7,000.00", "CN¥4,000.00"]
    );
    assert_eq!(row(&page, "stage-row", "Closed lost")[1], "1");
    // each stage leads to its column on the pipeline's board, and the chart draws the amounts
    page.assert_contains("pipeline=new_business#col-proposal")
        .assert_contains("<figcaption>Open amount by stage</figcaption>")
        .assert_contains("<title>Proposal: CN¥7,000.00</title>");

    // how far the deals got: all five reached prospecting, three qualification (60 %)
    assert_eq!(
        row(&page, "funnel-row", "Prospecting"),
        ["Prospecting", "5", "—"]
    );
    assert_eq!(
        row(&page, "funnel-row", "Qualification"),
        ["Qualification", "3", "60%"]
    );
    assert_eq!(
        row(&page, "funnel-row", "Negotiation"),
        ["Negotiation", "0", "0%"]
    );
    assert!(
        rows(&page, "funnel-row")
            .iter()
            .all(|r| r[0] != "Closed lost"),
        "a lost deal reached nothing"
    );

    // 李雷's call, named
    assert_eq!(
        row(&page, "rep-row", "李雷"),
        ["李雷", "0", "1", "0", "0", "1"]
    );
    assert!(
        rows(&page, "rep-row").iter().any(|r| r[1] == "1"),
        "the admin's finished task: {:?}",
        rows(&page, "rep-row")
    );

    // leads by source, and those that came with none
    assert_eq!(row(&page, "source-row", "Web"), ["Web", "2", "0", "0%"]);
    assert_eq!(row(&page, "source-row", "Event")[1], "1");
    assert_eq!(row(&page, "source-row", "No source")[1], "1");

    // open deals by age: E is new; A, B and D are 45 days old (C is closed)
    assert_eq!(
        row(&page, "age-row", "0–30 days"),
        ["0–30 days", "1", "CN¥300.00"]
    );
    assert_eq!(
        row(&page, "age-row", "30–60 days"),
        ["30–60 days", "3", "CN¥8,000.00"]
    );
    assert_eq!(row(&page, "age-row", "180+ days")[1], "0");

    // the home page's pipeline chart leads here
    web.get("/")
        .await
        .assert_contains(r#"<figcaption><a href="/dashboard/sales">"#);
}

#[tokio::test]
async fn a_rep_sees_their_own_figures_and_a_shorter_period_counts_less() {
    let w = world().await;
    let rep_web = w.app.web_as(&w.rep, PASSWORD).await;
    let mine = rep_web.get("/dashboard/sales?days=365").await;
    mine.assert_status(200);
    let counts: Vec<String> = rows(&mine, "stage-row")
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(counts.iter().filter(|c| *c != "0").count(), 1, "{counts:?}");
    assert_eq!(
        row(&mine, "stage-row", "Qualification"),
        ["Qualification", "1", "CN¥300.00", "CN¥60.00"]
    );
    assert_eq!(row(&mine, "age-row", "30–60 days")[1], "0");
    let reps = rows(&mine, "rep-row");
    assert_eq!(reps.len(), 1, "only 李雷's own activities: {reps:?}");
    assert_eq!(reps[0][0], "李雷");

    // the last seven days: only E was created, and 李雷's call was longer ago
    let web = w.admin_web().await;
    let week = web.get("/dashboard/sales?days=7").await;
    week.assert_status(200);
    week.assert_contains(r#"<option value="7" selected>Last 7 days</option>"#);
    assert_eq!(row(&week, "funnel-row", "Prospecting")[1], "1");
    assert_eq!(row(&week, "funnel-row", "Qualification")[1], "1");
    assert_eq!(row(&week, "funnel-row", "Proposal")[1], "0");
    assert!(
        rows(&week, "rep-row").iter().all(|r| r[0] != "李雷"),
        "{:?}",
        rows(&week, "rep-row")
    );
    assert!(rows(&week, "source-row").is_empty());
    // what is open now does not depend on the period
    assert_eq!(row(&week, "stage-row", "Proposal")[1], "2");
}

#[tokio::test]
async fn another_pipeline_bad_choices_and_chinese() {
    let w = world().await;
    w.app
        .put(
            "/api/v1/pipelines/project",
            &json!({"label": "Project", "stages": [
                {"value": "initiation", "label": "Initiation", "probability": 10, "forecast_category": "pipeline"},
                {"value": "bidding", "label": "Bidding", "probability": 50, "forecast_category": "best_case"},
                {"value": "closed_won", "probability": 100, "forecast_category": "closed"},
                {"value": "closed_lost", "probability": 0, "forecast_category": "omitted"}
            ]}),
        )
        .await
        .assert_status(200);
    w.app
        .create(
            "opportunity",
            &json!({"name": "地铁票务项目", "pipeline": "project", "stage": "bidding",
                "amount": "1200000"}),
        )
        .await;
    let web = w.admin_web().await;
    let project = web.get("/dashboard/sales?pipeline=project&days=90").await;
    project.assert_status(200);
    project
        .assert_contains(r#"<option value="project" selected>Project</option>"#)
        .assert_contains("pipeline=project#col-bidding");
    assert_eq!(
        row(&project, "stage-row", "Bidding"),
        ["Bidding", "1", "CN¥1,200,000.00", "CN¥600,000.00"]
    );
    assert!(
        rows(&project, "stage-row")
            .iter()
            .all(|r| r[0] != "Proposal"),
        "only the project pipeline's stages"
    );

    for bad in ["0", "x", "-5", "4000"] {
        let page = web.get(&format!("/dashboard/sales?days={bad}")).await;
        page.assert_status(400);
        page.assert_contains("The period must be a whole number of days from 1 to 3,650.");
    }
    web.get("/dashboard/sales?pipeline=nope")
        .await
        .assert_status(404);

    let here = "/dashboard/sales?days=365";
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await
        .assert_status(303);
    let zh = web.get(here).await;
    zh.assert_status(200);
    zh.assert_contains("<html lang=\"zh-CN\">")
        .assert_contains("<h1>销售仪表盘</h1>")
        .assert_contains("按阶段的销售漏斗")
        .assert_contains("最近 365 天");
    assert_eq!(
        row(&zh, "stage-row", "方案报价"),
        ["方案报价", "2", "¥7,000.00", "¥4,000.00"]
    );
    assert_eq!(row(&zh, "age-row", "30–60 天")[1], "3");
    assert_eq!(row(&zh, "source-row", "网站")[1], "2");
    assert_eq!(row(&zh, "source-row", "无来源")[1], "1");
    let bad = web.get("/dashboard/sales?days=x").await;
    bad.assert_status(400);
    bad.assert_contains("时间范围须为 1 到 3,650 之间的整数天数。");
}
