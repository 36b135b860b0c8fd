use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn changes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn at(stage: &str) -> Record {
    let mut r = Record::default();
    r.set(STAGE, t(stage));
    r
}

#[test]
fn closing_asks_why_and_only_when_closing() {
    let won = check_write(Some(&at("negotiation")), &changes(&[(STAGE, t(WON))]));
    assert_eq!(won[0].field, WIN_REASON);
    let lost = check_write(None, &changes(&[(STAGE, t(LOST))]));
    assert_eq!(lost[0].field, LOSS_REASON);
    assert!(
        check_write(
            None,
            &changes(&[(STAGE, t(LOST)), (LOSS_REASON, t("price"))])
        )
        .is_empty()
    );
    // an old lost deal without a reason can still be edited; clearing the reason cannot
    assert!(check_write(Some(&at(LOST)), &changes(&[("amount", t("1"))])).is_empty());
    let mut reasoned = at(LOST);
    reasoned.set(LOSS_REASON, t("price"));
    assert!(!check_write(Some(&reasoned), &changes(&[(LOSS_REASON, Value::Null)])).is_empty());
    // open stages ask for nothing
    assert!(
        check_write(
            Some(&at("prospecting")),
            &changes(&[(STAGE, t("proposal"))])
        )
        .is_empty()
    );
}

#[test]
fn a_new_stage_brings_its_probability_and_forecast_unless_given() {
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap();
    let stamps = stage_stamps(
        &pipeline::standard_pipelines(),
        Some(&at("prospecting")),
        &changes(&[(STAGE, t("proposal"))]),
        now,
    );
    assert_eq!(
        stamps,
        vec![
            (STAGE_CHANGED_AT.to_owned(), Value::Datetime(now)),
            (
                PROBABILITY.to_owned(),
                Value::Decimal(Decimal::new(6000, 2))
            ),
            (FORECAST_CATEGORY.to_owned(), t("best_case")),
        ]
    );
    let given = changes(&[
        (STAGE, t("proposal")),
        (PROBABILITY, Value::Decimal(Decimal::from(75))),
    ]);
    assert_eq!(
        stage_stamps(&pipeline::standard_pipelines(), None, &given, now).len(),
        2
    );
    assert!(
        stage_stamps(
            &pipeline::standard_pipelines(),
            Some(&at("proposal")),
            &changes(&[(STAGE, t("proposal"))]),
            now
        )
        .is_empty()
    );
    assert!(
        stage_stamps(
            &pipeline::standard_pipelines(),
            None,
            &changes(&[("amount", t("1"))]),
            now
        )
        .is_empty()
    );
}

#[test]
fn time_in_stage_runs_from_creation_through_each_change_to_now() {
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let changes = vec![
        (
            at(3, 0),
            Some("prospecting".to_owned()),
            Some("qualification".to_owned()),
        ),
        (
            at(10, 12),
            Some("qualification".to_owned()),
            Some("proposal".to_owned()),
        ),
    ];
    let periods = stage_periods(at(1, 0), Some("proposal"), &changes, at(20, 12));
    let summary: Vec<(&str, String, bool)> = periods
        .iter()
        .map(|p| (p.stage.as_str(), p.days.to_string(), p.left_at.is_some()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("prospecting", "2".to_owned(), true),
            ("qualification", "7.5".to_owned(), true),
            ("proposal", "10".to_owned(), false),
        ]
    );
    // never moved: one stretch at the stage it has
    let still = stage_periods(at(1, 0), Some("prospecting"), &[], at(2, 0));
    assert_eq!(
        (still.len(), still[0].days.to_string()),
        (1, "1".to_owned())
    );
}
