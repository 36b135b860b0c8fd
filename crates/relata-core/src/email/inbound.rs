//! Mail that comes in (from a synced mailbox): a delivery failure report marks the mail it
//! is about as bounced (and a permanent failure suppresses the address); any other message
//! is attached to the contact or lead it is from or to, or to the record of the mail it
//! answers, in that mail's thread. Mail that matches nobody in the CRM is left alone: a
//! mailbox holds private mail too.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use uuid::Uuid;

use relata_domain::email::{normalize_address, text_of_html};
use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::{Conn, Sql, SqlValue};

use super::{COLUMNS, Email, row_of, status};
use crate::CoreError;

/// What became of one incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Attached to a record, as this mail.
    Attached(Uuid),
    /// A delivery failure of a mail Relata sent.
    Bounce(Uuid),
    /// Had already been taken in (the same Message-ID).
    Known,
    /// Matched no contact, lead or thread.
    Unmatched,
    /// Not a mail message.
    Unreadable,
}

/// A delivery failure report, as far as it can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bounce {
    /// The Message-IDs the report quotes (one of them is the failed mail's).
    quoted_ids: Vec<String>,
    /// `5.1.1`: a permanent failure; `4.x.x`: a temporary one.
    status: Option<String>,
    reason: String,
}

/// Takes in one raw message for the mailbox of `owner` (whose own addresses are not the
/// other side of a conversation). `tables`: the people objects to match, with their
/// account column when they have one.
pub(crate) fn ingest(
    conn: &mut dyn Conn,
    raw: &[u8],
    own_addresses: &[String],
    people: &[(String, bool)],
    now: DateTime<Utc>,
) -> Result<Ingested, CoreError> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(Ingested::Unreadable);
    };
    if let Some(bounce) = bounce_of(&message, raw) {
        return record_bounce(conn, &bounce, now);
    }
    let message_id = message
        .message_id()
        .map(|m| format!("<{}>", m.trim_matches(['<', '>'])))
        .unwrap_or_else(|| format!("<{}@relata.inbound>", Uuid::now_v7()));
    if find_by_message_id(conn, &message_id)?.is_some() {
        return Ok(Ingested::Known);
    }
    let mut answered = Vec::new();
    for header in [message.in_reply_to(), message.references()] {
        if let Some(list) = header.as_text_list() {
            answered.extend(list.iter().map(|s| s.to_string()));
        } else if let Some(one) = header.as_text() {
            answered.push(one.to_owned());
        }
    }
    let addresses = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().and_then(normalize_address))
                .collect()
        })
        .unwrap_or_default()
    };
    let from = addresses(message.from());
    let mut others: Vec<String> = from.clone();
    others.extend(addresses(message.to()));
    others.extend(addresses(message.cc()));
    others.retain(|a| !own_addresses.contains(a));
    others.dedup();

    // the thread first: a reply to a mail of a record belongs to that record
    let mut parent: Option<Email> = None;
    for id in answered.iter().rev() {
        let id = format!("<{}>", id.trim().trim_matches(['<', '>']));
        if let Some(found) = find_by_message_id(conn, &id)? {
            parent = Some(found);
            break;
        }
    }
    let target = match &parent {
        Some(p) => p
            .object
            .clone()
            .zip(p.record_id)
            .map(|(o, r)| (o, r, p.account_id)),
        None => None,
    };
    let target = match target {
        Some(t) => Some(t),
        None => match_person(conn, &others, people)?,
    };
    let Some((object, record_id, account_id)) = target else {
        return Ok(Ingested::Unmatched);
    };
    let html = message.body_html(0).map(|h| h.into_owned());
    let text = message
        .body_text(0)
        .map(|t| t.trim().to_owned())
        .or_else(|| html.as_deref().map(text_of_html))
        .unwrap_or_default();
    let at = message
        .date()
        .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single())
        .filter(|d| *d <= now + chrono::Duration::days(1))
        .unwrap_or(now);
    let sender = message.from().and_then(|f| f.first());
    let id = Uuid::now_v7();
    let email = Email {
        id,
        direction: "in".into(),
        status: status::RECEIVED.into(),
        object: Some(object),
        record_id: Some(record_id),
        account_id,
        template_id: None,
        identity_id: None,
        sent_by: None,
        from_address: from.first().cloned().unwrap_or_default(),
        from_name: sender.and_then(|s| s.name()).map(str::to_owned),
        reply_to: None,
        to_address: addresses(message.to()).join(", "),
        subject: message.subject().unwrap_or_default().to_owned(),
        body_text: text,
        body_html: html,
        attachment_ids: Vec::new(),
        message_id,
        in_reply_to: parent.as_ref().map(|p| p.message_id.clone()),
        thread_id: parent.as_ref().map_or(id, |p| p.thread_id),
        token: crate::auth::random_secret(""),
        links: Vec::new(),
        open_count: 0,
        opened_at: None,
        click_count: 0,
        clicked_at: None,
        bounced_at: None,
        bounce_reason: None,
        error: None,
        created_at: at,
        sent_at: Some(at),
    };
    let columns: Vec<&str> = COLUMNS.split(", ").collect();
    insert_rows(
        conn,
        "sys_emails",
        &columns,
        &[row_of(&email)],
        OnDuplicate::Fail,
    )?;
    Ok(Ingested::Attached(id))
}

