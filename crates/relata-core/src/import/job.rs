//! Import jobs: a file uploaded for an object (kept in the database in pieces), the choices
//! the importer made (mapping, mode, key, duplicate handling, reading rules), and where the
//! job stands. A job goes draft → queued → running → done (or failed / cancelled); a done
//! job may be undone (undoing → undone). A dry run is a job whose writes are rolled back:
//! it reports on every row, and may then be started for real on the same file.

use std::collections::HashMap;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::dialect::placeholders;
use relata_store::{Conn, Row, SqlValue};

use super::mapping::{self, Mapping, Target};
use super::source::{Encoding, FileFormat, Sheet};
use super::transform::DateOrder;
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// Bytes per stored piece of an uploaded file.
const PIECE_BYTES: usize = 1 << 20;
/// Pieces written per transaction.
const PIECES_PER_WRITE: usize = 8;
/// The largest file an import takes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Rows shown as a sample of the file.
const SAMPLE_ROWS: usize = 5;

/// What a row does to the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Every row is a new record.
    #[default]
    Create,
    /// Every row updates the record its key names; a row naming none fails.
    Update,
    /// A row updates the record its key names, or creates one.
    Upsert,
}

/// What happens to a row that would create a possible duplicate of an existing record
/// (under the object's matching rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// The row is skipped and reported with the record it matched.
    #[default]
    Skip,
    /// The row updates the record it matched.
    Update,
    /// The record is created anyway.
    Create,
}

/// The importer's choices, kept with the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportOptions {
    pub mapping: Mapping,
    pub mode: ImportMode,
    /// The field rows are matched on in update and upsert mode: `id` or a unique field.
    pub key: Option<String>,
    pub on_duplicate: OnDuplicate,
    /// A CSV's encoding; guessed when absent.
    pub encoding: Option<Encoding>,
    pub date_order: DateOrder,
    /// Offset east of UTC, in minutes, of date-times written without one.
    pub utc_offset_minutes: i32,
    /// Write phone numbers in E.164 (+8613812345678).
    pub normalise_phones: bool,
    /// Per picklist field: a word of the file → the value it stands for.
    pub picklist_map: HashMap<String, HashMap<String, String>>,
}

/// What the importer sends to start a job. Absent parts take the guessed mapping and the
/// defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Heading (as in the file) or 1-based column number → target (`email`,
    /// `amount_currency`, `account_id_name`, or `""` to leave the column out).
    #[serde(default)]
    pub columns: HashMap<String, String>,
    #[serde(default)]
    pub mode: ImportMode,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    #[serde(default)]
    pub encoding: Option<Encoding>,
    #[serde(default)]
    pub date_order: DateOrder,
    #[serde(default)]
    pub utc_offset_minutes: Option<i32>,
    #[serde(default)]
    pub normalise_phones: Option<bool>,
    #[serde(default)]
    pub picklist_map: HashMap<String, HashMap<String, String>>,
    /// Check every row and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Draft,
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    Undoing,
    Undone,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Undoing => "undoing",
            Self::Undone => "undone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Queued,
            Self::Running,
            Self::Done,
            Self::Failed,
            Self::Cancelled,
            Self::Undoing,
            Self::Undone,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the job will not change any more by itself.
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Queued | Self::Running | Self::Undoing)
    }
}

/// Rows by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub failed: i64,
}

/// One import job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportJob {
    pub id: Uuid,
    pub object: String,
    pub actor_id: Uuid,
    pub file_name: String,
    pub format: FileFormat,
    pub file_bytes: i64,
    pub status: ImportStatus,
    pub dry_run: bool,
    pub options: Option<ImportOptions>,
    /// Data rows in the file, once counted.
    pub total_rows: Option<i64>,
    pub rows_done: i64,
    #[serde(flatten)]
    pub tally: Tally,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// A first look at an uploaded file: its headings, how each would be mapped, a few rows.
