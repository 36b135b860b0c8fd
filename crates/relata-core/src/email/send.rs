//! Composing and queueing a mail about a record: the template is rendered with the
//! record's fields as the sender may see them, an unsubscribe link is added, links are sent
//! through the click tracker and an open pixel is added to the HTML part; then the mail is
//! written and its `email.deliver` job queued in one transaction.

use serde_json::json;
use uuid::Uuid;

use relata_domain::email::{self, MergeValues, TemplateParts, normalize_address};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::standard::EMAIL_OPT_OUT;
use relata_domain::{FieldError, FieldErrorCode, Record, Value};
use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::jobs::NewJob;
use relata_store::{Conn, Sql, SqlValue};

use super::{COLUMNS, Email, identities, load, row_of, status, templates};
use crate::jobs::{derived_id, kind};
use crate::workflow::run::display;
use crate::{Actor, Core, CoreError};

/// What to send, and about which record.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub object: String,
    pub record_id: Uuid,
    /// A template, or the parts written here (checked the same way).
    pub template_id: Option<Uuid>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    /// The address; none: the record's email field.
    pub to: Option<String>,
    /// One of the sender's identities; none: their default one.
    pub identity_id: Option<Uuid>,
    /// Files of records the sender may see, sent besides the template's.
    pub attachment_ids: Vec<Uuid>,
    /// Opens and clicks are counted (HTML mail only).
    pub track: bool,
    /// A mail this one answers: it keeps that mail's thread.
    pub reply_to_email: Option<Uuid>,
}

/// A mail as it would go out (a preview).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rendered {
    pub from_name: Option<String>,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
}