fn find_by_message_id(conn: &mut dyn Conn, id: &str) -> Result<Option<Email>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {COLUMNS} FROM sys_emails WHERE message_id = "
    ));
    sql.param(SqlValue::Text(id.to_owned()));
    sql.push(" ORDER BY created_at LIMIT 1");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .first()
        .and_then(|r| super::decode(r)))
}

/// The first contact or lead (in `people`'s order) with one of `addresses`, sender first.
fn match_person(
    conn: &mut dyn Conn,
    addresses: &[String],
    people: &[(String, bool)],
) -> Result<Option<(String, Uuid, Option<Uuid>)>, CoreError> {
    for address in addresses {
        for (table, has_account) in people {
            let mut sql = Sql::new(conn.dialect());
            let account = if *has_account { "account_id" } else { "NULL" };
            sql.push(&format!(
                "SELECT id, {account} FROM {table} WHERE deleted_at IS NULL AND LOWER(email) = "
            ));
            sql.param(SqlValue::Text(address.clone()));
            sql.push(" ORDER BY created_at LIMIT 1");
            if let Some(r) = conn.query_one(&sql.text, &sql.params)?
                && let Some(id) = r[0].as_uuid()
            {
                return Ok(Some((table.clone(), id, r[1].as_uuid())));
            }
        }
    }
    Ok(None)
}

/// The report in a delivery failure notice (RFC 3464 `multipart/report`, or a mailer
/// daemon's plain notice), when the message is one.
fn bounce_of(message: &mail_parser::Message, raw: &[u8]) -> Option<Bounce> {
    let is_report = message.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    let from_daemon = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .is_some_and(|a| {
            let local = a.split('@').next().unwrap_or_default().to_ascii_lowercase();
            local == "mailer-daemon" || local == "postmaster"
        });
    if !is_report && !from_daemon {
        return None;
    }
    let text = String::from_utf8_lossy(raw);
    let own = message
        .message_id()
        .map(|m| m.trim_matches(['<', '>']).to_owned());
    let mut quoted_ids = Vec::new();
    let mut status = None;
    let mut reason = String::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "message-id" | "original-message-id" => {
                let id = value.trim_matches(['<', '>']).to_owned();
                if Some(&id) != own.as_ref() && !id.is_empty() {
                    quoted_ids.push(format!("<{id}>"));
                }
            }
            "status"
                if status.is_none() && value.chars().next().is_some_and(|c| c.is_ascii_digit()) =>
            {
                status = Some(value.split_whitespace().next().unwrap_or(value).to_owned());
            }
            "diagnostic-code" if reason.is_empty() => reason = value.to_owned(),
            _ => {}
        }
    }
    if reason.is_empty() {
        reason = message.subject().unwrap_or("delivery failed").to_owned();
    }
    Some(Bounce {
        quoted_ids,
        status,
        reason,
    })
}

fn record_bounce(
    conn: &mut dyn Conn,
    bounce: &Bounce,
    now: DateTime<Utc>,
) -> Result<Ingested, CoreError> {
    for id in &bounce.quoted_ids {
        let Some(mail) = find_by_message_id(conn, id)? else {
            continue;
        };
        if mail.direction != "out" {
            continue;
        }
        let reason = match &bounce.status {
            Some(s) => format!("{s} {}", bounce.reason),
            None => bounce.reason.clone(),
        };
        let mut sql = Sql::new(conn.dialect());
        sql.push("UPDATE sys_emails SET status = 'bounced', bounced_at = ");
        sql.param(SqlValue::Timestamp(now));
        sql.push(", bounce_reason = ");
        sql.param(SqlValue::Text(reason.clone()));
        sql.push(" WHERE id = ");
        sql.param(SqlValue::Uuid(mail.id));
        conn.execute(&sql.text, &sql.params)?;
        // a permanent failure (5.x.x, or a report without a status): the address is not
        // tried again; a temporary one (4.x.x) is only recorded
        if !bounce.status.as_deref().is_some_and(|s| s.starts_with('4')) {
            super::tracking::suppress(
                conn,
                &mail.to_address,
                "bounced",
                Some(mail.id),
                Some(&reason),
                None,
                now,
            )?;
        }
        return Ok(Ingested::Bounce(mail.id));
    }
    Ok(Ingested::Unmatched)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DSN: &str = "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: crm@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Li Lei <li.lei@acme.cn>\r\nTo: nobody@example.com\r\nSubject: Quote\r\nMessage-ID: <0190a0b0-0000-7000-8000-000000000001@acme.cn>\r\n\r\n--B--\r\n";

    #[test]
    fn a_delivery_report_names_the_mail_and_the_failure() {
        let message = MessageParser::default().parse(DSN.as_bytes()).unwrap();
        let b = bounce_of(&message, DSN.as_bytes()).unwrap();
        assert_eq!(
            b.quoted_ids,
            ["<0190a0b0-0000-7000-8000-000000000001@acme.cn>"]
        );
        assert_eq!(b.status.as_deref(), Some("5.1.1"));
        assert!(b.reason.contains("User unknown"), "{}", b.reason);
        let plain = "From: li@example.com\r\nTo: crm@example.com\r\nSubject: Re: Quote\r\nMessage-ID: <r1@example.com>\r\n\r\nThanks!\r\n";
        let m = MessageParser::default().parse(plain.as_bytes()).unwrap();
        assert_eq!(bounce_of(&m, plain.as_bytes()), None);
    }
}
