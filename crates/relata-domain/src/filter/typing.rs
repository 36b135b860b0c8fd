//! Checks an untyped filter against an object's fields and types its operands.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::relative::{Resolved, resolve_date, resolve_datetime};
use super::{Filter, Op, Operand, TypedFilter};
use crate::error::{FieldError, FieldErrorCode as Code};
use crate::meta::{FieldDef, FieldType, ObjectDef};
use crate::value::{ParseContext, Value};

/// Most values an `in` list may hold.
pub const MAX_IN_VALUES: usize = 1000;

/// Which operators a field type takes.
pub fn allowed_ops(t: FieldType) -> &'static [Op] {
    use Op::*;
    match t {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Picklist => &[Eq, Ne, Lt, Lte, Gt, Gte, In, Contains, StartsWith, IsNull],
        FieldType::Integer
        | FieldType::Decimal
        | FieldType::Currency
        | FieldType::Percent
        | FieldType::Date
        | FieldType::Datetime => &[Eq, Ne, Lt, Lte, Gt, Gte, In, IsNull],
        FieldType::Boolean => &[Eq, Ne, IsNull],
        FieldType::MultiPicklist => &[Contains, IsNull],
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => &[Eq, Ne, In, IsNull],
    }
}

/// What typing a filter needs to know beyond the object itself.
pub trait FilterScope {
    /// Whether the caller may see (and so filter on) `field` of `object`. Filtering on a
    /// hidden field is refused as if it did not exist, so counts cannot leak it.
    fn field_visible(&self, object: &ObjectDef, field: &FieldDef) -> bool;
    /// The object `name` for a related-record condition: known, and readable by the caller.
    fn related_object(&self, name: &str) -> Option<Arc<ObjectDef>>;
    /// Whether conditions on related records, tags and lists may be used here at all (not in
    /// filters evaluated in memory, nor in sharing rules).
    fn surroundings(&self) -> bool;
}

/// Most related-record conditions nested inside one another.
pub const MAX_RELATED_DEPTH: usize = 3;

/// A scope of the object's own fields only.
struct OwnFields<'a>(&'a dyn Fn(&FieldDef) -> bool);

impl FilterScope for OwnFields<'_> {
    fn field_visible(&self, _: &ObjectDef, field: &FieldDef) -> bool {
        (self.0)(field)
    }
    fn related_object(&self, _: &str) -> Option<Arc<ObjectDef>> {
        None
    }
    fn surroundings(&self) -> bool {
        false
    }
}

/// Types `filter` against `object`'s own fields. `now` resolves relative dates; `visible` says
/// whether the caller may see a field. Conditions on related records, tags and lists are
/// refused: use [`type_filter_in`] where the database answers the filter.
pub fn type_filter(
    filter: &Filter,
    object: &ObjectDef,
    now: DateTime<Utc>,
    visible: &dyn Fn(&FieldDef) -> bool,
) -> Result<TypedFilter, FieldError> {
    type_filter_in(filter, object, now, &OwnFields(visible))
}

/// Types `filter` against `object` within `scope`.
pub fn type_filter_in(
    filter: &Filter,
    object: &ObjectDef,
    now: DateTime<Utc>,
    scope: &dyn FilterScope,
) -> Result<TypedFilter, FieldError> {
    typed(filter, object, now, scope, 0)
}

