//! Documents: with `[format.group]`, a header record and the line and trailer records after it
//! become one tree record — the header's fields at the top, each line type's records in a list
//! named by the type, the trailer as an object named by its type. A bad record inside a document
//! fails the whole document (one dead letter with every raw line); documents are bounded in size.

use std::collections::VecDeque;

use serde_json::{Map, Value};

use super::reader::Raw;
use super::{Context, Place, object};
use crate::format::DecodeError;
use crate::format::record::{Body, Record};

/// Largest document kept, in raw bytes: past it the document is reported, not held.
const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// `[format.group]`, checked: layouts by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub header: usize,
    pub lines: Vec<usize>,
    pub trailer: Option<usize>,
    /// The trailer field that holds the number of line records, checked against the document.
    pub trailer_count: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Header,
    Line,
    Trailer,
    /// A record type outside the group: a record of its own.
    Other,
}

type Pending = VecDeque<Result<Record, DecodeError>>;

/// Collects the records of the open document.
pub struct Grouper {
    spec: GroupSpec,
    open: Option<Document>,
}

impl Grouper {
    pub fn new(spec: GroupSpec) -> Self {
        Self { spec, open: None }
    }

    fn role(&self, layout: usize) -> Role {
        if layout == self.spec.header {
            Role::Header
        } else if self.spec.lines.contains(&layout) {
            Role::Line
        } else if self.spec.trailer == Some(layout) {
            Role::Trailer
        } else {
            Role::Other
        }
    }

    /// Takes one framed record: opens, extends or closes a document, or queues a record of its
    /// own.
    pub fn record(&mut self, context: &Context, raw: &Raw<'_>, pending: &mut Pending) {
        let (layout, read) = match context.classify(raw) {
            Ok(None) => return,
            Ok(Some(layout)) => (Some(layout), context.fields(layout, raw)),
            Err(reason) => (context.layout_of(raw.bytes).ok().flatten(), Err(reason)),
        };
        let read = read.map(|values| match layout {
            Some(index) => object(&context.spec.layouts[index], values),
            None => Map::new(),
        });
        let Some(layout) = layout else {
            return match &mut self.open {
                Some(document) => document.fail(context, raw, read.err().unwrap_or_default()),
                None => pending.push_back(standalone(context, raw, None, read)),
            };
        };
        let kind = type_name(context, layout);
        match (self.role(layout), &mut self.open) {
            (Role::Header, _) => {
                let next = format!("the next \"{kind}\" record starts at {}", at(context, raw));
                self.close(context, pending, &next);
                self.open = Some(Document::open(context, &self.spec, raw, read));
            }
            (Role::Line, Some(document)) => document.line(context, raw, kind, read),
            (Role::Trailer, Some(document)) => {
                document.trailer(context, &self.spec, raw, kind, read);
                self.close(context, pending, "");
            }
            (Role::Line | Role::Trailer, None) => {
                let header = type_name(context, self.spec.header);
                let reason = format!(
                    "\"{kind}\" record outside a document: no \"{header}\" header record opens \
                     one before it"
                );
                pending.push_back(standalone(context, raw, Some(layout), Err(reason)));
            }
            (Role::Other, _) => {
                let next = format!("a \"{kind}\" record follows at {}", at(context, raw));
                self.close(context, pending, &next);
                pending.push_back(standalone(context, raw, Some(layout), read));
            }
        }
    }

    /// Closes the document still open at the end of the file.
    pub fn finish(&mut self, context: &Context, pending: &mut Pending) {
        let end = match &self.open {
            Some(document) => format!(
                "the file ends after {} {}",
                context.unit(),
                document.last_line
            ),
            None => return,
        };
        self.close(context, pending, &end);
    }

    /// Queues the open document, if any; `next` says what ended it, for a missing trailer.
    fn close(&mut self, context: &Context, pending: &mut Pending, next: &str) {
        if let Some(document) = self.open.take() {
            pending.push_back(document.into_record(context, &self.spec, next));
        }
    }
}

/// The record type of a layout, as written in the spec.
fn type_name(context: &Context, layout: usize) -> &str {
    context.spec.layouts[layout]
        .record_type
        .as_deref()
        .unwrap_or_default()
}

/// `line 9`, or `record 9` with fixed-length records.
fn at(context: &Context, raw: &Raw<'_>) -> String {
    format!("{} {}", context.unit(), raw.line)
}

/// A record outside any document: a tree of its own, or its error.
fn standalone(
    context: &Context,
    raw: &Raw<'_>,
    layout: Option<usize>,
    read: Result<Map<String, Value>, String>,
) -> Result<Record, DecodeError> {
    let place = context.place(raw, layout);
    match read {
        Ok(tree) => Ok(Record {
            origin: context.origin(place),
            body: Body::Tree(Value::Object(tree)),
        }),
        Err(reason) => Err(context.error(place, raw.bytes.to_vec(), reason)),
    }
}

/// The document being collected.
struct Document {
    line: u64,
    offset: u64,
    last_line: u64,
    header: String,
    tree: Map<String, Value>,
    /// The raw records, one per line.
    raw: Vec<u8>,
    lines: u64,
    has_trailer: bool,
    /// The first problem, and how many more there were.
    failure: Option<String>,
    more_failures: usize,
    /// Past [`MAX_DOCUMENT_BYTES`]: nothing more is kept.
    full: bool,
}

