//! The laid-out pages painted into a PDF by krilla: text as glyphs of the embedded font,
//! rules, the table header's band and the logo.

use krilla::Document;
use krilla::color::rgb;
use krilla::error::KrillaError;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;

use super::fonts::Fonts;
use super::labels::Label;
use super::layout::{Op, PAGE_H, PAGE_W};
use super::{PdfError, QuoteDocument};

pub(super) fn paint(
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