#[derive(Debug, Clone, Serialize)]
pub struct ImportPreview {
    pub headings: Vec<String>,
    pub encoding: Option<Encoding>,
    pub columns: Vec<PreviewColumn>,
    pub sample: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewColumn {
    pub heading: String,
    /// The target as written in a request (`email`, `account_id_name`), if mapped.
    pub target: Option<String>,
    pub field_label: Option<String>,
}

pub(crate) const JOB_COLUMNS: &str = "id, object, actor_id, file_name, format, file_bytes, status, dry_run, options, total_rows, rows_done, created, updated, unchanged, skipped, failed, error, created_at, started_at, finished_at, undone_at";

pub(crate) use crate::records::json_of;

pub(crate) fn decode_job(r: &Row) -> Result<ImportJob, CoreError> {
    let bad = || CoreError::Internal("an import job row cannot be read".into());
    let options = json_of(&r[8]);
    Ok(ImportJob {
        id: r[0].as_uuid().ok_or_else(bad)?,
        object: r[1].as_str().ok_or_else(bad)?.to_owned(),
        actor_id: r[2].as_uuid().ok_or_else(bad)?,
        file_name: r[3].as_str().unwrap_or_default().to_owned(),
        format: FileFormat::parse(r[4].as_str().unwrap_or("csv")).map_err(|_| bad())?,
        file_bytes: r[5].as_i64().unwrap_or(0),
        status: r[6]
            .as_str()
            .and_then(ImportStatus::parse)
            .ok_or_else(bad)?,
        dry_run: r[7].as_bool().unwrap_or(false),
        options: serde_json::from_value(options).ok(),
        total_rows: r[9].as_i64(),
        rows_done: r[10].as_i64().unwrap_or(0),
        tally: Tally {
            created: r[11].as_i64().unwrap_or(0),
            updated: r[12].as_i64().unwrap_or(0),
            unchanged: r[13].as_i64().unwrap_or(0),
            skipped: r[14].as_i64().unwrap_or(0),
            failed: r[15].as_i64().unwrap_or(0),
        },
        error: r[16].as_str().map(str::to_owned),
        created_at: r[17].as_timestamp().ok_or_else(bad)?,
        started_at: r[18].as_timestamp(),
        finished_at: r[19].as_timestamp(),
        undone_at: r[20].as_timestamp(),
    })
}

pub(crate) fn load_job(conn: &mut dyn Conn, id: Uuid) -> Result<Option<ImportJob>, CoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM sys_import_jobs WHERE id = {}",
        placeholders(conn.dialect(), 1, 1)
    );
    conn.query_one(&sql, &[SqlValue::Uuid(id)])?
        .map(|r| decode_job(&r))
        .transpose()
}

/// Writes the spooled upload into the database, a few pieces per transaction (a crash
/// midway leaves a job whose file is short of its `file_bytes`, which refuses to run).
async fn store_file(
    store: &relata_store::Store,
    job: Uuid,
    spool: tempfile::NamedTempFile,
) -> Result<(), CoreError> {
    let mut file = std::fs::File::open(spool.path())
        .map_err(|e| CoreError::Internal(format!("cannot read the spooled upload: {e}")))?;
    let mut seq = 0i64;
    loop {
        let mut pieces = Vec::with_capacity(PIECES_PER_WRITE);
        while pieces.len() < PIECES_PER_WRITE {
            let mut piece = Vec::with_capacity(PIECE_BYTES);
            (&mut file)
                .take(PIECE_BYTES as u64)
                .read_to_end(&mut piece)
                .map_err(|e| CoreError::Internal(format!("cannot read the spooled upload: {e}")))?;
            if piece.is_empty() {
                break;
            }
            pieces.push(piece);
        }
        if pieces.is_empty() {
            return Ok(());
        }
        let first = seq;
        seq += pieces.len() as i64;
        store
            .write(move |conn| {
                let sql = format!(
                    "INSERT INTO sys_import_files (job_id, seq, data) VALUES ({})",
                    placeholders(conn.dialect(), 1, 3)
                );
                for (i, piece) in pieces.into_iter().enumerate() {
                    conn.execute(
                        &sql,
                        &[
                            SqlValue::Uuid(job),
                            SqlValue::Int(first + i as i64),
                            SqlValue::Blob(piece),
                        ],
                    )?;
                }
                Ok::<_, CoreError>(())
            })
            .await?;
    }
}

