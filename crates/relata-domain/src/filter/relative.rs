//! Relative date operands: `today`, `yesterday`, `tomorrow`, `now`, and offsets such as
//! `-30d`, `+2w`, `-3m`, `-1y` (days, weeks, months, years from now). A date field compares
//! with the calendar date; a datetime field with the instant (`today` = midnight UTC).

use chrono::{DateTime, Days, Months, NaiveDate, Utc};

pub(super) fn resolve_datetime(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    match text {
        "now" => Some(now),
        "today" => midnight(now.date_naive()),
        "yesterday" => midnight(now.date_naive().checked_sub_days(Days::new(1))?),
        "tomorrow" => midnight(now.date_naive().checked_add_days(Days::new(1))?),
        _ => offset(text, now),
    }
}

pub(super) fn resolve_date(text: &str, now: DateTime<Utc>) -> Option<NaiveDate> {
    resolve_datetime(text, now).map(|t| t.date_naive())
}

fn offset(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (sign, rest) = match text.chars().next()? {
        '+' => (1i64, &text[1..]),
        '-' => (-1i64, &text[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let n: u32 = rest[..rest.len() - 1].parse().ok()?;
    if n > 100_000 {
        return None;
    }
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
        assert_eq!(resolve_date("-30d", now).unwrap().to_string(), "2026-03-01");
        assert_eq!(resolve_date("-1m", now).unwrap().to_string(), "2026-02-28");
        assert_eq!(
            resolve_date("today", now).unwrap().to_string(),
            "2026-03-31"
        );
        assert_eq!(
            resolve_datetime("+1w", now).unwrap().to_rfc3339(),
            "2026-04-07T10:00:00+00:00"
        );
        assert!(resolve_date("30d", now).is_none());
        assert!(resolve_date("-xd", now).is_none());
    }
}
