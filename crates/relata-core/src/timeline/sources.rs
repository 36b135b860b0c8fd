//! The standard timeline sources: the record's creation, its field changes, and the records
//! that point at it through a lookup.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::filter::{Op, Operand, TypedFilter};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{Record, Value};
use relata_store::{Conn, Sql, SqlValue};

use super::{CREATED, FIELD_CHANGE, Position, TimelineItem, TimelineQuery, TimelineSource};
use crate::records::{Bin, Cursor, ListRequest, json_of, read};
use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError, fields};

fn creator(record: &Record) -> Option<Uuid> {
    match record.get("created_by") {
        Value::Ref(u) => Some(*u),
        _ => None,
    }
}

/// The subject's own creation, the oldest item of every timeline.
pub struct Creation;

struct CreationQuery {
    subject: Arc<ObjectDef>,
    /// The caller may read the name field (the item's title).
    name_readable: bool,
}

impl TimelineSource for Creation {
    fn plan(
        &self,
        _core: &Core,
        actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError> {
        Ok(vec![Box::new(CreationQuery {
            subject: subject.clone(),
            name_readable: fields::readable(actor, subject, subject.name_field.as_str()),
        })])
    }
}

impl TimelineQuery for CreationQuery {
    fn kind(&self) -> &str {
        CREATED
    }

    fn read(
        &self,
        conn: &mut dyn Conn,
        subject: Uuid,
        before: Option<Position>,
        _limit: usize,
    ) -> Result<Vec<TimelineItem>, CoreError> {
        // The subject's visibility was checked by the caller in this same transaction.
        let Some(record) = read::get(conn, &self.subject, subject, &Visibility::All, Bin::Any)?
        else {
            return Ok(Vec::new());
        };
        let Value::Datetime(at) = *record.get("created_at") else {
            return Ok(Vec::new());
        };
        let here = Position { at, id: subject };
        if before.is_some_and(|b| here >= b) {
            return Ok(Vec::new());
        }
        Ok(vec![TimelineItem {
            at,
            id: subject,
            kind: CREATED.into(),
            object: self.subject.name().to_owned(),
            record_id: subject,
            title: if self.name_readable {
                name_of(&self.subject, &record)
            } else {
                String::new()
            },
            actor: creator(&record),
            detail: Json::Null,
        }])
    }
}

/// Changes of the subject's tracked fields, without the fields hidden from the caller.
pub struct FieldChanges;

struct FieldChangeQuery {
    subject: Arc<ObjectDef>,
    /// Tracked fields the caller may read; history of any other field is left out.
    readable: Vec<String>,
}

impl TimelineSource for FieldChanges {
    fn plan(
        &self,
        _core: &Core,
        actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError> {
        let readable: Vec<String> = subject
            .live_fields()
            .filter(|f| f.tracked && fields::readable(actor, subject, f.name()))
            .map(|f| f.name().to_owned())
            .collect();
        if readable.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Box::new(FieldChangeQuery {
            subject: subject.clone(),
            readable,
        })])
    }
}

impl TimelineQuery for FieldChangeQuery {
    fn kind(&self) -> &str {
        FIELD_CHANGE
    }

    fn read(
        &self,
        conn: &mut dyn Conn,
        subject: Uuid,
        before: Option<Position>,
        limit: usize,
    ) -> Result<Vec<TimelineItem>, CoreError> {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT id, field, old_value, new_value, actor, at FROM sys_field_history WHERE record_id = ");
        sql.param(SqlValue::Uuid(subject));
        sql.push(" AND object = ");
        sql.param(SqlValue::Text(self.subject.name().to_owned()));
        sql.push(" AND field IN (");
        for (i, f) in self.readable.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(SqlValue::Text(f.clone()));
        }
        sql.push(")");
        Position::push_page(&mut sql, "at", before, limit);
        let rows = conn.query(&sql.text, &sql.params)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let id = r[0].as_uuid()?;
                let at = r[5].as_timestamp()?;
                let field = r[1].as_str()?.to_owned();
                Some(TimelineItem {
                    at,
                    id,
                    kind: FIELD_CHANGE.into(),
                    object: self.subject.name().to_owned(),
                    record_id: subject,
                    detail: json!({
                        "field": field,
                        "old_value": json_of(&r[2]),
                        "new_value": json_of(&r[3]),
                    }),
                    title: field,
                    actor: r[4].as_uuid(),
                })
            })
            .collect())
    }
}

