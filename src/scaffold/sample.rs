//! Reading the sample: at most `max_records` records, streamed through the connector format's
//! decoder, each turned into its leaf paths and texts ([`leaves`]) and folded into per-path
//! statistics. Only the first record is kept whole, for the mapping's example.

use super::ScaffoldError;
use super::infer::Stats;
use crate::config::connector::{CsvColumns, CsvSpec, FormatSpec};
use crate::format::record::{Body, Record, RecordError};
use crate::format::{self, DecodeError};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Connector id given to the decoder (it only appears in origins).
const CONNECTOR: &str = "scaffold";

/// What the sample showed.
#[derive(Debug)]
pub struct Sample {
    /// Source paths in the order first seen, each with its statistics.
    pub paths: Vec<(SourcePath, Stats)>,
    /// Records decoded and sampled.
    pub records: usize,
    /// Records that could not be decoded, and the first one's `line N: reason`.
    pub skipped: usize,
    pub first_skipped: Option<String>,
    /// The first decoded record.
    pub first: Record,
}

/// Folds records into a [`Sample`].
#[derive(Debug, Default)]
pub struct Sampler {
    paths: Vec<(SourcePath, Stats)>,
    index: HashMap<SourcePath, usize>,
    records: usize,
    skipped: usize,
    first_skipped: Option<String>,
    first: Option<Record>,
    leaves: Vec<(SourcePath, String)>,
}

impl Sampler {
    /// Takes one decoded record into account; returns how many have been taken.
    pub fn add(&mut self, record: Record) -> usize {
        self.records += 1;
        self.leaves.clear();
        leaves(&record.body, &mut self.leaves);
        for (path, text) in self.leaves.drain(..) {
            let at = *self.index.entry(path.clone()).or_insert_with(|| {
                self.paths.push((path, Stats::default()));
                self.paths.len() - 1
            });
            self.paths[at].1.add(&text);
        }
        self.first.get_or_insert(record);
        self.records
    }

    /// Counts a record that could not be decoded; returns how many have been.
    pub fn skip(&mut self, error: &RecordError) -> usize {
        self.skipped += 1;
        self.first_skipped
            .get_or_insert_with(|| format!("line {}: {}", error.origin.line, error.reason));
        self.skipped
    }

    /// The sample, or the error of a file without a single decoded record.
    pub fn finish(self, file: &Path) -> Result<Sample, ScaffoldError> {
        let Some(first) = self.first else {
            return Err(no_records(file, self.skipped, self.first_skipped));
        };
        Ok(Sample {
            paths: self.paths,
            records: self.records,
            skipped: self.skipped,
            first_skipped: self.first_skipped,
            first,
        })
    }
}

/// Reads up to `max_records` records of `file`, and past at most as many undecodable ones.
pub fn read(file: &Path, spec: &FormatSpec, max_records: usize) -> Result<Sample, ScaffoldError> {
    let mut sampler = Sampler::default();
    for item in decoder(file, spec)? {
        let count = match item {
            Ok(record) => sampler.add(record),
            Err(DecodeError::Record(e)) => sampler.skip(&e),
            Err(fatal) => return Err(undecodable(file, fatal)),
        };
        if count >= max_records {
            break;
        }
    }
    sampler.finish(file)
}

/// Where a value sits in a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourcePath {
    /// A column of a flat row.
    Column(String),
    /// A leaf of a tree: object keys, and [`Step::Items`] for the items of a list.
    Tree(Vec<Step>),
}

/// One step of a tree path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Items,
}

impl SourcePath {
    /// The path as people read it: the column name, or `header.customer.id`, `lines[].sku`.
    pub fn display(&self) -> String {
        match self {
            Self::Column(name) => name.clone(),
            Self::Tree(steps) => display(steps),
        }
    }
}

/// Tree steps as `a.b[].c`.
pub fn display(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Items => out.push_str("[]"),
        }
    }
    out
}

/// The leaf paths of a record and their texts: a row's columns; a tree's scalar leaves, array
/// items under [`Step::Items`], numbers and booleans as their JSON text, `null` as empty.
pub fn leaves(body: &Body, out: &mut Vec<(SourcePath, String)>) {
    match body {
        Body::Row { columns, row } => out.extend(
            columns
                .names()
                .iter()
                .zip(row.iter())
                .map(|(name, value)| (SourcePath::Column(name.clone()), value.to_string())),
        ),
        Body::Tree(tree) => tree_leaves(&mut Vec::new(), tree, out),
    }
}

