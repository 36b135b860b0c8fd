//! Sales targets (销售目标) and forecasting (销售预测), as rules without I/O: the periods
//! both are set for (a month, a quarter or a year), what a target measures, whose it is,
//! and how a forecast adds up by category — closed, commit, best case, pipeline — with a
//! rep's own adjustment and a manager's override taking the place of the computed figure.

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// A month (`2026-12`), a quarter (`2026-Q4`) or a year (`2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Month { year: i32, month: u32 },
    Quarter { year: i32, quarter: u32 },
    Year { year: i32 },
}

impl Period {
    /// Parses `2026-12`, `2026-Q4` or `2026`; the error says what is expected.
    pub fn parse(s: &str) -> Result<Period, String> {
        let bad = || format!("'{s}' is not a period: use 2026-12, 2026-Q4 or 2026");
        let year_of = |y: &str| -> Result<i32, String> {
            match y.parse::<i32>() {
                Ok(y) if (1900..=9999).contains(&y) && y.to_string().len() == 4 => Ok(y),
                _ => Err(bad()),
            }
        };
        match s.split_once('-') {
            None => Ok(Period::Year { year: year_of(s)? }),
            Some((y, rest)) => {
                let year = year_of(y)?;
                if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
                    match q.parse::<u32>() {
                        Ok(quarter @ 1..=4) if q.len() == 1 => {
                            Ok(Period::Quarter { year, quarter })
                        }
                        _ => Err(bad()),
                    }
                } else {
                    match rest.parse::<u32>() {
                        Ok(month @ 1..=12) if rest.len() == 2 => Ok(Period::Month { year, month }),
                        _ => Err(bad()),
                    }
                }
            }
        }
    }

    /// The period of this kind that contains `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        let year = day.year();
        match kind {
            PeriodKind::Month => Period::Month {
                year,
                month: day.month(),
            },
            PeriodKind::Quarter => Period::Quarter {
                year,
                quarter: (day.month() - 1) / 3 + 1,
            },
            PeriodKind::Year => Period::Year { year },
        }
    }

    pub fn kind(&self) -> PeriodKind {
        match self {
            Period::Month { .. } => PeriodKind::Month,
            Period::Quarter { .. } => PeriodKind::Quarter,
            Period::Year { .. } => PeriodKind::Year,
        }
    }

    /// The first day.
    pub fn start(&self) -> NaiveDate {
        let (year, month) = match *self {
            Period::Month { year, month } => (year, month),
            Period::Quarter { year, quarter } => (year, (quarter - 1) * 3 + 1),
            Period::Year { year } => (year, 1),
        };
        NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default()
    }

    /// The first day after it.
    pub fn end(&self) -> NaiveDate {
        let months = match self {
            Period::Month { .. } => 1,
            Period::Quarter { .. } => 3,
            Period::Year { .. } => 12,
        };
        self.start()
            .checked_add_months(chrono::Months::new(months))
            .unwrap_or_default()
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start() <= day && day < self.end()
    }

    /// The months of the period, as periods.
    pub fn months(&self) -> Vec<Period> {
        let mut out = Vec::new();
        let mut day = self.start();
        while day < self.end() {
            out.push(Period::containing(PeriodKind::Month, day));
            day = day
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(self.end());
        }
        out
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
            Period::Year { year } => write!(f, "{year:04}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

/// What a target measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The amount of deals won (closed in the period).
    WonAmount,
    /// How many deals were won.
    WonCount,
    /// Payments received in the period (on contracts the people own).
    PaymentsCollected,
    /// Accounts created in the period.
    NewCustomers,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::WonAmount,
        Metric::WonCount,
        Metric::PaymentsCollected,
        Metric::NewCustomers,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Metric::WonAmount => "won_amount",
            Metric::WonCount => "won_count",
            Metric::PaymentsCollected => "payments_collected",
            Metric::NewCustomers => "new_customers",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether it is an amount of money (else a count).
    pub fn is_money(&self) -> bool {
        matches!(self, Metric::WonAmount | Metric::PaymentsCollected)
    }
}

/// Whose a target is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Assignee {
    User {
        id: uuid::Uuid,
    },
    Team {
        id: uuid::Uuid,
    },
    Department {
        name: String,
    },
    /// The whole company.
    Company,
}

