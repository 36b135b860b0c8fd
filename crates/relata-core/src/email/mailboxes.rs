//! Mailboxes synced over IMAP: a user connects their mailbox (or an administrator a shared
//! one, such as sales@); every few minutes the `mailbox.sync` job reads the messages that
//! arrived since the last sync (by UID, restarting when the folder's UIDVALIDITY changes)
//! and takes each in (`inbound::ingest`): replies join their thread on their record, mail
//! from or to a contact or lead goes on its timeline, delivery reports mark bounces.
//!
//! The password is kept to sign in and never shown again. `imaps://` is TLS from the first
//! byte (port 993); `imap://` is plain and meant for a server on the same machine or a
//! trusted network.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::email::normalize_address;
use relata_domain::meta::FieldType;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::{Conn, Sql, SqlValue};

use super::inbound::{Ingested, ingest};
use crate::{Actor, Core, CoreError};

/// The most messages one sync takes in (the next sync goes on from there).
const BATCH: usize = 500;

/// How long the server has to answer each step.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Clone, Serialize)]
pub struct Mailbox {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// Without the password.
    pub url: String,
    pub folder: String,
    pub enabled: bool,
    pub last_uid: i64,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    password: String,
    #[serde(skip)]
    uid_validity: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct MailboxInput {
    /// Whose mailbox (administrators of automation); none: the caller's.
    pub user_id: Option<Uuid>,
    pub name: String,
    /// `imaps://USER@HOST[:993]` or `imap://USER@HOST[:143]`.
    pub url: String,
    pub password: String,
    /// INBOX unless named.
    pub folder: Option<String>,
}

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub fetched: usize,
    pub attached: usize,
    pub bounces: usize,
    pub known: usize,
    pub unmatched: usize,
}

const COLUMNS: &str = "id, user_id, name, url, password, folder, enabled, uid_validity, last_uid, last_sync_at, last_error, created_at";

fn decode(r: &[SqlValue]) -> Option<Mailbox> {
    Some(Mailbox {
        id: r[0].as_uuid()?,
        user_id: r[1].as_uuid()?,
        name: r[2].as_str()?.to_owned(),
        url: r[3].as_str()?.to_owned(),
        password: r[4].as_str()?.to_owned(),
        folder: r[5].as_str()?.to_owned(),
        enabled: r[6].as_bool()?,
        uid_validity: r[7].as_i64(),
        last_uid: r[8].as_i64().unwrap_or(0),
        last_sync_at: r[9].as_timestamp(),
        last_error: r[10].as_str().map(str::to_owned),
        created_at: r[11].as_timestamp()?,
    })
}

fn load_all(conn: &mut dyn Conn, user: Option<Uuid>) -> Result<Vec<Mailbox>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_mailboxes"));
    if let Some(u) = user {
        sql.push(" WHERE user_id = ");
        sql.param(SqlValue::Uuid(u));
    }
    sql.push(" ORDER BY created_at, id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode(r))
        .collect())
}

/// Where to connect: TLS or not, host, port, user name.
struct Server {
    tls: bool,
    host: String,
    port: u16,
    user: String,
}

