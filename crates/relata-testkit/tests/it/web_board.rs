//! The opportunity kanban in the web UI by pipeline (issue 9): one pipeline's stages as
//! columns, chosen on the page; a move that a stage refuses for its required fields opens
//! the deal's form with each missing field marked and writes nothing.

use serde_json::json;

use relata_testkit::TestApp;

use crate::common::id_of;

const PASSWORD: &str = "correct-horse-battery-9";

#[tokio::test]
async fn the_board_shows_one_pipeline_and_a_move_asks_for_what_the_stage_requires() {
    let app = TestApp::spawn().await;
    app.put(
        "/api/v1/pipelines/project",
        &json!({"label": "Project", "stages": [
            {"value": "initiation", "label": "Initiation", "probability": 10, "forecast_category": "pipeline"},
            {"value": "bidding", "label": "Bidding", "probability": 50, "forecast_category": "best_case",
             "required_fields": ["amount", "close_date"]},
            {"value": "closed_won", "probability": 100, "forecast_category": "closed"},
            {"value": "closed_lost", "probability": 0, "forecast_category": "omitted"}
        ]}),
    )
    .await
    .assert_status(200);
    let project = app
        .create(
            "opportunity",
            &json!({"name": "地铁票务项目", "pipeline": "project"}),
        )
        .await;
    app.create("opportunity", &json!({"name": "Plain renewal deal"}))
        .await;
    let web = app.web_as(&app.admin().await, PASSWORD).await;

    let board = web.get("/o/opportunity/board").await;
    board.assert_status(200);
    board
        .assert_contains("Plain renewal deal")
        .assert_not_contains("地铁票务项目")
        .assert_contains("Negotiation")
        .assert_contains(r#"<option value="project">Project</option>"#);
    let here = "/o/opportunity/board?by=stage&pipeline=project";
    let board = web.get(here).await;
    board
        .assert_contains("地铁票务项目")
        .assert_contains("Bidding")
        .assert_not_contains("Plain renewal deal")
        .assert_not_contains("Negotiation");
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await;
    web.get(here)
        .await
        .assert_contains("销售流程")
        .assert_contains("Bidding");
    web.submit(here, "/lang", &[("lang", "en"), ("back", here)])
        .await;

    // moved to bidding without an amount: the deal's form, each missing field marked
    let id = id_of(&project);
    let version = project["version"].to_string();
    let moved = web
        .submit(
            here,
            &format!("/o/opportunity/{id}/field/stage"),
            &[
                ("_version", &version),
                ("_back", here),
                ("stage", "bidding"),
            ],
        )
        .await;
    moved.assert_status(422);
    moved
        .assert_contains(&format!(r#"action="/o/opportunity/{id}/edit""#))
        .assert_contains("is required to reach the Bidding stage")
        .assert_contains(r#"<option value="bidding" selected"#);
    let now = app.get(&format!("/api/v1/records/opportunity/{id}")).await;
    assert_eq!(now.body["stage"], "initiation", "nothing written");

    app.patch(
        &format!("/api/v1/records/opportunity/{id}"),
        &json!({"amount": "1200000", "close_date": "2027-05-31"}),
    )
    .await
    .assert_status(200);
    let version = (project["version"].as_i64().unwrap() + 1).to_string();
    let moved = web
        .submit(
            here,
            &format!("/o/opportunity/{id}/field/stage"),
            &[
                ("_version", &version),
                ("_back", here),
                ("stage", "bidding"),
            ],
        )
        .await;
    moved.assert_status(303);
    let now = app.get(&format!("/api/v1/records/opportunity/{id}")).await;
    assert_eq!(now.body["stage"], "bidding");
    // the deal's page tells the stages it went through and how long it stayed
    web.get(&format!("/o/opportunity/{id}"))
        .await
        .assert_contains("Stage history")
        .assert_contains("Initiation")
        .assert_contains("Still here");
}
