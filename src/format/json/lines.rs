//! NDJSON (JSON Lines): one JSON object per line, each line one record.
//!
//! Lines are read from the charset decoder one at a time, up to `max_record_bytes` (the rest of a
//! longer line is skipped, and the line is a record error); blank lines are skipped; a trailing CR
//! is dropped. Each line is parsed on its own, so a bad line (invalid JSON, not an object, invalid
//! bytes, too long) is a record error and the next line is read as usual. Records carry their line
//! and the byte offset of the line's start (exact in every encoding: line starts are where the
//! charset decoder's positions are exact).

use std::io::{BufRead, Read};
use std::sync::Arc;

use encoding_rs::Encoding;
use struson::reader::{JsonReader, JsonStreamReader, ReaderError, SyntaxErrorKind};

use super::value::{describe, kind_of, read_value};
use crate::format::DecodeError;
use crate::format::charset::{DecodingReader, InvalidBytes};
use crate::format::record::{Body, Origin, Record, RecordError};

/// Bytes of an overlong line kept as the record error's raw copy.
const RAW_PREVIEW: usize = 4096;

/// One line as read.
struct Line {
    number: u64,
    offset: u64,
    /// Whether it was longer than the limit (then only its start is in the buffer).
    too_long: bool,
    /// Whether a line break ended it (the last line of a file may have none).
    terminated: bool,
}

/// Streams the records of one NDJSON input.
pub struct LinesDecoder<R> {
    input: DecodingReader<R>,
    connector: Arc<str>,
    file: Arc<str>,
    max: usize,
    lines: u64,
    text: Vec<u8>,
}

impl<R: Read> LinesDecoder<R> {
    pub fn new(
        reader: R,
        encoding: &'static Encoding,
        invalid: InvalidBytes,
        max: usize,
        connector: Arc<str>,
        file: Arc<str>,
    ) -> Self {
        Self {
            input: DecodingReader::new(reader, encoding)
                .with_invalid_bytes(invalid, &connector, &file),
            connector,
            file,
            max,
            lines: 0,
            text: Vec::new(),
        }
    }

    /// The next record; `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<Record>, DecodeError> {
        loop {
            let Some(line) = self.read_line()? else {
                return Ok(None);
            };
            let invalid = describe_malformations(&mut self.input);
            if !line.too_long && self.text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return self.record(&line, invalid).map(Some);
        }
    }

    /// Reads one line into `text` (without its line break), keeping at most `max` bytes.
    fn read_line(&mut self) -> Result<Option<Line>, DecodeError> {
        self.text.clear();
        if self.input.fill_buf().map_err(DecodeError::Io)?.is_empty() {
            return Ok(None);
        }
        let offset = self.input.source_position();
        let (mut too_long, mut terminated) = (false, false);
        loop {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            if buf.is_empty() {
                break;
            }
            let (n, content, complete) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, i, true),
                None => (buf.len(), buf.len(), false),
            };
            let keep = content.min(self.max.saturating_sub(self.text.len()));
            too_long |= keep < content;
            self.text.extend_from_slice(&buf[..keep]);
            self.input.consume(n);
            if complete {
                terminated = true;
                break;
            }
        }
        self.lines += 1;
        if self.text.last() == Some(&b'\r') {
            self.text.pop();
        }
        Ok(Some(Line {
            number: self.lines,
            offset,
            too_long,
            terminated,
        }))
    }

    fn record(&mut self, line: &Line, invalid: Option<String>) -> Result<Record, DecodeError> {
        let origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: line.number,
            offset: line.offset,
            locator: None,
        };
        let reason = if line.too_long {
            format!(
                "the line is longer than max_record_bytes ({} bytes); the first {RAW_PREVIEW} \
                 bytes are kept",
                self.max
            )
        } else if let Some(invalid) = invalid {
            invalid
        } else {
            match parse(&self.text, line.terminated) {
                Ok(tree) => {
                    return Ok(Record {
                        origin,
                        body: Body::Tree(tree),
                    });
                }
                Err(reason) => reason,
            }
        };
        let keep = if line.too_long {
            RAW_PREVIEW
        } else {
            self.text.len()
        };
        Err(DecodeError::Record(RecordError {
            origin,
            raw: self.text[..keep.min(self.text.len())].to_vec(),
            reason,
            columns: None,
        }))
    }
}

/// Parses one line into an object, or says why it is not one.
fn parse(text: &[u8], terminated: bool) -> Result<serde_json::Value, String> {
    let mut json = JsonStreamReader::new(text);
    let value = read_value(&mut json).map_err(|e| line_error(&e, terminated))?;
    json.consume_trailing_whitespace()
        .map_err(|_| "the line holds more than one JSON value".to_string())?;
    match value {
        serde_json::Value::Object(_) => Ok(value),
        other => Err(format!(
            "the line holds {}, not a JSON object: each line must be one record object",
            kind_of(&other)
        )),
    }
}

fn line_error(error: &ReaderError, terminated: bool) -> String {
    let problem = describe(error);
    let incomplete = matches!(
        error,
        ReaderError::SyntaxError(e) if e.kind == SyntaxErrorKind::IncompleteDocument
    );
    if incomplete && !terminated {
        return "the last line ends inside a JSON value, without a line break: is the file \
                truncated?"
            .to_string();
    }
    if incomplete {
        return "the line ends inside a JSON value: in NDJSON each record is one line (for a \
                pretty-printed document use type = \"json\")"
            .to_string();
    }
    format!(
        "invalid JSON at column {}: {}",
        problem.column, problem.what
    )
}

fn describe_malformations<R: Read>(input: &mut DecodingReader<R>) -> Option<String> {
    let mut malformations = input.take_malformations();
    let first = malformations.next()?;
    Some(match malformations.count() {
        0 => first.to_string(),
        more => format!("{first} (and {more} more in this record)"),
    })
}
