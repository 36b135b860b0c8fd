use std::collections::BTreeMap;

use super::*;
use crate::standard::standard_objects;

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn changes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn opportunity() -> ObjectDef {
    standard_objects()
        .into_iter()
        .find(|o| o.name() == super::super::OBJECT)
        .unwrap()
}

fn stage(value: &str, probability: u32, category: &str, required: &[&str]) -> Stage {
    Stage {
        value: value.to_owned(),
        label: None,
        probability,
        forecast_category: category.to_owned(),
        required_fields: required.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A project sale: bidding asks for an amount, contracting for a close date, losing for
/// a next step (what we learnt).
fn project() -> Pipeline {
    Pipeline {
        name: "project".to_owned(),
        label: "Project".to_owned(),
        active: true,
        stages: vec![
            stage("initiation", 10, "pipeline", &[]),
            stage("bidding", 50, "best_case", &["amount"]),
            stage("contracting", 90, "commit", &["close_date"]),
            stage(WON, 100, "closed", &["next_step"]),
            stage(LOST, 0, "omitted", &["description"]),
        ],
    }
}

fn with(pipelines: Vec<Pipeline>) -> ObjectDef {
    let mut o = opportunity();
    o.pipelines = Some(pipelines);
    o
}

fn deal(pipeline: &str, stage: &str) -> Record {
    let mut r = Record::default();
    r.set(PIPELINE, t(pipeline));
    r.set(STAGE, t(stage));
    r
}

#[test]
fn reaching_a_stage_asks_for_what_it_and_every_earlier_stage_ask() {
    let p = project();
    assert_eq!(p.required_for("initiation"), Vec::<&str>::new());
    assert_eq!(p.required_for("contracting"), vec!["amount", "close_date"]);
    assert_eq!(
        p.required_for(WON),
        vec!["amount", "close_date", "next_step"]
    );
    // a lost deal need not have got far
    assert_eq!(p.required_for(LOST), vec!["description"]);
}

#[test]
fn skipping_a_stage_does_not_skip_its_required_fields() {
    let o = with(vec![project()]);
    let errors = check_move(
        &o,
        Some(&deal("project", "initiation")),
        &changes(&[(STAGE, t("contracting"))]),
    );
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["amount", "close_date"]);
    assert!(errors[0].message.contains("contracting"));
    // given in the same write, they count
    let filled = changes(&[
        (STAGE, t("contracting")),
        ("amount", Value::Decimal(1.into())),
        ("close_date", t("2027-01-31")),
    ]);
    assert!(check_move(&o, Some(&deal("project", "initiation")), &filled).is_empty());
    // an edit that moves nothing is not checked again
    let edit = changes(&[("name", t("Renamed"))]);
    assert!(check_move(&o, Some(&deal("project", "contracting")), &edit).is_empty());
}

#[test]
fn a_stage_must_belong_to_the_deals_pipeline() {
    let o = with(vec![standard_pipelines().remove(0), project()]);
    let errors = check_move(
        &o,
        Some(&deal("project", "initiation")),
        &changes(&[(STAGE, t("negotiation"))]),
    );
    assert_eq!(errors[0].field, STAGE);
    assert_eq!(errors[0].code, Code::InvalidTransition);
    // moving to another pipeline with a stage of it is fine
    let moved = changes(&[(PIPELINE, t(STANDARD)), (STAGE, t("negotiation"))]);
    assert!(check_move(&o, Some(&deal("project", "initiation")), &moved).is_empty());
    // moving pipelines but keeping a stage the new one lacks is not
    let errors = check_move(
        &o,
        Some(&deal(STANDARD, "negotiation")),
        &changes(&[(PIPELINE, t("project"))]),
    );
    assert_eq!(errors[0].field, STAGE);
}

#[test]
fn an_inactive_pipeline_takes_no_new_deals() {
    let mut p = project();
    p.active = false;
    let o = with(vec![standard_pipelines().remove(0), p]);
    let mut values = changes(&[(PIPELINE, t("project")), (STAGE, t("initiation"))]);
    assert_eq!(
        check_move(&o, None, &values)[0].code,
        Code::InactivePicklistValue
    );
    // but one already in it keeps moving
    values.remove(PIPELINE);
    values.insert("amount".into(), Value::Decimal(5.into()));
    values.insert(STAGE.into(), t("bidding"));
    assert!(check_move(&o, Some(&deal("project", "initiation")), &values).is_empty());
}

#[test]
fn a_new_deal_starts_in_the_first_active_pipeline_at_its_first_stage() {
    let mut inactive = project();
    inactive.active = false;
    let mut values = BTreeMap::new();
    fill_new(&[inactive, standard_pipelines().remove(0)], &mut values);
    assert_eq!(values[PIPELINE], t(STANDARD));
    assert_eq!(values[STAGE], t("prospecting"));
    let mut values = changes(&[(PIPELINE, t("project"))]);
    fill_new(&[project()], &mut values);
    assert_eq!(values[STAGE], t("initiation"));
    let mut values = changes(&[(STAGE, t("bidding"))]);
    fill_new(&[project()], &mut values);
    assert_eq!(values[STAGE], t("bidding"));
}

#[test]
fn stamps_follow_the_deals_pipeline() {
    let now = chrono::DateTime::UNIX_EPOCH;
    let stamps = super::super::stage_stamps(
        &[project()],
        Some(&deal("project", "initiation")),
        &changes(&[(STAGE, t("contracting"))]),
        now,
    );
    assert_eq!(
        stamps[1].1,
        Value::Decimal(rust_decimal::Decimal::new(9000, 2))
    );
    assert_eq!(stamps[2].1, t("commit"));
}

#[test]
fn a_pipeline_must_end_closed_and_mean_what_closed_means() {
    let o = opportunity();
    assert!(project().problems(&o).is_empty());
    for p in standard_pipelines() {
        assert!(p.problems(&o).is_empty(), "{:?}", p.problems(&o));
    }
    let mut p = project();
    p.stages.swap(3, 4);
    assert!(p.problems(&o).iter().any(|e| e.field == "stages"));
    let mut p = project();
    p.stages[3].probability = 90;
    p.stages[0].forecast_category = "closed".into();
    p.stages[1].required_fields.push("stage".into());
    p.stages[2].value = "Bad Name".into();
    p.name = "x".into();
    let fields: Vec<String> = p.problems(&o).into_iter().map(|e| e.field).collect();
    for f in [
        "name",
        "stages.0.forecast_category",
        "stages.1.required_fields",
        "stages.2.value",
        "stages.3.probability",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
}
