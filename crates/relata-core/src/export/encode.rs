//! Turning pages of records into the bytes of each export format.
//!
//! CSV starts with a UTF-8 byte-order mark, so Excel (the usual reader in China) opens
//! Chinese text correctly, and guards text cells that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@`, tab, carriage return at the start) with a leading apostrophe: an
//! exported "=HYPERLINK(…)" typed into a contact's title must not run on the reader's
//! machine. XLSX cells are typed (strings are never formulas); its rows go to a temporary
//! file as they come, and the finished workbook is streamed from a second one.

use std::io::Read;

use relata_domain::Record;
use relata_domain::meta::ObjectDef;

use super::ExportFormat;
use super::columns::{Cell, Columns, Names};
use super::vcard;
use crate::error::CoreError;

/// Bytes of the finished XLSX file handed on per chunk.
const FILE_CHUNK: usize = 256 * 1024;

pub enum Encoder {
    Csv { started: bool },
    JsonLines,
    VCard,
    Xlsx(Box<XlsxState>),
}

pub struct XlsxState {
    workbook: rust_xlsxwriter::Workbook,
    next_row: u32,
    /// The finished workbook, read out in chunks.
    file: Option<std::fs::File>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(format!("{what}: {e}"))
}

impl Encoder {
    pub fn new(format: ExportFormat, columns: &Columns) -> Result<Encoder, CoreError> {
        Ok(match format {
            ExportFormat::Csv => Encoder::Csv { started: false },
            ExportFormat::JsonLines => Encoder::JsonLines,
            ExportFormat::VCard => Encoder::VCard,
            ExportFormat::Xlsx => {
                let mut workbook = rust_xlsxwriter::Workbook::new();
                let sheet = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(|e| internal("xlsx sheet", e))?;
                for (i, c) in columns.columns.iter().enumerate() {
                    sheet
                        .write_string(0, col(i)?, &c.heading)
                        .map_err(|e| internal("xlsx header", e))?;
                }
                sheet
                    .set_freeze_panes(1, 0)
                    .map_err(|e| internal("xlsx panes", e))?;
                Encoder::Xlsx(Box::new(XlsxState {
                    workbook,
                    next_row: 1,
                    file: None,
                }))
            }
        })
    }

    pub fn format(&self) -> ExportFormat {
        match self {
            Encoder::Csv { .. } => ExportFormat::Csv,
            Encoder::JsonLines => ExportFormat::JsonLines,
            Encoder::VCard => ExportFormat::VCard,
            Encoder::Xlsx(_) => ExportFormat::Xlsx,
        }
    }

    /// The encoded rows of one page (nothing for XLSX, whose rows wait in its file).
    pub fn rows(
        &mut self,
        columns: &Columns,
        object: &ObjectDef,
        records: &[Record],
        names: &Names,
    ) -> Result<Vec<u8>, CoreError> {
        match self {
            Encoder::Csv { started } => {
                let mut out = Vec::new();
                if !*started {
                    out.extend_from_slice("\u{feff}".as_bytes());
                }
                let mut w = csv::WriterBuilder::new().from_writer(&mut out);
                if !*started {
                    w.write_record(columns.columns.iter().map(|c| c.heading.as_str()))
                        .map_err(|e| internal("csv", e))?;
                    *started = true;
                }
                for r in records {
                    let row = columns
                        .columns
                        .iter()
                        .map(|c| csv_text(Cell::of(c, r, names)));
                    w.write_record(row).map_err(|e| internal("csv", e))?;
                }
                w.flush().map_err(|e| internal("csv", e))?;
                drop(w);
                Ok(out)
            }
            Encoder::JsonLines => {
                let only = columns.field_names();
                let mut out = Vec::new();
                for r in records {
                    serde_json::to_writer(&mut out, &r.to_json(object, Some(&only)))
                        .map_err(|e| internal("json", e))?;
                    out.push(b'\n');
                }
                Ok(out)
            }
            Encoder::VCard => {
                let mut out = String::new();
                for r in records {
                    vcard::write(&mut out, r, names);
                }
                Ok(out.into_bytes())
            }
            Encoder::Xlsx(x) => {
                let sheet = x
                    .workbook
                    .worksheet_from_index(0)
                    .map_err(|e| internal("xlsx", e))?;
                for r in records {
                    for (i, c) in columns.columns.iter().enumerate() {
                        write_cell(sheet, x.next_row, col(i)?, Cell::of(c, r, names))?;
                    }
                    x.next_row += 1;
                }
                Ok(Vec::new())
            }
        }
    }

    /// What the format writes after the last record (the whole XLSX file, read out in
    /// chunks through [`Encoder::take_pending`]).
    pub fn finish(&mut self) -> Result<Vec<u8>, CoreError> {
        match self {
            Encoder::Xlsx(x) => {
                let mut file = tempfile::tempfile().map_err(|e| internal("xlsx file", e))?;
                x.workbook
                    .save_to_writer(&mut file)
                    .map_err(|e| internal("xlsx save", e))?;
                use std::io::Seek;
                file.rewind().map_err(|e| internal("xlsx file", e))?;
                x.file = Some(file);
                self.take_pending().map(Option::unwrap_or_default)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Bytes still to hand on (the finished XLSX file), before any more records are read.
    pub fn take_pending(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        let Encoder::Xlsx(x) = self else {
            return Ok(None);
        };
        let Some(file) = x.file.as_mut() else {
            return Ok(None);
        };
        let mut buf = vec![0u8; FILE_CHUNK];
        let n = file.read(&mut buf).map_err(|e| internal("xlsx file", e))?;
        if n == 0 {
            x.file = None;
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(buf))
    }
}

fn col(i: usize) -> Result<u16, CoreError> {
    u16::try_from(i).map_err(|_| internal("xlsx", "too many columns"))
}

/// A CSV cell's text, a would-be formula guarded.
fn csv_text(cell: Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Number(n) => n,
        Cell::Bool(b) => b.to_string(),
        Cell::Text(t) => {
            if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{t}")
            } else {
                t
            }
        }
    }
}

fn write_cell(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    cell: Cell,
) -> Result<(), CoreError> {
    let done = match cell {
        Cell::Empty => return Ok(()),
        Cell::Text(t) => sheet.write_string(row, col, t),
        Cell::Bool(b) => sheet.write_boolean(row, col, b),
        // a number Excel can hold exactly is a number; a longer one stays exact as text
        Cell::Number(n) => match n.parse::<f64>() {
            Ok(f) if f.is_finite() && same_number(&n, f) => sheet.write_number(row, col, f),
            _ => sheet.write_string(row, col, n),
        },
    };
    done.map(|_| ()).map_err(|e| internal("xlsx cell", e))
}

/// Whether `f` prints back as the decimal `text` (trailing zeros aside).
fn same_number(text: &str, f: f64) -> bool {
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    trim(text) == trim(&f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_would_run_as_a_formula_is_guarded_and_numbers_are_not() {
        assert_eq!(csv_text(Cell::Text("=1+2".into())), "'=1+2");
        assert_eq!(csv_text(Cell::Text("@SUM(A1)".into())), "'@SUM(A1)");
        assert_eq!(csv_text(Cell::Text("-3".into())), "'-3");
        assert_eq!(csv_text(Cell::Number("-3".into())), "-3");
        assert_eq!(csv_text(Cell::Text("华远科技".into())), "华远科技");
    }

    #[test]
    fn only_numbers_a_float_holds_exactly_become_xlsx_numbers() {
        assert!(same_number("100.50", 100.5));
        assert!(same_number("-7", -7.0));
        assert!(!same_number("123456789012345678.12", 123456789012345678.12));
    }
}
