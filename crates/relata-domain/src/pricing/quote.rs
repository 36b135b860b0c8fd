//! A quote's totals: its lines' subtotals less a header discount, then each line's tax on
//! what is left of it. The header discount is spread over the lines as a second discount
//! ([`combined_discount`]), each line's net rounded once from its exact quantity × price, so
//! the tax of every line is on what that line is really sold for, the totals add up exactly
//! (`subtotal − header discount = net`, `net + tax = total`), and a deal given the quote's
//! lines with their combined discounts comes to the same total to the cent.

use rust_decimal::Decimal;

use super::line::{Line, LineAmounts, round_money};

/// What a quote line brings to the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteLine {
    pub line: Line,
    /// The line's own amounts (`Line::amounts`).
    pub amounts: LineAmounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuoteTotals {
    /// Σ line subtotals.
    pub subtotal: Decimal,
    pub header_discount: Decimal,
    /// After the header discount, before tax.
    pub net: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    /// How much below list price the quote sells, in percent of Σ gross (2 places): what an
    /// approval threshold on "the discount" reads, line and header discounts together.
    pub discount_percent: Decimal,
}

/// One discount that takes off what `line` then `header` percent take off in turn:
/// `d + h − d·h/100`, exact (four decimal places at most for two-place inputs).
pub fn combined_discount(line: Decimal, header: Decimal) -> Option<Decimal> {
    let both = line
        .checked_mul(header)?
        .checked_div(Decimal::ONE_HUNDRED)?;
    Some(line.checked_add(header)?.checked_sub(both)?.normalize())
}

/// The totals of `lines` with `header_percent` (0–100) off, rounded to `scale`.
pub fn quote_totals(
    lines: &[QuoteLine],
    header_percent: Decimal,
    scale: u32,
) -> Option<QuoteTotals> {
    let mut t = QuoteTotals::default();
    let mut gross = Decimal::ZERO;
    for q in lines {
        let both = Line {
            discount_percent: combined_discount(q.line.discount_percent, header_percent)?,
            ..q.line
        }
        .amounts(scale)?;
        t.subtotal = t.subtotal.checked_add(q.amounts.subtotal)?;
        t.net = t.net.checked_add(both.subtotal)?;
        t.tax = t.tax.checked_add(both.tax)?;
        gross = gross.checked_add(q.amounts.gross)?;
    }
    t.header_discount = t.subtotal.checked_sub(t.net)?;
    t.total = t.net.checked_add(t.tax)?;
    if gross > Decimal::ZERO {
        let off = gross
            .checked_sub(t.net)?
            .checked_mul(Decimal::ONE_HUNDRED)?
            .checked_div(gross)?;
        t.discount_percent = round_money(off, 2);
    }
    Some(t)
}
