//! The columns of a tabular export (CSV, XLSX): one per field, a second one with the currency
//! code of a money field, and a second one with the name of the record a lookup points at —
//! so a person reading the file sees "华远科技", not an id. Names come from reads with the
//! actor's visibility: a record they may not see is exported as its id alone.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Record, Value};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;

/// Column headings of a tabular export.
#[derive(Debug, Clone, Default)]
pub enum Header {
    /// API names: `amount`, `amount_currency`, `account_id_name` (for machines, and for
    /// importing the file back).
    #[default]
    Names,
    /// Labels chosen by the caller, in the reader's language: each field's label by field
    /// name, and the words after a label for a money field's currency and a lookup's name,
    /// giving "金额 (币种)" and "客户 (名称)".
    Labels {
        fields: HashMap<String, String>,
        currency: String,
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Value,
    Currency,
    Name,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub field: FieldDef,
    pub part: Part,
    pub heading: String,
}

/// The names of looked-up records, by field and id.
pub type Names = HashMap<String, HashMap<Uuid, String>>;

#[derive(Debug, Clone)]
pub struct Columns {
    pub fields: Vec<FieldDef>,
    pub columns: Vec<Column>,
}

impl Columns {
    /// The columns for `wanted` fields (every readable field when `None`), refusing a field
    /// that does not exist or that the actor may not read, as lists refuse it.
    pub fn new(
        actor: &Actor,
        object: &ObjectDef,
        wanted: Option<&[String]>,
        header: &Header,
    ) -> Result<Columns, CoreError> {
        let readable = |f: &FieldDef| fields::readable(actor, object, f.name());
        let fields: Vec<FieldDef> = match wanted {
            None => object
                .live_fields()
                .filter(|f| readable(f))
                .cloned()
                .collect(),
            Some(names) => {
                let mut out = Vec::new();
                let mut errors = Vec::new();
                for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                    match object.field(name).filter(|f| readable(f)) {
                        Some(f) if !out.iter().any(|o: &FieldDef| o.name() == name) => {
                            out.push(f.clone());
                        }
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            "fields",
                            FieldErrorCode::UnknownField,
                            format!("'{}' has no field '{name}'", object.name()),
                        )),
                    }
                }
                if !errors.is_empty() {
                    return Err(CoreError::Validation(errors));
                }
                if out.is_empty() {
                    return Err(FieldError::new(
                        "fields",
                        FieldErrorCode::Required,
                        "name at least one field",
                    )
                    .into());
                }
                out
            }
        };
        let mut columns = Vec::new();
        for f in &fields {
            let mut push = |part: Part| {
                columns.push(Column {
                    field: f.clone(),
                    part,
                    heading: heading(header, f, part),
                })
            };
            push(Part::Value);
            match f.field_type {
                FieldType::Currency => push(Part::Currency),
                FieldType::Lookup | FieldType::UserLookup => push(Part::Name),
                _ => {}
            }
        }
        Ok(Columns { fields, columns })
    }

    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name().to_owned()).collect()
    }

    /// The names of the records this page's lookups point at, as the actor may see them.
    pub async fn resolve_names(
        &self,
        core: &Arc<Core>,
        actor: &Actor,
        records: &[Record],
    ) -> Result<Names, CoreError> {
        let mut names = Names::new();
        for c in self.columns.iter().filter(|c| c.part == Part::Name) {
            let ids: Vec<Uuid> = records
                .iter()
                .filter_map(|r| match r.get(c.field.name()) {
                    Value::Ref(id) => Some(*id),
                    _ => None,
                })
                .collect();
            if ids.is_empty() {
                continue;
            }
            let found = match (&c.field.field_type, &c.field.target) {
                (FieldType::Lookup, Some(target)) => {
                    core.record_labels(actor, target.as_str(), ids).await?
                }
                (FieldType::UserLookup, _) => core
                    .user_names(ids)
                    .await?
                    .into_iter()
                    .map(|(id, u)| (id, u.name))
                    .collect(),
                _ => HashMap::new(),
            };
            names.insert(c.field.name().to_owned(), found);
        }
        Ok(names)
    }
}

fn heading(header: &Header, f: &FieldDef, part: Part) -> String {
    match header {
        Header::Names => match part {
            Part::Value => f.name().to_owned(),
            Part::Currency => format!("{}_currency", f.name()),
            Part::Name => format!("{}_name", f.name()),
        },
        Header::Labels {
            fields,
            currency,
            name,
        } => {
            let label = fields
                .get(f.name())
                .cloned()
                .unwrap_or_else(|| f.label.clone());
            match part {
                Part::Value => label,
                Part::Currency => format!("{label} ({currency})"),
                Part::Name => format!("{label} ({name})"),
            }
        }
    }
}

/// One cell of a tabular export, typed so XLSX can store numbers as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number in its exact decimal text.
    Number(String),
    Bool(bool),
}

impl Cell {
    pub fn of(column: &Column, record: &Record, names: &Names) -> Cell {
        let value = record.get(column.field.name());
        match column.part {
            Part::Currency => match value {
                Value::Money { currency, .. } => Cell::Text(currency.clone()),
                _ => Cell::Empty,
            },
            Part::Name => match value {
                Value::Ref(id) => names
                    .get(column.field.name())
                    .and_then(|m| m.get(id))
                    .map_or(Cell::Empty, |n| Cell::Text(n.clone())),
                _ => Cell::Empty,
            },
            Part::Value => match value {
                Value::Null => Cell::Empty,
                Value::Text(s) => Cell::Text(s.clone()),
                Value::Int(i) => Cell::Number(i.to_string()),
                Value::Decimal(d) => Cell::Number(d.to_string()),
                Value::Money { amount, .. } => Cell::Number(amount.to_string()),
                Value::Bool(b) => Cell::Bool(*b),
                Value::Date(d) => Cell::Text(d.format("%Y-%m-%d").to_string()),
                Value::Datetime(t) => Cell::Text(relata_domain::value::format_datetime(t)),
                // the separator a person types between picklist values in an import
                Value::Multi(v) => Cell::Text(v.join(";")),
                Value::Ref(u) => Cell::Text(u.to_string()),
            },
        }
    }
}
