//! Layouts: the fields of one record type, and how a field's bytes become text. A field is sliced
//! from the record's raw bytes by byte position first, then decoded from the file's charset, so
//! a layout that cuts a double-byte character in two is caught and named.

use std::borrow::Cow;

use encoding_rs::{DecoderResult, Encoding};

use super::number::Number;
use crate::format::charset::InvalidBytes;

/// Which blanks a text field loses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Trailing spaces (the padding of a left-aligned field); leading spaces and zeros stay.
    Right,
    /// Leading and trailing spaces.
    Both,
    /// Nothing: the field exactly as written.
    Keep,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text(Trim),
    Number(Number),
}

/// One field of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// 0-based byte position of the first byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
    pub kind: Kind,
}

/// The layout of one record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The discriminator value that selects it (`None` for the only layout of a file without a
    /// discriminator).
    pub record_type: Option<String>,
    /// `record_type` in the file's encoding, trailing spaces removed.
    pub tag: Vec<u8>,
    pub fields: Vec<Field>,
    /// Record length in bytes: at least the end of the last field.
    pub length: usize,
}

impl Layout {
    /// How messages name the layout: `layout "H"`.
    pub fn label(&self) -> String {
        match &self.record_type {
            Some(kind) => format!("layout \"{kind}\""),
            None => "the layout".to_string(),
        }
    }

    /// Checks the record's length against the layout: a shorter record is an error unless
    /// `pad_short` (its missing bytes then read as blanks); bytes past the layout's end must be
    /// blanks.
    pub fn check_length(&self, bytes: &[u8], pad_short: bool, unit: &str) -> Result<(), String> {
        let len = bytes.len();
        if len < self.length && !pad_short {
            return Err(format!(
                "{unit} is {len} bytes long, {} needs {}: set short_lines = \"pad\" under \
                 [format] if the exporter drops trailing blanks",
                self.label(),
                self.length
            ));
        }
        let extra = bytes.get(self.length..).unwrap_or_default();
        if extra.iter().any(|&b| b != b' ') {
            return Err(format!(
                "{unit} is {len} bytes long and {} ends at byte {}, but bytes {}-{len} are not \
                 blank: is a field missing from the layout?",
                self.label(),
                self.length,
                self.length + 1
            ));
        }
        Ok(())
    }
}

impl Field {
    /// `field "qty" (bytes 12-18)`, 1-based and inclusive like the layout.
    fn label(&self) -> String {
        format!(
            "field \"{}\" (bytes {}-{})",
            self.name,
            self.start + 1,
            self.start + self.len
        )
    }

    /// The field's text in `record` (whose first byte is at `offset` in the file): decoded,
    /// trimmed or normalised as its kind says. Bytes the record lacks read as blanks.
    ///
    /// Bytes that are not text in `encoding` make it an error, or with [`InvalidBytes::Replace`]
    /// become U+FFFD; then `replaced` receives what was replaced, for the caller to report.
    pub fn read<'r>(
        &self,
        record: &'r [u8],
        (encoding, invalid): (&'static Encoding, InvalidBytes),
        offset: u64,
        replaced: &mut Option<String>,
    ) -> Result<Cow<'r, str>, String> {
        let end = (self.start + self.len).min(record.len());
        let bytes = record.get(self.start..end).unwrap_or_default();
        let text = match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            Some(text) => text,
            None if invalid == InvalidBytes::Replace => {
                replaced.get_or_insert_with(|| self.charset_error(record, encoding, offset));
                encoding.decode_without_bom_handling(bytes).0
            }
            None => return Err(self.charset_error(record, encoding, offset)),
        };
        match self.kind {
            Kind::Text(trim) => Ok(trimmed(text, trim)),
            Kind::Number(number) => number
                .normalize(&text)
                .map(Cow::Owned)
                .map_err(|reason| format!("{}: {reason}", self.label())),
        }
    }

    /// Why the field's bytes do not decode: the layout cuts a character in two (the whole record
    /// decodes), or the bytes are not text in this encoding.
    fn charset_error(&self, record: &[u8], encoding: &'static Encoding, offset: u64) -> String {
        let name = encoding.name();
        if encoding
            .decode_without_bom_handling_and_without_replacement(record)
            .is_some()
        {
            return format!(
                "{} cuts a {name} character in two: check the layout's start and length",
                self.label()
            );
        }
        let end = (self.start + self.len).min(record.len());
        let (at, bad) = first_malformation(&record[self.start..end], encoding);
        let bytes: String = bad.iter().map(|b| format!(" 0x{b:02X}")).collect();
        format!(
            "{}: invalid {name} byte sequence{bytes} at byte offset {}",
            self.label(),
            offset + (self.start + at) as u64
        )
    }
}

fn trimmed(text: Cow<'_, str>, trim: Trim) -> Cow<'_, str> {
    match (text, trim) {
        (text, Trim::Keep) => text,
        (Cow::Borrowed(text), Trim::Right) => Cow::Borrowed(text.trim_end_matches(' ')),
        (Cow::Borrowed(text), Trim::Both) => Cow::Borrowed(text.trim_matches(' ')),
        (Cow::Owned(mut text), Trim::Right) => {
            text.truncate(text.trim_end_matches(' ').len());
            Cow::Owned(text)
        }
        (Cow::Owned(text), Trim::Both) => Cow::Owned(text.trim_matches(' ').to_string()),
    }
}

/// Position and bytes of the first malformed sequence in `bytes`.
fn first_malformation<'b>(bytes: &'b [u8], encoding: &'static Encoding) -> (usize, &'b [u8]) {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 4 + 16);
    let mut out = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::Malformed(bad, extra) => {
            let end = read.saturating_sub(usize::from(extra));
            let start = end.saturating_sub(usize::from(bad));
            (start, &bytes[start..end])
        }
        DecoderResult::InputEmpty | DecoderResult::OutputFull => (0, &[]),
    }
}
