//! What happens to a mail after it is sent: opens (an image the mail program loads), clicks
//! (links that pass through Relata on their way), unsubscribes (the link in every mail and
//! the `List-Unsubscribe` header), and the suppression list those and bounces fill. The
//! public addresses carry the mail's random token; a click redirects only to the links the
//! mail itself had, so the tracker is no open redirect.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::email::normalize_address;
use relata_domain::standard::EMAIL_OPT_OUT;
use relata_domain::{FieldError, FieldErrorCode, UserId};
use relata_store::{Conn, Sql, SqlValue};

use super::{COLUMNS, Email, decode, load};
use crate::{Actor, Core, CoreError};

/// An address no mail goes to.
#[derive(Debug, Clone, Serialize)]
pub struct Suppression {
    pub address: String,
    /// `unsubscribed`, `bounced` or `manual`
    pub reason: String,
    pub email_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// What the unsubscribe page shows.
#[derive(Debug, Clone, Serialize)]
pub struct UnsubscribeInfo {
    /// The address, partly hidden (`li***@example.com`).
    pub address: String,
    pub unsubscribed: bool,
}

fn by_token(conn: &mut dyn Conn, token: &str) -> Result<Option<Email>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_emails WHERE token = "));
    sql.param(SqlValue::Text(token.to_owned()));
    Ok(conn
        .query(&sql.text, &sql.params)?
        .first()
        .and_then(|r| decode(r)))
}

fn suppressed(conn: &mut dyn Conn, address: &str) -> Result<bool, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT 1 FROM sys_email_suppressions WHERE address = ");
    sql.param(SqlValue::Text(address.to_owned()));
    Ok(conn.query_one(&sql.text, &sql.params)?.is_some())
}

/// Adds `address` to the suppression list unless it is there.
pub(crate) fn suppress(
    conn: &mut dyn Conn,
    address: &str,
    reason: &str,
    email_id: Option<Uuid>,
    note: Option<&str>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if suppressed(conn, address)? {
        return Ok(());
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push("INSERT INTO sys_email_suppressions (address, reason, email_id, note, created_by, created_at) VALUES (");
    sql.param(SqlValue::Text(address.to_owned()));
    sql.push(", ");
    sql.param(SqlValue::Text(reason.to_owned()));
    sql.push(", ");
    sql.param(email_id.map_or(SqlValue::Null, SqlValue::Uuid));
    sql.push(", ");
    sql.param(note.map_or(SqlValue::Null, |n| SqlValue::Text(n.to_owned())));
    sql.push(", ");
    sql.param(by.map_or(SqlValue::Null, SqlValue::Uuid));
    sql.push(", ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(")");
    conn.execute(&sql.text, &sql.params)?;
    Ok(())
}

fn masked(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let shown: String = local.chars().take(2).collect();
            format!("{shown}***@{domain}")
        }
        None => "***".into(),
    }
}

