//! Amounts in one currency, from amounts in many: the exchange-rate table is read once per
//! read or write, when the first amount in another currency comes, and a missing rate is an
//! error that names the pair (never a guess). Used by paid roll-ups, targets, the forecast
//! and the sales report.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use relata_domain::meta::Schema;
use relata_domain::pricing::{self, MONEY_SCALE, Rate};
use relata_store::Conn;

use crate::error::CoreError;
use crate::records::line_items::rates;

/// The error of a report or figure that needs a rate the table lacks.
pub(crate) fn missing_rate(message: String) -> CoreError {
    CoreError::BadRequest {
        code: "missing_exchange_rate",
        message: format!("{message}: add one to the exchange-rate table"),
    }
}

pub(crate) struct Converter<'s> {
    schema: &'s Schema,
    to: String,
    on: NaiveDate,
    rates: Option<Vec<Rate>>,
    on_missing: fn(String) -> CoreError,
}

impl<'s> Converter<'s> {
    /// Converts into `to` at the rates in effect `on`; `on_missing` makes the error of a
    /// pair without a rate.
    pub(crate) fn new(
        schema: &'s Schema,
        to: &str,
        on: NaiveDate,
        on_missing: fn(String) -> CoreError,
    ) -> Self {
        Converter {
            schema,
            to: to.to_owned(),
            on,
            rates: None,
            on_missing,
        }
    }

    /// `amount` of `from` in the converter's currency, rounded to the cent.
    pub(crate) fn convert(
        &mut self,
        conn: &mut dyn Conn,
        amount: Decimal,
        from: &str,
    ) -> Result<Decimal, CoreError> {
        if from == self.to {
            return Ok(amount);
        }
        if self.rates.is_none() {
            self.rates = Some(rates(conn, self.schema)?);
        }
        pricing::convert(
            amount,
            from,
            &self.to,
            self.on,
            self.rates.as_deref().unwrap_or(&[]),
            MONEY_SCALE,
        )
        .map_err(self.on_missing)
    }
}
