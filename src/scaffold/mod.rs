//! `omnibus scaffold`: a starting mapping for a new legacy source, written from a sample file.
//!
//! The sample is decoded as the connector's format says and read for at most
//! [`Request::max_records`] records, streaming ([`sample`]); each source column or element path
//! gets a type inferred from its values ([`infer`]) and an output name ([`draft`]); the result is
//! written as mapping text ([`write`]). The first record becomes the mapping's `[[examples]]`
//! entry, its `output` being what the generated mapping itself makes of it, so the file loads and
//! its example passes as written.

mod draft;
mod infer;
mod sample;
mod target;
mod write;

use crate::canonical::schema::Schema;
use crate::config::Diagnostics;
use crate::config::connector::{CsvColumns, CsvSpec, FormatSpec};
use crate::config::connector_file::{encoding_for_label, is_detect_label};
use crate::mapping::Mapping;
use draft::Draft;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use write::Part;

pub use draft::PLACEHOLDER_TYPE;
pub use write::DEFAULT_ZONE;

/// Records read by default to infer types.
pub const DEFAULT_MAX_RECORDS: usize = 1000;

/// What to scaffold from.
#[derive(Debug, Clone)]
pub struct Request {
    /// The sample file.
    pub sample: PathBuf,
    /// How to decode it: a connector's format, or one built with [`csv_format`].
    pub format: FormatSpec,
    /// The event type the mapping produces; without one, [`PLACEHOLDER_TYPE`] is written.
    pub event_type: Option<String>,
    /// The event type's schema: source paths that match its fields by name are named after them
    /// and typed as they say; its other fields are listed as commented placeholders.
    pub schema: Option<Arc<Schema>>,
    /// Types are inferred from at most this many records (at least one is read).
    pub max_records: usize,
}

