//! The streaming walk over one XML input: quick-xml events → records.
//!
//! Outside records only a stack of match masks is kept (which of the record and context paths the
//! open elements are still on). The element at the end of the record path is built into a tree
//! ([`TreeBuilder`]) and yielded as one record; an element at the end of a context path is built
//! the same way and kept until its parent closes, to be merged into every record in between. A
//! record or context element over `max_record_bytes` is skipped to its end tag (a record error);
//! malformed XML ends the input after the records before it.

use std::io::{self, Read};
use std::mem;
use std::sync::Arc;

use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::{Namespace, NamespaceResolver, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use serde_json::{Map, Value};

use super::XmlSpec;
use super::input::{Tracked, sniff};
use super::path::Namespaces;
use super::tree::{TEXT_KEY, TreeBuilder, append};
use crate::format::DecodeError;
use crate::format::charset::Malformation;
use crate::format::charset::{DecodingReader, Prefixed};
use crate::format::record::{Body, Origin, Record, RecordError};

/// Deepest element nesting accepted (deeper input is refused as hostile).
const MAX_DEPTH: usize = 256;
/// How much of an oversized record is kept as its dead letter's raw copy.
const RAW_OF_OVERSIZED: usize = 64 << 10;

/// Streams the records of one XML input: `Iterator<Item = Result<Record, DecodeError>>`.
///
/// Fatal errors ([`DecodeError::is_fatal`]) end the iterator.
pub struct XmlDecoder<R> {
    state: State<R>,
}

enum State<R> {
    Fresh(R, Box<Walk>),
    Running(Box<Parser<R>>),
    Done,
}

impl<R: Read> XmlDecoder<R> {
    /// Decodes `reader`, the file `file` of connector `connector`, as `spec` says.
    pub fn new(spec: XmlSpec, reader: R, connector: Arc<str>, file: Arc<str>) -> Self {
        Self {
            state: State::Fresh(reader, Box::new(Walk::new(spec, connector, file))),
        }
    }

    /// Picks the encoding and sets up the parser; an error if it cannot.
    fn start(&mut self) -> Option<DecodeError> {
        let State::Fresh(reader, walk) = mem::replace(&mut self.state, State::Done) else {
            return None;
        };
        let spec = &walk.spec;
        let (input, encoding) = match sniff(reader, spec.encoding, spec.charset.detect) {
            Ok(sniffed) => sniffed,
            Err(e) => return Some(DecodeError::Io(e)),
        };
        let encoding = match encoding {
            Ok(encoding) => encoding,
            Err(reason) => return Some(DecodeError::Input { line: 1, reason }),
        };
        let input = DecodingReader::new(input, encoding).with_invalid_bytes(
            walk.spec.charset.invalid,
            &walk.connector,
            &walk.file,
        );
        let tracked = Tracked::new(input, walk.spec.max_record_bytes);
        self.state = State::Running(Box::new(Parser {
            xml: NsReader::from_reader(tracked),
            buf: Vec::new(),
            walk: *walk,
        }));
        None
    }
}

impl<R: Read> Iterator for XmlDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let State::Fresh(..) = self.state
            && let Some(error) = self.start()
        {
            return Some(Err(error));
        }
        let State::Running(parser) = &mut self.state else {
            return None;
        };
        let item = parser.next_item();
        if !matches!(item, Some(Ok(_)) | Some(Err(DecodeError::Record(_)))) {
            self.state = State::Done;
        }
        item
    }
}

/// The parser and the walk's state.
struct Parser<R> {
    xml: NsReader<Tracked<Prefixed<R>>>,
    buf: Vec<u8>,
    walk: Walk,
}

/// What one event leads to.
enum Action {
    Continue,
    /// A record or context element has been read to its end tag.
    Captured,
    /// The input is over.
    End,
    Fail(DecodeError),
}

impl<R: Read> Parser<R> {
    fn next_item(&mut self) -> Option<Result<Record, DecodeError>> {
        loop {
            self.before_event();
            match self.read_event() {
                Action::Continue => {}
                Action::Captured => {
                    if let Some(item) = self.finish_capture() {
                        return Some(item);
                    }
                }
                Action::End => return None,
                Action::Fail(error) => return Some(Err(error)),
            }
        }
    }

