//! Leads (线索): the status flow a lead moves through, and where its values go when it is
//! converted into an account, a contact and, optionally, an opportunity.
//!
//! A lead starts `new`. A rep who reached the person marks it `contacted`, then `qualified`
//! (worth pursuing) or `unqualified`, with the reason (what marketing reads to judge a
//! source). It never goes back to `new`: "new" means nobody has worked it yet, which pool
//! rules and reports rely on. `converted` is reached only by converting it, which also sets
//! `converted_at` and the links to what it became — fields no client can write — and a
//! converted lead is then frozen apart from its owner: the account, contact and opportunity
//! carry the story on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrorCode as Code};
use crate::meta::{FieldType, ObjectDef};
use crate::{Record, Value};

/// The lead object's name.
pub const OBJECT: &str = "lead";

pub const STATUS: &str = "status";
pub const NEW: &str = "new";
pub const CONTACTED: &str = "contacted";
pub const QUALIFIED: &str = "qualified";
pub const UNQUALIFIED: &str = "unqualified";
pub const CONVERTED: &str = "converted";

/// The values of a lead's status, in the order a lead moves through them.
pub const STATUSES: &[(&str, &str)] = &[
    (NEW, "New"),
    (CONTACTED, "Contacted"),
    (QUALIFIED, "Qualified"),
    (UNQUALIFIED, "Unqualified"),
    (CONVERTED, "Converted"),
];

pub const UNQUALIFIED_REASON: &str = "unqualified_reason";

/// Why a lead was not worth pursuing.
pub const UNQUALIFIED_REASONS: &[(&str, &str)] = &[
    ("no_budget", "No budget"),
    ("no_need", "No need"),
    ("no_authority", "Not a decision maker"),
    ("bad_timing", "Bad timing"),
    ("chose_competitor", "Chose a competitor"),
    ("unreachable", "Unreachable"),
    ("invalid", "Invalid or spam"),
    ("duplicate", "Duplicate"),
    ("other", "Other"),
];

/// When the lead was converted, and what it became (set by the conversion only).
pub const CONVERTED_AT: &str = "converted_at";
pub const CONVERTED_ACCOUNT: &str = "converted_account_id";
pub const CONVERTED_CONTACT: &str = "converted_contact_id";
pub const CONVERTED_OPPORTUNITY: &str = "converted_opportunity_id";

/// What a converted lead still lets change: whose it is (a transfer of a departed rep's
/// records includes their converted leads).
const CHANGEABLE_AFTER_CONVERSION: &[&str] = &["owner_id"];

/// The problems of writing `changes` to a lead that was `before` (`None`: a new lead), each
/// on the field it is about. Part of the one write path, so an edit, a bulk upsert, an
/// import and a workflow action are held to the same flow.
pub fn check_write(before: Option<&Record>, changes: &BTreeMap<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(before) = before
        && !before.get(CONVERTED_AT).is_null()
    {
        for (name, value) in changes {
            if !CHANGEABLE_AFTER_CONVERSION.contains(&name.as_str()) && before.get(name) != value {
                errors.push(FieldError::new(
                    name,
                    Code::ReadOnly,
                    "cannot change: the lead was converted; edit the account, contact or opportunity it became",
                ));
            }
        }
        return errors;
    }
    let status = Record::text_after(before, changes, STATUS);
    let status_changes = changes.contains_key(STATUS);
    if status == Some(CONVERTED) && status_changes {
        let converting = matches!(changes.get(CONVERTED_AT), Some(Value::Datetime(_)));
        if !converting {
            errors.push(FieldError::new(
                STATUS,
                Code::InvalidTransition,
                "a lead becomes converted by converting it (POST /api/v1/leads/{id}/convert), not by setting its status",
            ));
        }
    }
    let was = before.and_then(|b| match b.get(STATUS) {
        Value::Text(s) => Some(s.as_str()),
        _ => None,
    });
    if status_changes && status == Some(NEW) && was.is_some_and(|w| w != NEW) {
        errors.push(FieldError::new(
            STATUS,
            Code::InvalidTransition,
            format!(
                "cannot go back from {} to new: a lead that has been worked stays worked",
                was.unwrap_or_default()
            ),
        ));
    }
    let reason_cleared = matches!(changes.get(UNQUALIFIED_REASON), Some(Value::Null));
    if status == Some(UNQUALIFIED)
        && (status_changes || reason_cleared)
        && Record::text_after(before, changes, UNQUALIFIED_REASON).is_none()
    {
        errors.push(FieldError::new(
            UNQUALIFIED_REASON,
            Code::Required,
            "is required when the status is unqualified",
        ));
    }
    errors
}

/// The objects a lead converts into.
pub const TARGETS: [&str; 3] = ["account", "contact", "opportunity"];

/// One line of the conversion map: the lead's `lead_field` is copied to `field` of the new
/// `object` (`account`, `contact` or `opportunity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionField {
    pub lead_field: String,
    pub object: String,
    pub field: String,
}

