//! The font the quote is printed in: Debian's CJK fonts found and loaded, the Simplified
//! Chinese face chosen from a collection, and each character's glyph and advance.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use krilla::Data;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size as FontSize};
use skrifa::raw::{FileRef, TableProvider};
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};

use super::PdfError;

/// Debian's CJK fonts, best first: (regular, bold). WenQuanYi has no bold face.
pub(super) const DEBIAN_FONTS: &[(&str, Option<&str>)] = &[
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

    pub(super) fn face(&self, bold: bool) -> &Face {
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
pub(super) struct Face {
    pub(super) font: Font,
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
    pub(super) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
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
