//! Reading an import file as rows of text: CSV in UTF-8 (with or without a byte-order mark)
//! or GB18030/GBK (what Excel writes on a Chinese Windows), and XLSX.
//!
//! Both readers stream: a CSV is parsed a record at a time, an XLSX sheet a cell at a time
//! (its shared-strings table is the one part read whole), so memory does not grow with the
//! file. Problems of one row — a field that is not valid text in the file's encoding, the
//! wrong number of columns (the usual trace of a broken quote), a formula error in a cell —
//! are that row's errors; the rows around it are read as usual.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use encoding_rs::GB18030;

use relata_domain::{FieldError, FieldErrorCode};

use crate::error::CoreError;

/// Bytes looked at to guess a CSV's encoding and delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
/// The longest text one cell may hold.
pub const MAX_CELL_BYTES: usize = 128 * 1024;

/// The file formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    /// From a file name's extension, or a format named by the caller.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ext = s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" | "tsv" => Ok(Self::Csv),
            "xlsx" | "xlsm" => Ok(Self::Xlsx),
            _ => Err(FieldError::new(
                "format",
                FieldErrorCode::InvalidOption,
                format!("'{s}' is not a file an import reads: use CSV or XLSX"),
            )
            .into()),
        }
    }
}

/// A CSV's text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Gb18030,
}

/// One row of the file: its number as a spreadsheet shows it (the heading row is 1), and its
/// cells as text, or what is wrong with it.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub number: u64,
    pub cells: Result<Vec<String>, String>,
}

/// An open import file: its headings and a stream of rows.
pub struct Sheet {
    pub headers: Vec<String>,
    pub encoding: Option<Encoding>,
    rows: Box<dyn Iterator<Item = SourceRow> + Send>,
}

impl Iterator for Sheet {
    type Item = SourceRow;
    fn next(&mut self) -> Option<SourceRow> {
        self.rows.next()
    }
}

fn refused(message: impl Into<String>) -> CoreError {
    FieldError::new("file", FieldErrorCode::InvalidOption, message).into()
}

impl Sheet {
    /// Opens `path` as `format`; a CSV's encoding is guessed unless `encoding` names it.
    pub fn open(
        path: &Path,
        format: FileFormat,
        encoding: Option<Encoding>,
    ) -> Result<Sheet, CoreError> {
        match format {
            FileFormat::Csv => open_csv(path, encoding),
            FileFormat::Xlsx => open_xlsx(path),
        }
    }
}

/// Guesses the encoding from the first bytes: a UTF-8 byte-order mark, or text that is valid
/// UTF-8 (a character cut off at the end of the sample does not count against it), means
/// UTF-8; anything else is taken for GB18030, the superset of GBK and GB2312.
pub fn sniff_encoding(head: &[u8]) -> Result<Encoding, CoreError> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(refused(
            "the file is UTF-16 text; save it as CSV UTF-8 (or CSV) and import that",
        ));
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Ok(Encoding::Utf8);
    }
    match std::str::from_utf8(head) {
        Ok(_) => Ok(Encoding::Utf8),
        Err(e) if e.error_len().is_none() && head.len() >= SNIFF_BYTES => Ok(Encoding::Utf8),
        Err(_) => Ok(Encoding::Gb18030),
    }
}

/// The delimiter of the first line: a tab or a semicolon when there are more of them than
/// commas (tab-separated exports, European spreadsheets), else a comma.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let count = |c: u8| line.iter().filter(|b| **b == c).count();
    let (commas, tabs, semis) = (count(b','), count(b'\t'), count(b';'));
    if tabs > commas && tabs >= semis {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

fn decode(bytes: &[u8], encoding: Encoding) -> Option<String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Encoding::Gb18030 => GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|c| c.into_owned()),
    }
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Utf8 => "UTF-8",
        Encoding::Gb18030 => "GB18030/GBK",
    }
}

