//! Form controls generated from metadata, and the way back: a posted form as the JSON the
//! record service takes. A failed submit shows the form again from what was posted, so
//! nothing the user typed is lost, with each error next to its field.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_core::fields;
use relata_core::records::ListRequest;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode as Code, Record, Value};

use super::cells::Names;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// Suffixes of the extra form names a field may use (API names cannot contain ':').
pub const CURRENCY: &str = ":currency";
pub const LABEL: &str = ":label";
pub const PRESENT: &str = ":present";

/// Currencies offered first in a currency control; any ISO code may be typed through the API.
const CURRENCIES: &[&str] = &["CNY", "USD", "EUR", "HKD", "JPY", "GBP"];

/// One control of a record form.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub name: String,
    pub label: String,
    /// `text`, `email`, `tel`, `url`, `textarea`, `integer`, `decimal`, `percent`, `money`,
    /// `date`, `datetime`, `checkbox`, `select`, `multi`, `lookup`, `user`.
    pub kind: &'static str,
    pub value: String,
    pub chosen: Vec<String>,
    pub currency: String,
    pub currencies: Vec<String>,
    pub options: Vec<(String, String)>,
    pub required: bool,
    pub max_length: String,
    /// For lookups: the target object, and the name shown for the chosen record.
    pub target: String,
    pub shown: String,
    pub error: Option<String>,
    /// "Choose…" and "currency" in the user's language.
    pub choose: String,
    pub currency_word: String,
}

impl Input {
    pub fn placeholder(&self) -> &str {
        &self.choose
    }

    pub fn currency_label(&self) -> &str {
        &self.currency_word
    }

    /// The `type` of a plain `<input>`. Numbers are text with an input mode: a browser's
    /// number control drops what it cannot parse ("1,000") before the server sees it.
    pub fn html_type(&self) -> &'static str {
        match self.kind {
            "email" => "email",
            "tel" => "tel",
            "url" => "url",
            "date" => "date",
            "datetime" => "datetime-local",
            _ => "text",
        }
    }

    pub fn is_chosen(&self, value: &str) -> bool {
        self.chosen.iter().any(|c| c == value)
    }

    pub fn id(&self) -> String {
        format!("f-{}", self.name)
    }

    pub fn error_id(&self) -> String {
        format!("e-{}", self.name)
    }
}

fn kind(field: &FieldDef) -> &'static str {
    match field.field_type {
        FieldType::Text => "text",
        FieldType::LongText => "textarea",
        FieldType::Email => "email",
        FieldType::Phone => "tel",
        FieldType::Url => "url",
        FieldType::Integer => "integer",
        FieldType::Decimal => "decimal",
        FieldType::Percent => "percent",
        FieldType::Currency => "money",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Boolean => "checkbox",
        FieldType::Picklist => "select",
        FieldType::MultiPicklist => "multi",
        FieldType::Lookup => "lookup",
        FieldType::UserLookup | FieldType::Id => "user",
    }
}

/// The fields the viewer may set on a form of `object`, in the object's order.
pub fn form_fields<'a>(viewer: &Viewer, object: &'a ObjectDef) -> Vec<&'a FieldDef> {
    object
        .writable_fields()
        .filter(|f| fields::editable(&viewer.actor, object, f.name()))
        .collect()
}

fn blank(viewer: &Viewer, object: &ObjectDef, field: &FieldDef, default_currency: &str) -> Input {
    let tr = viewer.tr();
    let mut options: Vec<(String, String)> = field
        .values
        .iter()
        .filter(|v| v.active)
        .map(|v| (v.value.clone(), tr.pick_label(object, field, &v.value)))
        .collect();
    if field.field_type == FieldType::Picklist && !field.required {
        options.insert(0, (String::new(), tr.t("form.none").to_owned()));
    }
    Input {
        name: field.name().to_owned(),
        label: tr.field_label(object, field),
        kind: kind(field),
        currency: default_currency.to_owned(),
        currencies: CURRENCIES.iter().map(|c| (*c).to_owned()).collect(),
        options,
        required: field.required,
        max_length: field
            .max_length
            .or_else(|| field.field_type.default_max_length())
            .map(|n| n.to_string())
            .unwrap_or_default(),
        target: field
            .target
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        choose: tr.t("form.choose").to_owned(),
        currency_word: tr.t("form.currency").to_owned(),
        ..Input::default()
    }
}

/// An inactive picklist value a record still holds stays selectable, so saving the form
/// does not silently change it.
fn keep_option(input: &mut Input, object: &ObjectDef, field: &FieldDef, tr: Tr, value: &str) {
    if !value.is_empty() && !input.options.iter().any(|(v, _)| v == value) {
        input
            .options
            .push((value.to_owned(), tr.pick_label(object, field, value)));
    }
}