/// Records of other objects that point at the subject through a lookup: an account's
/// tasks, notes, opportunities and contacts, a contact's tasks… Each becomes an item at its
/// creation, with its visible fields as the detail.
pub struct RelatedRecords {
    which: Which,
}

enum Which {
    /// These objects, by API name (each is its own kind).
    Named(Vec<String>),
    /// Every custom object: an admin's "site visit" with a lookup to accounts shows on
    /// the account's timeline without configuration.
    Custom,
}

impl RelatedRecords {
    /// The named objects, when they exist.
    pub fn standard(objects: &[&str]) -> Self {
        RelatedRecords {
            which: Which::Named(objects.iter().map(|o| (*o).to_owned()).collect()),
        }
    }

    /// A module's own object (its emails, tickets, payments…).
    pub fn object(name: &str) -> Self {
        Self::standard(&[name])
    }

    pub fn custom_objects() -> Self {
        RelatedRecords {
            which: Which::Custom,
        }
    }
}

struct RelatedQuery {
    child: Arc<ObjectDef>,
    via: FieldDef,
    vis: Visibility,
    spec: read::ListSpec,
    hidden: Vec<String>,
}

impl TimelineSource for RelatedRecords {
    fn plan(
        &self,
        core: &Core,
        actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError> {
        let schema = core.schema();
        let children: Vec<Arc<ObjectDef>> = match &self.which {
            Which::Named(names) => names
                .iter()
                .filter_map(|n| schema.object(n).cloned())
                .collect(),
            Which::Custom => schema.objects().filter(|o| !o.standard).cloned().collect(),
        };
        let mut queries: Vec<Box<dyn TimelineQuery>> = Vec::new();
        for child in children {
            if !actor.may(child.name(), Operation::Read) {
                continue;
            }
            let vias = child.live_fields().filter(|f| {
                f.field_type == FieldType::Lookup
                    && f.target
                        .as_ref()
                        .is_some_and(|t| t.as_str() == subject.name())
                    && fields::readable(actor, &child, f.name())
            });
            for via in vias {
                // Paging and the page's shape as for any list; the filter on the subject is
                // set when the query runs.
                let spec = core.list_spec_typed(
                    actor,
                    &child,
                    ListRequest {
                        // any valid size: the page size is set when the query runs
                        limit: Some(1),
                        ..ListRequest::default()
                    },
                    (TypedFilter::all(), Default::default()),
                )?;
                queries.push(Box::new(RelatedQuery {
                    vis: core.visibility(actor, &child, Operation::Read)?,
                    via: via.clone(),
                    hidden: fields::hidden(actor, &child),
                    child: child.clone(),
                    spec,
                }));
            }
        }
        Ok(queries)
    }
}

impl TimelineQuery for RelatedQuery {
    fn kind(&self) -> &str {
        self.child.name()
    }

    fn read(
        &self,
        conn: &mut dyn Conn,
        subject: Uuid,
        before: Option<Position>,
        limit: usize,
    ) -> Result<Vec<TimelineItem>, CoreError> {
        let mut spec = self.spec.clone();
        spec.filter = TypedFilter::Cond {
            field: self.via.clone(),
            op: Op::Eq,
            operand: Operand::One(Value::Ref(subject)),
        };
        spec.limit = limit;
        spec.cursor = before.map(|b| Cursor {
            sort_value: Value::Null,
            created_at: b.at,
            id: b.id,
        });
        let page = read::list(conn, &self.child, &self.vis, &spec)?;
        Ok(page
            .records
            .into_iter()
            .filter_map(|mut record| {
                for h in &self.hidden {
                    record.values.remove(h);
                }
                let id = record.id()?;
                let Value::Datetime(at) = *record.get("created_at") else {
                    return None;
                };
                Some(TimelineItem {
                    at,
                    id,
                    kind: self.child.name().to_owned(),
                    object: self.child.name().to_owned(),
                    record_id: id,
                    title: name_of(&self.child, &record),
                    actor: creator(&record),
                    detail: record.to_json(&self.child, None),
                })
            })
            .collect())
    }
}

fn name_of(object: &ObjectDef, record: &Record) -> String {
    match record.get(object.name_field.as_str()) {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    }
}
