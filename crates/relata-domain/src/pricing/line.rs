//! One line's amounts and the rules its inputs must keep.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{FieldError, FieldErrorCode as Code};

use super::{DISCOUNT, QUANTITY, TAX_RATE, UNIT_PRICE};

/// What a line is sold at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub quantity: Decimal,
    pub unit_price: Decimal,
    /// 0–100.
    pub discount_percent: Decimal,
    /// 0–100.
    pub tax_rate: Decimal,
}

/// What a line comes to, each rounded to the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    /// Quantity × unit price.
    pub gross: Decimal,
    pub discount: Decimal,
    /// After the discount, before tax.
    pub subtotal: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
}

/// Half away from zero (四舍五入), to `scale` decimal places.
pub fn round_money(amount: Decimal, scale: u32) -> Decimal {
    amount.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

impl Line {
    /// The amounts, or `None` when they pass what a decimal holds (the fields' own limits
    /// keep real inputs far below that).
    pub fn amounts(&self, scale: u32) -> Option<LineAmounts> {
        let exact_gross = self.quantity.checked_mul(self.unit_price)?;
        let gross = round_money(exact_gross, scale);
        // the subtotal from the exact gross, so a discount never rounds twice
        let kept = HUNDRED.checked_sub(self.discount_percent)?;
        let subtotal = round_money(exact_gross.checked_mul(kept)?.checked_div(HUNDRED)?, scale);
        let tax = round_money(
            subtotal.checked_mul(self.tax_rate)?.checked_div(HUNDRED)?,
            scale,
        );
        Some(LineAmounts {
            gross,
            discount: gross.checked_sub(subtotal)?,
            subtotal,
            tax,
            total: subtotal.checked_add(tax)?,
        })
    }
}

/// The problems of a line's inputs: more than nothing sold, a price that is not negative,
/// a discount and a tax rate within 0–100 %.
pub fn check_line(line: &Line) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if line.quantity <= Decimal::ZERO {
        errors.push(FieldError::new(
            QUANTITY,
            Code::TooSmall,
            "must be more than 0 (to take a product off a deal, delete its line)",
        ));
    }
    if line.unit_price < Decimal::ZERO {
        errors.push(FieldError::new(
            UNIT_PRICE,
            Code::TooSmall,
            "cannot be negative (give a discount instead)",
        ));
    }
    for (field, value, what) in [
        (DISCOUNT, line.discount_percent, "a discount"),
        (TAX_RATE, line.tax_rate, "a tax rate"),
    ] {
        if value < Decimal::ZERO {
            errors.push(FieldError::new(
                field,
                Code::TooSmall,
                format!("{what} cannot be negative"),
            ));
        } else if value > HUNDRED {
            errors.push(FieldError::new(
                field,
                Code::TooLarge,
                format!("{what} cannot pass 100 %"),
            ));
        }
    }
    errors
}