/// Copies a job's file from the database into a temporary file (removed when dropped):
/// both readers want a file, and an XLSX one they can seek in.
pub(crate) fn materialise(
    store: &relata_store::Store,
    job: Uuid,
    format: FileFormat,
    expected: i64,
) -> Result<tempfile::NamedTempFile, CoreError> {
    let suffix = match format {
        FileFormat::Csv => ".csv",
        FileFormat::Xlsx => ".xlsx",
    };
    let mut file = tempfile::Builder::new()
        .prefix("relata-import-")
        .suffix(suffix)
        .tempfile()
        .map_err(|e| CoreError::Internal(format!("cannot create a temporary file: {e}")))?;
    let mut seq = 0i64;
    loop {
        // a piece at a time, so memory holds one piece however large the file
        let piece = store.read_blocking(|conn| {
            let sql = format!(
                "SELECT data FROM sys_import_files WHERE job_id = {} AND seq = {}",
                relata_store::dialect::placeholder(conn.dialect(), 1),
                relata_store::dialect::placeholder(conn.dialect(), 2)
            );
            Ok::<_, CoreError>(
                conn.query_one(&sql, &[SqlValue::Uuid(job), SqlValue::Int(seq)])?
                    .and_then(|r| match r.into_iter().next() {
                        Some(SqlValue::Blob(b)) => Some(b),
                        _ => None,
                    }),
            )
        })?;
        let Some(piece) = piece else { break };
        file.write_all(&piece)
            .map_err(|e| CoreError::Internal(format!("cannot write a temporary file: {e}")))?;
        seq += 1;
    }
    file.flush()
        .map_err(|e| CoreError::Internal(format!("cannot write a temporary file: {e}")))?;
    let copied = file
        .as_file()
        .metadata()
        .map(|m| m.len() as i64)
        .unwrap_or(-1);
    if copied != expected {
        return Err(FieldError::new(
            "file",
            FieldErrorCode::InvalidOption,
            format!("the upload did not complete ({copied} of {expected} bytes were stored); upload the file again"),
        )
        .into());
    }
    Ok(file)
}

fn not_found() -> CoreError {
    CoreError::not_found("import")
}

impl Core {
    /// Keeps an uploaded file as a draft import into `object`, after checking it can be
    /// read: its headings are there, in a format and encoding an import reads.
    pub async fn create_import(
        &self,
        actor: &Actor,
        object: &str,
        file_name: &str,
        format: Option<&str>,
        data: impl std::io::Read + Send + 'static,
    ) -> Result<ImportJob, CoreError> {
        let object = self.object(object)?;
        actor.require(object.name(), Operation::Import)?;
        let format = FileFormat::parse(format.unwrap_or(file_name))?;
        // spooled to a temporary file a buffer at a time (memory does not grow with the
        // file), and its headings read, so a file that is no CSV or XLSX is refused now
        let (spool, bytes, headers) = tokio::task::spawn_blocking(move || {
            let mut data = data;
            let mut spool = tempfile::NamedTempFile::new()
                .map_err(|e| CoreError::Internal(format!("cannot create a temporary file: {e}")))?;
            let bytes = std::io::copy(&mut (&mut data).take(MAX_FILE_BYTES + 1), &mut spool)
                .map_err(|e| CoreError::Internal(format!("cannot spool the upload: {e}")))?;
            if bytes > MAX_FILE_BYTES {
                return Err(FieldError::new(
                    "file",
                    FieldErrorCode::TooLarge,
                    format!(
                        "the file is larger than {} MiB; split it into several imports",
                        MAX_FILE_BYTES >> 20
                    ),
                )
                .into());
            }
            if bytes == 0 {
                return Err(
                    FieldError::new("file", FieldErrorCode::Required, "the file is empty").into(),
                );
            }
            spool
                .flush()
                .map_err(|e| CoreError::Internal(format!("cannot spool the upload: {e}")))?;
            let headers = Sheet::open(spool.path(), format, None)?.headers;
            Ok::<_, CoreError>((spool, bytes as i64, headers))
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        if headers.iter().all(|h| h.is_empty()) {
            return Err(FieldError::new(
                "file",
                FieldErrorCode::Required,
                "the first row must hold the column headings",
            )
            .into());
        }
        let id = relata_domain::RecordId::new_at(self.clock.now()).0;
        let now = self.clock.now();
        let who = crate::audit::Who::from(actor);
        let (actor_id, object_name, file_name) = (
            actor.user_id.0,
            object.name().to_owned(),
            file_name.to_owned(),
        );
        self.store
            .write(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT INTO sys_import_jobs (id, object, actor_id, file_name, format, file_bytes, options, status, dry_run, rows_done, created, updated, unchanged, skipped, failed, created_at) VALUES ({})",
                        placeholders(conn.dialect(), 1, 16)
                    ),
                    &[
                        SqlValue::Uuid(id),
                        SqlValue::Text(object_name.clone()),
                        SqlValue::Uuid(actor_id),
                        SqlValue::Text(file_name.clone()),
                        SqlValue::Text(format_name(format).into()),
                        SqlValue::Int(bytes),
                        SqlValue::Json(Json::Null),
                        SqlValue::Text(ImportStatus::Draft.as_str().into()),
                        SqlValue::Bool(false),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Int(0),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "import.upload",
                    None,
                    json!({"import": id, "object": object_name, "file": file_name, "bytes": bytes}),
                )
            })
            .await?;
        store_file(&self.store, id, spool).await?;
        self.import_job(actor, id).await
    }

