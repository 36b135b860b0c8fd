use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn record(pairs: &[(&str, Value)]) -> Record {
    let mut r = Record::default();
    for (k, v) in pairs {
        r.set(k, v.clone());
    }
    r
}

#[test]
fn contact_made_is_a_follow_up_and_a_promise_or_an_attempt_is_not() {
    let planned = record(&[(STATUS, t("planned"))]);
    let held = record(&[(STATUS, t(HELD))]);
    assert!(!is_follow_up(MEETING, None, &planned));
    assert!(is_follow_up(MEETING, Some(&planned), &held));
    assert!(!is_follow_up(MEETING, Some(&held), &held), "held once");
    assert!(is_follow_up(
        CALL,
        None,
        &record(&[(OUTCOME, t("connected"))])
    ));
    assert!(
        is_follow_up(CALL, None, &record(&[])),
        "a call logged without an outcome"
    );
    let rang_out = record(&[(OUTCOME, t("no_answer"))]);
    assert!(!is_follow_up(CALL, None, &rang_out));
    let reached = record(&[(OUTCOME, t("callback_requested"))]);
    assert!(is_follow_up(CALL, Some(&rang_out), &reached));
    assert!(is_follow_up(NOTE, None, &record(&[])));
    assert!(!is_follow_up(
        TASK,
        None,
        &record(&[(STATUS, t("not_started"))])
    ));
}

#[test]
fn a_meeting_ends_after_it_starts_and_an_attendee_is_one_person() {
    let start = Utc.with_ymd_and_hms(2026, 12, 8, 2, 0, 0).unwrap();
    let mut changes = BTreeMap::new();
    changes.insert(START_AT.to_owned(), Value::Datetime(start));
    changes.insert(
        END_AT.to_owned(),
        Value::Datetime(start - chrono::Duration::hours(1)),
    );
    assert_eq!(check_write(MEETING, None, &changes)[0].field, END_AT);
    let mut attendee = BTreeMap::new();
    assert_eq!(check_write(ATTENDEE, None, &attendee).len(), 1);
    attendee.insert("contact_id".to_owned(), Value::Ref(uuid::Uuid::nil()));
    assert!(check_write(ATTENDEE, None, &attendee).is_empty());
    attendee.insert("user_id".to_owned(), Value::Ref(uuid::Uuid::nil()));
    assert_eq!(check_write(ATTENDEE, None, &attendee).len(), 1);
}

#[test]
fn a_recurring_task_comes_back_a_period_after_it_was_due() {
    assert_eq!(
        next_occurrence("weekdays", d("2026-12-04")),
        Some(d("2026-12-07"))
    );
    assert_eq!(
        next_occurrence("monthly", d("2027-01-31")),
        Some(d("2027-02-28"))
    );
    assert_eq!(
        next_occurrence("quarterly", d("2026-11-30")),
        Some(d("2027-02-28"))
    );
    assert_eq!(next_occurrence("never", d("2026-11-30")), None);

    let reminder = Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap();
    let before = record(&[
        ("id", Value::Ref(uuid::Uuid::nil())),
        ("subject", t("周报")),
        (STATUS, t("in_progress")),
        (DUE_DATE, Value::Date(d("2026-12-07"))),
        (REMINDER_AT, Value::Datetime(reminder)),
        (RECURRENCE, t("weekly")),
        (RECURRENCE_END, Value::Date(d("2026-12-21"))),
    ]);
    let mut after = before.clone();
    after.set(STATUS, t(COMPLETED));
    let mut changes = BTreeMap::new();
    changes.insert(STATUS.to_owned(), t(COMPLETED));
    for (field, value) in completion_stamps(&before, &changes) {
        after.set(&field, value);
    }
    assert!(
        after.get(RECURRENCE).is_null(),
        "the completed task repeats no more"
    );
    let next = next_task(&before, &after, d("2026-12-09")).unwrap();
    assert_eq!(next[RECURRENCE], t("weekly"));
    assert_eq!(next[DUE_DATE], Value::Date(d("2026-12-14")));
    assert_eq!(next[STATUS], t("not_started"));
    assert_eq!(next["subject"], t("周报"));
    assert_eq!(
        next[REMINDER_AT],
        Value::Datetime(reminder + chrono::Duration::days(7))
    );
    assert!(!next.contains_key("id"));
    // the series ends with its end date; a task not just completed brings nothing
    let mut last = after.clone();
    last.set(DUE_DATE, Value::Date(d("2026-12-21")));
    let mut last_before = before.clone();
    last_before.set(DUE_DATE, Value::Date(d("2026-12-21")));
    assert!(next_task(&last_before, &last, d("2026-12-21")).is_none());
    assert!(next_task(&after, &after, d("2026-12-09")).is_none());
}
