//! A quote as a PDF: the quote's already computed figures in, the bytes of an A4 document out,
//! labelled in English, Chinese or both. Owns the template (labels, layout, pagination, money
//! formatting) and the font it embeds; must not read the database nor compute amounts
//! (`relata_domain::pricing` does that, and the caller passes the results).
//!
//! krilla writes the PDF: it embeds a subset of the font (OpenType CFF inside a `.ttc` too)
//! and a ToUnicode map, so the text can be searched and copied. Layout is ours and simple on
//! purpose: one CJK font per weight covers Latin and Chinese, so each character is one glyph
//! from the font's character map and no shaping engine is needed. Text is laid out into a list
//! of drawing operations per page first and painted after, because the footer ("1 / 2") needs
//! the page count.
//!
//! `fonts` finds and reads the font, `labels` holds the template's words, `text` formats
//! amounts and breaks lines, `layout` turns the quote into operations page by page, and
//! `paint` draws them with krilla.

mod fonts;
mod labels;
mod layout;
mod paint;
mod text;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use chrono::NaiveDate;
use krilla::Data;
use krilla::image::Image;
use rust_decimal::Decimal;

use crate::CoreError;

pub use fonts::Fonts;
pub use text::format_money;

use layout::{Layout, customer, header, table, terms, totals};
use paint::paint;

/// The language of the template's labels (the quote's own text is printed as given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Language {
    En,
    ZhCn,
    /// Chinese then English: "报价单 Quote".
    #[default]
    Bilingual,
}

/// The seller or the customer.
#[derive(Debug, Clone, Default)]
pub struct Party {
    pub name: String,
    pub address_lines: Vec<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// One line of the quote, with its amounts as computed by `relata_domain::pricing`.
#[derive(Debug, Clone)]
pub struct QuoteLine {
    pub name: String,
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit: Option<String>,
    pub unit_price: Decimal,
    /// Percent, 0–100.
    pub discount_percent: Decimal,
    pub subtotal: Decimal,
    /// Percent: 13 is 13 %.
    pub tax_rate: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
}

/// Everything printed on a quote.
#[derive(Debug, Clone)]
pub struct QuoteDocument {
    pub language: Language,
    pub seller: Party,
    pub customer: Party,
    pub contact_name: Option<String>,
    pub quote_number: String,
    pub issued_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    /// ISO 4217 code: "CNY".
    pub currency: String,
    pub lines: Vec<QuoteLine>,
    pub subtotal: Decimal,
    /// What the quote-level discount takes off (printed as a negative amount; 0: no row).
    pub header_discount: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    /// May run over several lines and pages.
    pub terms: Option<String>,
    /// Drawn top-left.
    pub logo_png: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No font file at any of the Debian paths searched.
    #[error(
        "no Chinese font found (looked for {}): install Debian's fonts-noto-cjk \
         (or fonts-wqy-microhei)", list_paths(.searched)
    )]
    NoFont { searched: Vec<PathBuf> },
    #[error("cannot use the font {}: {reason}", .path.display())]
    BadFont { path: PathBuf, reason: String },
    #[error("the logo is not a usable PNG image: {0}")]
    BadLogo(String),
    #[error("cannot write the PDF: {0}")]
    Render(String),
}

impl From<PdfError> for CoreError {
    fn from(e: PdfError) -> Self {
        match e {
            PdfError::BadLogo(_) => CoreError::BadRequest {
                code: "invalid_logo",
                message: e.to_string(),
            },
            _ => CoreError::Internal(e.to_string()),
        }
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    let names: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// Renders the quote as a PDF.
pub fn render(doc: &QuoteDocument, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let logo = match &doc.logo_png {
        Some(png) => {
            Some(Image::from_png(Data::from(png.clone()), true).map_err(PdfError::BadLogo)?)
        }
        None => None,
    };
    let mut layout = Layout::new(fonts, doc.language);
    header(&mut layout, doc, logo.as_ref().map(Image::size));
    customer(&mut layout, doc);
    table(&mut layout, doc);
    totals(&mut layout, doc);
    terms(&mut layout, doc);
    layout.footers(&doc.quote_number);
    paint(doc, fonts, &layout.pages, logo.as_ref())
}
