use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn day(m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, dd).unwrap()
}

fn plan(amounts: &[(&str, NaiveDate)]) -> Vec<Instalment> {
    amounts
        .iter()
        .enumerate()
        .map(|(n, (a, due))| Instalment {
            id: Uuid::from_u128(n as u128 + 1),
            due: *due,
            number: n as i64 + 1,
            amount: d(a),
        })
        .collect()
}

fn pay(amount: &str, instalment: Option<&Instalment>) -> Receipt {
    Receipt {
        amount: d(amount),
        instalment: instalment.map(|i| i.id),
    }
}

#[test]
fn payments_fill_the_earliest_unpaid_instalments() {
    let p = plan(&[("300", day(3, 1)), ("300", day(1, 1)), ("400", day(6, 1))]);
    let a = allocate(&p, &[pay("200", None), pay("250", None)]);
    // the January instalment (second in the list) is filled first
    assert_eq!(a.paid[&p[1].id], d("300"));
    assert_eq!(a.paid[&p[0].id], d("150"));
    assert_eq!(a.paid[&p[2].id], d("0"));
    assert_eq!(a.unallocated, d("0"));
}

#[test]
fn a_payment_naming_an_instalment_fills_it_first_and_spills_over() {
    let p = plan(&[("300", day(1, 1)), ("300", day(3, 1)), ("400", day(6, 1))]);
    let a = allocate(&p, &[pay("350", Some(&p[2])), pay("100", None)]);
    assert_eq!(a.paid[&p[2].id], d("350"));
    assert_eq!(a.paid[&p[0].id], d("100"));
    let a = allocate(&p, &[pay("500", Some(&p[2]))]);
    assert_eq!(a.paid[&p[2].id], d("400"));
    assert_eq!(
        a.paid[&p[0].id],
        d("100"),
        "the 100 over goes to the earliest"
    );
}

#[test]
fn what_no_instalment_takes_is_unallocated() {
    let p = plan(&[("100.50", day(1, 1))]);
    let a = allocate(&p, &[pay("100.25", None), pay("0.75", None)]);
    assert_eq!(a.paid[&p[0].id], d("100.50"));
    assert_eq!(a.unallocated, d("0.50"));
    assert_eq!(allocate(&[], &[pay("5", None)]).unallocated, d("5"));
}

#[test]
fn instalment_status_follows_payment_and_the_date() {
    let due = day(3, 31);
    assert_eq!(
        instalment_status(d("10"), d("0"), due, day(3, 31)),
        "planned"
    );
    assert_eq!(
        instalment_status(d("10"), d("4"), due, day(3, 31)),
        "partially_paid"
    );
    assert_eq!(
        instalment_status(d("10"), d("4"), due, day(4, 1)),
        "overdue"
    );
    assert_eq!(
        instalment_status(d("10"), d("0"), due, day(4, 1)),
        "overdue"
    );
    assert_eq!(instalment_status(d("10"), d("10"), due, day(9, 1)), "paid");
}

#[test]
fn ageing_buckets_by_days_past_due() {
    let due = day(1, 31);
    assert_eq!(ageing_bucket(due, day(1, 31)), "current");
    assert_eq!(ageing_bucket(due, day(1, 1)), "current");
    assert_eq!(ageing_bucket(due, day(2, 1)), "1_30");
    assert_eq!(ageing_bucket(due, day(3, 2)), "1_30");
    assert_eq!(ageing_bucket(due, day(3, 3)), "31_60");
    assert_eq!(ageing_bucket(due, day(5, 1)), "61_90");
    assert_eq!(ageing_bucket(due, day(5, 2)), "over_90");
}

#[test]
fn collection_rate_is_exact_to_two_places() {
    assert_eq!(collection_rate(d("1"), d("3")), Some(d("33.33")));
    assert_eq!(collection_rate(d("2"), d("3")), Some(d("66.67")));
    assert_eq!(collection_rate(d("5"), d("0")), None);
    assert_eq!(collection_rate(d("120"), d("100")), Some(d("120")));
}

#[test]
fn contract_status_moves() {
    assert!(check_transition("draft", "active").is_ok());
    assert!(check_transition("active", "terminated").is_ok());
    assert!(check_transition("active", "expired").is_ok());
    assert!(check_transition("draft", "in_approval").is_err());
    assert!(check_transition("in_approval", "active").is_err());
    assert!(check_transition("expired", "active").is_err());
    assert!(check_transition("terminated", "draft").is_err());
    assert!(check_transition("active", "draft").is_err());
}

fn cents() -> impl Strategy<Value = Decimal> {
    (1i64..5_000_000).prop_map(|c| Decimal::new(c, 2))
}

proptest! {
    /// Money is neither made nor lost: everything paid is on an instalment or unallocated;
    /// no instalment takes more than it asks; something is unallocated only when every
    /// instalment is full.
    #[test]
    fn allocation_conserves_money(
        amounts in proptest::collection::vec((cents(), 0u32..365), 0..8),
        receipts in proptest::collection::vec((cents(), proptest::option::of(0usize..8)), 0..12),
    ) {
        let start = day(1, 1);
        let instalments: Vec<Instalment> = amounts
            .iter()
            .enumerate()
            .map(|(n, (a, offset))| Instalment {
                id: Uuid::from_u128(n as u128 + 1),
                due: start + chrono::Duration::days(i64::from(*offset)),
                number: n as i64 + 1,
                amount: *a,
            })
            .collect();
        let receipts: Vec<Receipt> = receipts
            .iter()
            .map(|(a, i)| Receipt {
                amount: *a,
                instalment: i.and_then(|i| instalments.get(i)).map(|x| x.id),
            })
            .collect();
        let a = allocate(&instalments, &receipts);
        let received: Decimal = receipts.iter().map(|r| r.amount).sum();
        let placed: Decimal = a.paid.values().copied().sum();
        prop_assert_eq!(placed + a.unallocated, received);
        prop_assert!(a.unallocated >= Decimal::ZERO);
        for i in &instalments {
            prop_assert!(a.paid[&i.id] <= i.amount);
            prop_assert!(a.paid[&i.id] >= Decimal::ZERO);
            if a.unallocated > Decimal::ZERO {
                prop_assert_eq!(a.paid[&i.id], i.amount);
            }
        }
    }
}
