//! The EDIFACT decoder (`[format] type = "edifact"`): interchanges → one record per message.
//!
//! The input is charset-decoded first (the `encoding` key, else the charset the first UNB's
//! syntax identifier names; a BOM overrides both), then read segment by segment
//! ([`tokenizer`]). The envelope is followed and checked: UNB…UNZ interchanges (any number per
//! file, on one line or many), optional UNG…UNE groups, UNH…UNT messages. Each message becomes a
//! [`Record`] whose tree ([`tree`]) holds its segments by tag and qualifier, nested in segment
//! groups; its origin is the UNH's line and byte offset, its locator `UNB <ref> / UNH <ref>`.
//! A message whose UNT count or reference is wrong, or that holds a bad segment or bad bytes, is a
//! [`RecordError`] whose raw bytes are the message's text; a wrong UNZ or UNE count is a record
//! error of its own after the messages (they were read and checked each by its UNT). The input
//! ending inside a message or an interchange is fatal.

mod spec;
mod syntax;
mod tokenizer;
mod tree;

pub use spec::{EdifactSpec, Groups, Members, parse_spec};

use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::sync::Arc;

use super::DecodeError;
use super::charset::{self, DecodingReader, Prefixed};
use super::record::{Body, Origin, Record, RecordError};
use spec::is_tag;
use tokenizer::{Segment, Token, Tokenizer};

/// The records of one input.
pub fn decoder<'a, R: Read + Send + 'a>(
    spec: &EdifactSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send + 'a {
    EdifactDecoder {
        reader: Some(reader),
        tokenizer: None,
        spec: spec.clone(),
        connector,
        file,
        charset: String::new(),
        queue: VecDeque::new(),
        done: false,
        started: false,
        una: None,
        interchange: None,
        message: None,
    }
}

/// Streams the messages of one input.
struct EdifactDecoder<R> {
    /// The input until its first bytes are read to pick the charset.
    reader: Option<R>,
    tokenizer: Option<Tokenizer<Prefixed<R>>>,
    spec: EdifactSpec,
    connector: Arc<str>,
    file: Arc<str>,
    /// Where the charset comes from, for messages about bad bytes.
    charset: String,
    /// Results ready to hand out.
    queue: VecDeque<Result<Record, DecodeError>>,
    done: bool,
    /// A segment other than UNA has been read.
    started: bool,
    /// The UNA read for the next interchange.
    una: Option<Segment>,
    interchange: Option<Interchange>,
    message: Option<Message>,
}

/// An open UNB…UNZ interchange.
struct Interchange {
    unb: Segment,
    una: Option<Segment>,
    /// UNH segments read in it.
    messages: u64,
    /// UNG segments read in it.
    groups: u64,
    group: Option<FunctionalGroup>,
}

/// An open UNG…UNE functional group.
struct FunctionalGroup {
    ung: Segment,
    messages: u64,
}

/// An open UNH…UNT message.
struct Message {
    unh: Segment,
    body: Vec<Segment>,
    /// Its text as read (after a UNA of its interchange, to read it again alike).
    raw: String,
    /// Segments so far, UNH included.
    count: u64,
    /// The first thing wrong with it: the segment's number and why.
    problem: Option<(u64, String)>,
    /// It grew past `max_message_bytes`: its body is dropped, its raw text cut there.
    oversized: bool,
}

impl<R: Read> Iterator for EdifactDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                if matches!(&item, Err(e) if e.is_fatal()) {
                    self.done = true;
                    self.queue.clear();
                }
                return Some(item);
            }
            if self.done {
                return None;
            }
            if let Err(error) = self.step() {
                self.queue.push_back(Err(error));
            }
        }
    }
}

impl<R: Read> EdifactDecoder<R> {
    /// Reads one token and queues what it completes; at the end of input checks that nothing is
    /// left open.
    fn step(&mut self) -> Result<(), DecodeError> {
        let token = match self.tokenizer()? {
            Some(tokenizer) => tokenizer.next_token()?,
            None => None,
        };
        match token {
            Some(Token::Una(una)) => {
                let cause = format!("a UNA at line {} starts a new interchange", una.line);
                self.close_open(&cause);
                self.una = Some(una);
            }
            Some(Token::Segment(segment)) => self.segment(segment)?,
            None => self.end()?,
        }
        Ok(())
    }

