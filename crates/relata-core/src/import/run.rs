//! Running an import job: rows are read on a thread of their own, a batch at a time, turned
//! into record input (mapping and transforms), their lookups resolved by name, their would-be
//! creates checked for duplicates — then each batch is written through the record service in
//! one transaction together with its ledger rows and the job's progress. A crash loses at
//! most the batch in hand, and the job resumes after the last batch that committed, without
//! writing any row twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::dedupe::Comparator;
use relata_domain::dedupe::person::email_key;
use relata_domain::dedupe::phone::to_e164;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Record, UserId, Value};
use relata_store::ddl::table_name;
use relata_store::dialect::placeholders;
use relata_store::{Conn, Sql, SqlValue};

use super::job::{
    ImportJob, ImportMode, ImportOptions, ImportStatus, OnDuplicate, Tally, load_job,
    materialise_async,
};
use super::mapping::Target;
use super::source::{Sheet, SourceRow};
use super::transform::{Cell, Reading, read_cell};
use futures_util::{StreamExt, TryStreamExt};

use crate::Core;
use crate::context::{Actor, Source};
use crate::duplicates::{self, Candidates};
use crate::error::CoreError;
use crate::records::bulk::find_existing;
use crate::records::companions::Companions;
use crate::records::{read, write};
use crate::visibility::Visibility;

/// Duplicate checks of one batch run at the same time.
const DUPLICATE_CHECKS_AT_ONCE: usize = 8;
/// Rows per batch: one transaction, one ledger insert, one progress update.
pub const BATCH: usize = 2_000;
/// A job whose heartbeat is older than this is taken to have lost its process.
const STALE_SECS: i64 = 30;

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// One row, read and mapped, on its way to the database.
struct Prepared {
    number: u64,
    cells: Vec<String>,
    input: Map<String, Json>,
    errors: Vec<FieldError>,
    /// A possible duplicate found before the write: the record the row matched.
    duplicate_of: Option<Uuid>,
    /// Under a blocking rule: the row would duplicate an existing record, whether or not
    /// the importing user may see it.
    blocked: bool,
}

/// One row's ledger entry.
struct Entry {
    number: u64,
    outcome: Outcome,
    record: Option<Uuid>,
    version: Option<i64>,
    previous: Option<Json>,
    errors: Vec<FieldError>,
    cells: Option<Vec<String>>,
}

/// Everything the writes of one job need, shared by its batches.
struct Plan {
    job: Uuid,
    object: Arc<ObjectDef>,
    options: ImportOptions,
    dry_run: bool,
    actor: Actor,
    edit_vis: Visibility,
    targets: write::LookupTargets,
    ctx: relata_domain::value::ParseContext,
    region: relata_domain::dedupe::phone::PhoneRegion,
    /// The matching rule's email and phone fields, whose exact keys tie a row to a record
    /// created earlier in the same import.
    exact_fields: Vec<(String, Comparator)>,
    /// The object's duplicate rule refuses duplicates: a row that has one fails, whatever
    /// the import's duplicate handling says.
    blocks_duplicates: bool,
}

/// What the reading thread sends.
enum Read {
    /// The file's data rows, counted before the first batch (a job that resumes knows them).
    Total(i64),
    Rows(Vec<SourceRow>),
}

enum Progress {
    /// The batch committed; the job goes on.
    Written,
    /// The job was cancelled (or taken over) meanwhile: nothing of the batch was written.
    Stopped,
}

impl Core {
    /// Wakes the import worker: a job was queued or is to be undone.
    pub fn wake_import_worker(&self) {
        self.import_wake.notify_one();
    }

