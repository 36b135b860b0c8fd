//! Export of the records of one object — every record, a filtered view, or picked ids — as
//! CSV, XLSX, JSON Lines or (for contacts) vCard 4.0.
//!
//! An export streams: it reads one page of records at a time through the list's keyset
//! order, encodes it, and hands the bytes on before it reads the next, so memory stays flat
//! however many records there are (XLSX rows go to a temporary file in the writer's constant
//! memory mode, and the finished file is streamed). It reads with the actor's export
//! permission and read visibility, and writes only the fields they may read; lookups carry
//! the names of the records they point at only when the reader may see those. Each export
//! is audited when it starts, with its filter and format.

mod columns;
mod encode;
mod vcard;

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::ListRequest;
use crate::records::read::{self, Cursor, ListSpec};
use crate::visibility::Visibility;

use columns::Columns;
pub use columns::Header;
use encode::Encoder;

/// Records read per page.
const PAGE: usize = 500;
/// Rows an XLSX sheet holds below its header row.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;
/// The most ids one export of picked records names.
const MAX_IDS: usize = 5_000;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
    JsonLines,
    VCard,
}

impl ExportFormat {
    /// From the API's `format=` (`csv`, `xlsx`, `jsonl`, `vcf`).
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        Ok(match s {
            "csv" => Self::Csv,
            "xlsx" => Self::Xlsx,
            "jsonl" | "ndjson" => Self::JsonLines,
            "vcf" | "vcard" => Self::VCard,
            other => {
                return Err(FieldError::new(
                    "format",
                    FieldErrorCode::InvalidOption,
                    format!("'{other}' is not an export format: use csv, xlsx, jsonl or vcf"),
                )
                .into());
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::JsonLines => "jsonl",
            Self::VCard => "vcf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::JsonLines => "application/x-ndjson",
            Self::VCard => "text/vcard; charset=utf-8",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub format: ExportFormat,
    /// As for lists; `None` exports every live visible record.
    pub filter: Option<Filter>,
    /// As for lists (`field` or `-field`); the list's default order without one.
    pub sort: Option<String>,
    /// Just these records (a selection in a list), within the filter.
    pub ids: Vec<Uuid>,
    /// The fields, in this order; every readable field without one.
    pub fields: Option<Vec<String>>,
    /// Column headings of CSV and XLSX.
    pub header: Header,
    /// Write the audit entry (every export by a user; not the operator's `relata export`,
    /// which reads the database file directly and must not change it).
    pub audited: bool,
}

impl ExportRequest {
    pub fn new(format: ExportFormat) -> Self {
        Self {
            format,
            filter: None,
            sort: None,
            ids: Vec::new(),
            fields: None,
            header: Header::Names,
            audited: true,
        }
    }
}

/// An export under way: call [`Export::next_chunk`] until it gives `None`.
pub struct Export {
    core: Arc<Core>,
    actor: Actor,
    object: Arc<ObjectDef>,
    vis: Visibility,
    spec: ListSpec,
    columns: Columns,
    encoder: Encoder,
    finished: bool,
    rows: u64,
}

impl Core {
    /// Starts an export of `object` for `actor`: checks the request and the actor's export
    /// permission, and writes the audit entry. Nothing is read until the first chunk.
    pub async fn export(
        self: &Arc<Self>,
        actor: &Actor,
        object: &str,
        req: ExportRequest,
    ) -> Result<Export, CoreError> {
        let object = self.object(object)?;
        let vis = self.visibility(actor, &object, Operation::Export)?;
        if req.format == ExportFormat::VCard && object.name() != "contact" {
            return Err(FieldError::new(
                "format",
                FieldErrorCode::InvalidOption,
                "vCard is an export of contacts only",
            )
            .into());
        }
        if req.ids.len() > MAX_IDS {
            return Err(FieldError::new(
                "ids",
                FieldErrorCode::TooLarge,
                format!("at most {MAX_IDS} picked records: export a filtered view instead"),
            )
            .into());
        }
        let columns = Columns::new(actor, &object, req.fields.as_deref(), &req.header)?;
        let filter = with_ids(req.filter.clone(), &req.ids);
        let list = ListRequest {
            filter: filter.clone(),
            sort: req.sort.clone(),
            limit: Some(PAGE.min(self.settings.max_page_size)),
            ..ListRequest::default()
        };
        let spec = self.list_spec(actor, &object, list).await?;
        if req.format == ExportFormat::Xlsx {
            // a sheet has a fixed number of rows: refuse before the first byte, not midway
            let counted = self
                .count_matching(&object, &vis, &spec, XLSX_MAX_ROWS + 1)
                .await?;
            if counted > XLSX_MAX_ROWS {
                return Err(CoreError::BadRequest {
                    code: "too_many_rows",
                    message: format!(
                        "an XLSX sheet holds at most {XLSX_MAX_ROWS} records: narrow the filter or export as CSV"
                    ),
                });
            }
        }
        let encoder = Encoder::new(req.format, &columns)?;
        let who = crate::audit::Who::from(actor);
        let (now, name) = (self.clock.now(), object.name().to_owned());
        let detail = json!({
            "object": name,
            "format": req.format.as_str(),
            "filter": filter.as_ref().map(relata_domain::filter::json::to_json),
            "sort": req.sort,
            "fields": columns.field_names(),
        });
        if req.audited {
            self.store
                .write(move |conn| {
                    crate::audit::append(conn, &who, now, "record.export", None, detail)
                })
                .await?;
        }
        Ok(Export {
            core: self.clone(),
            actor: actor.clone(),
            object,
            vis,
            spec,
            columns,
            encoder,
            finished: false,
            rows: 0,
        })
    }

    async fn count_matching(
        &self,
        object: &Arc<ObjectDef>,
        vis: &Visibility,
        spec: &ListSpec,
        cap: u64,
    ) -> Result<u64, CoreError> {
        let counting = ListSpec {
            filter: spec.filter.clone(),
            related: spec.related.clone(),
            sort: None,
            limit: 1,
            cursor: None,
            count: true,
            count_cap: Some(cap),
            bin: spec.bin,
        };
        let (obj, vis) = (object.clone(), vis.clone());
        let page = self
            .store
            .read(move |conn| read::list(conn, &obj, &vis, &counting))
            .await?;
        Ok(page.total.unwrap_or(0).max(0) as u64)
    }
}

/// `filter`, narrowed to `ids` when there are any.
fn with_ids(filter: Option<Filter>, ids: &[Uuid]) -> Option<Filter> {
    if ids.is_empty() {
        return filter;
    }
    let picked = Filter::Cond {
        field: "id".into(),
        op: Op::In,
        value: json!(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()),
    };
    Some(match filter {
        Some(f) => Filter::And(vec![f, picked]),
        None => picked,
    })
}

impl Export {
    /// The file name to offer, e.g. `contact-export.csv`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-export.{}",
            self.object.name(),
            self.encoder.format().as_str()
        )
    }

    pub fn format(&self) -> ExportFormat {
        self.encoder.format()
    }

    /// The headers a download of this export carries (content type, attachment name, no
    /// caching), for the API and the web UI alike.
    pub fn download_headers(&self) -> [(&'static str, String); 3] {
        [
            ("content-type", self.format().content_type().to_owned()),
            (
                "content-disposition",
                format!("attachment; filename=\"{}\"", self.file_name()),
            ),
            ("cache-control", "no-store".to_owned()),
        ]
    }

    /// The next bytes of the file, `None` once it is complete.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        if let Some(bytes) = self.encoder.take_pending()? {
            return Ok(Some(bytes));
        }
        if self.finished {
            return Ok(None);
        }
        let spec = ListSpec {
            filter: self.spec.filter.clone(),
            related: self.spec.related.clone(),
            sort: self.spec.sort.clone(),
            limit: self.spec.limit,
            cursor: self.spec.cursor.take(),
            count: false,
            count_cap: None,
            bin: self.spec.bin,
        };
        let (obj, vis) = (self.object.clone(), self.vis.clone());
        let page = self
            .core
            .store
            .read(move |conn| read::list(conn, &obj, &vis, &spec))
            .await?;
        let mut records = page.records;
        for record in &mut records {
            crate::fields::redact(&self.actor, &self.object, record);
        }
        let names = self
            .columns
            .resolve_names(&self.core, &self.actor, &records)
            .await?;
        self.rows += records.len() as u64;
        let mut bytes = self
            .encoder
            .rows(&self.columns, &self.object, &records, &names)?;
        match page.next_cursor {
            Some(c) => {
                let sort = self.spec.sort.as_ref().map(|s| &s.field);
                self.spec.cursor = Some(Cursor::decode(&c, sort)?);
            }
            None => {
                self.finished = true;
                bytes.extend(self.encoder.finish()?);
                tracing::info!(
                    object = %self.object.name(),
                    format = self.encoder.format().as_str(),
                    records = self.rows,
                    "export finished"
                );
            }
        }
        Ok(Some(bytes))
    }

    /// The export as a stream of chunks, for an HTTP body; it ends after the first error.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<Vec<u8>, CoreError>> + Send + 'static {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut export = state?;
            match export.next_chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(export))),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "export stopped");
                    Some((Err(e), None))
                }
            }
        })
    }
}
