//! `omnibus test --coverage`: what a mapping leaves unused — the source columns it never reads,
//! as far as they are known (a connector that names its columns, the header of a golden sample),
//! and the schema fields of its event type it never sets.

use crate::canonical::schema::Schema;
use crate::config::connector::{ConnectorSpec, CsvColumns, CsvSpec, FormatSpec};
use crate::format::{self, DecodeError};
use crate::mapping::Mapping;
use std::fmt;
use std::path::Path;

/// One mapping's unused columns and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub event_type: String,
    /// Where the source columns are known from (`connector pos`, `sample sales.csv`); empty when
    /// they are not known.
    pub sources: Vec<String>,
    /// Source columns no field, expression or `[group] by` reads, in source order.
    pub unread: Vec<Unread>,
    /// Schema leaves no output field writes, in schema order.
    pub unset: Vec<Unset>,
}

/// A column no part of the mapping reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub column: String,
    /// The [`Coverage::sources`] that have the column.
    pub sources: Vec<String>,
}

/// A schema field no output field writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset {
    /// `store`, `payment.method`, `lines[].sku`.
    pub path: String,
    pub required: bool,
}

/// The column names one source offers.
#[derive(Debug, Clone)]
pub struct Columns {
    /// What offers them: `connector pos`, `sample sales.csv`.
    pub source: String,
    pub names: Vec<String>,
}

/// The columns `spec`'s format names, if it names them rather than reading a header.
pub fn connector_columns(spec: &ConnectorSpec) -> Option<Columns> {
    match &spec.format {
        Some(FormatSpec::Csv(CsvSpec {
            columns: CsvColumns::Named(names),
            ..
        })) if !names.is_empty() => Some(Columns {
            source: format!("connector {}", spec.id),
            names: names.clone(),
        }),
        _ => None,
    }
}

/// The columns of `sample` decoded with `spec`'s format: its header, or the named columns.
pub fn sample_columns(spec: &ConnectorSpec, sample: &Path) -> Option<Columns> {
    let file = std::fs::File::open(sample).ok()?;
    let name = sample.display().to_string();
    let format = spec.format.as_ref()?;
    let mut records = format::decode(format, file, spec.id.as_str().into(), name.into());
    let columns = records.find_map(|item| match item {
        Ok(record) => Some(record.columns().cloned()),
        Err(DecodeError::Record(e)) => e.columns.map(Some),
        Err(_) => Some(None),
    })??;
    let file_name = sample.file_name().unwrap_or_default().to_string_lossy();
    Some(Columns {
        source: format!("sample {file_name}"),
        names: columns.names().to_vec(),
    })
}

/// What `mapping` leaves unused of `columns` and of `schema`.
pub fn coverage(mapping: &Mapping, schema: &Schema, columns: &[Columns]) -> Coverage {
    Coverage {
        event_type: mapping.event_type().to_string(),
        sources: columns.iter().map(|c| c.source.clone()).collect(),
        unread: unread(mapping, columns),
        unset: unset(mapping, schema),
    }
}

fn unread(mapping: &Mapping, columns: &[Columns]) -> Vec<Unread> {
    let mut reads: Vec<String> = mapping.source_reads().into_iter().map(|r| r.name).collect();
    reads.extend(mapping.group().iter().flat_map(|g| g.by.iter().cloned()));
    let mut out: Vec<Unread> = Vec::new();
    for source in columns {
        for column in &source.names {
            if reads.iter().any(|read| mentions(read, column)) {
                continue;
            }
            match out.iter_mut().find(|u| u.column == *column) {
                Some(known) => known.sources.push(source.source.clone()),
                None => out.push(Unread {
                    column: column.clone(),
                    sources: vec![source.source.clone()],
                }),
            }
        }
    }
    out
}

/// Whether reading `read` reads `column`: the column itself, or a path inside it.
fn mentions(read: &str, column: &str) -> bool {
    read.strip_prefix(column)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

fn unset(mapping: &Mapping, schema: &Schema) -> Vec<Unset> {
    let written: Vec<String> = mapping.output_paths().into_iter().map(|o| o.path).collect();
    let fields = schema.fields();
    fields
        .iter()
        .filter(|f| !fields.iter().any(|other| inside(&other.path, &f.path)))
        .filter(|f| !written.iter().any(|w| *w == f.path || inside(&f.path, w)))
        .map(|f| Unset {
            path: f.path.clone(),
            required: f.required,
        })
        .collect()
}

/// Whether `path` lies inside the object or list at `parent`.
fn inside(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "coverage ({}):", self.event_type)?;
        if self.sources.is_empty() {
            writeln!(
                f,
                "  source fields never read: unknown (no connector names its columns and there \
                 is no golden sample)"
            )?;
        } else {
            let from = self.sources.join("; ");
            match self.unread.is_empty() {
                true => writeln!(f, "  source fields never read: none (columns of {from})")?,
                false => writeln!(f, "  source fields never read (columns of {from}):")?,
            }
        }
        for unread in &self.unread {
            match unread.sources.len() < self.sources.len() {
                true => writeln!(
                    f,
                    "    {}  (only in {})",
                    unread.column,
                    unread.sources.join(", ")
                )?,
                false => writeln!(f, "    {}", unread.column)?,
            }
        }
        match self.unset.is_empty() {
            true => writeln!(f, "  schema fields never set: none")?,
            false => writeln!(f, "  schema fields never set:")?,
        }
        for unset in &self.unset {
            match unset.required {
                true => writeln!(f, "    {}  (required)", unset.path)?,
                false => writeln!(f, "    {}", unset.path)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_mentions_its_column_and_paths_inside_it() {
        assert!(mentions("QTY", "QTY"));
        assert!(mentions("customer.id", "customer"));
        assert!(mentions("lines[0]", "lines"));
        assert!(!mentions("QTY2", "QTY"));
        assert!(!mentions("Q", "QTY"));
    }

    #[test]
    fn required_fields_and_columns_of_some_sources_are_marked() {
        let coverage = Coverage {
            event_type: "t.v1".into(),
            sources: vec!["connector c".into(), "sample s.csv".into()],
            unread: vec![
                Unread {
                    column: "A".into(),
                    sources: vec!["connector c".into(), "sample s.csv".into()],
                },
                Unread {
                    column: "B".into(),
                    sources: vec!["sample s.csv".into()],
                },
            ],
            unset: vec![
                Unset {
                    path: "x.y".into(),
                    required: true,
                },
                Unset {
                    path: "z".into(),
                    required: false,
                },
            ],
        };
        assert_eq!(
            coverage.to_string(),
            "coverage (t.v1):\n  source fields never read (columns of connector c; sample \
             s.csv):\n    A\n    B  (only in sample s.csv)\n  schema fields never set:\n    \
             x.y  (required)\n    z\n"
        );
    }

    #[test]
    fn paths_inside_objects_and_lists() {
        assert!(inside("payment.method", "payment"));
        assert!(inside("lines[].sku", "lines"));
        assert!(!inside("payments", "payment"));
        assert!(!inside("payment", "payment"));
    }
}