    /// The tokenizer, set up on first use: the first bytes pick the charset.
    fn tokenizer(&mut self) -> Result<Option<&mut Tokenizer<Prefixed<R>>>, DecodeError> {
        if let Some(mut reader) = self.reader.take() {
            let detect = self.spec.charset.detect;
            let size = if detect { charset::DETECT_BYTES } else { 0 };
            let sniffed = syntax::sniff(&mut reader, size).map_err(DecodeError::Io)?;
            let identifier = sniffed.identifier.as_deref();
            let named = identifier.and_then(|id| Some((id, syntax::charset_of(id)?)));
            let (encoding, source) = match (self.spec.encoding, named) {
                (Some(encoding), _) => (encoding, "from `encoding`".to_string()),
                (None, Some((id, encoding))) => {
                    (encoding, format!("named by the syntax identifier {id}"))
                }
                (None, None) if detect => {
                    let complete = sniffed.prefix.len() < size;
                    let guess = charset::guess(&sniffed.prefix, complete);
                    (guess, "guessed from the first bytes".to_string())
                }
                (None, None) => match identifier {
                    Some(id) => (encoding_rs::UTF_8, format!("the default: {id} names none")),
                    None => (encoding_rs::UTF_8, "the default".to_string()),
                },
            };
            self.charset = format!(
                "(the charset is {}, {source}; set `encoding` under [format] to the one the \
                 sender really uses)",
                encoding.name()
            );
            let input = DecodingReader::new(Cursor::new(sniffed.prefix).chain(reader), encoding)
                .with_invalid_bytes(self.spec.charset.invalid, &self.connector, &self.file);
            self.tokenizer = Some(Tokenizer::new(input, self.spec.max_message_bytes));
        }
        Ok(self.tokenizer.as_mut())
    }

    /// Handles one segment.
    fn segment(&mut self, segment: Segment) -> Result<(), DecodeError> {
        if !std::mem::replace(&mut self.started, true) && !is_tag(&segment.tag) {
            return Err(not_edifact(&segment));
        }
        match segment.tag.as_str() {
            "UNB" => self.interchange_header(segment),
            "UNG" => self.group_header(segment),
            "UNH" => self.message_header(segment),
            "UNT" => self.message_trailer(segment),
            "UNE" => self.group_trailer(segment),
            "UNZ" => self.interchange_trailer(segment),
            _ => match self.message.as_mut() {
                Some(message) => message.add(segment, self.spec.max_message_bytes, &self.charset),
                None => self.stray(segment),
            },
        }
        Ok(())
    }

    fn interchange_header(&mut self, unb: Segment) {
        let cause = format!("a UNB at line {} starts a new interchange", unb.line);
        self.close_open(&cause);
        self.check_envelope_segment(&unb);
        self.interchange = Some(Interchange {
            unb,
            una: self.una.take(),
            messages: 0,
            groups: 0,
            group: None,
        });
    }

    fn group_header(&mut self, ung: Segment) {
        self.cut_message(&format!("a UNG at line {} starts a group", ung.line));
        self.check_envelope_segment(&ung);
        match self.interchange.as_mut() {
            Some(interchange) => {
                interchange.groups += 1;
                interchange.group = Some(FunctionalGroup { ung, messages: 0 });
            }
            None => self.stray(ung),
        }
    }

    fn message_header(&mut self, unh: Segment) {
        self.cut_message(&format!("the next UNH starts at line {}", unh.line));
        if let Some(interchange) = self.interchange.as_mut() {
            interchange.messages += 1;
            if let Some(group) = interchange.group.as_mut() {
                group.messages += 1;
            }
        }
        let mut raw = match self.interchange.as_ref().and_then(|i| i.una.as_ref()) {
            Some(una) => una.raw.clone(),
            None => String::new(),
        };
        raw.push_str(&unh.raw);
        self.message = Some(Message {
            problem: problem_of(&unh, 1, &self.charset),
            unh,
            body: Vec::new(),
            raw,
            count: 1,
            oversized: false,
        });
    }

