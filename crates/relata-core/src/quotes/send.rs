//! Sending a quote (发送报价单): its PDF, made now and kept on the quote as an attachment,
//! mailed to the customer through the record email path (suppression, opt-out, the
//! sender's identity, the mail's place on the timeline), and a draft quote marked sent.
//! Marking it sent goes through the write path first, so a quote that still needs approval
//! is refused before anything is mailed.

use serde_json::json;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::pricing::{self, TOTAL};

use super::pdf::Language;
use crate::Core;
use crate::context::Actor;
use crate::email::Email;
use crate::email::SendRequest;
use crate::error::CoreError;
use crate::records::quotes::{NUMBER, STATUS};

/// What to send; every part has a default.
#[derive(Debug, Clone)]
pub struct SendQuote {
    /// The address; none: the quote's contact's email.
    pub to: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub language: Language,
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(t) => t,
        _ => "",
    }
}

impl Core {
    /// Mails quote `id` as a PDF; a draft becomes sent. The mail is queued (202).
    pub async fn send_quote(
        &self,
        actor: &Actor,
        id: Uuid,
        input: SendQuote,
    ) -> Result<Email, CoreError> {
        if !self.mail_configured() {
            return Err(CoreError::bad_request(
                "mail_not_configured",
                "no mail server is configured: an administrator sets smtp_url",
            ));
        }
        let quote = self.get_record(actor, pricing::QUOTE, id).await?;
        let to = match input.to.filter(|t| !t.trim().is_empty()) {
            Some(to) => to,
            None => {
                let contact = match quote.get("contact_id") {
                    Value::Ref(c) => self.get_record(actor, "contact", *c).await.ok(),
                    _ => None,
                };
                let email = contact.as_ref().map(|c| text(c.get("email")).to_owned());
                email.filter(|e| !e.is_empty()).ok_or_else(|| {
                    CoreError::bad_request(
                        "no_recipient",
                        "the quote has no contact with an email address: give `to`",
                    )
                })?
            }
        };
        match text(quote.get(STATUS)) {
            "draft" => {
                self.update_record(actor, pricing::QUOTE, id, json!({"status": "sent"}), None)
                    .await?;
            }
            "sent" => {}
            other => {
                return Err(CoreError::Conflict {
                    code: "quote_not_sendable",
                    message: format!("the quote is {other}: only a draft or sent quote is sent"),
                });
            }
        }
        let (file_name, pdf) = self.quote_pdf(actor, id, input.language).await?;
        let attachment = self
            .attach(actor, pricing::QUOTE, id, &file_name, pdf)
            .await?;
        let number = text(quote.get(NUMBER)).to_owned();
        let total = match quote.get(TOTAL) {
            Value::Money { amount, currency } => format!("{currency} {amount}"),
            _ => String::new(),
        };
        let seller = self.settings.company.name.clone();
        let subject = input
            .subject
            .unwrap_or_else(|| format!("{seller} · 报价单 Quote {number}"));
        let body = input.message.unwrap_or_else(|| {
            format!(
                "您好，\n\n附件是报价单 {number}（合计 {total}），请查收。\n\nHello,\n\nPlease find attached our quote {number} (total {total}).\n\n{seller}"
            )
        });
        let request = SendRequest {
            object: pricing::QUOTE.to_owned(),
            record_id: id,
            subject: Some(subject),
            body_text: Some(body),
            to: Some(to),
            attachment_ids: vec![attachment.id],
            ..Default::default()
        };
        self.send_email(actor, &request, None).await
    }
}
