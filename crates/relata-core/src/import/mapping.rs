//! Which column of an import file goes into which field. Headings are matched, in this
//! order, against each writable field's API name, English label and Chinese label, the
//! headings our own export writes ("金额 (币种)", `account_id_name`), and the words people
//! commonly use for standard fields in Chinese and English spreadsheets (手机号, E-mail…).
//! Matching ignores case, spaces, underscores, full-width forms and a trailing `*` (the
//! "required" mark of many templates). The caller may override any column.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, labels_zh};

use crate::error::CoreError;

/// What one column fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Target {
    /// The field's value (for a lookup: an id, or the name of the record).
    Value { field: String },
    /// The currency code of a money field.
    Currency { field: String },
    /// The name of the record a lookup points at.
    Name { field: String },
}

impl Target {
    pub fn field(&self) -> &str {
        match self {
            Target::Value { field } | Target::Currency { field } | Target::Name { field } => field,
        }
    }

    /// As a caller writes it: `email`, `amount_currency`, `account_id_name`.
    pub fn spec(&self) -> String {
        match self {
            Target::Value { field } => field.clone(),
            Target::Currency { field } => format!("{field}_currency"),
            Target::Name { field } => format!("{field}_name"),
        }
    }
}

/// The target of each column, by position; `None` leaves a column out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub columns: Vec<Option<Target>>,
}

/// Words for the name of an account (a company) and of a person.
const COMPANY_NAMES: &[&str] = &[
    "客户名称",
    "公司名称",
    "企业名称",
    "公司",
    "单位",
    "account name",
    "company name",
    "company",
    "organization",
];
const PERSON_NAMES: &[&str] = &["full name", "contact name", "联系人", "联系人姓名", "名字"];

/// Words for standard fields beyond their labels, by field API name. The first field the
/// object has wins, so "公司" is a lead's company and a contact's account.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "email",
        &[
            "e-mail",
            "mail",
            "email address",
            "电子邮件",
            "电子邮箱",
            "邮件",
            "邮箱地址",
        ],
    ),
    (
        "mobile",
        &[
            "mobile phone",
            "cell",
            "cellphone",
            "cell phone",
            "手机号",
            "手机号码",
            "移动电话",
        ],
    ),
    (
        "phone",
        &[
            "telephone",
            "tel",
            "work phone",
            "office phone",
            "电话号码",
            "座机",
            "固定电话",
            "办公电话",
            "联系电话",
        ],
    ),
    ("title", &["job title", "position", "职位", "职称", "岗位"]),
    (
        "company",
        &[
            "company name",
            "organization",
            "公司名称",
            "单位",
            "公司",
            "企业名称",
        ],
    ),
    (
        "account_id",
        &[
            "company",
            "account name",
            "organization",
            "公司",
            "公司名称",
            "客户名称",
            "所属客户",
            "单位",
        ],
    ),
    (
        "owner_id",
        &["owner", "所有人", "负责人", "销售", "客户经理"],
    ),
    (
        "description",
        &["notes", "remark", "remarks", "备注", "说明"],
    ),
    ("website", &["web site", "url", "网址", "官网", "公司网站"]),
    ("address", &["street", "详细地址", "通讯地址"]),
    ("city", &["所在城市", "城市名称"]),
    ("region", &["province", "state", "省份", "省", "所在地区"]),
    ("birthday", &["date of birth", "birth date", "出生日期"]),
    ("department", &["dept", "部门名称"]),
    ("industry", &["所属行业"]),
    (
        "employees",
        &[
            "员工数",
            "人数",
            "员工规模",
            "employee count",
            "staff",
            "headcount",
        ],
    ),
    (
        "annual_revenue",
        &[
            "年收入",
            "营业额",
            "年销售额",
            "营业收入",
            "revenue",
            "annual income",
            "turnover",
        ],
    ),
    ("source", &["lead source", "线索来源", "客户来源"]),
];

/// A heading as compared: lower case, half width, without spaces, underscores, hyphens,
/// dots or a "required" star.
pub fn normalise(heading: &str) -> String {
    heading
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '*' | '\t'))
        .collect()
}

/// Fields an import may write: not system-set and not formula-like, plus the owner.
pub fn writable(object: &ObjectDef) -> impl Iterator<Item = &FieldDef> {
    object
        .live_fields()
        .filter(|f| !f.system || f.name() == "owner_id" || f.name() == "id")
}

