//! Opportunities (issue 9): a stage brings its probability and forecast category, the time
//! of the change is kept, and a deal is not closed without saying why it was won or lost.

use serde_json::json;

use relata_testkit::TestApp;

use crate::common::{assert_field_problem, id_of};

#[tokio::test]
async fn an_opportunity_moves_through_stages_and_closes_only_with_its_reason() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/records/opportunity",
            &json!({"name": "华为 CRM 升级", "stage": "prospecting", "amount": "880000"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["probability"], "10.00");
    assert_eq!(r.body["forecast_category"], "pipeline");
    let first_change = r.body["stage_changed_at"].clone();
    assert!(first_change.is_string());
    let path = format!("/api/v1/records/opportunity/{}", id_of(&r.body));

    let r = app.patch(&path, &json!({"stage": "proposal"})).await;
    r.assert_status(200);
    assert_eq!(r.body["probability"], "60.00");
    assert_eq!(r.body["forecast_category"], "best_case");
    // a probability given with the stage is the rep's own
    let r = app
        .patch(&path, &json!({"stage": "negotiation", "probability": "70"}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["probability"], "70.00");
    assert_eq!(r.body["forecast_category"], "commit");

    let r = app.patch(&path, &json!({"stage": "closed_won"})).await;
    assert_field_problem(&r, 422, "win_reason", "required");
    let r = app.patch(&path, &json!({"stage": "closed_lost"})).await;
    assert_field_problem(&r, 422, "loss_reason", "required");
    assert_eq!(
        app.get(&path).await.body["stage"],
        "negotiation",
        "nothing half-done"
    );

    let r = app
        .patch(
            &path,
            &json!({"stage": "closed_won", "win_reason": "relationship"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["probability"], "100.00");
    assert_eq!(r.body["forecast_category"], "closed");
    // time in stage: each stage the deal was at, to the one it is at now
    let id = path.rsplit('/').next().unwrap();
    let stages = app.get(&format!("/api/v1/opportunities/{id}/stages")).await;
    stages.assert_status(200);
    let order: Vec<&str> = stages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["prospecting", "proposal", "negotiation", "closed_won"],
        "{}",
        stages.body
    );
    assert!(stages.body["data"][3]["left_at"].is_null());
    assert_eq!(stages.body["data"][1]["label"], "Proposal");
    assert!(stages.body["data"][0]["days"].is_string());
    app.get("/api/v1/opportunities/not-an-id/stages")
        .await
        .assert_status(404);
    // the stage history is the field history of the stage
    let history = app.get(&format!("{path}/history")).await;
    history.assert_status(200);
    let stages: Vec<String> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "stage")
        .map(|h| h["new_value"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        stages,
        ["closed_won", "negotiation", "proposal"],
        "{}",
        history.body
    );
}

/// A project sale: bidding asks for an amount and a close date; a won project for its
/// next step (the hand-over); a lost one for what was learnt.
fn project_pipeline() -> serde_json::Value {
    json!({"label": "Project", "stages": [
        {"value": "initiation", "label": "Initiation", "probability": 10, "forecast_category": "pipeline"},
        {"value": "bidding", "label": "Bidding", "probability": 50, "forecast_category": "best_case",
         "required_fields": ["amount", "close_date"]},
        {"value": "contracting", "label": "Contracting", "probability": 90, "forecast_category": "commit"},
        {"value": "closed_won", "probability": 100, "forecast_category": "closed", "required_fields": ["next_step"]},
        {"value": "closed_lost", "probability": 0, "forecast_category": "omitted", "required_fields": ["description"]}
    ]})
}

#[tokio::test]
async fn a_project_deal_follows_its_own_pipeline_and_no_stage_skips_what_it_asks_for() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/pipelines").await;
    r.assert_status(200);
    assert_eq!(r.body["standard"], true);
    assert_eq!(r.body["pipelines"][0]["name"], "new_business");
    let r = app
        .put("/api/v1/pipelines/project", &project_pipeline())
        .await;
    r.assert_status(200);
    assert!(r.body["stages"][0].get("label").is_none(), "{}", r.body);
    // the new stages and pipeline are picklist values now, with their labels
    let meta = app.get("/api/v1/meta/objects/opportunity").await;
    let values = |field: &str| -> Vec<String> {
        meta.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["api_name"] == field)
            .unwrap()["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{}={}",
                    v["value"].as_str().unwrap(),
                    v["label"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(values("stage").contains(&"bidding=Bidding".to_owned()));
    assert_eq!(
        values("pipeline"),
        ["new_business=New business", "project=Project"]
    );

    // a deal given only its pipeline starts at its first stage
    let r = app
        .post(
            "/api/v1/records/opportunity",
            &json!({"name": "深圳地铁 票务系统", "pipeline": "project"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["stage"], "initiation");
    assert_eq!(r.body["probability"], "10.00");
    let path = format!("/api/v1/records/opportunity/{}", id_of(&r.body));
    // a deal given nothing starts in the first pipeline
    let plain = app
        .post("/api/v1/records/opportunity", &json!({"name": "Plain"}))
        .await;
    assert_eq!(
        (&plain.body["pipeline"], &plain.body["stage"]),
        (&json!("new_business"), &json!("prospecting"))
    );

    // skipping to contracting does not skip what bidding asks for
    let r = app.patch(&path, &json!({"stage": "contracting"})).await;
    assert_field_problem(&r, 422, "amount", "required");
    assert_eq!(r.error_code("close_date").as_deref(), Some("required"));
    // a stage of another pipeline is no stage of this one
    let r = app.patch(&path, &json!({"stage": "negotiation"})).await;
    assert_field_problem(&r, 422, "stage", "invalid_transition");
    let r = app
        .patch(&path, &json!({"stage": "contracting", "amount": "3200000"}))
        .await;
    assert_field_problem(&r, 422, "close_date", "required");
    assert_eq!(
        app.get(&path).await.body["stage"],
        "initiation",
        "nothing half-done"
    );
    let r = app
        .patch(
            &path,
            &json!({"stage": "contracting", "amount": "3200000", "close_date": "2027-06-30"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["probability"], "90.00");
    assert_eq!(r.body["forecast_category"], "commit");
    // won: its reason and what won asks for
    let r = app
        .patch(
            &path,
            &json!({"stage": "closed_won", "win_reason": "product"}),
        )
        .await;
    assert_field_problem(&r, 422, "next_step", "required");
    let r = app
        .patch(
            &path,
            &json!({"stage": "closed_won", "win_reason": "product", "next_step": "交付启动会"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["forecast_category"], "closed");

    // moving a deal to another pipeline needs a stage of it
    let other = format!("/api/v1/records/opportunity/{}", id_of(&plain.body));
    let r = app.patch(&other, &json!({"pipeline": "project"})).await;
    assert_field_problem(&r, 422, "stage", "invalid_transition");
    app.patch(
        &other,
        &json!({"pipeline": "project", "stage": "initiation"}),
    )
    .await
    .assert_status(200);
    // a deal moved to another pipeline at a stage both have takes that pipeline's numbers
    let mut renewal = project_pipeline();
    renewal["label"] = json!("Renewal");
    renewal["stages"][2] =
        json!({"value": "negotiation", "probability": 85, "forecast_category": "commit"});
    app.put("/api/v1/pipelines/renewal", &renewal)
        .await
        .assert_status(200);
    let r = app
        .patch(
            &other,
            &json!({"pipeline": "new_business", "stage": "negotiation",
                    "amount": "90000", "close_date": "2027-02-28"}),
        )
        .await;
    assert_eq!(r.body["probability"], "80.00");
    let changed_at = r.body["stage_changed_at"].clone();
    let r = app.patch(&other, &json!({"pipeline": "renewal"})).await;
    r.assert_status(200);
    assert_eq!(r.body["probability"], "85.00");
    assert_eq!(
        r.body["stage_changed_at"], changed_at,
        "the stage did not change"
    );
    // probability and forecast category are the stage's own, never asked for
    let mut asks = project_pipeline();
    asks["stages"][0]["required_fields"] = json!(["probability"]);
    let r = app.put("/api/v1/pipelines/asks", &asks).await;
    assert_field_problem(&r, 422, "stages.0.required_fields", "unknown_field");
}

#[tokio::test]
async fn pipelines_are_changed_only_by_admins_and_never_under_their_deals() {
    let app = TestApp::spawn().await;
    app.put("/api/v1/pipelines/project", &project_pipeline())
        .await
        .assert_status(200);
    let rep = app.user("rep.pipeline@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    let r = rep_client
        .put("/api/v1/pipelines/renewal", &project_pipeline())
        .await;
    r.assert_status(403);
    rep_client.get("/api/v1/pipelines").await.assert_status(200);

    // every problem named
    let mut bad = project_pipeline();
    bad["stages"][1]["probability"] = json!(150);
    bad["stages"][2]["required_fields"] = json!(["no_such_field"]);
    bad["stages"][3]["forecast_category"] = json!("commit");
    let r = app.put("/api/v1/pipelines/renewal", &bad).await;
    assert_field_problem(&r, 422, "stages.1.probability", "invalid_option");
    assert_eq!(
        r.error_code("stages.2.required_fields").as_deref(),
        Some("unknown_field")
    );
    assert_eq!(
        r.error_code("stages.3.forecast_category").as_deref(),
        Some("invalid_option")
    );
    let mut open_end = project_pipeline();
    open_end["stages"].as_array_mut().unwrap().pop();
    let r = app.put("/api/v1/pipelines/renewal", &open_end).await;
    assert_field_problem(&r, 422, "stages", "invalid_option");
    app.get("/api/v1/pipelines/renewal")
        .await
        .assert_status(404);

    // a stage with deals at it cannot leave the pipeline; one without can
    app.post(
        "/api/v1/records/opportunity",
        &json!({"name": "Bid", "pipeline": "project", "stage": "bidding",
                "amount": "1", "close_date": "2027-01-01"}),
    )
    .await
    .assert_status(201);
    let mut fewer = project_pipeline();
    fewer["stages"].as_array_mut().unwrap().remove(1);
    let r = app.put("/api/v1/pipelines/project", &fewer).await;
    r.assert_problem(409, "stage_in_use");
    let mut fewer = project_pipeline();
    fewer["stages"].as_array_mut().unwrap().remove(2);
    app.put("/api/v1/pipelines/project", &fewer)
        .await
        .assert_status(200);

    // nor is a pipeline with deals deleted; made inactive, it takes no new ones
    let r = app.delete("/api/v1/pipelines/project").await;
    r.assert_problem(409, "pipeline_in_use");
    let mut inactive = fewer.clone();
    inactive["active"] = json!(false);
    app.put("/api/v1/pipelines/project", &inactive)
        .await
        .assert_status(200);
    let r = app
        .post(
            "/api/v1/records/opportunity",
            &json!({"name": "New", "pipeline": "project"}),
        )
        .await;
    assert_field_problem(&r, 422, "pipeline", "inactive_picklist_value");
    // the last active pipeline stays
    let mut standard = app.get("/api/v1/pipelines/new_business").await.body.clone();
    standard["active"] = json!(false);
    let r = app.put("/api/v1/pipelines/new_business", &standard).await;
    assert_field_problem(&r, 422, "active", "invalid_option");
}

#[tokio::test]
async fn the_kanban_counts_and_totals_every_column_and_pages_each_on_its_own() {
    let app = TestApp::spawn().await;
    let rep = app.user("rep.board@example.com", json!({})).await;
    let rep_client = app.client_for(&rep).await;
    for i in 0..5 {
        rep_client
            .post(
                "/api/v1/records/opportunity",
                &json!({"name": format!("Rep deal {i}"), "stage": "proposal", "amount": "1000"}),
            )
            .await
            .assert_status(201);
    }
    for (stage, amount) in [
        ("proposal", "500.50"),
        ("negotiation", "7000"),
        ("prospecting", "1"),
    ] {
        app.post(
            "/api/v1/records/opportunity",
            &json!({"name": format!("Admin {stage}"), "stage": stage, "amount": amount}),
        )
        .await
        .assert_status(201);
    }
    app.post(
        "/api/v1/records/opportunity",
        &json!({"name": "Won", "stage": "closed_won", "win_reason": "price", "amount": "9"}),
    )
    .await
    .assert_status(201);

    let r = app
        .get("/api/v1/pipelines/new_business/board?per_column=2&fields=name,amount")
        .await;
    r.assert_status(200);
    let columns = r.body["columns"].as_array().unwrap();
    let stages: Vec<&str> = columns
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "prospecting",
            "qualification",
            "needs_analysis",
            "proposal",
            "negotiation"
        ],
        "open stages only, in order"
    );
    let proposal = &columns[3];
    assert_eq!(proposal["count"], 6);
    assert_eq!(proposal["amounts"][0]["amount"], "5500.50");
    assert_eq!(proposal["probability"], 60);
    assert_eq!(proposal["data"].as_array().unwrap().len(), 2);
    assert_eq!(columns[1]["count"], 0);
    // the next pages of one column, to its end
    let mut seen: Vec<String> = proposal["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    let mut cursor = proposal["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app
            .get(&format!(
                "/api/v1/pipelines/new_business/board/proposal?per_column=2&cursor={c}"
            ))
            .await;
        page.assert_status(200);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_owned()),
        );
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0], "Admin proposal");
    // closed columns on request
    let r = app
        .get("/api/v1/pipelines/new_business/board?closed=true")
        .await;
    assert_eq!(r.body["columns"].as_array().unwrap().len(), 7);
    assert_eq!(r.body["columns"][5]["count"], 1);

    // a rep's board holds only what the rep may see, counts and totals included
    let r = rep_client.get("/api/v1/pipelines/new_business/board").await;
    r.assert_status(200);
    let columns = r.body["columns"].as_array().unwrap();
    assert_eq!(columns[3]["count"], 5);
    assert_eq!(columns[3]["amounts"][0]["amount"], "5000.00");
    assert_eq!(columns[4]["count"], 0);
    // the board's filter narrows every column
    let r = app
        .get("/api/v1/pipelines/new_business/board?filter=amount%20gt%20900")
        .await;
    assert_eq!(r.body["columns"][3]["count"], 5);
    assert_eq!(r.body["columns"][0]["count"], 0);
    // unknown pipeline or stage: 404
    app.get("/api/v1/pipelines/nope/board")
        .await
        .assert_status(404);
    app.get("/api/v1/pipelines/new_business/board/nope")
        .await
        .assert_status(404);
}

#[tokio::test]
async fn the_sales_dashboard_counts_weighs_converts_and_ages_what_the_viewer_may_see() {
    // the data is the dashboard page's too (web_dashboard.rs)
    let (app, rep) = crate::common::sales_world().await;
    let rep_client = app.client_for(&rep).await;

    let r = app.get("/api/v1/dashboards/sales?days=365").await;
    r.assert_status(200);
    let stage = |name: &str| -> serde_json::Value {
        r.body["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("prospecting")["count"], 1);
    assert_eq!(stage("prospecting")["weighted"][0]["amount"], "100.00");
    let proposal = stage("proposal");
    assert_eq!(proposal["count"], 2);
    assert_eq!(proposal["amounts"][0]["amount"], "7000.00");
    // B at 60 %, D at the 50 % its rep gave
    assert_eq!(proposal["weighted"][0]["amount"], "4000.00");
    // reached: A B C D got to prospecting (D skipped it, so it was passed); B D E beyond
    assert_eq!(stage("prospecting")["reached"], 5);
    assert_eq!(stage("qualification")["reached"], 3);
    assert_eq!(stage("qualification")["conversion"], "60.0");
    assert_eq!(stage("proposal")["reached"], 2);
    assert_eq!(stage("negotiation")["reached"], 0);
    assert_eq!(stage("negotiation")["conversion"], "0.0");
    // activities per rep
    let activities = r.body["activities"].as_array().unwrap();
    let rep_row = activities
        .iter()
        .find(|x| x["user_id"] == rep.user_id.0.to_string())
        .unwrap();
    assert_eq!(rep_row["calls"], 1);
    assert!(activities.iter().any(|x| x["tasks_done"] == 1));
    // leads by source, largest first
    assert_eq!(r.body["lead_sources"][0]["source"], "web");
    assert_eq!(r.body["lead_sources"][0]["leads"], 2);
    // open deals by age: E is new, A B D are 45 days old (C is closed)
    assert_eq!(r.body["ageing"][0]["count"], 1);
    assert_eq!(r.body["ageing"][1]["count"], 3);
    assert_eq!(r.body["ageing"][1]["amounts"][0]["amount"], "8000.00");
    // a rep's dashboard is their own
    let mine = rep_client.get("/api/v1/dashboards/sales?days=365").await;
    mine.assert_status(200);
    let total: i64 = mine.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1);
    assert_eq!(mine.body["ageing"][1]["count"], 0);
    app.get("/api/v1/dashboards/sales?days=0")
        .await
        .assert_problem(400, "invalid_days");
    app.get("/api/v1/dashboards/sales?pipeline=nope")
        .await
        .assert_status(404);
}
