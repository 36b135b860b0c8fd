//! A record as read from storage: every column of its object as a typed value, system fields
//! included. The wire form is flat JSON: `{"id": …, "version": …, "<field>": value, …}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::meta::ObjectDef;
use crate::value::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub values: BTreeMap<String, Value>,
}

static NULL: Value = Value::Null;

impl Record {
    pub fn get(&self, field: &str) -> &Value {
        self.values.get(field).unwrap_or(&NULL)
    }

    pub fn set(&mut self, field: &str, value: Value) {
        self.values.insert(field.to_owned(), value);
    }

    pub fn id(&self) -> Option<Uuid> {
        match self.get("id") {
            Value::Ref(u) => Some(*u),
            _ => None,
        }
    }

    pub fn version(&self) -> i64 {
        match self.get("version") {
            Value::Int(v) => *v,
            _ => 0,
        }
    }

    /// The text (picklist, text) `field` holds after `changes` are written over `before` (a
    /// new record when `None`): the value a flow rule judges.
    pub fn text_after<'a>(
        before: Option<&'a Record>,
        changes: &'a BTreeMap<String, Value>,
        field: &str,
    ) -> Option<&'a str> {
        let value = match changes.get(field) {
            Some(v) => v,
            None => before.map(|b| b.get(field))?,
        };
        match value {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The flat JSON form, in the object's field order, of the fields the record holds (a
    /// record read from the database holds every field). With `only`, just those fields (and
    /// always `id` and `version`, which clients need to address and update the record).
    pub fn to_json(&self, object: &ObjectDef, only: Option<&[String]>) -> Json {
        let mut map = Map::new();
        for field in object.live_fields() {
            let name = field.name();
            let wanted = match only {
                None => true,
                Some(list) => name == "id" || name == "version" || list.iter().any(|f| f == name),
            };
            // A field the record does not hold is left out, not shown as null: it was hidden
            // from the caller by field-level security.
            if wanted && let Some(value) = self.values.get(name) {
                map.insert(name.to_owned(), value.to_json());
            }
        }
        Json::Object(map)
    }
}
