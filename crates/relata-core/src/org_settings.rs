//! Settings an administrator changes at run time and the write path reads — how an
//! overpayment is treated, numbering rules, the currency paid totals roll up in. They live in
//! `sys_settings` (key → JSON), not in the config file, so every server process on one
//! database sees the same values and a change needs no restart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use relata_domain::access::Capability;
use relata_domain::collection::Overpayment;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::numbering::Pattern;
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

pub const OVERPAYMENT: &str = "collection.overpayment";
/// The currency accounts' paid totals are kept in. Set from the configured default
/// currency when the database is first opened.
pub const ROLL_UP_CURRENCY: &str = "collection.currency";
pub const CONTRACT_NUMBERING: &str = "numbering.contract";
pub const QUOTE_NUMBERING: &str = "numbering.quote";

pub const DEFAULT_CONTRACT_PATTERN: &str = "C-{YYYY}-{SEQ:4}";
pub const DEFAULT_QUOTE_PATTERN: &str = "Q-{YYYY}-{SEQ:4}";

/// The stored value of `key`, if any.
pub fn get(conn: &mut dyn Conn, key: &str) -> Result<Option<Json>, CoreError> {
    let row = conn.query_one(
        &format!(
            "SELECT value FROM sys_settings WHERE key = {}",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Text(key.to_owned())],
    )?;
    Ok(match row.as_ref().and_then(|r| r.first()) {
        Some(SqlValue::Json(v)) => Some(v.clone()),
        Some(SqlValue::Text(t)) => serde_json::from_str(t).ok(),
        _ => None,
    })
}

/// The stored text of `key`, or `default`.
pub fn text(conn: &mut dyn Conn, key: &str, default: &str) -> Result<String, CoreError> {
    Ok(match get(conn, key)? {
        Some(Json::String(s)) => s,
        _ => default.to_owned(),
    })
}

/// Stores `value` under `key`; with `keep`, only when the key has no value yet.
pub fn put(
    conn: &mut dyn Conn,
    key: &str,
    value: Json,
    now: DateTime<Utc>,
    keep: bool,
) -> Result<(), CoreError> {
    let d = conn.dialect();
    let on_conflict = if keep {
        "DO NOTHING".to_owned()
    } else {
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at".to_owned()
    };
    conn.execute(
        &format!(
            "INSERT INTO sys_settings (key, value, updated_at) VALUES ({}, {}, {}) ON CONFLICT (key) {on_conflict}",
            placeholder(d, 1),
            placeholder(d, 2),
            placeholder(d, 3)
        ),
        &[
            SqlValue::Text(key.to_owned()),
            SqlValue::Json(value),
            SqlValue::Timestamp(now),
        ],
    )?;
    Ok(())
}

pub fn overpayment(conn: &mut dyn Conn) -> Result<Overpayment, CoreError> {
    Ok(Overpayment::parse(&text(conn, OVERPAYMENT, "refuse")?).unwrap_or_default())
}

pub fn roll_up_currency(conn: &mut dyn Conn) -> Result<String, CoreError> {
    text(conn, ROLL_UP_CURRENCY, "CNY")
}

/// The settings page of payment collection and document numbering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CollectionSettings {
    /// `refuse` a payment over what a contract still owes, or `record` it as overpaid.
    pub overpayment: String,
    /// ISO 4217 code of the currency accounts' paid totals are kept in.
    pub currency: String,
    /// e.g. `HT-{YYYY}{MM}-{SEQ:4}`: `{YYYY}`, `{YY}`, `{MM}`, `{DD}`, and `{SEQ:n}` last.
    pub contract_numbering: String,
    pub quote_numbering: String,
}

impl CollectionSettings {
    fn check(&self) -> Result<(), CoreError> {
        let mut errors = Vec::new();
        if Overpayment::parse(&self.overpayment).is_none() {
            errors.push(FieldError::new(
                "overpayment",
                Code::InvalidOption,
                "must be refuse or record",
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                "currency",
                Code::InvalidCurrency,
                "must be a three-letter ISO 4217 code such as CNY",
            ));
        }
        for (field, pattern) in [
            ("contract_numbering", &self.contract_numbering),
            ("quote_numbering", &self.quote_numbering),
        ] {
            if let Err(e) = Pattern::parse(pattern) {
                errors.push(FieldError::new(field, Code::InvalidOption, e));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(errors))
        }
    }
}

fn read_all(conn: &mut dyn Conn) -> Result<CollectionSettings, CoreError> {
    Ok(CollectionSettings {
        overpayment: overpayment(conn)?.as_str().to_owned(),
        currency: roll_up_currency(conn)?,
        contract_numbering: text(conn, CONTRACT_NUMBERING, DEFAULT_CONTRACT_PATTERN)?,
        quote_numbering: text(conn, QUOTE_NUMBERING, DEFAULT_QUOTE_PATTERN)?,
    })
}

impl Core {
    /// Gives the database the settings it lacks from the configuration (the roll-up
    /// currency), at start.
    pub(crate) fn seed_org_settings(&self) -> Result<(), CoreError> {
        let currency = Json::String(self.settings.default_currency.clone());
        let now = self.clock.now();
        self.store.write_blocking(move |conn| {
            put(conn, ROLL_UP_CURRENCY, currency, now, true)?;
            Ok::<_, CoreError>(())
        })
    }

    pub async fn collection_settings(
        &self,
        actor: &Actor,
    ) -> Result<CollectionSettings, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        self.store.read(read_all).await
    }

    /// Saves the settings; a currency change applies to paid totals as they next change.
    pub async fn save_collection_settings(
        &self,
        actor: &Actor,
        settings: CollectionSettings,
    ) -> Result<CollectionSettings, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        settings.check()?;
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                put(
                    conn,
                    OVERPAYMENT,
                    Json::String(settings.overpayment),
                    now,
                    false,
                )?;
                put(
                    conn,
                    ROLL_UP_CURRENCY,
                    Json::String(settings.currency),
                    now,
                    false,
                )?;
                put(
                    conn,
                    CONTRACT_NUMBERING,
                    Json::String(settings.contract_numbering),
                    now,
                    false,
                )?;
                put(
                    conn,
                    QUOTE_NUMBERING,
                    Json::String(settings.quote_numbering),
                    now,
                    false,
                )?;
                read_all(conn)
            })
            .await
    }
}
