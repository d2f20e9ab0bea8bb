//! The fixed-width decoder (`[format] type = "fixed_width"`): legacy flat files whose records are
//! laid out by byte position, one record type or several told apart by a discriminator, with
//! implied decimals and signed numbers.
//!
//! Records are framed first ([`reader`]: lines, or `record_length` bytes without separators), a
//! layout is picked by the discriminator's bytes, then each field is sliced by byte position and
//! only then decoded from the file's charset ([`layout`]): legacy layouts count bytes, and a
//! GBK character cut by a field boundary is a record error naming the field. Without
//! `[format.group]` each record is a flat row; with it, a header record and the line and trailer
//! records after it make one tree ([`group`]), so one event carries a whole document.

mod group;
mod layout;
mod number;
mod reader;
mod spec;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use encoding_rs::Encoding;
use serde_json::{Map, Value};

use super::DecodeError;
use super::charset::Charset;
use super::record::{Columns, Origin, Record, RecordError};
use group::{GroupSpec, Grouper};
use layout::Layout;
use reader::{Bom, Framing, MAX_LINE_BYTES, Raw, RecordReader};

pub use spec::parse_spec;

/// The column (flat rows) or member (trees) holding a record's type, when there is a
/// discriminator.
pub const RECORD_TYPE: &str = "record_type";

/// `[format]` for this decoder, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedWidthSpec {
    encoding: &'static Encoding,
    charset: Charset,
    framing: Framing,
    /// Lines (records) dropped at the start of the file.
    skip_lines: u64,
    /// 0-based byte position and length of the record type.
    discriminator: Option<(usize, usize)>,
    layouts: Vec<Layout>,
    /// Records whose type no layout declares are skipped rather than reported.
    skip_unknown: bool,
    /// Records shorter than their layout read as padded with blanks.
    pad_short: bool,
    group: Option<GroupSpec>,
}

impl FixedWidthSpec {
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The same layouts without `skip_lines`: for a dead letter's raw bytes, which hold no
    /// leading lines.
    pub fn without_skipped_lines(&self) -> Self {
        Self {
            skip_lines: 0,
            ..self.clone()
        }
    }

    /// The same layouts read in `encoding` (the guess of `encoding = "detect"`).
    pub fn with_encoding(&self, encoding: &'static Encoding) -> Self {
        Self {
            encoding,
            ..self.clone()
        }
    }
}

/// The records of one input.
pub fn decoder<'a, R: Read + Send + 'a>(
    spec: &FixedWidthSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send + 'a {
    FixedWidthDecoder::new(spec, reader, connector, file)
}

/// Where a record sits, for its [`Origin`].
struct Place {
    line: u64,
    offset: u64,
    locator: Option<Arc<str>>,
}

/// What the decoder knows about one file, shared by the flat and grouped shapes.
struct Context {
    spec: FixedWidthSpec,
    /// The declared encoding, or UTF-8 after a UTF-8 byte-order mark.
    encoding: &'static Encoding,
    connector: Arc<str>,
    file: Arc<str>,
    /// `record "H"` per layout, shared by every record of that type.
    locators: Vec<Option<Arc<str>>>,
}