impl Request {
    /// A request for `sample` decoded as `format`, without event type or schema, reading
    /// [`DEFAULT_MAX_RECORDS`] records.
    pub fn new(sample: impl Into<PathBuf>, format: FormatSpec) -> Self {
        Self {
            sample: sample.into(),
            format,
            event_type: None,
            schema: None,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

/// Why no mapping could be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("cannot read the sample {}: {source}", .file.display())]
    Unreadable {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The header, or the whole rest of the file, cannot be decoded.
    #[error("{}:{line}: {reason}", .file.display())]
    Undecodable {
        file: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}: no records to learn from: {why}", .file.display())]
    NoRecords { file: PathBuf, why: String },
    #[error(
        "unknown encoding \"{0}\"; use a WHATWG label such as \"utf-8\", \"gbk\", \"gb18030\", \
         \"big5\", \"shift_jis\", \"iso-8859-1\""
    )]
    UnknownEncoding(String),
    /// The generated text does not load or its example fails: a bug in the scaffolder.
    #[error("the scaffolded mapping does not load (please report this): {0}")]
    Generated(String),
}

/// A CSV format from command-line flags: `delimiter`, the WHATWG `encoding` label (or `detect`),
/// and whether the first line is a header. Without a header the columns are named `col1` … `colN` after the width
/// of the sample's first row (the format holds an empty column list until then).
pub fn csv_format(
    delimiter: u8,
    encoding: &str,
    header: bool,
) -> Result<FormatSpec, ScaffoldError> {
    let detect = is_detect_label(encoding);
    let encoding = match detect {
        true => encoding_rs::UTF_8,
        false => encoding_for_label(encoding).map_err(ScaffoldError::UnknownEncoding)?,
    };
    Ok(FormatSpec::Csv(CsvSpec {
        encoding,
        charset: crate::format::charset::Charset {
            detect,
            ..Default::default()
        },
        delimiter,
        quote: b'"',
        columns: match header {
            true => CsvColumns::Header,
            false => CsvColumns::Named(Vec::new()),
        },
        skip_lines: 0,
    }))
}

/// Writes the starting mapping for `request`'s sample and returns its text.
pub fn scaffold(request: &Request) -> Result<String, ScaffoldError> {
    let file = request.sample.as_path();
    let unnamed = sample::unnamed_columns(file, &request.format)?;
    let format = match &unnamed {
        Some(names) => named(&request.format, names),
        None => request.format.clone(),
    };
    let sample = sample::read(file, &format, request.max_records.max(1))?;
    let event_type = request.event_type.as_deref();
    let mut draft = draft::build(file, &sample, event_type, request.schema.as_ref(), unnamed);
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let path = mapping_path(file);
    let (body, mapping) = compile(&mut draft, &path, &today)?;
    let output = draft
        .example
        .as_ref()
        .map(|input| mapping.example_output(input));
    let text = body + &write::example(&draft, output);
    verify(&path, &text)?;
    Ok(text)
}

/// Renders and compiles the draft. Fields (and lists) the mapping refuses as written (a list path
/// that does not parse, an option that does not fit) are marked rejected and written commented out;
/// the rest is compiled again.
fn compile(
    draft: &mut Draft,
    path: &Path,
    today: &str,
) -> Result<(String, Mapping), ScaffoldError> {
    loop {
        let rendered = write::mapping(draft, today);
        let diagnostics = match Mapping::from_text(path, &rendered.text) {
            Ok(mapping) => return Ok((rendered.text, mapping)),
            Err(diagnostics) => diagnostics,
        };
        let mut progress = false;
        for d in &diagnostics.0 {
            if let Some(part) = d
                .position
                .and_then(|(line, _)| part_at(&rendered.lines, line))
            {
                progress |= reject(draft, part, &d.message);
            }
        }
        if !progress {
            return Err(generated(&diagnostics));
        }
    }
}

/// The part written on `line`.
fn part_at(lines: &[(usize, Part)], line: usize) -> Option<Part> {
    lines
        .iter()
        .find(|(at, _)| *at == line)
        .map(|(_, part)| *part)
}

/// Marks `part` rejected; false if it already was.
fn reject(draft: &mut Draft, part: Part, reason: &str) -> bool {
    let slot = match part {
        Part::Field(i) => draft.fields.get_mut(i).map(|f| &mut f.rejected),
        Part::List(l) => draft.lists.get_mut(l).map(|l| &mut l.rejected),
        Part::Item(l, i) => draft
            .lists
            .get_mut(l)
            .and_then(|l| l.fields.get_mut(i))
            .map(|f| &mut f.rejected),
    };
    match slot {
        Some(slot) if slot.is_none() => {
            *slot = Some(reason.to_string());
            true
        }
        _ => false,
    }
}

fn generated(diagnostics: &Diagnostics) -> ScaffoldError {
    ScaffoldError::Generated(diagnostics.to_string())
}

/// `spec` with its columns named.
/// `format` as it reads `file`: a CSV format without a header and without column names (the
/// `--no-header` flag) gets `col1` … `colN` after the width of the file's first row.
pub fn with_placeholder_columns(
    file: &Path,
    format: &FormatSpec,
) -> Result<FormatSpec, ScaffoldError> {
    Ok(match sample::unnamed_columns(file, format)? {
        Some(names) => named(format, &names),
        None => format.clone(),
    })
}

fn named(spec: &FormatSpec, names: &[String]) -> FormatSpec {
    match spec.csv() {
        Some(csv) => FormatSpec::Csv(CsvSpec {
            columns: CsvColumns::Named(names.to_vec()),
            ..csv.clone()
        }),
        None => spec.clone(),
    }
}

/// The path the mapping is compiled under: `<sample stem>.toml` (it names the mapping in
/// messages).
fn mapping_path(sample: &Path) -> PathBuf {
    let stem = sample.file_stem().unwrap_or_default().to_string_lossy();
    PathBuf::from(format!("{stem}.toml"))
}

/// The final text loads and its example passes.
fn verify(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let mapping = Mapping::from_text(path, text).map_err(|d| generated(&d))?;
    let problems = mapping.run_examples(None);
    match problems.is_empty() {
        true => Ok(()),
        false => Err(ScaffoldError::Generated(problems.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{Body, Origin, Record};
    use sample::Sampler;
    use serde_json::json;

    fn tree(value: serde_json::Value) -> Record {
        let origin = Origin {
            connector: "test".into(),
            file: "s.json".into(),
            line: 1,
            offset: 0,
            locator: None,
        };
        Record {
            origin,
            body: Body::Tree(value),
        }
    }

    #[test]
    fn a_tree_sample_maps_list_items_with_each() {
        let record = json!({
            "order": {"no": "A1", "date": "2024-03-01"},
            "lines": [{"sku": "S1", "qty": 2}, {"sku": "S2", "qty": 3}],
            "tags": ["x"]
        });
        let mut sampler = Sampler::default();
        sampler.add(tree(record.clone()));
        let file = Path::new("s.json");
        let mut draft = draft::build(file, &sampler.finish(file).unwrap(), None, None, None);
        let (text, mapping) = compile(&mut draft, Path::new("s.toml"), "2024-03-01").unwrap();
        assert!(text.contains("order_no   = { from = \"order.no\", type = \"string\" }"));
        assert!(text.contains("\n[fields.lines]  # one object per item\neach = \"lines\"\n"));
        assert!(text.contains("\nsku = { from = \"sku\", type = \"string\" }  # e.g. \"S1\"\n"));
        assert!(text.contains("\nqty = { from = \"qty\", type = \"integer\" }  # e.g. \"2\"\n"));
        assert!(
            text.contains("#   tags[]: a list of plain values\n"),
            "{text}"
        );
        let mapped = mapping.bind_tree().eval(&tree(record)).unwrap();
        let data: serde_json::Value = serde_json::from_slice(&mapped[0].data).unwrap();
        assert_eq!(
            data,
            json!({"order_no": "A1", "order_date": "2024-03-01",
                   "lines": [{"sku": "S1", "qty": 2}, {"sku": "S2", "qty": 3}]})
        );
        let example = write::example(&draft, None);
        assert!(example.starts_with("\n# [[examples]] cannot hold a nested record yet"));
    }
}