/// The reason a mail to `address` about `record` must not go, if there is one: the
/// record's opt-out, the suppression list, or a contact or lead with that address who opted
/// out (`tables`: the objects that have both an email and an opt-out field).
pub(crate) fn refusal(
    conn: &mut dyn Conn,
    record: Option<&Record>,
    address: &str,
    tables: &[String],
) -> Result<Option<String>, CoreError> {
    if record.is_some_and(|r| r.get(EMAIL_OPT_OUT) == &Value::Bool(true)) {
        return Ok(Some(format!("{address} has opted out of email")));
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT reason FROM sys_email_suppressions WHERE address = ");
    sql.param(SqlValue::Text(address.to_owned()));
    if let Some(r) = conn.query_one(&sql.text, &sql.params)? {
        let reason = r[0].as_str().unwrap_or("suppressed").to_owned();
        return Ok(Some(format!(
            "{address} is on the suppression list ({reason})"
        )));
    }
    for table in tables {
        let mut sql = Sql::new(conn.dialect());
        sql.push(&format!(
            "SELECT 1 FROM {table} WHERE deleted_at IS NULL AND {EMAIL_OPT_OUT} = TRUE AND LOWER(email) = "
        ));
        sql.param(SqlValue::Text(address.to_owned()));
        sql.push(" LIMIT 1");
        if conn.query_one(&sql.text, &sql.params)?.is_some() {
            return Ok(Some(format!("{address} has opted out of email")));
        }
    }
    Ok(None)
}

impl Core {
    /// The tables of the people who can opt out: contact and lead while they have an
    /// email and an opt-out field (an administrator may have removed one).
    pub(crate) fn opt_out_tables(&self) -> Vec<String> {
        ["contact", "lead"]
            .iter()
            .filter_map(|o| self.object(o).ok())
            .filter(|o| {
                o.field(EMAIL_OPT_OUT)
                    .is_some_and(|f| f.field_type == FieldType::Boolean)
                    && o.field("email").is_some()
            })
            .map(|o| relata_store::ddl::table_name(&o).to_owned())
            .collect()
    }
}

/// The error for a mail that must not go (a rule's step records it and goes on).
pub(crate) fn suppressed(why: String) -> CoreError {
    CoreError::Conflict {
        code: "email_suppressed",
        message: why,
    }
}

impl Core {
    /// The mail `request` would send, without sending it.
    pub async fn preview_email(
        &self,
        actor: &Actor,
        request: &SendRequest,
    ) -> Result<Rendered, CoreError> {
        let email = self
            .compose(actor, request, Uuid::now_v7(), "preview")
            .await?;
        Ok(Rendered {
            from_name: email.from_name,
            from_address: email.from_address,
            reply_to: email.reply_to,
            to: email.to_address,
            subject: email.subject,
            body_text: email.body_text,
            body_html: email.body_html,
        })
    }

    /// Sends a mail about a record: checked, rendered, written and queued. `key` makes it
    /// one mail however often the call is repeated (a rule's run, a client's retry).
    pub async fn send_email(
        &self,
        actor: &Actor,
        request: &SendRequest,
        key: Option<&str>,
    ) -> Result<Email, CoreError> {
        if !self.mail_configured() {
            return Err(CoreError::bad_request(
                "mail_not_configured",
                "no mail server is configured: an administrator sets smtp_url",
            ));
        }
        let id = key.map_or_else(Uuid::now_v7, |k| derived_id(&format!("email:{k}")));
        let token = crate::auth::random_secret("");
        let email = self.compose(actor, request, id, &token).await?;
        let now = self.clock.now();
        let row = email.clone();
        let tables = self.opt_out_tables();
        let saved = self
            .store
            .write(move |conn| {
                if let Some(why) = refusal(conn, None, &row.to_address, &tables)? {
                    return Err(suppressed(why));
                }
                let columns: Vec<&str> = COLUMNS.split(", ").collect();
                insert_rows(
                    conn,
                    "sys_emails",
                    &columns,
                    &[row_of(&row)],
                    OnDuplicate::Skip,
                )?;
                let mut job = NewJob::new(
                    kind::EMAIL_DELIVER,
                    json!({"email_id": row.id.to_string()}),
                    now,
                );
                job.idempotency_key = Some(format!("email:{}", row.id));
                job.max_attempts = 8;
                relata_store::jobs::enqueue(conn, &job, now)?;
                load(conn, row.id)
            })
            .await?;
        self.wake_job_workers();
        saved.ok_or_else(|| CoreError::Internal("the mail was not saved".into()))
    }

    /// The mail a request makes, ready to save: `id` and `token` are its own.
    async fn compose(
        &self,
        actor: &Actor,
        request: &SendRequest,
        id: Uuid,
        token: &str,
    ) -> Result<Email, CoreError> {
        let object = self.object(&request.object)?;
        let record = self
            .get_record(actor, object.name(), request.record_id)
            .await?;
        let (parts, template_id, mut attachment_ids) =
            self.parts_of(actor, request, &object).await?;
        attachment_ids.extend(request.attachment_ids.iter().copied());
        attachment_ids.sort();
        attachment_ids.dedup();
        // the template's files too: a template does not lend its files to whoever sends it
        let unreadable = self.unreadable_attachments(actor, &attachment_ids).await;
        if !unreadable.is_empty() {
            return Err(CoreError::Validation(unreadable));
        }
        let to = match request
            .to
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => normalize_address(t).ok_or_else(|| {
                CoreError::field(FieldError::new(
                    "to",
                    FieldErrorCode::InvalidOption,
                    format!("'{t}' is not an email address"),
                ))
            })?,
            None => normalize_address(&display(record.get("email"))).ok_or_else(|| {
                CoreError::field(FieldError::new(
                    "to",
                    FieldErrorCode::Required,
                    "no address to send to: give one, or fill in the record's email",
                ))
            })?,
        };
        // the record's own opt-out counts when the mail goes to the record's own address
        // (not when a rule mails the owner about it); other people with the address are
        // checked by the address
        let to_record = normalize_address(&display(record.get("email"))).as_deref() == Some(&to);
        let me = actor.user_id.0;
        let identity_id = request.identity_id;
        let reply_of = request.reply_to_email;
        let tables = self.opt_out_tables();
        let (sender, identity, refused, answered) = self
            .store
            .read({
                let to = to.clone();
                let record = record.clone();
                move |conn| {
                    let user = identities::user_name_email(conn, me)?.unwrap_or_default();
                    let mine = identities::of_user(conn, me)?;
                    let identity = match identity_id {
                        Some(i) => Some(mine.into_iter().find(|x| x.id == i).ok_or_else(|| {
                            CoreError::field(FieldError::new(
                                "identity_id",
                                FieldErrorCode::InvalidOption,
                                format!("no sender identity {i} of yours"),
                            ))
                        })?),
                        None => mine.into_iter().find(|x| x.is_default),
                    };
                    let refused = refusal(conn, to_record.then_some(&record), &to, &tables)?;
                    let answered = match reply_of {
                        Some(e) => load(conn, e)?,
                        None => None,
                    };
                    Ok::<_, CoreError>((user, identity, refused, answered))
                }
            })
            .await?;
        if let Some(why) = refused {
            return Err(suppressed(why));
        }
        if let Some(a) = &answered
            && (a.object.as_deref() != Some(object.name())
                || a.record_id != Some(request.record_id))
        {
            return Err(CoreError::field(FieldError::new(
                "reply_to_email",
                FieldErrorCode::InvalidOption,
                "a reply is about the record of the mail it answers",
            )));
        }
        let unsubscribe_url = format!("{}/m/{token}/unsubscribe", self.settings.public_url);
        let (from_name, from_address, reply_to, signature) = match &identity {
            Some(i) => (
                i.name.clone(),
                i.address.clone(),
                i.reply_to.clone(),
                i.signature.clone().unwrap_or_default(),
            ),
            None => (
                sender.0.clone(),
                mailbox_address(&self.settings.mail_from),
                Some(sender.1.clone()).filter(|a| !a.is_empty()),
                String::new(),
            ),
        };
        // the merge values: only the fields the template names, read as the sender sees them
        let mut paths = Vec::new();
        for (_, source) in parts.named() {
            paths.extend(
                email::merge_fields(source)
                    .map_err(|e| CoreError::bad_request("bad_template", e))?,
            );
        }
        let record_paths: Vec<Vec<String>> = paths
            .iter()
            .filter(|p| p.first().is_some_and(|r| r == "record"))
            .map(|p| p[1..].to_vec())
            .collect();
        let env = self
            .env_for_paths(actor, &object, Some(&record), &record_paths, chrono_tz::UTC)
            .await?;
        let mut values = MergeValues::default();
        for path in &record_paths {
            let v = relata_domain::formula::FormulaEnv::value(&env, path);
            let mut full = vec!["record".to_owned()];
            full.extend(path.iter().cloned());
            values.set(full, display(&v));
        }
        let set = |values: &mut MergeValues, a: &str, b: &str, v: String| {
            values.set(vec![a.to_owned(), b.to_owned()], v);
        };
        set(&mut values, "sender", "name", from_name.clone());
        set(&mut values, "sender", "email", from_address.clone());
        set(&mut values, "sender", "signature", signature);
        let recipient_name = if to_record {
            display(record.get(object.name_field.as_str()))
        } else {
            String::new()
        };
        set(&mut values, "recipient", "name", recipient_name);
        set(&mut values, "recipient", "email", to.clone());
        values.set_trusted(vec!["unsubscribe_url".into()], unsubscribe_url.clone());
        values.set(
            vec!["today".into()],
            self.clock.now().date_naive().to_string(),
        );
        let render = |part: &str, source: &str, html: bool| {
            email::render(source, &values, html).map_err(|e| {
                CoreError::field(FieldError::new(part, FieldErrorCode::InvalidOption, e))
            })
        };
        let subject = render("subject", &parts.subject, false)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut html = match &parts.body_html {
            Some(h) => Some(render("body_html", h, true)?),
            None => None,
        };
        let mut text = render("body_text", &parts.body_text, false)?;
        if text.trim().is_empty()
            && let Some(h) = &html
        {
            text = email::text_of_html(h);
        }
        if !text.contains(&unsubscribe_url) {
            text.push_str(&format!("\n\n--\nUnsubscribe / 退订: {unsubscribe_url}\n"));
        }
        let mut links = Vec::new();
        if let Some(h) = html.take() {
            let mut h = h;
            if !h.contains(&unsubscribe_url) {
                h = append_html(
                    &h,
                    &format!(
                        r#"<p style="font-size:12px;color:#888"><a href="{unsubscribe_url}">Unsubscribe / 退订</a></p>"#
                    ),
                );
            }
            // links are tracked in template mail only: a template is an administrator's,
            // so the tracker never becomes a redirect to wherever a user wrote
            if request.track && template_id.is_some() {
                let base = format!("{}/m/{token}", self.settings.public_url);
                let (tracked, found) =
                    email::track_links(&h, &unsubscribe_url, |n| format!("{base}/c/{n}"));
                h = email::add_open_pixel(&tracked, &format!("{base}/o.gif"));
                links = found;
            }
            html = Some(h);
        }
        let domain = from_address
            .rsplit_once('@')
            .map_or("relata.local", |(_, d)| d)
            .to_owned();
        let account_id = if object.name() == "account" {
            Some(request.record_id)
        } else {
            match (object.field("account_id"), record.get("account_id")) {
                (Some(f), Value::Ref(a))
                    if f.field_type == FieldType::Lookup
                        && f.target.as_ref().map(|t| t.as_str()) == Some("account") =>
                {
                    Some(*a)
                }
                _ => None,
            }
        };
        let now = self.clock.now();
        Ok(Email {
            id,
            direction: "out".into(),
            status: status::QUEUED.into(),
            object: Some(object.name().to_owned()),
            record_id: Some(request.record_id),
            account_id,
            template_id,
            identity_id: identity.as_ref().map(|i| i.id),
            sent_by: Some(me),
            from_address,
            from_name: Some(from_name).filter(|n| !n.is_empty()),
            reply_to,
            to_address: to,
            subject,
            body_text: text,
            body_html: html,
            attachment_ids,
            message_id: format!("<{id}@{domain}>"),
            in_reply_to: answered.as_ref().map(|a| a.message_id.clone()),
            thread_id: answered.as_ref().map_or(id, |a| a.thread_id),
            token: token.to_owned(),
            links,
            open_count: 0,
            opened_at: None,
            click_count: 0,
            clicked_at: None,
            bounced_at: None,
            bounce_reason: None,
            error: None,
            created_at: now,
            sent_at: None,
        })
    }

    /// The template parts a request sends, its template and the template's files.
    async fn parts_of(
        &self,
        actor: &Actor,
        request: &SendRequest,
        object: &ObjectDef,
    ) -> Result<(TemplateParts, Option<Uuid>, Vec<Uuid>), CoreError> {
        let Some(tid) = request.template_id else {
            let parts = TemplateParts {
                subject: request.subject.clone().unwrap_or_default(),
                body_text: request.body_text.clone().unwrap_or_default(),
                body_html: request.body_html.clone().filter(|h| !h.trim().is_empty()),
            };
            let errors = email::check(&self.schema(), Some(object.name()), &parts);
            if !errors.is_empty() {
                return Err(CoreError::Validation(errors));
            }
            return Ok((parts, None, Vec::new()));
        };
        let template = self
            .store
            .read(move |conn| templates::load(conn, tid))
            .await?
            .filter(|t| t.active)
            .ok_or_else(|| {
                CoreError::field(FieldError::new(
                    "template_id",
                    FieldErrorCode::InvalidOption,
                    format!("no active email template {tid}"),
                ))
            })?;
        if template
            .object
            .as_deref()
            .is_some_and(|o| o != object.name())
        {
            return Err(CoreError::field(FieldError::new(
                "template_id",
                FieldErrorCode::InvalidOption,
                format!(
                    "template '{}' is for {} records, not {}",
                    template.name,
                    template.object.as_deref().unwrap_or_default(),
                    object.name()
                ),
            )));
        }
        let _ = actor;
        Ok((template.parts(), Some(tid), template.attachment_ids.clone()))
    }
}

/// `crm@example.com` of `Relata <crm@example.com>` (or the text as it is).
fn mailbox_address(mailbox: &str) -> String {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(a), Some(b)) if a < b => mailbox[a + 1..b].trim().to_owned(),
        _ => mailbox.trim().to_owned(),
    }
}

/// `extra` at the end of an HTML document's body.
fn append_html(html: &str, extra: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{extra}{}", &html[..at], &html[at..]),
        None => format!("{html}{extra}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_mailbox() {
        assert_eq!(
            mailbox_address("Relata <crm@example.com>"),
            "crm@example.com"
        );
        assert_eq!(mailbox_address("crm@example.com"), "crm@example.com");
        assert_eq!(
            append_html("<body>x</body>", "<p>u</p>"),
            "<body>x<p>u</p></body>"
        );
    }
}
