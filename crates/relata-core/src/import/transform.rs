//! A cell's text as the value the record service takes: dates written the ways spreadsheets
//! write them, numbers with thousands separators and currency signs, 是/否 and yes/no,
//! picklist values by their label in either language, phone numbers in E.164. What cannot be
//! read is that cell's error, naming the column's field; the record service then checks the
//! result like any other input (required, max length, ranges).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use relata_domain::dedupe::phone::{PhoneRegion, to_e164};
use relata_domain::labels_zh;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};

use super::mapping::normalise;

/// How to read dates whose order is not evident (`03/04/2025`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// Year first, as in China and ISO 8601; `a/b/yyyy` is refused unless one part is over 12.
    #[default]
    Ymd,
    /// Day first (`31/01/2025`).
    Dmy,
    /// Month first (`01/31/2025`).
    Mdy,
}

/// The reading rules of one import.
#[derive(Debug, Clone)]
pub struct Reading {
    pub date_order: DateOrder,
    /// Offset of local times without one, east of UTC.
    pub utc_offset: chrono::FixedOffset,
    pub phone_region: PhoneRegion,
    pub normalise_phones: bool,
    /// Picklist values by field: the file's word (normalised) → the value.
    pub picklist_map: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

/// What a cell becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Value(Json),
    /// A lookup written as the name of the record: resolved against the database later.
    Name(String),
}

/// Reads `text` for `field`.
pub fn read_cell(
    object: &ObjectDef,
    field: &FieldDef,
    text: &str,
    r: &Reading,
) -> Result<Cell, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Cell::Empty);
    }
    let value = match field.field_type {
        FieldType::Text | FieldType::LongText | FieldType::Url => json!(unguard(t)),
        FieldType::Email => json!(t),
        FieldType::Phone => {
            if r.normalise_phones {
                json!(to_e164(t, &r.phone_region).unwrap_or_else(|| t.to_owned()))
            } else {
                json!(t)
            }
        }
        FieldType::Integer => {
            let d = number(t).ok_or_else(|| format!("'{t}' is not a number"))?;
            if d.fract() != Decimal::ZERO {
                return Err(format!("'{t}' is not a whole number"));
            }
            json!(i64::try_from(d).map_err(|_| format!("'{t}' is too large"))?)
        }
        FieldType::Decimal => json!(
            number(t)
                .ok_or_else(|| format!("'{t}' is not a number"))?
                .to_string()
        ),
        FieldType::Percent => {
            let n = number(t.trim_end_matches(['%', '％']))
                .ok_or_else(|| format!("'{t}' is not a percentage"))?;
            json!(n.to_string())
        }
        FieldType::Currency => {
            let (amount, currency) = money(t).ok_or_else(|| format!("'{t}' is not an amount"))?;
            match currency {
                Some(c) => json!({"amount": amount.to_string(), "currency": c}),
                None => json!(amount.to_string()),
            }
        }
        FieldType::Date => json!(date(t, r.date_order)?.to_string()),
        FieldType::Datetime => {
            let local = datetime(t, r.date_order)?;
            match r.utc_offset.from_local_datetime(&local).single() {
                Some(at) => json!(at.to_rfc3339()),
                None => return Err(format!("'{t}' is not a valid time")),
            }
        }
        FieldType::Boolean => json!(
            boolean(t).ok_or_else(|| format!("'{t}' is not yes or no (是/否, true/false, 1/0)"))?
        ),
        FieldType::Picklist => json!(pick(object, field, t, r)?),
        FieldType::MultiPicklist => {
            let items = t
                .split([';', '；', ',', '，', '、', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| pick(object, field, s, r))
                .collect::<Result<Vec<_>, _>>()?;
            json!(items)
        }
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => {
            if uuid::Uuid::parse_str(t).is_ok() {
                json!(t)
            } else if field.field_type == FieldType::Id {
                return Err(format!("'{t}' is not a record id"));
            } else {
                return Ok(Cell::Name(t.to_owned()));
            }
        }
    };
    Ok(Cell::Value(value))
}

/// Our export writes a leading `'` before text that a spreadsheet would run as a formula.
fn unguard(t: &str) -> &str {
    match t.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => t,
    }
}