fn typed(
    filter: &Filter,
    object: &ObjectDef,
    now: DateTime<Utc>,
    scope: &dyn FilterScope,
    depth: usize,
) -> Result<TypedFilter, FieldError> {
    let all = |items: &[Filter]| {
        items
            .iter()
            .map(|f| typed(f, object, now, scope, depth))
            .collect::<Result<Vec<_>, _>>()
    };
    let surroundings = |what: &str| {
        if scope.surroundings() {
            Ok(())
        } else {
            Err(FieldError::new(
                "filter",
                Code::InvalidFilter,
                format!("{what} cannot be used here; only the record's own fields"),
            ))
        }
    };
    Ok(match filter {
        Filter::And(items) => TypedFilter::And(all(items)?),
        Filter::Or(items) => TypedFilter::Or(all(items)?),
        Filter::Not(inner) => TypedFilter::Not(Box::new(typed(inner, object, now, scope, depth)?)),
        Filter::Tagged(name) => {
            surroundings("'tagged'")?;
            let name = name.trim();
            if name.is_empty() {
                return Err(FieldError::new(
                    "filter",
                    Code::InvalidFilter,
                    "'tagged' needs a tag name",
                ));
            }
            TypedFilter::Tagged {
                object: object.name().to_owned(),
                tag: name.to_owned(),
            }
        }
        Filter::InList(id) => {
            surroundings("'in_list'")?;
            let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
                FieldError::new(
                    "filter",
                    Code::InvalidFilter,
                    format!("'{id}' is not a list id"),
                )
            })?;
            TypedFilter::InList(id)
        }
        Filter::Related {
            object: name,
            via,
            exists,
            filter: inner,
        } => {
            surroundings("a condition on related records")?;
            if depth >= MAX_RELATED_DEPTH {
                return Err(FieldError::new(
                    "filter",
                    Code::InvalidFilter,
                    format!("related-record conditions nest at most {MAX_RELATED_DEPTH} deep"),
                ));
            }
            let related = scope.related_object(name).ok_or_else(|| {
                FieldError::new(
                    "filter",
                    Code::InvalidFilter,
                    format!("there is no object '{name}'"),
                )
            })?;
            let via = via_field(object, &related, via.as_deref(), scope)?;
            TypedFilter::Related {
                filter: Box::new(typed(inner, &related, now, scope, depth + 1)?),
                object: related,
                via,
                exists: *exists,
            }
        }
        Filter::Cond { field, op, value } => {
            let def = object
                .field(field)
                .filter(|f| scope.field_visible(object, f))
                .ok_or_else(|| {
                    FieldError::new(
                        field,
                        Code::UnknownField,
                        format!("'{}' has no field '{field}'", object.name()),
                    )
                })?;
            if !allowed_ops(def.field_type).contains(op) {
                let names: Vec<&str> = allowed_ops(def.field_type).iter().map(Op::as_str).collect();
                return Err(FieldError::new(
                    field,
                    Code::InvalidOperator,
                    format!(
                        "operator '{}' does not apply to a {} field; use one of {}",
                        op.as_str(),
                        def.field_type.as_str(),
                        names.join(", ")
                    ),
                ));
            }
            let operand = type_operand(def, *op, value, now)?;
            TypedFilter::Cond {
                field: def.clone(),
                op: *op,
                operand,
            }
        }
    })
}

/// The lookup of `related` that points at `object`: the one named, or the only one.
fn via_field(
    object: &ObjectDef,
    related: &ObjectDef,
    named: Option<&str>,
    scope: &dyn FilterScope,
) -> Result<FieldDef, FieldError> {
    let links: Vec<&FieldDef> = related
        .live_fields()
        .filter(|f| f.field_type == FieldType::Lookup)
        .filter(|f| {
            f.target
                .as_ref()
                .is_some_and(|t| t.as_str() == object.name())
        })
        .filter(|f| scope.field_visible(related, f))
        .collect();
    let found = match named {
        Some(n) => links.iter().find(|f| f.name() == n).copied(),
        None if links.len() == 1 => Some(links[0]),
        None if links.is_empty() => None,
        None => {
            let names: Vec<&str> = links.iter().map(|f| f.name()).collect();
            return Err(FieldError::new(
                "filter",
                Code::InvalidFilter,
                format!(
                    "'{}' points at '{}' through {}; say which with 'via'",
                    related.name(),
                    object.name(),
                    names.join(", ")
                ),
            ));
        }
    };
    found.cloned().ok_or_else(|| {
        FieldError::new(
            "filter",
            Code::InvalidFilter,
            match named {
                Some(n) => format!(
                    "'{}' has no lookup '{n}' to '{}'",
                    related.name(),
                    object.name()
                ),
                None => format!("'{}' has no lookup to '{}'", related.name(), object.name()),
            },
        )
    })
}

