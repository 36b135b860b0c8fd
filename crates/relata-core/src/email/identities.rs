//! Sender identities: the names and addresses a user sends from ("Li Lei, Acme Sales
//! <li.lei@acme.cn>"), with a reply-to and a signature. A user may add identities with their
//! own sign-in address; any other address needs an administrator who manages users, so
//! nobody sends as a colleague or as the company's support desk on their own say-so.
//! Without an identity, mail goes from the installation's `mail_from` with the user's name,
//! and replies go to the user.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::email::normalize_address;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::{Conn, Sql, SqlValue};

use crate::{Actor, Core, CoreError};

#[derive(Debug, Clone, Serialize)]
pub struct SenderIdentity {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The display name, e.g. "Li Lei (Acme)".
    pub name: String,
    pub address: String,
    pub reply_to: Option<String>,
    /// Plain text, offered to templates as `{{ sender.signature }}`.
    pub signature: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IdentityInput {
    /// Whose identity: none for the caller's own.
    pub user_id: Option<Uuid>,
    pub name: String,
    pub address: String,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    pub is_default: bool,
}

const COLUMNS: &str = "id, user_id, name, address, reply_to, signature, is_default, created_at";

fn decode(r: &[SqlValue]) -> Option<SenderIdentity> {
    Some(SenderIdentity {
        id: r[0].as_uuid()?,
        user_id: r[1].as_uuid()?,
        name: r[2].as_str()?.to_owned(),
        address: r[3].as_str()?.to_owned(),
        reply_to: r[4].as_str().map(str::to_owned),
        signature: r[5].as_str().map(str::to_owned),
        is_default: r[6].as_bool()?,
        created_at: r[7].as_timestamp()?,
    })
}

pub(crate) fn of_user(conn: &mut dyn Conn, user: Uuid) -> Result<Vec<SenderIdentity>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {COLUMNS} FROM sys_email_identities WHERE user_id = "
    ));
    sql.param(SqlValue::Uuid(user));
    sql.push(" ORDER BY is_default DESC, created_at, id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode(r))
        .collect())
}

/// A user's name and sign-in address.
pub(crate) fn user_name_email(
    conn: &mut dyn Conn,
    user: Uuid,
) -> Result<Option<(String, String)>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT name, email FROM sys_users WHERE id = ");
    sql.param(SqlValue::Uuid(user));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| Some((r[0].as_str()?.to_owned(), r[1].as_str()?.to_owned()))))
}

impl Core {
    /// The caller's identities, or (for an administrator who manages users) `user`'s.
    pub async fn sender_identities(
        &self,
        actor: &Actor,
        user: Option<Uuid>,
    ) -> Result<Vec<SenderIdentity>, CoreError> {
        let user = self.identity_owner(actor, user)?;
        self.store.read(move |conn| of_user(conn, user)).await
    }

    fn identity_owner(&self, actor: &Actor, user: Option<Uuid>) -> Result<Uuid, CoreError> {
        match user {
            Some(u) if u != actor.user_id.0 => {
                actor.require_capability(Capability::ManageUsers)?;
                Ok(u)
            }
            _ => Ok(actor.user_id.0),
        }
    }

    pub async fn create_sender_identity(
        &self,
        actor: &Actor,
        input: IdentityInput,
    ) -> Result<SenderIdentity, CoreError> {
        let user = self.identity_owner(actor, input.user_id)?;
        let mut errors = Vec::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 || name.contains(['<', '>', '"', '\n']) {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::InvalidOption,
                "a display name of 1-200 characters without <, > or quotes",
            ));
        }
        let address = normalize_address(&input.address);
        if address.is_none() {
            errors.push(FieldError::new(
                "address",
                FieldErrorCode::InvalidOption,
                format!("'{}' is not an email address", input.address),
            ));
        }
        let reply_to = match input.reply_to.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => match normalize_address(r) {
                Some(a) => Some(a),
                None => {
                    errors.push(FieldError::new(
                        "reply_to",
                        FieldErrorCode::InvalidOption,
                        format!("'{r}' is not an email address"),
                    ));
                    None
                }
            },
        };
        let Some(address) = address.filter(|_| errors.is_empty()) else {
            return Err(CoreError::Validation(errors));
        };
        let own = self
            .store
            .read(move |conn| user_name_email(conn, user))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("user {user}")))?;
        if normalize_address(&own.1).as_deref() != Some(address.as_str())
            && actor.require_capability(Capability::ManageUsers).is_err()
        {
            return Err(CoreError::field(FieldError::new(
                "address",
                FieldErrorCode::InvalidOption,
                "only your own sign-in address; an administrator who manages users can add others",
            )));
        }
        let identity = SenderIdentity {
            id: Uuid::now_v7(),
            user_id: user,
            name,
            address,
            reply_to,
            signature: input.signature.filter(|s| !s.trim().is_empty()),
            is_default: input.is_default,
            created_at: self.clock.now(),
        };
        let i = identity.clone();
        self.store
            .write(move |conn| {
                let first = of_user(conn, i.user_id)?.is_empty();
                if i.is_default {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push("UPDATE sys_email_identities SET is_default = FALSE WHERE user_id = ");
                    sql.param(SqlValue::Uuid(i.user_id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                let values = [
                    SqlValue::Uuid(i.id),
                    SqlValue::Uuid(i.user_id),
                    SqlValue::Text(i.name.clone()),
                    SqlValue::Text(i.address.clone()),
                    i.reply_to.clone().map_or(SqlValue::Null, SqlValue::Text),
                    i.signature.clone().map_or(SqlValue::Null, SqlValue::Text),
                    // a user's first identity is their default
                    SqlValue::Bool(i.is_default || first),
                    SqlValue::Timestamp(i.created_at),
                ];
                super::insert(conn, "sys_email_identities", COLUMNS, values)?;
                Ok::<_, CoreError>(SenderIdentity {
                    is_default: i.is_default || first,
                    ..i
                })
            })
            .await
    }

    /// Removes one of the caller's identities (an administrator: anyone's).
    pub async fn delete_sender_identity(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let may_all = actor.require_capability(Capability::ManageUsers).is_ok();
        let me = actor.user_id.0;
        let deleted = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_email_identities WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if !may_all {
                    sql.push(" AND user_id = ");
                    sql.param(SqlValue::Uuid(me));
                }
                Ok::<_, CoreError>(conn.execute(&sql.text, &sql.params)?)
            })
            .await?;
        if deleted == 0 {
            return Err(CoreError::not_found(format!("sender identity {id}")));
        }
        Ok(())
    }
}
