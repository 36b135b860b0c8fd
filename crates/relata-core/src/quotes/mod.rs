//! Quotes (报价单) beyond the write path's rules (`records::quotes`): revising a quote whose
//! content is fixed — approved, sent, declined or rejected in approval — into a new version
//! that carries its number, its lines and the changes asked for, while the old version is
//! kept, marked as replaced.

pub mod pdf;
pub mod render;
pub mod send;

use std::collections::BTreeMap;

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::pricing::{self, QUOTE_ID};
use relata_domain::{Record, Value};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::line_items::live_where;
use crate::records::quotes::{NUMBER, PREVIOUS, SUPERSEDED_AT, VERSION};
use crate::records::read::{self, Bin};
use crate::records::{with_companions, write};

/// What a new version takes from the one it replaces (the changes asked for come on top).
const CARRIED: &[&str] = &[
    "name",
    "owner_id",
    pricing::OPPORTUNITY_ID,
    "account_id",
    "contact_id",
    "valid_until",
    "header_discount_percent",
    "terms",
    NUMBER,
];

/// What a line of the new version takes from the old line.
const LINE_CARRIED: &[&str] = &[
    "name",
    pricing::PRODUCT_ID,
    pricing::ENTRY_ID,
    pricing::QUANTITY,
    pricing::UNIT_PRICE,
    pricing::DISCOUNT,
    pricing::TAX_RATE,
    "description",
];

impl Core {
    /// Makes version n+1 of quote `id` with `changes` (quote fields) applied: a draft with
    /// copies of its lines; the old version is marked replaced and changes no more.
    pub async fn revise_quote(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: Json,
    ) -> Result<Record, CoreError> {
        let object = self.object(pricing::QUOTE)?;
        let lines = self.object(pricing::QUOTE_LINE)?;
        let vis = self.visibility(actor, &object, Operation::Edit)?;
        actor.require(pricing::QUOTE, Operation::Create)?;
        let targets = self.lookup_targets(actor, &object);
        crate::records::with_errors(crate::fields::check_editable(actor, &object, &changes), ())?;
        let given = write::parse_input(&object, &changes, &self.parse_context(), false, false)
            .map_err(CoreError::Validation)?;
        let (now, writer) = (self.clock.now(), actor.clone());
        let obj = object.clone();
        let mut record = self
            .store
            .write(move |conn| {
                let old = read::get_for_update(conn, &obj, id, &vis, Bin::Live)?
                    .ok_or_else(|| CoreError::not_found(format!("quote {id}")))?;
                if !old.get(SUPERSEDED_AT).is_null() {
                    return Err(CoreError::Conflict {
                        code: "quote_superseded",
                        message: "a newer version of this quote exists: revise that one".into(),
                    });
                }
                if old.get("approval_status") == &Value::Text("pending".into()) {
                    // else the request would go on deciding a version nobody sends
                    return Err(CoreError::Conflict {
                        code: "quote_in_approval",
                        message: "the quote is in approval: recall the request first".into(),
                    });
                }
                crate::records::with_errors(
                    write::check_lookups(conn, &obj, &given, &targets)?,
                    (),
                )?;
                let mut values: BTreeMap<String, Value> = CARRIED
                    .iter()
                    .map(|f| ((*f).to_owned(), old.get(f).clone()))
                    .collect();
                let version = match old.get(VERSION) {
                    Value::Int(v) => *v + 1,
                    _ => 2,
                };
                values.insert(VERSION.into(), Value::Int(version));
                values.insert(PREVIOUS.into(), Value::Ref(id));
                values.insert("status".into(), Value::Text("draft".into()));
                values.extend(given);
                let old_lines = live_where(conn, &lines, QUOTE_ID, id)?;
                with_companions(conn, |conn, side| {
                    let stamp = BTreeMap::from([(SUPERSEDED_AT.to_owned(), Value::Datetime(now))]);
                    write::update(conn, side, &obj, &writer, now, old, stamp)?;
                    let new = write::insert(conn, side, &obj, &writer, now, values)?;
                    let new_id = new
                        .id()
                        .ok_or_else(|| CoreError::Internal("no id".into()))?;
                    for line in &old_lines {
                        let mut copy: BTreeMap<String, Value> = LINE_CARRIED
                            .iter()
                            .map(|f| ((*f).to_owned(), line.get(f).clone()))
                            .collect();
                        copy.insert(QUOTE_ID.into(), Value::Ref(new_id));
                        write::insert(conn, side, &lines, &writer, now, copy)?;
                    }
                    // read back with the totals its lines gave it
                    read::get(
                        conn,
                        &obj,
                        new_id,
                        &crate::visibility::Visibility::All,
                        Bin::Live,
                    )?
                    .ok_or_else(|| CoreError::Internal("the new version is gone".into()))
                })
            })
            .await?;
        crate::fields::redact(actor, &object, &mut record);
        Ok(record)
    }
}
