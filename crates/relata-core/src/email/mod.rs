//! Email about records: templates with merge fields, users' sender identities, sending
//! (queued in the transaction that records the mail, delivered by an `email.deliver` job),
//! open and click tracking, unsubscribe links and the suppression list, and every mail on
//! its record's timeline.
//!
//! One path sends every mail about a record ([`Core::send_email`]): the API, the web page
//! and the workflow `send_email` step all go through it, so the opt-out and suppression
//! checks cannot be skipped. They are made twice: when the mail is queued, and again when
//! it is delivered (someone may unsubscribe in between).

mod deliver;
mod identities;
mod inbound;
mod mailboxes;
mod send;
mod templates;
mod timeline;
mod tracking;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_store::SqlValue;

use crate::records::json_of;

pub use identities::{IdentityInput, SenderIdentity};
pub use mailboxes::{Mailbox, MailboxInput, SyncReport};
pub use send::{Rendered, SendRequest};
pub use templates::{EmailTemplate, TemplateInput};
pub use timeline::KIND as TIMELINE_KIND;
pub use tracking::{Suppression, UnsubscribeInfo};

pub(crate) use timeline::OnTimeline;

/// Where a mail stands.
pub mod status {
    /// Waiting for the mail server (retried while it is down).
    pub const QUEUED: &str = "queued";
    pub const SENT: &str = "sent";
    /// The mail server refused it on every try.
    pub const FAILED: &str = "failed";
    /// The address was suppressed (unsubscribed, bounced) before it went out.
    pub const SUPPRESSED: &str = "suppressed";
    /// A delivery failure report came back for it.
    pub const BOUNCED: &str = "bounced";
    /// Received from a mailbox.
    pub const RECEIVED: &str = "received";
}

/// One mail, sent or received.
#[derive(Debug, Clone, Serialize)]
pub struct Email {
    pub id: Uuid,
    /// `out` or `in`
    pub direction: String,
    pub status: String,
    pub object: Option<String>,
    pub record_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub identity_id: Option<Uuid>,
    pub sent_by: Option<Uuid>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attachment_ids: Vec<Uuid>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub thread_id: Uuid,
    pub open_count: i64,
    pub opened_at: Option<DateTime<Utc>>,
    pub click_count: i64,
    pub clicked_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
    pub bounce_reason: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The original addresses of the tracked links, in order.
    #[serde(skip)]
    pub(crate) links: Vec<String>,
    #[serde(skip)]
    pub(crate) token: String,
}

pub(crate) const COLUMNS: &str = "id, direction, status, object, record_id, account_id, template_id, identity_id, sent_by, from_address, from_name, reply_to, to_address, subject, body_text, body_html, attachment_ids, message_id, in_reply_to, thread_id, token, links, open_count, opened_at, click_count, clicked_at, bounced_at, bounce_reason, error, created_at, sent_at";

pub(crate) fn decode(r: &[SqlValue]) -> Option<Email> {
    let text = |i: usize| r[i].as_str().map(str::to_owned);
    Some(Email {
        id: r[0].as_uuid()?,
        direction: text(1)?,
        status: text(2)?,
        object: text(3),
        record_id: r[4].as_uuid(),
        account_id: r[5].as_uuid(),
        template_id: r[6].as_uuid(),
        identity_id: r[7].as_uuid(),
        sent_by: r[8].as_uuid(),
        from_address: text(9)?,
        from_name: text(10),
        reply_to: text(11),
        to_address: text(12)?,
        subject: text(13)?,
        body_text: text(14).unwrap_or_default(),
        body_html: text(15),
        attachment_ids: serde_json::from_value(json_of(&r[16])).unwrap_or_default(),
        message_id: text(17)?,
        in_reply_to: text(18),
        thread_id: r[19].as_uuid()?,
        token: text(20)?,
        links: serde_json::from_value(json_of(&r[21])).unwrap_or_default(),
        open_count: r[22].as_i64().unwrap_or(0),
        opened_at: r[23].as_timestamp(),
        click_count: r[24].as_i64().unwrap_or(0),
        clicked_at: r[25].as_timestamp(),
        bounced_at: r[26].as_timestamp(),
        bounce_reason: text(27),
        error: text(28),
        created_at: r[29].as_timestamp()?,
        sent_at: r[30].as_timestamp(),
    })
}

