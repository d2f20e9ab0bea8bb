//! Decoders: bytes → records. Charset decoding comes first ([`charset`]); each format module turns
//! the decoded text of one file or message into [`record::Record`]s with their origin. [`decode`]
//! picks the decoder a connector's `[format]` names.

pub mod charset;
pub mod compressed;
pub mod csv;
pub mod edifact;
#[cfg(test)]
pub(crate) mod failing;
pub mod fixed_width;
pub mod json;
pub mod record;
pub mod xlsx;
pub mod xml;

use std::io::{self, Read};
use std::sync::Arc;

use crate::config::connector::FormatSpec;
use record::{Record, RecordError};

/// Why a decoder yielded no record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// One record is bad; the records after it are still read.
    #[error("{0}")]
    Record(RecordError),
    /// The input cannot be read any further.
    #[error("cannot read the file: {0}")]
    Io(#[source] io::Error),
    /// The header line is unusable (missing, with empty or repeated names, or invalid bytes), so
    /// no record of the file can be read.
    #[error("line {line}: {reason}")]
    Header { line: u64, reason: String },
    /// A record grew past the size limit: most likely a quote left open, which turns the rest of
    /// the file into one field.
    #[error("line {line}: {reason}")]
    Oversized { line: u64, reason: String },
    /// The input is unusable from here on (a refused DOCTYPE, a broken envelope, truncated
    /// structure): the records before it stand, nothing after it can be read.
    #[error("line {line}: {reason}")]
    Input { line: u64, reason: String },
}

impl DecodeError {
    /// Whether the error ends the input: nothing follows it.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Record(_))
    }
}

/// Turns the result of a decoder that reads record by record into its iterator item, setting
/// `done` once the input ended: no record left, or an error that ends the input.
pub(crate) fn item(
    next: Result<Option<Record>, DecodeError>,
    done: &mut bool,
) -> Option<Result<Record, DecodeError>> {
    match next {
        Ok(Some(record)) => Some(Ok(record)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(error) => {
            *done = error.is_fatal();
            Some(Err(error))
        }
    }
}

/// What [`decode_file`] calls with each input's name and item; `false` stops it.
pub type EachItem<'f> = dyn FnMut(&Arc<str>, Result<Record, DecodeError>) -> bool + 'f;

/// Decodes every input a file holds — the file itself, its gzip content, or each entry of a zip
/// archive ([`compressed`]) — calling `each` with the input's name and every item, until `each`
/// returns `false` or a fatal item ends the input. A refused archive entry is a record error; a
/// failure to read the container itself comes last, as [`DecodeError::Io`]. An XLSX workbook,
/// itself a zip archive, is one input read in place.
pub fn decode_file(
    spec: &FormatSpec,
    mut file: std::fs::File,
    name: &Arc<str>,
    connector: &Arc<str>,
    max_inflated: u64,
    each: &mut EachItem<'_>,
) {
    if let FormatSpec::Xlsx(xlsx) = spec
        && xlsx::is_workbook(&mut file)
    {
        xlsx::workbook_decoder(xlsx, file, Arc::clone(connector), Arc::clone(name))
            .all(|item| each(name, item));
        return;
    }
    let read = compressed::for_each_input(file, name, max_inflated, &mut |input, reader| {
        let reader = match reader {
            Ok(reader) => reader,
            Err(reason) => return each(&input, Err(refused(connector, &input, reason))),
        };
        decode(spec, reader, Arc::clone(connector), Arc::clone(&input))
            .all(|item| each(&input, item))
    });
    if let Err(e) = read {
        each(name, Err(DecodeError::Io(e)));
    }
}

/// The record error of an archive entry that is refused (its name escapes the archive).
fn refused(connector: &Arc<str>, input: &Arc<str>, reason: String) -> DecodeError {
    DecodeError::Record(RecordError {
        origin: record::Origin {
            connector: Arc::clone(connector),
            file: Arc::clone(input),
            line: 0,
            offset: 0,
            locator: None,
        },
        raw: Vec::new(),
        reason,
        columns: None,
    })
}

/// The records of one input.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Record, DecodeError>> + Send + 'a>;

/// The records of one file (`file`, read by connector `connector`), decoded as `spec` says.
///
/// The iterator ends after a fatal error ([`DecodeError::is_fatal`]).
pub fn decode<'a, R: Read + Send + 'a>(
    spec: &FormatSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> Records<'a> {
    if !spec.guesses_encoding() {
        return decode_as(spec, reader, connector, file);
    }
    match charset::detect(reader) {
        Ok((reader, encoding)) => {
            tracing::debug!(%connector, %file, encoding = encoding.name(), "charset guessed");
            decode_as(&spec.with_encoding(encoding), reader, connector, file)
        }
        Err(e) => Box::new(std::iter::once(Err(DecodeError::Io(e)))),
    }
}

/// [`decode`] once the encoding is settled.
fn decode_as<'a, R: Read + Send + 'a>(
    spec: &FormatSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> Records<'a> {
    match spec {
        FormatSpec::Csv(csv) => Box::new(csv::CsvDecoder::new(reader, csv, connector, file)),
        FormatSpec::Json(json) => Box::new(json::decoder(json, reader, connector, file)),
        FormatSpec::Xml(xml) => Box::new(xml::decoder(xml, reader, connector, file)),
        FormatSpec::FixedWidth(fixed) => {
            Box::new(fixed_width::decoder(fixed, reader, connector, file))
        }
        FormatSpec::Edifact(edifact) => {
            Box::new(edifact::decoder(edifact, reader, connector, file))
        }
        FormatSpec::Xlsx(xlsx) => Box::new(xlsx::decoder(xlsx, reader, connector, file)),
    }
}
