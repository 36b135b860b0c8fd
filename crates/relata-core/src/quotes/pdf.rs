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

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use krilla::color::rgb;
use krilla::error::KrillaError;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Data, Document};
use rust_decimal::{Decimal, RoundingStrategy};
use skrifa::instance::{LocationRef, Size as FontSize};
use skrifa::raw::{FileRef, TableProvider};
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};

use crate::CoreError;

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

/// Debian's CJK fonts, best first: (regular, bold). WenQuanYi has no bold face.
const DEBIAN_FONTS: &[(&str, Option<&str>)] = &[
    // fonts-noto-cjk
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        Some("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ),
    // fonts-wqy-microhei, fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
];

/// The face of a collection to use, by family name: Noto's collection starts with the
/// Japanese face, whose forms of many characters (直, 骨, 边) are wrong for mainland Chinese.
const SIMPLIFIED_FAMILIES: &[&str] = &[
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
];

/// The regular and bold faces, loaded once and shared (cloning is cheap).
#[derive(Clone)]
pub struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    /// The first of Debian's CJK fonts installed.
    pub fn discover() -> Result<Self, PdfError> {
        for (regular, bold) in DEBIAN_FONTS {
            if Path::new(regular).is_file() {
                let bold = bold.filter(|b| Path::new(b).is_file()).unwrap_or(regular);
                return Self::from_paths(regular, bold);
            }
        }
        let searched = DEBIAN_FONTS.iter().map(|f| PathBuf::from(f.0)).collect();
        Err(PdfError::NoFont { searched })
    }

    /// One font file (`.ttf`, `.otf` or `.ttc`) for both weights.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, PdfError> {
        let face = Face::load(path.as_ref())?;
        Ok(Self {
            regular: face.clone(),
            bold: face,
        })
    }

    pub fn from_paths(regular: impl AsRef<Path>, bold: impl AsRef<Path>) -> Result<Self, PdfError> {
        let regular = Face::load(regular.as_ref())?;
        let bold = if bold.as_ref() == regular.path {
            regular.clone()
        } else {
            Face::load(bold.as_ref())?
        };
        Ok(Self { regular, bold })
    }

    fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }
}

impl fmt::Debug for Fonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fonts")
            .field("regular", &self.regular.path)
            .field("bold", &self.bold.path)
            .finish()
    }
}

/// One face of a font file: what krilla embeds, and the bytes we measure text with.
#[derive(Clone)]
struct Face {
    font: Font,
    data: Arc<Vec<u8>>,
    index: u32,
    units_per_em: f32,
    path: PathBuf,
}

impl Face {
    fn load(path: &Path) -> Result<Self, PdfError> {
        let bad = |reason: String| PdfError::BadFont {
            path: path.to_owned(),
            reason,
        };
        let data = Arc::new(std::fs::read(path).map_err(|e| bad(e.to_string()))?);
        let index = simplified_face_index(&data).map_err(&bad)?;
        let font = FontRef::from_index(&data, index).map_err(|e| bad(e.to_string()))?;
        if font.charmap().map('报').is_none() {
            return Err(bad("it has no Chinese characters".into()));
        }
        let units_per_em = f32::from(font.head().map_err(|e| bad(e.to_string()))?.units_per_em());
        let font = Font::new(Data::from(data.clone()), index)
            .ok_or_else(|| bad("the PDF writer cannot read it".into()))?;
        Ok(Self {
            font,
            data,
            index,
            units_per_em,
            path: path.to_owned(),
        })
    }

    /// One glyph per character, advances in ems; a character the font lacks shows as its
    /// empty box (glyph 0) but still maps back to its text.
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        // Cannot fail: `load` read this face from the same bytes.
        let Ok(font) = FontRef::from_index(&self.data, self.index) else {
            return Vec::new();
        };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(FontSize::unscaled(), LocationRef::default());
        text.char_indices()
            .map(|(i, c)| {
                let id = charmap.map(c).unwrap_or_default();
                let advance = metrics.advance_width(id).unwrap_or(0.0) / self.units_per_em;
                let range = i..i + c.len_utf8();
                KrillaGlyph::new(
                    GlyphId::new(id.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    range,
                    None,
                )
            })
            .collect()
    }
}

