//! JSON and NDJSON decoding (`[format] type = "json"` and `"ndjson"`): the bytes of one input →
//! tree [`Record`]s, streaming, with bounded memory.
//!
//! - `ndjson` ([`lines`]): one object per line, each line a record; a bad line is a record error.
//! - `json` ([`document`]): one document whose records are the values at `record`, a JSON Pointer
//!   where `*` matches every array item (or object member): `/orders/*`. Without `record`, a root
//!   object is the one record and a root array's items are the records. `context` pointers name
//!   values outside the records (a header such as `/meta`) that are added to every record read
//!   after them.
//!
//! Both decode the charset first ([`crate::format::charset::DecodingReader`]: `encoding`, a BOM
//! overrides it) and read values with struson's pull reader ([`value`]), which keeps numbers as
//! their text (`12.50` stays `12.50`; serde_json's `Value` would make it `12.5` and round big
//! integers). struson rather than serde_json with a visitor on a helper thread: a pull reader walks
//! to the record path, skips what is not wanted without keeping it, and hands back one record at a
//! time on the caller's thread, so there is no channel, no thread per file and no unwinding of a
//! visitor to stop early; its positions (line, column, offset) give every error its place.
//! Records are bounded by `max_record_bytes`.

mod document;
mod feed;
mod lines;
mod pointer;
mod value;

use std::io::Read;
use std::sync::Arc;

use encoding_rs::Encoding;
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::DecodeError;
use super::record::Record;
use crate::config::connector_file::{charset, encoding};
use crate::config::diagnostic::keep;
use crate::config::toml_de::Source;
use crate::config::{Diagnostic, Diagnostics};
use crate::format::charset::Charset;
use document::DocumentDecoder;
use lines::LinesDecoder;
pub use pointer::{Pointer, Step};

/// Default longest record, in bytes of decoded (UTF-8) text.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;
/// Largest `max_record_bytes` accepted.
const MAX_RECORD_BYTES_LIMIT: i64 = 1 << 30;

/// Which of the two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// One JSON document (`type = "json"`).
    Document,
    /// One JSON object per line (`type = "ndjson"`).
    Lines,
}

/// `[format]` for this decoder, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonSpec {
    pub kind: JsonKind,
    pub encoding: &'static Encoding,
    pub charset: Charset,
    /// Where a document's records are; `None`: the root object, or each item of a root array.
    pub record: Option<Pointer>,
    /// Values outside the records added to each record, under their pointer's last name.
    pub context: Vec<Pointer>,
    /// Longest record, in bytes of decoded text.
    pub max_record_bytes: usize,
}

/// `[format] type = "json"` or `"ndjson"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFormatFile {
    encoding: Option<Spanned<String>>,
    invalid_bytes: Option<Spanned<String>>,
    record: Option<Spanned<String>>,
    context: Option<Vec<Spanned<String>>>,
    max_record_bytes: Option<Spanned<i64>>,
}

/// Reads and checks the `[format]` keys after `type` (`kind` is the `type` given).
pub fn parse_spec(
    src: &Source<'_>,
    kind: &Spanned<String>,
    rest: Spanned<DeValue<'_>>,
) -> Result<JsonSpec, Diagnostics> {
    let file: JsonFormatFile = src.deserialize(rest, "format")?;
    let kind = match kind.get_ref().as_str() {
        "ndjson" => JsonKind::Lines,
        _ => JsonKind::Document,
    };
    let mut found = Diagnostics::default();
    let charset = charset(src, file.encoding.as_ref(), file.invalid_bytes);
    let encoding = keep(&mut found, encoding(src, file.encoding)).zip(keep(&mut found, charset));
    let max_record_bytes = keep(&mut found, max_record_bytes(src, file.max_record_bytes));
    if kind == JsonKind::Lines {
        let record = file.record.map(|r| ("record", r.span().start));
        let context = file.context.iter().flatten().next();
        let context = context.map(|c| ("context", c.span().start));
        for (key, at) in record.into_iter().chain(context) {
            let message =
                format!("{key} is for type = \"json\": in NDJSON every line is one record");
            found.push(src.diagnostic(at, message));
        }
        return finish(found, kind, encoding, None, Vec::new(), max_record_bytes);
    }
    let record = file.record.map(|r| pointer(src, &r)).transpose();
    let Some(record) = keep(&mut found, record) else {
        return Err(found);
    };
    let context = context(src, record.as_ref(), file.context.unwrap_or_default());
    let context = keep(&mut found, context).unwrap_or_default();
    finish(found, kind, encoding, record, context, max_record_bytes)
}

