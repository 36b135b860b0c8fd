//! Typing filters for a caller: the fields they may see, the related objects they may read,
//! and — for a filter's related-record conditions — which related records they may see, so
//! that "has an open opportunity over ¥100,000" never counts an opportunity hidden from them.

use std::sync::Arc;

use relata_domain::access::Operation;
use relata_domain::filter::{Filter, FilterScope, TypedFilter, type_filter_in};
use relata_domain::meta::{FieldDef, ObjectDef};
use relata_store::Sql;
use relata_store::filter_sql::RelatedRows;

use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError, fields};

/// The caller's read visibility of each object a filter's related-record conditions name.
#[derive(Debug, Clone, Default)]
pub struct RelatedVisibility(Vec<(String, Visibility)>);

impl RelatedRows for RelatedVisibility {
    fn push_visible(&self, sql: &mut Sql, object: &str, alias: &str) {
        match self.0.iter().find(|(o, _)| o == object) {
            Some((_, vis)) => vis.push(sql, alias),
            // typed and scoped together, so never; seeing nothing is the safe answer
            None => {
                sql.push(" AND 1=0");
            }
        }
    }
}

struct ActorScope<'a> {
    core: &'a Core,
    actor: &'a Actor,
}

impl FilterScope for ActorScope<'_> {
    fn field_visible(&self, object: &ObjectDef, field: &FieldDef) -> bool {
        fields::readable(self.actor, object, field.name())
    }

    fn related_object(&self, name: &str) -> Option<Arc<ObjectDef>> {
        self.core
            .object(name)
            .ok()
            .filter(|o| self.actor.may(o.name(), Operation::Read))
    }

    fn surroundings(&self) -> bool {
        true
    }
}

impl Core {
    /// Types `filter` over `object` for the actor — the segments it names expanded into their
    /// conditions — with the visibility its related-record conditions need.
    pub async fn type_filter_for(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        filter: Option<&Filter>,
    ) -> Result<(TypedFilter, RelatedVisibility), CoreError> {
        let Some(filter) = filter else {
            return Ok((TypedFilter::all(), RelatedVisibility::default()));
        };
        let filter = self.expand_lists(object.name(), filter.clone()).await?;
        let scope = ActorScope { core: self, actor };
        let typed = type_filter_in(&filter, object, self.clock.now(), &scope)?;
        let related = typed
            .related_objects()
            .into_iter()
            .map(|o| {
                let vis = self.visibility(actor, &o, Operation::Read)?;
                Ok((o.name().to_owned(), vis))
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok((typed, RelatedVisibility(related)))
    }
}

/// A condition on a record's own fields, as `actor` may read them, for checking one record
/// in memory (webhook and workflow conditions): compact text or the JSON form. Relative
/// dates ("today") are fixed when it is typed, so it is typed again for each use.
pub(crate) fn record_condition(
    core: &Core,
    actor: &Actor,
    object: &ObjectDef,
    value: &serde_json::Value,
) -> Result<TypedFilter, relata_domain::FieldError> {
    let parsed = parse_condition(value)?;
    relata_domain::filter::type_filter(&parsed, object, core.clock.now(), &|f| {
        fields::readable(actor, object, f.name())
    })
}

/// A condition as rules store it: the compact text form or the JSON form.
pub(crate) fn parse_condition(
    value: &serde_json::Value,
) -> Result<Filter, relata_domain::FieldError> {
    match value {
        serde_json::Value::String(s) => relata_domain::filter::compact::parse(s),
        other => relata_domain::filter::json::parse(other),
    }
}