impl Document {
    fn open(
        context: &Context,
        spec: &GroupSpec,
        raw: &Raw<'_>,
        read: Result<Map<String, Value>, String>,
    ) -> Self {
        let mut document = Self {
            line: raw.line,
            offset: raw.offset,
            last_line: raw.line,
            header: type_name(context, spec.header).to_string(),
            tree: Map::new(),
            raw: Vec::new(),
            lines: 0,
            has_trailer: false,
            failure: None,
            more_failures: 0,
            full: false,
        };
        for &line in &spec.lines {
            let key = type_name(context, line).to_string();
            document.tree.insert(key, Value::Array(Vec::new()));
        }
        match read {
            Ok(fields) => {
                document.keep(context, raw);
                document.tree.extend(fields);
            }
            Err(reason) => document.fail(context, raw, reason),
        }
        document
    }

    /// Keeps the raw bytes of a record; false once the document is too big.
    fn keep(&mut self, context: &Context, raw: &Raw<'_>) -> bool {
        self.last_line = raw.line;
        if self.full {
            return false;
        }
        if self.raw.len() + raw.bytes.len() + 1 > MAX_DOCUMENT_BYTES {
            self.full = true;
            let reason = format!(
                "the document is larger than {} MiB: is its trailer or the next header missing?",
                MAX_DOCUMENT_BYTES >> 20
            );
            self.note(context, raw, reason);
            return false;
        }
        if !self.raw.is_empty() {
            self.raw.push(b'\n');
        }
        self.raw.extend_from_slice(raw.bytes);
        true
    }

    /// Records a problem with one of the document's records; the document fails.
    fn fail(&mut self, context: &Context, raw: &Raw<'_>, reason: String) {
        self.keep(context, raw);
        self.note(context, raw, reason);
    }

    fn note(&mut self, context: &Context, raw: &Raw<'_>, reason: String) {
        match self.failure {
            Some(_) => self.more_failures += 1,
            None => self.failure = Some(format!("{}: {reason}", at(context, raw))),
        }
    }

    fn line(
        &mut self,
        context: &Context,
        raw: &Raw<'_>,
        kind: &str,
        read: Result<Map<String, Value>, String>,
    ) {
        self.lines += 1;
        let fields = match read {
            Ok(fields) => fields,
            Err(reason) => return self.fail(context, raw, reason),
        };
        if !self.keep(context, raw) {
            return;
        }
        if let Some(Value::Array(items)) = self.tree.get_mut(kind) {
            items.push(Value::Object(fields));
        }
    }

    fn trailer(
        &mut self,
        context: &Context,
        spec: &GroupSpec,
        raw: &Raw<'_>,
        kind: &str,
        read: Result<Map<String, Value>, String>,
    ) {
        self.has_trailer = true;
        let fields = match read {
            Ok(fields) => fields,
            Err(reason) => return self.fail(context, raw, reason),
        };
        if let Some(reason) = spec
            .trailer_count
            .and_then(|field| self.count_mismatch(context, spec, field, &fields))
        {
            self.fail(context, raw, reason);
        } else if self.keep(context, raw) {
            self.tree.insert(kind.to_string(), Value::Object(fields));
        }
    }

    /// Why the trailer's line count disagrees with the document, if it does.
    fn count_mismatch(
        &self,
        context: &Context,
        spec: &GroupSpec,
        field: usize,
        fields: &Map<String, Value>,
    ) -> Option<String> {
        let trailer = spec.trailer?;
        let name = &context.spec.layouts[trailer].fields[field].name;
        let text = fields.get(name).and_then(Value::as_str).unwrap_or_default();
        let count = text.trim().parse::<u64>().ok();
        match count {
            Some(count) if count == self.lines => None,
            Some(count) => Some(format!(
                "the trailer's field \"{name}\" counts {count} line records, the document has {}",
                self.lines
            )),
            None => Some(format!(
                "the trailer's field \"{name}\" should count the document's line records, but \
                 holds \"{text}\""
            )),
        }
    }

    fn into_record(
        self,
        context: &Context,
        spec: &GroupSpec,
        next: &str,
    ) -> Result<Record, DecodeError> {
        let unit = context.unit();
        let place = Place {
            line: self.line,
            offset: self.offset,
            locator: Some(
                format!(
                    "document \"{}\", {unit}s {}-{}",
                    self.header, self.line, self.last_line
                )
                .into(),
            ),
        };
        let trailer = spec.trailer.map(|t| type_name(context, t));
        let reason = match (self.failure, trailer) {
            (Some(first), _) if self.more_failures == 1 => format!("{first} (and 1 more problem)"),
            (Some(first), _) if self.more_failures > 1 => {
                format!("{first} (and {} more problems)", self.more_failures)
            }
            (Some(first), _) => first,
            (None, Some(trailer)) if !self.has_trailer => {
                format!("the document has no \"{trailer}\" trailer record: {next}")
            }
            (None, _) => {
                return Ok(Record {
                    origin: context.origin(place),
                    body: Body::Tree(Value::Object(self.tree)),
                });
            }
        };
        Err(context.error(place, self.raw, reason))
    }
}
