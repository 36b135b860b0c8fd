//! Relative date operands: `today`, `yesterday`, `tomorrow`, `now`, and offsets such as
//! `-30d`, `+2w`, `-3m`, `-1y` (days, weeks, months, years from now). A date field compares
//! with the calendar date; a datetime field with the instant (`today` = midnight UTC).

use chrono::{DateTime, Days, Months, NaiveDate, Utc};

use crate::value::{in_year_range, truncate_micros};

/// What a relative operand resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved<T> {
    /// Not a relative operand: parse it as a plain value.
    NotRelative,
    /// Relative, but outside the years a date may have (e.g. `+9000y`).
    OutOfRange,
    At(T),
}

pub(super) fn resolve_datetime(text: &str, now: DateTime<Utc>) -> Resolved<DateTime<Utc>> {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let resolved = match text {
        "now" => Some(now),
        "today" => midnight(now.date_naive()),
        "yesterday" => now
            .date_naive()
            .checked_sub_days(Days::new(1))
            .and_then(midnight),
        "tomorrow" => now
            .date_naive()
            .checked_add_days(Days::new(1))
            .and_then(midnight),
        _ if parse_offset(text).is_none() => return Resolved::NotRelative,
        _ => offset(text, now),
    };
    // Truncated to the microseconds the databases keep, and within the storable years, so
    // that SQL and memory compare the same instant.
    match resolved
        .and_then(truncate_micros)
        .filter(|t| in_year_range(t.date_naive()))
    {
        Some(t) => Resolved::At(t),
        None => Resolved::OutOfRange,
    }
}

pub(super) fn resolve_date(text: &str, now: DateTime<Utc>) -> Resolved<NaiveDate> {
    match resolve_datetime(text, now) {
        Resolved::At(t) => Resolved::At(t.date_naive()),
        Resolved::NotRelative => Resolved::NotRelative,
        Resolved::OutOfRange => Resolved::OutOfRange,
    }
}

/// `(sign, count, unit)` of an offset such as `-30d`.
fn parse_offset(text: &str) -> Option<(i64, u32, char)> {
    let (sign, rest) = match text.chars().next()? {
        '+' => (1i64, &text[1..]),
        '-' => (-1i64, &text[1..]),
        _ => return None,
    };
    let unit = rest.chars().last().filter(|u| "dwmy".contains(*u))?;
    let n: u32 = rest[..rest.len() - 1].parse().ok()?;
    (n <= 100_000).then_some((sign, n, unit))
}

fn offset(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (sign, n, unit) = parse_offset(text)?;
    match (unit, sign) {
        ('d', 1) => now.checked_add_days(Days::new(n.into())),
        ('d', _) => now.checked_sub_days(Days::new(n.into())),
        ('w', 1) => now.checked_add_days(Days::new(u64::from(n) * 7)),
        ('w', _) => now.checked_sub_days(Days::new(u64::from(n) * 7)),
        ('m', 1) => now.checked_add_months(Months::new(n)),
        ('m', _) => now.checked_sub_months(Months::new(n)),
        ('y', 1) => now.checked_add_months(Months::new(n.checked_mul(12)?)),
        ('y', _) => now.checked_sub_months(Months::new(n.checked_mul(12)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let now = DateTime::parse_from_rfc3339("2026-03-31T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let date = |t: &str| match resolve_date(t, now) {
            Resolved::At(d) => d.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(date("-30d"), "2026-03-01");
        assert_eq!(date("-1m"), "2026-02-28");
        assert_eq!(date("today"), "2026-03-31");
        assert_eq!(
            resolve_datetime("+1w", now),
            Resolved::At("2026-04-07T10:00:00Z".parse().unwrap())
        );
        assert_eq!(date("30d"), "NotRelative");
        assert_eq!(date("-xd"), "NotRelative");
        assert_eq!(date("-1q"), "NotRelative");
        assert_eq!(date("-100001d"), "NotRelative");
    }

    #[test]
    fn offsets_outside_four_digit_years_are_refused() {
        // SQLite compares dates as text: "+10026-…" would sort before "2026-…" (found by
        // the filter property test); PostgreSQL refuses dates before 4713 BC.
        let now = DateTime::parse_from_rfc3339("2026-03-31T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for t in ["+9000y", "-100000m", "+100000y", "-2026y"] {
            assert_eq!(resolve_date(t, now), Resolved::OutOfRange, "{t}");
            assert_eq!(resolve_datetime(t, now), Resolved::OutOfRange, "{t}");
        }
        assert!(matches!(resolve_date("-2025y", now), Resolved::At(_)));
        assert!(matches!(resolve_date("+7973y", now), Resolved::At(_)));
    }

    #[test]
    fn now_keeps_microseconds_only() {
        let now = DateTime::parse_from_rfc3339("2026-03-31T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            resolve_datetime("now", now),
            Resolved::At("2026-03-31T10:00:00.123456Z".parse().unwrap())
        );
    }
}