/// Full-width digits and punctuation as ASCII.
fn half_width(t: &str) -> String {
    t.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// A number written with thousands separators, spaces or in full width: `1,234.50`, `１２３`.
pub fn number(t: &str) -> Option<Decimal> {
    let s: String = half_width(t)
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '_' | '\u{a0}'))
        .collect();
    let s = s.strip_prefix('+').unwrap_or(&s);
    if s.is_empty() {
        return None;
    }
    s.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())
}

/// An amount with an optional currency sign or code: `¥1,200`, `$99.5`, `1200 CNY`, `USD 12`.
fn money(t: &str) -> Option<(Decimal, Option<String>)> {
    let s = half_width(t);
    let s = s.trim();
    let signs = [
        ("¥", "CNY"),
        ("￥", "CNY"),
        ("RMB", "CNY"),
        ("$", "USD"),
        ("€", "EUR"),
        ("£", "GBP"),
        ("HK$", "HKD"),
        ("US$", "USD"),
    ];
    for (sign, code) in signs.iter().rev() {
        if let Some(rest) = s.strip_prefix(sign) {
            return number(rest).map(|n| (n, Some((*code).to_owned())));
        }
    }
    let code_at = |part: &str| {
        (part.len() == 3 && part.chars().all(|c| c.is_ascii_alphabetic()))
            .then(|| part.to_ascii_uppercase())
    };
    if let Some((a, b)) = s.rsplit_once(' ') {
        if let (Some(code), Some(n)) = (code_at(b.trim()), number(a)) {
            return Some((n, Some(code)));
        }
        if let (Some(code), Some(n)) = (code_at(a.trim()), number(b)) {
            return Some((n, Some(code)));
        }
    }
    let s = s.trim_end_matches('元');
    number(s).map(|n| (n, None))
}

fn boolean(t: &str) -> Option<bool> {
    match normalise(t).as_str() {
        "true" | "yes" | "y" | "1" | "是" | "真" | "对" | "有" | "✓" | "✔" | "x" => {
            Some(true)
        }
        "false" | "no" | "n" | "0" | "否" | "假" | "错" | "无" | "✗" | "✘" => Some(false),
        _ => None,
    }
}

/// A picklist value from its API value, its English or Chinese label, or the import's own
/// mapping of the file's words.
fn pick(object: &ObjectDef, field: &FieldDef, t: &str, r: &Reading) -> Result<String, String> {
    let key = normalise(t);
    if let Some(v) = r.picklist_map.get(field.name()).and_then(|m| m.get(&key)) {
        return Ok(v.clone());
    }
    for v in &field.values {
        let zh = labels_zh::pick_label(object, field, &v.value);
        if normalise(&v.value) == key
            || normalise(&v.label) == key
            || zh.is_some_and(|z| normalise(z) == key)
        {
            return Ok(v.value.clone());
        }
    }
    let known: Vec<&str> = field
        .values
        .iter()
        .filter(|v| v.active)
        .map(|v| v.value.as_str())
        .collect();
    Err(format!("'{t}' is not one of {}", known.join(", ")))
}

/// Days between Excel's day 0 (1899-12-30, allowing for its 1900 leap-year bug) and a date.
fn excel_serial(n: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&n) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_time(NaiveTime::MIN);
    let seconds = (n * 86_400.0).round() as i64;
    base.checked_add_signed(Duration::seconds(seconds))
}

