//! Sharing beyond ownership: an object's org-wide default, criteria-based sharing rules, and
//! shares of single records (manual shares and record-team members).

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::{AccessLevel, Capability, Operation, Principal};
use relata_domain::filter::type_filter;
use relata_domain::meta::{FieldType, ObjectDef, Sharing};
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders, meta_sql};

use super::org::check_name;
use super::{Audited, Snapshot};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::read::{self, Bin};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleView {
    pub id: String,
    pub object: String,
    pub name: String,
    pub filter: Json,
    pub principal: Principal,
    pub access: AccessLevel,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub object: String,
    pub name: String,
    pub filter: Json,
    pub principal: Principal,
    pub access: AccessLevel,
}

/// Why a record is shared: by hand, as a member of its record team (account team,
/// opportunity team), or (kept by the write path, never given by hand) as a colleague
/// invited to a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShareReason {
    #[default]
    Manual,
    RecordTeam,
    #[serde(skip_deserializing)]
    Attendee,
}

/// The reason of the read share a meeting's user attendee holds (`records::flow`).
pub const ATTENDEE_REASON: &str = "attendee";

impl ShareReason {
    fn as_str(&self) -> &'static str {
        match self {
            ShareReason::Manual => "manual",
            ShareReason::RecordTeam => "record_team",
            ShareReason::Attendee => ATTENDEE_REASON,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    pub principal: Principal,
    pub access: AccessLevel,
    #[serde(default)]
    pub reason: ShareReason,
    /// The member's role in a record team (e.g. "售前工程师").
    #[serde(default)]
    pub team_role: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShareView {
    pub id: String,
    pub principal: Principal,
    pub access: AccessLevel,
    pub reason: ShareReason,
    pub team_role: Option<String>,
}

/// The org-wide default of an object, as set by an admin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSharingInput {
    pub sharing: Sharing,
    #[serde(default)]
    pub manager_edit: bool,
}

fn principal_exists(
    snapshot: &Snapshot,
    conn: &mut dyn Conn,
    p: &Principal,
) -> Result<bool, CoreError> {
    Ok(match p {
        Principal::User(u) => snapshot.users.contains_key(u),
        Principal::Role(r) | Principal::RoleAndSubordinates(r) => snapshot.roles.contains(*r),
        Principal::Team(t) => {
            let mut sql = Sql::new(conn.dialect());
            sql.push("SELECT 1 FROM sys_teams WHERE id = ");
            sql.param(SqlValue::Uuid(*t));
            conn.query_one(&sql.text, &sql.params)?.is_some()
        }
    })
}

fn unknown_principal() -> CoreError {
    FieldError::new(
        "principal",
        Code::LookupNotFound,
        "no such user, role or team",
    )
    .into()
}

impl Core {
    /// Sets an object's org-wide default and whether managers may edit subordinates' records.
    pub async fn set_object_sharing(
        &self,
        actor: &Actor,
        object: &str,
        input: ObjectSharingInput,
    ) -> Result<ObjectDef, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        let object = self.object(object)?;
        if let Sharing::ControlledByParent { field } = &input.sharing {
            let ok = object.field(field.as_str()).is_some_and(|f| {
                f.field_type == FieldType::Lookup
                    && f.target
                        .as_ref()
                        .is_some_and(|t| t.as_str() != object.name())
            });
            if !ok {
                return Err(FieldError::new(
                    "sharing.field",
                    Code::InvalidOption,
                    format!("'{field}' is not a lookup to another object"),
                )
                .into());
            }
        }
        let mut updated = (*object).clone();
        updated.sharing = input.sharing.clone();
        updated.manager_edit = input.manager_edit;
        let saved = updated.clone();
        let who = crate::audit::Who::from(actor);
        let now = self.clock.now();
        let detail = json!({"sharing": serde_json::to_value(&input.sharing).unwrap_or_default(), "manager_edit": input.manager_edit});
        let name = object.name().to_owned();
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                meta_sql::update_object(conn, &saved)?;
                meta_sql::bump_version(conn)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "sharing.object_default",
                    None,
                    json!({"object": name, "change": detail}),
                )
            })
            .await?;
        self.reload_schema().await?;
        Ok(updated)
    }

    pub async fn list_sharing_rules(
        &self,
        actor: &Actor,
        object: Option<String>,
    ) -> Result<Vec<RuleView>, CoreError> {
        actor.require_capability(Capability::ManageUsers)?;
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, object, name, filter, principal_kind, principal_id, access FROM sys_sharing_rules");
                if let Some(o) = object {
                    sql.push(" WHERE object = ");
                    sql.param(SqlValue::Text(o));
                }
                sql.push(" ORDER BY object, name");
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(
                    rows.into_iter()
                        .filter_map(|r| {
                            Some(RuleView {
                                id: r[0].as_uuid()?.to_string(),
                                object: r[1].as_str()?.to_owned(),
                                name: r[2].as_str()?.to_owned(),
                                filter: match &r[3] {
                                    SqlValue::Json(j) => j.clone(),
                                    SqlValue::Text(s) => serde_json::from_str(s).ok()?,
                                    _ => return None,
                                },
                                principal: Principal::from_parts(r[4].as_str()?, r[5].as_uuid()?)?,
                                access: AccessLevel::parse(r[6].as_str()?)?,
                            })
                        })
                        .collect(),
                )
            })
            .await
    }

    /// Creates a sharing rule: records of `object` matching `filter` are shared with
    /// `principal`. The filter is checked against the object now (an unknown field is refused).
    pub async fn create_sharing_rule(
        &self,
        actor: &Actor,
        input: RuleInput,
    ) -> Result<RuleView, CoreError> {
        let object = self
            .object(&input.object)
            .map_err(|_| FieldError::new("object", Code::LookupNotFound, "no such object"))?;
        let name = check_name(&input.name)?;
        let filter = relata_domain::filter::json::parse(&input.filter)
            .map_err(|e| prefix_field("filter", e))?;
        type_filter(&filter, &object, self.clock.now(), &|_| true)
            .map_err(|e| prefix_field("filter", e))?;
        self.change_access(
            actor,
            Capability::ManageUsers,
            "sharing.rule_create",
            Box::new(move |conn, snapshot, now| {
                if !principal_exists(snapshot, conn, &input.principal)? {
                    return Err(unknown_principal());
                }
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!("INSERT INTO sys_sharing_rules (id, object, name, filter, principal_kind, principal_id, access, created_at) VALUES ({})", placeholders(conn.dialect(), 1, 8)),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(input.object.clone()),
                        SqlValue::Text(name.clone()),
                        SqlValue::Json(input.filter.clone()),
                        SqlValue::Text(input.principal.kind().to_owned()),
                        SqlValue::Uuid(input.principal.id()),
                        SqlValue::Text(input.access.as_str().to_owned()),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let view = RuleView { id: id.to_string(), object: input.object, name, filter: input.filter, principal: input.principal, access: input.access };
                let detail = serde_json::to_value(&view).unwrap_or_default();
                Ok(Audited::new(view, "sharing_rule", id, detail))
            }),
        )
        .await
    }

    pub async fn delete_sharing_rule(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.change_access(
            actor,
            Capability::ManageUsers,
            "sharing.rule_delete",
            Box::new(move |conn, _snapshot, _now| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_sharing_rules WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("sharing rule {id}")));
                }
                Ok(Audited::new((), "sharing_rule", id, json!({})))
            }),
        )
        .await
    }

    /// The shares of a record the actor can see.
    pub async fn record_shares(
        &self,
        actor: &Actor,
        object: &str,
        record: Uuid,
    ) -> Result<Vec<ShareView>, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Read)?;
        self.store
            .read(move |conn| {
                read::get(conn, &object, record, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {record}", object.name())))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, principal_kind, principal_id, access, reason, team_role FROM sys_record_shares WHERE object = ");
                sql.param(SqlValue::Text(object.name().to_owned()));
                sql.push(" AND record_id = ");
                sql.param(SqlValue::Uuid(record));
                sql.push(" ORDER BY created_at, id");
                let rows = conn.query(&sql.text, &sql.params)?;
                Ok(rows.into_iter().filter_map(|r| share_view(&r)).collect())
            })
            .await
    }

    /// Shares a record the actor may edit with a user, role or team.
    pub async fn share_record(
        &self,
        actor: &Actor,
        object: &str,
        record: Uuid,
        input: ShareInput,
    ) -> Result<ShareView, CoreError> {
        let object = self.object(object)?;
        let vis = self.full_access(actor, &object)?;
        let team_role = match &input.team_role {
            Some(r) => Some(check_name(r).map_err(|_| {
                FieldError::new(
                    "team_role",
                    Code::InvalidName,
                    "must be 1 to 100 characters",
                )
            })?),
            None => None,
        };
        let snapshot = self.access_snapshot();
        let who = crate::audit::Who::from(actor);
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                read::get(conn, &object, record, &vis, Bin::Live)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {record}", object.name())))?;
                if !principal_exists(&snapshot, conn, &input.principal)? {
                    return Err(unknown_principal());
                }
                // one share per principal and reason: sharing again changes the level
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_record_shares WHERE object = ");
                sql.param(SqlValue::Text(object.name().to_owned()));
                sql.push(" AND record_id = ");
                sql.param(SqlValue::Uuid(record));
                sql.push(" AND principal_kind = ");
                sql.param(SqlValue::Text(input.principal.kind().to_owned()));
                sql.push(" AND principal_id = ");
                sql.param(SqlValue::Uuid(input.principal.id()));
                sql.push(" AND reason = ");
                sql.param(SqlValue::Text(input.reason.as_str().to_owned()));
                conn.execute(&sql.text, &sql.params)?;
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!("INSERT INTO sys_record_shares (id, object, record_id, principal_kind, principal_id, access, reason, team_role, created_by, created_at) VALUES ({})", placeholders(conn.dialect(), 1, 10)),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(object.name().to_owned()),
                        SqlValue::Uuid(record),
                        SqlValue::Text(input.principal.kind().to_owned()),
                        SqlValue::Uuid(input.principal.id()),
                        SqlValue::Text(input.access.as_str().to_owned()),
                        SqlValue::Text(input.reason.as_str().to_owned()),
                        team_role.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null),
                        who.actor.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let view = ShareView { id: id.to_string(), principal: input.principal, access: input.access, reason: input.reason, team_role };
                crate::audit::append(conn, &who, now, "sharing.record_share", Some((object.name(), record)), serde_json::to_value(&view).unwrap_or_default())?;
                Ok(view)
            })
            .await
    }

    /// Removes one share of a record the actor may edit.
    pub async fn unshare_record(
        &self,
        actor: &Actor,
        object: &str,
        record: Uuid,
        share: Uuid,
    ) -> Result<(), CoreError> {
        let object = self.object(object)?;
        let vis = self.full_access(actor, &object)?;
        let who = crate::audit::Who::from(actor);
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                read::get(conn, &object, record, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {record}", object.name())))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_record_shares WHERE id = ");
                sql.param(SqlValue::Uuid(share));
                sql.push(" AND record_id = ");
                sql.param(SqlValue::Uuid(record));
                sql.push(" AND object = ");
                sql.param(SqlValue::Text(object.name().to_owned()));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("share {share}")));
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "sharing.record_unshare",
                    Some((object.name(), record)),
                    json!({"share_id": share}),
                )
            })
            .await
    }
}

fn share_view(r: &[SqlValue]) -> Option<ShareView> {
    Some(ShareView {
        id: r[0].as_uuid()?.to_string(),
        principal: Principal::from_parts(r[1].as_str()?, r[2].as_uuid()?)?,
        access: AccessLevel::parse(r[3].as_str()?)?,
        reason: match r[4].as_str()? {
            "record_team" => ShareReason::RecordTeam,
            ATTENDEE_REASON => ShareReason::Attendee,
            _ => ShareReason::Manual,
        },
        team_role: r[5].as_str().map(str::to_owned),
    })
}

/// Names a filter's field errors as `filter.<field>`.
fn prefix_field(prefix: &str, mut e: FieldError) -> FieldError {
    e.field = if e.field.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{}", e.field)
    };
    e
}
