//! The charset-decoded text of a JSON document as the streaming JSON reader pulls it, with what is
//! needed to report positions in the source file and to bound a record's size.
//!
//! The JSON reader counts offsets in the decoded UTF-8 text and reads ahead (up to 1 KiB).
//! [`Feed`] notes, as it hands text out, which decoded offsets correspond to which source offsets
//! (anchors) and which malformed byte sequences the text holds, so that a record's start and its
//! invalid bytes can be placed in the source once the reader has read it. Source offsets are exact
//! in UTF-8, and exact at line starts (approximate inside a line) in other encodings, as the
//! [`DecodingReader`] reports them. Notes older than the record being read are dropped as reading
//! goes on, so they stay bounded.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use crate::format::charset::{DecodingReader, Malformation};

/// Decoded bytes kept noted behind the read position when no record is being read: more than the
/// JSON reader's look-ahead.
const MARGIN: u64 = 8 * 1024;
/// How far the JSON reader may read past a record's size limit before it is stopped: its
/// look-ahead. A record that ends inside this slack is measured once read.
const SLACK: u64 = 4 * 1024;
/// How close to the end of the source an error must be to be taken for truncation: the length of
/// `false` and a few bytes of white space.
const NEAR_END: u64 = 8;
/// UTF-8 length of U+FFFD, which replaces each malformed sequence in the decoded text.
const REPLACEMENT_LEN: u64 = 3;

/// The I/O error [`Feed`] returns once the record being read passes its size limit.
#[derive(Debug, thiserror::Error)]
#[error("the record is longer than its size limit")]
pub struct TooLong;

/// Whether an I/O error is [`Feed`]'s size limit.
pub fn is_too_long(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<TooLong>())
}

/// A decoded offset and the source offset it corresponds to.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    output: u64,
    source: u64,
}

/// Decoded text for the JSON reader (a [`Read`]), with source positions and malformations noted.
pub struct Feed<R> {
    input: DecodingReader<R>,
    anchors: VecDeque<Anchor>,
    malformations: VecDeque<Malformation>,
    /// The last byte handed out ended a line (or nothing was handed out yet).
    at_line_start: bool,
    /// Start of the record being read, and the decoded offset it may not be read past.
    record: Option<(u64, u64)>,
    /// The source has ended.
    ended: bool,
}

impl<R: Read> Feed<R> {
    pub fn new(input: DecodingReader<R>) -> Self {
        Self {
            input,
            anchors: VecDeque::new(),
            malformations: VecDeque::new(),
            at_line_start: true,
            record: None,
            ended: false,
        }
    }

    /// Whether decoded offset `output` is at most a literal's length before the end of the source:
    /// an error there most likely means the input stops in the middle of something.
    pub fn is_near_end(&self, output: u64) -> bool {
        self.ended && output + NEAR_END >= self.input.position()
    }

    /// Notes that a record (or a context value) starts at decoded offset `start`: the reader
    /// fails with [`TooLong`] well after `start + max` bytes.
    pub fn start_record(&mut self, start: u64, max: u64) {
        self.record = Some((start, start + max + SLACK));
    }

    pub fn end_record(&mut self) {
        self.record = None;
    }

    /// Source offset of decoded offset `output`. Calls must not go backwards.
    pub fn source_offset(&mut self, output: u64) -> u64 {
        while self.anchors.len() > 1 && self.anchors[1].output <= output {
            self.anchors.pop_front();
        }
        self.anchors
            .front()
            .filter(|a| a.output <= output)
            .map_or(output, |a| a.source + (output - a.output))
    }

    /// Describes the malformed sequences between decoded offsets `start` and `end`, forgetting
    /// those before `end`.
    pub fn malformations_in(&mut self, start: u64, end: u64) -> Option<String> {
        let (mut first, mut more) = (None, 0);
        while self
            .malformations
            .front()
            .is_some_and(|m| m.output_offset() < end)
        {
            match self.malformations.pop_front() {
                Some(m) if m.output_offset() < start => {}
                Some(m) if first.is_none() => first = Some(m),
                _ => more += 1,
            }
        }
        let first = first?;
        Some(match more {
            0 => first.to_string(),
            more => format!("{first} (and {more} more in this record)"),
        })
    }