    fn message_trailer(&mut self, unt: Segment) {
        let Some(mut message) = self.message.take() else {
            return self.stray(unt);
        };
        message.count += 1;
        if !message.oversized {
            message.raw.push_str(&unt.before);
            message.raw.push_str(&unt.raw);
        }
        let number = message.count;
        if message.problem.is_none() {
            message.problem = problem_of(&unt, number, &self.charset)
                .or_else(|| message.trailer_problem(&unt).map(|r| (number, r)));
        }
        let item = self.finish(message, &unt);
        self.queue.push_back(item);
    }

    fn group_trailer(&mut self, une: Segment) {
        self.cut_message(&format!("a UNE at line {} ends the group", une.line));
        let locator = self.envelope_locator("UNE");
        let group = self.interchange.as_mut().and_then(|i| i.group.take());
        let Some(group) = group else {
            return self.stray(une);
        };
        let what = ("group", "UNG", &group.ung, group.messages, "message");
        if let Some(reason) = count_problem(&une, what) {
            self.envelope_error(&une, locator, reason);
        }
    }

    fn interchange_trailer(&mut self, unz: Segment) {
        self.cut_message(&format!("a UNZ at line {} ends the interchange", unz.line));
        let Some(interchange) = self.interchange.take() else {
            return self.stray(unz);
        };
        let what = match interchange.groups {
            0 => (
                "interchange",
                "UNB",
                &interchange.unb,
                interchange.messages,
                "message",
            ),
            n => ("interchange", "UNB", &interchange.unb, n, "group"),
        };
        if let Some(reason) = count_problem(&unz, what) {
            let locator = format!("{} / UNZ", interchange_reference(&interchange.unb));
            self.envelope_error(&unz, Some(locator), reason);
        }
    }

    /// At the end of the input: anything still open means the file is cut short.
    fn end(&mut self) -> Result<(), DecodeError> {
        self.done = true;
        let line = self.tokenizer.as_ref().map_or(1, Tokenizer::line);
        if let Some(message) = &self.message {
            let reason = format!(
                "the file ends inside message {} (UNH at line {}): no UNT; the file is truncated",
                self.reference_of(&message.unh),
                message.unh.line
            );
            return Err(DecodeError::Input { line, reason });
        }
        if let Some(interchange) = &self.interchange {
            let reason = format!(
                "the file ends inside interchange {} (UNB at line {}): no UNZ; the file is \
                 truncated (the messages before stand)",
                interchange_reference(&interchange.unb),
                interchange.unb.line
            );
            return Err(DecodeError::Input { line, reason });
        }
        Ok(())
    }

    /// Fails an open message and interchange that a new one interrupts.
    fn close_open(&mut self, cause: &str) {
        self.cut_message(cause);
        if let Some(interchange) = self.interchange.take() {
            let reason = format!(
                "interchange {} (UNB at line {}) has no UNZ: {cause}",
                interchange_reference(&interchange.unb),
                interchange.unb.line
            );
            let locator = interchange_reference(&interchange.unb);
            self.envelope_error(&interchange.unb, Some(locator), reason);
        }
    }

    /// Fails an open message that an envelope segment interrupts before its UNT.
    fn cut_message(&mut self, cause: &str) {
        if let Some(mut message) = self.message.take() {
            let reason = format!("the message has no UNT: {cause}");
            message.problem.get_or_insert((message.count, reason));
            let unh = message.unh.clone();
            let item = self.finish(message, &unh);
            self.queue.push_back(item);
        }
    }