    /// One job of the actor's (an administrator sees every job).
    pub async fn import_job(&self, actor: &Actor, id: Uuid) -> Result<ImportJob, CoreError> {
        let job = self
            .store
            .read(move |conn| load_job(conn, id))
            .await?
            .ok_or_else(not_found)?;
        if job.actor_id != actor.user_id.0 && !actor.is_superuser() {
            return Err(not_found());
        }
        Ok(job)
    }

    /// The actor's jobs, newest first (an administrator's: everyone's).
    pub async fn import_jobs(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<Vec<ImportJob>, CoreError> {
        let me = actor.user_id.0;
        let all = actor.is_superuser();
        let limit = limit.clamp(1, 200);
        self.store
            .read(move |conn| {
                let mut sql = relata_store::Sql::new(conn.dialect());
                sql.push(&format!("SELECT {JOB_COLUMNS} FROM sys_import_jobs"));
                if !all {
                    sql.push(" WHERE actor_id = ");
                    sql.param(SqlValue::Uuid(me));
                }
                sql.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
                conn.query(&sql.text, &sql.params)?
                    .iter()
                    .map(decode_job)
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
    }

    /// The file's headings, the mapping guessed for them (or the job's, once started) and a
    /// few rows as they read.
    pub async fn import_preview(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<ImportPreview, CoreError> {
        let job = self.import_job(actor, id).await?;
        let object = self.object(&job.object)?;
        let encoding = job.options.as_ref().and_then(|o| o.encoding);
        let file = materialise_async(self, &job).await?;
        let (headings, detected, sample) = tokio::task::spawn_blocking(move || {
            let sheet = Sheet::open(file.path(), job.format, encoding)?;
            let (headings, detected) = (sheet.headers.clone(), sheet.encoding);
            let sample: Vec<Vec<String>> = sheet
                .take(SAMPLE_ROWS)
                .map(|r| r.cells.unwrap_or_else(|e| vec![e]))
                .collect();
            Ok::<_, CoreError>((headings, detected, sample))
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        let map = match &job.options {
            Some(o) if o.mapping.columns.len() == headings.len() => o.mapping.clone(),
            _ => mapping::auto_map(&object, &headings),
        };
        let columns = headings
            .iter()
            .zip(&map.columns)
            .map(|(h, t)| PreviewColumn {
                heading: h.clone(),
                target: t.as_ref().map(Target::spec),
                field_label: t
                    .as_ref()
                    .and_then(|t| object.field(t.field()))
                    .map(|f| f.label.clone()),
            })
            .collect();
        Ok(ImportPreview {
            headings,
            encoding: detected,
            columns,
            sample,
        })
    }

    /// Starts a draft job (or a finished dry run, for real or again) with the importer's
    /// choices; the worker picks it up.
    pub async fn start_import(
        &self,
        actor: &Actor,
        id: Uuid,
        request: ImportRequest,
    ) -> Result<ImportJob, CoreError> {
        let job = self.import_job(actor, id).await?;
        let restartable = job.status == ImportStatus::Draft
            || (job.dry_run && job.status.is_settled() && job.status != ImportStatus::Undone);
        if !restartable {
            return Err(CoreError::Conflict {
                code: "import_started",
                message: format!(
                    "the import is {}; only a draft or a dry run can be started",
                    job.status.as_str()
                ),
            });
        }
        let object = self.object(&job.object)?;
        require_rights(actor, &object, request.mode)?;
        let file = materialise_async(self, &job).await?;
        let encoding = request.encoding;
        let headers = tokio::task::spawn_blocking(move || {
            Sheet::open(file.path(), job.format, encoding).map(|s| s.headers)
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        let options = options_of(&object, &headers, request.clone())?;
        let now = self.clock.now();
        let who = crate::audit::Who::from(actor);
        let options_json =
            serde_json::to_value(&options).map_err(|e| CoreError::Internal(e.to_string()))?;
        let dry_run = request.dry_run;
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                conn.execute(
                    &format!("DELETE FROM sys_import_rows WHERE job_id = {}", placeholders(d, 1, 1)),
                    &[SqlValue::Uuid(id)],
                )?;
                let changed = conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET status = 'queued', options = {}, dry_run = {}, total_rows = NULL, rows_done = 0, created = 0, updated = 0, unchanged = 0, skipped = 0, failed = 0, error = NULL, started_at = NULL, finished_at = NULL, heartbeat_at = NULL WHERE id = {} AND status = {}",
                        placeholders(d, 1, 1),
                        placeholders(d, 2, 1),
                        placeholders(d, 3, 1),
                        placeholders(d, 4, 1)
                    ),
                    &[
                        SqlValue::Json(options_json.clone()),
                        SqlValue::Bool(dry_run),
                        SqlValue::Uuid(id),
                        SqlValue::Text(job.status.as_str().into()),
                    ],
                )?;
                if changed == 0 {
                    return Err(CoreError::Conflict {
                        code: "import_started",
                        message: "the import was started meanwhile".into(),
                    });
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    if dry_run { "import.dry_run" } else { "import.start" },
                    None,
                    json!({"import": id, "object": job.object, "options": options_json}),
                )
            })
            .await?;
        self.wake_import_worker();
        self.import_job(actor, id).await
    }

    /// Stops a queued or running job after the batch in hand; what it wrote stays (undo
    /// removes it).
    pub async fn cancel_import(&self, actor: &Actor, id: Uuid) -> Result<ImportJob, CoreError> {
        self.import_job(actor, id).await?;
        self.set_status_from(
            id,
            &[ImportStatus::Queued, ImportStatus::Running],
            ImportStatus::Cancelled,
            "import_settled",
            "only a queued or running import can be cancelled",
        )
        .await?;
        self.import_job(actor, id).await
    }

    /// Undoes a job that wrote records: the records it created go to the recycle bin, the
    /// ones it updated get their previous values back. A record changed by anyone since the
    /// import wrote it is left as it is, and counted as kept.
    pub async fn undo_import(&self, actor: &Actor, id: Uuid) -> Result<ImportJob, CoreError> {
        let job = self.import_job(actor, id).await?;
        if job.dry_run {
            return Err(CoreError::Conflict {
                code: "import_dry_run",
                message: "a dry run wrote nothing to undo".into(),
            });
        }
        let object = self.object(&job.object)?;
        actor.require(object.name(), Operation::Delete)?;
        actor.require(object.name(), Operation::Edit)?;
        self.set_status_from(
            id,
            &[
                ImportStatus::Done,
                ImportStatus::Failed,
                ImportStatus::Cancelled,
            ],
            ImportStatus::Undoing,
            "import_not_finished",
            "only a finished, failed or cancelled import can be undone",
        )
        .await?;
        let (who, now) = (crate::audit::Who::from(actor), self.clock.now());
        self.store
            .write(move |conn| {
                crate::audit::append(conn, &who, now, "import.undo", None, json!({"import": id}))
            })
            .await?;
        self.wake_import_worker();
        self.import_job(actor, id).await
    }

    async fn set_status_from(
        &self,
        id: Uuid,
        from: &[ImportStatus],
        to: ImportStatus,
        code: &'static str,
        message: &'static str,
    ) -> Result<(), CoreError> {
        let from: Vec<SqlValue> = from
            .iter()
            .map(|s| SqlValue::Text(s.as_str().into()))
            .collect();
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                let mut params = vec![SqlValue::Text(to.as_str().into()), SqlValue::Uuid(id)];
                let n = from.len();
                params.extend(from);
                let changed = conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET status = {}, heartbeat_at = NULL WHERE id = {} AND status IN ({})",
                        placeholders(d, 1, 1),
                        placeholders(d, 2, 1),
                        placeholders(d, 3, n)
                    ),
                    &params,
                )?;
                if changed == 0 {
                    return Err(CoreError::Conflict { code, message: message.into() });
                }
                Ok(())
            })
            .await
    }
}

