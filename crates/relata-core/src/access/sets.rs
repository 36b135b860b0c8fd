//! Profiles and permission sets: what users may do per object and field, and which admin
//! capabilities they hold. A user has one profile and any number of extra sets; grants add up.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use relata_domain::access::{Capability, Grants};
use relata_domain::meta::Schema;
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use super::Audited;
use super::org::{check_name, name_taken};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SetView {
    pub id: String,
    pub name: String,
    pub is_profile: bool,
    pub grants: Grants,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetInput {
    pub name: String,
    /// Only read on create: a profile stays a profile.
    #[serde(default)]
    pub is_profile: bool,
    #[serde(default)]
    pub grants: Grants,
}

/// Every object and field a set names must exist.
fn check_grants(schema: &Schema, grants: &Grants) -> Result<(), CoreError> {
    let mut errors = Vec::new();
    for object in grants.objects.keys() {
        if schema.object(object).is_none() {
            errors.push(FieldError::new(
                format!("grants.objects.{object}"),
                Code::UnknownField,
                "no such object",
            ));
        }
    }
    for (object, fields) in &grants.fields {
        match schema.object(object) {
            None => errors.push(FieldError::new(
                format!("grants.fields.{object}"),
                Code::UnknownField,
                "no such object",
            )),
            Some(def) => {
                for field in fields.keys() {
                    if def.field(field).is_none() {
                        errors.push(FieldError::new(
                            format!("grants.fields.{object}.{field}"),
                            Code::UnknownField,
                            "no such field",
                        ));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Validation(errors))
    }
}

fn to_json(grants: &Grants) -> serde_json::Value {
    serde_json::to_value(grants).unwrap_or_default()
}

fn in_use(conn: &mut dyn Conn, id: Uuid) -> Result<bool, CoreError> {
    for q in [
        "SELECT 1 FROM sys_users WHERE profile_id = ",
        "SELECT 1 FROM sys_user_permission_sets WHERE set_id = ",
    ] {
        let mut sql = Sql::new(conn.dialect());
        sql.push(q);
        sql.param(SqlValue::Uuid(id));
        if conn.query_one(&sql.text, &sql.params)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Core {
    pub async fn list_permission_sets(&self, actor: &Actor) -> Result<Vec<SetView>, CoreError> {
        actor.require_capability(Capability::ManageUsers)?;
        self.store
            .read(|conn| {
                let rows = conn.query(
                    "SELECT id, name, is_profile, grants FROM sys_permission_sets ORDER BY name",
                    &[],
                )?;
                Ok::<_, CoreError>(
                    rows.into_iter()
                        .map(|r| SetView {
                            id: r[0].as_uuid().unwrap_or_default().to_string(),
                            name: r[1].as_str().unwrap_or_default().to_owned(),
                            is_profile: r[2].as_bool().unwrap_or(false),
                            grants: match &r[3] {
                                SqlValue::Json(j) => {
                                    serde_json::from_value(j.clone()).unwrap_or_default()
                                }
                                SqlValue::Text(s) => serde_json::from_str(s).unwrap_or_default(),
                                _ => Grants::default(),
                            },
                        })
                        .collect(),
                )
            })
            .await
    }

    pub async fn create_permission_set(
        &self,
        actor: &Actor,
        input: SetInput,
    ) -> Result<SetView, CoreError> {
        let name = check_name(&input.name)?;
        check_grants(&self.schema(), &input.grants)?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "permission_set.create",
            Box::new(move |conn, _snapshot, now| {
                if name_taken(conn, "sys_permission_sets", &name, None)? {
                    return Err(FieldError::new("name", Code::Duplicate, "another set has this name").into());
                }
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!("INSERT INTO sys_permission_sets (id, name, is_profile, grants, created_at, updated_at) VALUES ({})", placeholders(conn.dialect(), 1, 6)),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(name.clone()),
                        SqlValue::Bool(input.is_profile),
                        SqlValue::Json(to_json(&input.grants)),
                        SqlValue::Timestamp(now),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let detail = json!({"name": name, "is_profile": input.is_profile, "grants": to_json(&input.grants)});
                let view = SetView { id: id.to_string(), name, is_profile: input.is_profile, grants: input.grants };
                Ok(Audited::new(view, "permission_set", id, detail))
            }),
        )
        .await
    }

    /// Replaces a set's name and grants.
    pub async fn update_permission_set(
        &self,
        actor: &Actor,
        id: Uuid,
        input: SetInput,
    ) -> Result<SetView, CoreError> {
        let name = check_name(&input.name)?;
        check_grants(&self.schema(), &input.grants)?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "permission_set.update",
            Box::new(move |conn, _snapshot, now| {
                if name_taken(conn, "sys_permission_sets", &name, Some(id))? {
                    return Err(FieldError::new(
                        "name",
                        Code::Duplicate,
                        "another set has this name",
                    )
                    .into());
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_permission_sets SET name = ");
                sql.param(SqlValue::Text(name.clone()));
                sql.push(", grants = ");
                sql.param(SqlValue::Json(to_json(&input.grants)));
                sql.push(", updated_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("permission set {id}")));
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT is_profile FROM sys_permission_sets WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                let is_profile = conn
                    .query_one(&sql.text, &sql.params)?
                    .and_then(|r| r[0].as_bool())
                    .unwrap_or(false);
                let detail = json!({"name": name, "grants": to_json(&input.grants)});
                let view = SetView {
                    id: id.to_string(),
                    name,
                    is_profile,
                    grants: input.grants,
                };
                Ok(Audited::new(view, "permission_set", id, detail))
            }),
        )
        .await
    }

    /// Deletes a set nobody holds.
    pub async fn delete_permission_set(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.change_access(
            actor,
            Capability::ManageUsers,
            "permission_set.delete",
            Box::new(move |conn, _snapshot, _now| {
                if in_use(conn, id)? {
                    return Err(CoreError::Conflict {
                        code: "permission_set_in_use",
                        message: "users still hold this profile or set: assign them another first"
                            .into(),
                    });
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_permission_sets WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("permission set {id}")));
                }
                Ok(Audited::new((), "permission_set", id, json!({})))
            }),
        )
        .await
    }

    /// Gives a user an extra permission set (`assigned` true) or takes it away.
    pub async fn assign_permission_set(
        &self,
        actor: &Actor,
        user: Uuid,
        set: Uuid,
        assigned: bool,
    ) -> Result<(), CoreError> {
        let action = if assigned {
            "permission_set.assign"
        } else {
            "permission_set.unassign"
        };
        self.change_access(
            actor,
            Capability::ManageUsers,
            action,
            Box::new(move |conn, snapshot, _now| {
                if !snapshot.users.contains_key(&user) {
                    return Err(CoreError::not_found(format!("user {user}")));
                }
                if !snapshot.sets.contains_key(&set) {
                    return Err(FieldError::new(
                        "set_id",
                        Code::LookupNotFound,
                        "no such permission set",
                    )
                    .into());
                }
                let held = snapshot
                    .user_sets
                    .get(&user)
                    .is_some_and(|s| s.contains(&set));
                let mut sql = Sql::new(conn.dialect());
                if assigned && !held {
                    sql.push("INSERT INTO sys_user_permission_sets (user_id, set_id) VALUES (");
                    sql.param(SqlValue::Uuid(user));
                    sql.push(", ");
                    sql.param(SqlValue::Uuid(set));
                    sql.push(")");
                    conn.execute(&sql.text, &sql.params)?;
                } else if !assigned && held {
                    sql.push("DELETE FROM sys_user_permission_sets WHERE user_id = ");
                    sql.param(SqlValue::Uuid(user));
                    sql.push(" AND set_id = ");
                    sql.param(SqlValue::Uuid(set));
                    conn.execute(&sql.text, &sql.params)?;
                }
                Ok(Audited::new((), "user", user, json!({"set_id": set})))
            }),
        )
        .await
    }
}
