//! Rows of cells → records: which rows are skipped, the header's column names, and the checks on
//! each data row (error cells, values past the last column).

use std::sync::Arc;

use super::cells::{Value, cell_ref, column_name};
use super::spec::XlsxSpec;
use crate::format::DecodeError;
use crate::format::record::{Columns, Origin, Record, RecordError};

/// The cells of one row as read: 0-based column and value, in sheet order.
pub type Cells = Vec<(u32, Value)>;

/// Turns the rows of one sheet, in order, into records.
pub struct Rows {
    /// The sheet's name as references write it (`Sheet1`, `'Q3 Orders'`).
    sheet: String,
    connector: Arc<str>,
    file: Arc<str>,
    header_row: u32,
    /// Whether the names come from `columns` (else from the header row).
    named: bool,
    /// Known once the header is read, or from the start when named.
    columns: Option<Arc<Columns>>,
    /// A row with values came before the header row.
    banner: bool,
}

impl Rows {
    /// `sheet` is the sheet's name as references write it.
    pub fn new(spec: &XlsxSpec, sheet: String, connector: Arc<str>, file: Arc<str>) -> Self {
        let columns = spec
            .columns
            .clone()
            .map(|names| Arc::new(Columns::new(names, b',')));
        Self {
            sheet,
            connector,
            file,
            header_row: spec.header_row,
            named: columns.is_some(),
            columns,
            banner: false,
        }
    }

    /// What row `line` (1-based) yields: nothing for an empty row, a row above the header or the
    /// header itself; a record or record error for a data row; a fatal error for an unusable
    /// header.
    pub fn row(&mut self, line: u32, cells: Cells) -> Option<Result<Record, DecodeError>> {
        if cells.iter().all(|(_, value)| value.is_empty()) {
            return None;
        }
        let last_skipped = if self.named {
            self.header_row
        } else {
            self.header_row.saturating_sub(1)
        };
        if line <= last_skipped {
            self.banner = true;
            return None;
        }
        match &self.columns {
            Some(columns) => Some(self.record(line, cells, Arc::clone(columns))),
            None if line == self.header_row => match self.header(line, cells) {
                Ok(names) => {
                    self.columns = Some(Arc::new(Columns::new(names, b',')));
                    None
                }
                Err(reason) => Some(Err(DecodeError::Header {
                    line: line.into(),
                    reason,
                })),
            },
            None => Some(Err(DecodeError::Header {
                line: self.header_row.into(),
                reason: format!(
                    "row {} of sheet {}, the header row, is empty; the first row with values is \
                     {line}: set header_row to the row that holds the column names",
                    self.header_row, self.sheet
                ),
            })),
        }
    }

    /// At the end of the sheet: an error when rows came but the header row never did.
    pub fn finish(&self) -> Option<DecodeError> {
        (self.columns.is_none() && self.banner).then(|| DecodeError::Header {
            line: self.header_row.into(),
            reason: format!(
                "sheet {} ends before its header row {} (header_row)",
                self.sheet, self.header_row
            ),
        })
    }

    /// Trimmed column names from the header row's cells, up to its last value.
    fn header(&self, line: u32, cells: Cells) -> Result<Vec<String>, String> {
        let width = cells
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|&(column, _)| column as usize + 1)
            .max()
            .unwrap_or(0);
        let mut names = vec![String::new(); width];
        for (column, value) in cells {
            match value {
                Value::Error(error) => {
                    return Err(format!(
                        "header cell {} holds the error {error}; give the column a name",
                        cell_ref(&self.sheet, column, line)
                    ));
                }
                Value::Text(text) if (column as usize) < width => {
                    names[column as usize] = text.trim().to_string();
                }
                Value::Text(_) => {}
            }
        }
        for (column, name) in (0u32..).zip(&names) {
            let at = cell_ref(&self.sheet, column, line);
            if name.is_empty() {
                return Err(format!(
                    "header cell {at} is empty; name the column in the sheet, or list the \
                     columns under [format] with `columns = [...]`"
                ));
            }
            if let Some(first) = names.iter().position(|n| n == name)
                && first != column as usize
            {
                return Err(format!(
                    "header cell {at} repeats the name \"{name}\" of {}{line}; column names must \
                     be unique",
                    column_name(first as u32)
                ));
            }
        }
        Ok(names)
    }

    /// A data row as a record: one field per column, missing cells empty; an error cell or a
    /// value past the last column makes it a record error.
    fn record(
        &self,
        line: u32,
        cells: Cells,
        columns: Arc<Columns>,
    ) -> Result<Record, DecodeError> {
        let last = cells
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|&(column, _)| column as usize + 1)
            .max()
            .unwrap_or(0);
        let width = columns.len();
        let mut fields = vec![String::new(); last.max(width)];
        let mut errors = Vec::new();
        let mut past: Option<u32> = None;
        for (column, value) in cells {
            if value.is_empty() {
                continue;
            }
            if let Value::Error(error) = &value {
                errors.push((column, error.to_string()));
            }
            if column as usize >= width {
                past = Some(past.map_or(column, |p| p.min(column)));
            }
            fields[column as usize] = value.into_text();
        }
        let origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: line.into(),
            offset: 0,
            locator: Some(format!("{} row {line}", self.sheet).into()),
        };
        let reason = match (errors.first(), past) {
            (Some((column, error)), _) => {
                let more = match errors.len() - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more error cells in this row)"),
                };
                let at = cell_ref(&self.sheet, *column, line);
                format!("{at}: the cell holds the error {error}{more}")
            }
            (None, Some(column)) => {
                let at = cell_ref(&self.sheet, column, line);
                let names = if self.named {
                    "`columns` names"
                } else {
                    "the header names"
                };
                let last = column_name((width as u32).saturating_sub(1));
                format!("{at}: the cell holds a value past column {last}, the last one {names}")
            }
            (None, None) => return Ok(Record::row(origin, columns, fields.into())),
        };
        let record = Record::row(origin, columns, fields.into());
        Err(DecodeError::Record(RecordError {
            raw: record.raw(),
            columns: record.columns().cloned(),
            origin: record.origin,
            reason,
        }))
    }
}
