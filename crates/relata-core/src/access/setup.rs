//! First-run setup and password reset.
//!
//! There is no default password anywhere. Setup is open only on an untouched installation:
//! no user has a password, no API token was ever created (`relata token create` and
//! `serve --demo` make one for the server's owner, who then sets passwords with it) and no one
//! has signed in. It gives the first administrator a name, an email and a password — once,
//! atomically. Until then the server listens on loopback by default; an owner who exposes a
//! fresh server should complete setup first. Afterwards passwords change through the user's
//! own settings, an administrator, or a reset by email.
//!
//! A reset sends a one-time token (30 minutes, stored as its SHA-256) through the mailer
//! port. The request answers the same whether or not the email is known, so it cannot be
//! used to discover accounts.

use chrono::Duration;
use serde_json::json;

use relata_domain::access::password_problem;
use relata_domain::value::is_email;
use relata_domain::{FieldError, FieldErrorCode as Code, UserId};
use relata_store::{Sql, SqlValue, dialect::placeholders};

use super::users::end_sessions;
use crate::Core;
use crate::audit::{self, Who};
use crate::auth::{hash_token, random_secret};
use crate::context::Source;
use crate::error::CoreError;
use crate::mail::Mail;

const RESET_MINUTES: i64 = 30;

/// A row while the installation is untouched (see the module documentation).
const UNTOUCHED: &str = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM sys_users WHERE password_hash IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM sys_api_tokens) AND NOT EXISTS (SELECT 1 FROM sys_sessions)";
const RESET_PREFIX: &str = "rlr_";

fn anonymous(client_addr: Option<String>) -> Who {
    Who {
        actor: None,
        source: Source::Ui,
        client_addr,
    }
}

impl Core {
    /// Whether first-run setup is still open (no user has a password yet).
    pub async fn setup_needed(&self) -> Result<bool, CoreError> {
        self.store
            .read(|conn| Ok::<_, CoreError>(conn.query_one(UNTOUCHED, &[])?.is_some()))
            .await
    }

    /// Gives the first administrator a name, email and password. Refused once any user has a
    /// password.
    pub async fn complete_setup(
        &self,
        name: &str,
        email: &str,
        password_text: &str,
        client_addr: Option<String>,
    ) -> Result<UserId, CoreError> {
        let name = super::org::check_name(name)?;
        let email = email.trim().to_lowercase();
        let mut errors = Vec::new();
        if !is_email(&email) {
            errors.push(FieldError::new(
                "email",
                Code::InvalidEmail,
                "is not an email address",
            ));
        }
        if let Some(p) = password_problem(password_text, &email, &name) {
            errors.push(FieldError::new("password", Code::WeakPassword, p));
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let hash = self.passwords.hash(password_text.to_owned()).await?;
        let admin = self.ensure_admin_blocking_async().await?;
        let now = self.clock.now();
        let who = Who {
            actor: Some(admin.0),
            ..anonymous(client_addr)
        };
        self.store
            .write(move |conn| {
                let done = || CoreError::Conflict {
                    code: "setup_done",
                    message: "setup is closed: sign in, or use a token from `relata token create`"
                        .into(),
                };
                if conn.query_one(UNTOUCHED, &[])?.is_none() {
                    return Err(done());
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT 1 FROM sys_users WHERE email = ");
                sql.param(SqlValue::Text(email.clone()));
                sql.push(" AND id <> ");
                sql.param(SqlValue::Uuid(admin.0));
                if conn.query_one(&sql.text, &sql.params)?.is_some() {
                    return Err(FieldError::new(
                        "email",
                        Code::Duplicate,
                        "another user has this email",
                    )
                    .into());
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET name = ");
                sql.param(SqlValue::Text(name));
                sql.push(", email = ");
                sql.param(SqlValue::Text(email));
                sql.push(", password_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(", updated_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(admin.0));
                // re-checked in the statement itself: of two concurrent setups on PostgreSQL
                // the second waits for the row and then finds a password there
                sql.push(" AND password_hash IS NULL AND EXISTS (");
                sql.push(UNTOUCHED);
                sql.push(")");
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(done());
                }
                super::bump_version(conn)?;
                audit::append(
                    conn,
                    &who,
                    now,
                    "setup.complete",
                    Some(("user", admin.0)),
                    json!({}),
                )
            })
            .await?;
        self.reload_access().await?;
        Ok(admin)
    }

    async fn ensure_admin_blocking_async(&self) -> Result<UserId, CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| crate::auth::ensure_admin(conn, now))
            .await
    }

