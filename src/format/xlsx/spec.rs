//! `[format] type = "xlsx"`: its keys (`sheet`, `header_row`, `columns`), their defaults and
//! checks.

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::connector::{CsvColumns, CsvSpec};
use crate::config::diagnostic::keep;
use crate::config::toml_de::Source;
use crate::config::{Diagnostic, Diagnostics};
use crate::format::charset::Charset;

/// Rows an Excel worksheet can have.
pub const MAX_ROWS: u32 = 1 << 20;

/// Which sheet of the workbook is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sheet {
    /// The first worksheet in tab order (chart sheets are passed over).
    #[default]
    First,
    /// The sheet with this name (as on its tab).
    Named(String),
    /// The sheet at this 1-based position in tab order, every kind of sheet counted.
    Number(usize),
}

/// `[format]` for the XLSX decoder, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlsxSpec {
    pub sheet: Sheet,
    /// The 1-based row holding the column names, rows above it skipped. With `columns`, the last
    /// row skipped (the sheet's own header, or a banner); 0: every row is data.
    pub header_row: u32,
    /// Column names given in the connector instead of read from the sheet.
    pub columns: Option<Vec<String>>,
}

impl Default for XlsxSpec {
    /// The first worksheet, its column names in row 1.
    fn default() -> Self {
        Self {
            sheet: Sheet::First,
            header_row: 1,
            columns: None,
        }
    }
}

impl XlsxSpec {
    /// How a dead letter's raw row is read again: a UTF-8 CSV line, comma-separated, with the
    /// named columns (else the stored header's).
    pub fn raw_csv(&self) -> CsvSpec {
        CsvSpec {
            encoding: encoding_rs::UTF_8,
            charset: Charset::default(),
            delimiter: b',',
            quote: b'"',
            columns: match &self.columns {
                Some(names) => CsvColumns::Named(names.clone()),
                None => CsvColumns::Header,
            },
            skip_lines: 0,
        }
    }
}

/// `[format] type = "xlsx"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XlsxFormatFile {
    sheet: Option<Spanned<toml::Value>>,
    header_row: Option<Spanned<i64>>,
    columns: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Reads and checks the `[format]` keys after `type`.
pub fn parse_spec(src: &Source<'_>, rest: Spanned<DeValue<'_>>) -> Result<XlsxSpec, Diagnostics> {
    let file: XlsxFormatFile = src.deserialize(rest, "format")?;
    let mut found = Diagnostics::default();
    let sheet = file.sheet.map(|s| sheet(src, s)).transpose();
    let sheet = keep(&mut found, sheet);
    let named = file.columns.is_some();
    let columns = file.columns.map(|c| columns(src, c)).transpose();
    let columns = keep(&mut found, columns);
    let header_row = keep(&mut found, header_row(src, file.header_row, named));
    match (sheet, columns, header_row) {
        (Some(sheet), Some(columns), Some(header_row)) if found.is_empty() => Ok(XlsxSpec {
            sheet: sheet.unwrap_or_default(),
            header_row,
            columns,
        }),
        _ => Err(found),
    }
}

/// `sheet = "Orders"` or `sheet = 2`.
fn sheet(src: &Source<'_>, value: Spanned<toml::Value>) -> Result<Sheet, Diagnostic> {
    let at = value.span().start;
    match value.into_inner() {
        toml::Value::String(name) if !name.is_empty() => Ok(Sheet::Named(name)),
        toml::Value::Integer(n) if n >= 1 => match usize::try_from(n) {
            Ok(n) => Ok(Sheet::Number(n)),
            Err(_) => Err(src.diagnostic(at, format!("sheet = {n} is past any workbook"))),
        },
        _ => Err(src.diagnostic(
            at,
            "sheet must be a sheet's name as on its tab (sheet = \"Orders\") or its 1-based \
             position (sheet = 2)",
        )),
    }
}

/// `header_row`: 1 by default, 0 (no header row) by default with `columns`.
fn header_row(src: &Source<'_>, row: Option<Spanned<i64>>, named: bool) -> Result<u32, Diagnostic> {
    let Some(row) = row else {
        return Ok(u32::from(!named));
    };
    let at = row.span().start;
    match u32::try_from(*row.get_ref()) {
        Ok(0) if !named => Err(src.diagnostic(
            at,
            "header_row = 0 says the sheet has no header row: name the columns with `columns = \
             [...]`",
        )),
        Ok(n) if n <= MAX_ROWS => Ok(n),
        _ => Err(src.diagnostic(
            at,
            format!("header_row must be a row number between 1 and {MAX_ROWS}"),
        )),
    }
}

/// `columns`: trimmed, non-empty, unique names.
fn columns(
    src: &Source<'_>,
    columns: Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, Diagnostics> {
    if columns.get_ref().is_empty() {
        let message = "columns is empty: list the column names, or leave it out to read them \
                       from header_row";
        return Err(src.diagnostic(columns.span().start, message).into());
    }
    let mut found = Diagnostics::default();
    let mut names: Vec<String> = Vec::new();
    for (n, name) in columns.into_inner().into_iter().enumerate() {
        let at = name.span().start;
        let text = name.get_ref().trim();
        if text.is_empty() {
            found.push(src.diagnostic(at, format!("column {} has no name", n + 1)));
        } else if let Some(first) = names.iter().position(|c| c == text) {
            found.push(src.diagnostic(
                at,
                format!(
                    "column {} repeats the name \"{text}\" of column {}; column names must be \
                     unique",
                    n + 1,
                    first + 1
                ),
            ));
        }
        names.push(text.to_string());
    }
    if found.is_empty() {
        Ok(names)
    } else {
        Err(found)
    }
}