    /// Outside records and contexts: notes where the next event starts, and drops the invalid
    /// bytes met so far (they were in no record).
    fn before_event(&mut self) {
        let tracked = self.xml.get_mut();
        tracked.begin_step();
        if self.walk.capture.is_some() {
            return;
        }
        tracked.restart_capture();
        let decoded = tracked.consumed();
        self.walk.mark = Mark {
            decoded,
            line: tracked.line(),
            source: tracked.source_offset(decoded),
        };
        tracked.decoding().take_malformations().for_each(drop);
    }

    fn read_event(&mut self) -> Action {
        let Parser { xml, buf, walk } = self;
        buf.clear();
        let action = match xml.read_event_into(buf) {
            Ok(event) => walk.event(event, xml.resolver()),
            Err(error) => return Action::Fail(self.malformed(error)),
        };
        let consumed = self.xml.get_ref().consumed();
        self.walk.check_size(consumed);
        action
    }

    /// The fatal error for a quick-xml error, with line, byte offset and record.
    fn malformed(&mut self, error: quick_xml::Error) -> DecodeError {
        let max = self.walk.spec.max_record_bytes;
        let tracked = self.xml.get_ref();
        if tracked.over_limit() {
            let line = tracked.step_line();
            let reason = format!(
                "a single tag, text, comment or CDATA section starting here is longer than \
                 max_record_bytes ({max} bytes): is a comment, CDATA section or quote left \
                 open? Nothing after it can be read"
            );
            return DecodeError::Oversized { line, reason };
        }
        if let quick_xml::Error::Io(e) = &error {
            return DecodeError::Io(io::Error::new(e.kind(), e.to_string()));
        }
        let at = self.xml.error_position();
        let tracked = self.xml.get_mut();
        let line = tracked.line_at(at);
        let offset = tracked.source_offset(at);
        let inside = self.walk.inside();
        DecodeError::Input {
            line,
            reason: format!("malformed XML at byte offset {offset}{inside}: {error}"),
        }
    }

    /// Takes the element just read: a record (or its error), or a context value kept for later.
    fn finish_capture(&mut self) -> Option<Result<Record, DecodeError>> {
        let capture = self.walk.capture.take()?;
        let tracked = self.xml.get_mut();
        let malformation = describe(tracked.decoding().take_malformations());
        let size = tracked.consumed() - capture.start;
        match capture.target {
            Target::Record(ref origin) => {
                let origin = origin.clone();
                let raw = tracked.capture();
                Some(self.walk.record(origin, capture, malformation, raw))
            }
            Target::Context(index) => {
                self.walk.keep_context(index, capture, malformation, size);
                None
            }
        }
    }
}

/// Where the event being read starts.
#[derive(Debug, Default, Clone, Copy)]
struct Mark {
    /// Offset in the decoded text.
    decoded: u64,
    line: u64,
    /// Byte offset in the source.
    source: u64,
}

/// A record or context element being read.
struct Capture {
    target: Target,
    tree: TreeBuilder,
    /// Elements open inside it, itself included.
    depth: usize,
    /// Decoded offset and line of its start tag.
    start: u64,
    line: u64,
    problem: Option<String>,
    /// Past the size limit: read to its end without building.
    oversized: bool,
    done: Option<(String, Value)>,
}

enum Target {
    Record(Origin),
    Context(usize),
}

/// The values of one context path in the current scope.
#[derive(Default)]
struct ContextSlot {
    value: Option<(String, Value)>,
    bytes: u64,
    problem: Option<String>,
}

/// The walk over the element tree.
struct Walk {
    spec: XmlSpec,
    connector: Arc<str>,
    file: Arc<str>,
    /// Match masks of the open elements outside any capture: bit 0 for the record path, bit
    /// 1 + j for context path j.
    open: Vec<u64>,
    /// At each level of the record path, the 1-based index of the current element among its
    /// siblings on the path.
    counts: Vec<u32>,
    contexts: Vec<ContextSlot>,
    capture: Option<Capture>,
    mark: Mark,
}

impl Walk {
    fn new(spec: XmlSpec, connector: Arc<str>, file: Arc<str>) -> Self {
        Self {
            counts: vec![0; spec.record.steps().len()],
            contexts: spec
                .context
                .iter()
                .map(|_| ContextSlot::default())
                .collect(),
            spec,
            connector,
            file,
            open: Vec::new(),
            capture: None,
            mark: Mark::default(),
        }
    }

