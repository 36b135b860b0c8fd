use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::standard::standard_objects;

fn changes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn lead_with(status: &str) -> Record {
    let mut r = Record::default();
    r.set(STATUS, t(status));
    r.set(CONVERTED_AT, Value::Null);
    r
}

fn codes(errors: &[FieldError]) -> Vec<(String, &'static str)> {
    errors
        .iter()
        .map(|e| (e.field.clone(), e.code.as_str()))
        .collect()
}

#[test]
fn the_flow_moves_forward_and_not_back_to_new() {
    let contacted = lead_with(CONTACTED);
    assert!(check_write(Some(&contacted), &changes(&[(STATUS, t(QUALIFIED))])).is_empty());
    assert!(check_write(Some(&lead_with(NEW)), &changes(&[(STATUS, t(CONTACTED))])).is_empty());
    assert_eq!(
        codes(&check_write(
            Some(&contacted),
            &changes(&[(STATUS, t(NEW))])
        )),
        vec![("status".to_owned(), "invalid_transition")]
    );
    // a new lead may be created new, of course
    assert!(check_write(None, &changes(&[(STATUS, t(NEW))])).is_empty());
}

#[test]
fn unqualified_needs_a_reason_but_old_data_without_one_can_still_be_edited() {
    let errors = check_write(
        Some(&lead_with(CONTACTED)),
        &changes(&[(STATUS, t(UNQUALIFIED))]),
    );
    assert_eq!(
        codes(&errors),
        vec![("unqualified_reason".to_owned(), "required")]
    );
    let with_reason = changes(&[
        (STATUS, t(UNQUALIFIED)),
        (UNQUALIFIED_REASON, t("no_budget")),
    ]);
    assert!(check_write(Some(&lead_with(CONTACTED)), &with_reason).is_empty());
    assert!(!check_write(None, &changes(&[(STATUS, t(UNQUALIFIED))])).is_empty());
    // an unqualified lead from before reasons existed: editing its phone is fine ...
    let old = lead_with(UNQUALIFIED);
    assert!(check_write(Some(&old), &changes(&[("phone", t("13800000000"))])).is_empty());
    // ... clearing the reason of one that has it is not
    let mut reasoned = lead_with(UNQUALIFIED);
    reasoned.set(UNQUALIFIED_REASON, t("no_need"));
    assert!(
        !check_write(
            Some(&reasoned),
            &changes(&[(UNQUALIFIED_REASON, Value::Null)])
        )
        .is_empty()
    );
}

#[test]
fn converted_is_reached_only_by_converting_and_then_frozen_but_for_the_owner() {
    let errors = check_write(
        Some(&lead_with(QUALIFIED)),
        &changes(&[(STATUS, t(CONVERTED))]),
    );
    assert_eq!(
        codes(&errors),
        vec![("status".to_owned(), "invalid_transition")]
    );
    assert!(!check_write(None, &changes(&[(STATUS, t(CONVERTED))])).is_empty());

    let at = Value::Datetime(Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap());
    let converting = changes(&[(STATUS, t(CONVERTED)), (CONVERTED_AT, at.clone())]);
    assert!(check_write(Some(&lead_with(QUALIFIED)), &converting).is_empty());

    let mut converted = lead_with(CONVERTED);
    converted.set(CONVERTED_AT, at);
    converted.set("phone", t("1"));
    let errors = check_write(
        Some(&converted),
        &changes(&[("phone", t("2")), (STATUS, t(CONTACTED))]),
    );
    assert_eq!(
        codes(&errors),
        vec![
            ("phone".to_owned(), "read_only"),
            ("status".to_owned(), "read_only")
        ]
    );
    let owner = Value::Ref(uuid::Uuid::nil());
    assert!(check_write(Some(&converted), &changes(&[("owner_id", owner)])).is_empty());
    // writing a value it already has is no change
    assert!(check_write(Some(&converted), &changes(&[("phone", t("1"))])).is_empty());
}

fn objects() -> Vec<ObjectDef> {
    standard_objects()
        .into_iter()
        .map(|mut o| {
            if o.name() == OBJECT {
                o.fields.extend(crate::standard::lead_conversion_fields());
            }
            o
        })
        .collect()
}

fn problems(map: &[ConversionField]) -> Vec<(String, &'static str)> {
    let objects = objects();
    let lead = objects.iter().find(|o| o.name() == OBJECT).unwrap();
    codes(&conversion_map_problems(map, lead, |name| {
        objects.iter().find(|o| o.name() == name)
    }))
}

#[test]
fn the_standard_map_is_valid() {
    assert_eq!(problems(&standard_conversion_map()), vec![]);
}

#[test]
fn a_map_names_each_bad_line() {
    let map = vec![
        line("nope", "contact", "name"),
        line("name", "task", "subject"),
        line("email", "contact", "nope"),
        line("name", "contact", "title"),
        line("title", "contact", "title"),
        line("email_opt_out", "account", "name"),
        line("rating", "account", "level"),
        line("name", "account", "id"),
    ];
    assert_eq!(
        problems(&map),
        vec![
            ("fields.0.lead_field".to_owned(), "unknown_field"),
            ("fields.1.object".to_owned(), "invalid_option"),
            ("fields.2.field".to_owned(), "unknown_field"),
            ("fields.4.field".to_owned(), "duplicate"),
            ("fields.5.field".to_owned(), "wrong_type"),
            ("fields.6.field".to_owned(), "unknown_picklist_value"),
            ("fields.7.field".to_owned(), "unknown_field"),
        ]
    );
}

#[test]
fn mapped_input_carries_only_values_the_lead_has() {
    let mut lead = Record::default();
    lead.set("company", t("华为技术有限公司"));
    lead.set("name", t("张伟"));
    lead.set("email", Value::Null);
    let map = standard_conversion_map();
    let account = mapped_input(&map, &lead, "account");
    assert_eq!(
        account.get("name"),
        Some(&serde_json::json!("华为技术有限公司"))
    );
    assert_eq!(account.len(), 1);
    let contact = mapped_input(&map, &lead, "contact");
    assert_eq!(contact.get("name"), Some(&serde_json::json!("张伟")));
    assert!(!contact.contains_key("email"));
    assert!(mapped_input(&map, &lead, "opportunity").is_empty());
}
