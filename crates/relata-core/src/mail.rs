//! The mailer port: how services send email without knowing how. [`SmtpMailer`] sends
//! through an SMTP server (`smtp_url`); until one is configured, [`NoMailer`] refuses and
//! the service says so in its log. Tests plug in a [`CapturingMailer`].
//!
//! Services do not send from a request: they queue an `email.send` job in the transaction
//! of the change the mail is about ([`Core::queue_mail`]), so a mail server that is down
//! delays the mail — the job is retried with a growing wait — and never loses it. The one
//! exception is a message carrying a secret (a password-reset code), which is sent at once
//! and never written to the queue.

use crate::Core;
use crate::error::CoreError;
use serde_json::{Value as Json, json};

use std::sync::Mutex;

/// One outgoing message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The text part.
    pub body: String,
    /// The Message-ID, `<…@…>`: the same for every try of one queued mail.
    pub message_id: Option<String>,
    /// The sender, `Name <address>`; none: the installation's `mail_from`.
    pub from: Option<String>,
    pub reply_to: Option<String>,
    /// The HTML part, sent beside the text part.
    pub html: Option<String>,
    pub attachments: Vec<MailAttachment>,
    /// The Message-ID this one answers (a reply keeps its thread).
    pub in_reply_to: Option<String>,
    /// Where a receiver's mail program unsubscribes (RFC 2369 and RFC 8058 one-click).
    pub unsubscribe_url: Option<String>,
}

/// A file sent with a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

pub trait Mailer: Send + Sync {
    /// Sends `mail`; the error is for the log (and the job's last error).
    fn send(&self, mail: Mail) -> Result<(), String>;

    /// Whether mail can be sent at all (false: no server configured, nothing is queued).
    fn configured(&self) -> bool {
        true
    }
}

/// No mail server configured: every send fails.
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send(&self, _mail: Mail) -> Result<(), String> {
        Err("no mail server is configured".into())
    }

    fn configured(&self) -> bool {
        false
    }
}

/// Queues `mail` inside the caller's write, sent by an `email.send` job after commit; `key`
/// makes it one mail however often the change is replayed. The caller checks first that a
/// mail server is configured ([`Core::mail_configured`]). Never for mail carrying a secret
/// (the queue is visible to automation administrators).
pub fn queue(
    conn: &mut dyn relata_store::Conn,
    mail: &Mail,
    key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    let id = crate::jobs::derived_id(&format!("mail:{key}"));
    let mut job = relata_store::jobs::NewJob::new(
        crate::jobs::kind::EMAIL,
        json!({"to": mail.to, "subject": mail.subject, "body": mail.body, "message_id": format!("<{id}@relata>")}),
        now,
    );
    job.idempotency_key = Some(format!("mail:{key}"));
    relata_store::jobs::enqueue(conn, &job, now)?;
    Ok(())
}

impl Core {
    /// Whether a mail server is configured (when not, nothing is queued).
    pub fn mail_configured(&self) -> bool {
        self.mailer().configured()
    }

    /// Sends a queued mail (the `email.send` job) on a blocking thread. A failure is
    /// `Unavailable`, which the job retries.
    pub async fn deliver_mail(&self, payload: &Json) -> Result<(), CoreError> {
        let text = |k: &str| payload[k].as_str().map(str::to_owned);
        let (Some(to), Some(subject), Some(body)) = (text("to"), text("subject"), text("body"))
        else {
            return Err(CoreError::BadRequest {
                code: "bad_mail",
                message: format!("a mail job without to, subject and body: {payload}"),
            });
        };
        let mail = Mail {
            to,
            subject,
            body,
            message_id: text("message_id"),
            ..Mail::default()
        };
        let mailer = self.mailer();
        tokio::task::spawn_blocking(move || mailer.send(mail))
            .await
            .map_err(|e| CoreError::Internal(format!("the mail task failed: {e}")))?
            .map_err(CoreError::Unavailable)
    }
}

/// Keeps what it is asked to send, for tests.
#[derive(Default)]
pub struct CapturingMailer {
    pub sent: Mutex<Vec<Mail>>,
}

impl CapturingMailer {
    pub fn sent(&self) -> Vec<Mail> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Mailer for CapturingMailer {
    fn send(&self, mail: Mail) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(mail);
        Ok(())
    }
}

/// Sends through an SMTP server (lettre): `smtp://user:password@host:587?tls=required` for
/// STARTTLS, `smtps://…:465` for TLS from the first byte, `smtp://host:25` for a relay on a
/// trusted network. Blocking: call it from a blocking thread (the `email.send` job does).
pub struct SmtpMailer {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    /// The mailer for `url`, sending as `from` ("Relata <crm@example.com>"). The error names
    /// what is wrong, for the operator.
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let transport = lettre::SmtpTransport::from_url(url)
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from = from.parse().map_err(|e| {
            format!("mail_from '{from}' is not an address such as Relata <crm@example.com>: {e}")
        })?;
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> Result<(), String> {
        let message = build_message(mail, &self.from)?;
        lettre::Transport::send(&self.transport, &message)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The MIME message of `mail`: plain text, or text and HTML as alternatives; attachments
/// beside them.
fn build_message(
    mail: Mail,
    default_from: &lettre::message::Mailbox,
) -> Result<lettre::Message, String> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    let mailbox = |what: &str, s: &str| {
        s.parse::<Mailbox>()
            .map_err(|e| format!("{what} '{s}' is not an address: {e}"))
    };
    let from = match &mail.from {
        Some(f) => mailbox("from", f)?,
        None => default_from.clone(),
    };
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(mailbox("to", &mail.to)?)
        .subject(mail.subject);
    if let Some(r) = &mail.reply_to {
        builder = builder.reply_to(mailbox("reply-to", r)?);
    }
    if let Some(id) = mail.message_id {
        // the same id on every try: a receiver that got a try whose answer was lost can
        // tell the next one is the same message
        builder = builder.message_id(Some(id));
    }
    if let Some(parent) = mail.in_reply_to {
        builder = builder.in_reply_to(parent.clone()).references(parent);
    }
    if let Some(url) = mail.unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body);
    let content = match mail.html {
        Some(html) => MultiPart::alternative().singlepart(text).singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html),
        ),
        None if mail.attachments.is_empty() => {
            return builder
                .singlepart(text)
                .map_err(|e| format!("cannot build the message: {e}"));
        }
        None => MultiPart::mixed().singlepart(text),
    };
    let message = if mail.attachments.is_empty() {
        content
    } else {
        let mut mixed = MultiPart::mixed().multipart(content);
        for a in mail.attachments {
            let kind = ContentType::parse(&a.content_type).unwrap_or_else(|_| {
                ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
            });
            mixed = mixed.singlepart(Attachment::new(a.file_name).body(a.data, kind));
        }
        mixed
    };
    builder
        .multipart(message)
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_mail_settings_name_the_setting() {
        let e = SmtpMailer::new("http://mail.example.com", "Relata <crm@example.com>")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("smtp_url:"), "{e}");
        let e = SmtpMailer::new("smtp://127.0.0.1:2525", "not an address")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("mail_from"), "{e}");
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525", "Relata <crm@example.com>").is_ok());
        assert!(SmtpMailer::new("smtps://u:p@smtp.example.com:465", "crm@example.com").is_ok());
    }
}
