//! A quote as a PDF (`pdf::render`): the quote, its lines, its customer and contact as the
//! viewer may see them (visibility and field security apply), the installation's company as
//! the seller. The CJK font is loaded once, on the first quote printed.

use std::sync::{Arc, OnceLock};

use rust_decimal::Decimal;
use uuid::Uuid;

use relata_domain::pricing::{self, QUOTE_ID};
use relata_domain::{Record, Value};

use super::pdf::{self, Fonts, Language, Party, QuoteDocument};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::line_items::{as_decimal, as_ref, live_where};

/// Loaded on first use: the Noto CJK faces take ~40 MB.
static FONTS: OnceLock<Result<Arc<Fonts>, String>> = OnceLock::new();

fn fonts() -> Result<Arc<Fonts>, CoreError> {
    FONTS
        .get_or_init(|| Fonts::discover().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(CoreError::Internal)
}

/// `en`, `zh-CN` or `both` (the default).
pub fn language(tag: Option<&str>) -> Result<Language, CoreError> {
    match tag.unwrap_or("both") {
        "en" => Ok(Language::En),
        "zh-CN" | "zh" => Ok(Language::ZhCn),
        "both" | "" => Ok(Language::Bilingual),
        other => Err(CoreError::BadRequest {
            code: "invalid_language",
            message: format!("lang must be en, zh-CN or both, not '{other}'"),
        }),
    }
}

fn text(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Value::Text(t) if !t.trim().is_empty() => Some(t.clone()),
        _ => None,
    }
}

fn amount(record: &Record, field: &str) -> Decimal {
    as_decimal(record.get(field)).unwrap_or_default()
}

impl Core {
    /// Quote `id` as a PDF the actor may read: its file name and bytes.
    pub async fn quote_pdf(
        &self,
        actor: &Actor,
        id: Uuid,
        language: Language,
    ) -> Result<(String, Vec<u8>), CoreError> {
        let quote = self.get_record(actor, pricing::QUOTE, id).await?;
        let lines_object = self.object(pricing::QUOTE_LINE)?;
        let obj = lines_object.clone();
        // the lines follow their quote's visibility; field security is applied below
        let mut lines = self
            .store
            .read(move |conn| live_where(conn, &obj, QUOTE_ID, id))
            .await?;
        for line in &mut lines {
            crate::fields::redact(actor, &lines_object, line);
        }
        let named = |object: &'static str, field: &str| {
            let id = as_ref(quote.get(field));
            async move {
                match id {
                    Some(id) => self.get_record(actor, object, id).await.ok(),
                    None => None,
                }
            }
        };
        let account = named("account", "account_id").await;
        let contact = named("contact", "contact_id").await;
        let company = &self.settings.company;
        let logo = match &company.logo {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                CoreError::Internal(format!(
                    "cannot read the company logo {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let currency = match quote.get(pricing::TOTAL) {
            Value::Money { currency, .. } => currency.clone(),
            _ => self.settings.default_currency.clone(),
        };
        let number = text(&quote, "quote_number").unwrap_or_default();
        let version = match quote.get("quote_version") {
            Value::Int(v) => *v,
            _ => 1,
        };
        let doc = QuoteDocument {
            language,
            seller: Party {
                name: company.name.clone(),
                address_lines: company.address.clone(),
                phone: None,
                email: None,
            },
            customer: Party {
                name: account
                    .as_ref()
                    .and_then(|a| text(a, "name"))
                    .unwrap_or_default(),
                address_lines: account
                    .as_ref()
                    .and_then(|a| text(a, "address"))
                    .into_iter()
                    .collect(),
                phone: account.as_ref().and_then(|a| text(a, "phone")),
                email: None,
            },
            contact_name: contact.as_ref().and_then(|c| text(c, "name")),
            quote_number: format!("{number} v{version}"),
            issued_on: match quote.get("created_at") {
                Value::Datetime(t) => t.date_naive(),
                _ => self.clock.now().date_naive(),
            },
            valid_until: match quote.get("valid_until") {
                Value::Date(d) => Some(*d),
                _ => None,
            },
            currency,
            lines: lines
                .iter()
                .map(|l| pdf::QuoteLine {
                    name: text(l, "name").unwrap_or_default(),
                    description: text(l, "description"),
                    quantity: amount(l, pricing::QUANTITY),
                    unit: None,
                    unit_price: amount(l, pricing::UNIT_PRICE),
                    discount_percent: amount(l, pricing::DISCOUNT),
                    subtotal: amount(l, pricing::SUBTOTAL),
                    tax_rate: amount(l, pricing::TAX_RATE),
                    tax: amount(l, pricing::TAX_AMOUNT),
                    total: amount(l, pricing::TOTAL),
                })
                .collect(),
            subtotal: amount(&quote, pricing::SUBTOTAL),
            header_discount: amount(&quote, "header_discount_amount"),
            tax: amount(&quote, pricing::TAX_AMOUNT),
            total: amount(&quote, pricing::TOTAL),
            terms: text(&quote, "terms"),
            logo_png: logo,
        };
        let bytes = tokio::task::spawn_blocking(move || {
            let fonts = fonts()?;
            pdf::render(&doc, &fonts).map_err(CoreError::from)
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        Ok((format!("{number}-v{version}.pdf"), bytes))
    }
}
