//! Framing: the raw bytes of one fixed-width file → its records' bytes, each with its line (or
//! record number) and byte offset. Lines end at LF (a CR before it is dropped); with
//! `record_length` every record is that many bytes and there are no separators. Nothing here
//! decodes text: layouts count bytes, so fields are sliced before their charset is decoded.

use std::io::{self, BufRead, BufReader, Read};

use encoding_rs::Encoding;

/// Longest line accepted, in bytes; a longer one is cut to this length and reported.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Read buffer size.
const BUFFER: usize = 64 * 1024;
/// DOS end-of-file mark, still written by some legacy exporters.
const EOF_MARK: u8 = 0x1A;

/// How records are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record per line (LF or CRLF; the last line may lack it).
    Lines,
    /// Records of this many bytes, back to back.
    Fixed(usize),
}

/// The bytes of one record, borrowed from the reader until the next call.
#[derive(Debug)]
pub struct Raw<'a> {
    /// 1-based line, or record number with [`Framing::Fixed`].
    pub line: u64,
    /// Byte offset of the record's first byte in the file.
    pub offset: u64,
    /// The record without its line break (cut at [`MAX_LINE_BYTES`] when `overlong`).
    pub bytes: &'a [u8],
    /// The line was longer than [`MAX_LINE_BYTES`].
    pub overlong: bool,
    /// With [`Framing::Fixed`]: the file ended inside this record.
    pub truncated: bool,
}

impl Raw<'_> {
    /// Nothing but spaces, tabs, line-break bytes or a DOS end-of-file mark.
    pub fn is_blank(&self) -> bool {
        self.bytes
            .iter()
            .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | EOF_MARK))
    }
}

/// What the first bytes of a file say about its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bom {
    /// No byte-order mark: the declared encoding holds.
    Absent,
    /// A UTF-8 byte-order mark (consumed): the file is UTF-8.
    Utf8,
    /// A UTF-16 byte-order mark: bytes cannot be sliced as the layouts count them.
    Utf16(&'static str),
}

/// Streams the records of one file.
pub struct RecordReader<R> {
    input: BufReader<R>,
    framing: Framing,
    buf: Vec<u8>,
    offset: u64,
    line: u64,
}

impl<R: Read> RecordReader<R> {
    pub fn new(reader: R, framing: Framing) -> Self {
        Self {
            input: BufReader::with_capacity(BUFFER, reader),
            framing,
            buf: Vec::new(),
            offset: 0,
            line: 0,
        }
    }

    /// Consumes a BOM at the start of the file; call first.
    pub fn bom(&mut self) -> io::Result<Bom> {
        let head = self.input.fill_buf()?;
        let bom = match Encoding::for_bom(&head[..head.len().min(3)]) {
            None => return Ok(Bom::Absent),
            Some((encoding, _)) if encoding == encoding_rs::UTF_16LE => Bom::Utf16("UTF-16LE"),
            Some((encoding, _)) if encoding == encoding_rs::UTF_16BE => Bom::Utf16("UTF-16BE"),
            Some((_, len)) => {
                self.input.consume(len);
                self.offset = len as u64;
                Bom::Utf8
            }
        };
        Ok(bom)
    }

    /// The next record, `None` at the end of the file.
    pub fn next_raw(&mut self) -> io::Result<Option<Raw<'_>>> {
        match self.framing {
            Framing::Lines => self.next_line(),
            Framing::Fixed(length) => self.next_fixed(length),
        }
    }

    fn next_line(&mut self) -> io::Result<Option<Raw<'_>>> {
        self.buf.clear();
        let mut consumed = 0usize;
        let mut overlong = false;
        loop {
            let available = self.input.fill_buf()?;
            if available.is_empty() {
                if consumed == 0 {
                    return Ok(None);
                }
                break;
            }
            let (len, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE_BYTES + 2).saturating_sub(self.buf.len());
            overlong |= len > room;
            self.buf.extend_from_slice(&available[..len.min(room)]);
            self.input.consume(len);
            consumed += len;
            if ended {
                break;
            }
        }
        let offset = self.offset;
        self.offset += consumed as u64;
        self.line += 1;
        let mut end = self.buf.len();
        if end > 0 && self.buf[end - 1] == b'\n' {
            end -= 1;
        }
        if end > 0 && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        overlong |= end > MAX_LINE_BYTES;
        Ok(Some(Raw {
            line: self.line,
            offset,
            bytes: &self.buf[..end.min(MAX_LINE_BYTES)],
            overlong,
            truncated: false,
        }))
    }

    fn next_fixed(&mut self, length: usize) -> io::Result<Option<Raw<'_>>> {
        self.buf.clear();
        while self.buf.len() < length {
            let available = self.input.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let n = available.len().min(length - self.buf.len());
            self.buf.extend_from_slice(&available[..n]);
            self.input.consume(n);
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let offset = self.offset;
        self.offset += self.buf.len() as u64;
        self.line += 1;
        Ok(Some(Raw {
            line: self.line,
            offset,
            bytes: &self.buf,
            overlong: false,
            truncated: self.buf.len() < length,
        }))
    }
}
