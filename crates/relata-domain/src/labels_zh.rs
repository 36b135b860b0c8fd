//! Chinese labels of the standard objects, fields and picklist values (English ones are in
//! the metadata itself, `standard.rs`). The web UI shows them; an import matches Chinese
//! column headings with them. What an admin typed for a custom object or field has no entry:
//! it is shown, and matched, as typed.
//!
//! Lookup order: `field.<object>.<field>`, then `field.<field>`; `pick.<object>.<field>.<value>`,
//! then `pick.<field>.<value>`; `object.<object>.label` and `.plural`.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::meta::{FieldDef, ObjectDef};

/// The catalog as shipped.
pub const SOURCE: &str = include_str!("../i18n/meta.zh-CN.toml");

static LABELS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    // a unit test parses the catalog, so a failure here means a hand-edited binary
    flatten(SOURCE).unwrap_or_default()
});

/// A TOML catalog as dotted keys.
pub fn flatten(source: &str) -> Result<HashMap<String, String>, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                other => {
                    out.insert(key, other.to_string());
                }
            }
        }
    }
    let table: toml::Table = source.parse().map_err(|e| format!("{e}"))?;
    let mut out = HashMap::new();
    walk("", &table, &mut out);
    Ok(out)
}

/// The label under the first of `keys` the catalog has.
pub fn get(keys: &[String]) -> Option<&'static str> {
    keys.iter().find_map(|k| LABELS.get(k)).map(String::as_str)
}

/// Whether the catalog has `key`.
pub fn has(key: &str) -> bool {
    LABELS.contains_key(key)
}

/// A standard field's Chinese label, if it has one.
pub fn field_label(object: &ObjectDef, field: &FieldDef) -> Option<&'static str> {
    if !(field.standard || field.system) {
        return None;
    }
    get(&[
        format!("field.{}.{}", object.name(), field.name()),
        format!("field.{}", field.name()),
    ])
}

/// A standard picklist value's Chinese label, if it has one.
pub fn pick_label(object: &ObjectDef, field: &FieldDef, value: &str) -> Option<&'static str> {
    if !field.standard {
        return None;
    }
    get(&[
        format!("pick.{}.{}.{value}", object.name(), field.name()),
        format!("pick.{}.{value}", field.name()),
    ])
}

/// A standard object's Chinese name (`label` or `plural`).
pub fn object_label(object: &ObjectDef, which: &str) -> Option<&'static str> {
    if !object.standard {
        return None;
    }
    get(&[format!("object.{}.{which}", object.name())])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalog_parses() {
        let labels = super::flatten(super::SOURCE).expect("meta.zh-CN.toml parses");
        assert_eq!(labels.get("field.email").map(String::as_str), Some("邮箱"));
    }
}