fn tree_leaves(steps: &mut Vec<Step>, value: &Value, out: &mut Vec<(SourcePath, String)>) {
    let leaf = |steps: &[Step], text: String| (SourcePath::Tree(steps.to_vec()), text);
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                steps.push(Step::Key(key.clone()));
                tree_leaves(steps, member, out);
                steps.pop();
            }
        }
        Value::Array(items) => {
            steps.push(Step::Items);
            for item in items {
                tree_leaves(steps, item, out);
            }
            steps.pop();
        }
        Value::Null => out.push(leaf(steps, String::new())),
        Value::String(text) => out.push(leaf(steps, text.clone())),
        Value::Bool(_) | Value::Number(_) => out.push(leaf(steps, value.to_string())),
    }
}

/// Placeholder column names for a CSV sample without a header: `col1` … `colN`, N being the
/// width of the first row. `None` when the format names its columns (or reads a header).
pub fn unnamed_columns(
    file: &Path,
    spec: &FormatSpec,
) -> Result<Option<Vec<String>>, ScaffoldError> {
    let Some(csv) = spec.csv() else {
        return Ok(None);
    };
    if csv.columns != CsvColumns::Named(Vec::new()) {
        return Ok(None);
    }
    // With no columns every row is a record error carrying the row re-encoded: its width is the
    // number of fields read back from that copy.
    let Some(item) = decoder(file, spec)?.next() else {
        return Err(no_records(file, 0, None));
    };
    let raw = match item {
        Err(DecodeError::Record(e)) => e.raw,
        Err(fatal) => return Err(undecodable(file, fatal)),
        Ok(record) => record.raw(),
    };
    let width = width(csv, &raw);
    Ok(Some((1..=width).map(|n| format!("col{n}")).collect()))
}

fn width(csv: &CsvSpec, raw: &[u8]) -> usize {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(csv.delimiter)
        .has_headers(false)
        .from_reader(raw);
    let mut row = ::csv::ByteRecord::new();
    match reader.read_byte_record(&mut row) {
        Ok(true) => row.len(),
        _ => 1,
    }
}

fn decoder(
    file: &Path,
    spec: &FormatSpec,
) -> Result<impl Iterator<Item = Result<Record, DecodeError>>, ScaffoldError> {
    let input = File::open(file).map_err(|source| ScaffoldError::Unreadable {
        file: file.to_path_buf(),
        source,
    })?;
    let name: Arc<str> = file.display().to_string().into();
    Ok(format::decode(spec, input, CONNECTOR.into(), name))
}

fn undecodable(file: &Path, error: DecodeError) -> ScaffoldError {
    let file = file.to_path_buf();
    match error {
        DecodeError::Io(source) => ScaffoldError::Unreadable { file, source },
        DecodeError::Header { line, reason }
        | DecodeError::Oversized { line, reason }
        | DecodeError::Input { line, reason } => ScaffoldError::Undecodable { file, line, reason },
        DecodeError::Record(e) => ScaffoldError::Undecodable {
            file,
            line: e.origin.line,
            reason: e.reason,
        },
    }
}

fn no_records(file: &Path, skipped: usize, first_skipped: Option<String>) -> ScaffoldError {
    let why = match first_skipped {
        Some(first) => {
            format!("none of its {skipped} records could be decoded; the first: {first}")
        }
        None => "it has no records".to_string(),
    };
    ScaffoldError::NoRecords {
        file: file.to_path_buf(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tree_leaves_are_dotted_paths_with_array_items_under_brackets() {
        let tree = json!({
            "header": {"customer": {"id": "C1"}, "total": 12.5, "paid": true, "note": null},
            "lines": [{"sku": "A"}, {"sku": "B"}]
        });
        let mut out = Vec::new();
        leaves(&Body::Tree(tree), &mut out);
        let mut pairs: Vec<(String, &str)> =
            out.iter().map(|(p, t)| (p.display(), t.as_str())).collect();
        pairs.sort();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        assert_eq!(
            pairs,
            [
                ("header.customer.id", "C1"),
                ("header.note", ""),
                ("header.paid", "true"),
                ("header.total", "12.5"),
                ("lines[].sku", "A"),
                ("lines[].sku", "B"),
            ]
        );
    }
}
