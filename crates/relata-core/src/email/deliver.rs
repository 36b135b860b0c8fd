//! The `email.deliver` job: a queued mail goes to the mail server. A server that is down
//! or refuses is a failed try, retried with a growing wait; after the last try the mail is
//! `failed` with the server's answer. An address suppressed since the mail was queued
//! stops it. The Message-ID is the same on every try, so a receiver can tell a repeated
//! try (a worker that died between the server's answer and recording it) from a new mail.

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::UserId;
use relata_store::{Sql, SqlValue};

use super::send::refusal;
use super::{load, status};
use crate::mail::{Mail, MailAttachment};
use crate::{Actor, Core, CoreError};

impl Core {
    /// Delivers the mail of an `email.deliver` job. `last_try`: the queue gives up if this
    /// one fails, so the mail is marked failed.
    pub async fn deliver_email(&self, payload: &Json, last_try: bool) -> Result<(), CoreError> {
        let Some(id) = payload["email_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Err(CoreError::bad_request(
                "bad_email",
                format!("an email job without email_id: {payload}"),
            ));
        };
        let tables = self.opt_out_tables();
        let found = self
            .store
            .read(move |conn| {
                let Some(email) = load(conn, id)? else {
                    return Ok(None);
                };
                let refused = refusal(conn, None, &email.to_address, &tables)?;
                Ok::<_, CoreError>(Some((email, refused)))
            })
            .await?;
        let Some((email, refused)) = found else {
            return Ok(());
        };
        if email.status != status::QUEUED {
            return Ok(()); // sent (or stopped) by an earlier try
        }
        if let Some(why) = refused {
            return self.finish_email(id, status::SUPPRESSED, Some(why)).await;
        }
        let mut attachments = Vec::new();
        if let Some(by) = email.sent_by {
            // the sender could read them when the mail was queued
            let system = Actor::system(UserId(by));
            for a in &email.attachment_ids {
                if let Ok((meta, data)) = self.attachment_file(&system, *a).await {
                    attachments.push(MailAttachment {
                        file_name: meta.file_name,
                        content_type: meta.content_type,
                        data,
                    });
                }
            }
        }
        let from = match &email.from_name {
            Some(n) => format!(
                "\"{}\" <{}>",
                n.replace(['"', '\\'], ""),
                email.from_address
            ),
            None => email.from_address.clone(),
        };
        let mail = Mail {
            to: email.to_address.clone(),
            subject: email.subject.clone(),
            body: email.body_text.clone(),
            message_id: Some(email.message_id.clone()),
            from: Some(from),
            reply_to: email.reply_to.clone(),
            html: email.body_html.clone(),
            attachments,
            in_reply_to: email.in_reply_to.clone(),
            unsubscribe_url: Some(format!(
                "{}/m/{}/unsubscribe",
                self.settings.public_url, email.token
            )),
        };
        let mailer = self.mailer();
        let sent = tokio::task::spawn_blocking(move || mailer.send(mail))
            .await
            .map_err(|e| CoreError::Internal(format!("the mail task failed: {e}")))?;
        match sent {
            Ok(()) => self.finish_email(id, status::SENT, None).await,
            Err(e) if last_try => self.finish_email(id, status::FAILED, Some(e)).await,
            Err(e) => {
                self.note_email_error(id, &e).await?;
                Err(CoreError::Unavailable(e))
            }
        }
    }

    async fn finish_email(
        &self,
        id: Uuid,
        to: &'static str,
        error: Option<String>,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_emails SET status = ");
                sql.param(SqlValue::Text(to.into()));
                sql.push(", error = ");
                sql.param(error.map_or(SqlValue::Null, SqlValue::Text));
                if to == status::SENT {
                    sql.push(", sent_at = ");
                    sql.param(SqlValue::Timestamp(now));
                }
                sql.push(" WHERE status = 'queued' AND id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// The last failed try's answer, shown on the mail while it waits for the next.
    async fn note_email_error(&self, id: Uuid, error: &str) -> Result<(), CoreError> {
        let error = error.to_owned();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_emails SET error = ");
                sql.param(SqlValue::Text(error));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }
}
