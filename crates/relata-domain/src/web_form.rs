//! Web-to-lead forms (issue 9): a form an administrator builds in settings, published at a
//! public URL and embeddable in any website, whose submissions become records (leads, usually).
//! This module is the form's definition and its checks; the public endpoint, spam defence and
//! what a submission sets off live in `relata_core::web_forms`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{FieldError, FieldErrorCode};
use crate::meta::{FieldType, ObjectDef};

/// The query parameters of the page a form is opened from that a submission keeps, each in
/// the field of the same name when the object has one (leads do).
pub const UTM_FIELDS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// The most seconds a form may ask a visitor to take before sending.
const MAX_MIN_FILL_SECONDS: u32 = 600;
/// The most submissions per client address per hour a form may allow.
const MAX_PER_ADDRESS_PER_HOUR: u32 = 10_000;
/// The longest thank-you message and heading.
const MAX_TEXT: usize = 2_000;

/// What a form asks and what a submission does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// The fields asked, in order.
    pub fields: Vec<FormField>,
    /// The heading of the hosted page (the form's name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where the visitor's browser goes after a submission (http or https); without one the
    /// hosted page thanks them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The thank-you message shown when there is no redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thank_you: Option<String>,
    /// The value given to the record's `source` picklist, when the object has one (default
    /// `web`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The assignment rule that gives each new record its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_rule_id: Option<Uuid>,
    /// The pool (公海) each new record goes into, unowned, for its members to claim — instead
    /// of an owner by an assignment rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<Uuid>,
    /// The email template sent to the address the visitor gave (the form needs an email field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_response_template_id: Option<Uuid>,
    /// A submission sent sooner than this after the page was served is a robot's.
    #[serde(default = "default_min_fill")]
    pub min_fill_seconds: u32,
    /// Submissions accepted per client address per hour; more are refused.
    #[serde(default = "default_per_hour")]
    pub max_per_address_per_hour: u32,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The object's field the answer is written to.
    pub field: String,
    /// The label shown instead of the field's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The visitor must answer (a field the object requires is always required).
    #[serde(default)]
    pub required: bool,
}

fn default_min_fill() -> u32 {
    3
}

fn default_per_hour() -> u32 {
    20
}

/// Whether a visitor can answer a field of this type in a plain HTML form. Lookups and user
/// lookups are not: a stranger cannot pick records, and must not see them listed.
pub fn answerable(field_type: FieldType) -> bool {
    !matches!(
        field_type,
        FieldType::Lookup | FieldType::UserLookup | FieldType::MultiPicklist
    )
}

impl FormDef {
    /// Parses a definition sent as JSON, naming the first problem.
    pub fn parse(json: &serde_json::Value) -> Result<FormDef, FieldError> {
        serde_json::from_value(json.clone()).map_err(|e| {
            FieldError::new(
                "definition",
                FieldErrorCode::InvalidOption,
                format!("not a form definition: {e}"),
            )
        })
    }

