//! The access tables in memory, and the derivation of one user's [`Access`] from them.

use std::collections::HashMap;

use relata_domain::UserId;
use relata_domain::access::{AccessLevel, EffectiveGrants, Grants, Principal, RoleTree};
use relata_domain::filter::Filter;
use relata_store::{Conn, SqlValue};
use uuid::Uuid;

use super::{Access, RuleGrant};
use crate::error::CoreError;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub is_admin: bool,
    pub active: bool,
    pub role_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct RuleRow {
    pub id: Uuid,
    pub object: String,
    pub filter: Filter,
    pub principal: Principal,
    pub access: AccessLevel,
}

/// Every access table, as of one version.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: i64,
    pub users: HashMap<Uuid, UserRow>,
    pub roles: RoleTree,
    pub sets: HashMap<Uuid, Grants>,
    pub user_sets: HashMap<Uuid, Vec<Uuid>>,
    pub teams_of: HashMap<Uuid, Vec<Uuid>>,
    pub rules: Vec<RuleRow>,
}

fn uuid_at(row: &[SqlValue], i: usize) -> Option<Uuid> {
    row.get(i).and_then(SqlValue::as_uuid)
}

fn json_at(row: &[SqlValue], i: usize) -> serde_json::Value {
    match row.get(i) {
        Some(SqlValue::Json(j)) => j.clone(),
        Some(SqlValue::Text(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

pub(super) fn stored_version(conn: &mut dyn Conn) -> Result<i64, CoreError> {
    Ok(conn
        .query_one("SELECT version FROM sys_meta_state WHERE id = 3", &[])?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}

impl Snapshot {
    pub fn load(conn: &mut dyn Conn) -> Result<Snapshot, CoreError> {
        let mut s = Snapshot {
            version: stored_version(conn)?,
            ..Default::default()
        };
        for r in conn.query(
            "SELECT id, is_admin, active, role_id, profile_id FROM sys_users",
            &[],
        )? {
            let Some(id) = uuid_at(&r, 0) else { continue };
            s.users.insert(
                id,
                UserRow {
                    is_admin: r[1].as_bool().unwrap_or(false),
                    active: r[2].as_bool().unwrap_or(false),
                    role_id: uuid_at(&r, 3),
                    profile_id: uuid_at(&r, 4),
                },
            );
        }
        let roles: Vec<(Uuid, Option<Uuid>)> = conn
            .query("SELECT id, parent_id FROM sys_roles", &[])?
            .into_iter()
            .filter_map(|r| Some((uuid_at(&r, 0)?, uuid_at(&r, 1))))
            .collect();
        s.roles = RoleTree::new(roles);
        for r in conn.query("SELECT id, grants FROM sys_permission_sets", &[])? {
            let Some(id) = uuid_at(&r, 0) else { continue };
            // A set that no longer parses grants nothing (never more than it said).
            let grants: Grants = serde_json::from_value(json_at(&r, 1)).unwrap_or_else(|e| {
                tracing::error!(set = %id, error = %e, "unreadable permission set");
                Grants::default()
            });
            s.sets.insert(id, grants);
        }
        for r in conn.query("SELECT user_id, set_id FROM sys_user_permission_sets", &[])? {
            if let (Some(u), Some(set)) = (uuid_at(&r, 0), uuid_at(&r, 1)) {
                s.user_sets.entry(u).or_default().push(set);
            }
        }
        for r in conn.query("SELECT team_id, user_id FROM sys_team_members", &[])? {
            if let (Some(t), Some(u)) = (uuid_at(&r, 0), uuid_at(&r, 1)) {
                s.teams_of.entry(u).or_default().push(t);
            }
        }
        for r in conn.query(
            "SELECT id, object, filter, principal_kind, principal_id, access FROM sys_sharing_rules",
            &[],
        )? {
            let (Some(id), Some(pid)) = (uuid_at(&r, 0), uuid_at(&r, 4)) else {
                continue;
            };
            let principal = Principal::from_parts(r[3].as_str().unwrap_or_default(), pid);
            let access = AccessLevel::parse(r[5].as_str().unwrap_or_default());
            let filter = relata_domain::filter::json::parse(&json_at(&r, 2));
            match (principal, access, filter) {
                (Some(principal), Some(access), Ok(filter)) => s.rules.push(RuleRow {
                    id,
                    object: r[1].as_str().unwrap_or_default().to_owned(),
                    filter,
                    principal,
                    access,
                }),
                _ => tracing::error!(rule = %id, "unreadable sharing rule ignored"),
            }
        }
        Ok(s)
    }

    /// The users holding any of `roles`.
    fn users_in_roles(&self, roles: &[Uuid]) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = self
            .users
            .iter()
            .filter(|(_, u)| u.role_id.is_some_and(|r| roles.contains(&r)))
            .map(|(id, _)| *id)
            .collect();
        out.sort();
        out
    }

    /// Whether `principal` includes the user.
    pub fn includes(&self, principal: &Principal, user: Uuid) -> bool {
        let Some(row) = self.users.get(&user) else {
            return false;
        };
        match principal {
            Principal::User(u) => *u == user,
            Principal::Role(r) => row.role_id == Some(*r),
            Principal::RoleAndSubordinates(r) => row
                .role_id
                .is_some_and(|mine| self.roles.with_ancestors(mine).contains(r)),
            Principal::Team(t) => self.teams_of.get(&user).is_some_and(|ts| ts.contains(t)),
        }
    }

    /// One active user's access; `None` for an unknown or deactivated user.
    pub fn access_for(&self, user: UserId) -> Option<Access> {
        let row = self.users.get(&user.0).filter(|u| u.active)?;
        let mut sets: Vec<Grants> = Vec::new();
        for id in row
            .profile_id
            .iter()
            .chain(self.user_sets.get(&user.0).into_iter().flatten())
        {
            if let Some(g) = self.sets.get(id) {
                sets.push(g.clone());
            }
        }
        let mut hierarchy_owners = vec![user.0];
        let mut principals: Vec<(&'static str, Vec<Uuid>)> = vec![("user", vec![user.0])];
        if let Some(role) = row.role_id {
            hierarchy_owners.extend(self.users_in_roles(&self.roles.descendants(role)));
            principals.push(("role", vec![role]));
            principals.push(("role_and_subordinates", self.roles.with_ancestors(role)));
        }
        if let Some(teams) = self.teams_of.get(&user.0) {
            principals.push(("team", teams.clone()));
        }
        let mut rules: HashMap<String, Vec<RuleGrant>> = HashMap::new();
        for r in self
            .rules
            .iter()
            .filter(|r| self.includes(&r.principal, user.0))
        {
            rules.entry(r.object.clone()).or_default().push(RuleGrant {
                rule_id: r.id,
                filter: r.filter.clone(),
                access: r.access,
            });
        }
        Some(Access {
            user_id: user,
            superuser: row.is_admin,
            grants: EffectiveGrants::new(sets),
            hierarchy_owners,
            principals,
            rules,
        })
    }
}
