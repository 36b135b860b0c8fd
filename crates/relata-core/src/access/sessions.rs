//! Signing in: password logins that open browser sessions, with throttling per account (a
//! lockout an administrator lifts) and per client address (a wait), and the sessions
//! themselves — idle and absolute expiry, list and revoke.
//!
//! A session is a random secret in an HttpOnly cookie, stored as its SHA-256 like API
//! tokens. Each session has its own CSRF token, which every state-changing request made with
//! the cookie must echo in a header.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use relata_domain::UserId;
use relata_domain::value::format_datetime;
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use super::password;
use crate::Core;
use crate::audit::{self, Who};
use crate::auth::{hash_token, random_secret};
use crate::context::{Actor, Source};
use crate::error::CoreError;

/// Prefix of session secrets (the cookie value).
pub const SESSION_PREFIX: &str = "rls_";

/// The window of the per-address login throttle.
const ADDRESS_WINDOW_SECS: i64 = 15 * 60;

/// A session just opened; the secret is shown only here.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
}

/// A session as its owner sees it in "my sessions".
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// A session found by its secret.
#[derive(Debug, Clone)]
pub struct SessionActor {
    pub actor: Actor,
    pub session_id: Uuid,
    pub csrf_token: String,
    /// The user's name, language and time zone, for pages rendered for them.
    pub profile: SessionProfile,
}

/// What a page needs to know about the signed-in user besides their access.
#[derive(Debug, Clone, Default)]
pub struct SessionProfile {
    pub name: String,
    pub locale: String,
    pub time_zone: String,
}

/// Failed logins per client address, in memory: a restart forgets them, which only gives an
/// attacker a fresh quarter hour at the price of the server restarting.
#[derive(Default)]
pub(crate) struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

impl LoginThrottle {
    pub(crate) fn recent(&self, addr: &str, now: DateTime<Utc>) -> (usize, Option<DateTime<Utc>>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let cutoff = now - Duration::seconds(ADDRESS_WINDOW_SECS);
        if map.len() > 100_000 {
            map.retain(|_, v| v.iter().any(|t| *t > cutoff));
        }
        let list = map.entry(addr.to_owned()).or_default();
        list.retain(|t| *t > cutoff);
        (list.len(), list.first().copied())
    }

    pub(crate) fn fail(&self, addr: &str, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(addr.to_owned()).or_default().push(now);
    }

    /// Seconds until the oldest failure in the window leaves it.
    pub(crate) fn wait_secs(oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
        oldest
            .map(|t| (t + Duration::seconds(ADDRESS_WINDOW_SECS) - now).num_seconds())
            .unwrap_or(ADDRESS_WINDOW_SECS)
            .max(1) as u64
    }
}

struct LoginRow {
    id: Uuid,
    hash: Option<String>,
    active: bool,
    locked: bool,
}

fn find_login(conn: &mut dyn Conn, email: &str) -> Result<Option<LoginRow>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT id, password_hash, active, locked_at FROM sys_users WHERE email = ");
    sql.param(SqlValue::Text(email.to_owned()));
    Ok(conn.query_one(&sql.text, &sql.params)?.and_then(|r| {
        Some(LoginRow {
            id: r[0].as_uuid()?,
            hash: r[1].as_str().map(str::to_owned),
            active: r[2].as_bool().unwrap_or(false),
            locked: !r[3].is_null(),
        })
    }))
}

/// Counts one more login attempt on an unlocked account and returns the count (consecutive
/// attempts without a success); `None` when the account is locked.
fn reserve_attempt(conn: &mut dyn Conn, id: Uuid) -> Result<Option<i64>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_users SET failed_logins = COALESCE(failed_logins, 0) + 1 WHERE locked_at IS NULL AND id = ");
    sql.param(SqlValue::Uuid(id));
    if conn.execute(&sql.text, &sql.params)? == 0 {
        return Ok(None);
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT failed_logins FROM sys_users WHERE id = ");
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| r[0].as_i64()))
}

fn throttled(wait: u64) -> CoreError {
    CoreError::TooManyRequests {
        code: "too_many_logins",
        message: "too many failed attempts from this address; wait and try again".into(),
        retry_after_secs: wait,
    }
}

/// Every refusal looks the same to the client: which part was wrong is for the audit log.
fn refused() -> CoreError {
    CoreError::Forbidden {
        message: "the email or password is wrong, or the account is locked or deactivated".into(),
    }
}

impl Core {
    /// 429 when the address has failed too often in the last quarter hour.
    pub(crate) fn check_login_throttle(
        &self,
        addr: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let (recent, oldest) = self.login_throttle.recent(addr, now);
        if recent >= self.settings.login_address_failures as usize {
            return Err(throttled(LoginThrottle::wait_secs(oldest, now)));
        }
        Ok(())
    }