    fn event(&mut self, event: Event<'_>, resolver: &NamespaceResolver) -> Action {
        match event {
            Event::Start(e) => self.start(&e, resolver, false),
            Event::Empty(e) => self.start(&e, resolver, true),
            Event::End(_) => self.end(),
            Event::Text(text) => self.text(&text),
            Event::CData(data) => {
                if let Some(capture) = self.building() {
                    capture.tree.text(&data.xml10_content());
                }
                Action::Continue
            }
            Event::GeneralRef(reference) => self.reference(&reference),
            Event::DocType(doctype) => self.doctype(&doctype),
            Event::Eof => self.eof(),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => Action::Continue,
        }
    }

    /// The capture being built, unless it is skipped for its size.
    fn building(&mut self) -> Option<&mut Capture> {
        self.capture.as_mut().filter(|c| !c.oversized)
    }

    fn start(&mut self, e: &BytesStart<'_>, resolver: &NamespaceResolver, empty: bool) -> Action {
        let depth = self.open.len() + self.capture.as_ref().map_or(0, |c| c.depth);
        if depth >= MAX_DEPTH {
            return self.fail(format!(
                "elements are nested more than {MAX_DEPTH} deep; this is not a business document"
            ));
        }
        match &mut self.capture {
            Some(capture) => {
                capture.depth += 1;
                if !capture.oversized {
                    let problem =
                        open_element(&mut capture.tree, e, resolver, &self.spec.namespaces);
                    capture.problem = capture.problem.take().or(problem);
                }
            }
            None => {
                if let Some(error) = self.outside_start(e, resolver) {
                    return Action::Fail(error);
                }
            }
        }
        if empty { self.end() } else { Action::Continue }
    }

    /// A start tag outside records and contexts; may begin one. An error if the root element
    /// is not where the record path starts.
    fn outside_start(
        &mut self,
        e: &BytesStart<'_>,
        resolver: &NamespaceResolver,
    ) -> Option<DecodeError> {
        let depth = self.open.len();
        let (namespace, local) = resolver.resolve_element(e.name());
        let parent = self
            .open
            .last()
            .copied()
            .unwrap_or((1 << (1 + self.contexts.len())) - 1);
        let mask = self.matching(parent, depth, bound(&namespace), local.as_ref());
        if depth == 0 && mask & 1 == 0 {
            return Some(self.error(format!(
                "the root element is <{}>, but record = \"{}\" starts at <{}>",
                e.name().as_ref(),
                self.spec.record.text(),
                self.spec.record.steps().first().map_or("", |s| s.name()),
            )));
        }
        if mask & 1 != 0 {
            self.counts[depth] += 1;
            self.counts[depth + 1..].fill(0);
            if depth + 1 == self.counts.len() {
                let origin = self.origin();
                self.begin(Target::Record(origin), e, resolver);
                return None;
            }
        }
        let context = self
            .spec
            .context
            .iter()
            .enumerate()
            .position(|(j, path)| mask & (2 << j) != 0 && path.steps().len() == depth + 1);
        match context {
            Some(j) => self.begin(Target::Context(j), e, resolver),
            None => self.open.push(mask),
        }
        None
    }

    /// Which of the paths in `parent` go on to this element at `depth`.
    fn matching(&self, parent: u64, depth: usize, namespace: Option<&str>, local: &str) -> u64 {
        let paths = std::iter::once(&self.spec.record).chain(&self.spec.context);
        paths
            .enumerate()
            .filter(|(i, path)| {
                parent & (1 << i) != 0
                    && path
                        .steps()
                        .get(depth)
                        .is_some_and(|step| step.matches(namespace, local))
            })
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }

    fn begin(&mut self, target: Target, e: &BytesStart<'_>, resolver: &NamespaceResolver) {
        let mut tree = TreeBuilder::default();
        let problem = open_element(&mut tree, e, resolver, &self.spec.namespaces);
        self.capture = Some(Capture {
            target,
            tree,
            depth: 1,
            start: self.mark.decoded,
            line: self.mark.line,
            problem,
            oversized: false,
            done: None,
        });
    }