/// CSV parsing works on bytes, which is safe for GB18030 too: none of its multi-byte
/// characters contains a byte that is a comma, quote or line break.
fn open_csv(path: &Path, encoding: Option<Encoding>) -> Result<Sheet, CoreError> {
    let mut file = File::open(path).map_err(|e| refused(format!("cannot open the file: {e}")))?;
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = read_up_to(&mut file, &mut head)?;
    head.truncate(n);
    let encoding = match encoding {
        Some(e) => e,
        None => sniff_encoding(&head)?,
    };
    let delimiter = sniff_delimiter(&head);
    let bom = usize::from(head.starts_with(b"\xEF\xBB\xBF")) * 3;
    let body = std::io::Cursor::new(head[bom..].to_vec()).chain(file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(BufReader::with_capacity(256 * 1024, body));
    let mut record = csv::ByteRecord::new();
    let read = reader
        .read_byte_record(&mut record)
        .map_err(|e| refused(format!("the heading row cannot be read: {e}")))?;
    if !read {
        return Err(refused("the file is empty"));
    }
    let headers = record
        .iter()
        .map(|h| {
            decode(h, encoding)
                .map(|s| s.trim().to_owned())
                .ok_or_else(|| {
                    refused(format!(
                        "the heading row is not valid {} text",
                        encoding_name(encoding)
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let width = headers.len();
    let mut finished = false;
    let rows = std::iter::from_fn(move || {
        if finished {
            return None;
        }
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                let number = record.position().map_or(0, |p| p.line());
                let last = reader.position().line().saturating_sub(1);
                let cells = csv_cells(&record, width, encoding).map_err(|e| {
                    if last > number {
                        // a quote left open takes the lines after it into this row: say which
                        format!("{e} (this row runs from line {number} to line {last}; the lines in between were read as part of it)")
                    } else {
                        e
                    }
                });
                Some(SourceRow { number, cells })
            }
            // An I/O error ends the file: report it as a row of its own, then stop.
            Err(e) if e.is_io_error() => {
                let number = e.position().map_or(0, |p| p.line());
                let row = SourceRow {
                    number,
                    cells: Err(format!("the file could not be read further: {e}")),
                };
                finished = true;
                Some(row)
            }
            Err(e) => Some(SourceRow {
                number: e.position().map_or(0, |p| p.line()),
                cells: Err(format!("not a valid CSV row: {e}")),
            }),
        }
    })
    .filter(|row| {
        // blank lines between rows are not rows
        !matches!(&row.cells, Ok(c) if c.iter().all(String::is_empty))
    });
    Ok(Sheet {
        headers,
        encoding: Some(encoding),
        rows: Box::new(rows),
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Result<usize, CoreError> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(refused(format!("cannot read the file: {e}"))),
        }
    }
    Ok(n)
}

fn csv_cells(
    record: &csv::ByteRecord,
    width: usize,
    encoding: Encoding,
) -> Result<Vec<String>, String> {
    if record.len() != width {
        return Err(format!(
            "this row has {} columns and the heading row {width}; a quote opened and not \
             closed on this row or the one before is the usual cause",
            record.len()
        ));
    }
    record
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            if bytes.len() > MAX_CELL_BYTES {
                return Err(format!(
                    "column {} holds {} bytes, more than the {MAX_CELL_BYTES} a cell may",
                    i + 1,
                    bytes.len()
                ));
            }
            decode(bytes, encoding).ok_or_else(|| {
                format!(
                    "column {} is not valid {} text (the file may mix encodings)",
                    i + 1,
                    encoding_name(encoding)
                )
            })
        })
        .collect()
}

/// Rows read ahead of the import on the workbook's own thread.
const XLSX_READ_AHEAD: usize = 1024;

/// The first sheet of a workbook. Formulas count by the value Excel saved with them; cells
/// of a merged range other than its first are empty, as Excel shows them.
///
/// calamine's cell reader borrows the workbook it reads, so a thread of its own owns both
/// and hands rows over a bounded channel: the sheet streams, and at most
/// [`XLSX_READ_AHEAD`] rows wait in memory.
fn open_xlsx(path: &Path) -> Result<Sheet, CoreError> {
    let file = File::open(path).map_err(|e| refused(format!("cannot open the file: {e}")))?;
    let mut workbook: Xlsx<BufReader<File>> = Xlsx::new(BufReader::new(file))
        .map_err(|e| refused(format!("not an Excel workbook (.xlsx): {e}")))?;
    let name = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| refused("the workbook has no sheet"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<SourceRow, String>>(XLSX_READ_AHEAD);
    std::thread::Builder::new()
        .name("relata-import-xlsx".into())
        .spawn(move || {
            let mut reader = match workbook.worksheet_cells_reader(&name) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(format!("the sheet '{name}' cannot be read: {e}")));
                    return;
                }
            };
            let mut row = RowBuilder::default();
            loop {
                match reader.next_cell() {
                    Ok(Some(cell)) => {
                        let (r, c) = cell.get_position();
                        if row.number != Some(r)
                            && let Some(done) = row.take()
                            && tx.send(Ok(done)).is_err()
                        {
                            return; // the import stopped reading
                        }
                        row.number = Some(r);
                        row.put(c as usize, cell_text(&Data::from(cell.get_value().clone())));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(format!("the sheet '{name}' is damaged: {e}")));
                        return;
                    }
                }
            }
            if let Some(done) = row.take() {
                let _ = tx.send(Ok(done));
            }
        })
        .map_err(|e| CoreError::Internal(format!("cannot start reading the workbook: {e}")))?;
    let mut rows = rx.into_iter();
    let headers = match rows.next() {
        None => return Err(refused("the first sheet is empty")),
        Some(Err(e)) => return Err(refused(e)),
        Some(Ok(first)) => first
            .cells
            .map_err(|e| refused(format!("the heading row cannot be read: {e}")))?
            .into_iter()
            .map(|h| h.trim().to_owned())
            .collect::<Vec<_>>(),
    };
    let width = headers.len();
    let rows = rows
        .map(|row| {
            row.unwrap_or_else(|e| SourceRow {
                number: 0,
                cells: Err(e),
            })
        })
        .map(move |mut row| {
            if let Ok(cells) = &mut row.cells {
                if cells.len() > width && cells[width..].iter().any(|c| !c.is_empty()) {
                    row.cells = Err(format!(
                        "this row has values in columns past the last heading ({width})"
                    ));
                } else {
                    cells.resize(width, String::new());
                }
            }
            row
        })
        .filter(|r| !matches!(&r.cells, Ok(c) if c.iter().all(String::is_empty)));
    Ok(Sheet {
        headers,
        encoding: None,
        rows: Box::new(rows),
    })
}

