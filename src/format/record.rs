//! The decoded record and its origin: what every decoder produces and every later stage reads.

use std::fmt;
use std::sync::Arc;

/// Where a record came from, precise enough for a human to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Connector id.
    pub connector: Arc<str>,
    /// File path (or message id) the record was read from.
    pub file: Arc<str>,
    /// 1-based line of the record's first line in the source file.
    pub line: u64,
    /// Byte offset of the record's first byte in the source file.
    pub offset: u64,
    /// Where in a structured input the record sits, for formats where a line is not enough: an
    /// element path (XML, JSON), a message and segment (EDIFACT), a sheet and row (XLSX).
    pub locator: Option<Arc<str>>,
}

impl Origin {
    /// The origin as JSON: `file`, `line`, `offset`, and `locator` when there is one.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o =
            serde_json::json!({"file": &*self.file, "line": self.line, "offset": self.offset});
        if let Some(locator) = &self.locator {
            o["locator"] = serde_json::Value::from(&**locator);
        }
        o
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(locator) = &self.locator {
            write!(f, " ({locator})")?;
        }
        Ok(())
    }
}

/// Column names of a flat record, shared by every record of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    names: Vec<String>,
    delimiter: u8,
}

impl Columns {
    /// `delimiter` is the source's field delimiter, used to rebuild a raw line for dead letters.
    pub fn new(names: Vec<String>, delimiter: u8) -> Self {
        Self { names, delimiter }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The source's field delimiter.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Index of a column by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// One decoded record: a flat row of named text fields, or a tree (XML, JSON, EDIFACT, a group of
/// rows).
#[derive(Debug, Clone)]
pub struct Record {
    pub origin: Origin,
    pub body: Body,
}

/// What a record holds.
#[derive(Debug, Clone)]
pub enum Body {
    /// A flat row; its columns are shared by every row of one file.
    Row {
        columns: Arc<Columns>,
        row: csv::StringRecord,
    },
    /// A nested value; leaves are usually strings.
    Tree(serde_json::Value),
}

impl Record {
    /// A flat record.
    pub fn row(origin: Origin, columns: Arc<Columns>, row: csv::StringRecord) -> Self {
        Self {
            origin,
            body: Body::Row { columns, row },
        }
    }

    /// The columns of a flat record.
    pub fn columns(&self) -> Option<&Arc<Columns>> {
        match &self.body {
            Body::Row { columns, .. } => Some(columns),
            Body::Tree(_) => None,
        }
    }

    /// The record as JSON: a flat row as an object of column → value in column order (columns the
    /// row lacks are left out), a tree as it is. For the dead-letter index.
    pub fn to_json(&self) -> String {
        match &self.body {
            Body::Row { columns, row } => row_json(columns, row),
            Body::Tree(tree) => tree.to_string(),
        }
    }

    /// The record as one line of text (UTF-8) for dead letters and reports: a flat row re-encoded
    /// with its file's delimiter, a tree as JSON.
    pub fn raw(&self) -> Vec<u8> {
        match &self.body {
            Body::Row { columns, row } => row_line(columns, row),
            Body::Tree(tree) => tree.to_string().into_bytes(),
        }
    }
}

fn row_json(columns: &Columns, row: &csv::StringRecord) -> String {
    let mut out = String::from("{");
    for (n, (name, value)) in columns.names().iter().zip(row.iter()).enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(name.as_str()).to_string());
        out.push(':');
        out.push_str(&serde_json::Value::from(value).to_string());
    }
    out.push('}');
    out
}

fn row_line(columns: &Columns, row: &csv::StringRecord) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(columns.delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut out);
        // Writing into a Vec cannot fail for I/O reasons; a failure here would only drop the
        // raw copy, never the record, so it is reported as an empty raw copy.
        if writer.write_record(row).is_err() {
            return Vec::new();
        }
    }
    out
}

/// A record that could not be decoded: it carries what is needed for a dead letter.
#[derive(Debug, Clone)]
pub struct RecordError {
    pub origin: Origin,
    /// The raw bytes of the record as read (after charset decoding, lossily, when that failed).
    pub raw: Vec<u8>,
    pub reason: String,
    /// The columns of the input, when its header was known: with them the raw bytes can be
    /// decoded again (`omnibus dlq replay`).
    pub columns: Option<Arc<Columns>>,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.reason)
    }
}
