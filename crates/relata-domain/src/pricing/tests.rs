use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn line(q: &str, p: &str, disc: &str, tax: &str) -> Line {
    Line {
        quantity: d(q),
        unit_price: d(p),
        discount_percent: d(disc),
        tax_rate: d(tax),
    }
}

#[test]
fn a_line_rounds_each_amount_once_half_away_from_zero() {
    // 3 × 33.335 = 100.005 → 100.01; 10 % off the exact 100.005 = 90.0045 → 90.00
    let a = line("3", "33.335", "10", "13").amounts(2).unwrap();
    assert_eq!(a.gross, d("100.01"));
    assert_eq!(a.subtotal, d("90.00"));
    assert_eq!(a.discount, d("10.01"));
    assert_eq!(a.tax, d("11.70"));
    assert_eq!(a.total, d("101.70"));
}

#[test]
fn a_quarter_off_with_vat() {
    let a = line("4", "12500", "25", "13").amounts(2).unwrap();
    assert_eq!(a.gross, d("50000.00"));
    assert_eq!(a.subtotal, d("37500.00"));
    assert_eq!(a.tax, d("4875.00"));
    assert_eq!(a.total, d("42375.00"));
}

#[test]
fn bad_inputs_are_named() {
    let errors = check_line(&line("-1", "-5", "101", "-1"));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, [QUANTITY, UNIT_PRICE, DISCOUNT, TAX_RATE]);
    assert!(errors[2].message.contains("100 %"));
    assert!(check_line(&line("0", "5", "0", "0"))[0].field == QUANTITY);
    assert!(check_line(&line("0.5", "0", "100", "0")).is_empty());
}