/// Controls filled from a record (editing) or from defaults (a new record).
pub fn from_record(
    viewer: &Viewer,
    object: &ObjectDef,
    record: Option<&Record>,
    names: &Names,
    default_currency: &str,
) -> Vec<Input> {
    let tr = viewer.tr();
    form_fields(viewer, object)
        .into_iter()
        .map(|field| {
            let mut input = blank(viewer, object, field, default_currency);
            let value = match record {
                Some(r) => r.get(field.name()).clone(),
                None => default_value(viewer, field),
            };
            match &value {
                Value::Null => {}
                Value::Text(s) => {
                    input.value = s.clone();
                    keep_option(&mut input, object, field, tr, s);
                }
                Value::Int(n) => input.value = n.to_string(),
                Value::Decimal(d) => input.value = d.normalize().to_string(),
                Value::Money { amount, currency } => {
                    input.value = amount.to_string();
                    input.currency = currency.clone();
                }
                Value::Bool(b) => input.value = b.to_string(),
                Value::Date(d) => input.value = d.format("%Y-%m-%d").to_string(),
                Value::Datetime(t) => input.value = viewer.fmt.datetime_input(t),
                Value::Multi(items) => {
                    for item in items {
                        keep_option(&mut input, object, field, tr, item);
                    }
                    input.chosen = items.clone();
                }
                Value::Ref(id) => {
                    input.value = id.to_string();
                    input.shown = match names.of(field, *id) {
                        Some(name) => name,
                        // a new record's owner is the viewer
                        None if *id == viewer.actor.user_id.0 => viewer.profile.name.clone(),
                        None => String::new(),
                    };
                }
            }
            if !input.currencies.contains(&input.currency) {
                input.currencies.push(input.currency.clone());
            }
            input
        })
        .collect()
}

fn default_value(viewer: &Viewer, field: &FieldDef) -> Value {
    if field.name() == "owner_id" {
        return Value::Ref(viewer.actor.user_id.0);
    }
    match (&field.default, field.field_type) {
        (Some(Json::String(s)), FieldType::MultiPicklist) => Value::Multi(vec![s.clone()]),
        (Some(Json::String(s)), _) => Value::Text(s.clone()),
        (Some(Json::Bool(b)), _) => Value::Bool(*b),
        (Some(Json::Number(n)), FieldType::Integer) => n.as_i64().map_or(Value::Null, Value::Int),
        (Some(Json::Number(n)), _) => n.to_string().parse().map_or(Value::Null, Value::Decimal),
        _ => Value::Null,
    }
}

/// Controls filled from what was posted, with the errors of the failed submit.
pub fn from_form(
    viewer: &Viewer,
    object: &ObjectDef,
    form: &FormData,
    errors: &[FieldError],
    default_currency: &str,
) -> Vec<Input> {
    let tr = viewer.tr();
    form_fields(viewer, object)
        .into_iter()
        .map(|field| {
            let name = field.name();
            let mut input = blank(viewer, object, field, default_currency);
            input.value = match field.field_type {
                FieldType::Boolean => form.last(name).unwrap_or("false").to_owned(),
                _ => form.first(name).unwrap_or_default().to_owned(),
            };
            if let Some(c) = form.first(&format!("{name}{CURRENCY}")) {
                input.currency = c.to_owned();
                if !input.currencies.iter().any(|x| x == c) {
                    input.currencies.push(c.to_owned());
                }
            }
            input.shown = form
                .first(&format!("{name}{LABEL}"))
                .unwrap_or_default()
                .to_owned();
            input.chosen = form.all(name).into_iter().map(str::to_owned).collect();
            let held = input.value.clone();
            keep_option(&mut input, object, field, tr, &held);
            input.error = errors
                .iter()
                .find(|e| e.field == name || e.field.starts_with(&format!("{name}.")))
                .map(|e| field_error_text(tr, e));
            input
        })
        .collect()
}

/// Errors that name no field of the form (a rule on the whole record, a hidden field).
pub fn unplaced_errors(inputs: &[Input], errors: &[FieldError], tr: Tr) -> Vec<String> {
    errors
        .iter()
        .filter(|e| {
            !inputs
                .iter()
                .any(|i| e.field == i.name || e.field.starts_with(&format!("{}.", i.name)))
        })
        .map(|e| format!("{}: {}", e.field, field_error_text(tr, e)))
        .collect()
}

/// A field error in the user's language. The service's English message carries the
/// specifics (the limit, the pattern); in Chinese the code's sentence is shown, followed by
/// them where they matter.
pub fn field_error_text(tr: Tr, e: &FieldError) -> String {
    if !tr.is_zh() {
        return e.message.clone();
    }
    let key = format!("field_error.{}", e.code.as_str());
    let text = tr.t(&key);
    if text == key {
        e.message.clone()
    } else {
        text.to_owned()
    }
}

/// Removes grouping commas and spaces a person may type in a number.
fn plain_number(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ',' | ' ' | '，' | '_'))
        .collect()
}

