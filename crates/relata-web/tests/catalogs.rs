//! The UI's catalogs are complete: both languages have the same keys, every key a template
//! or handler asks for exists, and every standard object, field and picklist value has a
//! Chinese label.

#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use relata_domain::FieldErrorCode;
use relata_domain::filter::Op;
use relata_domain::standard::standard_objects;
use relata_web::i18n::{Lang, Tr, catalog_keys, flatten, has_meta_zh};

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "html" || e == "js")
        {
            out.push(std::fs::read_to_string(&path).expect("read source"));
        }
    }
}

/// Every literal key passed to `t(…)` or `tf(…)` in the templates and the code.
fn used_keys() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    sources(&root.join("templates"), &mut texts);
    sources(&root.join("src"), &mut texts);
    let call = regex::Regex::new(r#"\btf?\(\s*"([a-z_]+\.[a-z_.]+)""#).expect("regex");
    texts
        .iter()
        .flat_map(|t| {
            call.captures_iter(t)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Keys built at run time from a code: operators and field error codes.
fn dynamic_keys() -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = Op::ALL
        .iter()
        .map(|op| format!("op.{}", op.as_str()))
        .collect();
    let codes = [
        FieldErrorCode::Required,
        FieldErrorCode::WrongType,
        FieldErrorCode::UnknownField,
        FieldErrorCode::ReadOnly,
        FieldErrorCode::TooLong,
        FieldErrorCode::TooSmall,
        FieldErrorCode::TooLarge,
        FieldErrorCode::TooPrecise,
        FieldErrorCode::PatternMismatch,
        FieldErrorCode::InvalidEmail,
        FieldErrorCode::InvalidPhone,
        FieldErrorCode::InvalidCreditCode,
        FieldErrorCode::InvalidUrl,
        FieldErrorCode::InvalidDate,
        FieldErrorCode::InvalidDatetime,
        FieldErrorCode::InvalidCurrency,
        FieldErrorCode::UnknownPicklistValue,
        FieldErrorCode::InactivePicklistValue,
        FieldErrorCode::LookupNotFound,
        FieldErrorCode::Duplicate,
        FieldErrorCode::InvalidName,
        FieldErrorCode::ReservedName,
        FieldErrorCode::AlreadyExists,
        FieldErrorCode::InvalidOption,
        FieldErrorCode::InvalidOperator,
        FieldErrorCode::InvalidFilter,
        FieldErrorCode::WeakPassword,
        FieldErrorCode::RoleCycle,
    ];
    keys.extend(codes.iter().map(|c| format!("field_error.{}", c.as_str())));
    keys.extend(
        relata_domain::FieldType::ALL_USER_TYPES
            .iter()
            .map(|t| format!("type.{}", t.as_str())),
    );
    for model in [
        "private",
        "public_read",
        "public_read_write",
        "controlled_by_parent",
    ] {
        keys.insert(format!("sharing.{model}"));
    }
    for op in [
        "create",
        "read",
        "edit",
        "delete",
        "view_all",
        "modify_all",
        "import",
        "export",
    ] {
        keys.insert(format!("perm.{op}"));
    }
    for cap in [
        "manage_users",
        "manage_metadata",
        "manage_automation",
        "view_audit",
    ] {
        keys.insert(format!("capability.{cap}"));
    }
    for key in [
        "settings.indexed",
        "settings.objects",
        "settings.users",
        "settings.org",
        "settings.permissions",
        "settings.sharing",
        "settings.audit",
        "settings.department",
    ] {
        keys.insert(key.to_owned());
    }
    keys
}

#[test]
fn every_catalog_parses() {
    for source in [
        relata_web::i18n::EN_SOURCE,
        relata_web::i18n::ZH_SOURCE,
        relata_domain::labels_zh::SOURCE,
    ] {
        let flat = flatten(source).expect("catalog parses");
        assert!(flat.len() > 50, "a catalog is nearly empty");
        assert!(
            flat.values().all(|v| !v.trim().is_empty()),
            "an empty string in a catalog"
        );
    }
}

#[test]
fn both_languages_have_the_same_keys() {
    let en: BTreeSet<String> = catalog_keys(Lang::En).into_iter().collect();
    let zh: BTreeSet<String> = catalog_keys(Lang::Zh).into_iter().collect();
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in zh-CN.toml: {only_en:?}");
    assert!(only_zh.is_empty(), "missing in en.toml: {only_zh:?}");
}

#[test]
fn every_key_the_ui_asks_for_exists_in_both_languages() {
    let used = used_keys();
    assert!(
        used.len() > 100,
        "the key scan found too little: {}",
        used.len()
    );
    let en: BTreeSet<String> = catalog_keys(Lang::En).into_iter().collect();
    let zh: BTreeSet<String> = catalog_keys(Lang::Zh).into_iter().collect();
    for key in used.iter().chain(dynamic_keys().iter()) {
        assert!(en.contains(key), "en.toml has no '{key}'");
        assert!(zh.contains(key), "zh-CN.toml has no '{key}'");
    }
    // and placeholders agree between the languages
    let brace = regex::Regex::new(r"\{([a-z_]+)\}").expect("regex");
    for key in &en {
        let names = |lang| -> BTreeSet<String> {
            brace
                .captures_iter(Tr::new(lang).t(key))
                .map(|c| c[1].to_owned())
                .collect()
        };
        assert_eq!(
            names(Lang::En),
            names(Lang::Zh),
            "placeholders of '{key}' differ"
        );
    }
}

#[test]
fn every_standard_object_field_and_choice_has_a_chinese_label() {
    for object in standard_objects() {
        let o = object.name();
        for key in [format!("object.{o}.label"), format!("object.{o}.plural")] {
            assert!(has_meta_zh(&key), "meta.zh-CN.toml has no '{key}'");
        }
        for field in object.live_fields() {
            let f = field.name();
            assert!(
                has_meta_zh(&format!("field.{o}.{f}")) || has_meta_zh(&format!("field.{f}")),
                "meta.zh-CN.toml has no label for {o}.{f}"
            );
            for v in &field.values {
                let value = &v.value;
                assert!(
                    has_meta_zh(&format!("pick.{o}.{f}.{value}"))
                        || has_meta_zh(&format!("pick.{f}.{value}")),
                    "meta.zh-CN.toml has no label for {o}.{f} = {value}"
                );
            }
        }
    }
    // and the lookup prefers the object's own label
    let account = standard_objects()
        .into_iter()
        .find(|o| o.name() == "account")
        .expect("account");
    let name = account.field("name").expect("name");
    assert_eq!(Tr::new(Lang::Zh).field_label(&account, name), "客户名称");
    assert_eq!(
        Tr::new(Lang::En).field_label(&account, name),
        "Account name"
    );
}
