//! The segment tokenizer: decoded text → UNA service string advices and segments split into
//! elements, repetitions and components, streaming.
//!
//! Line breaks are not EDIFACT syntax: between segments they are skipped (with spaces and tabs),
//! inside a segment they are dropped, so that files wrapped at a fixed width read as they were
//! sent. The release character makes the next character data. A UNA at the start of a segment
//! sets the separators until the next UNZ; without one the ISO 9735 defaults apply, with `*` as
//! repetition separator when the UNB declares syntax version 4.

use std::io::{BufRead, Read};

use super::syntax::Separators;
use crate::format::DecodeError;
use crate::format::charset::DecodingReader;

/// One data element: its repetitions, each a list of components.
pub type Element = Vec<Vec<String>>;

/// What the tokenizer yields.
#[derive(Debug)]
pub enum Token {
    /// A UNA service string advice; the separators it declares are in effect from here.
    Una(Segment),
    Segment(Segment),
}

/// One segment as read.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The segment tag (first component of the first element), as written.
    pub tag: String,
    /// The data elements after the tag: `elements[0]` is element 1.
    pub elements: Vec<Element>,
    /// 1-based line of its first character.
    pub line: u64,
    /// Byte offset of its first character in the source.
    pub offset: u64,
    /// Spaces and line breaks read between the previous segment and this one.
    pub before: String,
    /// The segment's text as read, line breaks and terminator included.
    pub raw: String,
    /// False when the input ended before its terminator.
    pub terminated: bool,
    /// The first malformed byte sequence in it, described, if any.
    pub malformation: Option<String>,
}