/// The posted form as the record service's JSON input, and the errors found on the way
/// (names of lookups that match no record, or several). Only fields of the form the viewer
/// may edit are read; a field absent from the form is left unchanged.
pub async fn to_json(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    form: &FormData,
) -> (Json, Vec<FieldError>) {
    let mut out = Map::new();
    let mut errors = Vec::new();
    for field in form_fields(viewer, object) {
        let name = field.name();
        let raw = form.first(name).map(str::trim);
        let value = match field.field_type {
            FieldType::Boolean => match form.last(name) {
                Some(v) => json!(v == "true" || v == "on"),
                None => continue,
            },
            FieldType::MultiPicklist => {
                if !form.has(name) && !form.has(&format!("{name}{PRESENT}")) {
                    continue;
                }
                Json::Array(
                    form.all(name)
                        .into_iter()
                        .filter(|v| !v.is_empty())
                        .map(|v| json!(v))
                        .collect(),
                )
            }
            FieldType::Lookup | FieldType::UserLookup => {
                let shown = form.first(&format!("{name}{LABEL}")).map(str::trim);
                if raw.is_none() && shown.is_none() {
                    continue;
                }
                match resolve_reference(state, viewer, field, raw, shown).await {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
            }
            _ => {
                let Some(raw) = raw else { continue };
                if raw.is_empty() {
                    Json::Null
                } else {
                    match field.field_type {
                        FieldType::Integer => {
                            let plain = plain_number(raw);
                            plain
                                .parse::<i64>()
                                .map_or_else(|_| json!(raw), |n| json!(n))
                        }
                        FieldType::Decimal | FieldType::Percent => {
                            json!(plain_number(raw).trim_end_matches('%'))
                        }
                        FieldType::Currency => {
                            let currency = form
                                .first(&format!("{name}{CURRENCY}"))
                                .map(str::trim)
                                .filter(|c| !c.is_empty());
                            json!({"amount": plain_number(raw), "currency": currency})
                        }
                        FieldType::Datetime => match viewer.fmt.parse_datetime_input(raw) {
                            Some(utc) => json!(utc),
                            None => json!(raw),
                        },
                        _ => json!(raw),
                    }
                }
            }
        };
        out.insert(name.to_owned(), value);
    }
    (Json::Object(out), errors)
}

/// A lookup from its form controls: the id the type-ahead chose, or else the name typed
/// (the way it works without JavaScript), which must name exactly one visible record.
async fn resolve_reference(
    state: &WebState,
    viewer: &Viewer,
    field: &FieldDef,
    id: Option<&str>,
    shown: Option<&str>,
) -> Result<Json, FieldError> {
    let tr = viewer.tr();
    let id = id.filter(|s| !s.is_empty());
    let shown = shown.filter(|s| !s.is_empty());
    // the id was chosen for the name now shown, unless the name was edited since
    if let Some(id) = id.and_then(|s| Uuid::parse_str(s).ok()) {
        let still_named = match shown {
            None => true,
            Some(text) => reference_name(state, viewer, field, id).await.as_deref() == Some(text),
        };
        if still_named {
            return Ok(json!(id.to_string()));
        }
    }
    let Some(text) = shown else {
        return Ok(Json::Null);
    };
    let matches = find_by_name(state, viewer, field, text).await;
    match matches.as_slice() {
        [one] => Ok(json!(one.to_string())),
        [] => Err(FieldError::new(
            field.name(),
            Code::LookupNotFound,
            tr.tf("form.no_match", &[("name", text)]),
        )),
        _ => Err(FieldError::new(
            field.name(),
            Code::LookupNotFound,
            tr.tf("form.many_matches", &[("name", text)]),
        )),
    }
}

async fn reference_name(
    state: &WebState,
    viewer: &Viewer,
    field: &FieldDef,
    id: Uuid,
) -> Option<String> {
    if field.field_type == FieldType::UserLookup {
        let names = state.core.user_names(vec![id]).await.ok()?;
        return names.get(&id).map(|u| u.name.clone());
    }
    let target = field.target.as_ref()?;
    let labels: HashMap<Uuid, String> = state
        .core
        .record_labels(&viewer.actor, target.as_str(), vec![id])
        .await
        .ok()?;
    labels.get(&id).cloned()
}

/// Visible records (or active users) whose name is `text`, ignoring case.
pub(crate) async fn find_by_name(
    state: &WebState,
    viewer: &Viewer,
    field: &FieldDef,
    text: &str,
) -> Vec<Uuid> {
    if field.field_type == FieldType::UserLookup {
        let wanted = text.to_lowercase();
        let found = state
            .core
            .user_directory(&viewer.actor, text, 20)
            .await
            .unwrap_or_default();
        return found
            .into_iter()
            .filter(|u| u.name.to_lowercase() == wanted || u.email.to_lowercase() == wanted)
            .map(|u| u.id)
            .collect();
    }
    let Some(target) = field.target.as_ref() else {
        return Vec::new();
    };
    let Ok(object) = state.core.object(target.as_str()) else {
        return Vec::new();
    };
    // the name exactly as typed (the name field is indexed), and only two: one is a match,
    // two are too many
    let request = ListRequest {
        filter: Some(Filter::Cond {
            field: object.name_field.as_str().to_owned(),
            op: Op::Eq,
            value: json!(text),
        }),
        limit: Some(2),
        ..ListRequest::default()
    };
    match state
        .core
        .list_records(&viewer.actor, target.as_str(), request)
        .await
    {
        Ok((_, page)) => page.records.iter().filter_map(Record::id).collect(),
        Err(_) => Vec::new(),
    }
}
