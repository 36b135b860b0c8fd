#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::api_name::ApiName;
use crate::meta::{FieldDef, FieldType, ObjectDef, PicklistValue};
use crate::record::Record;

/// A record and the parent records its lookups point at.
struct Env {
    record: Record,
    parents: BTreeMap<Uuid, Record>,
}

impl FormulaEnv for Env {
    fn value(&self, path: &[String]) -> Value {
        let mut record = &self.record;
        for (i, name) in path.iter().enumerate() {
            match (record.get(name), i + 1 == path.len()) {
                (v, true) => return v.clone(),
                (Value::Ref(id), false) if self.parents.contains_key(id) => {
                    record = &self.parents[id]
                }
                _ => return Value::Null,
            }
        }
        Value::Null
    }
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    }
    fn today(&self) -> NaiveDate {
        day("2026-03-15")
    }
}

fn day(s: &str) -> NaiveDate {
    crate::value::parse_date(s).unwrap()
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}

fn money(amount: &str, currency: &str) -> Value {
    Value::Money {
        amount: amount.parse().unwrap(),
        currency: currency.into(),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn record(values: Vec<(&str, Value)>) -> Record {
    let mut r = Record::default();
    values.into_iter().for_each(|(k, v)| r.set(k, v));
    r
}

fn env() -> Env {
    let (account, holding) = (Uuid::from_u128(1), Uuid::from_u128(2));
    Env {
        record: record(vec![
            ("amount", money("1000.00", "CNY")),
            ("qty", Value::Int(3)),
            ("price", dec("19.99")),
            ("name", text(" Acme Ltd ")),
            ("close_date", Value::Date(day("2026-12-31"))),
            (
                "created_at",
                Value::Datetime(Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap()),
            ),
            ("account_id", Value::Ref(account)),
            ("lost_id", Value::Ref(Uuid::from_u128(9))),
        ]),
        parents: BTreeMap::from([
            (
                account,
                record(vec![
                    ("industry", text("Retail")),
                    ("revenue", money("5.00", "USD")),
                    ("parent_id", Value::Ref(holding)),
                ]),
            ),
            (holding, record(vec![("name", text("Holding"))])),
        ]),
    }
}

fn run(src: &str) -> Value {
    parse(src)
        .and_then(|f| f.evaluate(&env()))
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn fails(src: &str) -> FormulaError {
    match parse(src).and_then(|f| f.evaluate(&env())) {
        Ok(v) => panic!("{src} gave {v:?}"),
        Err(e) => e,
    }
}

fn cases(list: &[(&str, Value)]) {
    for (src, want) in list {
        assert_eq!(&run(src), want, "{src}");
    }
}

#[test]
fn precedence_and_literals() {
    cases(&[
        ("1 + 2 * 3", Value::Int(7)),
        ("(1 + 2) * 3", Value::Int(9)),
        ("10 - 4 - 3", Value::Int(3)),
        ("-2 * -3", Value::Int(6)),
        ("7 / 2", dec("3.5")),
        ("6 / 3", dec("2")),
        ("1 + 2 & 3", text("33")),
        ("1 < 2 and 2 > 3 or TRUE", Value::Bool(true)),
        ("not 1 = 2 and true", Value::Bool(true)),
        ("1 <> 1", Value::Bool(false)),
        (
            r#"'it\'s ' & "a \"b\"\\" & 'x\ty'"#,
            text("it's a \"b\"\\x\ty"),
        ),
        ("1.50", dec("1.50")),
        ("date(\"2026-12-31\")", Value::Date(day("2026-12-31"))),
        ("9223372036854775807 + 1", dec("9223372036854775808")),
    ]);
}

#[test]
fn nulls_propagate_except_through_coalesce_if_and_joining() {
    cases(&[
        ("nothing + 1", Value::Null),
        ("-nothing * 2", Value::Null),
        ("upper(nothing)", Value::Null),
        ("nothing < 1", Value::Null),
        ("max(1, nothing)", Value::Null),
        ("nothing = null", Value::Bool(true)),
        ("qty = null", Value::Bool(false)),
        ("nothing != 1", Value::Bool(true)),
        ("coalesce(nothing, null, 5)", Value::Int(5)),
        ("coalesce(nothing)", Value::Null),
        ("concat('a', nothing, 'b')", text("ab")),
        ("'a' & nothing", text("a")),
        ("if(nothing > 1, 'x', 'y')", text("y")),
        ("nothing and false", Value::Bool(false)),
        ("nothing or true", Value::Bool(true)),
        ("nothing and true", Value::Null),
        ("not nothing", Value::Null),
    ]);
}

#[test]
fn decimals_are_exact() {
    cases(&[
        ("0.1 + 0.2", dec("0.3")),
        ("0.1 + 0.2 = 0.3", Value::Bool(true)),
        ("price * qty", dec("59.97")),
        ("qty = 3.0", Value::Bool(true)),
    ]);
}

#[test]
fn money_keeps_its_currency() {
    cases(&[
        ("amount * 2", money("2000.00", "CNY")),
        ("2 * amount - 1", money("1999.00", "CNY")),
        ("amount + amount", money("2000.00", "CNY")),
        ("amount / 8", money("125", "CNY")),
        ("amount / amount", dec("1")),
        ("-amount", money("-1000.00", "CNY")),
        ("round(amount * 1.13, 2)", money("1130.00", "CNY")),
        ("amount > 999.99", Value::Bool(true)),
        ("amount = account_id.revenue", Value::Bool(false)),
    ]);
    let e = fails("amount + account_id.revenue");
    assert_eq!(e.position, Some(8));
    assert!(e.message.contains("CNY and USD"), "{e}");
    assert!(fails("amount * amount").message.contains("multiply"));
    assert!(
        fails("amount < account_id.revenue")
            .message
            .contains("compare")
    );
}

#[test]
fn date_arithmetic() {
    let at = |m, d, h| Value::Datetime(Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap());
    cases(&[
        ("close_date + 1", Value::Date(day("2027-01-01"))),
        ("1 + close_date - 2", Value::Date(day("2026-12-30"))),
        ("close_date - date('2026-12-01')", Value::Int(30)),
        ("created_at + 2", at(3, 3, 23)),
        ("add_days(created_at, -1)", at(2, 28, 23)),
        ("add_days(close_date, -30)", Value::Date(day("2026-12-01"))),
        (
            "add_months(date('2026-01-31'), 1)",
            Value::Date(day("2026-02-28")),
        ),
        (
            "add_months(close_date, -12)",
            Value::Date(day("2025-12-31")),
        ),
        ("days_between(today(), close_date)", Value::Int(291)),
        ("days_between(created_at, today())", Value::Int(14)),
        ("close_date > today()", Value::Bool(true)),
        ("now()", at(3, 15, 10)),
        (
            "year(close_date) * 100 + month(close_date)",
            Value::Int(202612),
        ),
        ("day(created_at)", Value::Int(1)),
    ]);
    assert!(
        fails("add_days(date('9999-12-31'), 1)")
            .message
            .contains("9999")
    );
    assert!(fails("close_date + 1.5").message.contains("whole number"));
    assert_eq!(parse("date('2026-02-30')").unwrap_err().position, Some(6));
}

#[test]
fn parent_paths() {
    cases(&[
        ("account_id.industry", text("Retail")),
        ("account_id.parent_id.name & '!'", text("Holding!")),
        ("account_id.nothing", Value::Null),
        ("lost_id.name", Value::Null),
        ("qty.name", Value::Null),
    ]);
    let f = parse("amount + account_id.revenue * amount - account_id.revenue").unwrap();
    assert_eq!(
        f.paths(),
        vec![
            vec!["amount".to_owned()],
            vec!["account_id".into(), "revenue".into()]
        ]
    );
    assert!(parse("a.b.c.d").is_ok());
    assert!(
        parse("a.b.c.d.e")
            .unwrap_err()
            .message
            .contains("at most 3")
    );
}

#[test]
fn every_function() {
    cases(&[
        ("today()", Value::Date(day("2026-03-15"))),
        ("upper(trim(name))", text("ACME LTD")),
        ("LOWER(name)", text(" acme ltd ")),
        ("len(name)", Value::Int(10)),
        ("text(qty) & text(price)", text("319.99")),
        ("text(amount)", text("1000.00 CNY")),
        ("text(close_date) & text(true)", text("2026-12-31true")),
        ("concat(1, '-', false)", text("1-false")),
        ("abs(-5) + abs(-1.5)", dec("6.5")),
        ("abs(-amount)", money("1000.00", "CNY")),
        ("min(3, 1.5, 2)", dec("1.5")),
        ("max(3, 1.5)", Value::Int(3)),
        ("min(close_date, today())", Value::Date(day("2026-03-15"))),
        ("max('b', 'ab')", text("b")),
        ("round(2.345, 2)", dec("2.35")),
        ("round(-2.5)", dec("-3")),
        ("round(qty, 2)", Value::Int(3)),
        ("if(qty > 2, 'many', 'few')", text("many")),
        ("if(false, 1 / 0, 2)", Value::Int(2)),
        ("date(text(close_date))", Value::Date(day("2026-12-31"))),
    ]);
    assert!(fails("upper(qty)").message.contains("text(x)"));
    assert!(fails("round(1, -1)").message.contains("0 to 28"));
    assert!(fails("if(qty, 1, 2)").message.contains("true or false"));
    assert!(fails("max(1, 'a')").message.contains("compare"));
}

#[test]
fn syntax_errors_say_where() {
    for (src, position, words) in [
        ("1 + * 2", 5, "expected a value"),
        ("(1 + 2", 7, "expected ')'"),
        ("'abc", 1, "no closing quote"),
        ("1 $ 2", 3, "unexpected character '$'"),
        ("1 < 2 < 3", 7, "do not chain"),
        ("1 2", 3, "unexpected number"),
        ("foo(1)", 1, "no function 'foo'"),
        ("x + Amount", 5, "lower case"),
        ("'a\\q'", 3, "unknown escape"),
        ("account_id.", 12, "expected a field name"),
        ("", 1, "expected a value"),
        ("1 and", 6, "end of the formula"),
    ] {
        let e = parse(src).unwrap_err();
        assert_eq!(e.position, Some(position), "{src}: {e}");
        assert!(e.message.contains(words), "{src}: {e}");
    }
    assert_eq!(
        parse("1 +").unwrap_err().to_string(),
        "at character 4: expected a value, found end of the formula"
    );
}

#[test]
fn arity_is_checked_when_parsing() {
    for (src, words) in [
        ("round()", "round() takes 1 to 2 argument(s), not 0"),
        ("today(1)", "today() takes 0 argument(s), not 1"),
        ("if(true, 1)", "if() takes 3 argument(s), not 2"),
        (
            "coalesce()",
            "coalesce() takes at least 1 argument(s), not 0",
        ),
    ] {
        let e = parse(src).unwrap_err();
        assert_eq!((e.message.as_str(), e.position), (words, Some(1)), "{src}");
    }
}

#[test]
fn division_by_zero_is_an_error() {
    for (src, position) in [
        ("1 / 0", 3),
        ("amount / 0.0", 8),
        ("2 * (1 / (qty - 3))", 8),
    ] {
        let e = fails(src);
        assert_eq!(
            (e.message.as_str(), e.position),
            ("division by zero", Some(position))
        );
    }
}

#[test]
fn depth_and_length_are_limited() {
    let nest = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nest(60)).is_ok());
    for src in [
        nest(65),
        format!("{}1", "-".repeat(100)),
        format!("{}1", "not ".repeat(100)),
        format!("1{}", " + 1".repeat(70)),
        format!("{}1{}", "abs(".repeat(70), ")".repeat(70)),
    ] {
        assert!(
            parse(&src)
                .unwrap_err()
                .message
                .contains("nests more than 64"),
            "{src}"
        );
    }
    let long = parse(&format!("1{}", "+1".repeat(1000))).unwrap_err();
    assert_eq!(long.position, None);
    assert!(long.message.contains("2000 characters"));
}

fn object(name: &str, fields: Vec<FieldDef>) -> ObjectDef {
    ObjectDef {
        api_name: ApiName::trusted(name),
        label: name.into(),
        plural_label: name.into(),
        name_field: ApiName::trusted("name"),
        standard: true,
        fields,
        sharing: Default::default(),
        manager_edit: false,
        layout: Vec::new(),
        matching_rule: None,
        conversion_map: None,
        pipelines: None,
    }
}

fn lookup(name: &str, target: &str) -> FieldDef {
    let mut f = FieldDef::new(name, name, FieldType::Lookup);
    f.target = Some(ApiName::trusted(target));
    f
}

fn check(src: &str) -> Result<FormulaType, FormulaError> {
    let f = |n: &str, t| FieldDef::new(n, n, t);
    let opportunity = object(
        "opportunity",
        vec![
            f("name", FieldType::Text),
            f("amount", FieldType::Currency),
            f("qty", FieldType::Integer),
            f("close_date", FieldType::Date),
            f("owner_id", FieldType::UserLookup),
            lookup("account_id", "account"),
            lookup("broken_id", "gone"),
        ],
    );
    let account = object(
        "account",
        vec![f("name", FieldType::Text), lookup("parent_id", "account")],
    );
    let objects = move |name: &str| (name == "account").then(|| account.clone());
    parse(src).unwrap().check(&opportunity, &objects)
}

#[test]
fn check_answers_the_type() {
    use FormulaType::*;
    for (src, want) in [
        ("round(amount * 1.1, 2)", Money),
        ("account_id.parent_id.name", Text),
        ("close_date - close_date", Number),
        ("close_date + qty", Date),
        ("name & qty", Text),
        ("amount > 1 and not (qty = 2)", Boolean),
        ("coalesce(null, qty)", Number),
        ("if(qty > 1, amount, 0)", Money),
        ("add_days(null, 1)", Any),
        ("owner_id", Ref),
    ] {
        assert_eq!(check(src).unwrap(), want, "{src}");
    }
    assert!(Money.assignable_to(FieldType::Currency));
    assert!(Number.assignable_to(FieldType::Text));
    assert!(!Date.assignable_to(FieldType::Boolean));
}

#[test]
fn check_refuses_unknown_fields_and_wrong_types() {
    for (src, position, words) in [
        ("qty + nope", 7, "'opportunity' has no field 'nope'"),
        (
            "account_id.parent_id.nope",
            1,
            "'account' has no field 'nope'",
        ),
        ("owner_id.name", 1, "user lookup"),
        ("name.x", 1, "'name' is not a lookup"),
        ("broken_id.name", 1, "'gone', which does not exist"),
        (
            "add_days(name, 1)",
            1,
            "argument 1 of add_days() must be a date or a datetime, not text",
        ),
        ("if(qty > 1, 'a', 1)", 1, "if() mixes text and a number"),
        ("name > 1", 6, "cannot compare text with a number"),
        ("name - 1", 6, "cannot combine"),
        ("qty or true", 5, "'and' and 'or' need"),
        ("upper(close_date)", 1, "must be text"),
    ] {
        let e = check(src).unwrap_err();
        assert_eq!(e.position, Some(position), "{src}: {e}");
        assert!(e.message.contains(words), "{src}: {e}");
    }
}

#[test]
fn coerce_converts_to_the_field_type() {
    let f = |t| FieldDef::new("x", "X", t);
    let mut stage = f(FieldType::Picklist);
    stage.values = vec![PicklistValue {
        value: "won".into(),
        label: "Won".into(),
        active: true,
    }];
    let ok = |v: Value, field: &FieldDef| coerce(v, field, "CNY").unwrap();
    assert_eq!(ok(Value::Int(3), &f(FieldType::Decimal)), dec("3.00"));
    assert_eq!(ok(dec("3.455"), &f(FieldType::Decimal)), dec("3.46"));
    assert_eq!(ok(dec("5.0"), &f(FieldType::Integer)), Value::Int(5));
    assert_eq!(
        ok(Value::Int(5), &f(FieldType::Currency)),
        money("5.00", "CNY")
    );
    assert_eq!(
        ok(money("1.5", "USD"), &f(FieldType::Currency)),
        money("1.50", "USD")
    );
    assert_eq!(ok(Value::Bool(true), &f(FieldType::Text)), text("true"));
    assert_eq!(ok(text("won"), &stage), text("won"));
    assert_eq!(ok(Value::Null, &stage), Value::Null);
    let noon = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    assert_eq!(
        ok(Value::Datetime(noon), &f(FieldType::Date)),
        Value::Date(day("2026-03-01"))
    );
    for (v, field, words) in [
        (
            dec("5.5"),
            f(FieldType::Integer),
            "cannot set 'x': 5.5 is not a whole number",
        ),
        (text("lost"), stage, "'lost' is not one of: won"),
        (
            Value::Date(day("2026-03-01")),
            f(FieldType::Datetime),
            "cannot hold a date",
        ),
        (text("1"), f(FieldType::Boolean), "cannot hold text"),
    ] {
        let e = coerce(v, &field, "CNY").unwrap_err();
        assert!(e.message.contains(words), "{e}");
    }
}

/// An environment where every field holds something, to drive evaluation down every path.
struct Busy;

impl FormulaEnv for Busy {
    fn value(&self, path: &[String]) -> Value {
        match path.len() % 4 {
            0 => Value::Int(i64::MAX),
            1 => money("-0.5", "CNY"),
            2 => Value::Date(day("9999-12-31")),
            _ => Value::Null,
        }
    }
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::MIN_UTC
    }
    fn today(&self) -> NaiveDate {
        NaiveDate::MAX
    }
}

/// Formula-like text, and calls with awkward arguments (huge numbers, far dates).
const FORMULA_LIKE: &str = concat!(
    "[a-z_.(),'\"0-9+*/&=<>! -]{0,120}",
    "|(round|add_days|add_months|min|abs|if|days_between|year|text|len)\\(",
    "(a|-?[0-9]{1,25}(\\.[0-9]{1,20})?|a.b)(, ?(a|-?[0-9]{1,30}|today\\(\\)|now\\(\\)))*\\)",
);

proptest! {
    #[test]
    fn parse_never_panics(src in "\\PC{0,300}") {
        let _ = parse(&src);
    }

    #[test]
    fn evaluation_never_panics(src in FORMULA_LIKE) {
        if let Ok(f) = parse(&src) {
            let _ = f.evaluate(&env());
            let _ = f.evaluate(&Busy);
            let _ = f.paths();
        }
    }
}