#[test]
fn the_largest_tier_reached_gives_the_discount() {
    let tiers = [
        Tier {
            min_quantity: d("50"),
            discount_percent: d("10"),
        },
        Tier {
            min_quantity: d("10"),
            discount_percent: d("5"),
        },
    ];
    assert_eq!(tier_discount(&tiers, d("9")), None);
    assert_eq!(tier_discount(&tiers, d("10")), Some(d("5")));
    assert_eq!(tier_discount(&tiers, d("49.5")), Some(d("5")));
    assert_eq!(tier_discount(&tiers, d("500")), Some(d("10")));
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn rate(currency: &str, base: &str, per_unit: &str, from: &str) -> Rate {
    Rate {
        currency: currency.into(),
        base: base.into(),
        per_unit: d(per_unit),
        effective_from: day(from),
    }
}

#[test]
fn a_conversion_uses_the_rate_in_effect_on_its_date() {
    let rates = [
        rate("USD", "CNY", "7.10", "2026-01-01"),
        rate("USD", "CNY", "7.25", "2026-07-01"),
        rate("EUR", "CNY", "7.80", "2026-01-01"),
    ];
    let on = |s| convert(d("100"), "USD", "CNY", day(s), &rates, 2);
    assert_eq!(on("2026-03-01").unwrap(), d("710.00"));
    assert_eq!(on("2026-07-01").unwrap(), d("725.00"));
    assert_eq!(
        on("2025-12-31").unwrap_err(),
        "no exchange rate from USD to CNY on 2025-12-31"
    );
    // the inverse of a rate, and a cross rate through the common base
    let cny = convert(d("725"), "CNY", "USD", day("2026-08-01"), &rates, 2).unwrap();
    assert_eq!(cny, d("100.00"));
    let eur = convert(d("100"), "USD", "EUR", day("2026-08-01"), &rates, 2).unwrap();
    assert_eq!(eur, d("92.95"));
    let err = convert(d("1"), "JPY", "CNY", day("2026-08-01"), &rates, 2).unwrap_err();
    assert!(err.contains("JPY"));
    assert_eq!(
        convert(d("1.234"), "JPY", "JPY", day("2026-08-01"), &[], 2).unwrap(),
        d("1.234")
    );
}

fn money() -> impl Strategy<Value = Decimal> {
    (0i64..100_000_000_000).prop_map(|cents| Decimal::new(cents, 2))
}

fn quantity() -> impl Strategy<Value = Decimal> {
    (1i64..10_000_000).prop_map(|milli| Decimal::new(milli, 3))
}

fn percent() -> impl Strategy<Value = Decimal> {
    (0i64..=10_000).prop_map(|basis| Decimal::new(basis, 2))
}

proptest! {
    #[test]
    fn amounts_add_up_exactly(q in quantity(), p in money(), disc in percent(), tax in percent()) {
        let l = Line { quantity: q, unit_price: p, discount_percent: disc, tax_rate: tax };
        prop_assert!(check_line(&l).is_empty());
        let a = l.amounts(2).unwrap();
        prop_assert_eq!(a.gross - a.discount, a.subtotal);
        prop_assert_eq!(a.subtotal + a.tax, a.total);
        prop_assert!(a.subtotal >= Decimal::ZERO && a.subtotal <= a.gross);
        prop_assert!(a.tax >= Decimal::ZERO && a.tax <= a.subtotal);
        for x in [a.gross, a.discount, a.subtotal, a.tax, a.total] {
            prop_assert!(x.scale() <= 2);
        }
        // within half a cent of the exact figures
        let exact = q * p * (Decimal::ONE_HUNDRED - disc) / Decimal::ONE_HUNDRED;
        prop_assert!((a.subtotal - exact).abs() <= Decimal::new(5, 3));
    }

    #[test]
    fn a_larger_discount_never_costs_more(q in quantity(), p in money(), x in percent(), y in percent()) {
        let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
        let at = |disc| Line { quantity: q, unit_price: p, discount_percent: disc, tax_rate: Decimal::ZERO }
            .amounts(2).unwrap().subtotal;
        prop_assert!(at(hi) <= at(lo));
        prop_assert_eq!(at(Decimal::ZERO), Line { quantity: q, unit_price: p, discount_percent: Decimal::ZERO, tax_rate: Decimal::ZERO }.amounts(2).unwrap().gross);
        prop_assert_eq!(at(Decimal::ONE_HUNDRED), Decimal::ZERO);
    }

    #[test]
    fn converting_to_the_same_currency_changes_nothing(a in money()) {
        prop_assert_eq!(convert(a, "CNY", "CNY", day("2026-01-01"), &[], 2).unwrap(), a);
    }

    #[test]
    fn a_round_trip_loses_at_most_rounding(a in money(), rate in 1i64..1_000_000) {
        let rates = [Rate { currency: "USD".into(), base: "CNY".into(), per_unit: Decimal::new(rate, 4), effective_from: day("2026-01-01") }];
        let on = day("2026-02-01");
        let usd = convert(a, "CNY", "USD", on, &rates, 2).unwrap();
        let back = convert(usd, "USD", "CNY", on, &rates, 2).unwrap();
        // half a cent of USD, worth at most rate/2 cents of CNY, plus the last rounding
        let bound = Decimal::new(rate, 4) * Decimal::new(5, 3) + Decimal::new(5, 3);
        prop_assert!((back - a).abs() <= bound);
    }
}

fn quote_line(q: &str, p: &str, disc: &str, tax: &str) -> QuoteLine {
    let l = line(q, p, disc, tax);
    QuoteLine {
        line: l,
        amounts: l.amounts(2).unwrap(),
    }
}

#[test]
fn a_header_discount_is_spread_over_the_lines_and_taxed_per_line() {
    let lines = [
        quote_line("4", "12500", "0", "13"),
        quote_line("10", "1000", "10", "6"),
    ];
    let t = quote_totals(&lines, d("25"), 2).unwrap();
    assert_eq!(t.subtotal, d("59000.00"));
    assert_eq!(t.net, d("44250.00"));
    assert_eq!(t.header_discount, d("14750.00"));
    // 37,500 × 13 % + 6,750 × 6 %
    assert_eq!(t.tax, d("5280.00"));
    assert_eq!(t.total, d("49530.00"));
    // 60,000 list, sold for 44,250: 26.25 % off
    assert_eq!(t.discount_percent, d("26.25"));
    assert_eq!(
        quote_totals(&[], d("10"), 2).unwrap(),
        QuoteTotals::default()
    );
    assert_eq!(combined_discount(d("10"), d("25")).unwrap(), d("32.5"));
}

proptest! {
    #[test]
    fn quote_totals_add_up_and_match_lines_given_the_combined_discount(
        lines in proptest::collection::vec((quantity(), money(), percent(), percent()), 0..12),
        header in percent(),
    ) {
        let lines: Vec<QuoteLine> = lines.into_iter().map(|(q, p, disc, tax)| {
            let l = Line { quantity: q, unit_price: p, discount_percent: disc, tax_rate: tax };
            QuoteLine { line: l, amounts: l.amounts(2).unwrap() }
        }).collect();
        let t = quote_totals(&lines, header, 2).unwrap();
        prop_assert_eq!(t.subtotal - t.header_discount, t.net);
        prop_assert_eq!(t.net + t.tax, t.total);
        prop_assert!(t.net >= Decimal::ZERO && t.net <= t.subtotal + Decimal::new(5, 3) * Decimal::from(lines.len()));
        prop_assert!(t.discount_percent >= Decimal::ZERO && t.discount_percent <= Decimal::ONE_HUNDRED);
        // the same lines with the combined discount, as a deal gets them, total the same
        let deal: Decimal = lines.iter().map(|q| Line {
            discount_percent: combined_discount(q.line.discount_percent, header).unwrap(),
            ..q.line
        }.amounts(2).unwrap().total).sum();
        prop_assert_eq!(deal, t.total);
    }
}
