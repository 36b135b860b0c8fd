//! The quote laid out into drawing operations, page by page: geometry and styles, text
//! measured and wrapped in the font, the header, the customer, the table of lines (its header
//! repeated on each page), the totals, the terms and the page numbers.

use krilla::color::rgb;

use super::fonts::Fonts;
use super::labels::Label;
use super::text::{format_money, format_percent, format_quantity, wrap_paragraph};
use super::{Language, Party, QuoteDocument, QuoteLine};

// Page geometry in points (1/72 inch), origin top-left, y downwards.
pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
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
pub(super) enum Tone {
    Ink,
    Muted,
    Accent,
}

impl Tone {
    pub(super) fn color(self) -> rgb::Color {
        match self {
            Tone::Ink => rgb::Color::new(0x1f, 0x29, 0x37),
            Tone::Muted => rgb::Color::new(0x6b, 0x72, 0x80),
            Tone::Accent => rgb::Color::new(0x1d, 0x4e, 0xd8),
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) size: f32,
    pub(super) bold: bool,
    pub(super) tone: Tone,
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
pub(super) const BODY: Style = style(9.0, false, Tone::Ink);
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
pub(super) enum Op {
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
pub(super) struct Layout<'a> {
    fonts: &'a Fonts,
    lang: Language,
    pub(super) pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'a> Layout<'a> {
    pub(super) fn new(fonts: &'a Fonts, lang: Language) -> Self {
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

    pub(super) fn width(&self, style: Style, text: &str) -> f32 {
        self.widths(style, text).iter().sum()
    }

    pub(super) fn wrap(&self, style: Style, text: &str, max: f32) -> Vec<String> {
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
    pub(super) fn footers(&mut self, quote_number: &str) {
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
pub(super) fn header(l: &mut Layout, doc: &QuoteDocument, logo_px: Option<(u32, u32)>) {
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

pub(super) fn customer(l: &mut Layout, doc: &QuoteDocument) {
    let mut items = vec![(SMALL, l.lang.label(Label::Customer))];
    items.extend(party_block(
        l.lang,
        &doc.customer,
        doc.contact_name.as_deref(),
    ));
    let block = l.block(&items, CONTENT_W * 0.6);
    l.y = l.place(MARGIN, l.y, Align::Left, &block) + 14.0;
}

pub(super) fn table(l: &mut Layout, doc: &QuoteDocument) {
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
pub(super) fn totals(l: &mut Layout, doc: &QuoteDocument) {
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
pub(super) fn terms(l: &mut Layout, doc: &QuoteDocument) {
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
