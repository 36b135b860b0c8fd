//! What the actor may do to one record they can see, so a page offers only the actions that
//! will work: a record shared read-only shows no edit, one shared for edit no delete.

use relata_domain::access::Operation;
use relata_store::ddl::table_name;
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::visibility::Visibility;

/// The actions open to the actor on one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordRights {
    /// Change its fields (edit access: owner, hierarchy, an edit share, a sharing rule…).
    pub edit: bool,
    /// Move it to the recycle bin, restore or purge it (full access).
    pub delete: bool,
}

fn reaches(
    conn: &mut dyn Conn,
    object: &relata_domain::meta::ObjectDef,
    id: uuid::Uuid,
    vis: Option<&Visibility>,
) -> Result<bool, CoreError> {
    let Some(vis) = vis else {
        return Ok(false);
    };
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT 1 FROM {} WHERE id = ", table_name(object)));
    sql.param(SqlValue::Uuid(id));
    vis.push(&mut sql, "");
    Ok(conn.query_one(&sql.text, &sql.params)?.is_some())
}

impl Core {
    /// The actor's rights on record `id` of `object` (live or in the recycle bin).
    pub async fn record_rights(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<RecordRights, CoreError> {
        let object = self.object(object)?;
        // no permission on the object at all: no query needed
        let edit = self.visibility(actor, &object, Operation::Edit).ok();
        let delete = self.visibility(actor, &object, Operation::Delete).ok();
        if edit.is_none() && delete.is_none() {
            return Ok(RecordRights::default());
        }
        self.store
            .read(move |conn| {
                Ok(RecordRights {
                    edit: reaches(conn, &object, id, edit.as_ref())?,
                    delete: reaches(conn, &object, id, delete.as_ref())?,
                })
            })
            .await
    }
}