    /// A complete message as a record, or as a record error if anything is wrong with it.
    fn finish(&self, message: Message, unt: &Segment) -> Result<Record, DecodeError> {
        let locator = self.locator(&message.unh);
        let mut origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: message.unh.line,
            offset: message.unh.offset,
            locator: Some(locator.as_str().into()),
        };
        let problem = match (message.problem, message.oversized) {
            (Some(problem), _) => Some(problem),
            (None, true) => Some((
                message.count,
                format!(
                    "the message is longer than {} bytes (max_message_bytes); its raw text is \
                     cut there",
                    self.spec.max_message_bytes
                ),
            )),
            (None, false) => None,
        };
        if let Some((number, reason)) = problem {
            origin.locator = Some(format!("{locator}, segment {number}").into());
            return Err(DecodeError::Record(RecordError {
                origin,
                raw: message.raw.into_bytes(),
                reason,
                columns: None,
            }));
        }
        let interchange = self.interchange.as_ref();
        let envelope = tree::Envelope {
            unb: interchange.map(|i| &i.unb),
            ung: interchange.and_then(|i| i.group.as_ref()).map(|g| &g.ung),
            unh: &message.unh,
            unt,
        };
        let tree = tree::message(&envelope, &message.body, &self.spec.groups);
        Ok(Record {
            origin,
            body: Body::Tree(tree),
        })
    }

    /// A segment outside any message: a record error of its own; reading goes on.
    fn stray(&mut self, segment: Segment) {
        let unterminated = match segment.terminated {
            true => "",
            false => " (the file ends before its segment terminator)",
        };
        let reason = if is_tag(&segment.tag) {
            format!(
                "segment {} at line {} is outside any message (UNH … UNT); it is skipped",
                segment.tag, segment.line
            )
        } else {
            format!(
                "{:?} at line {} is not a segment: a segment starts with a tag of three \
                 upper-case letters or digits, such as NAD",
                segment.raw.trim(),
                segment.line
            )
        };
        let reason = format!("{reason}{unterminated}");
        let locator = self.envelope_locator(&segment.tag);
        self.envelope_error(&segment, locator, reason);
    }

    /// Bad bytes in UNB or UNG fail that segment (its messages are still read).
    fn check_envelope_segment(&mut self, segment: &Segment) {
        if let Some(malformation) = &segment.malformation {
            let reason = format!("{}: {malformation} {}", segment.tag, self.charset);
            let locator = match segment.tag.as_str() {
                "UNB" => Some(interchange_reference(segment)),
                tag => self.envelope_locator(tag),
            };
            self.envelope_error(segment, locator, reason);
        }
    }

    /// Queues a record error about an envelope or stray segment, at its own position.
    fn envelope_error(&mut self, segment: &Segment, locator: Option<String>, reason: String) {
        let origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: segment.line,
            offset: segment.offset,
            locator: locator.map(Into::into),
        };
        self.queue.push_back(Err(DecodeError::Record(RecordError {
            origin,
            raw: segment.raw.clone().into_bytes(),
            reason,
            columns: None,
        })));
    }

    /// Where a segment outside the messages sits: `UNB 36790 / UNG 1 / UNE`.
    fn envelope_locator(&self, tag: &str) -> Option<String> {
        let interchange = self.interchange.as_ref()?;
        let mut locator = interchange_reference(&interchange.unb);
        if let Some(group) = &interchange.group {
            locator.push_str(&format!(" / {}", group_reference(&group.ung)));
        }
        Some(format!("{locator} / {tag}"))
    }

    /// `UNB 36790 / UNH 1`, with `UNG <ref>` between them inside a group.
    fn locator(&self, unh: &Segment) -> String {
        let mut parts = Vec::new();
        if let Some(interchange) = &self.interchange {
            parts.push(interchange_reference(&interchange.unb));
            if let Some(group) = &interchange.group {
                parts.push(group_reference(&group.ung));
            }
        }
        parts.push(self.reference_of(unh));
        parts.join(" / ")
    }

    fn reference_of(&self, unh: &Segment) -> String {
        format!("UNH {}", unh.value(1, 0).unwrap_or("?"))
    }
}

