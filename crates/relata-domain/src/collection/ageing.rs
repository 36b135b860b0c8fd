//! Receivables ageing (账龄) and the collection rate.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// Buckets of days past due, in order.
pub const AGEING_BUCKETS: &[(&str, &str)] = &[
    ("current", "Not yet due"),
    ("1_30", "1–30 days overdue"),
    ("31_60", "31–60 days overdue"),
    ("61_90", "61–90 days overdue"),
    ("over_90", "Over 90 days overdue"),
];

/// The bucket of an amount due on `due`, on `today`.
pub fn ageing_bucket(due: NaiveDate, today: NaiveDate) -> &'static str {
    match (today - due).num_days() {
        ..=0 => "current",
        1..=30 => "1_30",
        31..=60 => "31_60",
        61..=90 => "61_90",
        _ => "over_90",
    }
}

/// Collected as a percentage of what was due, to two places; none when nothing was due.
pub fn collection_rate(collected: Decimal, due: Decimal) -> Option<Decimal> {
    if due <= Decimal::ZERO {
        return None;
    }
    let rate = collected
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(due)?;
    let mut rate = rate.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rate.rescale(2);
    Some(rate)
}
