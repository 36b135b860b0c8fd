//! Files attached to any record — a signed contract, a business licence, a quote sent — kept
//! through a storage port ([`store`]): in the database by default, in a local directory when
//! `attachments_dir` is set. Who may see a record may download its files; who may edit it may
//! attach and remove them. What a file is comes from its content ([`kinds`]): a program
//! renamed `.pdf` is refused. Attachments appear on the record's timeline.

pub mod kinds;
pub mod store;
mod timeline;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::ids::uuid_v7_at;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::dialect::placeholders;
use relata_store::{Conn, Sql, SqlValue};

use crate::records::{Bin, read};
use crate::visibility::Visibility;
use crate::{Actor, Core, CoreError};
pub use store::{DatabaseFiles, DirectoryFiles, FileStore};
pub use timeline::KIND;
pub(crate) use timeline::OnTimeline;

/// Longest file name kept.
const MAX_NAME_CHARS: usize = 255;
/// Most attachments listed for one record.
const MAX_LISTED: usize = 500;

/// An attached file, without its bytes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attachment {
    pub id: Uuid,
    pub object: String,
    pub record_id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub bytes: i64,
    pub sha256: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub storage: String,
}

impl Attachment {
    /// The headers of a download: always as a file to save (never shown inline, never
    /// sniffed into something else), with its name in ASCII and in UTF-8 (RFC 6266).
    pub fn download_headers(&self) -> [(&'static str, String); 5] {
        let ascii: String = self
            .file_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let utf8: String = form_urlencoded::byte_serialize(self.file_name.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        [
            ("content-type", self.content_type.clone()),
            (
                "content-disposition",
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}"),
            ),
            ("x-content-type-options", "nosniff".to_owned()),
            ("content-security-policy", "sandbox".to_owned()),
            ("cache-control", "private, no-store".to_owned()),
        ]
    }
}

const COLUMNS: &str = "id, object, record_id, file_name, content_type, bytes, sha256, created_by, created_at, storage";

pub(crate) fn decode(row: &[SqlValue]) -> Option<Attachment> {
    Some(Attachment {
        id: row[0].as_uuid()?,
        object: row[1].as_str()?.to_owned(),
        record_id: row[2].as_uuid()?,
        file_name: row[3].as_str()?.to_owned(),
        content_type: row[4].as_str()?.to_owned(),
        bytes: row[5].as_i64()?,
        sha256: row[6].as_str()?.to_owned(),
        created_by: row[7].as_uuid(),
        created_at: row[8].as_timestamp()?,
        storage: row[9].as_str()?.to_owned(),
    })
}

/// The adapters: new files go to `current`; a file is read back from the adapter that
/// stored it (an installation that moved to a directory still serves its older files).
pub(crate) struct Files {
    pub current: Arc<dyn FileStore>,
    pub database: Arc<dyn FileStore>,
}

impl Files {
    pub(crate) fn new(dir: Option<&std::path::Path>) -> Files {
        let database: Arc<dyn FileStore> = Arc::new(DatabaseFiles);
        Files {
            current: match dir {
                Some(dir) => Arc::new(DirectoryFiles {
                    dir: dir.to_owned(),
                }),
                None => database.clone(),
            },
            database,
        }
    }

    fn of(&self, kind: &str) -> Arc<dyn FileStore> {
        if kind == self.current.kind() {
            self.current.clone()
        } else {
            self.database.clone()
        }
    }
}

/// A file name as kept: the last part of a path, without control characters, not empty.
fn clean_name(name: &str) -> Result<String, CoreError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(FieldError::new(
            "file_name",
            FieldErrorCode::Required,
            "the file needs a name",
        )
        .into());
    }
    Ok(cleaned)
}

/// The record the attachment belongs to, checked for `op`: not found when the caller cannot
/// see it, forbidden when they see it but may not do `op`.
fn require_record(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    id: Uuid,
    read_vis: &Visibility,
    op_vis: Option<&Visibility>,
) -> Result<(), CoreError> {
    read::get(conn, object, id, read_vis, Bin::Live)?
        .ok_or_else(|| CoreError::not_found(format!("{} {id}", object.name())))?;
    if let Some(vis) = op_vis
        && read::get(conn, object, id, vis, Bin::Live)?.is_none()
    {
        return Err(CoreError::Forbidden {
            message: format!(
                "you may not change the attachments of {} {id}",
                object.name()
            ),
        });
    }
    Ok(())
}

fn load(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Attachment>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {COLUMNS} FROM sys_attachments WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .as_deref()
        .and_then(decode))
}