impl Message {
    /// Takes a body segment.
    fn add(&mut self, segment: Segment, max_bytes: usize, charset: &str) {
        self.count += 1;
        if self.problem.is_none() {
            self.problem = problem_of(&segment, self.count, charset);
        }
        if self.oversized {
            return;
        }
        self.raw.push_str(&segment.before);
        self.raw.push_str(&segment.raw);
        if self.raw.len() > max_bytes {
            self.oversized = true;
            self.body = Vec::new();
            let mut cut = max_bytes;
            while !self.raw.is_char_boundary(cut) {
                cut -= 1;
            }
            self.raw.truncate(cut);
        } else {
            self.body.push(segment);
        }
    }

    /// What is wrong with the UNT's segment count and reference, if anything.
    fn trailer_problem(&self, unt: &Segment) -> Option<String> {
        let reference = self.unh.value(1, 0).unwrap_or_default();
        let declared = unt.value(1, 0).unwrap_or_default();
        if declared.parse::<u64>().ok() != Some(self.count) {
            return Some(format!(
                "UNT at line {} says the message has {declared:?} segments; it has {} (UNH to \
                 UNT): a segment is missing or extra",
                unt.line, self.count
            ));
        }
        let closes = unt.value(2, 0).unwrap_or_default();
        (closes != reference).then(|| {
            format!(
                "UNT at line {} closes message {closes:?} but the UNH at line {} opened \
                 message {reference:?}",
                unt.line, self.unh.line
            )
        })
    }
}

/// What is wrong with a message's segment number `number`, if anything.
fn problem_of(segment: &Segment, number: u64, charset: &str) -> Option<(u64, String)> {
    let reason = if let Some(malformation) = &segment.malformation {
        format!("{malformation} {charset}")
    } else if !is_tag(&segment.tag) {
        format!(
            "{:?} is not a segment tag (three upper-case letters or digits)",
            segment.tag
        )
    } else {
        return None;
    };
    Some((number, format!("line {}: {reason}", segment.line)))
}

/// What a count check compares: the scope's name, its header's tag and segment, what it holds
/// and the name of that.
type Counted<'a> = (&'a str, &'a str, &'a Segment, u64, &'a str);

/// What is wrong with a UNE or UNZ: its count, or the reference it closes.
fn count_problem(
    trailer: &Segment,
    (scope, tag, header, found, item): Counted<'_>,
) -> Option<String> {
    let declared = trailer.value(1, 0).unwrap_or_default();
    if declared.parse::<u64>().ok() != Some(found) {
        return Some(format!(
            "{} at line {} says the {scope} holds {declared:?} {item}s; it holds {found}: a \
             {item} may have been lost or added in transit (each message read was checked \
             against its own UNT)",
            trailer.tag, trailer.line
        ));
    }
    let opened = header.value(5, 0).unwrap_or_default();
    let closes = trailer.value(2, 0).unwrap_or_default();
    (closes != opened).then(|| {
        format!(
            "{} at line {} closes {scope} {closes:?} but the {tag} at line {} opened {opened:?}",
            trailer.tag, trailer.line, header.line
        )
    })
}

/// `UNG 1`.
fn group_reference(ung: &Segment) -> String {
    format!("UNG {}", ung.value(5, 0).unwrap_or("?"))
}

/// `UNB 36790`.
fn interchange_reference(unb: &Segment) -> String {
    format!("UNB {}", unb.value(5, 0).unwrap_or("?"))
}

/// The input does not start like EDIFACT.
fn not_edifact(segment: &Segment) -> DecodeError {
    let start: String = segment.raw.chars().take(40).collect();
    let reason = if segment.raw.starts_with("STX=") {
        "this is a TRADACOMS file (it starts with STX=), not UN/EDIFACT".to_string()
    } else {
        format!("this is not EDIFACT: it starts with {start:?}, not with UNA, UNB or UNH")
    };
    DecodeError::Input {
        line: segment.line,
        reason,
    }
}

#[cfg(test)]
mod tests;
