//! The UI's two languages. Every string a page shows comes from a catalog (`i18n/en.toml`,
//! `i18n/zh-CN.toml`; a test fails when a key is missing in either or a template uses one
//! that neither has). Labels of the standard objects, fields and picklist values come from
//! their metadata in English and from `relata_domain::labels_zh` in Chinese; what an admin
//! typed for a custom object is shown as typed, in both.

use std::collections::HashMap;
use std::sync::LazyLock;

use relata_domain::meta::{FieldDef, ObjectDef};

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The language of a user's `locale` setting or of an `Accept-Language` header.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.trim_start().to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The BCP 47 tag, for `<html lang>` and the locale setting.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

pub const EN_SOURCE: &str = include_str!("../i18n/en.toml");
pub const ZH_SOURCE: &str = include_str!("../i18n/zh-CN.toml");

/// A catalog flattened to dotted keys (`[nav] home = "Home"` is `nav.home`).
pub use relata_domain::labels_zh::flatten;

struct Catalogs {
    en: HashMap<String, String>,
    zh: HashMap<String, String>,
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| {
    let load = |name: &str, source: &str| {
        flatten(source).unwrap_or_else(|e| {
            // a test parses every catalog, so this only happens to a hand-edited binary
            tracing::error!(catalog = name, error = %e, "a UI catalog does not parse");
            HashMap::new()
        })
    };
    Catalogs {
        en: load("en", EN_SOURCE),
        zh: load("zh-CN", ZH_SOURCE),
    }
});

/// Translations for one page.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// The string of `key`; the key itself when a catalog lacks it (a test prevents that).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let catalog = match self.lang {
            Lang::En => &CATALOGS.en,
            Lang::Zh => &CATALOGS.zh,
        };
        match catalog.get(key) {
            // the catalogs live for the whole process
            Some(s) => {
                let s: &'static str = s.as_str();
                s
            }
            None => key,
        }
    }

    /// The string of `key` with `{name}` placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_owned();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    pub fn tag(&self) -> &'static str {
        self.lang.tag()
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    fn meta(&self, keys: &[String]) -> Option<&'static str> {
        if self.lang != Lang::Zh {
            return None;
        }
        relata_domain::labels_zh::get(keys)
    }

    /// An object's name, singular.
    pub fn object_label(&self, object: &ObjectDef) -> String {
        let standard = object
            .standard
            .then(|| format!("object.{}.label", object.name()));
        match standard.and_then(|k| self.meta(&[k])) {
            Some(s) => s.to_owned(),
            None => object.label.clone(),
        }
    }

    /// An object's name, plural (Chinese has no plural: the same word).
    pub fn object_plural(&self, object: &ObjectDef) -> String {
        let standard = object
            .standard
            .then(|| format!("object.{}.plural", object.name()));
        match standard.and_then(|k| self.meta(&[k])) {
            Some(s) => s.to_owned(),
            None => object.plural_label.clone(),
        }
    }

    /// A field's label: the object's own translation, then one for the field name on any
    /// standard object, then the metadata's label.
    pub fn field_label(&self, object: &ObjectDef, field: &FieldDef) -> String {
        if field.standard || field.system {
            let keys = [
                format!("field.{}.{}", object.name(), field.name()),
                format!("field.{}", field.name()),
            ];
            if let Some(s) = self.meta(&keys) {
                return s.to_owned();
            }
        }
        field.label.clone()
    }

    /// A picklist value's label.
    pub fn pick_label(&self, object: &ObjectDef, field: &FieldDef, value: &str) -> String {
        if field.standard {
            let keys = [
                format!("pick.{}.{}.{value}", object.name(), field.name()),
                format!("pick.{}.{value}", field.name()),
            ];
            if let Some(s) = self.meta(&keys) {
                return s.to_owned();
            }
        }
        field
            .picklist_value(value)
            .map(|v| v.label.clone())
            .unwrap_or_else(|| value.to_owned())
    }
}

/// The dotted keys of a catalog, for the completeness tests.
pub fn catalog_keys(lang: Lang) -> Vec<String> {
    let catalog = match lang {
        Lang::En => &CATALOGS.en,
        Lang::Zh => &CATALOGS.zh,
    };
    let mut keys: Vec<String> = catalog.keys().cloned().collect();
    keys.sort();
    keys
}

/// Whether the Chinese metadata catalog has `key`.
pub fn has_meta_zh(key: &str) -> bool {
    relata_domain::labels_zh::has(key)
}
