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
        // cannot fail: every key is a string and every value serializes
        serde_json::to_value(self.wire(object, only)).unwrap_or(Json::Object(Map::new()))
    }

    /// The same flat JSON form, written straight out by serde instead of built as a
    /// `serde_json::Value` first (a response body: the intermediate map cost a get by id a
    /// twentieth of its time).
    pub fn wire<'a>(&'a self, object: &'a ObjectDef, only: Option<&'a [String]>) -> Wire<'a> {
        Wire {
            record: self,
            object,
            only,
        }
    }

    /// The fields of the wire form, in order.
    fn wire_fields<'a>(
        &'a self,
        object: &'a ObjectDef,
        only: Option<&'a [String]>,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        object.live_fields().filter_map(move |field| {
            let name = field.name();
            let wanted = match only {
                None => true,
                Some(list) => name == "id" || name == "version" || list.iter().any(|f| f == name),
            };
            // A field the record does not hold is left out, not shown as null: it was hidden
            // from the caller by field-level security.
            if !wanted {
                return None;
            }
            self.values.get(name).map(|value| (name, value))
        })
    }
}

/// A record in its wire form, for serde (see [`Record::wire`]).
pub struct Wire<'a> {
    record: &'a Record,
    object: &'a ObjectDef,
    only: Option<&'a [String]>,
}

impl serde::Serialize for Wire<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.record.wire_fields(self.object, self.only) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::standard_objects;
    use chrono::{NaiveDate, TimeZone, Utc};
    use rust_decimal::Decimal;
    use serde_json::json;

    #[test]
    fn the_serialized_wire_form_is_the_json_form() {
        let objects = standard_objects();
        let opportunity = objects.iter().find(|o| o.name() == "opportunity").unwrap();
        let id = Uuid::from_u128(0x01a2_4f37_ef2f_73eb_862a_bbe9_1c07_5e80);
        let mut record = Record::default();
        record.set("id", Value::Ref(id));
        record.set("version", Value::Int(3));
        record.set("name", Value::Text("华远 \"扩容\"".into()));
        record.set(
            "amount",
            Value::Money {
                amount: Decimal::new(1_250_050, 2),
                currency: "CNY".into(),
            },
        );
        record.set(
            "close_date",
            Value::Date(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()),
        );
        record.set(
            "created_at",
            Value::Datetime(Utc.with_ymd_and_hms(2026, 12, 7, 6, 36, 53).unwrap()),
        );
        record.set("description", Value::Null);
        let whole = record.to_json(opportunity, None);
        assert_eq!(
            serde_json::to_value(record.wire(opportunity, None)).unwrap(),
            whole
        );
        assert_eq!(
            whole,
            json!({
                "id": id.to_string(),
                "created_at": "2026-12-07T06:36:53.000000Z",
                "version": 3,
                "name": "华远 \"扩容\"",
                "amount": {"amount": "12500.50", "currency": "CNY"},
                "close_date": "2027-03-01",
                "description": null,
            }),
            "fields in the object's order, those the record does not hold left out"
        );
        // the text form keeps the object's field order
        let text = serde_json::to_string(&record.wire(opportunity, None)).unwrap();
        assert_eq!(text, serde_json::to_string(&whole).unwrap());
        let written: Vec<String> = serde_json::from_str::<Map<String, Json>>(&text)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let order: Vec<&str> = opportunity
            .live_fields()
            .map(|f| f.name())
            .filter(|n| record.values.contains_key(*n))
            .collect();
        assert_eq!(written, order);
        let only = ["amount".to_owned()];
        assert_eq!(
            serde_json::to_value(record.wire(opportunity, Some(&only))).unwrap(),
            json!({"id": id.to_string(), "version": 3, "amount": {"amount": "12500.50", "currency": "CNY"}})
        );
    }
}