impl Context {
    fn origin(&self, place: Place) -> Origin {
        Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: place.line,
            offset: place.offset,
            locator: place.locator,
        }
    }

    fn error(&self, place: Place, raw: Vec<u8>, reason: String) -> DecodeError {
        DecodeError::Record(RecordError {
            origin: self.origin(place),
            raw,
            reason,
            columns: None,
        })
    }

    /// "line", or "record" when records have a fixed length.
    fn unit(&self) -> &'static str {
        match self.spec.framing {
            Framing::Lines => "line",
            Framing::Fixed(_) => "record",
        }
    }

    /// What to do with one framed record: skip it, read it with a layout, or report it.
    fn classify(&self, raw: &Raw<'_>) -> Result<Option<usize>, String> {
        if raw.line <= self.spec.skip_lines {
            return Ok(None);
        }
        if raw.overlong {
            return Err(format!(
                "line is longer than {MAX_LINE_BYTES} bytes: is the file without line breaks \
                 (then set record_length under [format])?"
            ));
        }
        if raw.is_blank() {
            return Ok(None);
        }
        if raw.truncated {
            let expected = match self.spec.framing {
                Framing::Fixed(length) => length,
                Framing::Lines => raw.bytes.len(),
            };
            return Err(format!(
                "the file ends inside this record: it has {} of its {expected} bytes (a \
                 truncated file?)",
                raw.bytes.len()
            ));
        }
        let Some(layout) = self.layout_of(raw.bytes)? else {
            return Ok(None);
        };
        let pad = self.spec.pad_short;
        self.spec.layouts[layout].check_length(raw.bytes, pad, self.unit())?;
        Ok(Some(layout))
    }

    /// The layout the discriminator picks; `None` for an unknown type that is skipped.
    fn layout_of(&self, bytes: &[u8]) -> Result<Option<usize>, String> {
        let Some((start, len)) = self.spec.discriminator else {
            return Ok(Some(0));
        };
        let end = (start + len).min(bytes.len());
        let tag = bytes.get(start..end).unwrap_or_default();
        let tag = trim_spaces(tag);
        if let Some(found) = self.spec.layouts.iter().position(|l| l.tag == tag) {
            return Ok(Some(found));
        }
        if self.spec.skip_unknown {
            return Ok(None);
        }
        let known: Vec<String> = self
            .spec
            .layouts
            .iter()
            .filter_map(|l| l.record_type.as_ref().map(|t| format!("\"{t}\"")))
            .collect();
        Err(format!(
            "unknown record type \"{}\" at bytes {}-{}; the layouts are for {} (set \
             unknown_records = \"skip\" under [format] to ignore other types)",
            String::from_utf8_lossy(tag),
            start + 1,
            start + len,
            known.join(", ")
        ))
    }

    /// The decoded fields of a record read with `layout`, in layout order.
    fn fields<'r>(&self, layout: usize, raw: &Raw<'r>) -> Result<Vec<Cow<'r, str>>, String> {
        let charset = (self.encoding, self.spec.charset.invalid);
        let mut replaced = None;
        let fields = self.spec.layouts[layout]
            .fields
            .iter()
            .map(|field| field.read(raw.bytes, charset, raw.offset, &mut replaced))
            .collect();
        if let Some(what) = replaced {
            tracing::warn!(
                connector = %self.connector,
                file = %self.file,
                line = raw.line,
                "{what}: replaced by U+FFFD (invalid_bytes = \"replace\")"
            );
        }
        fields
    }

    fn place(&self, raw: &Raw<'_>, layout: Option<usize>) -> Place {
        Place {
            line: raw.line,
            offset: raw.offset,
            locator: layout.and_then(|l| self.locators[l].clone()),
        }
    }
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Flat rows: one column set for the whole file (the union of every layout's field names, after
/// `record_type` when there is a discriminator), so a mapping binds once per file.
struct Flat {
    columns: Arc<Columns>,
    /// Per layout: for each column, the index of the layout's field that fills it.
    slots: Vec<Vec<Option<usize>>>,
}

impl Flat {
    fn new(spec: &FixedWidthSpec) -> Self {
        let mut names: Vec<String> = Vec::new();
        if spec.discriminator.is_some() {
            names.push(RECORD_TYPE.to_string());
        }
        for field in spec.layouts.iter().flat_map(|l| &l.fields) {
            if !names.contains(&field.name) {
                names.push(field.name.clone());
            }
        }
        let slots = spec
            .layouts
            .iter()
            .map(|layout| {
                names
                    .iter()
                    .map(|name| layout.fields.iter().position(|f| &f.name == name))
                    .collect()
            })
            .collect();
        Self {
            columns: Arc::new(Columns::new(names, b'|')),
            slots,
        }
    }

    fn row(&self, layout: &Layout, index: usize, values: &[Cow<'_, str>]) -> csv::StringRecord {
        let kind = layout.record_type.as_deref().unwrap_or_default();
        let mut row = csv::StringRecord::with_capacity(
            values.iter().map(|v| v.len()).sum::<usize>() + kind.len(),
            self.columns.len(),
        );
        for (column, slot) in self.columns.names().iter().zip(&self.slots[index]) {
            match slot {
                Some(field) => row.push_field(&values[*field]),
                None if column == RECORD_TYPE => row.push_field(kind),
                None => row.push_field(""),
            }
        }
        row
    }
}

enum Shape {
    Flat(Flat),
    Grouped(Grouper),
}

/// Streams the records of one fixed-width file.
struct FixedWidthDecoder<R> {
    context: Context,
    input: RecordReader<R>,
    shape: Shape,
    pending: VecDeque<Result<Record, DecodeError>>,
    started: bool,
    done: bool,
}

impl<R: Read> FixedWidthDecoder<R> {
    fn new(spec: &FixedWidthSpec, reader: R, connector: Arc<str>, file: Arc<str>) -> Self {
        let shape = match &spec.group {
            Some(group) => Shape::Grouped(Grouper::new(group.clone())),
            None => Shape::Flat(Flat::new(spec)),
        };
        let locators = spec
            .layouts
            .iter()
            .map(|l| {
                l.record_type
                    .as_ref()
                    .map(|t| Arc::from(format!("record {t}")))
            })
            .collect();
        Self {
            context: Context {
                encoding: spec.encoding,
                spec: spec.clone(),
                connector,
                file,
                locators,
            },
            input: RecordReader::new(reader, spec.framing),
            shape,
            pending: VecDeque::new(),
            started: false,
            done: false,
        }
    }

    /// Reads one framed record (or the end of the file) and queues what it yields.
    fn step(&mut self) {
        if !self.started {
            self.started = true;
            self.start();
            return;
        }
        let Self {
            context,
            input,
            shape,
            pending,
            done,
            ..
        } = self;
        match input.next_raw() {
            Err(error) => {
                pending.push_back(Err(DecodeError::Io(error)));
                *done = true;
            }
            Ok(None) => {
                if let Shape::Grouped(grouper) = shape {
                    grouper.finish(context, pending);
                }
                *done = true;
            }
            Ok(Some(raw)) => match shape {
                Shape::Flat(flat) => flat_record(context, flat, &raw, pending),
                Shape::Grouped(grouper) => grouper.record(context, &raw, pending),
            },
        }
    }

    /// Honours a byte-order mark.
    fn start(&mut self) {
        match self.input.bom() {
            Err(error) => {
                self.pending.push_back(Err(DecodeError::Io(error)));
                self.done = true;
            }
            Ok(Bom::Absent) => {}
            Ok(Bom::Utf8) => self.context.encoding = encoding_rs::UTF_8,
            Ok(Bom::Utf16(name)) => {
                let reason = format!(
                    "the file starts with a {name} byte-order mark: fixed-width layouts count \
                     bytes of an ASCII-compatible encoding (UTF-8, GBK, GB18030, Big5, \
                     Shift_JIS, single-byte code pages); convert the file first"
                );
                self.pending
                    .push_back(Err(DecodeError::Input { line: 1, reason }));
                self.done = true;
            }
        }
    }
}

/// Queues one flat record, or its error.
fn flat_record(
    context: &Context,
    flat: &Flat,
    raw: &Raw<'_>,
    pending: &mut VecDeque<Result<Record, DecodeError>>,
) {
    let read = context.classify(raw).and_then(|layout| match layout {
        Some(index) => context
            .fields(index, raw)
            .map(|values| Some((index, values))),
        None => Ok(None),
    });
    match read {
        Ok(None) => {}
        Ok(Some((index, values))) => {
            let row = flat.row(&context.spec.layouts[index], index, &values);
            let origin = context.origin(context.place(raw, Some(index)));
            pending.push_back(Ok(Record::row(origin, Arc::clone(&flat.columns), row)));
        }
        Err(reason) => {
            let layout = context.layout_of(raw.bytes).ok().flatten();
            let error = context.error(context.place(raw, layout), raw.bytes.to_vec(), reason);
            pending.push_back(Err(error));
        }
    }
}

/// A record's fields as a JSON object (with `record_type` when there is a discriminator).
fn object(layout: &Layout, values: Vec<Cow<'_, str>>) -> Map<String, Value> {
    let mut object = Map::new();
    if let Some(kind) = &layout.record_type {
        object.insert(RECORD_TYPE.to_string(), Value::from(kind.as_str()));
    }
    for (field, value) in layout.fields.iter().zip(values) {
        object.insert(field.name.clone(), Value::String(value.into_owned()));
    }
    object
}

impl<R: Read> Iterator for FixedWidthDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            self.step();
        }
    }
}
