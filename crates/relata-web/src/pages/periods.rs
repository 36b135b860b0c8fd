//! The periods targets and forecasts are set for — a month (`2026-12`), a quarter
//! (`2026-Q4`) or a year (`2026`) — as the viewer reads them, and the choices of a period
//! picker around today. The forecast and targets pages share them.

use chrono::{Months, NaiveDate};

use relata_domain::targets::{Period, PeriodKind};

use crate::i18n::{Lang, Tr};

/// A period in words: `Q4 2026`, `Dec 2026`, `2026`; `2026年第4季度`, `2026年12月`, `2026年`.
pub fn label(tr: Tr, p: &Period) -> String {
    match (tr.lang, *p) {
        (Lang::Zh, Period::Month { year, month }) => format!("{year}年{month}月"),
        (Lang::Zh, Period::Quarter { year, quarter }) => format!("{year}年第{quarter}季度"),
        (Lang::Zh, Period::Year { year }) => format!("{year}年"),
        (Lang::En, Period::Month { .. }) => p.start().format("%b %Y").to_string(),
        (Lang::En, Period::Quarter { year, quarter }) => format!("Q{quarter} {year}"),
        (Lang::En, Period::Year { year }) => year.to_string(),
    }
}

/// A report's month key (`2026-12`) in words; the key itself if it is not a month.
pub fn month_label(tr: Tr, key: &str) -> String {
    Period::parse(key)
        .map(|p| label(tr, &p))
        .unwrap_or_else(|_| key.to_owned())
}

/// The period asked for in the address: the current quarter when none is, and `Err` with
/// that default when what was asked does not parse (the page says so beside the picker).
pub fn asked(raw: Option<&str>, today: NaiveDate) -> Result<Period, Period> {
    let default = Period::containing(PeriodKind::Quarter, today);
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => Period::parse(s).map_err(|_| default),
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

/// Choices of one kind, under a heading (`<optgroup>`).
pub struct ChoiceGroup {
    pub label: String,
    pub choices: Vec<Choice>,
}

/// The period `n` periods of its kind after `p` (before, when negative).
fn shift(p: Period, n: i32) -> Period {
    let months = match p.kind() {
        PeriodKind::Month => 1,
        PeriodKind::Quarter => 3,
        PeriodKind::Year => 12,
    } * n.unsigned_abs();
    let start = p.start();
    let day = if n < 0 {
        start.checked_sub_months(Months::new(months))
    } else {
        start.checked_add_months(Months::new(months))
    };
    Period::containing(p.kind(), day.unwrap_or(start))
}

/// Quarters, months and years around today — looking back further than ahead, since past
/// periods are reviewed and the next ones planned — plus `current` wherever it lies.
pub fn picker(tr: Tr, today: NaiveDate, current: &Period) -> Vec<ChoiceGroup> {
    let groups = [
        (PeriodKind::Quarter, "periods.quarters", -4..=2),
        (PeriodKind::Month, "periods.months", -6..=3),
        (PeriodKind::Year, "periods.years", -1..=1),
    ];
    groups
        .into_iter()
        .map(|(kind, key, range)| {
            let here = Period::containing(kind, today);
            let mut periods: Vec<Period> = range.map(|n| shift(here, n)).collect();
            if current.kind() == kind && !periods.contains(current) {
                periods.push(*current);
                periods.sort();
            }
            ChoiceGroup {
                label: tr.t(key).to_owned(),
                choices: periods
                    .iter()
                    .map(|p| Choice {
                        value: p.to_string(),
                        label: label(tr, p),
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn periods_read_in_both_languages() {
        let q = Period::parse("2026-Q4").unwrap_or(Period::Year { year: 1 });
        assert_eq!(label(Tr::new(Lang::En), &q), "Q4 2026");
        assert_eq!(label(Tr::new(Lang::Zh), &q), "2026年第4季度");
        assert_eq!(month_label(Tr::new(Lang::En), "2026-12"), "Dec 2026");
        assert_eq!(month_label(Tr::new(Lang::Zh), "2026-02"), "2026年2月");
    }

    #[test]
    fn the_default_is_this_quarter_and_a_bad_period_falls_back_to_it() {
        let today = day(2026, 12, 7);
        let q4 = Period::Quarter {
            year: 2026,
            quarter: 4,
        };
        assert_eq!(asked(None, today), Ok(q4));
        assert_eq!(asked(Some(""), today), Ok(q4));
        assert_eq!(
            asked(Some("2027-01"), today),
            Ok(Period::Month {
                year: 2027,
                month: 1
            })
        );
        assert_eq!(asked(Some("2026-Q5"), today), Err(q4));
    }

    #[test]
    fn the_picker_spans_today_and_keeps_the_period_shown() {
        let tr = Tr::new(Lang::En);
        let far = Period::Quarter {
            year: 2020,
            quarter: 1,
        };
        let groups = picker(tr, day(2026, 1, 15), &far);
        let quarters: Vec<&str> = groups[0].choices.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(
            quarters,
            [
                "2020-Q1", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2",
                "2026-Q3"
            ]
        );
        assert_eq!(groups[1].choices[0].value, "2025-07");
        assert_eq!(
            groups[1].choices.last().map(|c| c.value.as_str()),
            Some("2026-04")
        );
        assert_eq!(groups[2].choices.len(), 3);
    }
}