impl Segment {
    /// Component `component` (0-based) of the first repetition of element `element` (1-based).
    pub fn value(&self, element: usize, component: usize) -> Option<&str> {
        let element = self.elements.get(element.checked_sub(1)?)?;
        element
            .first()?
            .get(component)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Reads segments from charset-decoded text.
pub struct Tokenizer<R> {
    input: DecodingReader<R>,
    separators: Separators,
    /// The current interchange began with a UNA.
    declared: bool,
    /// Line breaks consumed so far.
    newlines: u64,
    /// Longest segment accepted, in bytes of text.
    max_segment: usize,
}

/// The bytes of one segment while it is read.
#[derive(Default)]
struct Scan {
    raw: Vec<u8>,
    /// Text without line breaks, release characters kept.
    text: Vec<u8>,
    released: bool,
    /// The characters after `UNA`, once the segment is known to be a UNA.
    una: Option<Vec<u8>>,
}

impl Scan {
    /// Takes one byte; true once the segment is complete.
    fn step(&mut self, byte: u8, separators: &Separators) -> bool {
        if let Some(una) = &mut self.una {
            una.push(byte);
            return una.len() == 6;
        }
        if matches!(byte, b'\n' | b'\r') && byte != separators.terminator {
            return false;
        }
        if self.released {
            self.released = false;
        } else if Some(byte) == separators.release {
            self.released = true;
        } else if byte == separators.terminator {
            return true;
        }
        self.text.push(byte);
        if self.text == b"UNA" {
            self.una = Some(Vec::with_capacity(6));
        }
        false
    }
}

impl<R: Read> Tokenizer<R> {
    pub fn new(input: DecodingReader<R>, max_segment: usize) -> Self {
        Self {
            input,
            separators: Separators::default(),
            declared: false,
            newlines: 0,
            max_segment,
        }
    }

    /// 1-based line of the read position.
    pub fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// The next UNA or segment; `None` at the end of the input.
    pub fn next_token(&mut self) -> Result<Option<Token>, DecodeError> {
        let before = self.skip_blanks()?;
        let line = self.line();
        let offset = self.input.source_position();
        let mut scan = Scan::default();
        let terminated = self.scan(&mut scan, line, offset)?;
        if scan.raw.is_empty() {
            return Ok(None);
        }
        let malformation = self.malformation();
        let raw = String::from_utf8_lossy(&scan.raw).into_owned();
        let mut segment = Segment {
            tag: String::new(),
            elements: Vec::new(),
            line,
            offset,
            before,
            raw,
            terminated,
            malformation,
        };
        if let Some(una) = scan.una.filter(|u| u.len() == 6) {
            segment.tag = "UNA".into();
            return self.una(&una, segment).map(|s| Some(Token::Una(s)));
        }
        let mut elements = split(&scan.text, &self.separators).into_iter();
        segment.tag = elements
            .next()
            .and_then(|e| e.into_iter().next())
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default();
        segment.elements = elements.collect();
        self.service(&segment);
        Ok(Some(Token::Segment(segment)))
    }

    /// Applies a UNA's separators.
    fn una(&mut self, chars: &[u8], segment: Segment) -> Result<Segment, DecodeError> {
        let mut six = [0; 6];
        six.copy_from_slice(chars);
        self.separators = Separators::from_una(&six).map_err(|reason| DecodeError::Input {
            line: segment.line,
            reason,
        })?;
        self.declared = true;
        Ok(segment)
    }

    /// Follows the envelope: syntax version 4 brings the `*` repetition separator, a UNZ ends
    /// the interchange's separators.
    fn service(&mut self, segment: &Segment) {
        match segment.tag.as_str() {
            "UNB" if !self.declared && segment.value(1, 1) == Some("4") => {
                self.separators.repetition = Some(b'*');
            }
            "UNZ" => {
                self.separators = Separators::default();
                self.declared = false;
            }
            _ => {}
        }
    }

    /// Consumes spaces, tabs and line breaks; returns them.
    fn skip_blanks(&mut self) -> Result<String, DecodeError> {
        let mut skipped = String::new();
        loop {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            let n = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(buf.len());
            self.newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            skipped.push_str(&String::from_utf8_lossy(&buf[..n]));
            let rest = buf.len() - n;
            self.input.consume(n);
            if rest > 0 || n == 0 {
                return Ok(skipped);
            }
        }
    }

    /// Reads one segment into `scan`; false if the input ended before its terminator.
    fn scan(&mut self, scan: &mut Scan, line: u64, offset: u64) -> Result<bool, DecodeError> {
        let separators = self.separators;
        loop {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            if buf.is_empty() {
                return Ok(false);
            }
            let mut used = 0;
            let mut done = false;
            for &byte in buf {
                used += 1;
                if scan.step(byte, &separators) {
                    done = true;
                    break;
                }
            }
            scan.raw.extend_from_slice(&buf[..used]);
            self.newlines += buf[..used].iter().filter(|&&b| b == b'\n').count() as u64;
            self.input.consume(used);
            if done {
                return Ok(true);
            }
            if scan.raw.len() > self.max_segment {
                return Err(self.oversized(line, offset));
            }
        }
    }

    fn oversized(&self, line: u64, offset: u64) -> DecodeError {
        let terminator = char::from(self.separators.terminator);
        DecodeError::Oversized {
            line,
            reason: format!(
                "the segment that starts here (byte offset {offset}) runs past {} bytes without \
                 a segment terminator ({terminator:?}): does the file use another terminator \
                 than its UNA (or the default ') declares?",
                self.max_segment
            ),
        }
    }

    /// Describes the malformed bytes in the segment just read.
    fn malformation(&mut self) -> Option<String> {
        let mut found = self.input.take_malformations();
        let first = found.next()?;
        let more = found.count();
        Some(match more {
            0 => first.to_string(),
            _ => format!("{first} (and {more} more in this segment)"),
        })
    }
}

/// Splits a segment's text into elements, repetitions and components, removing release
/// characters.
fn split(text: &[u8], separators: &Separators) -> Vec<Element> {
    let mut elements = Vec::new();
    let mut element: Element = Vec::new();
    let mut repetition: Vec<String> = Vec::new();
    let mut component = Vec::new();
    let mut released = false;
    for &byte in text {
        if released {
            released = false;
            component.push(byte);
        } else if Some(byte) == separators.release {
            released = true;
        } else if byte == separators.element {
            repetition.push(text_of(&mut component));
            element.push(std::mem::take(&mut repetition));
            elements.push(std::mem::take(&mut element));
        } else if byte == separators.component {
            repetition.push(text_of(&mut component));
        } else if Some(byte) == separators.repetition {
            repetition.push(text_of(&mut component));
            element.push(std::mem::take(&mut repetition));
        } else {
            component.push(byte);
        }
    }
    repetition.push(text_of(&mut component));
    element.push(repetition);
    elements.push(element);
    elements
}

/// Takes the bytes gathered for one component as text.
fn text_of(bytes: &mut Vec<u8>) -> String {
    let bytes = std::mem::take(bytes);
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::UTF_8;

    fn tokens(input: &str) -> Vec<Segment> {
        let mut tokenizer = Tokenizer::new(DecodingReader::new(input.as_bytes(), UTF_8), 1 << 20);
        let mut out = Vec::new();
        while let Some(token) = tokenizer.next_token().unwrap() {
            match token {
                Token::Una(s) | Token::Segment(s) => out.push(s),
            }
        }
        out
    }

    #[test]
    fn segments_split_into_elements_components_and_repetitions() {
        let found = tokens("UNB+UNOA:4+X'COM+1:2*3:4+?+5?:6??'\r\nIMD+++:::Seal'");
        assert_eq!(found.len(), 3);
        assert_eq!(found[1].tag, "COM");
        assert_eq!(
            found[1].elements,
            vec![
                vec![
                    vec!["1".to_string(), "2".into()],
                    vec!["3".into(), "4".into()]
                ],
                vec![vec!["+5:6?".to_string()]],
            ]
        );
        assert_eq!(found[2].value(3, 3), Some("Seal"));
        assert_eq!(found[2].value(1, 0), None);
        assert_eq!((found[2].line, found[2].offset), (2, 36));
        assert_eq!(found[2].before, "\r\n");
    }

    #[test]
    fn una_sets_separators_until_unz_and_wrapped_lines_join() {
        let found = tokens("UNA^*.? $\nUNB*UN\nOA^1$UNH*1*INV\r\nOIC$UNZ*1*2$\nUNB+UNOA:3+X'");
        let tags: Vec<_> = found.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags, ["UNA", "UNB", "UNH", "UNZ", "UNB"]);
        assert_eq!(found[1].value(1, 0), Some("UNOA"));
        assert_eq!(found[2].value(2, 0), Some("INVOIC"));
        assert_eq!(found[4].value(1, 1), Some("3"));
        assert_eq!(found[4].line, 5);
    }

    #[test]
    fn syntax_version_3_keeps_the_asterisk_as_data() {
        let found = tokens("UNB+UNOB:3+X'COM+1:2*3'");
        assert_eq!(found[1].value(1, 1), Some("2*3"));
    }

    #[test]
    fn a_released_terminator_is_data_and_a_missing_one_is_reported() {
        let found = tokens("FTX+AAI+++it?'s'UNZ+1");
        assert_eq!(found[0].value(4, 0), Some("it's"));
        assert!(found[0].terminated);
        assert!(!found[1].terminated);
        assert_eq!(found[1].raw, "UNZ+1");
    }

    #[test]
    fn a_segment_without_terminator_past_the_limit_is_fatal() {
        let text = format!("UNA:+.? 'UNB+UNOA:3+{}", "X".repeat(5000));
        let mut tokenizer = Tokenizer::new(DecodingReader::new(text.as_bytes(), UTF_8), 1000);
        assert!(matches!(tokenizer.next_token(), Ok(Some(Token::Una(_)))));
        let err = tokenizer.next_token().unwrap_err();
        assert!(
            matches!(&err, DecodeError::Oversized { line: 1, reason } if reason.contains("byte offset 9")),
            "{err}"
        );
    }
}
