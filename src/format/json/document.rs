//! A JSON document whose records are the values at a record path, streamed.
//!
//! The document is walked with struson's pull reader: containers on the way to the record path
//! (or to a context pointer) are entered, everything else is skipped without being kept, and each
//! value at the record path is read into a tree on its own, so a file of any size holds one record
//! in memory at a time. A record carries the line and byte offset of its first character and its
//! concrete path (`/orders/3`) as locator.
//!
//! A record that is not an object, or has invalid bytes, is a record error and the walk goes on.
//! Invalid JSON, a truncated document, or a record longer than `max_record_bytes` ends the input
//! (the JSON reader cannot resynchronise inside a document); the records before stand. So does a
//! record path that matches nothing in the whole document (most likely a wrong `record`).

use std::io::Read;
use std::sync::Arc;

use serde_json::Value;
use struson::reader::{JsonReader, JsonStreamReader, ReaderError, ReaderSettings, ValueType};

use super::JsonSpec;
use super::feed::{Feed, is_too_long};
use super::pointer::{Pointer, Step, render};
use super::value::{describe, kind_of, kind_of_type, read_value};
use crate::format::DecodeError;
use crate::format::charset::DecodingReader;
use crate::format::record::{Body, Origin, Record, RecordError};

/// What an error at the very end of the input means.
const TRUNCATED: &str = "the file ends in the middle of the document: is it truncated?";

/// A container the walk is in.
enum Frame {
    /// An array, and the index of its next item.
    Array(u64),
    Object,
}

/// A context value, once the document has given it.
struct Context {
    name: String,
    value: Value,
    /// Why the value is unusable (invalid bytes); every record after it fails with this.
    problem: Option<String>,
}

/// Where a value starts: decoded offset and 1-based line.
#[derive(Clone, Copy)]
struct Start {
    offset: u64,
    line: u64,
}

/// Streams the records of one JSON document.
pub struct DocumentDecoder<R: Read> {
    json: Option<JsonStreamReader<Feed<R>>>,
    /// `None` until the root is seen when the spec leaves the record path to the root's type.
    record: Option<Pointer>,
    context: Vec<Pointer>,
    values: Vec<Option<Context>>,
    max: u64,
    connector: Arc<str>,
    file: Arc<str>,
    frames: Vec<Frame>,
    /// Tokens of the containers in `frames` but the root, then of the value being visited.
    path: Vec<String>,
    started: bool,
    /// Something in the document is at the record path, or is the container of its items.
    reached: bool,
}

impl<R: Read> DocumentDecoder<R> {
    pub fn new(spec: &JsonSpec, reader: R, connector: Arc<str>, file: Arc<str>) -> Self {
        let settings = ReaderSettings {
            track_path: false,
            ..ReaderSettings::default()
        };
        let input = DecodingReader::new(reader, spec.encoding).with_invalid_bytes(
            spec.charset.invalid,
            &connector,
            &file,
        );
        let feed = Feed::new(input);
        Self {
            json: Some(JsonStreamReader::new_custom(feed, settings)),
            record: spec.record.clone(),
            context: spec.context.clone(),
            values: spec.context.iter().map(|_| None).collect(),
            max: spec.max_record_bytes as u64,
            connector,
            file,
            frames: Vec::new(),
            path: Vec::new(),
            started: false,
            reached: false,
        }
    }

    /// The next record; `None` at the end of the document.
    pub fn next_record(&mut self) -> Result<Option<Record>, DecodeError> {
        if !self.started {
            self.started = true;
            if !self.start()? {
                return Ok(None);
            }
            if let Some(record) = self.visit()? {
                return Ok(Some(record));
            }
        }
        loop {
            let Some(json) = self.json.as_mut() else {
                return Ok(None);
            };
            match next_step(json, &mut self.frames).map_err(|e| self.fail(e))? {
                Next::Finished => return self.finish().map(|()| None),
                Next::Leave => self.leave()?,
                Next::Visit(token) => {
                    self.path.push(token);
                    if let Some(record) = self.visit()? {
                        return Ok(Some(record));
                    }
                }
            }
        }
    }

    /// Looks at the root: false for an empty document. Settles the record path left to the root's
    /// type.
    fn start(&mut self) -> Result<bool, DecodeError> {
        let kind = match self.reader()?.peek() {
            Ok(kind) => kind,
            Err(ReaderError::SyntaxError(e))
                if e.kind == struson::reader::SyntaxErrorKind::IncompleteDocument =>
            {
                return Ok(false);
            }
            Err(e) => return Err(self.fail(e)),
        };
        if self.record.is_none() {
            self.record = Some(match kind {
                ValueType::Object => Pointer::root(),
                ValueType::Array => Pointer::root_items(),
                other => {
                    let reason = format!(
                        "the document is {}, not an object or an array of objects",
                        kind_of_type(other)
                    );
                    return Err(DecodeError::Input { line: 1, reason });
                }
            });
        }
        Ok(true)
    }

