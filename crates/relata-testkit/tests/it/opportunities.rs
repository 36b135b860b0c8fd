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