fn line(lead_field: &str, object: &str, field: &str) -> ConversionField {
    ConversionField {
        lead_field: lead_field.to_owned(),
        object: object.to_owned(),
        field: field.to_owned(),
    }
}

/// Where the standard lead fields go. The company becomes the account; the person becomes
/// the contact; where the lead came from follows all three.
pub fn standard_conversion_map() -> Vec<ConversionField> {
    vec![
        line("company", "account", "name"),
        line("industry", "account", "industry"),
        line("city", "account", "city"),
        line("source", "account", "source"),
        line("name", "contact", "name"),
        line("title", "contact", "title"),
        line("email", "contact", "email"),
        line("phone", "contact", "phone"),
        line("mobile", "contact", "mobile"),
        line("email_opt_out", "contact", "email_opt_out"),
        line("city", "contact", "city"),
        line("source", "contact", "source"),
        line("description", "contact", "description"),
        line("source", "opportunity", "source"),
    ]
}

/// The map the lead object uses: the one an admin saved, else the standard one.
pub fn conversion_map(lead: &ObjectDef) -> Vec<ConversionField> {
    lead.conversion_map
        .clone()
        .unwrap_or_else(standard_conversion_map)
}

/// Most lines a conversion map holds.
pub const MAX_CONVERSION_FIELDS: usize = 200;

fn text_like(t: FieldType) -> bool {
    matches!(
        t,
        FieldType::Text
            | FieldType::LongText
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
    )
}

/// Whether a value of type `from` can be written to a field of type `to` as it is.
fn compatible(from: FieldType, to: FieldType) -> bool {
    from == to || (text_like(from) && matches!(to, FieldType::Text | FieldType::LongText))
}

/// The problems of a conversion map an admin wrote, each named by its place (`fields.2.field`).
/// `target` finds the account, contact and opportunity objects.
pub fn conversion_map_problems<'a>(
    map: &[ConversionField],
    lead: &ObjectDef,
    target: impl Fn(&str) -> Option<&'a ObjectDef>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if map.len() > MAX_CONVERSION_FIELDS {
        errors.push(FieldError::new(
            "fields",
            Code::TooLarge,
            format!("at most {MAX_CONVERSION_FIELDS} lines"),
        ));
        return errors;
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, l) in map.iter().enumerate() {
        let at = |part: &str| format!("fields.{i}.{part}");
        let from = match lead.field(&l.lead_field) {
            Some(f) if !f.archived && (!f.system || f.name() == "owner_id") => Some(f),
            _ => {
                errors.push(FieldError::new(
                    at("lead_field"),
                    Code::UnknownField,
                    format!("the lead has no field '{}' to copy", l.lead_field),
                ));
                None
            }
        };
        if !TARGETS.contains(&l.object.as_str()) {
            errors.push(FieldError::new(
                at("object"),
                Code::InvalidOption,
                "must be account, contact or opportunity",
            ));
            continue;
        }
        let Some(object) = target(&l.object) else {
            continue;
        };
        let to = match object.field(&l.field) {
            Some(f) if !f.archived && (!f.system || f.name() == "owner_id") => f,
            _ => {
                errors.push(FieldError::new(
                    at("field"),
                    Code::UnknownField,
                    format!("'{}' has no writable field '{}'", l.object, l.field),
                ));
                continue;
            }
        };
        if !seen.insert((l.object.clone(), l.field.clone())) {
            errors.push(FieldError::new(
                at("field"),
                Code::Duplicate,
                format!("{}.{} is filled by an earlier line", l.object, l.field),
            ));
        }
        if let Some(from) = from {
            if !compatible(from.field_type, to.field_type) {
                errors.push(FieldError::new(
                    at("field"),
                    Code::WrongType,
                    format!(
                        "a {} cannot be copied to a {} field",
                        from.field_type.as_str(),
                        to.field_type.as_str()
                    ),
                ));
            } else if from.field_type == FieldType::Lookup && from.target != to.target {
                errors.push(FieldError::new(
                    at("field"),
                    Code::WrongType,
                    "the two lookups point at different objects",
                ));
            } else if matches!(
                from.field_type,
                FieldType::Picklist | FieldType::MultiPicklist
            ) && let Some(missing) = from
                .values
                .iter()
                .find(|v| !to.values.iter().any(|t| t.value == v.value))
            {
                errors.push(FieldError::new(
                    at("field"),
                    Code::UnknownPicklistValue,
                    format!("{}.{} has no value '{}'", l.object, l.field, missing.value),
                ));
            }
        }
    }
    errors
}

/// The input of a new `object` record from a lead: the values of the lead's fields the map
/// sends there, as JSON a create accepts. Empty values are left out, so the target's
/// defaults apply.
pub fn mapped_input(
    map: &[ConversionField],
    lead: &Record,
    object: &str,
) -> serde_json::Map<String, serde_json::Value> {
    map.iter()
        .filter(|l| l.object == object)
        .filter(|l| !lead.get(&l.lead_field).is_null())
        .map(|l| (l.field.clone(), lead.get(&l.lead_field).to_json()))
        .collect()
}

#[cfg(test)]
mod tests;