    /// Handles the value at `path`: reads it if it is a record, keeps it if it is a context
    /// value, enters it if records or context lie inside, skips it otherwise.
    fn visit(&mut self) -> Result<Option<Record>, DecodeError> {
        let record = self.record.as_ref().is_some_and(|p| p.matches(&self.path));
        let found = if record {
            self.reached = true;
            self.read_record().map(Some)
        } else if let Some(index) = self.context.iter().position(|p| p.matches(&self.path)) {
            self.read_context(index).map(|()| None)
        } else {
            return self.pass().map(|()| None);
        };
        self.path.pop();
        found
    }

    /// Enters the value at `path` if records or context values lie inside it, else skips it.
    fn pass(&mut self) -> Result<(), DecodeError> {
        let record = self.record.as_ref();
        let parent = record.is_some_and(|p| p.is_parent_of(&self.path));
        let inside = record.is_some_and(|p| p.leads_to(&self.path))
            || self.context.iter().any(|p| p.leads_to(&self.path));
        let json = self.reader()?;
        let entered = match json.peek() {
            Ok(ValueType::Array) if inside => json.begin_array().map(|()| Some(Frame::Array(0))),
            Ok(ValueType::Object) if inside => json.begin_object().map(|()| Some(Frame::Object)),
            Ok(_) => json.skip_value().map(|()| None),
            Err(e) => Err(e),
        };
        match entered.map_err(|e| self.fail(e))? {
            Some(frame) => {
                self.reached |= parent;
                self.frames.push(frame);
            }
            None => {
                self.path.pop();
            }
        }
        Ok(())
    }

    /// Leaves the container the walk is in.
    fn leave(&mut self) -> Result<(), DecodeError> {
        let frame = self.frames.pop();
        let json = self.reader()?;
        let left = match frame {
            Some(Frame::Array(_)) => json.end_array(),
            Some(Frame::Object) => json.end_object(),
            None => Ok(()),
        };
        left.map_err(|e| self.fail(e))?;
        self.path.pop();
        Ok(())
    }

    /// Reads a value at most `max` bytes long, with where it starts.
    fn read_bounded(&mut self) -> Result<(Value, Start, u64), DecodeError> {
        let json = self.reader()?;
        json.peek().map_err(|e| self.fail(e))?;
        let start = self.position()?;
        let max = self.max;
        let json = self.reader()?;
        json.reader_mut().start_record(start.offset, max);
        let value = read_value(json);
        json.reader_mut().end_record();
        let value = value.map_err(|e| self.fail_in(e, start))?;
        let end = self.position()?.offset;
        if end - start.offset > self.max {
            return Err(self.too_long(start));
        }
        Ok((value, start, end))
    }