/// A date written `2025-01-31`, `2025/1/31`, `2025.1.31`, `2025年1月31日`, `20250131`,
/// `31/01/2025` (by the date order), or as an Excel day number.
pub fn date(t: &str, order: DateOrder) -> Result<NaiveDate, String> {
    let bad = || format!("'{t}' is not a date (write it as 2025-01-31)");
    let s = half_width(t);
    let s = s.trim();
    // a date-time in a date column: the date part
    let s = s.split(['T', ' ']).next().unwrap_or(s);
    if s.len() == 8 && s.chars().all(|c| c.is_ascii_digit()) {
        let (y, m, d) = (&s[..4], &s[4..6], &s[6..]);
        return ymd(y, m, d).ok_or_else(bad);
    }
    if let Ok(n) = s.parse::<f64>()
        && s.len() <= 8
    {
        return excel_serial(n).map(|d| d.date()).ok_or_else(bad);
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let [a, b, c] = parts[..] else {
        return Err(bad());
    };
    if a.len() == 4 {
        return ymd(a, b, c).ok_or_else(bad);
    }
    if c.len() != 4 {
        return Err(bad());
    }
    let (x, y) = (
        a.parse::<u32>().map_err(|_| bad())?,
        b.parse::<u32>().map_err(|_| bad())?,
    );
    let day_first = match order {
        DateOrder::Dmy => true,
        DateOrder::Mdy => false,
        DateOrder::Ymd if x > 12 && y <= 12 => true,
        DateOrder::Ymd if y > 12 && x <= 12 => false,
        DateOrder::Ymd => {
            return Err(format!(
                "'{t}' could be day/month or month/day: write it as 2025-01-31, or choose the date order"
            ));
        }
    };
    let (d, m) = if day_first { (a, b) } else { (b, a) };
    ymd(c, m, d).ok_or_else(bad)
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// A local date and time: a date as [`date`] reads it, then `13:45`, `13:45:10` or
/// `下午1:45`; RFC 3339 text keeps its own offset.
fn datetime(t: &str, order: DateOrder) -> Result<NaiveDateTime, String> {
    let s = half_width(t);
    let s = s.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(at.naive_utc());
    }
    if let Ok(n) = s.parse::<f64>() {
        return excel_serial(n).ok_or_else(|| format!("'{t}' is not a date and time"));
    }
    let (day, time) = match s.split_once(['T', ' ']) {
        Some((d, rest)) => (d, rest.trim()),
        None => (s, ""),
    };
    let day = date(day, order)?;
    if time.is_empty() {
        return Ok(day.and_time(NaiveTime::MIN));
    }
    let (pm, clock) = if let Some(rest) = time.strip_prefix("下午") {
        (true, rest)
    } else {
        (false, time.strip_prefix("上午").unwrap_or(time))
    };
    let clock = clock.trim();
    let parsed = NaiveTime::parse_from_str(clock, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M"))
        .map_err(|_| format!("'{t}' is not a date and time (write it as 2025-01-31 13:45)"))?;
    let parsed = if pm && parsed < NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN) {
        parsed + Duration::hours(12)
    } else {
        parsed
    };
    Ok(day.and_time(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid")
    }

    #[test]
    fn dates_as_spreadsheets_write_them() {
        for t in [
            "2025-01-31",
            "2025/1/31",
            "2025.01.31",
            "2025年1月31日",
            "20250131",
            "45688",
            "2025-01-31 10:00",
        ] {
            assert_eq!(date(t, DateOrder::Ymd), Ok(d(2025, 1, 31)), "{t}");
        }
        assert_eq!(date("31/01/2025", DateOrder::Ymd), Ok(d(2025, 1, 31)));
        assert!(date("03/04/2025", DateOrder::Ymd).is_err());
        assert_eq!(date("03/04/2025", DateOrder::Dmy), Ok(d(2025, 4, 3)));
        assert_eq!(date("03/04/2025", DateOrder::Mdy), Ok(d(2025, 3, 4)));
        assert!(date("2025-02-30", DateOrder::Ymd).is_err());
        assert!(date("next week", DateOrder::Ymd).is_err());
    }

    #[test]
    fn times_read_in_the_import_offset() {
        assert_eq!(
            datetime("2025/1/31 下午1:45", DateOrder::Ymd).map(|t| t.to_string()),
            Ok("2025-01-31 13:45:00".to_owned())
        );
    }

    #[test]
    fn numbers_and_money_with_separators_and_signs() {
        assert_eq!(number("1,234.50"), Some(Decimal::new(123_450, 2)));
        assert_eq!(number("１２３"), Some(Decimal::from(123)));
        assert_eq!(
            money("¥1,200"),
            Some((Decimal::from(1200), Some("CNY".into())))
        );
        assert_eq!(
            money("99.5 usd"),
            Some((Decimal::new(995, 1), Some("USD".into())))
        );
        assert_eq!(money("3000元"), Some((Decimal::from(3000), None)));
        assert_eq!(money("abc"), None);
    }

    #[test]
    fn yes_and_no_in_both_languages() {
        assert_eq!(boolean("是"), Some(true));
        assert_eq!(boolean("No"), Some(false));
        assert_eq!(boolean("maybe"), None);
    }

    #[test]
    fn a_guarded_formula_loses_its_guard_and_other_text_keeps_its_quote() {
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'quoted"), "'quoted");
    }
}