impl Core {
    /// Attaches a file to a record the actor may edit.
    pub async fn attach(
        &self,
        actor: &Actor,
        object: &str,
        record_id: Uuid,
        file_name: &str,
        data: Vec<u8>,
    ) -> Result<Attachment, CoreError> {
        let def = self.object(object)?;
        let read_vis = self.visibility(actor, &def, Operation::Read)?;
        let edit_vis = self.visibility(actor, &def, Operation::Edit)?;
        let file_name = clean_name(file_name)?;
        let max = self.settings.attachment_max_bytes;
        if data.len() as u64 > max {
            return Err(FieldError::new(
                "file",
                FieldErrorCode::TooLarge,
                format!("is {} bytes; the most allowed is {max}", data.len()),
            )
            .into());
        }
        let content_type = kinds::judge(&file_name, &data).map_err(|m| {
            CoreError::from(FieldError::new("file", FieldErrorCode::InvalidOption, m))
        })?;
        let now = self.clock.now();
        let attachment = Attachment {
            id: uuid_v7_at(now),
            object: def.name().to_owned(),
            record_id,
            file_name,
            content_type: content_type.to_owned(),
            bytes: data.len() as i64,
            sha256: hex::encode(Sha256::digest(&data)),
            created_by: Some(actor.user_id.0),
            created_at: now,
            storage: self.files.current.kind().to_owned(),
        };
        let (files, row, who) = (self.files.current.clone(), attachment.clone(), actor.into());
        self.store
            .write(move |conn| {
                require_record(conn, &def, record_id, &read_vis, Some(&edit_vis))?;
                conn.execute(
                    &format!(
                        "INSERT INTO sys_attachments ({COLUMNS}) VALUES ({})",
                        placeholders(conn.dialect(), 1, 10)
                    ),
                    &[
                        SqlValue::Uuid(row.id),
                        SqlValue::Text(row.object.clone()),
                        SqlValue::Uuid(row.record_id),
                        SqlValue::Text(row.file_name.clone()),
                        SqlValue::Text(row.content_type.clone()),
                        SqlValue::Int(row.bytes),
                        SqlValue::Text(row.sha256.clone()),
                        row.created_by.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
                        SqlValue::Timestamp(row.created_at),
                        SqlValue::Text(row.storage.clone()),
                    ],
                )?;
                files.put(conn, row.id, &data)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "attachment.create",
                    Some((def.name(), record_id)),
                    serde_json::json!({"attachment_id": row.id.to_string(), "file_name": row.file_name, "bytes": row.bytes}),
                )
            })
            .await?;
        Ok(attachment)
    }

    /// The files attached to a record the actor may see, newest first.
    pub async fn attachments(
        &self,
        actor: &Actor,
        object: &str,
        record_id: Uuid,
    ) -> Result<Vec<Attachment>, CoreError> {
        let def = self.object(object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        self.store
            .read(move |conn| {
                require_record(conn, &def, record_id, &vis, None)?;
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {COLUMNS} FROM sys_attachments WHERE object = "
                ));
                sql.param(SqlValue::Text(def.name().to_owned()));
                sql.push(" AND record_id = ");
                sql.param(SqlValue::Uuid(record_id));
                sql.push(&format!(
                    " ORDER BY created_at DESC, id DESC LIMIT {MAX_LISTED}"
                ));
                Ok(conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| decode(r))
                    .collect())
            })
            .await
    }

    /// An attachment, its record's object and the actor's read visibility of it; not found
    /// when there is no such attachment or the actor may not read its object at all.
    async fn attachment_for(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Attachment, Arc<ObjectDef>, Visibility), CoreError> {
        let not_found = move || CoreError::not_found(format!("attachment {id}"));
        let found = self
            .store
            .read(move |conn| load(conn, id))
            .await?
            .ok_or_else(not_found)?;
        let def = self.object(&found.object).map_err(|_| not_found())?;
        let vis = self
            .visibility(actor, &def, Operation::Read)
            .map_err(|_| not_found())?;
        Ok((found, def, vis))
    }

    /// An attachment and its bytes, when the actor may see its record.
    pub async fn attachment_file(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Attachment, Vec<u8>), CoreError> {
        let not_found = move || CoreError::not_found(format!("attachment {id}"));
        let (found, def, vis) = self.attachment_for(actor, id).await?;
        let files = self.files.of(&found.storage);
        let record_id = found.record_id;
        let data = self
            .store
            .read(move |conn| {
                require_record(conn, &def, record_id, &vis, None).map_err(|_| not_found())?;
                files.get(conn, id)
            })
            .await?;
        Ok((found, data))
    }

    /// Removes an attachment of a record the actor may edit.
    pub async fn delete_attachment(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let not_found = move || CoreError::not_found(format!("attachment {id}"));
        let (found, def, read_vis) = self.attachment_for(actor, id).await?;
        let edit_vis = self.visibility(actor, &def, Operation::Edit)?;
        let files = self.files.of(&found.storage);
        let (who, now, record_id) = (actor.into(), self.clock.now(), found.record_id);
        let store_files = files.clone();
        self.store
            .write(move |conn| {
                require_record(conn, &def, record_id, &read_vis, Some(&edit_vis)).map_err(|e| {
                    match e {
                        CoreError::NotFound { .. } => not_found(),
                        other => other,
                    }
                })?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_attachments WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(not_found());
                }
                store_files.remove(conn, id)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "attachment.delete",
                    Some((def.name(), record_id)),
                    serde_json::json!({"attachment_id": id.to_string()}),
                )
            })
            .await?;
        files.removed(id);
        Ok(())
    }
}