    /// Notes the source offset of the text about to be handed out at decoded offset `position`,
    /// where it is exact.
    fn anchor(&mut self, position: u64) {
        if self.at_line_start || self.input.encoding() == encoding_rs::UTF_8 {
            let source = self.input.source_position();
            self.anchors.push_back(Anchor {
                output: position,
                source,
            });
        }
    }

    /// Takes the malformations in the text handed out, with an anchor just after each.
    fn note_malformations(&mut self) {
        for m in self.input.take_malformations() {
            self.anchors.push_back(Anchor {
                output: m.output_offset() + REPLACEMENT_LEN,
                source: m.source_offset() + m.bytes().len() as u64,
            });
            self.malformations.push_back(m);
        }
    }

    /// Forgets notes no record can need any more.
    fn prune(&mut self, position: u64) {
        let floor = match self.record {
            Some((start, _)) => start,
            None => position.saturating_sub(MARGIN),
        };
        while self.anchors.len() > 1 && self.anchors[1].output <= floor {
            self.anchors.pop_front();
        }
        while self
            .malformations
            .front()
            .is_some_and(|m| m.output_offset() < floor)
        {
            self.malformations.pop_front();
        }
    }
}

impl<R: Read> Read for Feed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let position = self.input.position();
        let room = match self.record {
            Some((_, limit)) if position >= limit => return Err(io::Error::other(TooLong)),
            Some((_, limit)) => usize::try_from(limit - position).unwrap_or(usize::MAX),
            None => usize::MAX,
        };
        self.prune(position);
        let exact = self.input.encoding() == encoding_rs::UTF_8;
        let available = self.input.fill_buf()?;
        let mut n = available.len().min(buf.len()).min(room);
        if !exact {
            // End at a line break, so that the next read starts where the position is exact.
            if let Some(i) = available[..n].iter().position(|&b| b == b'\n') {
                n = i + 1;
            }
        }
        buf[..n].copy_from_slice(&available[..n]);
        if n > 0 {
            self.anchor(position);
            self.at_line_start = buf[n - 1] == b'\n';
        }
        self.ended |= n == 0 && !buf.is_empty();
        self.input.consume(n);
        self.note_malformations();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{GBK, UTF_8};

    fn read_all<R: Read>(feed: &mut Feed<R>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0; 7];
        loop {
            let n = feed.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn utf8_offsets_are_exact_after_a_bom_and_a_malformed_byte() {
        let source = b"\xEF\xBB\xBF[\"a\xFFb\", \"c\"]";
        let mut feed = Feed::new(DecodingReader::new(&source[..], UTF_8));
        let text = read_all(&mut feed);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text, "[\"a\u{FFFD}b\", \"c\"]");
        let c = text.find("\"c").unwrap() as u64;
        assert_eq!(
            feed.malformations_in(0, c).unwrap(),
            "invalid UTF-8 byte sequence 0xFF at byte offset 6"
        );
        assert_eq!(feed.source_offset(c), 11);
        assert!(feed.malformations_in(c, 100).is_none());
    }

    #[test]
    fn gbk_offsets_are_exact_at_line_starts() {
        let (source, _, _) = GBK.encode("[\"和珅\",\n\"乙\"]");
        let mut feed = Feed::new(DecodingReader::new(&source[..], GBK));
        let text = String::from_utf8(read_all(&mut feed)).unwrap();
        let second = text.find("\"乙").unwrap() as u64;
        assert_eq!(feed.source_offset(second), 9);
    }

    #[test]
    fn reading_past_the_limit_of_a_record_fails() {
        let source = vec![b' '; 64 * 1024];
        let mut feed = Feed::new(DecodingReader::new(&source[..], UTF_8));
        feed.start_record(0, 10);
        let mut buf = vec![0; 64 * 1024];
        let n = feed.read(&mut buf).unwrap();
        assert_eq!(n as u64, 10 + SLACK);
        assert!(is_too_long(&feed.read(&mut buf).unwrap_err()));
        feed.end_record();
        assert!(feed.read(&mut buf).unwrap() > 0);
    }
}
