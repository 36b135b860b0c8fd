//! Random record inputs and random filters. Values come from small pools of awkward cases
//! (case and width variants, Chinese, emoji, boundaries, equal values) mixed with random ones;
//! filter operands are drawn from the values actually stored, their neighbours, and random
//! values, so that conditions hit, miss and sit on boundaries.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Value as Json, json};

use relata_domain::filter::Op;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{Record, Value};

use crate::filter_property::world::{STAGES, TAGS};

/// Texts that make case folding, byte order and substring search interesting.
pub const TEXTS: &[&str] = &[
    "a",
    "A",
    "abc",
    "ABC",
    "Abc",
    "acme",
    "Acme Corp",
    "ACME",
    "张伟",
    "张伟明",
    "李张伟",
    "上海",
    "😀",
    "x😀y",
    "ÉCOLE",
    "école",
    "Ä",
    "ä",
    "ß",
    "İstanbul",
    "istanbul",
    "%",
    "_",
    "a%b",
    "a_b",
    "O'Brien",
    "say \"hi\"",
    "null",
    "and",
    "10",
    "-5",
    "1.5",
    "tab\there",
    "  padded  ",
    "ｆｕｌｌ",
    "Zeta",
    "zeta",
    "z",
    "~",
    "line\nbreak",
    "a\u{1}b",
    "\u{7f}",
    "\u{feff}x",
];

const RANDOM_TEXT: &str = "[a-zA-Z0-9 _%'张伟明李上海😀ÉéÄäßİ.,()-]{1,12}";

pub const RELATIVE: &[&str] = &[
    "today",
    "yesterday",
    "tomorrow",
    "now",
    "-30d",
    "+30d",
    "-2w",
    "+2w",
    "-3m",
    "+1m",
    "-1y",
    "+1y",
    "-0d",
    "+0d",
    "-100000d",
    "+100000d",
    "-100000m",
    "+100000m",
    "-9000y",
    "+9000y",
    "-100000y",
    "+100000y",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(TEXTS).prop_map(str::to_owned),
        2 => RANDOM_TEXT,
    ]
    .boxed()
}

fn nullable(s: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop_oneof![1 => Just(Json::Null), 5 => s].boxed()
}

/// `units` of 10^-scale as a decimal string.
pub fn decimal_text(units: i128, scale: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let factor = 10u128.pow(scale);
    if scale == 0 {
        format!("{sign}{abs}")
    } else {
        format!(
            "{sign}{}.{:0width$}",
            abs / factor,
            abs % factor,
            width = scale as usize
        )
    }
}

/// Largest value a decimal field accepts, in units of 10^-scale: 15 digits before the point,
/// fewer beyond three places (18 digits in all).
fn max_units(scale: u32) -> i128 {
    10i128.pow((18 - scale).min(15) + scale) - 1
}

fn units(scale: u32) -> BoxedStrategy<i128> {
    let max = max_units(scale);
    prop_oneof![
        select(
            [
                0,
                1,
                -1,
                150,
                -150,
                100,
                max,
                -max,
                i64::MAX as i128,
                i64::MAX as i128 + 1
            ]
            .into_iter()
            .filter(|u| u.abs() <= max)
            .collect::<Vec<_>>()
        ),
        -100_000i128..100_000,
        -max..=max,
    ]
    .boxed()
}

fn decimal_input(scale: u32) -> BoxedStrategy<Json> {
    units(scale)
        .prop_map(move |u| Json::String(decimal_text(u, scale)))
        .boxed()
}

fn date_input() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "0001-01-01",
            "9999-12-31",
            "2024-02-29",
            "2026-03-31",
            "2026-03-30",
            "2026-04-01",
            "2026-03-01",
            "2026-02-28",
            "2025-03-31",
            "1999-12-31",
            "2000-01-01",
        ])
        .prop_map(str::to_owned),
        (1i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (2024i32..=2028, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
    ]
    .boxed()
}

fn datetime_input() -> BoxedStrategy<String> {
    let random = |years: std::ops::RangeInclusive<i32>| {
        (
            years,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
            0u32..1_000_000,
            select(vec!["Z", "+08:00", "-05:00"]),
        )
            .prop_map(|(y, mo, d, h, mi, s, us, off)| {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}{off}")
            })
    };
    prop_oneof![
        select(vec![
            "2026-03-31T10:20:30.123456Z",
            "2026-03-31T10:20:30.123457Z",
            "2026-03-31T10:20:30.123455Z",
            "2026-03-31T10:20:30.123456999Z",
            "2026-03-31T00:00:00Z",
            "2026-03-30T00:00:00Z",
            "2026-04-01T00:00:00Z",
            "2026-03-31T08:00:00+08:00",
            "2026-03-01T10:20:30.123456789Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "0001-01-01T01:00:00+01:00",
        ])
        .prop_map(str::to_owned),
        random(2..=9998),
        random(2025..=2027),
    ]
    .boxed()
}

fn email_input() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "zhang.wei@example.com",
            "Zhang.Wei@Example.COM",
            "a@b.co",
            "ÉCOLE@exemple.fr",
            "li@例子.中国",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9]{1,6}(\\.[a-z0-9]{1,4})?@(example|acme)\\.(com|cn)",
    ]
    .boxed()
}