    /// Runs queued imports (and undos) one after another for as long as the runtime lives,
    /// taking over jobs whose process died.
    pub fn spawn_import_worker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        tokio::spawn(async move {
            loop {
                match core.run_next_import(None).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "import worker"),
                }
                let wait = std::time::Duration::from_secs(STALE_SECS as u64 / 3);
                let _ = tokio::time::timeout(wait, core.import_wake.notified()).await;
            }
        })
    }

    /// Claims the oldest job waiting for work and runs it to its end (or, for tests of
    /// crash recovery, for at most `batches` batches, leaving it running as a crash would).
    /// Answers the job, or `None` when no job was waiting.
    pub async fn run_next_import(&self, batches: Option<usize>) -> Result<Option<Uuid>, CoreError> {
        let Some(job) = self.claim_import(None).await? else {
            return Ok(None);
        };
        let id = job.id;
        let actor = match self.fresh_access_of(UserId(job.actor_id)).await {
            Ok(access) => Actor::user(access, Source::Import),
            Err(e) => {
                self.fail_import(id, &format!("the importing user cannot act: {e}"))
                    .await?;
                return Ok(Some(id));
            }
        };
        self.drive(job, &actor, batches, &|_| {}).await?;
        Ok(Some(id))
    }

    /// Runs job `id` here and now as `actor` (the command line), reporting progress after
    /// every batch.
    pub async fn run_import(
        &self,
        actor: &Actor,
        id: Uuid,
        progress: &(dyn Fn(&ImportJob) + Sync),
    ) -> Result<ImportJob, CoreError> {
        let job = self
            .claim_import(Some(id))
            .await?
            .ok_or_else(|| CoreError::Conflict {
                code: "import_busy",
                message: "the import is not waiting to run, or another process runs it".into(),
            })?;
        self.drive(job, actor, None, progress).await?;
        self.store
            .read(move |conn| load_job(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found("import"))
    }

    async fn drive(
        &self,
        job: ImportJob,
        actor: &Actor,
        batches: Option<usize>,
        progress: &(dyn Fn(&ImportJob) + Sync),
    ) -> Result<(), CoreError> {
        let id = job.id;
        let outcome = if job.status == ImportStatus::Undoing {
            self.undo_rows(&job, actor, batches, progress).await
        } else {
            self.import_rows(job, actor, batches, progress).await
        };
        if let Err(e) = outcome {
            tracing::warn!(import = %id, error = %e, "import failed");
            let message = match &e {
                CoreError::Validation(errors) => errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                CoreError::Internal(_) | CoreError::Unavailable(_) => {
                    "the import stopped on an internal error; see the server log".into()
                }
                other => other.to_string(),
            };
            self.fail_import(id, &message).await?;
        }
        Ok(())
    }

    /// Takes a job waiting for work (`id`, or the oldest), marking it as this process's.
    async fn claim_import(&self, id: Option<Uuid>) -> Result<Option<ImportJob>, CoreError> {
        let now = self.clock.now();
        let stale = now - chrono::Duration::seconds(STALE_SECS);
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                let mut sql = Sql::new(d);
                sql.push("SELECT id, status FROM sys_import_jobs WHERE ((status IN ('queued', 'undoing') AND (heartbeat_at IS NULL OR heartbeat_at < ");
                sql.param(SqlValue::Timestamp(stale));
                sql.push(")) OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ");
                sql.param(SqlValue::Timestamp(stale));
                sql.push(")))");
                if let Some(id) = id {
                    sql.push(" AND id = ");
                    sql.param(SqlValue::Uuid(id));
                }
                sql.push(" ORDER BY created_at, id LIMIT 1");
                let Some(row) = conn.query_one(&sql.text, &sql.params)? else {
                    return Ok(None);
                };
                let (Some(id), Some(status)) = (row[0].as_uuid(), row[1].as_str().and_then(ImportStatus::parse)) else {
                    return Ok(None);
                };
                let next = if status == ImportStatus::Undoing { status } else { ImportStatus::Running };
                conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET status = {}, heartbeat_at = {}, started_at = COALESCE(started_at, {}) WHERE id = {}",
                        placeholders(d, 1, 1), placeholders(d, 2, 1), placeholders(d, 3, 1), placeholders(d, 4, 1)
                    ),
                    &[SqlValue::Text(next.as_str().into()), SqlValue::Timestamp(now), SqlValue::Timestamp(now), SqlValue::Uuid(id)],
                )?;
                load_job(conn, id)
            })
            .await
    }

    async fn fail_import(&self, id: Uuid, message: &str) -> Result<(), CoreError> {
        let (now, message) = (self.clock.now(), message.to_owned());
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET status = 'failed', error = {}, finished_at = {}, heartbeat_at = NULL WHERE id = {} AND status IN ('running', 'undoing', 'queued')",
                        placeholders(d, 1, 1), placeholders(d, 2, 1), placeholders(d, 3, 1)
                    ),
                    &[SqlValue::Text(message), SqlValue::Timestamp(now), SqlValue::Uuid(id)],
                )?;
                Ok(())
            })
            .await
    }

    async fn import_rows(
        &self,
        job: ImportJob,
        actor: &Actor,
        batches: Option<usize>,
        progress: &(dyn Fn(&ImportJob) + Sync),
    ) -> Result<(), CoreError> {
        let object = self.object(&job.object)?;
        let options = job
            .options
            .clone()
            .ok_or_else(|| CoreError::Internal("a queued import has no options".into()))?;
        let plan = Arc::new(Plan {
            job: job.id,
            edit_vis: self.visibility(actor, &object, Operation::Edit)?,
            targets: self.lookup_targets(actor, &object),
            ctx: self.parse_context(),
            region: self.phone_region(),
            exact_fields: exact_fields(&object),
            blocks_duplicates: relata_domain::dedupe::MatchRule::of(&object)
                .is_some_and(|r| r.action == relata_domain::dedupe::RuleAction::Block),
            object: object.clone(),
            options: options.clone(),
            dry_run: job.dry_run,
            actor: actor.clone(),
        });
        let reading = Reading {
            date_order: options.date_order,
            utc_offset: chrono::FixedOffset::east_opt(options.utc_offset_minutes * 60)
                .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc)),
            phone_region: self.phone_region(),
            normalise_phones: options.normalise_phones,
            picklist_map: options.picklist_map.clone(),
        };
        let file = materialise_async(self, &job).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Read, CoreError>>(2);
        let (format, encoding, skip, count) = (
            job.format,
            options.encoding,
            job.rows_done as usize,
            job.total_rows.is_none(),
        );
        let reader = std::thread::Builder::new()
            .name("relata-import-read".into())
            .spawn(move || {
                let run = || -> Result<(), CoreError> {
                    if count {
                        let total = Sheet::open(file.path(), format, encoding)?.count();
                        let _ = tx.blocking_send(Ok(Read::Total(total as i64)));
                    }
                    let mut sheet = Sheet::open(file.path(), format, encoding)?.skip(skip);
                    loop {
                        let batch: Vec<SourceRow> = sheet.by_ref().take(BATCH).collect();
                        if batch.is_empty() || tx.blocking_send(Ok(Read::Rows(batch))).is_err() {
                            return Ok(());
                        }
                    }
                };
                if let Err(e) = run() {
                    let _ = tx.blocking_send(Err(e));
                }
            })
            .map_err(|e| CoreError::Internal(format!("cannot start the import reader: {e}")))?;
        let mut users: Option<Arc<Users>> = None;
        let mut written = 0usize;
        let result = loop {
            if batches.is_some_and(|n| written >= n) {
                break Ok(false);
            }
            let Some(message) = rx.recv().await else {
                break Ok(true);
            };
            let rows = match message {
                Ok(Read::Rows(rows)) => rows,
                Ok(Read::Total(total)) => {
                    self.set_total(job.id, total).await?;
                    continue;
                }
                Err(e) => break Err(e),
            };
            let mut prepared: Vec<Prepared> = rows
                .into_iter()
                .map(|r| prepare(&object, &options.mapping, &reading, r))
                .collect();
            if users.is_none() && needs_users(&object, &options) {
                users = Some(Arc::new(self.load_users().await?));
            }
            self.resolve_names(actor, &object, &options, users.as_deref(), &mut prepared)
                .await?;
            if options.mode != ImportMode::Update
                && (options.on_duplicate != OnDuplicate::Create || plan.blocks_duplicates)
            {
                self.find_duplicates(actor, &object, &plan, &mut prepared)
                    .await?;
            }
            let run = plan.clone();
            let now = self.clock.now();
            let step = self
                .store
                .write_large(move |conn| write_batch(conn, &run, prepared, now))
                .await?;
            written += 1;
            match step {
                Progress::Stopped => break Ok(false),
                Progress::Written => {
                    let job_id = plan.job;
                    if let Some(j) = self.store.read(move |conn| load_job(conn, job_id)).await? {
                        progress(&j);
                    }
                }
            }
        };
        drop(rx);
        let _ = reader.join();
        if result? {
            self.finish(job.id, ImportStatus::Running, ImportStatus::Done)
                .await?;
            if let Some(j) = self.store.read(move |conn| load_job(conn, job.id)).await? {
                progress(&j);
            }
        }
        Ok(())
    }

    async fn set_total(&self, id: Uuid, total: i64) -> Result<(), CoreError> {
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET total_rows = {} WHERE id = {}",
                        placeholders(d, 1, 1),
                        placeholders(d, 2, 1)
                    ),
                    &[SqlValue::Int(total), SqlValue::Uuid(id)],
                )?;
                Ok(())
            })
            .await
    }

    /// Marks a job that ran to its end, unless it was cancelled meanwhile.
    pub(crate) async fn finish(
        &self,
        id: Uuid,
        from: ImportStatus,
        to: ImportStatus,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                let column = if to == ImportStatus::Undone { "undone_at" } else { "finished_at" };
                conn.execute(
                    &format!(
                        "UPDATE sys_import_jobs SET status = {}, {column} = {}, heartbeat_at = NULL WHERE id = {} AND status = {}",
                        placeholders(d, 1, 1), placeholders(d, 2, 1), placeholders(d, 3, 1), placeholders(d, 4, 1)
                    ),
                    &[SqlValue::Text(to.as_str().into()), SqlValue::Timestamp(now), SqlValue::Uuid(id), SqlValue::Text(from.as_str().into())],
                )?;
                Ok(())
            })
            .await
    }

    async fn load_users(&self) -> Result<Users, CoreError> {
        self.store
            .read(|conn| {
                let rows = conn.query(
                    "SELECT id, name, email FROM sys_users WHERE active = TRUE",
                    &[],
                )?;
                let mut users = Users::default();
                for r in rows {
                    let Some(id) = r[0].as_uuid() else { continue };
                    if let Some(email) = r[2].as_str() {
                        users.by_email.insert(email.trim().to_lowercase(), id);
                    }
                    if let Some(name) = r[1].as_str() {
                        users
                            .by_name
                            .entry(name.trim().to_owned())
                            .or_default()
                            .push(id);
                    }
                }
                Ok::<_, CoreError>(users)
            })
            .await
    }

    /// Turns the names written in lookup columns into ids: a user by email or name, a record
    /// by its name field among the records the actor may see. A name that matches nothing,
    /// or several, is that cell's error.
    async fn resolve_names(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        options: &ImportOptions,
        users: Option<&Users>,
        rows: &mut [Prepared],
    ) -> Result<(), CoreError> {
        let lookups: Vec<&str> = options
            .mapping
            .columns
            .iter()
            .flatten()
            .filter(|t| {
                matches!(t, Target::Name { .. })
                    || object.field(t.field()).is_some_and(|f| {
                        matches!(f.field_type, FieldType::Lookup | FieldType::UserLookup)
                    })
            })
            .map(Target::field)
            .collect();
        for name in lookups {
            let Some(field) = object.field(name) else {
                continue;
            };
            let wanted: Vec<String> = rows
                .iter()
                .filter_map(|r| {
                    r.input
                        .get(name)
                        .and_then(|v| v.get(NAME_MARK))
                        .and_then(Json::as_str)
                        .map(str::to_owned)
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let found: HashMap<String, Vec<Uuid>> = if field.field_type == FieldType::UserLookup {
                let users = users.ok_or_else(|| CoreError::Internal("users not loaded".into()))?;
                wanted.iter().map(|w| (w.clone(), users.find(w))).collect()
            } else {
                let target = field
                    .target
                    .as_ref()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default();
                self.records_named(actor, &target, wanted).await?
            };
            for row in rows.iter_mut() {
                let Some(text) = row
                    .input
                    .get(name)
                    .and_then(|v| v.get(NAME_MARK))
                    .and_then(Json::as_str)
                    .map(str::to_owned)
                else {
                    continue;
                };
                let what = if field.field_type == FieldType::UserLookup {
                    "user".to_owned()
                } else {
                    field
                        .target
                        .as_ref()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default()
                };
                match found.get(&text).map(Vec::as_slice) {
                    Some([id]) => {
                        row.input.insert(name.to_owned(), json!(id.to_string()));
                    }
                    Some([]) | None => {
                        row.input.remove(name);
                        row.errors.push(FieldError::new(
                            name,
                            FieldErrorCode::LookupNotFound,
                            format!("no {what} named '{text}'"),
                        ));
                    }
                    Some(many) => {
                        row.input.remove(name);
                        row.errors.push(FieldError::new(
                            name,
                            FieldErrorCode::LookupNotFound,
                            format!(
                                "{} {what} records are named '{text}'; write the id instead",
                                many.len()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Ids of the visible records of `object` whose name is among `names`.
    async fn records_named(
        &self,
        actor: &Actor,
        object: &str,
        mut names: Vec<String>,
    ) -> Result<HashMap<String, Vec<Uuid>>, CoreError> {
        let target = self.object(object)?;
        if !actor.may(target.name(), Operation::Read) {
            return Ok(HashMap::new());
        }
        let vis = self.visibility(actor, &target, Operation::Read)?;
        names.sort();
        names.dedup();
        self.store
            .read(move |conn| {
                let mut found: HashMap<String, Vec<Uuid>> = HashMap::new();
                let name_field = target.name_field.as_str().to_owned();
                for chunk in names.chunks(KEY_CHUNK) {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push(&format!(
                        "SELECT t.id, t.{name_field} FROM {} t WHERE t.deleted_at IS NULL",
                        table_name(&target)
                    ));
                    vis.push(&mut sql, "t.");
                    sql.push(&format!(" AND t.{name_field} IN ("));
                    for (i, n) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        sql.param(SqlValue::Text(n.clone()));
                    }
                    sql.push(")");
                    for r in conn.query(&sql.text, &sql.params)? {
                        if let (Some(id), Some(n)) = (r[0].as_uuid(), r[1].as_str()) {
                            found.entry(n.to_owned()).or_default().push(id);
                        }
                    }
                }
                Ok::<_, CoreError>(found)
            })
            .await
    }

    /// For each row that would create a record, the existing record it may duplicate under
    /// the object's matching rule (the best match), if any.
    async fn find_duplicates(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        plan: &Plan,
        rows: &mut [Prepared],
    ) -> Result<(), CoreError> {
        let Some(rule) = self.matching_rule(actor, object) else {
            return Ok(());
        };
        // rows whose key names an existing record update it: no duplicate question
        let existing: HashSet<String> = match &plan.options.key {
            Some(key) if plan.options.mode == ImportMode::Upsert => {
                let keys: Vec<Json> = rows
                    .iter()
                    .filter_map(|r| r.input.get(key).cloned())
                    .collect();
                self.existing_keys(object, key, keys, plan.edit_vis.clone())
                    .await?
            }
            _ => Default::default(),
        };
        let mut checks = Vec::new();
        for (index, row) in rows.iter().enumerate().filter(|(_, r)| r.errors.is_empty()) {
            if let Some(key) = &plan.options.key
                && row
                    .input
                    .get(key)
                    .is_some_and(|k| existing.contains(&k.to_string()))
            {
                continue;
            }
            let Ok(values) = write::parse_input(
                object,
                &Json::Object(row.input.clone()),
                &plan.ctx,
                false,
                false,
            ) else {
                continue; // its errors are reported by the write
            };
            let mut candidate = Record::default();
            for (k, v) in values {
                candidate.set(&k, v);
            }
            checks.push((index, candidate));
        }
        // by email and phone: every row's candidate keys looked up at once, each row then
        // scored against its candidates
        let region = self.phone_region();
        let mut wanted: Vec<(usize, Record, Vec<String>)> = Vec::with_capacity(checks.len());
        let mut searched: Vec<(usize, Record)> = Vec::new();
        for (index, candidate) in checks {
            let (keys, queries) = duplicates::lookups(
                &rule,
                object,
                &candidate,
                &region,
                Candidates::EmailAndPhone,
            );
            if queries.is_empty() {
                wanted.push((index, candidate, keys));
            } else {
                // an email or phone kept in a text field has no stored key: searched for
                searched.push((index, candidate));
            }
        }
        let all_keys: Vec<String> = wanted.iter().flat_map(|(_, _, k)| k.clone()).collect();
        let by_key = if all_keys.is_empty() {
            HashMap::new()
        } else {
            self.candidates_by_key(actor, object, all_keys).await?
        };
        let mut found: Vec<(usize, Option<Uuid>)> = Vec::with_capacity(wanted.len());
        let mut candidates: Vec<(usize, Record)> = Vec::new();
        for (index, candidate, keys) in wanted {
            let mut seen: BTreeMap<Uuid, Record> = BTreeMap::new();
            for record in keys.iter().filter_map(|k| by_key.get(k)).flatten() {
                if let Some(id) = record.id() {
                    seen.entry(id).or_insert_with(|| record.clone());
                }
            }
            let best = duplicates::scored(&rule, &candidate, seen.into_values(), None, &region);
            found.push((index, best.first().and_then(|d| d.record.id())));
            candidates.push((index, candidate));
        }
        if !searched.is_empty() {
            let by_search: Vec<(usize, Option<Uuid>)> = futures_util::stream::iter(searched)
                .map(|(index, candidate)| async move {
                    let found = self
                        .duplicates_found_by(
                            actor,
                            object,
                            &candidate,
                            None,
                            Candidates::EmailAndPhone,
                        )
                        .await?;
                    Ok::<_, CoreError>((
                        (index, found.first().and_then(|d| d.record.id())),
                        (index, candidate),
                    ))
                })
                .buffer_unordered(DUPLICATE_CHECKS_AT_ONCE)
                .map_ok(|(found, candidate)| {
                    candidates.push(candidate);
                    found
                })
                .try_collect()
                .await?;
            found.extend(by_search);
        }
        // blocking looks at every record and by every field of the rule, as a create does
        let mut blocked: HashSet<usize> = HashSet::new();
        if plan.blocks_duplicates {
            let system = Actor::system(actor.user_id);
            let hits: Vec<(usize, bool)> = futures_util::stream::iter(candidates)
                .map(|(index, candidate)| {
                    let system = &system;
                    async move {
                        let any = !self
                            .duplicates_found_by(system, object, &candidate, None, Candidates::All)
                            .await?
                            .is_empty();
                        Ok::<_, CoreError>((index, any))
                    }
                })
                .buffer_unordered(DUPLICATE_CHECKS_AT_ONCE)
                .try_collect()
                .await?;
            blocked.extend(hits.into_iter().filter(|(_, any)| *any).map(|(i, _)| i));
        }
        let found: Vec<(usize, Option<Uuid>, bool)> = found
            .into_iter()
            .map(|(i, d)| (i, d, blocked.contains(&i)))
            .collect();
        for (index, duplicate, blocked) in found {
            rows[index].duplicate_of = duplicate;
            rows[index].blocked = blocked;
        }
        Ok(())
    }

    async fn existing_keys(
        &self,
        object: &Arc<ObjectDef>,
        key: &str,
        keys: Vec<Json>,
        vis: Visibility,
    ) -> Result<std::collections::HashSet<String>, CoreError> {
        let (object, key, ctx) = (object.clone(), key.to_owned(), self.parse_context());
        self.store
            .read(move |conn| {
                let field = object
                    .field(&key)
                    .ok_or_else(|| CoreError::Internal("key field".into()))?;
                let values: Vec<Option<Value>> = keys
                    .iter()
                    .map(|k| Value::parse(field, k, &ctx).ok().filter(|v| !v.is_null()))
                    .collect();
                let found = find_existing(conn, &object, field, &values, &vis)?;
                Ok::<_, CoreError>(found.into_keys().collect())
            })
            .await
    }
}

const KEY_CHUNK: usize = 500;

/// Where a lookup cell written as a name waits for its id.
const NAME_MARK: &str = "$name";

/// Active users by email and by name.
#[derive(Default)]
struct Users {
    by_email: HashMap<String, Uuid>,
    by_name: HashMap<String, Vec<Uuid>>,
}

impl Users {
    fn find(&self, text: &str) -> Vec<Uuid> {
        if let Some(id) = self.by_email.get(&text.trim().to_lowercase()) {
            return vec![*id];
        }
        self.by_name.get(text.trim()).cloned().unwrap_or_default()
    }
}

fn needs_users(object: &ObjectDef, options: &ImportOptions) -> bool {
    options.mapping.columns.iter().flatten().any(|t| {
        object
            .field(t.field())
            .is_some_and(|f| f.field_type == FieldType::UserLookup)
    })
}

/// A source row as record input: each mapped cell read for its field. A lookup written as a
/// name is left as `{"$name": …}` for [`Core::resolve_names`].
fn prepare(
    object: &ObjectDef,
    mapping: &super::mapping::Mapping,
    reading: &Reading,
    row: SourceRow,
) -> Prepared {
    let mut out = Prepared {
        number: row.number,
        cells: Vec::new(),
        input: Map::new(),
        errors: Vec::new(),
        duplicate_of: None,
        blocked: false,
    };
    let cells = match row.cells {
        Ok(cells) => cells,
        Err(message) => {
            out.errors
                .push(FieldError::new("row", FieldErrorCode::WrongType, message));
            return out;
        }
    };
    let mut currencies: Vec<(String, String)> = Vec::new();
    for (text, target) in cells.iter().zip(&mapping.columns) {
        let Some(target) = target else { continue };
        let Some(field) = object.field(target.field()) else {
            continue;
        };
        match target {
            Target::Currency { field } => {
                let code = text.trim();
                if !code.is_empty() {
                    currencies.push((field.clone(), code.to_uppercase()));
                }
            }
            Target::Value { .. } | Target::Name { .. } => {
                match read_cell(object, field, text, reading) {
                    Ok(Cell::Empty) => {}
                    Ok(Cell::Value(v)) => {
                        out.input.insert(field.name().to_owned(), v);
                    }
                    Ok(Cell::Name(n)) => {
                        out.input
                            .insert(field.name().to_owned(), json!({ NAME_MARK: n }));
                    }
                    Err(message) => out.errors.push(FieldError::new(
                        field.name(),
                        FieldErrorCode::WrongType,
                        message,
                    )),
                }
            }
        }
    }
    // a currency column sets the currency of an amount written without one
    for (field, code) in currencies {
        match out.input.get_mut(&field) {
            Some(Json::String(amount)) => {
                let amount = std::mem::take(amount);
                out.input
                    .insert(field, json!({"amount": amount, "currency": code}));
            }
            Some(_) => {}
            None => {}
        }
    }
    out.cells = cells;
    out
}

/// The fields of the object's matching rule compared exactly: emails and phones.
fn exact_fields(object: &ObjectDef) -> Vec<(String, Comparator)> {
    let Some(rule) = relata_domain::dedupe::MatchRule::of(object) else {
        return Vec::new();
    };
    rule.fields
        .iter()
        .filter(|f| matches!(f.comparator, Comparator::Email | Comparator::Phone))
        .flat_map(|f| f.fields.iter().map(|n| (n.clone(), f.comparator)))
        .collect()
}

/// The exact keys (normalised email, phone in E.164) by which a record created earlier in
/// this import is a duplicate of a later row, before the search index is asked.
fn exact_keys(
    fields: &[(String, Comparator)],
    input: &Map<String, Json>,
    region: &relata_domain::dedupe::phone::PhoneRegion,
) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(name, comparator)| {
            let text = input.get(name).and_then(Json::as_str)?;
            match comparator {
                Comparator::Email => email_key(text).map(|k| format!("e:{k}")),
                Comparator::Phone => to_e164(text, region).map(|k| format!("p:{k}")),
                _ => None,
            }
        })
        .collect()
}

/// Writes one batch, its ledger rows and the job's progress, in the caller's transaction.
///
/// Rows are written without a savepoint each (a savepoint costs as much as the row: SQLite's
/// full-text index flushes at every one), inside one for the batch. When a row's write
/// fails, the batch is undone and written again with a savepoint per row, so the failed row
/// leaves nothing behind and the others are written as before.
fn write_batch(
    conn: &mut dyn Conn,
    plan: &Plan,
    rows: Vec<Prepared>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Progress, CoreError> {
    let d = conn.dialect();
    // the job may have been cancelled, or taken over by another process, since the batch
    // was read: then nothing of it is written
    let status = conn
        .query_one(
            &format!(
                "SELECT status FROM sys_import_jobs WHERE id = {}",
                placeholders(d, 1, 1)
            ),
            &[SqlValue::Uuid(plan.job)],
        )?
        .and_then(|r| r[0].as_str().map(str::to_owned));
    if status.as_deref() != Some(ImportStatus::Running.as_str()) {
        return Ok(Progress::Stopped);
    }
    let object = &plan.object;
    let opts = &plan.options;
    let existing = match &opts.key {
        Some(key) => {
            let field = object
                .field(key)
                .ok_or_else(|| CoreError::Internal("key field".into()))?;
            let values: Vec<Option<Value>> = rows
                .iter()
                .map(|r| {
                    r.input
                        .get(key)
                        .and_then(|k| Value::parse(field, k, &plan.ctx).ok())
                        .filter(|v| !v.is_null())
                })
                .collect();
            find_existing(conn, object, field, &values, &plan.edit_vis)?
        }
        None => HashMap::new(),
    };
    if plan.dry_run {
        conn.batch("SAVEPOINT import_dry_run")?;
    }
    let mut side = Companions::new();
    let start = side.mark();
    conn.batch("SAVEPOINT import_batch")?;
    let written = write_rows(conn, &mut side, plan, &rows, existing.clone(), false, now)?;
    let entries = match written {
        Some(entries) => {
            conn.batch("RELEASE import_batch")?;
            entries
        }
        None => {
            conn.batch("ROLLBACK TO import_batch; RELEASE import_batch")?;
            side.rollback_to(start);
            write_rows(conn, &mut side, plan, &rows, existing, true, now)?
                .ok_or_else(|| CoreError::Internal("a careful import pass gave up".into()))?
        }
    };
    let mut tally = Tally::default();
    for entry in &entries {
        match entry.outcome {
            Outcome::Created => tally.created += 1,
            Outcome::Updated => tally.updated += 1,
            Outcome::Unchanged => tally.unchanged += 1,
            Outcome::Skipped => tally.skipped += 1,
            Outcome::Failed => tally.failed += 1,
        }
    }
    if plan.dry_run {
        conn.batch("ROLLBACK TO import_dry_run; RELEASE import_dry_run")?;
        side.rollback_to(start);
    } else {
        side.flush(conn)?;
    }
    insert_entries(conn, plan.job, &entries)?;
    conn.execute(
        &format!(
            "UPDATE sys_import_jobs SET rows_done = rows_done + {}, created = created + {}, updated = updated + {}, unchanged = unchanged + {}, skipped = skipped + {}, failed = failed + {}, heartbeat_at = {} WHERE id = {}",
            placeholders(d, 1, 1), placeholders(d, 2, 1), placeholders(d, 3, 1), placeholders(d, 4, 1), placeholders(d, 5, 1), placeholders(d, 6, 1), placeholders(d, 7, 1), placeholders(d, 8, 1)
        ),
        &[
            SqlValue::Int(entries.len() as i64),
            SqlValue::Int(tally.created),
            SqlValue::Int(tally.updated),
            SqlValue::Int(tally.unchanged),
            SqlValue::Int(tally.skipped),
            SqlValue::Int(tally.failed),
            SqlValue::Timestamp(now),
            SqlValue::Uuid(plan.job),
        ],
    )?;
    Ok(Progress::Written)
}

/// The rows of one batch through the write path. A row created earlier in the batch is
/// found as a later row's duplicate by its exact keys (earlier batches are committed, and
/// found in the key index like any record). `careful`: each row in a savepoint of its own,
/// so a row that fails leaves nothing behind; otherwise the first row whose write fails
/// stops the pass (`None`) and the caller undoes it.
fn write_rows(
    conn: &mut dyn Conn,
    side: &mut Companions,
    plan: &Plan,
    rows: &[Prepared],
    mut existing: HashMap<String, Record>,
    careful: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Vec<Entry>>, CoreError> {
    let mut created_keys: HashMap<String, Uuid> = HashMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let step = Step {
            existing: &mut existing,
            created_keys: &mut created_keys,
            careful,
            now,
        };
        match write_row(conn, side, plan, row, step)? {
            Some(entry) => entries.push(entry),
            None => return Ok(None),
        }
    }
    Ok(Some(entries))
}

/// What one row's write shares with the rest of its pass.
struct Step<'a> {
    existing: &'a mut HashMap<String, Record>,
    created_keys: &'a mut HashMap<String, Uuid>,
    careful: bool,
    now: chrono::DateTime<chrono::Utc>,
}

/// One row through the write path (see [`write_rows`]); `None`: its write failed outside a
/// savepoint.
fn write_row(
    conn: &mut dyn Conn,
    side: &mut Companions,
    plan: &Plan,
    row: &Prepared,
    step: Step<'_>,
) -> Result<Option<Entry>, CoreError> {
    let Step {
        existing,
        created_keys,
        careful,
        now,
    } = step;
    let region = &plan.region;
    let object = &plan.object;
    let opts = &plan.options;
    let mut entry = Entry {
        number: row.number,
        outcome: Outcome::Failed,
        record: None,
        version: None,
        previous: None,
        errors: Vec::new(),
        cells: None,
    };
    if !row.errors.is_empty() {
        // the cells that could be read are still checked, so the row's every problem is told
        let mut errors = row.errors.clone();
        if let Err(more) = write::parse_input(
            object,
            &Json::Object(row.input.clone()),
            &plan.ctx,
            false,
            false,
        ) {
            for e in more {
                if !errors.iter().any(|known| known.field == e.field) {
                    errors.push(e);
                }
            }
        }
        entry.errors = errors;
        entry.cells = Some(row.cells.clone());
        return Ok(Some(entry));
    }
    let key_text = opts.key.as_ref().and_then(|k| row.input.get(k)).map(|k| {
        let field = object.field(opts.key.as_deref().unwrap_or("id"));
        field
            .and_then(|f| Value::parse(f, k, &plan.ctx).ok())
            .map_or_else(|| k.to_string(), |v| v.to_json().to_string())
    });
    let by_key = key_text.as_ref().and_then(|k| existing.get(k)).cloned();
    let keys = exact_keys(&plan.exact_fields, &row.input, region);
    let earlier = keys.iter().find_map(|k| created_keys.get(k)).copied();
    // what the row is to do: update a record (found by key, or the duplicate it matched) or create
    let mut target: Option<Record> = by_key;
    if target.is_none() && opts.mode == ImportMode::Update {
        entry.errors.push(FieldError::new(
            opts.key.as_deref().unwrap_or("id"),
            FieldErrorCode::LookupNotFound,
            match &key_text {
                Some(k) => format!(
                    "no {} with {} {k} to update",
                    object.name(),
                    opts.key.as_deref().unwrap_or("id")
                ),
                None => format!(
                    "the row has no {} to find the record by",
                    opts.key.as_deref().unwrap_or("id")
                ),
            },
        ));
        entry.cells = Some(row.cells.clone());
        return Ok(Some(entry));
    }
    if target.is_none()
        && opts.on_duplicate != OnDuplicate::Create
        && let Some(dup) = earlier.or(row.duplicate_of)
    {
        match opts.on_duplicate {
            OnDuplicate::Skip => {
                entry.outcome = Outcome::Skipped;
                entry.record = Some(dup);
                entry.errors.push(FieldError::new(
                    "row",
                    FieldErrorCode::Duplicate,
                    format!("a possible duplicate of {} {dup}", object.name()),
                ));
                entry.cells = Some(row.cells.clone());
                return Ok(Some(entry));
            }
            OnDuplicate::Update => {
                target = read::get_for_update(conn, object, dup, &plan.edit_vis, read::Bin::Live)?;
                if target.is_none() {
                    entry.errors.push(FieldError::new(
                        "row",
                        FieldErrorCode::Duplicate,
                        format!(
                            "a possible duplicate of {} {dup}, which you may not edit",
                            object.name()
                        ),
                    ));
                    entry.cells = Some(row.cells.clone());
                    return Ok(Some(entry));
                }
            }
            OnDuplicate::Create => {}
        }
    }
    // a blocking rule refuses a new record that duplicates an existing one, or one this
    // import created a few rows earlier (named only when it is this import's)
    if target.is_none() && plan.blocks_duplicates && (row.blocked || earlier.is_some()) {
        entry.errors.push(FieldError::new(
            "row",
            FieldErrorCode::Duplicate,
            match earlier {
                Some(dup) => format!(
                    "a likely duplicate of {} {dup}, created by an earlier row; the duplicate rule blocks creating it",
                    object.name()
                ),
                None => format!(
                    "a likely duplicate of an existing {}; the duplicate rule blocks creating it",
                    object.name()
                ),
            },
        ));
        entry.cells = Some(row.cells.clone());
        return Ok(Some(entry));
    }
    let mut input = row.input.clone();
    if target.is_some() {
        input.remove("id");
    }
    let input = Json::Object(input);
    let forbidden = crate::fields::check_editable(&plan.actor, object, &input);
    if !forbidden.is_empty() {
        entry.errors = forbidden;
        entry.cells = Some(row.cells.clone());
        return Ok(Some(entry));
    }
    let allow_id = target.is_none() && plan.actor.is_superuser();
    let values = match write::parse_input(object, &input, &plan.ctx, target.is_none(), allow_id) {
        Ok(v) => v,
        Err(errors) => {
            entry.errors = errors;
            entry.cells = Some(row.cells.clone());
            return Ok(Some(entry));
        }
    };
    let lookup_errors = write::check_lookups(conn, object, &values, &plan.targets)?;
    if !lookup_errors.is_empty() {
        entry.errors = lookup_errors;
        entry.cells = Some(row.cells.clone());
        return Ok(Some(entry));
    }
    let mark = side.mark();
    if careful {
        conn.batch("SAVEPOINT import_row")?;
    }
    let outcome = match target {
        Some(current) => {
            let before = current.version();
            let previous: BTreeMap<String, Json> = values
                .iter()
                .filter(|(k, v)| current.get(k) != *v)
                .map(|(k, _)| (k.clone(), current.get(k).to_json()))
                .collect();
            write::update(conn, side, object, &plan.actor, now, current, values).map(|r| {
                let outcome = if r.version() == before {
                    Outcome::Unchanged
                } else {
                    Outcome::Updated
                };
                (r, outcome, Some(json!(previous)))
            })
        }
        None => write::insert(conn, side, object, &plan.actor, now, values)
            .map(|r| (r, Outcome::Created, None)),
    };
    match outcome {
        Ok((record, outcome, previous)) => {
            if careful {
                conn.batch("RELEASE import_row")?;
            }
            entry.outcome = outcome;
            entry.record = record.id();
            entry.version = Some(record.version());
            entry.previous = previous.filter(|_| outcome == Outcome::Updated);
            if let Some(k) = key_text {
                existing.insert(k, record.clone());
            }
            if outcome == Outcome::Created
                && let Some(id) = record.id()
            {
                for k in keys {
                    created_keys.entry(k).or_insert(id);
                }
            }
        }
        Err(CoreError::Validation(_)) if !careful => return Ok(None),
        Err(CoreError::Validation(errors)) => {
            conn.batch("ROLLBACK TO import_row; RELEASE import_row")?;
            side.rollback_to(mark);
            entry.errors = errors;
            entry.cells = Some(row.cells.clone());
        }
        Err(other) => return Err(other),
    }
    Ok(Some(entry))
}

/// Ledger columns per row.
const ENTRY_COLUMNS: usize = 8;
/// Ledger rows per insert statement.
const ENTRIES_PER_INSERT: usize = 100;

fn insert_entries(conn: &mut dyn Conn, job: Uuid, entries: &[Entry]) -> Result<(), CoreError> {
    let d = conn.dialect();
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "({})",
                    placeholders(d, 1 + i * ENTRY_COLUMNS, ENTRY_COLUMNS)
                )
            })
            .collect();
        let mut params = Vec::with_capacity(chunk.len() * ENTRY_COLUMNS);
        for e in chunk {
            params.push(SqlValue::Uuid(job));
            params.push(SqlValue::Int(e.number as i64));
            params.push(SqlValue::Text(e.outcome.as_str().into()));
            params.push(e.record.map_or(SqlValue::Null, SqlValue::Uuid));
            params.push(e.version.map_or(SqlValue::Null, SqlValue::Int));
            params.push(e.previous.clone().map_or(SqlValue::Null, SqlValue::Json));
            params.push(if e.errors.is_empty() {
                SqlValue::Null
            } else {
                SqlValue::Json(json!(e.errors))
            });
            params.push(
                e.cells
                    .clone()
                    .map_or(SqlValue::Null, |c| SqlValue::Json(json!(c))),
            );
        }
        conn.execute(
            &format!(
                "INSERT INTO sys_import_rows (job_id, row_number, outcome, record_id, version, previous, errors, cells) VALUES {}",
                values.join(", ")
            ),
            &params,
        )?;
    }
    Ok(())
}