    /// Checks an email and password and opens a session. Wrong passwords count towards the
    /// account's lockout and the address's throttle; every attempt is audited.
    pub async fn login(
        &self,
        email: &str,
        password_text: &str,
        client_addr: Option<String>,
        user_agent: Option<String>,
    ) -> Result<NewSession, CoreError> {
        let now = self.clock.now();
        let addr = client_addr.clone().unwrap_or_default();
        // cheap early refusal; the exact one is in the password queue (see `password`)
        self.check_login_throttle(&addr, now)?;
        let email = email.trim().to_lowercase();
        let lookup = email.clone();
        let row = self
            .store
            .read(move |conn| find_login(conn, &lookup))
            .await?;
        // … and against the account: an attempt is reserved while the account is unlocked,
        // and one past the limit is not even checked.
        let lockout = i64::from(self.settings.login_lockout_failures);
        let attempt = match row.as_ref().filter(|r| r.active && !r.locked) {
            Some(r) => {
                let id = r.id;
                self.store
                    .write(move |conn| reserve_attempt(conn, id))
                    .await?
            }
            None => None,
        };
        let within = attempt.is_some_and(|n| n <= lockout);
        // verified whatever the outcome, so every refusal costs the same time; a wrong
        // password counts against the address there
        let gate = password::Gate {
            throttle: self.login_throttle.clone(),
            addr: addr.clone(),
            limit: self.settings.login_address_failures as usize,
            now,
        };
        let ok = match self
            .passwords
            .verify(
                password_text.to_owned(),
                row.as_ref().and_then(|r| r.hash.clone()),
                Some(gate),
            )
            .await?
        {
            password::Verdict::Match => true,
            password::Verdict::NoMatch => false,
            password::Verdict::Throttled(wait) => return Err(throttled(wait)),
        };
        let who = Who {
            actor: row.as_ref().map(|r| r.id),
            source: Source::Ui,
            client_addr: client_addr.clone(),
        };
        if !(ok && within) {
            let reason = match &row {
                None => "unknown_email",
                Some(r) if !r.active => "deactivated",
                Some(_) if !within => "locked",
                Some(_) => "wrong_password",
            };
            let lock = row
                .as_ref()
                .map(|r| r.id)
                .filter(|_| attempt.is_some_and(|n| n >= lockout));
            self.store
                .write(move |conn| {
                    let mut locked_now = false;
                    if let Some(id) = lock {
                        let mut sql = Sql::new(conn.dialect());
                        sql.push("UPDATE sys_users SET locked_at = ");
                        sql.param(SqlValue::Timestamp(now));
                        sql.push(" WHERE locked_at IS NULL AND id = ");
                        sql.param(SqlValue::Uuid(id));
                        locked_now = conn.execute(&sql.text, &sql.params)? > 0;
                    }
                    audit::append(
                        conn,
                        &who,
                        now,
                        "auth.login_failed",
                        None,
                        json!({"email": email, "reason": reason}),
                    )?;
                    if locked_now {
                        audit::append(
                            conn,
                            &who,
                            now,
                            "auth.lockout",
                            None,
                            json!({"email": email}),
                        )?;
                    }
                    Ok::<_, CoreError>(())
                })
                .await?;
            return Err(refused());
        }
        let Some(row) = row else {
            return Err(refused());
        };
        let secret = random_secret(SESSION_PREFIX);
        let csrf_token = random_secret("");
        let expires_at = now + Duration::hours(i64::from(self.settings.session_absolute_hours));
        let (id, csrf) = (row.id, csrf_token.clone());
        let hash = hash_token(&secret);
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET failed_logins = 0 WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                let session = relata_domain::ids::uuid_v7_at(now);
                conn.execute(
                    &format!("INSERT INTO sys_sessions (id, user_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, client_addr, user_agent) VALUES ({})", placeholders(conn.dialect(), 1, 9)),
                    &[
                        SqlValue::Uuid(session),
                        SqlValue::Uuid(id),
                        SqlValue::Text(hash),
                        SqlValue::Text(csrf),
                        SqlValue::Timestamp(now),
                        SqlValue::Timestamp(now),
                        SqlValue::Timestamp(expires_at),
                        client_addr.map(SqlValue::Text).unwrap_or(SqlValue::Null),
                        user_agent.map(|u| SqlValue::Text(u.chars().take(200).collect())).unwrap_or(SqlValue::Null),
                    ],
                )?;
                audit::append(conn, &who, now, "auth.login", Some(("session", session)), json!({}))
            })
            .await?;
        Ok(NewSession {
            secret,
            csrf_token,
            user_id: UserId(row.id),
            expires_at,
        })
    }

    /// The actor of a live session. Touches `last_seen_at` at most once a minute (a write per
    /// request would serialise every browser request behind the writer).
    pub async fn authenticate_session(&self, secret: &str) -> Result<SessionActor, CoreError> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 200 {
            return Err(CoreError::Unauthenticated);
        }
        let hash = hash_token(secret);
        let now = self.clock.now();
        let idle = Duration::minutes(i64::from(self.settings.session_idle_minutes));
        let (session, user, csrf, last_seen, profile) = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT s.id, s.user_id, s.csrf_token, s.last_seen_at, u.name, u.locale, u.time_zone FROM sys_sessions s JOIN sys_users u ON u.id = s.user_id WHERE s.token_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(" AND s.revoked_at IS NULL AND u.active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND u.locked_at IS NULL AND s.expires_at > ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" AND s.last_seen_at > ");
                sql.param(SqlValue::Timestamp(now - idle));
                let r = conn.query_one(&sql.text, &sql.params)?.ok_or(CoreError::Unauthenticated)?;
                Ok::<_, CoreError>((
                    r[0].as_uuid().ok_or(CoreError::Unauthenticated)?,
                    r[1].as_uuid().ok_or(CoreError::Unauthenticated)?,
                    r[2].as_str().unwrap_or_default().to_owned(),
                    r[3].as_timestamp().unwrap_or(now),
                    SessionProfile {
                        name: r[4].as_str().unwrap_or_default().to_owned(),
                        locale: r[5].as_str().unwrap_or("en").to_owned(),
                        time_zone: r[6].as_str().unwrap_or("UTC").to_owned(),
                    },
                ))
            })
            .await?;
        if now - last_seen > Duration::minutes(1) {
            self.store
                .write(move |conn| {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push("UPDATE sys_sessions SET last_seen_at = ");
                    sql.param(SqlValue::Timestamp(now));
                    sql.push(" WHERE id = ");
                    sql.param(SqlValue::Uuid(session));
                    conn.execute(&sql.text, &sql.params)?;
                    Ok::<_, CoreError>(())
                })
                .await?;
        }
        let user = UserId(user);
        Ok(SessionActor {
            actor: Actor::user(self.fresh_access_of(user).await?, Source::Ui),
            session_id: session,
            csrf_token: csrf,
            profile,
        })
    }

    /// Ends one of the actor's sessions (logout, or "sign out that device").
    pub async fn revoke_session(&self, actor: &Actor, session: Uuid) -> Result<(), CoreError> {
        let who = Who::from(actor);
        let now = self.clock.now();
        let user = actor.user_id.0;
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_sessions SET revoked_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE revoked_at IS NULL AND id = ");
                sql.param(SqlValue::Uuid(session));
                sql.push(" AND user_id = ");
                sql.param(SqlValue::Uuid(user));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("session {session}")));
                }
                audit::append(
                    conn,
                    &who,
                    now,
                    "auth.logout",
                    Some(("session", session)),
                    json!({}),
                )
            })
            .await
    }

    /// The actor's live sessions, newest first.
    pub async fn my_sessions(
        &self,
        actor: &Actor,
        current: Option<Uuid>,
    ) -> Result<Vec<SessionView>, CoreError> {
        let user = actor.user_id.0;
        let now = self.clock.now();
        let idle = Duration::minutes(i64::from(self.settings.session_idle_minutes));
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, created_at, last_seen_at, expires_at, client_addr, user_agent FROM sys_sessions WHERE revoked_at IS NULL AND user_id = ");
                sql.param(SqlValue::Uuid(user));
                sql.push(" AND expires_at > ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" AND last_seen_at > ");
                sql.param(SqlValue::Timestamp(now - idle));
                sql.push(" ORDER BY created_at DESC");
                let rows = conn.query(&sql.text, &sql.params)?;
                let ts = |v: &SqlValue| v.as_timestamp().map(|t| format_datetime(&t)).unwrap_or_default();
                Ok::<_, CoreError>(
                    rows.iter()
                        .filter_map(|r| {
                            let id = r[0].as_uuid()?;
                            Some(SessionView {
                                id: id.to_string(),
                                created_at: ts(&r[1]),
                                last_seen_at: ts(&r[2]),
                                expires_at: ts(&r[3]),
                                client_addr: r[4].as_str().map(str::to_owned),
                                user_agent: r[5].as_str().map(str::to_owned),
                                current: Some(id) == current,
                            })
                        })
                        .collect(),
                )
            })
            .await
    }
}