    fn read_record(&mut self) -> Result<Record, DecodeError> {
        let (value, start, end) = self.read_bounded()?;
        let feed = self.reader()?.reader_mut();
        let offset = feed.source_offset(start.offset);
        let invalid = feed.malformations_in(start.offset, end);
        let origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: start.line,
            offset,
            locator: (!self.path.is_empty()).then(|| Arc::from(render(&self.path))),
        };
        let (reason, value) = match (invalid, value) {
            (Some(reason), value) => (reason, value),
            (None, Value::Object(mut members)) => match self.add_context(&mut members) {
                Ok(()) => {
                    let body = Body::Tree(Value::Object(members));
                    return Ok(Record { origin, body });
                }
                Err(reason) => (reason, Value::Object(members)),
            },
            (None, value) => (self.not_an_object(&value), value),
        };
        Err(record_error(origin, value, reason))
    }

    /// Why a record that is not an object fails, with a hint for an array at a path without `*`.
    fn not_an_object(&self, value: &Value) -> String {
        let mut reason = format!("the record is {}, not a JSON object", kind_of(value));
        let record = self.record.as_ref();
        let items = record.is_some_and(|p| p.steps().last() == Some(&Step::Any));
        if value.is_array() && !items {
            let record = record.map_or("", Pointer::text);
            reason.push_str(&format!(
                "; to read its items as records, set record = \"{record}/*\""
            ));
        }
        reason
    }

    /// Adds the context values seen so far to a record's members.
    fn add_context(&self, members: &mut serde_json::Map<String, Value>) -> Result<(), String> {
        for (context, pointer) in self.values.iter().zip(&self.context) {
            let Some(context) = context else { continue };
            if let Some(problem) = &context.problem {
                return Err(format!("context {pointer}: {problem}"));
            }
            if members.contains_key(&context.name) {
                return Err(format!(
                    "the record has a member \"{}\" of its own, which context {pointer} would \
                     replace; point context at a value with another name",
                    context.name
                ));
            }
            members.insert(context.name.clone(), context.value.clone());
        }
        Ok(())
    }

    fn read_context(&mut self, index: usize) -> Result<(), DecodeError> {
        let (value, start, end) = self.read_bounded()?;
        let feed = self.reader()?.reader_mut();
        let problem = feed.malformations_in(start.offset, end);
        let name = self.context[index]
            .last_name()
            .unwrap_or_default()
            .to_string();
        self.values[index] = Some(Context {
            name,
            value,
            problem,
        });
        Ok(())
    }

    /// Checks that nothing follows the document, and that the record path matched something.
    fn finish(&mut self) -> Result<(), DecodeError> {
        let Some(json) = self.json.take() else {
            return Ok(());
        };
        let last = json.current_position(false);
        let line = last.line_pos.map_or(1, |p| p.line + 1);
        if let Err(error) = json.consume_trailing_whitespace() {
            let problem = describe(&error);
            let reason = format!(
                "more data follows the end of the JSON document at line {}, column {}: \
                 several documents in one file are NDJSON (type = \"ndjson\"), one per line",
                problem.line, problem.column
            );
            return Err(DecodeError::Input {
                line: problem.line,
                reason,
            });
        }
        if self.reached {
            return Ok(());
        }
        let record = self.record.as_ref().map_or("", Pointer::text);
        let reason = format!(
            "nothing in the document is at the record path \"{record}\": check `record` in \
             [format]"
        );
        Err(DecodeError::Input { line, reason })
    }

    fn reader(&mut self) -> Result<&mut JsonStreamReader<Feed<R>>, DecodeError> {
        self.json.as_mut().ok_or_else(|| DecodeError::Input {
            line: 0,
            reason: "the document was already read to its end".to_string(),
        })
    }

    /// Where the reader is.
    fn position(&mut self) -> Result<Start, DecodeError> {
        let at = self.reader()?.current_position(false);
        Ok(Start {
            offset: at.data_pos.unwrap_or(0),
            line: at.line_pos.map_or(1, |p| p.line + 1),
        })
    }

    /// A reader error while reading the value that starts at `start`.
    fn fail_in(&mut self, error: ReaderError, start: Start) -> DecodeError {
        match &error {
            ReaderError::IoError { error, .. } if is_too_long(error) => self.too_long(start),
            _ => self.fail(error),
        }
    }

    /// A reader error: the document cannot be read further.
    fn fail(&mut self, error: ReaderError) -> DecodeError {
        let problem = describe(&error);
        let cut_short = cut_short(&error);
        if let ReaderError::IoError { error, .. } = error {
            return DecodeError::Io(error);
        }
        let (offset, truncated) = match self.json.as_mut() {
            Some(json) => {
                let feed = json.reader_mut();
                let truncated = cut_short && feed.is_near_end(problem.offset);
                (feed.source_offset(problem.offset), truncated)
            }
            None => (problem.offset, false),
        };
        let what = match truncated {
            true => TRUNCATED,
            false => &problem.what,
        };
        let mut reason = format!("{what} (column {}, byte offset {offset}", problem.column);
        if !self.path.is_empty() {
            reason.push_str(&format!(", in {}", render(&self.path)));
        }
        reason.push(')');
        DecodeError::Input {
            line: problem.line,
            reason,
        }
    }

    fn too_long(&mut self, start: Start) -> DecodeError {
        let offset = match self.json.as_mut() {
            Some(json) => json.reader_mut().source_offset(start.offset),
            None => start.offset,
        };
        let at = match self.path.is_empty() {
            true => "the document".to_string(),
            false => render(&self.path),
        };
        let reason = format!(
            "the value at {at}, which starts here (byte offset {offset}), is longer than \
             max_record_bytes ({} bytes)",
            self.max
        );
        DecodeError::Oversized {
            line: start.line,
            reason,
        }
    }
}

/// What the walk does next.
enum Next {
    /// The root value is behind.
    Finished,
    /// The container the walk is in has no more items.
    Leave,
    /// Visit the next item or member, by its token.
    Visit(String),
}

fn next_step<J: JsonReader>(json: &mut J, frames: &mut [Frame]) -> Result<Next, ReaderError> {
    let Some(frame) = frames.last_mut() else {
        return Ok(Next::Finished);
    };
    if !json.has_next()? {
        return Ok(Next::Leave);
    }
    Ok(Next::Visit(match frame {
        Frame::Array(next) => {
            let token = next.to_string();
            *next += 1;
            token
        }
        Frame::Object => json.next_name_owned()?,
    }))
}

/// Whether `error` is one that a value cut off by the end of the input gives.
fn cut_short(error: &ReaderError) -> bool {
    use struson::reader::SyntaxErrorKind::*;
    matches!(
        error,
        ReaderError::SyntaxError(e) if matches!(
            e.kind,
            IncompleteDocument | InvalidLiteral | MissingColon | MalformedNumber
                | MalformedEscapeSequence
        )
    )
}

fn record_error(origin: Origin, value: Value, reason: String) -> DecodeError {
    DecodeError::Record(RecordError {
        origin,
        raw: value.to_string().into_bytes(),
        reason,
        columns: None,
    })
}