fn server_of(url: &str) -> Result<Server, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not an address: {e}"))?;
    let tls = match parsed.scheme() {
        "imaps" => true,
        "imap" => false,
        other => return Err(format!("{other}:// is not imaps:// or imap://")),
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_owned();
    let user = percent_decode(parsed.username());
    if user.is_empty() {
        return Err("no user name: imaps://USER@HOST".into());
    }
    if parsed.password().is_some() {
        return Err("give the password on its own, not in the address".into());
    }
    Ok(Server {
        tls,
        port: parsed.port().unwrap_or(if tls { 993 } else { 143 }),
        host,
        user,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..(i + 3).min(s.len())], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Core {
    /// The caller's mailboxes; an administrator of automation sees every one.
    pub async fn mailboxes(&self, actor: &Actor) -> Result<Vec<Mailbox>, CoreError> {
        let all = actor
            .require_capability(Capability::ManageAutomation)
            .is_ok();
        let me = actor.user_id.0;
        self.store
            .read(move |conn| load_all(conn, (!all).then_some(me)))
            .await
    }

    pub async fn create_mailbox(
        &self,
        actor: &Actor,
        input: MailboxInput,
    ) -> Result<Mailbox, CoreError> {
        let user = match input.user_id {
            Some(u) if u != actor.user_id.0 => {
                actor.require_capability(Capability::ManageAutomation)?;
                u
            }
            _ => actor.user_id.0,
        };
        let mut errors = Vec::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::Required,
                "a name of 1-200 characters",
            ));
        }
        if let Err(e) = server_of(&input.url) {
            errors.push(FieldError::new("url", FieldErrorCode::InvalidOption, e));
        }
        if input.password.is_empty() {
            errors.push(FieldError::new(
                "password",
                FieldErrorCode::Required,
                "the mailbox's password (or app password)",
            ));
        }
        let folder = input
            .folder
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "INBOX".into());
        if folder.chars().any(|c| c.is_control() || c == '"') {
            errors.push(FieldError::new(
                "folder",
                FieldErrorCode::InvalidOption,
                "a folder name without quotes or control characters",
            ));
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let mailbox = Mailbox {
            id: Uuid::now_v7(),
            user_id: user,
            name,
            url: input.url.trim().to_owned(),
            folder,
            enabled: true,
            last_uid: 0,
            last_sync_at: None,
            last_error: None,
            created_at: self.clock.now(),
            password: input.password,
            uid_validity: None,
        };
        let m = mailbox.clone();
        self.store
            .write(move |conn| {
                let values = [
                    SqlValue::Uuid(m.id),
                    SqlValue::Uuid(m.user_id),
                    SqlValue::Text(m.name),
                    SqlValue::Text(m.url),
                    SqlValue::Text(m.password),
                    SqlValue::Text(m.folder),
                    SqlValue::Bool(true),
                    SqlValue::Null,
                    SqlValue::Int(0),
                    SqlValue::Null,
                    SqlValue::Null,
                    SqlValue::Timestamp(m.created_at),
                ];
                super::insert(conn, "sys_mailboxes", COLUMNS, values)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(mailbox)
    }

    /// One of the caller's mailboxes (an administrator of automation: anyone's).
    async fn own_mailbox(&self, actor: &Actor, id: Uuid) -> Result<Mailbox, CoreError> {
        self.mailboxes(actor)
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| CoreError::not_found(format!("mailbox {id}")))
    }

    /// Disconnects a mailbox; the mail taken in stays on its records.
    pub async fn delete_mailbox(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        self.own_mailbox(actor, id).await?;
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_mailboxes WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// Syncs one of the caller's mailboxes now.
    pub async fn sync_mailbox_now(&self, actor: &Actor, id: Uuid) -> Result<SyncReport, CoreError> {
        let mailbox = self.own_mailbox(actor, id).await?;
        self.sync_mailbox(mailbox).await
    }

    /// The `mailbox.sync` job: every enabled mailbox, one after another; a mailbox that
    /// fails keeps its error (shown on it) and the others go on.
    pub async fn sync_all_mailboxes(&self) -> Result<SyncReport, CoreError> {
        let all = self.store.peek(|conn| load_all(conn, None)).await?;
        let mut total = SyncReport::default();
        for m in all.into_iter().filter(|m| m.enabled) {
            let name = m.name.clone();
            match self.sync_mailbox(m).await {
                Ok(r) => {
                    total.fetched += r.fetched;
                    total.attached += r.attached;
                    total.bounces += r.bounces;
                    total.known += r.known;
                    total.unmatched += r.unmatched;
                }
                Err(e) => tracing::warn!(mailbox = %name, error = %e, "mailbox sync failed"),
            }
        }
        Ok(total)
    }

    async fn sync_mailbox(&self, mailbox: Mailbox) -> Result<SyncReport, CoreError> {
        let id = mailbox.id;
        let fetched = match tokio::time::timeout(TIMEOUT * 4, fetch_new(&mailbox)).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => return Err(self.mailbox_failed(id, e).await),
            Err(_) => {
                return Err(self
                    .mailbox_failed(id, "the server did not answer in time".into())
                    .await);
            }
        };
        let own = self.own_addresses(mailbox.user_id).await?;
        let people = self.people_tables();
        let now = self.clock.now();
        let report = self
            .store
            .write(move |conn| {
                let mut report = SyncReport {
                    fetched: fetched.messages.len(),
                    ..Default::default()
                };
                let mut last = if fetched.reset { 0 } else { mailbox.last_uid };
                for (uid, raw) in &fetched.messages {
                    match ingest(conn, raw, &own, &people, now)? {
                        Ingested::Attached(_) => report.attached += 1,
                        Ingested::Bounce(_) => report.bounces += 1,
                        Ingested::Known => report.known += 1,
                        Ingested::Unmatched | Ingested::Unreadable => report.unmatched += 1,
                    }
                    last = last.max(i64::from(*uid));
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_mailboxes SET last_uid = ");
                sql.param(SqlValue::Int(last));
                sql.push(", uid_validity = ");
                sql.param(
                    fetched
                        .uid_validity
                        .map_or(SqlValue::Null, |v| SqlValue::Int(i64::from(v))),
                );
                sql.push(", last_sync_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(", last_error = NULL WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(report)
            })
            .await?;
        Ok(report)
    }

    async fn mailbox_failed(&self, id: Uuid, error: String) -> CoreError {
        let now = self.clock.now();
        let message = error.clone();
        let saved = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_mailboxes SET last_error = ");
                sql.param(SqlValue::Text(message));
                sql.push(", last_sync_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await;
        if let Err(e) = saved {
            return e;
        }
        CoreError::Unavailable(format!("mailbox sync: {error}"))
    }

    /// The addresses that are "us" in a mailbox's mail: its owner's, their identities',
    /// and the installation's sender.
    async fn own_addresses(&self, user: Uuid) -> Result<Vec<String>, CoreError> {
        let from = self.settings.mail_from.clone();
        self.store
            .read(move |conn| {
                let mut out = Vec::new();
                if let Some((_, email)) = super::identities::user_name_email(conn, user)? {
                    out.extend(normalize_address(&email));
                }
                for i in super::identities::of_user(conn, user)? {
                    out.push(i.address);
                }
                let address = match (from.rfind('<'), from.rfind('>')) {
                    (Some(a), Some(b)) if a < b => from[a + 1..b].to_owned(),
                    _ => from.clone(),
                };
                out.extend(normalize_address(&address));
                Ok(out)
            })
            .await
    }

    /// The people a message can belong to: contacts, then leads, while they have an email
    /// field; with whether they have an account.
    fn people_tables(&self) -> Vec<(String, bool)> {
        ["contact", "lead"]
            .iter()
            .filter_map(|o| self.object(o).ok())
            .filter(|o| o.field("email").is_some())
            .map(|o| {
                let account = o.field("account_id").is_some_and(|f| {
                    f.field_type == FieldType::Lookup
                        && f.target.as_ref().map(|t| t.as_str()) == Some("account")
                });
                (relata_store::ddl::table_name(&o).to_owned(), account)
            })
            .collect()
    }
}

/// What a sync read from the server.
struct Fetched {
    /// (UID, raw message), in UID order.
    messages: Vec<(u32, Vec<u8>)>,
    uid_validity: Option<u32>,
    /// The folder's UIDVALIDITY changed: UIDs start over.
    reset: bool,
}

async fn fetch_new(mailbox: &Mailbox) -> Result<Fetched, String> {
    let server = server_of(&mailbox.url)?;
    let tcp = tokio::net::TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", server.host, server.port))?;
    if server.tls {
        // ring, as lettre and reqwest use: no C toolchain for aws-lc (rustls deprecates
        // ring's provider only for lacking post-quantum key exchange)
        #[allow(deprecated)]
        let provider = tokio_rustls::rustls::crypto::ring::default_provider();
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(server.host.clone())
            .map_err(|e| format!("{}: {e}", server.host))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", server.host))?;
        read_folder(async_imap::Client::new(tls), &server, mailbox).await
    } else {
        read_folder(async_imap::Client::new(tcp), &server, mailbox).await
    }
}

async fn read_folder<T>(
    mut client: async_imap::Client<T>,
    server: &Server,
    mailbox: &Mailbox,
) -> Result<Fetched, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let step = |what: &'static str| move |e: async_imap::error::Error| format!("{what}: {e}");
    client
        .read_response()
        .await
        .map_err(|e| format!("no greeting: {e}"))?;
    let mut session = client
        .login(&server.user, &mailbox.password)
        .await
        .map_err(|(e, _)| format!("sign-in refused: {e}"))?;
    let folder = session
        .select(&mailbox.folder)
        .await
        .map_err(step("cannot open the folder"))?;
    let reset = folder.uid_validity.map(i64::from) != mailbox.uid_validity
        && mailbox.uid_validity.is_some();
    let from = if reset || mailbox.uid_validity.is_none() {
        1
    } else {
        mailbox.last_uid + 1
    };
    let mut messages = Vec::new();
    {
        let mut stream = session
            .uid_fetch(format!("{from}:*"), "(UID BODY.PEEK[])")
            .await
            .map_err(step("cannot list the messages"))?;
        while let Some(item) = stream.next().await {
            let fetch = item.map_err(step("cannot read a message"))?;
            let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                continue;
            };
            // `N:*` answers the newest message even when its UID is below N
            if i64::from(uid) >= from && messages.len() < BATCH {
                messages.push((uid, body.to_vec()));
            }
        }
    }
    messages.sort_by_key(|(uid, _)| *uid);
    let _ = session.logout().await;
    Ok(Fetched {
        messages,
        uid_validity: folder.uid_validity,
        reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_addresses_are_read_or_refused() {
        let s =
            server_of("imaps://li.lei%40acme.cn@imap.acme.cn").unwrap_or_else(|e| panic!("{e}"));
        assert!(s.tls);
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str()),
            ("imap.acme.cn", 993, "li.lei@acme.cn")
        );
        let s = server_of("imap://crm@127.0.0.1:1143").unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.tls);
        assert_eq!(s.port, 1143);
        assert!(server_of("pop3://x@y").is_err());
        assert!(server_of("imaps://imap.acme.cn").is_err());
        assert!(server_of("imaps://u:secret@imap.acme.cn").is_err());
    }
}
