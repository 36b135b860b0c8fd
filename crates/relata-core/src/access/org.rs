//! The organisation: roles in a hierarchy (销售总监 → 区域经理 → 销售代表) and teams (a user may
//! be in several).

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use super::Audited;
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// A name of 1–100 characters without control characters.
pub(crate) fn check_name(name: &str) -> Result<String, CoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            Code::InvalidName,
            "must be 1 to 100 characters without control characters",
        )
        .into());
    }
    Ok(name.to_owned())
}

/// Whether another row of `table` has this name.
pub(crate) fn name_taken(
    conn: &mut dyn Conn,
    table: &str,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT id FROM {table} WHERE name = "));
    sql.param(SqlValue::Text(name.to_owned()));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .is_some_and(|r| r[0].as_uuid() != except))
}

fn duplicate_name() -> CoreError {
    FieldError::new("name", Code::Duplicate, "another one has this name").into()
}

fn count(conn: &mut dyn Conn, sql_text: &str, id: Uuid) -> Result<i64, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(sql_text);
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| r[0].as_i64())
        .unwrap_or(0))
}

impl Core {
    pub async fn list_roles(&self, actor: &Actor) -> Result<Vec<RoleView>, CoreError> {
        actor.require_capability(Capability::ManageUsers)?;
        self.store
            .read(|conn| {
                let rows = conn.query(
                    "SELECT id, name, parent_id FROM sys_roles ORDER BY name",
                    &[],
                )?;
                Ok::<_, CoreError>(
                    rows.into_iter()
                        .map(|r| RoleView {
                            id: r[0].as_uuid().unwrap_or_default().to_string(),
                            name: r[1].as_str().unwrap_or_default().to_owned(),
                            parent_id: r[2].as_uuid().map(|u| u.to_string()),
                        })
                        .collect(),
                )
            })
            .await
    }

