//! The exchange-rate table: one unit of a currency is worth `per_unit` of another (its
//! base), from a date on — "1 USD = 7.25 CNY from 2026-07-01". A conversion uses the rates in
//! effect on its date: a direct rate, the inverse of one, or two rates to a common base.
//! A pair with none is refused, never guessed.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::line::round_money;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub currency: String,
    pub base: String,
    /// Units of `base` per one unit of `currency`; more than 0.
    pub per_unit: Decimal,
    pub effective_from: NaiveDate,
}

/// The rate of `currency` in `base` in effect `on`, from the row of that pair.
fn direct(rates: &[Rate], currency: &str, base: &str, on: NaiveDate) -> Option<Decimal> {
    rates
        .iter()
        .filter(|r| r.currency == currency && r.base == base)
        .filter(|r| r.effective_from <= on && r.per_unit > Decimal::ZERO)
        .max_by_key(|r| r.effective_from)
        .map(|r| r.per_unit)
}

/// Units of `to` per unit of `from` on a date: 1 for the same currency, a direct rate, the
/// inverse of the opposite one, or through a base both have a rate to.
pub fn rate_on(rates: &[Rate], from: &str, to: &str, on: NaiveDate) -> Option<Decimal> {
    if from == to {
        return Some(Decimal::ONE);
    }
    if let Some(r) = direct(rates, from, to, on) {
        return Some(r);
    }
    if let Some(r) = direct(rates, to, from, on) {
        return Decimal::ONE.checked_div(r);
    }
    let mut bases: Vec<&str> = rates
        .iter()
        .filter(|r| r.currency == from)
        .map(|r| r.base.as_str())
        .collect();
    bases.sort_unstable();
    bases.dedup();
    bases.into_iter().find_map(|base| {
        let a = direct(rates, from, base, on)?;
        let b = direct(rates, to, base, on)?;
        a.checked_div(b)
    })
}

/// `amount` of `from` in `to` on `on`, rounded to `scale`. `Err` says which pair has no rate.
pub fn convert(
    amount: Decimal,
    from: &str,
    to: &str,
    on: NaiveDate,
    rates: &[Rate],
    scale: u32,
) -> Result<Decimal, String> {
    if from == to {
        return Ok(amount);
    }
    let rate = rate_on(rates, from, to, on)
        .ok_or_else(|| format!("no exchange rate from {from} to {to} on {on}"))?;
    let converted = amount
        .checked_mul(rate)
        .ok_or_else(|| "the amount is too large to convert".to_owned())?;
    Ok(round_money(converted, scale))
}
