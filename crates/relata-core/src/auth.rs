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

use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;

/// Prefix of every token, so leaked tokens are recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "rlt_";

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
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
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT u.id, u.is_admin FROM sys_api_tokens k JOIN sys_users u ON u.id = k.user_id WHERE k.token_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(" AND k.revoked_at IS NULL AND u.active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND (k.expires_at IS NULL OR k.expires_at > ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(")");
                let row = conn.query_one(&sql.text, &sql.params)?.ok_or(CoreError::Unauthenticated)?;
                let user_id = row[0].as_uuid().ok_or(CoreError::Unauthenticated)?;
                Ok(Actor { user_id: UserId(user_id), is_admin: row[1].as_bool().unwrap_or(false), source: Source::Api })
            })
            .await
    }
}

fn ensure_admin(
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