/// The row of a new mail, in [`COLUMNS`] order.
pub(crate) fn row_of(e: &Email) -> Vec<SqlValue> {
    let text = |s: &Option<String>| s.clone().map_or(SqlValue::Null, SqlValue::Text);
    let uuid = |u: Option<Uuid>| u.map_or(SqlValue::Null, SqlValue::Uuid);
    let at = |t: Option<DateTime<Utc>>| t.map_or(SqlValue::Null, SqlValue::Timestamp);
    vec![
        SqlValue::Uuid(e.id),
        SqlValue::Text(e.direction.clone()),
        SqlValue::Text(e.status.clone()),
        text(&e.object),
        uuid(e.record_id),
        uuid(e.account_id),
        uuid(e.template_id),
        uuid(e.identity_id),
        uuid(e.sent_by),
        SqlValue::Text(e.from_address.clone()),
        text(&e.from_name),
        text(&e.reply_to),
        SqlValue::Text(e.to_address.clone()),
        SqlValue::Text(e.subject.clone()),
        SqlValue::Text(e.body_text.clone()),
        text(&e.body_html),
        SqlValue::Json(Json::from(
            e.attachment_ids
                .iter()
                .map(|u| Json::String(u.to_string()))
                .collect::<Vec<_>>(),
        )),
        SqlValue::Text(e.message_id.clone()),
        text(&e.in_reply_to),
        SqlValue::Uuid(e.thread_id),
        SqlValue::Text(e.token.clone()),
        SqlValue::Json(Json::from(e.links.clone())),
        SqlValue::Int(e.open_count),
        at(e.opened_at),
        SqlValue::Int(e.click_count),
        at(e.clicked_at),
        at(e.bounced_at),
        text(&e.bounce_reason),
        text(&e.error),
        SqlValue::Timestamp(e.created_at),
        at(e.sent_at),
    ]
}

/// Inserts one row of `values` in `columns` order (a comma-separated list).
pub(crate) fn insert<const N: usize>(
    conn: &mut dyn relata_store::Conn,
    table: &str,
    columns: &str,
    values: [SqlValue; N],
) -> Result<(), crate::CoreError> {
    let columns: Vec<&str> = columns.split(", ").collect();
    relata_store::batch::insert_rows(
        conn,
        table,
        &columns,
        &[values.to_vec()],
        relata_store::batch::OnDuplicate::Fail,
    )?;
    Ok(())
}

/// One mail by id, without access checks.
pub(crate) fn load(
    conn: &mut dyn relata_store::Conn,
    id: Uuid,
) -> Result<Option<Email>, crate::CoreError> {
    let mut sql = relata_store::Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_emails WHERE id = "));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query(&sql.text, &sql.params)?
        .first()
        .and_then(|r| decode(r)))
}

impl crate::Core {
    /// An error for each file the actor may not read (`attachment_ids[i]`).
    pub(crate) async fn unreadable_attachments(
        &self,
        actor: &crate::Actor,
        ids: &[Uuid],
    ) -> Vec<relata_domain::FieldError> {
        let mut errors = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if self.attachment_file(actor, *id).await.is_err() {
                errors.push(relata_domain::FieldError::new(
                    format!("attachment_ids[{i}]"),
                    relata_domain::FieldErrorCode::InvalidOption,
                    format!("no attachment {id} that you may read"),
                ));
            }
        }
        errors
    }
}

/// Which mail on an account an actor may see: the account's own, and that of the records
/// (contacts, opportunities, …) the actor may read. An account's mail list and timeline
/// gather mail by `account_id`; this keeps mail about a hidden contact off them.
pub(crate) struct ReadableMail {
    objects: std::collections::HashMap<
        String,
        (
            std::sync::Arc<relata_domain::meta::ObjectDef>,
            crate::visibility::Visibility,
        ),
    >,
}

impl ReadableMail {
    pub(crate) fn of(core: &crate::Core, actor: &crate::Actor) -> ReadableMail {
        let mut objects = std::collections::HashMap::new();
        for o in core.schema().objects() {
            let to_account = o.field("account_id").is_some_and(|f| {
                f.field_type == relata_domain::FieldType::Lookup
                    && f.target.as_ref().map(|t| t.as_str()) == Some("account")
            });
            if to_account
                && actor.may(o.name(), relata_domain::access::Operation::Read)
                && let Ok(v) = core.visibility(actor, o, relata_domain::access::Operation::Read)
            {
                objects.insert(o.name().to_owned(), (o.clone(), v));
            }
        }
        ReadableMail { objects }
    }

    /// Whether the actor, who sees the account, may see `mail` on it.
    pub(crate) fn keeps(
        &self,
        conn: &mut dyn relata_store::Conn,
        mail: &Email,
    ) -> Result<bool, crate::CoreError> {
        match (mail.object.as_deref(), mail.record_id) {
            (Some("account"), _) => Ok(true),
            (Some(o), Some(id)) => match self.objects.get(o) {
                Some((def, vis)) => {
                    Ok(
                        crate::records::read::get(conn, def, id, vis, crate::records::Bin::Any)?
                            .is_some(),
                    )
                }
                None => Ok(false),
            },
            _ => Ok(false),
        }
    }
}