    /// Sends a reset token to an active user with this email; silently nothing otherwise.
    pub async fn request_password_reset(
        &self,
        email: &str,
        client_addr: Option<String>,
    ) -> Result<(), CoreError> {
        let email = email.trim().to_lowercase();
        let now = self.clock.now();
        // each request counts against the address like a failed login: no mail bombing
        self.check_login_throttle(client_addr.as_deref().unwrap_or_default(), now)?;
        self.login_throttle
            .fail(client_addr.as_deref().unwrap_or_default(), now);
        let token = random_secret(RESET_PREFIX);
        let hash = hash_token(&token);
        let lookup = email.clone();
        let who = anonymous(client_addr);
        let user = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id FROM sys_users WHERE active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND email = ");
                sql.param(SqlValue::Text(lookup.clone()));
                let user = conn.query_one(&sql.text, &sql.params)?.and_then(|r| r[0].as_uuid());
                if let Some(id) = user {
                    conn.execute(
                        &format!("INSERT INTO sys_password_resets (id, user_id, token_hash, created_at, expires_at) VALUES ({})", placeholders(conn.dialect(), 1, 5)),
                        &[
                            SqlValue::Uuid(relata_domain::ids::uuid_v7_at(now)),
                            SqlValue::Uuid(id),
                            SqlValue::Text(hash),
                            SqlValue::Timestamp(now),
                            SqlValue::Timestamp(now + Duration::minutes(RESET_MINUTES)),
                        ],
                    )?;
                }
                audit::append(conn, &Who { actor: user, ..who }, now, "auth.password_reset_request", None, json!({"email": lookup, "known": user.is_some()}))?;
                Ok::<_, CoreError>(user)
            })
            .await?;
        if user.is_some() {
            let mail = Mail {
                to: email,
                subject: "Reset your Relata password / 重置 Relata 密码".into(),
                body: format!(
                    "Someone asked to reset the password of this Relata account. If it was you, use this one-time code within {RESET_MINUTES} minutes:\n\n{token}\n\n有人请求重置此 Relata 账户的密码。如果是您本人，请在 {RESET_MINUTES} 分钟内使用上面的一次性代码。\n\nIf it was not you, ignore this message. / 如非本人操作，请忽略此邮件。"
                ),
                ..Mail::default()
            };
            // sent at once, never queued: the code must not sit in the job queue
            if let Err(e) = self.mailer().send(mail) {
                tracing::warn!(error = %e, "the password-reset email could not be sent");
            }
        }
        Ok(())
    }

    /// Sets a new password with a reset token; the token is spent, sessions end, and a
    /// lockout is lifted.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
        client_addr: Option<String>,
    ) -> Result<(), CoreError> {
        let invalid = || {
            FieldError::new(
                "token",
                Code::PatternMismatch,
                "is not a valid, unused, unexpired reset code",
            )
        };
        if !token.starts_with(RESET_PREFIX) || token.len() > 200 {
            return Err(invalid().into());
        }
        let hash = hash_token(token);
        let now = self.clock.now();
        let found = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT r.id, u.id, u.email, u.name FROM sys_password_resets r JOIN sys_users u ON u.id = r.user_id WHERE r.token_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(" AND r.used_at IS NULL AND u.active = ");
                sql.param(SqlValue::Bool(true));
                sql.push(" AND r.expires_at > ");
                sql.param(SqlValue::Timestamp(now));
                Ok::<_, CoreError>(conn.query_one(&sql.text, &sql.params)?.and_then(|r| {
                    Some((r[0].as_uuid()?, r[1].as_uuid()?, r[2].as_str()?.to_owned(), r[3].as_str()?.to_owned()))
                }))
            })
            .await?;
        let Some((reset, user, email, name)) = found else {
            return Err(invalid().into());
        };
        if let Some(p) = password_problem(new_password, &email, &name) {
            return Err(FieldError::new("new_password", Code::WeakPassword, p).into());
        }
        let hash = self.passwords.hash(new_password.to_owned()).await?;
        let who = Who {
            actor: Some(user),
            ..anonymous(client_addr)
        };
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_password_resets SET used_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE used_at IS NULL AND id = ");
                sql.param(SqlValue::Uuid(reset));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    // spent by a concurrent request
                    return Err(invalid().into());
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_users SET password_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(", failed_logins = 0, locked_at = NULL, updated_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(user));
                conn.execute(&sql.text, &sql.params)?;
                end_sessions(conn, user, now)?;
                audit::append(
                    conn,
                    &who,
                    now,
                    "auth.password_reset",
                    Some(("user", user)),
                    json!({}),
                )
            })
            .await
    }
}