impl Assignee {
    /// One text per assignee, for keys and uniqueness.
    pub fn key(&self) -> String {
        match self {
            Assignee::User { id } => format!("user:{id}"),
            Assignee::Team { id } => format!("team:{id}"),
            Assignee::Department { name } => format!("department:{name}"),
            Assignee::Company => "company".into(),
        }
    }
}

/// Actual as a percentage of target, to one place; none without a target.
pub fn attainment(actual: Decimal, target: Decimal) -> Option<Decimal> {
    if target <= Decimal::ZERO {
        return None;
    }
    let rate = actual
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(target)?;
    let mut rate = rate.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    rate.rescale(1);
    Some(rate)
}

/// The forecast categories that count, from the surest: what is closed, what the rep
/// commits to, the best case, and the rest of the pipeline (omitted deals do not count).
pub const FORECAST_CATEGORIES: [&str; 4] = ["closed", "commit", "best_case", "pipeline"];

/// One rep's forecast for a period, per category: the amount computed from their deals,
/// and what stands after their adjustment and their manager's override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CategoryFigure {
    pub computed: Decimal,
    /// The rep's own figure, when they adjusted it.
    pub adjusted: Option<Decimal>,
    /// The manager's figure, when one overrode it: it wins over the rep's.
    pub overridden: Option<Decimal>,
}

impl CategoryFigure {
    /// The figure that stands.
    pub fn standing(&self) -> Decimal {
        self.overridden.or(self.adjusted).unwrap_or(self.computed)
    }
}

/// The forecast call: closed plus commit (what the team says it will land), each as it
/// stands after adjustments.
pub fn forecast_call(closed: &CategoryFigure, commit: &CategoryFigure) -> Decimal {
    closed.standing() + commit.standing()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn periods_parse_and_bound() {
        let q = Period::parse("2026-Q4").unwrap();
        assert_eq!((q.start(), q.end()), (day(2026, 10, 1), day(2027, 1, 1)));
        assert_eq!(q.to_string(), "2026-Q4");
        assert_eq!(q.months().len(), 3);
        let m = Period::parse("2026-02").unwrap();
        assert_eq!((m.start(), m.end()), (day(2026, 2, 1), day(2026, 3, 1)));
        assert!(m.contains(day(2026, 2, 28)) && !m.contains(day(2026, 3, 1)));
        let y = Period::parse("2027").unwrap();
        assert_eq!((y.start(), y.end()), (day(2027, 1, 1), day(2028, 1, 1)));
        assert_eq!(y.months().len(), 12);
        for bad in [
            "2026-13", "2026-Q5", "26", "2026-1", "2026-Q", "Q4", "2026-Q4x", "",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Period::containing(PeriodKind::Quarter, day(2026, 12, 7)).to_string(),
            "2026-Q4"
        );
    }

    #[test]
    fn attainment_and_the_standing_figure() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(attainment(d("75"), d("200")), Some(d("37.5")));
        assert_eq!(attainment(d("1"), d("3")), Some(d("33.3")));
        assert_eq!(attainment(d("1"), d("0")), None);
        let mut f = CategoryFigure {
            computed: d("100"),
            ..Default::default()
        };
        assert_eq!(f.standing(), d("100"));
        f.adjusted = Some(d("80"));
        assert_eq!(f.standing(), d("80"));
        f.overridden = Some(d("120"));
        assert_eq!(f.standing(), d("120"));
        let closed = CategoryFigure {
            computed: d("50"),
            ..Default::default()
        };
        assert_eq!(forecast_call(&closed, &f), d("170"));
    }
}