fn finish(
    found: Diagnostics,
    kind: JsonKind,
    encoding: Option<(&'static Encoding, Charset)>,
    record: Option<Pointer>,
    context: Vec<Pointer>,
    max_record_bytes: Option<usize>,
) -> Result<JsonSpec, Diagnostics> {
    match (encoding, max_record_bytes) {
        (Some((encoding, charset)), Some(max_record_bytes)) if found.is_empty() => Ok(JsonSpec {
            kind,
            encoding,
            charset,
            record,
            context,
            max_record_bytes,
        }),
        _ => Err(found),
    }
}

fn max_record_bytes(src: &Source<'_>, value: Option<Spanned<i64>>) -> Result<usize, Diagnostic> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_RECORD_BYTES);
    };
    match usize::try_from(*value.get_ref()) {
        Ok(n) if n > 0 && *value.get_ref() <= MAX_RECORD_BYTES_LIMIT => Ok(n),
        _ => Err(src.diagnostic(
            value.span().start,
            format!(
                "max_record_bytes must be between 1 and {MAX_RECORD_BYTES_LIMIT} (1 GiB); the \
                 default is {DEFAULT_MAX_RECORD_BYTES} (16 MiB)"
            ),
        )),
    }
}

fn pointer(src: &Source<'_>, text: &Spanned<String>) -> Result<Pointer, Diagnostic> {
    Pointer::parse(text.get_ref()).map_err(|m| src.diagnostic(text.span().start, m))
}

/// Checks the context pointers: each names one value outside the records, under a name of its
/// own.
fn context(
    src: &Source<'_>,
    record: Option<&Pointer>,
    pointers: Vec<Spanned<String>>,
) -> Result<Vec<Pointer>, Diagnostics> {
    let mut found = Diagnostics::default();
    let mut checked: Vec<Pointer> = Vec::new();
    for text in pointers {
        let at = text.span().start;
        let Some(pointer) = keep(&mut found, pointer(src, &text)) else {
            continue;
        };
        let problem = context_problem(&pointer, record, &checked);
        match problem {
            Some(message) => found.push(src.diagnostic(at, message)),
            None => checked.push(pointer),
        }
    }
    if found.is_empty() {
        Ok(checked)
    } else {
        Err(found)
    }
}

fn context_problem(
    pointer: &Pointer,
    record: Option<&Pointer>,
    before: &[Pointer],
) -> Option<String> {
    let Some(record) = record else {
        return Some(
            "context needs `record` to say where the records are, e.g. record = \"/orders/*\""
                .to_string(),
        );
    };
    if pointer.has_wildcard() {
        return Some(format!(
            "context \"{pointer}\" must name one value: `*` is for `record`"
        ));
    }
    if pointer.overlaps(record) {
        return Some(format!(
            "context \"{pointer}\" and record = \"{record}\" overlap: context must name a value \
             outside the records, such as \"/meta\""
        ));
    }
    let name = pointer.last_name().unwrap_or_default();
    before
        .iter()
        .find(|p| p.last_name() == Some(name))
        .map(|other| {
            format!(
                "context \"{pointer}\" and \"{other}\" would both add a member \"{name}\" to the \
                 records"
            )
        })
}

/// Streams the records of one JSON or NDJSON input.
pub struct JsonDecoder<R: Read> {
    inner: Inner<R>,
    done: bool,
}

enum Inner<R: Read> {
    Document(Box<DocumentDecoder<R>>),
    Lines(Box<LinesDecoder<R>>),
}

impl<R: Read> Iterator for JsonDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match &mut self.inner {
            Inner::Document(decoder) => decoder.next_record(),
            Inner::Lines(decoder) => decoder.next_record(),
        };
        super::item(next, &mut self.done)
    }
}

/// The records of one input.
pub fn decoder<'a, R: Read + Send + 'a>(
    spec: &JsonSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send + 'a {
    let inner = match spec.kind {
        JsonKind::Document => Inner::Document(Box::new(DocumentDecoder::new(
            spec, reader, connector, file,
        ))),
        JsonKind::Lines => Inner::Lines(Box::new(LinesDecoder::new(
            reader,
            spec.encoding,
            spec.charset.invalid,
            spec.max_record_bytes,
            connector,
            file,
        ))),
    };
    JsonDecoder { inner, done: false }
}

#[cfg(test)]
mod tests;
