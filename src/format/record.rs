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
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
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

/// One decoded record: a flat row of named text fields.
#[derive(Debug, Clone)]
pub struct Record {
    pub origin: Origin,
    pub columns: Arc<Columns>,
    pub row: csv::StringRecord,
}

impl Record {
    /// Value of the column at `index`, if the row has it.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.row.get(index)
    }

    /// The record as a JSON object of column → value in column order (columns the row lacks are
    /// left out), for the dead-letter index.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (n, (name, value)) in self.columns.names().iter().zip(self.row.iter()).enumerate() {
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

    /// The record re-encoded as one delimited line (UTF-8), for dead letters and reports.
    pub fn raw(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(self.columns.delimiter)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(&mut out);
            // Writing into a Vec cannot fail for I/O reasons; a failure here would only drop the
            // raw copy, never the record, so it is reported as an empty raw copy.
            if writer.write_record(&self.row).is_err() {
                return Vec::new();
            }
        }
        out
    }
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
