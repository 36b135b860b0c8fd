//! Users and API tokens, as far as the platform needs them: the bootstrap administrator and
//! bearer tokens. Tokens are random 256-bit secrets shown once; only their SHA-256 is stored
//! (a fast hash is right for high-entropy secrets, unlike passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use relata_domain::UserId;
use relata_store::dialect::placeholders;
use relata_store::{Conn, Sql, SqlValue};

use serde::{Deserialize, Serialize};
use serde_json::json;

use relata_domain::access::Capability;
use relata_domain::value::format_datetime;
use relata_domain::{FieldError, FieldErrorCode};

use crate::Core;
use crate::audit::{self, Who};
use crate::context::{Actor, Source, TokenScope};
use crate::error::CoreError;

/// A new API token as a user asks for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
    /// Days until it expires; never when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Limits: absent for everything the user may do.
    #[serde(default)]
    pub scopes: Option<Vec<TokenScope>>,
}

/// A token as its owner sees it (never the secret, which is shown once at creation).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scopes: Option<Vec<TokenScope>>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// Prefix of every token, so leaked tokens are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "rlt_";

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Byte comparison whose time does not depend on where the inputs differ (tokens, CSRF
/// values, signatures).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 of `message` under `secret`, as lower-case hex (webhook signatures, web form
/// tokens).
pub fn hmac_sha256_hex(secret: &str, message: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A random 256-bit secret, URL-safe, after `prefix`.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn new_token() -> String {
    random_secret(TOKEN_PREFIX)
}

/// The first administrator, created on first use.
pub const BOOTSTRAP_EMAIL: &str = "admin@relata.local";

impl Core {
    /// Returns the bootstrap administrator's id, creating the user on first run.
    pub fn ensure_admin_blocking(&self) -> Result<UserId, CoreError> {
        let now = self.clock.now();
        self.store
            .write_blocking(move |conn| ensure_admin(conn, now))
    }

    /// Creates a new administrator token and returns it (the only time it is visible).
    pub fn create_admin_token_blocking(&self, name: &str) -> Result<String, CoreError> {
        let now = self.clock.now();
        let name = name.to_owned();
        self.store.write_blocking(move |conn| {
            let admin = ensure_admin(conn, now)?;
            let token = new_token();
            conn.execute(
                &format!("INSERT INTO sys_api_tokens (id, user_id, name, token_hash, created_at) VALUES ({})", placeholders(conn.dialect(), 1, 5)),
                &[
                    SqlValue::Uuid(UserId::new_at(now).0),
                    SqlValue::Uuid(admin.0),
                    SqlValue::Text(name),
                    SqlValue::Text(hash_token(&token)),
                    SqlValue::Timestamp(now),
                ],
            )?;
            Ok(token)
        })
    }

    /// The actor a bearer token stands for, or unauthenticated.
    pub async fn authenticate_token(&self, token: &str) -> Result<Actor, CoreError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(CoreError::Unauthenticated);
        }
        let hash = hash_token(token);
        let now = self.clock.now();
        let (user, scopes, token_id, last_used, expires_at) = self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT u.id, k.scopes, k.id, k.last_used_at, k.expires_at FROM sys_api_tokens k JOIN sys_users u ON u.id = k.user_id WHERE k.token_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(" AND k.revoked_at IS NULL AND u.active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND (k.expires_at IS NULL OR k.expires_at > ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(")");
                let row = conn.query_one(&sql.text, &sql.params)?.ok_or(CoreError::Unauthenticated)?;
                let user = row[0].as_uuid().map(UserId).ok_or(CoreError::Unauthenticated)?;
                let scopes: Option<Vec<TokenScope>> = match &row[1] {
                    SqlValue::Json(j) => Some(serde_json::from_value(j.clone()).map_err(|_| CoreError::Unauthenticated)?),
                    SqlValue::Text(t) => Some(serde_json::from_str(t).map_err(|_| CoreError::Unauthenticated)?),
                    _ => None,
                };
                Ok::<_, CoreError>((user, scopes, row[2].as_uuid(), row[3].as_timestamp(), row[4].as_timestamp()))
            })
            .await?;
        // "last used" to the minute: a write per request would queue every call behind the
        // writer
        if let Some(id) = token_id
            && last_used.is_none_or(|t| now - t > chrono::Duration::minutes(1))
        {
            self.store
                .write(move |conn| {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push("UPDATE sys_api_tokens SET last_used_at = ");
                    sql.param(SqlValue::Timestamp(now));
                    sql.push(" WHERE id = ");
                    sql.param(SqlValue::Uuid(id));
                    conn.execute(&sql.text, &sql.params)?;
                    Ok::<_, CoreError>(())
                })
                .await?;
        }
        let mut actor = Actor::user(self.fresh_access_of(user).await?, Source::Api);
        actor.scopes = scopes.map(Into::into);
        actor.credential_expires_at = expires_at;
        Ok(actor)
    }

    /// Creates an API token for the actor; the secret is returned only here.
    pub async fn create_token(
        &self,
        actor: &Actor,
        input: TokenInput,
    ) -> Result<(TokenView, String), CoreError> {
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(FieldError::new(
                "name",
                FieldErrorCode::InvalidName,
                "must be 1 to 100 characters",
            )
            .into());
        }
        if let Some(days) = input.expires_in_days
            && !(1..=3650).contains(&days)
        {
            return Err(FieldError::new(
                "expires_in_days",
                FieldErrorCode::TooLarge,
                "must be between 1 and 3650",
            )
            .into());
        }
        if let Some(scopes) = &input.scopes {
            let schema = self.schema();
            let errors: Vec<FieldError> = scopes
                .iter()
                .filter(|s| s.object != "*" && schema.object(&s.object).is_none())
                .map(|s| {
                    FieldError::new(
                        "scopes",
                        FieldErrorCode::UnknownField,
                        format!("no object '{}'", s.object),
                    )
                })
                .collect();
            if !errors.is_empty() {
                return Err(CoreError::Validation(errors));
            }
        }
        // A limited token cannot make tokens at all (a child could outlive or outgrow it).
        if actor.scopes.is_some() {
            return Err(CoreError::Forbidden {
                message: "a token limited to record scopes cannot create tokens".into(),
            });
        }
        let now = self.clock.now();
        let token = new_token();
        let id = relata_domain::ids::uuid_v7_at(now);
        // A token never outlives the token that creates it (a session does not bind it:
        // making long-lived tokens is what the settings page is for).
        let expires_at = match (
            input
                .expires_in_days
                .map(|d| now + chrono::Duration::days(i64::from(d))),
            actor.credential_expires_at,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let view = TokenView {
            id: id.to_string(),
            name: name.clone(),
            scopes: input.scopes.clone(),
            created_at: format_datetime(&now),
            expires_at: expires_at.map(|t| format_datetime(&t)),
            last_used_at: None,
        };
        let who = Who::from(actor);
        let user = actor.user_id.0;
        let hash = hash_token(&token);
        let scopes = input
            .scopes
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        self.store
            .write(move |conn| {
                conn.execute(
                    &format!("INSERT INTO sys_api_tokens (id, user_id, name, token_hash, created_at, expires_at, scopes) VALUES ({})", placeholders(conn.dialect(), 1, 7)),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Uuid(user),
                        SqlValue::Text(name),
                        SqlValue::Text(hash),
                        SqlValue::Timestamp(now),
                        expires_at.map(SqlValue::Timestamp).unwrap_or(SqlValue::Null),
                        scopes.map(SqlValue::Json).unwrap_or(SqlValue::Null),
                    ],
                )?;
                audit::append(conn, &who, now, "token.create", Some(("token", id)), json!({}))
            })
            .await?;
        Ok((view, token))
    }

    /// The actor's tokens that are not revoked (never their secrets).
    pub async fn my_tokens(&self, actor: &Actor) -> Result<Vec<TokenView>, CoreError> {
        let user = actor.user_id.0;
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, name, scopes, created_at, expires_at, last_used_at FROM sys_api_tokens WHERE revoked_at IS NULL AND user_id = ");
                sql.param(SqlValue::Uuid(user));
                sql.push(" ORDER BY created_at DESC");
                let rows = conn.query(&sql.text, &sql.params)?;
                let ts = |v: &SqlValue| v.as_timestamp().map(|t| format_datetime(&t));
                Ok::<_, CoreError>(
                    rows.iter()
                        .map(|r| TokenView {
                            id: r[0].as_uuid().unwrap_or_default().to_string(),
                            name: r[1].as_str().unwrap_or_default().to_owned(),
                            scopes: match &r[2] {
                                SqlValue::Json(j) => serde_json::from_value(j.clone()).ok(),
                                SqlValue::Text(t) => serde_json::from_str(t).ok(),
                                _ => None,
                            },
                            created_at: ts(&r[3]).unwrap_or_default(),
                            expires_at: ts(&r[4]),
                            last_used_at: ts(&r[5]),
                        })
                        .collect(),
                )
            })
            .await
    }

    /// Revokes one of the actor's tokens (administrators with manage-users: anyone's).
    pub async fn revoke_token(&self, actor: &Actor, id: uuid::Uuid) -> Result<(), CoreError> {
        let any_user = actor.require_capability(Capability::ManageUsers).is_ok();
        let user = actor.user_id.0;
        let who = Who::from(actor);
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_api_tokens SET revoked_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE revoked_at IS NULL AND id = ");
                sql.param(SqlValue::Uuid(id));
                if !any_user {
                    sql.push(" AND user_id = ");
                    sql.param(SqlValue::Uuid(user));
                }
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("token {id}")));
                }
                audit::append(
                    conn,
                    &who,
                    now,
                    "token.revoke",
                    Some(("token", id)),
                    json!({}),
                )
            })
            .await?;
        // revocation is an access change: caches of verified tokens compare the version
        self.store
            .write(|conn| crate::access::bump_version(conn))
            .await?;
        self.reload_access().await
    }

    /// A user's access; reloads the snapshot once when the user is not in it (created by
    /// another server on the same database).
    pub async fn fresh_access_of(
        &self,
        user: UserId,
    ) -> Result<std::sync::Arc<crate::access::Access>, CoreError> {
        match self.access_of(user) {
            Ok(a) => Ok(a),
            Err(_) => {
                self.reload_access().await?;
                self.access_of(user)
            }
        }
    }
}

pub(crate) fn ensure_admin(
    conn: &mut dyn Conn,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<UserId, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT id FROM sys_users WHERE is_admin = ");
    sql.param(SqlValue::Bool(true));
    sql.push(" ORDER BY created_at LIMIT 1");
    if let Some(row) = conn.query_one(&sql.text, &sql.params)?
        && let Some(id) = row[0].as_uuid()
    {
        return Ok(UserId(id));
    }
    let id = UserId::new_at(now);
    conn.execute(
        &format!(
            "INSERT INTO sys_users (id, name, email, is_admin, active, created_at) VALUES ({})",
            placeholders(conn.dialect(), 1, 6)
        ),
        &[
            SqlValue::Uuid(id.0),
            SqlValue::Text("Administrator".into()),
            SqlValue::Text(BOOTSTRAP_EMAIL.into()),
            SqlValue::Bool(true),
            SqlValue::Bool(true),
            SqlValue::Timestamp(now),
        ],
    )?;
    Ok(id)
}