fn simplified_face_index(data: &[u8]) -> Result<u32, String> {
    let FileRef::Collection(faces) = FileRef::new(data).map_err(|e| e.to_string())? else {
        return Ok(0);
    };
    let family = |i: u32| {
        let face = faces.get(i).ok()?;
        let name = face
            .localized_strings(StringId::FAMILY_NAME)
            .english_or_first()?;
        Some(name.to_string())
    };
    let wanted = |i: &u32| family(*i).is_some_and(|f| SIMPLIFIED_FAMILIES.contains(&f.as_str()));
    Ok((0..faces.len()).find(wanted).unwrap_or(0))
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

/// Thousands grouped, two decimals (half away from zero), the currency's symbol when it has
/// an unambiguous one, else its code: "¥1,234,567.50", "-US$5.00", "CHF 12.00".
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    rounded.set_sign_positive(true);
    rounded.rescale(2);
    let digits = group_thousands(&rounded.to_string());
    match currency_symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{digits}"),
        None => format!("{sign}{currency} {digits}"),
    }
}

fn currency_symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "CNY" => "¥",
        "USD" => "US$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "JP¥",
        "HKD" => "HK$",
        _ => return None,
    })
}

/// "1234567.50" → "1,234,567.50" (no sign: callers add it).
fn group_thousands(plain: &str) -> String {
    let (int, frac) = plain
        .split_once('.')
        .map_or((plain, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn format_quantity(quantity: Decimal, unit: Option<&str>) -> String {
    let n = quantity.normalize();
    let sign = if n.is_sign_negative() { "-" } else { "" };
    let digits = group_thousands(&n.abs().to_string());
    match unit {
        Some(u) if !u.is_empty() => format!("{sign}{digits} {u}"),
        _ => format!("{sign}{digits}"),
    }
}

fn format_percent(p: Decimal) -> String {
    format!("{}%", p.normalize())
}

#[derive(Clone, Copy)]
enum Label {
    Title,
    Number,
    IssuedOn,
    ValidUntil,
    Currency,
    Customer,
    Contact,
    Phone,
    Email,
    Row,
    Item,
    Quantity,
    UnitPrice,
    Discount,
    Subtotal,
    Tax,
    Total,
    Terms,
}

/// (Chinese, English).
fn words(label: Label) -> (&'static str, &'static str) {
    match label {
        Label::Title => ("报价单", "Quote"),
        Label::Number => ("编号", "No."),
        Label::IssuedOn => ("日期", "Date"),
        Label::ValidUntil => ("有效期至", "Valid until"),
        Label::Currency => ("币种", "Currency"),
        Label::Customer => ("客户", "Customer"),
        Label::Contact => ("联系人", "Contact"),
        Label::Phone => ("电话", "Phone"),
        Label::Email => ("邮箱", "Email"),
        Label::Row => ("#", "#"),
        Label::Item => ("产品", "Item"),
        Label::Quantity => ("数量", "Qty"),
        Label::UnitPrice => ("单价", "Unit price"),
        Label::Discount => ("折扣", "Discount"),
        Label::Subtotal => ("小计", "Subtotal"),
        Label::Tax => ("税额", "Tax"),
        Label::Total => ("合计", "Total"),
        Label::Terms => ("条款", "Terms"),
    }
}

impl Language {
    fn label(self, label: Label) -> String {
        let (zh, en) = words(label);
        match self {
            Language::En => en.to_owned(),
            Language::ZhCn => zh.to_owned(),
            Language::Bilingual if zh == en => zh.to_owned(),
            Language::Bilingual => format!("{zh} {en}"),
        }
    }

    /// A table heading: bilingual ones on two lines, so narrow columns stay readable.
    fn heading(self, label: Label) -> Vec<String> {
        let (zh, en) = words(label);
        match self {
            Language::Bilingual if zh != en => vec![zh.to_owned(), en.to_owned()],
            _ => vec![self.label(label)],
        }
    }

    fn field(self, label: Label, value: &str) -> String {
        let colon = if self == Language::ZhCn { "：" } else { ": " };
        format!("{}{colon}{value}", self.label(label))
    }

    fn date(self, d: NaiveDate) -> String {
        match self {
            Language::ZhCn => d.format("%Y年%-m月%-d日").to_string(),
            _ => d.format("%Y-%m-%d").to_string(),
        }
    }

    fn tag(self) -> &'static str {
        if self == Language::En { "en" } else { "zh-CN" }
    }
}

// Page geometry in points (1/72 inch), origin top-left, y downwards.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 45.0;
const RIGHT: f32 = PAGE_W - MARGIN;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = PAGE_H - MARGIN - 12.0;
const LOGO_MAX: (f32, f32) = (150.0, 50.0);
const CELL_PAD: (f32, f32) = (3.5, 4.0);
/// (heading, width, alignment); the widths add up to `CONTENT_W`.
const COLUMNS: [(Label, f32, Align); 8] = [
    (Label::Row, 20.0, Align::Left),
    (Label::Item, 132.28, Align::Left),
    (Label::Quantity, 44.0, Align::Right),
    (Label::UnitPrice, 68.0, Align::Right),
    (Label::Discount, 42.0, Align::Right),
    (Label::Subtotal, 68.0, Align::Right),
    (Label::Tax, 58.0, Align::Right),
    (Label::Total, 73.0, Align::Right),
];

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
    Center,
}

#[derive(Clone, Copy)]
enum Tone {
    Ink,
    Muted,
    Accent,
}

impl Tone {
    fn color(self) -> rgb::Color {
        match self {
            Tone::Ink => rgb::Color::new(0x1f, 0x29, 0x37),
            Tone::Muted => rgb::Color::new(0x6b, 0x72, 0x80),
            Tone::Accent => rgb::Color::new(0x1d, 0x4e, 0xd8),
        }
    }
}

#[derive(Clone, Copy)]
struct Style {
    size: f32,
    bold: bool,
    tone: Tone,
}

impl Style {
    fn line_height(self) -> f32 {
        self.size * 1.4
    }
}

const fn style(size: f32, bold: bool, tone: Tone) -> Style {
    Style { size, bold, tone }
}

const TITLE: Style = style(20.0, true, Tone::Accent);
const NAME: Style = style(11.0, true, Tone::Ink);
const BODY: Style = style(9.0, false, Tone::Ink);
/// A label beside a value in `BODY`, on the same line height.
const LABEL: Style = style(9.0, false, Tone::Muted);
const SMALL: Style = style(8.0, false, Tone::Muted);
const CELL: Style = style(8.0, false, Tone::Ink);
const CELL_HEAD: Style = style(7.5, true, Tone::Ink);
const NOTE: Style = style(7.0, false, Tone::Muted);
const TOTAL: Style = style(11.0, true, Tone::Ink);
const HEADING: Style = style(9.5, true, Tone::Ink);

/// Lines of text, already wrapped, each with its style.
type Block = Vec<(Style, String)>;

fn block_height(block: &Block) -> f32 {
    block.iter().map(|(s, _)| s.line_height()).sum()
}

/// What a page shows; `y` of text is its top, painted at the baseline below it.
enum Op {
    Text {
        x: f32,
        y: f32,
        style: Style,
        text: String,
    },
    Rule {
        x: f32,
        y: f32,
        w: f32,
        weight: f32,
    },
    Band {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Logo {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// Places text down the pages, starting a new one when the next piece does not fit.
struct Layout<'a> {
    fonts: &'a Fonts,
    lang: Language,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'a> Layout<'a> {
    fn new(fonts: &'a Fonts, lang: Language) -> Self {
        Self {
            fonts,
            lang,
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn break_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    fn widths(&self, style: Style, text: &str) -> Vec<f32> {
        let glyphs = self.fonts.face(style.bold).glyphs(text);
        glyphs.iter().map(|g| g.x_advance * style.size).collect()
    }

    fn width(&self, style: Style, text: &str) -> f32 {
        self.widths(style, text).iter().sum()
    }

    fn wrap(&self, style: Style, text: &str, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let paragraph = paragraph.trim_end();
            wrap_paragraph(paragraph, &self.widths(style, paragraph), max, &mut lines);
        }
        lines
    }

    fn block(&self, items: &[(Style, String)], max: f32) -> Block {
        let wrapped = items
            .iter()
            .flat_map(|(s, t)| self.wrap(*s, t, max).into_iter().map(|l| (*s, l)));
        wrapped.collect()
    }

    /// One line of text with its left, right or centre edge at `x`.
    fn text(&self, x: f32, y: f32, align: Align, style: Style, text: &str) -> Op {
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.width(style, text),
            Align::Center => x - self.width(style, text) / 2.0,
        };
        Op::Text {
            x,
            y,
            style,
            text: text.to_owned(),
        }
    }

    /// Puts `block` at `x` (see `text`) from `top` down; returns where it ends.
    fn place(&mut self, x: f32, top: f32, align: Align, block: &Block) -> f32 {
        let mut y = top;
        for (style, text) in block {
            if !text.is_empty() {
                let op = self.text(x, y, align, *style, text);
                self.push(op);
            }
            y += style.line_height();
        }
        y
    }

    /// One unwrapped line at the current height; returns its bottom.
    fn line(&mut self, x: f32, align: Align, style: Style, text: &str) -> f32 {
        let op = self.text(x, self.y, align, style, text);
        self.push(op);
        self.y + style.line_height()
    }

    fn rule(&mut self, x: f32, w: f32, weight: f32) {
        let y = self.y;
        self.push(Op::Rule { x, y, w, weight });
    }

    /// "1 / 2" centred under each page, the quote number at the left.
    fn footers(&mut self, quote_number: &str) {
        let count = self.pages.len();
        let y = BOTTOM + 14.0;
        for i in 0..count {
            let page_number = self.text(
                PAGE_W / 2.0,
                y,
                Align::Center,
                SMALL,
                &format!("{} / {count}", i + 1),
            );
            let number = self.text(MARGIN, y, Align::Left, SMALL, quote_number);
            self.pages[i].extend([page_number, number]);
        }
    }
}

/// Greedy line breaking: at a space, or between Chinese characters (which need none), but
/// never before closing punctuation nor after opening punctuation (避头尾, as Chinese
/// typesetting does). A word longer than a line is cut where it overflows.
fn wrap_paragraph(text: &str, widths: &[f32], max: f32, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (mut start, mut width) = (0, 0.0);
    let mut last_break: Option<(usize, f32)> = None;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if k > 0 && i > start && can_break_between(chars[k - 1].1, c) {
            last_break = Some((i, width));
        }
        width += widths.get(k).copied().unwrap_or(0.0);
        if width <= max || i == start {
            continue;
        }
        let (end, width_before) = match last_break.take() {
            Some(found) if found.0 > start => found,
            _ => (i, width - widths.get(k).copied().unwrap_or(0.0)),
        };
        out.push(text[start..end].trim_end().to_owned());
        start = end;
        width -= width_before;
    }
    out.push(text[start..].to_owned());
}

fn can_break_between(before: char, after: char) -> bool {
    if after.is_whitespace() || "，。、；：！？）》」』】〉”’…%,.;:!?)]".contains(after)
    {
        return false;
    }
    if "（《「『【〈“‘([".contains(before) {
        return false;
    }
    before.is_whitespace() || is_cjk(before) || is_cjk(after)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}

fn party_block(lang: Language, party: &Party, contact: Option<&str>) -> Block {
    let mut items = vec![(NAME, party.name.clone())];
    items.extend(party.address_lines.iter().map(|a| (SMALL, a.clone())));
    if let Some(c) = contact {
        items.push((SMALL, lang.field(Label::Contact, c)));
    }
    if let Some(p) = &party.phone {
        items.push((SMALL, lang.field(Label::Phone, p)));
    }
    if let Some(e) = &party.email {
        items.push((SMALL, lang.field(Label::Email, e)));
    }
    items
}

/// Logo top-left, seller top-right, a rule; then the title and the quote's number and dates.
fn header(l: &mut Layout, doc: &QuoteDocument, logo_px: Option<(u32, u32)>) {
    let top = l.y;
    let logo_bottom = logo_px.map_or(top, |px| logo(l, px));
    let seller = l.block(&party_block(l.lang, &doc.seller, None), CONTENT_W * 0.55);
    let seller_bottom = l.place(RIGHT, top, Align::Right, &seller);
    l.y = logo_bottom.max(seller_bottom) + 12.0;
    l.rule(MARGIN, CONTENT_W, 0.8);
    l.y += 14.0;
    let title_bottom = l.line(MARGIN, Align::Left, TITLE, &l.lang.label(Label::Title));
    let facts_bottom = facts(l, doc);
    l.y = title_bottom.max(facts_bottom) + 14.0;
}

/// The logo scaled into its box, keeping its proportions; returns its bottom.
fn logo(l: &mut Layout, (w, h): (u32, u32)) -> f32 {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let scale = (LOGO_MAX.0 / w).min(LOGO_MAX.1 / h);
    let (w, h) = (w * scale, h * scale);
    l.push(Op::Logo {
        x: MARGIN,
        y: l.y,
        w,
        h,
    });
    l.y + h
}

/// Number, dates and currency as a label / value grid at the right; returns its bottom.
fn facts(l: &mut Layout, doc: &QuoteDocument) -> f32 {
    let mut facts = vec![
        (Label::Number, doc.quote_number.clone()),
        (Label::IssuedOn, l.lang.date(doc.issued_on)),
    ];
    if let Some(d) = doc.valid_until {
        facts.push((Label::ValidUntil, l.lang.date(d)));
    }
    facts.push((Label::Currency, doc.currency.clone()));
    let labels: Block = facts
        .iter()
        .map(|(k, _)| (LABEL, l.lang.label(*k)))
        .collect();
    let values: Block = facts.into_iter().map(|(_, v)| (BODY, v)).collect();
    let widest = |b: &Block| b.iter().map(|(s, t)| l.width(*s, t)).fold(0.0, f32::max);
    let labels_x = RIGHT - widest(&values) - widest(&labels) - 12.0;
    l.place(labels_x, l.y, Align::Left, &labels);
    l.place(RIGHT, l.y, Align::Right, &values)
}

fn customer(l: &mut Layout, doc: &QuoteDocument) {
    let mut items = vec![(SMALL, l.lang.label(Label::Customer))];
    items.extend(party_block(
        l.lang,
        &doc.customer,
        doc.contact_name.as_deref(),
    ));
    let block = l.block(&items, CONTENT_W * 0.6);
    l.y = l.place(MARGIN, l.y, Align::Left, &block) + 14.0;
}

fn table(l: &mut Layout, doc: &QuoteDocument) {
    let head: Vec<Block> = COLUMNS
        .iter()
        .map(|(label, w, _)| {
            let items: Block = l
                .lang
                .heading(*label)
                .into_iter()
                .map(|t| (CELL_HEAD, t))
                .collect();
            l.block(&items, w - 2.0 * CELL_PAD.0)
        })
        .collect();
    let rows: Vec<Vec<Block>> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| row(l, doc, i, line))
        .collect();
    let first = rows.first().map_or(0.0, |r| row_height(r));
    if l.room() < row_height(&head) + first {
        l.break_page();
    }
    draw_row(l, &head, true);
    for cells in &rows {
        if l.room() < row_height(cells) {
            l.break_page();
            draw_row(l, &head, true);
        }
        draw_row(l, cells, false);
    }
}

fn row(l: &Layout, doc: &QuoteDocument, i: usize, line: &QuoteLine) -> Vec<Block> {
    let money = |d| format_money(d, &doc.currency);
    let mut item = vec![(CELL, line.name.clone())];
    item.extend(line.description.iter().map(|d| (NOTE, d.clone())));
    let discount = if line.discount_percent.is_zero() {
        String::new()
    } else {
        format_percent(line.discount_percent)
    };
    let cells: [Block; 8] = [
        vec![(CELL, (i + 1).to_string())],
        item,
        vec![(CELL, format_quantity(line.quantity, line.unit.as_deref()))],
        vec![(CELL, money(line.unit_price))],
        vec![(CELL, discount)],
        vec![(CELL, money(line.subtotal))],
        vec![
            (CELL, money(line.tax)),
            (NOTE, format_percent(line.tax_rate)),
        ],
        vec![(Style { bold: true, ..CELL }, money(line.total))],
    ];
    cells
        .iter()
        .zip(COLUMNS)
        .map(|(items, (_, w, _))| l.block(items, w - 2.0 * CELL_PAD.0))
        .collect()
}

fn row_height(cells: &[Block]) -> f32 {
    cells.iter().map(block_height).fold(0.0, f32::max) + 2.0 * CELL_PAD.1
}

fn draw_row(l: &mut Layout, cells: &[Block], is_head: bool) {
    let h = row_height(cells);
    if is_head {
        l.push(Op::Band {
            x: MARGIN,
            y: l.y,
            w: CONTENT_W,
            h,
        });
    }
    let mut x = MARGIN;
    for (block, (_, w, align)) in cells.iter().zip(COLUMNS) {
        let anchor = if align == Align::Right {
            x + w - CELL_PAD.0
        } else {
            x + CELL_PAD.0
        };
        l.place(anchor, l.y + CELL_PAD.1, align, block);
        x += w;
    }
    l.y += h;
    l.rule(MARGIN, CONTENT_W, if is_head { 0.8 } else { 0.4 });
}

/// Right-aligned under the table; kept together on one page.
fn totals(l: &mut Layout, doc: &QuoteDocument) {
    let money = |d| format_money(d, &doc.currency);
    let mut rows = vec![(Label::Subtotal, money(doc.subtotal))];
    if !doc.header_discount.is_zero() {
        rows.push((Label::Discount, money(-doc.header_discount.abs())));
    }
    rows.push((Label::Tax, money(doc.tax)));
    let height = rows.len() as f32 * BODY.line_height() + TOTAL.line_height() + 20.0;
    l.y += 8.0;
    if l.room() < height {
        l.break_page();
    }
    let labels_right = RIGHT - 110.0;
    for (label, value) in rows {
        l.line(labels_right, Align::Right, LABEL, &l.lang.label(label));
        l.y = l.line(RIGHT, Align::Right, BODY, &value);
    }
    l.y += 4.0;
    l.rule(RIGHT - 230.0, 230.0, 0.8);
    l.y += 4.0;
    l.line(
        labels_right,
        Align::Right,
        TOTAL,
        &l.lang.label(Label::Total),
    );
    l.y = l.line(RIGHT, Align::Right, TOTAL, &money(doc.total));
}

/// The terms flow over as many pages as they need, line by line.
fn terms(l: &mut Layout, doc: &QuoteDocument) {
    let Some(text) = doc.terms.as_deref().filter(|t| !t.trim().is_empty()) else {
        return;
    };
    l.y += 18.0;
    // Never leave the heading alone at the foot of a page.
    if l.room() < HEADING.line_height() + BODY.line_height() {
        l.break_page();
    }
    l.y = l.line(MARGIN, Align::Left, HEADING, &l.lang.label(Label::Terms)) + 2.0;
    for line in l.wrap(BODY, text, CONTENT_W) {
        if l.room() < BODY.line_height() {
            l.break_page();
        }
        l.y = l.line(MARGIN, Align::Left, BODY, &line);
    }
}

fn paint(
    doc: &QuoteDocument,
    fonts: &Fonts,
    pages: &[Vec<Op>],
    logo: Option<&Image>,
) -> Result<Vec<u8>, PdfError> {
    let mut document = Document::new();
    let title = format!("{} {}", doc.language.label(Label::Title), doc.quote_number);
    let metadata = Metadata::new()
        .title(title)
        .language(doc.language.tag().to_owned())
        .creator("Relata".to_owned());
    document.set_metadata(metadata);
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Render("page size".into()))?;
    for ops in pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, fonts, op, logo);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| match e {
        KrillaError::Image(_, _, message) => PdfError::BadLogo(message),
        other => PdfError::Render(format!("{other:?}")),
    })
}