fn phone_input() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "+86 138-0013-8000",
            "(010) 6552 1234",
            "13800138000",
            "12345",
            "+1 (415) 555-0100 x12",
        ])
        .prop_map(str::to_owned),
        "1[3-9][0-9]{9}",
    ]
    .boxed()
}

/// A record's JSON input for the test object.
pub fn record_input(accounts: Vec<String>, user: String) -> impl Strategy<Value = Json> {
    let s = |x: BoxedStrategy<String>| x.prop_map(Json::String).boxed();
    let name = text().prop_filter("a name", |t| !t.trim().is_empty());
    let money = prop_oneof![
        (units(2), select(vec!["CNY", "USD", "eur"]))
            .prop_map(|(u, c)| json!({"amount": decimal_text(u, 2), "currency": c})),
        decimal_input(2),
    ]
    .boxed();
    let ints = prop_oneof![
        select(vec![0i64, 1, -1, 42, 1000, i64::MIN, i64::MAX]),
        -50i64..50,
        any::<i64>(),
    ]
    .prop_map(Json::from)
    .boxed();
    let tags = subsequence(TAGS.to_vec(), 0..=3)
        .prop_map(|t| json!(t))
        .boxed();
    let parts_a = (
        name,
        nullable(s(text())),
        nullable(s(text())),
        nullable(ints),
        nullable(decimal_input(2)),
        nullable(decimal_input(8)),
        nullable(money),
        nullable(
            units(2)
                .prop_map(|u| Json::String(decimal_text(u % 1_000_000, 2)))
                .boxed(),
        ),
        nullable(s(date_input())),
        nullable(s(datetime_input())),
    );
    let parts_b = (
        nullable(any::<bool>().prop_map(Json::Bool).boxed()),
        nullable(select(STAGES).prop_map(Json::from).boxed()),
        nullable(tags),
        nullable(s(email_input())),
        nullable(s(phone_input())),
        nullable(
            select(vec![
                "www.acme.com",
                "https://ACME.com/a?b=c",
                "http://localhost",
                "acme.cn/路径",
            ])
            .prop_map(Json::from)
            .boxed(),
        ),
        nullable(select(accounts).prop_map(Json::String).boxed()),
        nullable(Just(Json::String(user)).boxed()),
    );
    (parts_a, parts_b).prop_map(
        |(
            (name, note, body, qty, amount, fine, price, rate, due, seen_at),
            (active, stage, tags, email, phone, site, account_id, user_id),
        )| {
            json!({
                "name": name, "note": note, "body": body, "qty": qty, "amount": amount,
                "fine": fine, "price": price, "rate": rate, "due": due, "seen_at": seen_at,
                "active": active, "stage": stage, "tags": tags, "email": email, "phone": phone,
                "site": site, "account_id": account_id, "user_id": user_id,
            })
        },
    )
}

/// How far from "now" a record is created: microseconds, days or years away.
pub fn created_offset_nanos() -> impl Strategy<Value = i64> {
    const DAY: i64 = 86_400_000_000_000;
    prop_oneof![
        -1_000_000_000i64..1_000_000_000,
        -40 * DAY..40 * DAY,
        -3 * 365 * DAY..3 * 365 * DAY,
    ]
}

// ---- filters ----

/// A field of the object with the values stored in it.
#[derive(Clone)]
struct FieldPool {
    name: String,
    field_type: FieldType,
    scale: u32,
    /// Wire forms of the stored non-null values.
    values: Vec<Json>,
}

fn pools(object: &ObjectDef, records: &[Record]) -> Vec<FieldPool> {
    object
        .live_fields()
        .filter(|f| !relata_domain::filter::allowed_ops(f.field_type).is_empty())
        .map(|f| {
            let mut values: Vec<Json> = records
                .iter()
                .map(|r| r.get(f.name()))
                .filter(|v| !v.is_null())
                .map(Value::to_json)
                .collect();
            values.dedup();
            if values.is_empty() {
                values.push(Json::Null);
            }
            FieldPool {
                name: f.name().to_owned(),
                field_type: f.field_type,
                scale: f.scale(),
                values,
            }
        })
        .collect()
}

fn ascii_upper(j: &Json) -> Json {
    match j {
        Json::String(s) => Json::String(s.to_ascii_uppercase()),
        other => other.clone(),
    }
}

fn unicode_upper(j: &Json) -> Json {
    match j {
        Json::String(s) => Json::String(s.to_uppercase()),
        other => other.clone(),
    }
}

