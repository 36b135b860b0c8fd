//! Record visibility, compiled into SQL (DESIGN principle 6: security in the query, not after
//! it). Every read path — get, list, count, search, export, change feed, history — appends
//! [`Visibility::push`] to its WHERE clause; nothing is filtered in memory afterwards. Writes
//! find their target through the edit visibility, so a record one may only read cannot be
//! changed.
//!
//! A user sees a record of an object they may read when any of these holds:
//! - they may view all records of the object (view-all / modify-all), or its org-wide default
//!   is public read (read-write for edits);
//! - they own it, or its owner holds a role beneath theirs (editing a subordinate's record
//!   needs the object's `manager_edit`);
//! - it is shared with them (manual share or record team), as user, role, role and
//!   subordinates or team;
//! - a sharing rule whose principal includes them matches it;
//! - the object is controlled by its parent and they see the parent.

use chrono::{DateTime, Utc};
use relata_domain::access::AccessLevel;
use relata_domain::filter::{TypedFilter, type_filter};
use relata_domain::meta::{FieldType, ObjectDef, Schema, Sharing};
use relata_store::ddl::table_name;
use relata_store::filter_sql::{NoRelatedRows, push_filter};
use relata_store::{Sql, SqlValue};
use uuid::Uuid;

use crate::access::Access;

/// How deep "controlled by parent" may chain (contact → account → …).
const MAX_PARENT_DEPTH: usize = 3;

#[derive(Debug, Clone)]
pub enum Visibility {
    All,
    Restricted(Box<Restriction>),
}

/// What a caller needs of a record: to read it, to edit it, or full access — delete,
/// restore, purge, share, transfer — which shares and sharing rules never give (as in
/// Salesforce: a read-write share lets one edit a record, not give it away or delete it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Edit,
    Full,
}

#[derive(Debug, Clone)]
pub struct Restriction {
    object: String,
    owners: Vec<Uuid>,
    principals: Vec<(&'static str, Vec<Uuid>)>,
    need: Need,
    rules: Vec<TypedFilter>,
    /// The lookup column, the parent's table, and the parent's visibility.
    parent: Option<(String, String, Visibility)>,
    /// Reads also see the unowned records of the pools (公海) the user is a member of.
    pooled: bool,
}

impl Visibility {
    /// The records `access` may read.
    pub fn read(access: &Access, object: &ObjectDef, schema: &Schema, now: DateTime<Utc>) -> Self {
        Self::build(access, object, schema, now, Need::Read, 0)
    }

    /// The records `access` may change.
    pub fn edit(access: &Access, object: &ObjectDef, schema: &Schema, now: DateTime<Utc>) -> Self {
        Self::build(access, object, schema, now, Need::Edit, 0)
    }

    /// The records `access` has full access to: their own, their subordinates' when
    /// managers may edit them, all with modify-all.
    pub fn full(access: &Access, object: &ObjectDef, schema: &Schema, now: DateTime<Utc>) -> Self {
        Self::build(access, object, schema, now, Need::Full, 0)
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Visibility::All)
    }

    fn build(
        access: &Access,
        object: &ObjectDef,
        schema: &Schema,
        now: DateTime<Utc>,
        need: Need,
        depth: usize,
    ) -> Self {
        if access.superuser {
            return Visibility::All;
        }
        let perm = access.object(object.name());
        let everything = match need {
            Need::Read => {
                perm.view_all
                    || matches!(
                        object.sharing,
                        Sharing::PublicRead | Sharing::PublicReadWrite
                    )
            }
            Need::Edit => perm.modify_all || matches!(object.sharing, Sharing::PublicReadWrite),
            Need::Full => perm.modify_all,
        };
        if everything {
            return Visibility::All;
        }
        let owners = if need == Need::Read || object.manager_edit {
            access.hierarchy_owners.clone()
        } else {
            vec![access.user_id.0]
        };
        let rules = access
            .rules
            .get(object.name())
            .into_iter()
            .flatten()
            .filter(|r| match need {
                Need::Read => true,
                Need::Edit => r.access == AccessLevel::Edit,
                Need::Full => false,
            })
            .filter_map(|r| {
                // A rule over a field since archived or retyped shares nothing.
                type_filter(&r.filter, object, now, &|_| true)
                    .inspect_err(|e| tracing::warn!(rule = %r.rule_id, error = ?e, "sharing rule no longer applies"))
                    .ok()
            })
            .collect();
        let parent = match &object.sharing {
            Sharing::ControlledByParent { field } if depth < MAX_PARENT_DEPTH => object
                .field(field.as_str())
                .filter(|f| f.field_type == FieldType::Lookup)
                .and_then(|f| f.target.as_ref())
                .and_then(|target| schema.object(target.as_str()))
                .map(|parent| {
                    (
                        field.as_str().to_owned(),
                        table_name(parent).to_owned(),
                        Self::build(access, parent, schema, now, need, depth + 1),
                    )
                }),
            _ => None,
        };
        Visibility::Restricted(Box::new(Restriction {
            object: object.name().to_owned(),
            owners,
            principals: access.principals.clone(),
            need,
            rules,
            parent,
            pooled: need == Need::Read && object.field(relata_domain::pool::POOL_ID).is_some(),
        }))
    }

