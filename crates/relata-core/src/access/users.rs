//! Users: create, change, deactivate, unlock, set passwords. A deactivated user cannot sign in
//! or use tokens; their records keep them as owner until transferred.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::{Capability, password_problem};
use relata_domain::value::{format_datetime, is_email};
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use super::{Audited, Snapshot, password};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// Languages of the UI.
pub const LOCALES: &[&str] = &["en", "zh-CN"];

/// A user as the admin API shows it (never a password hash).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub locale: String,
    pub time_zone: String,
    pub role_id: Option<String>,
    pub profile_id: Option<String>,
    pub permission_sets: Vec<String>,
    pub teams: Vec<String>,
    pub department: Option<String>,
    pub is_admin: bool,
    pub active: bool,
    pub locked: bool,
    pub has_password: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, name, email, locale, time_zone, role_id, profile_id, department, is_admin, active, locked_at, password_hash, created_at";

fn view(r: &[SqlValue], snapshot: &Snapshot) -> Option<UserView> {
    let id = r[0].as_uuid()?;
    let ids = |v: Option<&Vec<Uuid>>| {
        let mut out: Vec<String> = v.into_iter().flatten().map(Uuid::to_string).collect();
        out.sort();
        out
    };
    Some(UserView {
        id: id.to_string(),
        name: r[1].as_str().unwrap_or_default().to_owned(),
        email: r[2].as_str().unwrap_or_default().to_owned(),
        locale: r[3].as_str().unwrap_or("en").to_owned(),
        time_zone: r[4].as_str().unwrap_or("UTC").to_owned(),
        role_id: r[5].as_uuid().map(|u| u.to_string()),
        profile_id: r[6].as_uuid().map(|u| u.to_string()),
        permission_sets: ids(snapshot.user_sets.get(&id)),
        teams: ids(snapshot.teams_of.get(&id)),
        department: r[7].as_str().map(str::to_owned),
        is_admin: r[8].as_bool().unwrap_or(false),
        active: r[9].as_bool().unwrap_or(false),
        locked: !r[10].is_null(),
        has_password: !r[11].is_null(),
        created_at: r[12]
            .as_timestamp()
            .map(|t| format_datetime(&t))
            .unwrap_or_default(),
    })
}

pub(crate) fn load_user(
    conn: &mut dyn Conn,
    snapshot: &Snapshot,
    id: Uuid,
) -> Result<UserView, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_users WHERE id = "));
    sql.param(SqlValue::Uuid(id));
    conn.query_one(&sql.text, &sql.params)?
        .and_then(|r| view(&r, snapshot))
        .ok_or_else(|| CoreError::not_found(format!("user {id}")))
}

/// The user fields a client may send, checked. Absent keys stay `None`; for nullable
/// columns `Some(None)` clears.
#[derive(Debug, Default, Clone)]
struct UserChanges {
    name: Option<String>,
    email: Option<String>,
    locale: Option<String>,
    time_zone: Option<String>,
    role_id: Option<Option<Uuid>>,
    profile_id: Option<Option<Uuid>>,
    department: Option<Option<String>>,
    is_admin: Option<bool>,
    active: Option<bool>,
    password: Option<String>,
}

