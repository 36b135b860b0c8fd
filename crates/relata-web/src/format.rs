//! Values as a person reads them, in their language and time zone: grouped numbers, money
//! with its currency, dates in the local style, date-times in the user's zone.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use relata_domain::Value;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};

use crate::i18n::{Lang, Tr};

/// How a page presents values to one user.
#[derive(Debug, Clone, Copy)]
pub struct Fmt {
    pub tr: Tr,
    pub tz: Tz,
}

impl Fmt {
    pub fn new(tr: Tr, time_zone: &str) -> Self {
        Self {
            tr,
            tz: time_zone.parse().unwrap_or(Tz::UTC),
        }
    }

    /// Digits grouped by thousands: `1,234,567.5`.
    pub fn number(&self, d: &Decimal) -> String {
        group(&d.normalize().to_string())
    }

    pub fn integer(&self, n: i64) -> String {
        group(&n.to_string())
    }

    /// An amount with its currency: `¥1,234.00` for yuan in Chinese, `CN¥1,234.00` in English.
    pub fn money(&self, amount: &Decimal, currency: &str) -> String {
        let digits = group(&amount.round_dp(2).to_string());
        let digits = if digits.contains('.') {
            let decimals = digits.rsplit('.').next().map_or(0, str::len);
            format!("{digits}{}", "0".repeat(2usize.saturating_sub(decimals)))
        } else {
            format!("{digits}.00")
        };
        let (sign, digits) = match digits.strip_prefix('-') {
            Some(rest) => ("-", rest.to_owned()),
            None => ("", digits),
        };
        match symbol(self.tr.lang, currency) {
            Some(sym) => format!("{sign}{sym}{digits}"),
            None => format!("{sign}{currency} {digits}"),
        }
    }

    /// A total kept per currency as one figure: its `currency` part, then " + …" when other
    /// currencies have some too (a board column's total, a dashboard row's).
    pub fn money_total(&self, sums: &[(String, Decimal)], currency: &str) -> String {
        let mut text = self.money(&sum_in(sums, currency), currency);
        if sums.iter().any(|(c, _)| c != currency) {
            text.push_str(" + …");
        }
        text
    }

    pub fn date(&self, d: &NaiveDate) -> String {
        match self.tr.lang {
            Lang::Zh => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
            Lang::En => d.format("%b %-d, %Y").to_string(),
        }
    }

    pub fn datetime(&self, t: &DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.tz);
        format!(
            "{} {}",
            self.date(&local.date_naive()),
            local.format("%H:%M")
        )
    }

    /// A date-time as `<input type="datetime-local">` shows it, in the user's zone.
    pub fn datetime_input(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }

    /// A local `YYYY-MM-DDTHH:MM` typed by the user, as UTC RFC 3339; `None` when it is not
    /// such a string or names a moment the zone skips.
    pub fn parse_datetime_input(&self, s: &str) -> Option<String> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
            .ok()?;
        let local = naive.and_local_timezone(self.tz).earliest()?;
        Some(relata_domain::value::format_datetime(
            &local.with_timezone(&Utc),
        ))
    }

    /// A value as text for lists and the record page. Lookups and user lookups are named
    /// by the caller (they need a database read); here they show nothing.
    pub fn value(&self, object: &ObjectDef, field: &FieldDef, value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::Text(s) => match field.field_type {
                FieldType::Picklist => self.tr.pick_label(object, field, s),
                _ => s.clone(),
            },
            Value::Int(n) => match field.name() {
                // the version is a counter, not a quantity
                "version" => n.to_string(),
                _ => self.integer(*n),
            },
            Value::Decimal(d) => match field.field_type {
                FieldType::Percent => format!("{}%", self.number(d)),
                _ => self.number(d),
            },
            Value::Money { amount, currency } => self.money(amount, currency),
            Value::Bool(b) => self
                .tr
                .t(if *b { "value.yes" } else { "value.no" })
                .to_owned(),
            Value::Date(d) => self.date(d),
            Value::Datetime(t) => self.datetime(t),
            Value::Multi(items) => items
                .iter()
                .map(|v| self.tr.pick_label(object, field, v))
                .collect::<Vec<_>>()
                .join(if self.tr.is_zh() { "、" } else { ", " }),
            Value::Ref(_) => String::new(),
        }
    }
}

/// The part of a total kept per currency that is in `currency`.
pub fn sum_in(sums: &[(String, Decimal)], currency: &str) -> Decimal {
    sums.iter()
        .filter(|(c, _)| c == currency)
        .map(|(_, d)| *d)
        .sum()
}

fn symbol(lang: Lang, currency: &str) -> Option<&'static str> {
    Some(match (currency, lang) {
        ("CNY", Lang::Zh) => "¥",
        ("CNY", Lang::En) => "CN¥",
        ("USD", Lang::Zh) => "US$",
        ("USD", Lang::En) => "$",
        ("EUR", _) => "€",
        ("GBP", _) => "£",
        ("JPY", Lang::Zh) => "JP¥",
        ("JPY", Lang::En) => "¥",
        ("HKD", _) => "HK$",
        _ => return None,
    })
}

/// Groups the integer digits of a plain decimal string by thousands.
fn group(plain: &str) -> String {
    let (sign, rest) = match plain.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", plain),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn fmt(lang: Lang) -> Fmt {
        Fmt::new(Tr::new(lang), "Asia/Shanghai")
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group("1234567.50"), "1,234,567.50");
        assert_eq!(group("-1000"), "-1,000");
        assert_eq!(group("999"), "999");
    }

    #[test]
    fn money_carries_its_currency_in_the_local_style() {
        let d = Decimal::from_str("1234.5").unwrap_or_default();
        assert_eq!(fmt(Lang::Zh).money(&d, "CNY"), "¥1,234.50");
        assert_eq!(fmt(Lang::En).money(&d, "CNY"), "CN¥1,234.50");
        assert_eq!(fmt(Lang::En).money(&-d, "USD"), "-$1,234.50");
        assert_eq!(fmt(Lang::En).money(&d, "CHF"), "CHF 1,234.50");
    }

    #[test]
    fn a_total_in_several_currencies_shows_the_default_one_and_says_there_is_more() {
        let d = |s: &str| Decimal::from_str(s).unwrap_or_default();
        let en = fmt(Lang::En);
        let cny = vec![("CNY".to_owned(), d("1000")), ("CNY".to_owned(), d("500"))];
        assert_eq!(en.money_total(&cny, "CNY"), "CN¥1,500.00");
        let mixed = vec![("USD".to_owned(), d("20")), ("CNY".to_owned(), d("7"))];
        assert_eq!(en.money_total(&mixed, "CNY"), "CN¥7.00 + …");
        assert_eq!(en.money_total(&[], "USD"), "$0.00");
    }

    #[test]
    fn dates_and_times_follow_the_language_and_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default();
        assert_eq!(fmt(Lang::Zh).date(&d), "2026年12月2日");
        assert_eq!(fmt(Lang::En).date(&d), "Dec 2, 2026");
        let t = DateTime::parse_from_rfc3339("2026-12-02T23:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(fmt(Lang::Zh).datetime(&t), "2026年12月3日 07:30");
        let typed = fmt(Lang::En).parse_datetime_input("2026-12-03T07:30");
        assert!(typed.is_some_and(|t| t.starts_with("2026-12-02T23:30:00")));
        assert_eq!(fmt(Lang::En).parse_datetime_input("yesterday"), None);
    }
}
