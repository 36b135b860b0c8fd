//! Display names of records, for lookup fields shown in lists and on record pages: the
//! target's name field, for the records the caller may see. A record hidden from the caller
//! has no label, so a page cannot leak its name through a lookup.

use std::collections::HashMap;

use uuid::Uuid;

use relata_domain::Value;
use relata_domain::access::Operation;

use super::read;
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;

/// The most records one call names; a page never shows more.
const MAX_IDS: usize = 500;

impl Core {
    /// The name of each visible record of `object` among `ids`. An object the caller may
    /// not read, or whose name field is hidden from them, names nothing.
    pub async fn record_labels(
        &self,
        actor: &Actor,
        object: &str,
        ids: Vec<Uuid>,
    ) -> Result<HashMap<Uuid, String>, CoreError> {
        let object = self.object(object)?;
        if !actor.may(object.name(), Operation::Read)
            || !fields::readable(actor, &object, object.name_field.as_str())
        {
            return Ok(HashMap::new());
        }
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        ids.truncate(MAX_IDS);
        self.store
            .read(move |conn| {
                let found = read::get_many(conn, &object, &ids, &vis)?;
                let labels = found
                    .into_iter()
                    .map(|(id, record)| {
                        let label = match record.get(object.name_field.as_str()) {
                            Value::Text(t) => t.clone(),
                            Value::Null => String::new(),
                            other => other.to_json().to_string(),
                        };
                        (id, label)
                    })
                    .collect::<HashMap<_, _>>();
                Ok::<_, CoreError>(labels)
            })
            .await
    }
}