fn type_operand(
    def: &FieldDef,
    op: Op,
    value: &Json,
    now: DateTime<Utc>,
) -> Result<Operand, FieldError> {
    let name = def.name();
    match op {
        Op::IsNull => match value {
            Json::Bool(b) => Ok(Operand::Null(*b)),
            Json::Null => Ok(Operand::Null(true)),
            _ => Err(FieldError::new(
                name,
                Code::WrongType,
                "is_null takes true or false",
            )),
        },
        Op::Contains | Op::StartsWith if def.field_type != FieldType::MultiPicklist => {
            match value {
                Json::String(s) if s.contains('\0') => Err(FieldError::new(
                    name,
                    Code::WrongType,
                    "must not contain the NUL character (U+0000)",
                )),
                Json::String(s) => Ok(Operand::Text(s.to_ascii_lowercase())),
                Json::Number(n) => Ok(Operand::Text(n.to_string())),
                _ => Err(FieldError::new(
                    name,
                    Code::WrongType,
                    format!("{} takes a string", op.as_str()),
                )),
            }
        }
        Op::In => {
            let Json::Array(items) = value else {
                return Err(FieldError::new(
                    name,
                    Code::WrongType,
                    "in takes an array of values",
                ));
            };
            if items.len() > MAX_IN_VALUES {
                return Err(FieldError::new(
                    name,
                    Code::TooLarge,
                    format!("in takes at most {MAX_IN_VALUES} values"),
                ));
            }
            let values = items
                .iter()
                .map(|v| scalar(def, v, now))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|v| !v.is_null())
                .collect();
            Ok(Operand::Many(values))
        }
        _ => {
            let v = scalar(def, value, now)?;
            if v.is_null() {
                return Err(FieldError::new(
                    name,
                    Code::WrongType,
                    format!(
                        "{} needs a value; to find empty fields use is_null",
                        op.as_str()
                    ),
                ));
            }
            Ok(Operand::One(v))
        }
    }
}

/// A single operand value: parsed like input, but without the input-only rules (range,
/// length, inactive picklist values), and with relative dates.
fn scalar(def: &FieldDef, value: &Json, now: DateTime<Utc>) -> Result<Value, FieldError> {
    if let Json::String(s) = value {
        let out_of_range = |code| {
            FieldError::new(
                def.name(),
                code,
                format!("'{s}' falls outside the years 0001-9999"),
            )
        };
        match def.field_type {
            FieldType::Date => match resolve_date(s, now) {
                Resolved::At(d) => return Ok(Value::Date(d)),
                Resolved::OutOfRange => return Err(out_of_range(Code::InvalidDate)),
                Resolved::NotRelative => {}
            },
            FieldType::Datetime => match resolve_datetime(s, now) {
                Resolved::At(t) => return Ok(Value::Datetime(t)),
                Resolved::OutOfRange => return Err(out_of_range(Code::InvalidDatetime)),
                Resolved::NotRelative => {}
            },
            FieldType::MultiPicklist => {
                return if def.picklist_value(s).is_some() {
                    Ok(Value::Text(s.clone()))
                } else {
                    Err(FieldError::new(
                        def.name(),
                        Code::UnknownPicklistValue,
                        format!("'{s}' is not a value of this field"),
                    ))
                };
            }
            FieldType::Picklist if def.picklist_value(s).is_some() => {
                return Ok(Value::Text(s.clone()));
            }
            _ => {}
        }
    }
    let relaxed = FieldDef {
        max_length: None,
        min: None,
        max: None,
        pattern: None,
        ..def.clone()
    };
    let v = Value::parse(&relaxed, value, &ParseContext::default())?;
    // A currency operand compares amounts only.
    Ok(match v {
        Value::Money { amount, .. } => Value::Decimal(amount),
        other => other,
    })
}