pub(crate) async fn materialise_async(
    core: &Core,
    job: &ImportJob,
) -> Result<tempfile::NamedTempFile, CoreError> {
    let store = core.store.clone();
    let (id, format, expected) = (job.id, job.format, job.file_bytes);
    tokio::task::spawn_blocking(move || materialise(&store, id, format, expected))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?
}

fn format_name(f: FileFormat) -> &'static str {
    match f {
        FileFormat::Csv => "csv",
        FileFormat::Xlsx => "xlsx",
    }
}

/// What each mode needs: create rights to create, edit rights to update.
fn require_rights(actor: &Actor, object: &ObjectDef, mode: ImportMode) -> Result<(), CoreError> {
    actor.require(object.name(), Operation::Import)?;
    if mode != ImportMode::Update {
        actor.require(object.name(), Operation::Create)?;
    }
    if mode != ImportMode::Create {
        actor.require(object.name(), Operation::Edit)?;
    }
    Ok(())
}

/// The request checked against the object and the file's headings.
pub(crate) fn options_of(
    object: &ObjectDef,
    headers: &[String],
    request: ImportRequest,
) -> Result<ImportOptions, CoreError> {
    let mut overrides: Vec<(String, String)> = request.columns.into_iter().collect();
    overrides.sort();
    let mapping = mapping::with_overrides(
        object,
        headers,
        mapping::auto_map(object, headers),
        &overrides,
    )?;
    if mapping.columns.iter().all(Option::is_none) {
        return Err(FieldError::new(
            "columns",
            FieldErrorCode::Required,
            "no column is mapped to a field",
        )
        .into());
    }
    // a new record needs its required fields: a file without a column for one is refused
    // now, rather than failing on every row
    if request.mode != ImportMode::Update {
        let missing: Vec<&str> = mapping::writable(object)
            .filter(|f| f.required && f.default.is_none() && f.name() != "owner_id")
            .filter(|f| {
                !mapping
                    .columns
                    .iter()
                    .flatten()
                    .any(|t| t.field() == f.name())
            })
            .map(|f| f.name())
            .collect();
        if !missing.is_empty() {
            return Err(FieldError::new(
                "columns",
                FieldErrorCode::Required,
                format!(
                    "no column is mapped to the required field{} {} of '{}'",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", "),
                    object.name()
                ),
            )
            .into());
        }
    }
    let key = match request.mode {
        ImportMode::Create => None,
        ImportMode::Update | ImportMode::Upsert => {
            let key = request.key.clone().unwrap_or_else(|| "id".into());
            let field = object.field(&key).ok_or_else(|| {
                FieldError::new(
                    "key",
                    FieldErrorCode::UnknownField,
                    format!("'{}' has no field '{key}'", object.name()),
                )
            })?;
            if key != "id" && !field.unique {
                return Err(FieldError::new(
                    "key",
                    FieldErrorCode::InvalidOption,
                    format!("'{key}' is not unique; rows are matched on the id or a unique field"),
                )
                .into());
            }
            let mapped = mapping
                .columns
                .iter()
                .flatten()
                .any(|t| matches!(t, Target::Value { field } if *field == key));
            if !mapped {
                return Err(FieldError::new(
                    "key",
                    FieldErrorCode::Required,
                    format!("no column is mapped to the key field '{key}'"),
                )
                .into());
            }
            Some(key)
        }
    };
    for (field, words) in &request.picklist_map {
        let ok = object.field(field).is_some_and(|f| {
            matches!(
                f.field_type,
                relata_domain::meta::FieldType::Picklist
                    | relata_domain::meta::FieldType::MultiPicklist
            ) && words.values().all(|v| f.picklist_value(v).is_some())
        });
        if !ok {
            return Err(FieldError::new(
                format!("picklist_map.{field}"),
                FieldErrorCode::UnknownPicklistValue,
                format!("'{field}' is not a picklist of '{}', or a value mapped to is not one of its values", object.name()),
            )
            .into());
        }
    }
    let offset = request.utc_offset_minutes.unwrap_or(8 * 60);
    if !(-14 * 60..=14 * 60).contains(&offset) {
        return Err(FieldError::new(
            "utc_offset_minutes",
            FieldErrorCode::TooLarge,
            "an offset is within ±14 hours",
        )
        .into());
    }
    Ok(ImportOptions {
        mapping,
        mode: request.mode,
        key,
        on_duplicate: request.on_duplicate,
        encoding: request.encoding,
        date_order: request.date_order,
        utc_offset_minutes: offset,
        normalise_phones: request.normalise_phones.unwrap_or(true),
        picklist_map: request
            .picklist_map
            .into_iter()
            .map(|(f, words)| {
                (
                    f,
                    words
                        .into_iter()
                        .map(|(w, v)| (mapping::normalise(&w), v))
                        .collect(),
                )
            })
            .collect(),
    })
}