fn text(errors: &mut Vec<FieldError>, key: &str, v: &Json, max: usize) -> Option<String> {
    match v.as_str().map(str::trim) {
        Some(s)
            if !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control) =>
        {
            Some(s.to_owned())
        }
        Some("") => {
            errors.push(FieldError::new(key, Code::Required, "must not be empty"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                key,
                Code::TooLong,
                format!("must be at most {max} characters without control characters"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(key, Code::WrongType, "expected a string"));
            None
        }
    }
}

fn optional_id(errors: &mut Vec<FieldError>, key: &str, v: &Json) -> Option<Option<Uuid>> {
    match v {
        Json::Null => Some(None),
        Json::String(s) => match Uuid::parse_str(s) {
            Ok(u) => Some(Some(u)),
            Err(_) => {
                errors.push(FieldError::new(key, Code::WrongType, "expected an id"));
                None
            }
        },
        _ => {
            errors.push(FieldError::new(
                key,
                Code::WrongType,
                "expected an id or null",
            ));
            None
        }
    }
}

fn boolean(errors: &mut Vec<FieldError>, key: &str, v: &Json) -> Option<bool> {
    let b = v.as_bool();
    if b.is_none() {
        errors.push(FieldError::new(
            key,
            Code::WrongType,
            "expected true or false",
        ));
    }
    b
}

/// A time-zone name shaped like the IANA database's (`Asia/Shanghai`, `UTC`).
fn is_time_zone(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

fn parse_changes(input: &Json, creating: bool) -> Result<UserChanges, CoreError> {
    let Json::Object(map) = input else {
        return Err(CoreError::BadRequest {
            code: "invalid_body",
            message: "expected a JSON object".into(),
        });
    };
    let mut c = UserChanges::default();
    let mut errors = Vec::new();
    for (key, v) in map {
        match key.as_str() {
            "name" => c.name = text(&mut errors, key, v, 100),
            "email" => {
                c.email = text(&mut errors, key, v, 254).and_then(|e| {
                    let e = e.to_lowercase();
                    if is_email(&e) {
                        Some(e)
                    } else {
                        errors.push(FieldError::new(
                            key,
                            Code::InvalidEmail,
                            "is not an email address",
                        ));
                        None
                    }
                })
            }
            "locale" => {
                c.locale = text(&mut errors, key, v, 10).and_then(|l| {
                    if LOCALES.contains(&l.as_str()) {
                        Some(l)
                    } else {
                        errors.push(FieldError::new(
                            key,
                            Code::InvalidOption,
                            format!("must be one of {}", LOCALES.join(", ")),
                        ));
                        None
                    }
                })
            }
            "time_zone" => {
                c.time_zone = text(&mut errors, key, v, 64).and_then(|z| {
                    if is_time_zone(&z) {
                        Some(z)
                    } else {
                        errors.push(FieldError::new(
                            key,
                            Code::InvalidOption,
                            "must be a time-zone name such as Asia/Shanghai",
                        ));
                        None
                    }
                })
            }
            "role_id" => c.role_id = optional_id(&mut errors, key, v),
            "profile_id" => c.profile_id = optional_id(&mut errors, key, v),
            "department" => {
                c.department = if v.is_null() {
                    Some(None)
                } else {
                    text(&mut errors, key, v, 100).map(Some)
                }
            }
            "is_admin" => c.is_admin = boolean(&mut errors, key, v),
            "active" => c.active = boolean(&mut errors, key, v),
            "password" => match v.as_str() {
                Some(p) => c.password = Some(p.to_owned()),
                None => errors.push(FieldError::new(key, Code::WrongType, "expected a string")),
            },
            _ => errors.push(FieldError::new(
                key,
                Code::UnknownField,
                "is not a user field",
            )),
        }
    }
    if creating {
        for (key, present) in [
            ("name", map.contains_key("name")),
            ("email", map.contains_key("email")),
        ] {
            if !present {
                errors.push(FieldError::new(key, Code::Required, "is required"));
            }
        }
    }
    if let Some(p) = &c.password {
        let email = c.email.clone().unwrap_or_default();
        let name = c.name.clone().unwrap_or_default();
        if let Some(problem) = password_problem(p, &email, &name) {
            errors.push(FieldError::new("password", Code::WeakPassword, problem));
        }
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(CoreError::Validation(errors))
    }
}

/// Checks references and uniqueness against the database; one error per problem.
fn check_references(
    conn: &mut dyn Conn,
    snapshot: &Snapshot,
    c: &UserChanges,
    user: Option<Uuid>,
) -> Result<(), CoreError> {
    let mut errors = Vec::new();
    if let Some(Some(role)) = c.role_id
        && !snapshot.roles.contains(role)
    {
        errors.push(FieldError::new(
            "role_id",
            Code::LookupNotFound,
            "no such role",
        ));
    }
    if let Some(Some(profile)) = c.profile_id {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT is_profile FROM sys_permission_sets WHERE id = ");
        sql.param(SqlValue::Uuid(profile));
        match conn.query_one(&sql.text, &sql.params)? {
            Some(r) if r[0].as_bool() == Some(true) => {}
            Some(_) => errors.push(FieldError::new(
                "profile_id",
                Code::InvalidOption,
                "is a permission set, not a profile",
            )),
            None => errors.push(FieldError::new(
                "profile_id",
                Code::LookupNotFound,
                "no such profile",
            )),
        }
    }
    if let Some(email) = &c.email {
        let mut sql = Sql::new(conn.dialect());
        sql.push("SELECT id FROM sys_users WHERE email = ");
        sql.param(SqlValue::Text(email.clone()));
        if let Some(r) = conn.query_one(&sql.text, &sql.params)?
            && r[0].as_uuid() != user
        {
            errors.push(FieldError::new(
                "email",
                Code::Duplicate,
                "another user has this email",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Validation(errors))
    }
}

/// Refuses a change that would leave no active system administrator.
fn keep_an_admin(snapshot: &Snapshot, user: Uuid, c: &UserChanges) -> Result<(), CoreError> {
    let demoting = c.is_admin == Some(false) || c.active == Some(false);
    let is_admin = snapshot
        .users
        .get(&user)
        .is_some_and(|u| u.is_admin && u.active);
    if demoting && is_admin {
        let others = snapshot
            .users
            .iter()
            .any(|(id, u)| *id != user && u.is_admin && u.active);
        if !others {
            return Err(CoreError::Conflict {
                code: "last_admin",
                message: "this is the last active administrator: make another user an administrator first".into(),
            });
        }
    }
    Ok(())
}

fn set_columns(sql: &mut Sql, c: &UserChanges, hash: Option<String>, now: DateTime<Utc>) {
    let mut sets: Vec<(&str, SqlValue)> = Vec::new();
    let text = |v: &Option<String>| v.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null);
    let id = |v: &Option<Uuid>| v.map(SqlValue::Uuid).unwrap_or(SqlValue::Null);
    if let Some(v) = &c.name {
        sets.push(("name", SqlValue::Text(v.clone())));
    }
    if let Some(v) = &c.email {
        sets.push(("email", SqlValue::Text(v.clone())));
    }
    if let Some(v) = &c.locale {
        sets.push(("locale", SqlValue::Text(v.clone())));
    }
    if let Some(v) = &c.time_zone {
        sets.push(("time_zone", SqlValue::Text(v.clone())));
    }
    if let Some(v) = &c.role_id {
        sets.push(("role_id", id(v)));
    }
    if let Some(v) = &c.profile_id {
        sets.push(("profile_id", id(v)));
    }
    if let Some(v) = &c.department {
        sets.push(("department", text(v)));
    }
    if let Some(v) = c.is_admin {
        sets.push(("is_admin", SqlValue::Bool(v)));
    }
    if let Some(v) = c.active {
        sets.push(("active", SqlValue::Bool(v)));
    }
    if let Some(h) = hash {
        sets.push(("password_hash", SqlValue::Text(h)));
    }
    sets.push(("updated_at", SqlValue::Timestamp(now)));
    for (i, (col, v)) in sets.into_iter().enumerate() {
        sql.push(if i == 0 { " " } else { ", " });
        sql.push(&format!("{col} = "));
        sql.param(v);
    }
}

/// What the audit log keeps of a change: the keys, never a password.
fn changed_keys(input: &Json) -> Json {
    let keys: Vec<&String> = input
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({ "fields": keys })
}

impl Core {
    /// Creates a user. Without `profile_id` the user gets the built-in standard profile.
    pub async fn create_user(&self, actor: &Actor, input: Json) -> Result<UserView, CoreError> {
        let mut c = parse_changes(&input, true)?;
        if c.is_admin == Some(true) && !actor.is_superuser() {
            return Err(CoreError::Forbidden {
                message: "only an administrator may create an administrator".into(),
            });
        }
        let hash = match c.password.take() {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let detail = changed_keys(&input);
        self.change_access(
            actor,
            Capability::ManageUsers,
            "user.create",
            Box::new(move |conn, snapshot, now| {
                check_references(conn, snapshot, &c, None)?;
                let id = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!(
                        "INSERT INTO sys_users (id, name, email, is_admin, active, created_at, profile_id, locale, time_zone) VALUES ({})",
                        placeholders(conn.dialect(), 1, 9)
                    ),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(c.name.clone().unwrap_or_default()),
                        SqlValue::Text(c.email.clone().unwrap_or_default()),
                        SqlValue::Bool(c.is_admin.unwrap_or(false)),
                        SqlValue::Bool(c.active.unwrap_or(true)),
                        SqlValue::Timestamp(now),
                        SqlValue::Uuid(relata_store::migrations::STANDARD_PROFILE_ID),
                        SqlValue::Text("en".into()),
                        SqlValue::Text("UTC".into()),
                    ],
                )?;
                let rest = UserChanges {
                    name: None,
                    email: None,
                    is_admin: None,
                    active: None,
                    ..c
                };
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET");
                set_columns(&mut sql, &rest, hash, now);
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                let view = load_user(conn, snapshot, id)?;
                Ok(Audited::new(view, "user", id, detail))
            }),
        )
        .await
    }

    /// Changes a user (a partial update). Deactivating keeps their records and their
    /// ownership; it ends their sessions and tokens at once.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: Uuid,
        input: Json,
    ) -> Result<UserView, CoreError> {
        let mut c = parse_changes(&input, false)?;
        if c.is_admin.is_some() && !actor.is_superuser() {
            return Err(CoreError::Forbidden {
                message: "only an administrator may grant or remove administrator rights".into(),
            });
        }
        if let Some(p) = &c.password {
            // the rules compare with the user's own name and email, as they will be
            let current = self.get_user(actor, id).await?;
            let email = c.email.clone().unwrap_or(current.email);
            let name = c.name.clone().unwrap_or(current.name);
            if let Some(problem) = password_problem(p, &email, &name) {
                return Err(FieldError::new("password", Code::WeakPassword, problem).into());
            }
        }
        let hash = match c.password.take() {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let detail = changed_keys(&input);
        let is_superuser = actor.is_superuser();
        let new_password = hash.is_some();
        let action = match c.active {
            Some(false) => "user.deactivate",
            _ => "user.update",
        };
        self.change_access(
            actor,
            Capability::ManageUsers,
            action,
            Box::new(move |conn, snapshot, now| {
                let Some(target) = snapshot.users.get(&id) else {
                    return Err(CoreError::not_found(format!("user {id}")));
                };
                // a user manager who is not an administrator must not take over one (by
                // setting their password or email) or switch one off
                if target.is_admin && !is_superuser {
                    return Err(CoreError::Forbidden {
                        message: "only an administrator may change an administrator".into(),
                    });
                }
                keep_an_admin(snapshot, id, &c)?;
                check_references(conn, snapshot, &c, Some(id))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET");
                set_columns(&mut sql, &c, hash, now);
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                // deactivation, or new credentials set by someone else (recovering an
                // account): whoever is signed in with the old ones is signed out
                if c.active == Some(false) || new_password {
                    end_sessions(conn, id, now)?;
                }
                let view = load_user(conn, snapshot, id)?;
                Ok(Audited::new(view, "user", id, detail))
            }),
        )
        .await
    }

    /// Lifts a lockout after too many failed logins.
    pub async fn unlock_user(&self, actor: &Actor, id: Uuid) -> Result<UserView, CoreError> {
        self.change_access(
            actor,
            Capability::ManageUsers,
            "user.unlock",
            Box::new(move |conn, snapshot, _now| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET locked_at = NULL, failed_logins = 0 WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("user {id}")));
                }
                let view = load_user(conn, snapshot, id)?;
                Ok(Audited::new(view, "user", id, json!({})))
            }),
        )
        .await
    }

    /// Every user, by name. Needs manage-users.
    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>, CoreError> {
        actor.require_capability(Capability::ManageUsers)?;
        let snapshot = self.access_snapshot();
        self.store
            .read(move |conn| {
                let rows = conn.query(
                    &format!("SELECT {COLUMNS} FROM sys_users ORDER BY name, id"),
                    &[],
                )?;
                Ok::<_, CoreError>(rows.iter().filter_map(|r| view(r, &snapshot)).collect())
            })
            .await
    }

    /// One user: anyone may read themselves; others need manage-users.
    pub async fn get_user(&self, actor: &Actor, id: Uuid) -> Result<UserView, CoreError> {
        if id != actor.user_id.0 {
            actor.require_capability(Capability::ManageUsers)?;
        }
        let snapshot = self.access_snapshot();
        self.store
            .read(move |conn| load_user(conn, &snapshot, id))
            .await
    }

    /// Changes one's own profile: name, language, time zone.
    pub async fn update_me(&self, actor: &Actor, input: Json) -> Result<UserView, CoreError> {
        let allowed = ["name", "locale", "time_zone"];
        if let Some(map) = input.as_object() {
            let errors: Vec<FieldError> = map
                .keys()
                .filter(|k| !allowed.contains(&k.as_str()))
                .map(|k| FieldError::new(k, Code::ReadOnly, "cannot be changed here"))
                .collect();
            if !errors.is_empty() {
                return Err(CoreError::Validation(errors));
            }
        }
        let c = parse_changes(&input, false)?;
        let id = actor.user_id.0;
        let who = crate::audit::Who::from(actor);
        let detail = changed_keys(&input);
        let snapshot = self.access_snapshot();
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET");
                set_columns(&mut sql, &c, None, now);
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "user.update_self",
                    Some(("user", id)),
                    detail,
                )?;
                load_user(conn, &snapshot, id)
            })
            .await
    }

    /// Changes one's own password; the current one must be given. Other sessions end.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> Result<(), CoreError> {
        let id = actor.user_id.0;
        let (stored, email, name) = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT password_hash, email, name FROM sys_users WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                let r = conn
                    .query_one(&sql.text, &sql.params)?
                    .ok_or(CoreError::Unauthenticated)?;
                Ok::<_, CoreError>((
                    r[0].as_str().map(str::to_owned),
                    r[1].as_str().unwrap_or_default().to_owned(),
                    r[2].as_str().unwrap_or_default().to_owned(),
                ))
            })
            .await?;
        // Guessing the current password from a stolen session is throttled like signing in,
        // per user.
        let gate = password::Gate {
            throttle: self.login_throttle.clone(),
            addr: format!("password-change:{id}"),
            limit: self.settings.login_lockout_failures as usize,
            now: self.clock.now(),
        };
        let verdict = self
            .passwords
            .verify(current.to_owned(), stored, Some(gate))
            .await?;
        if let password::Verdict::Throttled(wait) = verdict {
            return Err(CoreError::TooManyRequests {
                code: "too_many_attempts",
                message: "too many wrong current passwords; wait and try again".into(),
                retry_after_secs: wait,
            });
        }
        if verdict != password::Verdict::Match {
            return Err(FieldError::new(
                "current_password",
                Code::PatternMismatch,
                "is not your current password",
            )
            .into());
        }
        if let Some(problem) = password_problem(new, &email, &name) {
            return Err(FieldError::new("new_password", Code::WeakPassword, problem).into());
        }
        let hash = self.passwords.hash(new.to_owned()).await?;
        let who = crate::audit::Who::from(actor);
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET password_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(", updated_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                end_sessions(conn, id, now)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "user.password_change",
                    Some(("user", id)),
                    json!({}),
                )
            })
            .await
    }
}

/// Revokes every session of a user (deactivation, password change).
pub(crate) fn end_sessions(
    conn: &mut dyn Conn,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_sessions SET revoked_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE revoked_at IS NULL AND user_id = ");
    sql.param(SqlValue::Uuid(user));
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}
