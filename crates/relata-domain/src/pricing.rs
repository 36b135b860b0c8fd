//! Pricing (定价): what a line of a deal costs, from the product catalogue and its price
//! books, in exact decimals — no floats anywhere in money.
//!
//! A line's amounts follow from four inputs: quantity, unit price, discount (percent) and
//! tax rate (percent). Each amount is rounded once, half away from zero (四舍五入), to the
//! currency's minor unit, and the amounts add up exactly: `gross − discount = subtotal` and
//! `subtotal + tax = total`. A price book entry may carry volume tiers (a larger discount
//! from a quantity on); a price in another currency is converted through the exchange-rate
//! table as of a date.

mod fx;
mod line;
mod quote;
mod tiers;

#[cfg(test)]
mod tests;

pub use fx::{Rate, convert, rate_on};
pub use line::{Line, LineAmounts, check_line, round_money};
pub use quote::{QuoteLine, QuoteTotals, combined_discount, quote_totals};
pub use tiers::{Tier, tier_discount};

pub const PRODUCT_CATEGORY: &str = "product_category";
pub const TAX_CATEGORY: &str = "tax_category";
pub const PRICE_BOOK: &str = "price_book";
pub const PRICE_BOOK_ENTRY: &str = "price_book_entry";
pub const PRICE_TIER: &str = "price_tier";
pub const EXCHANGE_RATE: &str = "exchange_rate";
pub const LINE_ITEM: &str = "opportunity_line_item";
pub const QUOTE: &str = "quote";
pub const QUOTE_LINE: &str = "quote_line_item";
/// A quote line's parent.
pub const QUOTE_ID: &str = "quote_id";

/// A line item's fields.
pub const OPPORTUNITY_ID: &str = "opportunity_id";
pub const PRODUCT_ID: &str = "product_id";
pub const ENTRY_ID: &str = "price_book_entry_id";
pub const QUANTITY: &str = "quantity";
pub const UNIT_PRICE: &str = "unit_price";
pub const DISCOUNT: &str = "discount_percent";
pub const TAX_RATE: &str = "tax_rate";
/// Computed by the write path (system fields: a client cannot write them).
pub const GROSS: &str = "gross_amount";
pub const DISCOUNT_AMOUNT: &str = "discount_amount";
pub const SUBTOTAL: &str = "subtotal";
pub const TAX_AMOUNT: &str = "tax_amount";
pub const TOTAL: &str = "total";

/// The minor unit of a currency amount when its field does not say.
pub const MONEY_SCALE: u32 = 2;

/// A price book entry is shown by its product's name (as `activity::NAMED_BY`).
pub const NAMED_BY: &[(&str, &[(&str, &str)])] = &[(PRICE_BOOK_ENTRY, &[(PRODUCT_ID, "product")])];