impl Core {
    /// A mail program loaded the open pixel of the mail with `token`; false: no such mail.
    pub async fn email_opened(&self, token: String) -> Result<bool, CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_emails SET open_count = open_count + 1, opened_at = COALESCE(opened_at, ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(") WHERE token = ");
                sql.param(SqlValue::Text(token));
                Ok::<_, CoreError>(conn.execute(&sql.text, &sql.params)? > 0)
            })
            .await
    }

    /// Someone clicked link `n` of the mail with `token`: counted, and its address (none:
    /// no such mail or link).
    pub async fn email_clicked(
        &self,
        token: String,
        n: usize,
    ) -> Result<Option<String>, CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let Some(email) = by_token(conn, &token)? else {
                    return Ok(None);
                };
                let Some(url) = email.links.get(n).cloned() else {
                    return Ok(None);
                };
                let mut sql = Sql::new(conn.dialect());
                // a click is also an open (images may be blocked)
                sql.push("UPDATE sys_emails SET click_count = click_count + 1, clicked_at = COALESCE(clicked_at, ");
                sql.param(SqlValue::Timestamp(now));
                sql.push("), open_count = CASE WHEN open_count = 0 THEN 1 ELSE open_count END, opened_at = COALESCE(opened_at, ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(") WHERE id = ");
                sql.param(SqlValue::Uuid(email.id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(Some(url))
            })
            .await
    }

    /// The unsubscribe page of the mail with `token`.
    pub async fn unsubscribe_info(&self, token: String) -> Result<UnsubscribeInfo, CoreError> {
        self.store
            .read(move |conn| {
                let email = by_token(conn, &token)?
                    .ok_or_else(|| CoreError::not_found("this unsubscribe link"))?;
                Ok(UnsubscribeInfo {
                    address: masked(&email.to_address),
                    unsubscribed: suppressed(conn, &email.to_address)?,
                })
            })
            .await
    }

    /// The receiver of the mail with `token` unsubscribes: the address goes on the
    /// suppression list, and every contact and lead with it is marked as opted out.
    pub async fn unsubscribe(&self, token: String) -> Result<UnsubscribeInfo, CoreError> {
        let now = self.clock.now();
        let tables = self.opt_out_tables();
        let email = self
            .store
            .write(move |conn| {
                let email = by_token(conn, &token)?
                    .ok_or_else(|| CoreError::not_found("this unsubscribe link"))?;
                suppress(conn, &email.to_address, "unsubscribed", Some(email.id), None, None, now)?;
                // the people to mark, in the same transaction as the list
                let mut people = Vec::new();
                for table in &tables {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push(&format!("SELECT id FROM {table} WHERE deleted_at IS NULL AND ({EMAIL_OPT_OUT} IS NULL OR {EMAIL_OPT_OUT} = FALSE) AND LOWER(email) = "));
                    sql.param(SqlValue::Text(email.to_address.clone()));
                    for r in conn.query(&sql.text, &sql.params)? {
                        if let Some(id) = r[0].as_uuid() {
                            people.push((table.clone(), id));
                        }
                    }
                }
                Ok::<_, CoreError>((email, people))
            })
            .await;
        let (email, people) = email?;
        // through the one write path, so the change is in the record's history and feed
        let actor = Actor::system(UserId(email.sent_by.unwrap_or_else(Uuid::nil)));
        for (object, id) in people {
            let change = json!({ EMAIL_OPT_OUT: true });
            if let Err(e) = self.update_record(&actor, &object, id, change, None).await {
                tracing::warn!(error = %e, %object, %id, "could not mark the person as opted out");
            }
        }
        Ok(UnsubscribeInfo {
            address: masked(&email.to_address),
            unsubscribed: true,
        })
    }

    /// The suppression list, newest first.
    pub async fn email_suppressions(&self, actor: &Actor) -> Result<Vec<Suppression>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| {
                let rows = conn.query(
                    "SELECT address, reason, email_id, note, created_by, created_at FROM sys_email_suppressions ORDER BY created_at DESC, address LIMIT 10000",
                    &[],
                )?;
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        Some(Suppression {
                            address: r[0].as_str()?.to_owned(),
                            reason: r[1].as_str()?.to_owned(),
                            email_id: r[2].as_uuid(),
                            note: r[3].as_str().map(str::to_owned),
                            created_by: r[4].as_uuid(),
                            created_at: r[5].as_timestamp()?,
                        })
                    })
                    .collect())
            })
            .await
    }

    /// Adds an address to the suppression list by hand.
    pub async fn add_email_suppression(
        &self,
        actor: &Actor,
        address: &str,
        note: Option<String>,
    ) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let address = normalize_address(address).ok_or_else(|| {
            CoreError::field(FieldError::new(
                "address",
                FieldErrorCode::InvalidOption,
                format!("'{address}' is not an email address"),
            ))
        })?;
        let (now, by) = (self.clock.now(), actor.user_id.0);
        self.store
            .write(move |conn| {
                suppress(
                    conn,
                    &address,
                    "manual",
                    None,
                    note.as_deref(),
                    Some(by),
                    now,
                )
            })
            .await
    }

    /// Takes an address off the suppression list (it may be mailed again; a person's own
    /// opt-out flag stays as it is).
    pub async fn remove_email_suppression(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let address = normalize_address(address).unwrap_or_else(|| address.to_owned());
        let removed = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_email_suppressions WHERE address = ");
                sql.param(SqlValue::Text(address));
                Ok::<_, CoreError>(conn.execute(&sql.text, &sql.params)?)
            })
            .await?;
        if removed == 0 {
            return Err(CoreError::not_found("that address on the suppression list"));
        }
        Ok(())
    }

    /// The mail about a record the actor may see, newest first.
    pub async fn emails_of(
        &self,
        actor: &Actor,
        object: &str,
        record_id: Uuid,
    ) -> Result<Vec<Email>, CoreError> {
        let def = self.object(object)?;
        actor.require(def.name(), Operation::Read)?;
        self.get_record(actor, def.name(), record_id).await?;
        let on_account = def.name() == "account";
        let readable = on_account.then(|| super::ReadableMail::of(self, actor));
        let name = def.name().to_owned();
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT {COLUMNS} FROM sys_emails WHERE "));
                if on_account {
                    sql.push("account_id = ");
                } else {
                    sql.push("object = ");
                    sql.param(SqlValue::Text(name));
                    sql.push(" AND record_id = ");
                }
                sql.param(SqlValue::Uuid(record_id));
                sql.push(" ORDER BY created_at DESC, id DESC LIMIT 500");
                let mut out = Vec::new();
                for row in conn.query(&sql.text, &sql.params)? {
                    let Some(mail) = decode(&row) else { continue };
                    if match &readable {
                        Some(r) => r.keeps(conn, &mail)?,
                        None => true,
                    } {
                        out.push(mail);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// One mail, when the actor may see its record.
    pub async fn email(&self, actor: &Actor, id: Uuid) -> Result<Email, CoreError> {
        let not_found = || CoreError::not_found(format!("email {id}"));
        let email = self
            .store
            .read(move |conn| load(conn, id))
            .await?
            .ok_or_else(not_found)?;
        match (&email.object, email.record_id) {
            (Some(o), Some(r)) => {
                self.get_record(actor, o, r)
                    .await
                    .map_err(|_| not_found())?;
            }
            _ => actor
                .require_capability(Capability::ManageAutomation)
                .map_err(|_| not_found())?,
        }
        Ok(email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_partly_hidden() {
        assert_eq!(masked("li.lei@example.com"), "li***@example.com");
        assert_eq!(masked("x"), "***");
    }
}