    /// The columns of the record's own table the predicate reads (beyond `id` and
    /// `owner_id`), so that a query over a narrow projection can carry them.
    pub fn columns(&self) -> Vec<String> {
        fn walk(filter: &TypedFilter, out: &mut Vec<String>) {
            match filter {
                TypedFilter::And(items) | TypedFilter::Or(items) => {
                    items.iter().for_each(|f| walk(f, out));
                }
                TypedFilter::Not(inner) => walk(inner, out),
                // sharing rules are typed without conditions on what surrounds a record
                TypedFilter::Related { .. }
                | TypedFilter::Tagged { .. }
                | TypedFilter::InList(_) => {}
                TypedFilter::Cond { field, .. } => {
                    out.push(field.name().to_owned());
                    if field.field_type == FieldType::Currency {
                        out.push(relata_store::ddl::currency_column(field.name()));
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Visibility::Restricted(r) = self {
            r.rules.iter().for_each(|f| walk(f, &mut out));
            if let Some((column, _, _)) = &r.parent {
                out.push(column.clone());
            }
            if r.pooled {
                out.push(relata_domain::pool::POOL_ID.to_owned());
            }
        }
        out
    }

    /// Appends ` AND <predicate>` for rows of the table aliased `alias` (e.g. `t.`).
    pub fn push(&self, sql: &mut Sql, alias: &str) {
        self.push_at(sql, alias, 0);
    }

    fn push_at(&self, sql: &mut Sql, alias: &str, depth: usize) {
        if let Visibility::Restricted(r) = self {
            sql.push(" AND ");
            r.push_predicate(sql, alias, depth);
        }
    }
}

impl Restriction {
    /// `(<alias>principal_kind, <alias>principal_id)` is one of the user's principals.
    fn push_principals(&self, sql: &mut Sql, alias: &str) {
        sql.push("(");
        for (i, (kind, ids)) in self.principals.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(&format!(
                "({alias}principal_kind = '{kind}' AND {alias}principal_id"
            ));
            push_in_list(sql, ids);
            sql.push(")");
        }
        if self.principals.is_empty() {
            sql.push("1=0");
        }
        sql.push(")");
    }

    fn push_predicate(&self, sql: &mut Sql, alias: &str, depth: usize) {
        sql.push(&format!("({alias}owner_id"));
        push_in_list(sql, &self.owners);
        if self.need != Need::Full {
            sql.push(&format!(
                " OR {alias}id IN (SELECT s.record_id FROM sys_record_shares s WHERE s.object = "
            ));
            sql.param(SqlValue::Text(self.object.clone()));
            if self.need == Need::Edit {
                sql.push(" AND s.access = 'edit'");
            }
            sql.push(" AND ");
            self.push_principals(sql, "s.");
            sql.push(")");
        }
        for rule in &self.rules {
            sql.push(" OR ");
            push_filter(sql, rule, alias, &NoRelatedRows);
        }
        if self.pooled {
            sql.push(&format!(
                " OR ({alias}owner_id IS NULL AND {alias}{} IN (SELECT m.pool_id FROM sys_pool_members m WHERE ",
                relata_domain::pool::POOL_ID
            ));
            self.push_principals(sql, "m.");
            sql.push("))");
        }
        if let Some((column, table, parent)) = &self.parent {
            let p = format!("p{depth}.");
            sql.push(&format!(
                " OR {alias}{column} IN (SELECT p{depth}.id FROM {table} p{depth} WHERE 1=1"
            ));
            parent.push_at(sql, &p, depth + 1);
            sql.push(")");
        }
        sql.push(")");
    }
}

/// Appends ` = id` or ` IN (ids…)` (matching nothing when `ids` is empty).
pub(crate) fn push_in_list(sql: &mut Sql, ids: &[Uuid]) {
    if let [one] = ids {
        sql.push(" = ");
        sql.param(SqlValue::Uuid(*one));
        return;
    }
    sql.push(" IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*id));
    }
    if ids.is_empty() {
        sql.push("NULL");
    }
    sql.push(")");
}

impl crate::Core {
    /// The records of `object` the actor has full access to (to share or transfer them);
    /// forbidden when they may not edit the object at all.
    pub(crate) fn full_access(
        &self,
        actor: &crate::Actor,
        object: &ObjectDef,
    ) -> Result<Visibility, crate::CoreError> {
        actor.require(object.name(), relata_domain::access::Operation::Edit)?;
        Ok(Visibility::full(
            &actor.access,
            object,
            &self.schema(),
            self.clock.now(),
        ))
    }

    /// The actor's read visibility of every object `object`'s lookups point to (objects they
    /// may not read are left out), for checking lookups on write.
    pub(crate) fn lookup_targets(
        &self,
        actor: &crate::Actor,
        object: &ObjectDef,
    ) -> crate::records::write::LookupTargets {
        use relata_domain::access::Operation;
        let schema = self.schema();
        // a record that lives under its parent (a meeting's attendee, a deal's contact role)
        // is added to a parent the writer may edit, as a detail to its master: seeing a
        // meeting does not let one invite people to it
        let parent = match &object.sharing {
            relata_domain::meta::Sharing::ControlledByParent { field } => Some(field.as_str()),
            _ => None,
        };
        let mut lookups: Vec<(bool, &relata_domain::ApiName)> = object
            .live_fields()
            .filter(|f| f.field_type == FieldType::Lookup)
            .filter_map(|f| Some((f.name() == parent.unwrap_or_default(), f.target.as_ref()?)))
            .collect();
        // the parent's (stricter) entry last, so it is the one kept for its object
        lookups.sort_by_key(|(is_parent, _)| *is_parent);
        lookups
            .into_iter()
            .filter_map(|(is_parent, t)| Some((is_parent, schema.object(t.as_str())?)))
            .filter(|(is_parent, t)| {
                let op = if *is_parent {
                    Operation::Edit
                } else {
                    Operation::Read
                };
                actor.may(t.name(), op)
            })
            .map(|(is_parent, t)| {
                let now = self.clock.now();
                let vis = if is_parent {
                    Visibility::edit(&actor.access, t, &schema, now)
                } else {
                    Visibility::read(&actor.access, t, &schema, now)
                };
                (t.name().to_owned(), vis)
            })
            .collect()
    }

    /// The records of `object` the actor may act on with `op`; forbidden when they may not
    /// perform `op` on the object at all. Reads and exports see the read visibility; edits
    /// need edit access to the record; deletes, restores and purges full access.
    pub(crate) fn visibility(
        &self,
        actor: &crate::Actor,
        object: &ObjectDef,
        op: relata_domain::access::Operation,
    ) -> Result<Visibility, crate::CoreError> {
        use relata_domain::access::Operation;
        actor.require(object.name(), op)?;
        let schema = self.schema();
        let now = self.clock.now();
        Ok(match op {
            Operation::Read | Operation::Export => {
                Visibility::read(&actor.access, object, &schema, now)
            }
            Operation::Create | Operation::Edit | Operation::Import => {
                Visibility::edit(&actor.access, object, &schema, now)
            }
            Operation::Delete => Visibility::full(&actor.access, object, &schema, now),
        })
    }
}