    /// Whether the form is one a visitor can fill in for `object`: every problem, each on the
    /// path of its part of the definition (`definition.fields[2].field`, …).
    pub fn check(&self, object: &ObjectDef) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |path: String, code: FieldErrorCode, message: String| {
            errors.push(FieldError::new(&path, code, message));
        };
        if self.fields.is_empty() {
            bad(
                "definition.fields".into(),
                FieldErrorCode::Required,
                "a form asks at least one field".into(),
            );
        }
        for (i, f) in self.fields.iter().enumerate() {
            let path = format!("definition.fields[{i}].field");
            match object.field(&f.field) {
                None => bad(
                    path,
                    FieldErrorCode::UnknownField,
                    format!("{} has no field {}", object.name(), f.field),
                ),
                Some(def) if def.system || def.archived => bad(
                    path,
                    FieldErrorCode::InvalidOption,
                    format!("{} is not a field a visitor can fill in", f.field),
                ),
                Some(def) if !answerable(def.field_type) => bad(
                    path,
                    FieldErrorCode::InvalidOption,
                    format!(
                        "{} is a {} field, which a public form cannot ask",
                        f.field,
                        def.field_type.as_str()
                    ),
                ),
                Some(_) => {}
            }
            if self.fields[..i].iter().any(|g| g.field == f.field) {
                bad(
                    format!("definition.fields[{i}].field"),
                    FieldErrorCode::InvalidOption,
                    format!("{} is asked twice", f.field),
                );
            }
            if f.label.as_ref().is_some_and(|l| l.chars().count() > 200) {
                bad(
                    format!("definition.fields[{i}].label"),
                    FieldErrorCode::TooLong,
                    "a label is at most 200 characters".into(),
                );
            }
        }
        // a field the object requires and the form does not ask would fail every submission
        for def in object.live_fields().filter(|d| d.required && !d.system) {
            if def.default.is_none() && !self.fields.iter().any(|f| f.field == def.name()) {
                bad(
                    "definition.fields".into(),
                    FieldErrorCode::Required,
                    format!(
                        "{} is required on {}: the form must ask it",
                        def.name(),
                        object.name()
                    ),
                );
            }
        }
        if self.redirect_url.as_deref().is_some_and(|url| {
            !(url.starts_with("https://") || url.starts_with("http://"))
                || url.len() > 2_000
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
        }) {
            bad(
                "definition.redirect_url".into(),
                FieldErrorCode::InvalidUrl,
                "the redirect is a whole http:// or https:// address".into(),
            );
        }
        for (name, text) in [("title", &self.title), ("thank_you", &self.thank_you)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
                bad(
                    format!("definition.{name}"),
                    FieldErrorCode::TooLong,
                    format!("at most {MAX_TEXT} characters"),
                );
            }
        }
        if let Some(source) = &self.source {
            match object.field("source") {
                Some(def) if def.field_type == FieldType::Picklist => {
                    if !def.values.iter().any(|v| v.value == *source && v.active) {
                        bad(
                            "definition.source".into(),
                            FieldErrorCode::UnknownPicklistValue,
                            format!(
                                "{source} is not an active value of {}'s source",
                                object.name()
                            ),
                        );
                    }
                }
                _ => bad(
                    "definition.source".into(),
                    FieldErrorCode::InvalidOption,
                    format!("{} has no source picklist to set", object.name()),
                ),
            }
        }
        if self.auto_response_template_id.is_some() && self.email_field(object).is_none() {
            bad(
                "definition.auto_response_template_id".into(),
                FieldErrorCode::InvalidOption,
                "an auto-response needs an email field on the form to answer to".into(),
            );
        }
        if self.min_fill_seconds > MAX_MIN_FILL_SECONDS {
            bad(
                "definition.min_fill_seconds".into(),
                FieldErrorCode::TooLarge,
                format!("at most {MAX_MIN_FILL_SECONDS} seconds"),
            );
        }
        if !(1..=MAX_PER_ADDRESS_PER_HOUR).contains(&self.max_per_address_per_hour) {
            bad(
                "definition.max_per_address_per_hour".into(),
                FieldErrorCode::TooLarge,
                format!("between 1 and {MAX_PER_ADDRESS_PER_HOUR}"),
            );
        }
        errors
    }

    /// The first email field the form asks: where an auto-response goes.
    pub fn email_field(&self, object: &ObjectDef) -> Option<String> {
        self.fields
            .iter()
            .find(|f| {
                object
                    .field(&f.field)
                    .is_some_and(|d| d.field_type == FieldType::Email)
            })
            .map(|f| f.field.clone())
    }

    /// Whether the visitor must answer `field` (the form says so, or the object does).
    pub fn requires(&self, object: &ObjectDef, field: &FormField) -> bool {
        field.required || object.field(&field.field).is_some_and(|d| d.required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::standard_objects;
    use serde_json::json;

    fn lead() -> ObjectDef {
        standard_objects()
            .into_iter()
            .find(|o| o.name() == "lead")
            .unwrap()
    }

    #[test]
    fn a_plain_lead_form_passes_and_its_defaults_hold() {
        let def = FormDef::parse(&json!({
            "fields": [{"field": "name", "required": true}, {"field": "email"}, {"field": "company"}],
            "source": "web",
            "redirect_url": "https://example.com/thanks"
        }))
        .unwrap();
        assert_eq!(
            (def.min_fill_seconds, def.max_per_address_per_hour),
            (3, 20)
        );
        assert_eq!(def.check(&lead()), vec![]);
        assert_eq!(def.email_field(&lead()).as_deref(), Some("email"));
    }

    #[test]
    fn every_problem_is_named_on_its_path() {
        let def = FormDef::parse(&json!({
            "fields": [{"field": "email"}, {"field": "nope"}, {"field": "owner_id"}, {"field": "email"}],
            "redirect_url": "javascript:alert(1)",
            "source": "carrier_pigeon",
            "min_fill_seconds": 9999,
            "max_per_address_per_hour": 0
        }))
        .unwrap();
        let paths: Vec<String> = def.check(&lead()).into_iter().map(|e| e.field).collect();
        assert_eq!(
            paths,
            vec![
                "definition.fields[1].field",
                "definition.fields[2].field",
                "definition.fields[3].field",
                "definition.fields",
                "definition.redirect_url",
                "definition.source",
                "definition.min_fill_seconds",
                "definition.max_per_address_per_hour",
            ]
        );
    }

    #[test]
    fn an_unknown_setting_or_an_auto_response_without_an_email_is_refused() {
        assert!(FormDef::parse(&json!({"fields": [], "captcha": true})).is_err());
        let def = FormDef::parse(&json!({
            "fields": [{"field": "name"}],
            "auto_response_template_id": "00000000-0000-0000-0000-000000000001"
        }))
        .unwrap();
        let errors = def.check(&lead());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "definition.auto_response_template_id");
    }
}