    fn end(&mut self) -> Action {
        if let Some(capture) = &mut self.capture {
            capture.depth = capture.depth.saturating_sub(1);
            if !capture.oversized
                && let Some(done) = capture.tree.close()
            {
                capture.done = Some(done);
            }
            return match capture.depth {
                0 => Action::Captured,
                _ => Action::Continue,
            };
        }
        let Some(mask) = self.open.pop() else {
            return Action::Continue;
        };
        // The element at this depth closed: context values found inside it go out of scope.
        let depth = self.open.len();
        for (j, path) in self.spec.context.iter().enumerate() {
            if mask & (2 << j) != 0 && path.steps().len() == depth + 2 {
                self.contexts[j] = ContextSlot::default();
            }
        }
        Action::Continue
    }

    fn text(&mut self, text: &BytesText<'_>) -> Action {
        if let Some(capture) = self.building() {
            capture.tree.text(&text.xml10_content());
        }
        Action::Continue
    }

    /// `&amp;` and the other predefined entities, and character references; any other entity
    /// is undefined (DOCTYPE entity declarations are refused).
    fn reference(&mut self, reference: &BytesRef<'_>) -> Action {
        let Some(capture) = self.building() else {
            return Action::Continue;
        };
        let name: &str = reference;
        match reference.resolve_char_ref() {
            Ok(Some(c)) => capture.tree.text(c.encode_utf8(&mut [0; 4])),
            Ok(None) => match quick_xml::escape::resolve_predefined_entity(name) {
                Some(text) => capture.tree.text(text),
                None => {
                    capture.problem.get_or_insert_with(|| {
                        format!(
                            "undefined entity &{name}; (only &lt; &gt; &amp; &quot; &apos; and \
                             character references such as &#233; are known)"
                        )
                    });
                }
            },
            Err(e) => {
                capture
                    .problem
                    .get_or_insert_with(|| format!("invalid character reference &{name};: {e}"));
            }
        }
        Action::Continue
    }

    fn doctype(&mut self, doctype: &BytesText<'_>) -> Action {
        let text: &str = doctype;
        if !text.contains("<!ENTITY") {
            return Action::Continue;
        }
        self.fail(
            "the DOCTYPE declares entities; documents with entity declarations are refused \
             (entities are never expanded and external DTDs never fetched): have the sender \
             leave the DOCTYPE out"
                .into(),
        )
    }

    fn eof(&mut self) -> Action {
        if let Some(capture) = &self.capture {
            let what = match &capture.target {
                Target::Record(origin) => format!(
                    "record {} (byte offset {})",
                    origin.locator.as_deref().unwrap_or(""),
                    origin.offset
                ),
                Target::Context(j) => format!("context element {}", self.spec.context[*j].text()),
            };
            return Action::Fail(DecodeError::Input {
                line: capture.line,
                reason: format!(
                    "the file ends inside {what} that starts here: the file is truncated"
                ),
            });
        }
        if !self.open.is_empty() {
            return self.fail(format!(
                "the file ends with {} element(s) still open: the file is truncated",
                self.open.len()
            ));
        }
        Action::End
    }

    /// After each event: a capture grown past the limit is dropped and skipped to its end.
    fn check_size(&mut self, consumed: u64) {
        let max = self.spec.max_record_bytes;
        let Some(capture) = self.building() else {
            return;
        };
        if consumed - capture.start <= max as u64 {
            return;
        }
        capture.oversized = true;
        capture.tree.clear();
        capture.problem = Some(format!(
            "the element is larger than max_record_bytes ({max} bytes); it was skipped to its \
             end tag"
        ));
    }

    /// The record just read, or its error.
    fn record(
        &self,
        origin: Origin,
        capture: Capture,
        malformation: Option<String>,
        raw: &[u8],
    ) -> Result<Record, DecodeError> {
        let problem = capture
            .problem
            .or(malformation)
            .or_else(|| self.contexts.iter().find_map(|c| c.problem.clone()));
        if let Some(reason) = problem {
            let keep = match capture.oversized {
                true => raw.len().min(RAW_OF_OVERSIZED),
                false => raw.len(),
            };
            return Err(DecodeError::Record(RecordError {
                origin,
                raw: raw[..keep].to_vec(),
                reason,
                columns: None,
            }));
        }
        let mut map = match capture.done {
            Some((_, Value::Object(map))) => map,
            Some((_, Value::String(text))) if !text.is_empty() => {
                Map::from_iter([(TEXT_KEY.to_string(), Value::String(text))])
            }
            _ => Map::new(),
        };
        for (key, value) in self.contexts.iter().filter_map(|c| c.value.as_ref()) {
            if !map.contains_key(key) {
                map.insert(key.clone(), value.clone());
            }
        }
        Ok(Record {
            origin,
            body: Body::Tree(Value::Object(map)),
        })
    }

