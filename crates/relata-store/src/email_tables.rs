//! The tables of email (migration 24): templates, users' sender identities, every mail sent
//! or received with its tracking, and the suppression list of addresses never mailed again.

use crate::conn::Conn;
use crate::dialect::ColType::{self, *};
use crate::error::StoreError;
use crate::schema::{ColumnDef, TableDef};

fn col(name: &str, ty: ColType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

pub fn tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_email_templates",
            vec![
                col("id", Uuid),
                col("name", Text),
                // the object whose records it merges; none: a template without record fields
                col("object", Text).null(),
                col("subject", Text),
                col("body_text", Text),
                col("body_html", Text).null(),
                col("attachment_ids", Json),
                col("active", Bool),
                col("created_by", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        ),
        TableDef::new(
            "sys_email_identities",
            vec![
                col("id", Uuid),
                col("user_id", Uuid),
                col("name", Text),
                col("address", Text),
                col("reply_to", Text).null(),
                col("signature", Text).null(),
                col("is_default", Bool),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["user_id"], false),
        TableDef::new(
            "sys_emails",
            vec![
                col("id", Uuid),
                // out: sent by Relata; in: received from a mailbox
                col("direction", Text),
                col("status", Text),
                // the record it is about, and that record's account (an account's timeline
                // shows the mail of its contacts)
                col("object", Text).null(),
                col("record_id", Uuid).null(),
                col("account_id", Uuid).null(),
                col("template_id", Uuid).null(),
                col("identity_id", Uuid).null(),
                col("sent_by", Uuid).null(),
                col("from_address", Text),
                col("from_name", Text).null(),
                col("reply_to", Text).null(),
                col("to_address", Text),
                col("subject", Text),
                col("body_text", Text),
                col("body_html", Text).null(),
                col("attachment_ids", Json),
                col("message_id", Text),
                col("in_reply_to", Text).null(),
                col("thread_id", Uuid),
                // the secret in the mail's tracking and unsubscribe addresses
                col("token", Text),
                col("links", Json),
                col("open_count", BigInt),
                col("opened_at", Timestamp).null(),
                col("click_count", BigInt),
                col("clicked_at", Timestamp).null(),
                col("bounced_at", Timestamp).null(),
                col("bounce_reason", Text).null(),
                col("error", Text).null(),
                col("created_at", Timestamp),
                col("sent_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["object", "record_id", "created_at"], false)
        .index(&["account_id", "created_at"], false)
        .index(&["token"], true)
        .index(&["message_id"], false)
        .index(&["thread_id", "created_at"], false),
        TableDef::new(
            "sys_email_suppressions",
            vec![
                col("address", Text),
                // unsubscribed, bounced or added by hand
                col("reason", Text),
                col("email_id", Uuid).null(),
                col("note", Text).null(),
                col("created_by", Uuid).null(),
                col("created_at", Timestamp),
            ],
            &["address"],
        ),
    ]
}

/// Mailboxes synced over IMAP (migration 25): whose they are, where, and how far the sync
/// has read (the folder's UIDVALIDITY and the last UID taken in).
pub fn mailbox_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_mailboxes",
            vec![
                col("id", Uuid),
                col("user_id", Uuid),
                col("name", Text),
                // imaps://user@host:993 or imap://user@host:143 (plain: trusted networks only)
                col("url", Text),
                col("password", Text),
                col("folder", Text),
                col("enabled", Bool),
                col("uid_validity", BigInt).null(),
                col("last_uid", BigInt),
                col("last_sync_at", Timestamp).null(),
                col("last_error", Text).null(),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["user_id"], false),
    ]
}

pub fn create_mailbox_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in mailbox_tables() {
        t.create(conn)?;
    }
    Ok(())
}

pub fn create_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in tables() {
        t.create(conn)?;
    }
    Ok(())
}
