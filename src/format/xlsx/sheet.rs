//! Reading one workbook: opening it with calamine, picking the sheet, and streaming its cells
//! row by row into [`Rows`].

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::sync::Arc;

use calamine::{Reader, SheetType, Xlsx, XlsxError};

use super::cells::{self, sheet_name};
use super::rows::{Cells, Rows};
use super::spec::{Sheet, XlsxSpec};
use crate::format::DecodeError;
use crate::format::record::Record;

/// Columns an Excel worksheet can have (A to XFD).
const MAX_COLUMNS: u32 = 16_384;
/// How an OLE2 compound file starts: a legacy `.xls` workbook, or an encrypted `.xlsx`.
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP_MAGIC: [u8; 2] = *b"PK";

/// What the reader hands on: a record, or why there is none.
pub type Item = Result<Record, DecodeError>;

/// Hands every record of the workbook in `source` to `emit`, until `emit` returns `false` or a
/// fatal error has been handed on.
pub fn read(
    spec: &XlsxSpec,
    source: File,
    connector: Arc<str>,
    file: Arc<str>,
    emit: &mut dyn FnMut(Item) -> bool,
) {
    if let Err(error) = stream(spec, source, connector, file, emit) {
        emit(Err(error));
    }
}

/// Reads the sheet's rows; a fatal error is returned rather than handed on.
fn stream(
    spec: &XlsxSpec,
    source: File,
    connector: Arc<str>,
    file: Arc<str>,
    emit: &mut dyn FnMut(Item) -> bool,
) -> Result<(), DecodeError> {
    let Some(mut workbook) = open(source)? else {
        return Ok(());
    };
    let name = pick(&workbook, &spec.sheet)?;
    let sheet = sheet_name(&name);
    let mut reader = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| input(0, format!("sheet {sheet} cannot be read: {e}")))?;
    let mut rows = Rows::new(spec, sheet.clone(), connector, file);
    let mut current: Option<u32> = None;
    let mut row_cells = Cells::new();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| broken(&sheet, current, &e))?
    {
        let (row, column) = cell.get_position();
        if column >= MAX_COLUMNS {
            let line = row.saturating_add(1);
            let reason = format!(
                "sheet {sheet} row {line} has a cell past column XFD, the last column Excel has: \
                 the worksheet is damaged"
            );
            return Err(input(line, reason));
        }
        if current != Some(row) {
            if let Some(done) = current
                && !flush(&mut rows, done, std::mem::take(&mut row_cells), emit)?
            {
                return Ok(());
            }
            current = Some(row);
        }
        row_cells.push((column, cells::value(cell.get_value().clone())));
    }
    if let Some(done) = current
        && !flush(&mut rows, done, row_cells, emit)?
    {
        return Ok(());
    }
    rows.finish().map_or(Ok(()), Err)
}

/// Hands on what the 0-based `row` yields; `false` when `emit` wants no more.
fn flush(
    rows: &mut Rows,
    row: u32,
    cells: Cells,
    emit: &mut dyn FnMut(Item) -> bool,
) -> Result<bool, DecodeError> {
    match rows.row(row.saturating_add(1), cells) {
        None => Ok(true),
        Some(Err(error)) if error.is_fatal() => Err(error),
        Some(item) => Ok(emit(item)),
    }
}

/// The workbook, or `None` for an empty input.
fn open(mut source: File) -> Result<Option<Xlsx<BufReader<File>>>, DecodeError> {
    let mut head = Vec::with_capacity(OLE_MAGIC.len());
    (&mut source)
        .take(OLE_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(DecodeError::Io)?;
    if head.is_empty() {
        return Ok(None);
    }
    source.rewind().map_err(DecodeError::Io)?;
    match Xlsx::new(BufReader::new(source)) {
        Ok(workbook) => Ok(Some(workbook)),
        Err(XlsxError::Io(e)) => Err(DecodeError::Io(e)),
        Err(e) => Err(input(0, not_a_workbook(&head, &e))),
    }
}

/// Why calamine could not open the input, with what to do about it.
fn not_a_workbook(head: &[u8], error: &XlsxError) -> String {
    if matches!(error, XlsxError::Password) {
        return "the workbook is protected with a password: save it without one (File > Info > \
                Protect Workbook) so the hub can read it"
            .to_string();
    }
    if head.starts_with(&OLE_MAGIC) {
        return "this is a legacy Excel 97-2003 workbook (.xls), not an XLSX workbook; .xls is \
                not supported: open it in Excel and save it as Excel Workbook (.xlsx)"
            .to_string();
    }
    if head.starts_with(&ZIP_MAGIC) {
        return format!(
            "this zip archive is not a readable XLSX workbook ({error}); .xlsb and .ods are not \
             supported: save it as Excel Workbook (.xlsx)"
        );
    }
    "this is not an XLSX workbook: an XLSX file is a zip archive and this one does not start \
     like one; .xls is not supported: save the file as Excel Workbook (.xlsx)"
        .to_string()
}

/// The name of the sheet `choice` picks, which must be a worksheet.
fn pick(workbook: &Xlsx<BufReader<File>>, choice: &Sheet) -> Result<String, DecodeError> {
    let sheets = workbook.sheets_metadata();
    let listed = || match sheets.len() {
        0 => "it has none".to_string(),
        _ => {
            let names: Vec<String> = sheets.iter().map(|s| format!("\"{}\"", s.name)).collect();
            format!("its sheets are {}", names.join(", "))
        }
    };
    let picked = match choice {
        Sheet::First => sheets
            .iter()
            .find(|s| s.typ == SheetType::WorkSheet)
            .ok_or_else(|| format!("the workbook has no worksheet; {}", listed())),
        Sheet::Named(name) => sheets.iter().find(|s| &s.name == name).ok_or_else(|| {
            format!(
                "the workbook has no sheet \"{name}\"; {} (set sheet to one of them, or to \
                 its position: sheet = 1)",
                listed()
            )
        }),
        Sheet::Number(n) => n.checked_sub(1).and_then(|i| sheets.get(i)).ok_or_else(|| {
            format!(
                "sheet = {n}, but the workbook has {} sheet(s); {}",
                sheets.len(),
                listed()
            )
        }),
    }
    .map_err(|reason| input(0, reason))?;
    if picked.typ != SheetType::WorkSheet {
        return Err(input(
            0,
            format!(
                "sheet \"{}\" is a {}, not a worksheet of cells; {}",
                picked.name,
                kind(picked.typ),
                listed()
            ),
        ));
    }
    Ok(picked.name.clone())
}

fn kind(typ: SheetType) -> &'static str {
    match typ {
        SheetType::WorkSheet => "worksheet",
        SheetType::ChartSheet => "chart sheet",
        SheetType::DialogSheet => "dialog sheet",
        SheetType::MacroSheet => "macro sheet",
        SheetType::Vba => "VBA module",
    }
}

/// A worksheet that cannot be read on from after `row` (0-based; `None`: before any row).
fn broken(sheet: &str, row: Option<u32>, error: &XlsxError) -> DecodeError {
    let line = row.map_or(0, |r| r.saturating_add(1));
    input(
        line,
        format!("sheet {sheet} cannot be read after row {line}: the worksheet is damaged: {error}"),
    )
}

fn input(line: u32, reason: String) -> DecodeError {
    DecodeError::Input {
        line: line.into(),
        reason,
    }
}
