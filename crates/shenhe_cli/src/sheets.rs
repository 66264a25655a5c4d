//! Reading county spreadsheets (CSV, `.xlsx`) row by row into the core's
//! cells. Mapping rows to submissions is the core's (`shenhe::sheet`); this
//! file only opens files, decodes text and reports where a file is broken.

use std::{
    fs::File,
    io::{BufReader, Cursor, Read, Seek},
    path::Path,
};

use anyhow::{Context, Result, anyhow, bail};
use calamine::{DataRef, Reader, Xlsx};
use shenhe::sheet::{CellValue, cell_ref, column_name};

/// What a reader hands on: a sheet's rows in order, then its end.
pub trait RowSink {
    /// One row (1-based number; cells from column A).
    fn row(&mut self, sheet: &str, row: u32, cells: Vec<CellValue>) -> Result<()>;
    /// The sheet has no more rows.
    fn end_sheet(&mut self, sheet: &str) -> Result<()>;
    /// Merged regions of the sheet as `(first row, first col, last row, last col)`,
    /// 1-based rows and 0-based columns, told before its rows.
    fn merged(&mut self, sheet: &str, regions: Vec<(u32, usize, u32, usize)>);
    /// How many rows the sheet spans, if known (for the progress bar).
    fn size_hint(&mut self, rows: u64);
}

/// `.csv`, `.xlsx` / `.xlsm` by extension.
pub fn is_sheet(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| kind_of(e).is_some())
}

/// The two spreadsheet formats.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csv,
    Xlsx,
}

/// The kind for a file extension.
pub fn kind_of(ext: &str) -> Option<Kind> {
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some(Kind::Csv),
        "xlsx" | "xlsm" => Some(Kind::Xlsx),
        _ => None,
    }
}

/// Where a spreadsheet comes from: a file, or an upload in memory.
pub enum Source<'a> {
    File(&'a Path),
    Bytes { name: &'a str, kind: Kind, bytes: &'a [u8] },
}

impl Source<'_> {
    /// The name findings cite (the file's path, or the upload's name).
    pub fn name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Bytes { name, .. } => (*name).to_owned(),
        }
    }
}

/// Reads every sheet into `sink`.
pub fn read(source: &Source<'_>, sink: &mut dyn RowSink) -> Result<()> {
    match source {
        Source::File(path) => {
            let kind = path.extension().and_then(|e| e.to_str()).and_then(kind_of).unwrap_or(Kind::Csv);
            let name = path
                .file_name()
                .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            let open = || -> Result<Box<dyn Read>> {
                Ok(Box::new(BufReader::new(
                    File::open(path).with_context(|| format!("{}: cannot read", path.display()))?,
                )))
            };
            match kind {
                Kind::Csv => read_csv(&name, &open, sink),
                Kind::Xlsx => {
                    let file = BufReader::new(File::open(path).with_context(|| format!("{}: cannot read", path.display()))?);
                    read_xlsx(&path.display().to_string(), file, sink)
                }
            }
        }
        Source::Bytes { name, kind, bytes } => match kind {
            Kind::Csv => read_csv(name, &|| Ok(Box::new(*bytes) as Box<dyn Read + '_>), sink),
            Kind::Xlsx => read_xlsx(name, Cursor::new(*bytes), sink),
        },
    }
}

/// CSV as counties save it: UTF-8 (with or without a BOM), or GB18030/GBK
/// from Excel on a Chinese Windows, detected from the first 64 KiB.
fn read_csv<'b>(name: &str, open: &dyn Fn() -> Result<Box<dyn Read + 'b>>, sink: &mut dyn RowSink) -> Result<()> {
    let mut head = Vec::with_capacity(64 * 1024);
    open()?.take(64 * 1024).read_to_end(&mut head)?;
    let utf8 = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A multi-byte character cut at the 64 KiB boundary is still UTF-8.
        Err(e) => e.error_len().is_none(),
    };
    let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(if utf8 { encoding_rs::UTF_8 } else { encoding_rs::GB18030 }))
        .bom_override(true)
        .build(open()?);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(decoder);
    let mut record = csv::StringRecord::new();
    let mut row: u32 = 0;
    loop {
        row += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let cells = record
                    .iter()
                    .map(|c| {
                        if c.trim().is_empty() {
                            CellValue::Empty
                        } else {
                            CellValue::Text(c.to_owned())
                        }
                    })
                    .collect();
                sink.row(name, row, cells)?;
            }
            Err(e) => {
                let line = e.position().map_or(row.into(), csv::Position::line);
                bail!("{name}: line {line}: not readable as CSV: {e}");
            }
        }
    }
    sink.end_sheet(name)
}

fn cell(data: &DataRef<'_>) -> CellValue {
    match data {
        DataRef::Empty => CellValue::Empty,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => CellValue::Text(s.clone()),
        DataRef::SharedString(s) => CellValue::Text((*s).to_owned()),
        DataRef::Int(i) => CellValue::Int(*i),
        DataRef::Float(f) => CellValue::Float(*f),
        DataRef::Bool(b) => CellValue::Bool(*b),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            CellValue::Date(format!("{y:04}-{m:02}-{day:02}"))
        }
        DataRef::DateTime(d) => CellValue::Float(d.as_f64()),
        DataRef::Error(e) => CellValue::Text(format!("#{e}")),
    }
}

fn read_xlsx<RS: Read + Seek>(shown: &str, reader: RS, sink: &mut dyn RowSink) -> Result<()> {
    let mut book: Xlsx<RS> = Xlsx::new(reader)
        .map_err(|e| anyhow!("{shown}: 不是可读取的 Excel 工作簿 not a readable .xlsx workbook (is it a damaged file or another format?): {e}"))?;
    for sheet in book.sheet_names() {
        let merged = book
            .merge_cells_by_sheet_name(&sheet)
            .map_err(|e| anyhow!("{shown}: sheet {sheet}: cannot read its merged cells: {e}"))?;
        sink.merged(
            &sheet,
            merged
                .iter()
                .map(|d| (d.start.0 + 1, d.start.1 as usize, d.end.0 + 1, d.end.1 as usize))
                .collect(),
        );
        let mut cells = book
            .worksheet_cells_reader(&sheet)
            .map_err(|e| anyhow!("{shown}: sheet {sheet}: not readable: {e}"))?;
        let dims = cells.dimensions();
        sink.size_hint(u64::from(dims.end.0.saturating_sub(dims.start.0)) + 1);
        let mut current: Option<(u32, Vec<CellValue>)> = None;
        loop {
            let next = cells.next_cell().map_err(|e| {
                anyhow!(
                    "{shown}: sheet {sheet}: damaged after {}: {e}",
                    current.as_ref().map_or_else(|| "its start".to_owned(), |(r, _)| format!("row {r}"))
                )
            })?;
            let Some(c) = next else { break };
            let (r, col) = c.get_position();
            let (r, col) = (r + 1, col as usize);
            if current.as_ref().is_some_and(|(cr, _)| *cr != r) {
                let (cr, row) = current.take().unwrap_or_default();
                sink.row(&sheet, cr, row)?;
            }
            let (_, row) = current.get_or_insert_with(|| (r, Vec::new()));
            if row.len() <= col {
                if col > 16_384 {
                    bail!("{shown}: {}: column {} is past Excel's last column", cell_ref(&sheet, r, col), column_name(col));
                }
                row.resize(col + 1, CellValue::Empty);
            }
            row[col] = cell(c.get_value());
        }
        if let Some((r, row)) = current {
            sink.row(&sheet, r, row)?;
        }
        drop(cells);
        sink.end_sheet(&sheet)?;
    }
    Ok(())
}