/// A single operand for `eq`, `ne`, `lt`, … and the items of `in`.
fn one(p: &FieldPool) -> BoxedStrategy<Json> {
    let stored = select(p.values.clone());
    match p.field_type {
        FieldType::Picklist => prop_oneof![
            6 => select(STAGES).prop_map(Json::from),
            1 => text().prop_map(Json::String),
        ]
        .boxed(),
        t if t.is_textual() => prop_oneof![
            4 => stored.clone(),
            1 => stored.clone().prop_map(|v| ascii_upper(&v)),
            1 => stored.prop_map(|v| unicode_upper(&v)),
            2 => text().prop_map(Json::String),
            // PostgreSQL cannot hold U+0000: refused on both sides
            1 => Just(Json::from("a\u{0}b")),
        ]
        .boxed(),
        FieldType::Integer => {
            let near = stored.clone().prop_flat_map(|v| {
                let i = v.as_i64().unwrap_or(0);
                select(vec![i.saturating_sub(1), i, i.saturating_add(1)])
            });
            prop_oneof![
                3 => stored,
                2 => near.prop_map(Json::from),
                1 => select(vec![i64::MIN, i64::MAX, 0]).prop_map(Json::from),
                1 => any::<i64>().prop_map(Json::from),
            ]
            .boxed()
        }
        FieldType::Decimal | FieldType::Percent | FieldType::Currency => {
            let scale = p.scale;
            let amounts: Vec<Json> = p
                .values
                .iter()
                .map(|v| match v {
                    Json::Object(m) => m.get("amount").cloned().unwrap_or(Json::Null),
                    other => other.clone(),
                })
                .collect();
            prop_oneof![
                3 => stored,
                2 => select(amounts),
                2 => decimal_input(scale),
                1 => (-1000i64..1000).prop_map(Json::from),
                // one place too many, or just too large: refused on both sides
                1 => Just(Json::String(decimal_text(1, scale + 1))),
                1 => Just(Json::String(decimal_text(max_units(scale) + 1, scale))),
            ]
            .boxed()
        }
        FieldType::Date => prop_oneof![
            3 => stored,
            2 => select(RELATIVE).prop_map(Json::from),
            2 => date_input().prop_map(Json::String),
            1 => select(vec!["-001-01-01", "0000-12-31", "+999-01-01"]).prop_map(Json::from),
        ]
        .boxed(),
        FieldType::Datetime => prop_oneof![
            3 => stored,
            2 => select(RELATIVE).prop_map(Json::from),
            2 => datetime_input().prop_map(Json::String),
            // in UTC outside years 1-9999: refused on both sides
            1 => select(vec!["9999-12-31T20:00:00-05:00", "0001-01-01T00:30:00+01:00"])
                .prop_map(Json::from),
        ]
        .boxed(),
        FieldType::Boolean => any::<bool>().prop_map(Json::Bool).boxed(),
        FieldType::MultiPicklist => prop_oneof![
            8 => select(TAGS).prop_map(Json::from),
            1 => Just(Json::from("no such tag")),
        ]
        .boxed(),
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => prop_oneof![
            6 => stored,
            2 => any::<u128>().prop_map(|u| Json::String(uuid::Uuid::from_u128(u).to_string())),
            1 => Just(Json::from("not-an-id")),
        ]
        .boxed(),
        _ => stored.boxed(),
    }
}

/// A needle for `contains` / `starts_with` on text: a piece of a stored value, in some case.
fn needle(p: &FieldPool) -> BoxedStrategy<Json> {
    let pieces =
        (select(p.values.clone()), any::<usize>(), 0usize..6).prop_map(|(v, start, len)| {
            let s: Vec<char> = v.as_str().unwrap_or_default().chars().collect();
            let start = if s.is_empty() { 0 } else { start % s.len() };
            Json::String(s.iter().skip(start).take(len).collect())
        });
    prop_oneof![
        4 => pieces.clone(),
        1 => pieces.clone().prop_map(|v| ascii_upper(&v)),
        1 => pieces.prop_map(|v| unicode_upper(&v)),
        1 => text().prop_map(Json::String),
        1 => Just(Json::from("")),
        1 => Just(Json::from("\u{0}")),
        1 => (0i64..200).prop_map(Json::from),
    ]
    .boxed()
}

fn condition(p: FieldPool) -> BoxedStrategy<Json> {
    let ops = relata_domain::filter::allowed_ops(p.field_type).to_vec();
    select(ops)
        .prop_flat_map(move |op| {
            let value: BoxedStrategy<Json> = match op {
                Op::IsNull => select(vec![Json::Bool(true), Json::Bool(false), Json::Null]).boxed(),
                Op::In => {
                    prop::collection::vec(prop_oneof![8 => one(&p), 1 => Just(Json::Null)], 0..5)
                        .prop_map(Json::Array)
                        .boxed()
                }
                Op::Contains | Op::StartsWith if p.field_type != FieldType::MultiPicklist => {
                    needle(&p)
                }
                _ => one(&p),
            };
            let name = p.name.clone();
            value.prop_map(move |v| json!({"field": name, "op": op.as_str(), "value": v}))
        })
        .boxed()
}

/// Random JSON filters over `object`'s fields, with operands drawn from `records`.
pub fn filter(object: &ObjectDef, records: &[Record]) -> BoxedStrategy<Json> {
    let leaves: Vec<BoxedStrategy<Json>> =
        pools(object, records).into_iter().map(condition).collect();
    Union::new(leaves)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"and": v})),
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"or": v})),
                inner.prop_map(|f| json!({"not": f})),
            ]
        })
        .boxed()
}