/// Every heading that names a target of `object`, normalised, first claim wins.
fn dictionary(object: &ObjectDef) -> HashMap<String, Target> {
    let mut dict: HashMap<String, Target> = HashMap::new();
    let mut claim = |heading: &str, target: Target| {
        let key = normalise(heading);
        if !key.is_empty() {
            dict.entry(key).or_insert(target);
        }
    };
    // exact names first, then labels, then the export's compound headings, then synonyms
    for f in writable(object) {
        claim(
            f.name(),
            Target::Value {
                field: f.name().into(),
            },
        );
        if f.field_type == FieldType::Currency {
            claim(
                &format!("{}_currency", f.name()),
                Target::Currency {
                    field: f.name().into(),
                },
            );
        }
        if matches!(f.field_type, FieldType::Lookup | FieldType::UserLookup) {
            claim(
                &format!("{}_name", f.name()),
                Target::Name {
                    field: f.name().into(),
                },
            );
        }
    }
    for f in writable(object) {
        let zh = labels_zh::field_label(object, f);
        for label in std::iter::once(f.label.as_str()).chain(zh) {
            claim(
                label,
                Target::Value {
                    field: f.name().into(),
                },
            );
            if f.field_type == FieldType::Currency {
                for word in ["currency", "币种"] {
                    claim(
                        &format!("{label} ({word})"),
                        Target::Currency {
                            field: f.name().into(),
                        },
                    );
                }
            }
            if matches!(f.field_type, FieldType::Lookup | FieldType::UserLookup) {
                for word in ["name", "名称"] {
                    claim(
                        &format!("{label} ({word})"),
                        Target::Name {
                            field: f.name().into(),
                        },
                    );
                }
            }
        }
    }
    let names = if object.name() == "account" {
        COMPANY_NAMES
    } else {
        PERSON_NAMES
    };
    for (field, words) in std::iter::once(&("name", names)).chain(SYNONYMS) {
        if object
            .field(field)
            .is_some_and(|f| writable(object).any(|w| w.name() == f.name()))
        {
            for w in *words {
                claim(
                    w,
                    Target::Value {
                        field: (*field).into(),
                    },
                );
            }
        }
    }
    dict
}

/// The mapping guessed from the headings: each column to the first target whose heading it
/// matches, no target twice (a later column with the same heading is left out).
pub fn auto_map(object: &ObjectDef, headers: &[String]) -> Mapping {
    let dict = dictionary(object);
    let mut taken = HashSet::new();
    let columns = headers
        .iter()
        .map(|h| {
            let target = dict.get(&normalise(h))?.clone();
            taken.insert(target.spec()).then_some(target)
        })
        .collect();
    Mapping { columns }
}

/// Parses a caller's target (`email`, `amount_currency`, `account_id_name`, or empty to
/// leave the column out) for `object`.
pub fn parse_target(object: &ObjectDef, spec: &str) -> Result<Option<Target>, FieldError> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "-" {
        return Ok(None);
    }
    let find = |name: &str| writable(object).find(|f| f.name() == name);
    if let Some(f) = find(spec) {
        return Ok(Some(Target::Value {
            field: f.name().into(),
        }));
    }
    if let Some(f) = spec.strip_suffix("_currency").and_then(find)
        && f.field_type == FieldType::Currency
    {
        return Ok(Some(Target::Currency {
            field: f.name().into(),
        }));
    }
    if let Some(f) = spec.strip_suffix("_name").and_then(find)
        && matches!(f.field_type, FieldType::Lookup | FieldType::UserLookup)
    {
        return Ok(Some(Target::Name {
            field: f.name().into(),
        }));
    }
    Err(FieldError::new(
        "mapping",
        FieldErrorCode::UnknownField,
        format!(
            "'{}' has no field '{spec}' an import may fill",
            object.name()
        ),
    ))
}