fn draw(surface: &mut Surface, fonts: &Fonts, op: &Op, logo: Option<&Image>) {
    match op {
        Op::Text { x, y, style, text } => {
            let face = fonts.face(style.bold);
            // Baseline a little above the line's bottom: the font's ascent plus half the leading.
            let baseline = y + style.size * 1.08;
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: style.tone.color().into(),
                ..Fill::default()
            }));
            surface.draw_glyphs(
                Point::from_xy(*x, baseline),
                &face.glyphs(text),
                face.font.clone(),
                text,
                style.size,
                false,
            );
        }
        Op::Rule { x, y, w, weight } => {
            let mut path = PathBuilder::new();
            path.move_to(*x, *y);
            path.line_to(x + w, *y);
            let stroke = Stroke {
                paint: rgb::Color::new(0xd1, 0xd5, 0xdb).into(),
                width: *weight,
                ..Stroke::default()
            };
            surface.set_fill(None);
            surface.set_stroke(Some(stroke));
            if let Some(path) = path.finish() {
                surface.draw_path(&path);
            }
        }
        Op::Band { x, y, w, h } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let mut path = PathBuilder::new();
            path.push_rect(rect);
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: rgb::Color::new(0xf1, 0xf3, 0xf6).into(),
                ..Fill::default()
            }));
            if let Some(path) = path.finish() {
                surface.draw_path(&path);
            }
        }
        Op::Logo { x, y, w, h } => {
            let (Some(image), Some(size)) = (logo, Size::from_wh(*w, *h)) else {
                return;
            };
            surface.push_transform(&Transform::from_translate(*x, *y));
            surface.draw_image(image.clone(), size);
            surface.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::str::FromStr;

    use super::*;

    /// Fails (never skips) without the font: CI installs fonts-noto-cjk.
    fn fonts() -> Fonts {
        Fonts::discover().expect("a CJK font: apt-get install fonts-noto-cjk")
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("a decimal literal")
    }

    /// A line with 6 % tax and its amounts computed the way pricing does, for these inputs.
    fn line(name: &str, quantity: &str, unit: &str, price: &str, discount: &str) -> QuoteLine {
        let (quantity, unit_price, discount_percent) = (dec(quantity), dec(price), dec(discount));
        let subtotal = (quantity * unit_price * (Decimal::ONE_HUNDRED - discount_percent)
            / Decimal::ONE_HUNDRED)
            .round_dp(2);
        let tax = (subtotal * dec("0.06")).round_dp(2);
        QuoteLine {
            name: name.into(),
            description: None,
            quantity,
            unit: Some(unit.into()),
            unit_price,
            discount_percent,
            subtotal,
            tax_rate: dec("6"),
            tax,
            total: subtotal + tax,
        }
    }

    fn quote(lines: Vec<QuoteLine>) -> QuoteDocument {
        let subtotal = lines.iter().map(|l| l.subtotal).sum();
        let tax = lines.iter().map(|l| l.tax).sum();
        QuoteDocument {
            language: Language::default(),
            seller: Party {
                name: "北京关系数据科技有限公司".into(),
                address_lines: vec!["北京市海淀区中关村大街 1 号".into()],
                phone: Some("010-8888 6666".into()),
                email: Some("sales@relata.example".into()),
            },
            customer: Party {
                name: "华夏银行股份有限公司".into(),
                address_lines: vec!["北京市东城区建国门内大街 22 号".into()],
                ..Party::default()
            },
            contact_name: Some("王经理".into()),
            quote_number: "Q-2026-0007 v2".into(),
            issued_on: NaiveDate::from_ymd_opt(2026, 3, 5).expect("a date"),
            valid_until: NaiveDate::from_ymd_opt(2026, 4, 4),
            currency: "CNY".into(),
            lines,
            subtotal,
            header_discount: Decimal::ZERO,
            tax,
            total: subtotal + tax,
            terms: Some(
                "1. 报价有效期为三十天。\n2. 付款方式：合同签订后支付 50%，验收后支付 50%。".into(),
            ),
            logo_png: None,
        }
    }

    fn three_lines() -> QuoteDocument {
        let mut cloud = line(
            "销售云 专业版（每席位/年）含移动端与数据分析模块",
            "50",
            "席位",
            "2000",
            "10",
        );
        cloud.description = Some("Sales Cloud Professional, per seat and year".into());
        quote(vec![
            cloud,
            line("实施服务 Implementation", "20", "人天", "2500", "0"),
            line("培训 Training", "5", "人天", "2500", "0"),
        ])
    }

    /// Runs one of poppler's tools on the PDF and returns what it printed.
    fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> String {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), pdf).expect("the PDF written");
        let out = Command::new(tool)
            .args(args)
            .arg(file.path())
            .args(if tool == "pdftotext" { &["-"][..] } else { &[] })
            .output()
            .unwrap_or_else(|e| panic!("{tool} ({e}): apt-get install poppler-utils"));
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn page_count(pdf: &[u8]) -> usize {
        let info = poppler("pdfinfo", pdf, &[]);
        let pages = info.lines().find_map(|l| l.strip_prefix("Pages:"));
        pages
            .and_then(|p| p.trim().parse().ok())
            .expect("a page count")
    }

    #[test]
    fn bilingual_quote_has_extractable_chinese_text() {
        let pdf = render(&three_lines(), &fonts()).expect("a PDF");
        let text = poppler("pdftotext", &pdf, &["-raw"]);
        for expected in [
            "华夏银行股份有限公司",
            "Q-2026-0007 v2",
            "报价单 Quote",
            "有效期至 Valid until",
            "2026-04-04",
            "¥161,650.00",
            "¥152,500.00",
            "¥90,000.00",
            "50 席位",
            "数据分析模块",
            "付款方式：合同签订后支付 50%",
            "1 / 1",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
        assert_eq!(page_count(&pdf), 1);
    }

    #[test]
    fn font_is_embedded_as_a_subset_with_a_unicode_map() {
        let pdf = render(&three_lines(), &fonts()).expect("a PDF");
        let listing = poppler("pdffonts", &pdf, &[]);
        let fonts: Vec<&str> = listing.lines().skip(2).collect();
        assert!(!fonts.is_empty(), "{listing}");
        for font in fonts {
            // name type encoding … emb sub uni: a subset ("ABCDEF+") that maps back to text
            assert!(
                font.contains('+') && font.contains("yes yes yes"),
                "{listing}"
            );
        }
        assert!(
            pdf.len() < 200_000,
            "a subset, not the whole font: {} bytes",
            pdf.len()
        );
    }

    #[test]
    fn long_product_names_wrap_inside_their_column() {
        let pdf = render(&three_lines(), &fonts()).expect("a PDF");
        let text = poppler("pdftotext", &pdf, &["-raw"]);
        let name = "销售云 专业版（每席位/年）含移动端与数据分析模块";
        assert!(
            !text.contains(name),
            "one line too wide for its column:\n{text}"
        );
        assert!(
            text.contains("销售云") && text.contains("数据分析模块"),
            "{text}"
        );
    }

    #[test]
    fn forty_lines_paginate_with_the_table_header_on_each_page() {
        let lines = (1..=40).map(|i| line(&format!("产品 Product {i:02}"), "1", "套", "100", "0"));
        let pdf = render(&quote(lines.collect()), &fonts()).expect("a PDF");
        let pages = page_count(&pdf);
        assert!(pages >= 2, "{pages} page(s)");
        let text = poppler("pdftotext", &pdf, &["-raw"]);
        for i in 1..=40 {
            assert!(
                text.contains(&format!("Product {i:02}")),
                "line {i} lost:\n{text}"
            );
        }
        assert!(
            text.contains(&format!("1 / {pages}")) && text.contains(&format!("{pages} / {pages}"))
        );
        // The totals may open a page of their own; every page with lines has the header.
        let pages_with_lines = text
            .split('\u{c}')
            .filter(|p| p.contains("Product"))
            .count();
        assert!(
            text.matches("单价").count() >= pages_with_lines.max(2),
            "{text}"
        );
        assert!(text.contains("¥4,240.00"), "{text}");
    }

    #[test]
    fn english_quote_has_english_labels_only() {
        let mut doc = three_lines();
        doc.language = Language::En;
        let text = poppler("pdftotext", &render(&doc, &fonts()).expect("a PDF"), &[]);
        assert!(
            text.contains("Quote") && text.contains("Unit price"),
            "{text}"
        );
        assert!(!text.contains("报价单") && !text.contains("单价"), "{text}");
        assert!(
            text.contains("华夏银行股份有限公司"),
            "the customer's own name stays"
        );
    }

    #[test]
    fn logo_is_drawn_and_a_broken_one_refused() {
        // A 1×1 PNG.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        use base64::Engine as _;
        let mut doc = three_lines();
        doc.logo_png = Some(
            base64::engine::general_purpose::STANDARD
                .decode(png)
                .expect("base64"),
        );
        let pdf = render(&doc, &fonts()).expect("a PDF");
        let images = poppler("pdfimages", &pdf, &["-list"]);
        assert_eq!(
            images
                .lines()
                .filter(|l| l.split_whitespace().nth(2) == Some("image"))
                .count(),
            1,
            "{images}"
        );

        doc.logo_png = Some(b"GIF89a not a png".to_vec());
        let err = render(&doc, &fonts()).expect_err("not a PNG");
        assert!(matches!(err, PdfError::BadLogo(_)), "{err}");
    }

    #[test]
    fn missing_font_file_is_named_in_the_error() {
        let err = Fonts::from_path("/nonexistent").expect_err("no such file");
        assert!(err.to_string().contains("/nonexistent"), "{err}");
    }

    #[test]
    fn no_font_found_names_the_debian_package() {
        let err = PdfError::NoFont {
            searched: vec![PathBuf::from(DEBIAN_FONTS[0].0)],
        };
        assert!(err.to_string().contains("fonts-noto-cjk"), "{err}");
    }

    #[test]
    fn money_is_grouped_with_two_decimals() {
        assert_eq!(format_money(dec("1234567.5"), "CNY"), "¥1,234,567.50");
        assert_eq!(format_money(dec("0.005"), "CNY"), "¥0.01");
        assert_eq!(format_money(dec("-1000"), "USD"), "-US$1,000.00");
        assert_eq!(format_money(dec("-0.001"), "CNY"), "¥0.00");
        assert_eq!(format_money(dec("999"), "CHF"), "CHF 999.00");
        assert_eq!(format_quantity(dec("12500.50"), Some("套")), "12,500.5 套");
    }

    #[test]
    fn chinese_breaks_between_characters_but_not_before_closing_punctuation() {
        let fonts = fonts();
        let layout = Layout::new(&fonts, Language::ZhCn);
        let text = "付款方式：合同签订后支付百分之五十，验收合格后支付其余款项。";
        let max = 8.0 * BODY.size;
        let lines = layout.wrap(BODY, text, max);
        assert!(lines.len() > 2, "{lines:?}");
        assert_eq!(lines.concat(), text);
        for l in &lines {
            assert!(
                layout.width(BODY, l) <= max + 0.01 || l.chars().count() == 1,
                "{lines:?}"
            );
            assert!(!l.starts_with(['，', '。', '：']), "{lines:?}");
        }
        let words = layout.wrap(BODY, "Implementation services per day", 80.0);
        assert!(
            words
                .iter()
                .all(|w| !w.starts_with(' ') && !w.ends_with(' ')),
            "{words:?}"
        );
        assert_eq!(words.join(" "), "Implementation services per day");
    }
}
