//! Volume tiers of a price book entry: buy at least this many, get this discount.

use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub min_quantity: Decimal,
    pub discount_percent: Decimal,
}

/// The discount of the largest tier `quantity` reaches, if any (tiers in any order).
pub fn tier_discount(tiers: &[Tier], quantity: Decimal) -> Option<Decimal> {
    tiers
        .iter()
        .filter(|t| t.min_quantity <= quantity)
        .max_by_key(|t| t.min_quantity)
        .map(|t| t.discount_percent)
}