/// The cells of one sheet row as they arrive.
#[derive(Default)]
struct RowBuilder {
    number: Option<u32>,
    cells: Vec<String>,
    problem: Option<String>,
}

impl RowBuilder {
    fn put(&mut self, col: usize, text: Result<String, String>) {
        match text {
            Ok(t) if t.is_empty() => {}
            Ok(t) => {
                if self.cells.len() <= col {
                    self.cells.resize(col + 1, String::new());
                }
                self.cells[col] = t;
            }
            Err(e) => {
                self.problem
                    .get_or_insert(format!("column {}: {e}", col + 1));
            }
        }
    }

    fn take(&mut self) -> Option<SourceRow> {
        let number = self.number.take()?;
        let cells = std::mem::take(&mut self.cells);
        Some(SourceRow {
            number: u64::from(number) + 1,
            cells: self.problem.take().map_or(Ok(cells), Err),
        })
    }
}

/// A cell as the text an import maps: whole numbers without a decimal point, dates as ISO
/// dates (with the time when there is one), a formula error as that cell's error.
fn cell_text(value: &Data) -> Result<String, String> {
    Ok(match value {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.0}")
            } else {
                f.to_string()
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("the cell holds the error {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_apart_by_their_bytes() {
        assert_eq!(
            sniff_encoding("姓名,邮箱".as_bytes()).ok(),
            Some(Encoding::Utf8)
        );
        assert_eq!(
            sniff_encoding(b"\xEF\xBB\xBFname").ok(),
            Some(Encoding::Utf8)
        );
        let (gbk, _, _) = GB18030.encode("姓名,邮箱\n张三,z@example.com");
        assert_eq!(sniff_encoding(&gbk).ok(), Some(Encoding::Gb18030));
        assert!(sniff_encoding(b"\xFF\xFEn\0a\0").is_err());
    }

    #[test]
    fn the_delimiter_is_what_the_first_line_has_most_of() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1;2"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
    }
}
