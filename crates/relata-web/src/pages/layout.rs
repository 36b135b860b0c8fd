//! Page layouts: which fields a record page and its form show, in which section. An object
//! without a layout shows every field in one section. Fields an admin left off the layout
//! are not shown — except a required field on a form, which goes into "Other fields" so a
//! record can still be saved.

use relata_domain::meta::{FieldDef, ObjectDef};

use crate::i18n::Tr;

/// The sections of `object`'s non-system fields, in layout order; `keep` says which fields
/// left off the layout are still shown (in a last section).
pub fn sections(
    object: &ObjectDef,
    tr: Tr,
    keep: impl Fn(&FieldDef) -> bool,
) -> Vec<(String, Vec<&FieldDef>)> {
    let own: Vec<&FieldDef> = object.live_fields().filter(|f| !f.system).collect();
    if object.layout.is_empty() {
        return vec![(tr.t("record.details").to_owned(), own)];
    }
    let mut out: Vec<(String, Vec<&FieldDef>)> = object
        .layout
        .iter()
        .map(|s| {
            let fields = s
                .fields
                .iter()
                .filter_map(|n| own.iter().copied().find(|f| f.api_name == *n))
                .collect();
            (s.label.clone(), fields)
        })
        .collect();
    let placed = |f: &FieldDef| object.layout.iter().any(|s| s.fields.contains(&f.api_name));
    let rest: Vec<&FieldDef> = own
        .iter()
        .copied()
        .filter(|f| !placed(f) && keep(f))
        .collect();
    if !rest.is_empty() {
        out.push((tr.t("layout.other_fields").to_owned(), rest));
    }
    out
}