    /// Keeps a context element's value for the records that follow in its scope.
    fn keep_context(
        &mut self,
        index: usize,
        capture: Capture,
        malformation: Option<String>,
        size: u64,
    ) {
        let max = self.spec.max_record_bytes;
        let path = self.spec.context[index].text();
        let slot = &mut self.contexts[index];
        slot.bytes += size;
        let problem = capture.problem.or(malformation).or_else(|| {
            (slot.bytes > max as u64).then(|| {
                format!("the context elements are larger than max_record_bytes ({max} bytes)")
            })
        });
        if let Some(problem) = problem {
            slot.problem
                .get_or_insert_with(|| format!("context {path}: {problem}"));
            return;
        }
        let Some((key, value)) = capture.done else {
            return;
        };
        match &mut slot.value {
            None => slot.value = Some((key, value)),
            Some((_, existing)) => append(existing, value),
        }
    }

    /// The origin of a record starting at the current mark.
    fn origin(&self) -> Origin {
        Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: self.mark.line,
            offset: self.mark.source,
            locator: Some(self.locator().into()),
        }
    }

    /// `/ORDERS05/IDOC[3]`: the record path with the index of each element among its siblings.
    fn locator(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.spec.record.steps().iter().enumerate() {
            out.push('/');
            out.push_str(step.name());
            if i > 0 {
                out.push('[');
                out.push_str(&self.counts[i].to_string());
                out.push(']');
            }
        }
        out
    }

    /// ` (in record /A/B[2], which starts at line 7)` when a record is being read.
    fn inside(&self) -> String {
        match &self.capture {
            Some(Capture {
                target: Target::Record(origin),
                ..
            }) => format!(
                " (in record {}, which starts at line {})",
                origin.locator.as_deref().unwrap_or(""),
                origin.line
            ),
            _ => String::new(),
        }
    }

    fn error(&self, reason: String) -> DecodeError {
        DecodeError::Input {
            line: self.mark.line,
            reason,
        }
    }

    fn fail(&self, reason: String) -> Action {
        Action::Fail(self.error(reason))
    }
}

/// Opens `e` in `tree` with its attributes (namespace declarations left out); a problem with
/// an attribute is returned.
fn open_element(
    tree: &mut TreeBuilder,
    e: &BytesStart<'_>,
    resolver: &NamespaceResolver,
    namespaces: &Namespaces,
) -> Option<String> {
    let qname = e.name();
    let (namespace, local) = resolver.resolve_element(qname);
    tree.open(namespaces.name(bound(&namespace), local.as_ref(), qname.as_ref()));
    for attribute in e.attributes() {
        let attribute = match attribute {
            Ok(attribute) => attribute,
            Err(error) => {
                return Some(format!(
                    "malformed attribute in <{}>: {error}",
                    qname.as_ref()
                ));
            }
        };
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let (namespace, local) = resolver.resolve_attribute(attribute.key);
        let name = namespaces.name(bound(&namespace), local.as_ref(), attribute.key.as_ref());
        match attribute.normalized_value(XmlVersion::Implicit1_0) {
            Ok(value) => tree.attribute(&name, value.into_owned()),
            Err(error) => {
                return Some(format!("attribute {name} of <{}>: {error}", qname.as_ref()));
            }
        }
    }
    None
}

/// The namespace URI a name resolved to, if any.
fn bound<'a>(resolved: &'a ResolveResult<'_>) -> Option<&'a str> {
    match resolved {
        ResolveResult::Bound(Namespace(uri)) => Some(uri),
        _ => None,
    }
}

/// The invalid byte sequences of one record, as a reason.
fn describe(mut malformations: impl Iterator<Item = Malformation>) -> Option<String> {
    let first = malformations.next()?;
    let more = malformations.count();
    Some(match more {
        0 => first.to_string(),
        _ => format!("{first} (and {more} more in this element)"),
    })
}