/// `auto` with the caller's choices laid over it: `overrides` maps a heading (as in the
/// file) or a column number (1-based) to a target spec. Refuses a heading the file does not
/// have, and two columns into one target.
pub fn with_overrides(
    object: &ObjectDef,
    headers: &[String],
    auto: Mapping,
    overrides: &[(String, String)],
) -> Result<Mapping, CoreError> {
    let mut columns = auto.columns;
    let mut chosen: HashMap<String, usize> = HashMap::new();
    for (column, spec) in overrides {
        let index = headers
            .iter()
            .position(|h| h == column.trim())
            .or_else(|| {
                column
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
            })
            .filter(|i| *i < headers.len())
            .ok_or_else(|| {
                FieldError::new(
                    "mapping",
                    FieldErrorCode::UnknownField,
                    format!("the file has no column '{column}'"),
                )
            })?;
        let target = parse_target(object, spec)?;
        if let Some(t) = &target
            && let Some(other) = chosen.insert(t.spec(), index).filter(|o| *o != index)
        {
            return Err(FieldError::new(
                "mapping",
                FieldErrorCode::InvalidOption,
                format!(
                    "columns '{}' and '{}' are both mapped to '{}'",
                    headers[other],
                    headers[index],
                    t.spec()
                ),
            )
            .into());
        }
        // a target chosen explicitly moves off whichever column had it by guess
        if let Some(t) = &target {
            for c in columns.iter_mut() {
                if c.as_ref() == Some(t) {
                    *c = None;
                }
            }
        }
        columns[index] = target;
    }
    let mut seen = HashSet::new();
    for t in columns.iter().flatten() {
        if !seen.insert(t.spec()) {
            return Err(FieldError::new(
                "mapping",
                FieldErrorCode::InvalidOption,
                format!("two columns are mapped to '{}'", t.spec()),
            )
            .into());
        }
    }
    Ok(Mapping { columns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use relata_domain::standard::standard_objects;

    fn object(name: &str) -> ObjectDef {
        standard_objects()
            .into_iter()
            .find(|o| o.name() == name)
            .expect("standard object")
    }

    fn mapped(object: &ObjectDef, headers: &[&str]) -> Vec<Option<String>> {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        auto_map(object, &headers)
            .columns
            .into_iter()
            .map(|t| t.map(|t| t.spec()))
            .collect()
    }

    #[test]
    fn chinese_and_english_headings_find_their_fields() {
        let contact = object("contact");
        assert_eq!(
            mapped(
                &contact,
                &[
                    "姓名",
                    "手机号",
                    "E-mail",
                    "公司",
                    "职位 *",
                    "Ｃｉｔｙ",
                    "?"
                ]
            ),
            vec![
                Some("name".into()),
                Some("mobile".into()),
                Some("email".into()),
                Some("account_id".into()),
                Some("title".into()),
                Some("city".into()),
                None
            ]
        );
        let lead = object("lead");
        assert_eq!(mapped(&lead, &["公司"]), vec![Some("company".into())]);
    }

    #[test]
    fn our_own_export_headings_map_back() {
        let contact = object("contact");
        assert_eq!(
            mapped(&contact, &["account_id", "account_id_name", "客户 (名称)"]),
            vec![
                Some("account_id".into()),
                Some("account_id_name".into()),
                None
            ]
        );
    }

    #[test]
    fn a_repeated_heading_fills_its_field_once() {
        let contact = object("contact");
        assert_eq!(
            mapped(&contact, &["Email", "邮箱"]),
            vec![Some("email".into()), None]
        );
    }

    #[test]
    fn overrides_move_a_target_and_refuse_unknown_columns() {
        let contact = object("contact");
        let headers: Vec<String> = ["Email", "Other mail"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let auto = auto_map(&contact, &headers);
        let m = with_overrides(
            &contact,
            &headers,
            auto.clone(),
            &[("Other mail".into(), "email".into())],
        )
        .expect("valid");
        assert_eq!(m.columns[0], None);
        assert_eq!(
            m.columns[1],
            Some(Target::Value {
                field: "email".into()
            })
        );
        assert!(
            with_overrides(
                &contact,
                &headers,
                auto.clone(),
                &[("Nope".into(), "email".into())]
            )
            .is_err()
        );
        // two columns chosen for one field is a mistake to tell, not to settle quietly
        let both = [
            ("Email".to_owned(), "email".to_owned()),
            ("Other mail".to_owned(), "email".to_owned()),
        ];
        assert!(with_overrides(&contact, &headers, auto.clone(), &both).is_err());
        assert!(
            with_overrides(&contact, &headers, auto, &[("2".into(), "no_such".into())]).is_err()
        );
    }
}