    pub async fn create_role(
        &self,
        actor: &Actor,
        input: RoleInput,
    ) -> Result<RoleView, CoreError> {
        let name = check_name(&input.name)?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "role.create",
            Box::new(move |conn, snapshot, now| {
                if let Some(p) = input.parent_id
                    && !snapshot.roles.contains(p)
                {
                    return Err(
                        FieldError::new("parent_id", Code::LookupNotFound, "no such role").into(),
                    );
                }
                if name_taken(conn, "sys_roles", &name, None)? {
                    return Err(duplicate_name());
                }
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!(
                        "INSERT INTO sys_roles (id, name, parent_id, created_at) VALUES ({})",
                        placeholders(conn.dialect(), 1, 4)
                    ),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(name.clone()),
                        input
                            .parent_id
                            .map(SqlValue::Uuid)
                            .unwrap_or(SqlValue::Null),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let view = RoleView {
                    id: id.to_string(),
                    name: name.clone(),
                    parent_id: input.parent_id.map(|u| u.to_string()),
                };
                Ok(Audited::new(
                    view,
                    "role",
                    id,
                    json!({"name": name, "parent_id": input.parent_id}),
                ))
            }),
        )
        .await
    }

    /// Renames a role or moves it under another; a move that would make a cycle is refused.
    pub async fn update_role(
        &self,
        actor: &Actor,
        id: Uuid,
        input: RoleInput,
    ) -> Result<RoleView, CoreError> {
        let name = check_name(&input.name)?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "role.update",
            Box::new(move |conn, snapshot, _now| {
                if !snapshot.roles.contains(id) {
                    return Err(CoreError::not_found(format!("role {id}")));
                }
                if let Some(p) = input.parent_id {
                    if !snapshot.roles.contains(p) {
                        return Err(FieldError::new(
                            "parent_id",
                            Code::LookupNotFound,
                            "no such role",
                        )
                        .into());
                    }
                    if snapshot.roles.would_cycle(id, p) {
                        return Err(FieldError::new(
                            "parent_id",
                            Code::RoleCycle,
                            "the role would be beneath itself",
                        )
                        .into());
                    }
                }
                if name_taken(conn, "sys_roles", &name, Some(id))? {
                    return Err(duplicate_name());
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_roles SET name = ");
                sql.param(SqlValue::Text(name.clone()));
                sql.push(", parent_id = ");
                sql.param(
                    input
                        .parent_id
                        .map(SqlValue::Uuid)
                        .unwrap_or(SqlValue::Null),
                );
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                let view = RoleView {
                    id: id.to_string(),
                    name: name.clone(),
                    parent_id: input.parent_id.map(|u| u.to_string()),
                };
                Ok(Audited::new(
                    view,
                    "role",
                    id,
                    json!({"name": name, "parent_id": input.parent_id}),
                ))
            }),
        )
        .await
    }

    /// Deletes a role that no user holds and no role sits beneath.
    pub async fn delete_role(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.change_access(
            actor,
            Capability::ManageUsers,
            "role.delete",
            Box::new(move |conn, snapshot, _now| {
                if !snapshot.roles.contains(id) {
                    return Err(CoreError::not_found(format!("role {id}")));
                }
                let users = count(conn, "SELECT COUNT(*) FROM sys_users WHERE role_id = ", id)?;
                if users > 0 {
                    return Err(CoreError::Conflict {
                        code: "role_in_use",
                        message: format!(
                            "{users} user(s) still hold this role: give them another role first"
                        ),
                    });
                }
                if !snapshot.roles.descendants(id).is_empty() {
                    return Err(CoreError::Conflict {
                        code: "role_has_children",
                        message: "roles sit beneath this role: move or delete them first".into(),
                    });
                }
                delete_shares_of(conn, "role", id)?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_roles WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok(Audited::new((), "role", id, json!({})))
            }),
        )
        .await
    }

    pub async fn list_teams(&self, actor: &Actor) -> Result<Vec<TeamView>, CoreError> {
        actor.require_capability(Capability::ManageUsers)?;
        let snapshot = self.access_snapshot();
        self.store
            .read(move |conn| {
                let rows = conn.query("SELECT id, name FROM sys_teams ORDER BY name", &[])?;
                Ok::<_, CoreError>(
                    rows.into_iter()
                        .filter_map(|r| {
                            let id = r[0].as_uuid()?;
                            let mut members: Vec<String> = snapshot
                                .teams_of
                                .iter()
                                .filter(|(_, teams)| teams.contains(&id))
                                .map(|(u, _)| u.to_string())
                                .collect();
                            members.sort();
                            Some(TeamView {
                                id: id.to_string(),
                                name: r[1].as_str().unwrap_or_default().to_owned(),
                                members,
                            })
                        })
                        .collect(),
                )
            })
            .await
    }

    pub async fn create_team(&self, actor: &Actor, name: &str) -> Result<TeamView, CoreError> {
        let name = check_name(name)?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "team.create",
            Box::new(move |conn, _snapshot, now| {
                if name_taken(conn, "sys_teams", &name, None)? {
                    return Err(duplicate_name());
                }
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!(
                        "INSERT INTO sys_teams (id, name, created_at) VALUES ({})",
                        placeholders(conn.dialect(), 1, 3)
                    ),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(name.clone()),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let view = TeamView {
                    id: id.to_string(),
                    name: name.clone(),
                    members: Vec::new(),
                };
                Ok(Audited::new(view, "team", id, json!({"name": name})))
            }),
        )
        .await
    }

    pub async fn delete_team(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.change_access(
            actor,
            Capability::ManageUsers,
            "team.delete",
            Box::new(move |conn, _snapshot, _now| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_team_members WHERE team_id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                delete_shares_of(conn, "team", id)?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_teams WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("team {id}")));
                }
                Ok(Audited::new((), "team", id, json!({})))
            }),
        )
        .await
    }

    /// Adds (`member` true) or removes a user from a team.
    pub async fn set_team_member(
        &self,
        actor: &Actor,
        team: Uuid,
        user: Uuid,
        member: bool,
    ) -> Result<(), CoreError> {
        let action = if member {
            "team.add_member"
        } else {
            "team.remove_member"
        };
        self.change_access(
            actor,
            Capability::ManageUsers,
            action,
            Box::new(move |conn, snapshot, _now| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT 1 FROM sys_teams WHERE id = ");
                sql.param(SqlValue::Uuid(team));
                if conn.query_one(&sql.text, &sql.params)?.is_none() {
                    return Err(CoreError::not_found(format!("team {team}")));
                }
                if !snapshot.users.contains_key(&user) {
                    return Err(
                        FieldError::new("user_id", Code::LookupNotFound, "no such user").into(),
                    );
                }
                let already = snapshot
                    .teams_of
                    .get(&user)
                    .is_some_and(|t| t.contains(&team));
                let mut sql = Sql::new(conn.dialect());
                if member && !already {
                    sql.push("INSERT INTO sys_team_members (team_id, user_id) VALUES (");
                    sql.param(SqlValue::Uuid(team));
                    sql.push(", ");
                    sql.param(SqlValue::Uuid(user));
                    sql.push(")");
                    conn.execute(&sql.text, &sql.params)?;
                } else if !member && already {
                    sql.push("DELETE FROM sys_team_members WHERE team_id = ");
                    sql.param(SqlValue::Uuid(team));
                    sql.push(" AND user_id = ");
                    sql.param(SqlValue::Uuid(user));
                    conn.execute(&sql.text, &sql.params)?;
                }
                Ok(Audited::new((), "team", team, json!({"user_id": user})))
            }),
        )
        .await
    }
}

/// Removes the shares and sharing rules naming a principal that is going away.
pub(crate) fn delete_shares_of(conn: &mut dyn Conn, kind: &str, id: Uuid) -> Result<(), CoreError> {
    let kinds: &[&str] = match kind {
        "role" => &["role", "role_and_subordinates"],
        other => &[if other == "team" { "team" } else { "user" }],
    };
    for table in ["sys_record_shares", "sys_sharing_rules"] {
        for k in kinds {
            let mut sql = Sql::new(conn.dialect());
            sql.push(&format!("DELETE FROM {table} WHERE principal_kind = "));
            sql.param(SqlValue::Text((*k).to_owned()));
            sql.push(" AND principal_id = ");
            sql.param(SqlValue::Uuid(id));
            conn.execute(&sql.text, &sql.params)?;
        }
    }
    Ok(())
}
