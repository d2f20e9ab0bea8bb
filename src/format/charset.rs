//! Charset decoding: a streaming reader that turns bytes in any WHATWG encoding into UTF-8.
//!
//! A BOM overrides the declared encoding and is stripped. Malformed byte sequences are never
//! replaced silently: each one becomes U+FFFD in the output (so parsing goes on) and is logged as a
//! [`Malformation`] that the parser above takes back with
//! [`DecodingReader::take_malformations`] to reject the record that holds it. The reader also maps
//! its read position back to a byte offset in the source ([`DecodingReader::source_position`]):
//! exact everywhere in UTF-8, exact at line starts in the other encodings (but ISO-2022-JP),
//! approximate inside their lines.
//!
//! Two per-connector choices shape this: `encoding = "detect"` guesses each input's charset from
//! its first bytes ([`detect`], chardetng) and `invalid_bytes = "replace"` ([`InvalidBytes`]) keeps
//! records with malformed bytes, the bytes replaced by U+FFFD and each replacement logged with its
//! byte offset, instead of dead-lettering them.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, Chain, Cursor, Read};
use std::sync::Arc;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Decoder, DecoderResult, Encoding};

/// Bytes read from the source at a time, and the size of the decoded-output buffer.
const CHUNK: usize = 64 * 1024;
/// Consumed source bytes kept before the unread ones, to recover the bytes of a malformed sequence
/// that began in an earlier read (at most 6 bytes, for ISO-2022-JP).
const HISTORY: usize = 8;
/// Free output space below which decoding stops and hands out what it has.
const MIN_OUTPUT_SPACE: usize = 16;
/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Bytes read from the start of an input to guess its charset.
pub const DETECT_BYTES: usize = 64 * 1024;
/// Replacements logged one by one per input; the rest are counted in one line at its end.
const REPORTED_REPLACEMENTS: u64 = 10;

/// What a decoder does with bytes that are not text in the input's encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvalidBytes {
    /// The record holding them is a record error: it is dead-lettered with its raw bytes.
    #[default]
    Error,
    /// They become U+FFFD and the record goes on; each replacement is logged with its byte offset.
    Replace,
}

/// A connector's charset choices beyond the encoding itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charset {
    /// `encoding = "detect"`: each input's encoding is guessed from its first bytes ([`detect`]);
    /// the spec's encoding is replaced by the guess before decoding starts.
    pub detect: bool,
    pub invalid: InvalidBytes,
}

/// An input whose first bytes were read ahead (to pick its charset) and put back in front.
pub type Prefixed<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads up to [`DETECT_BYTES`] of `reader` and guesses their charset (a BOM decides at once),
/// giving back the input with those bytes put in front again.
pub fn detect<R: Read>(mut reader: R) -> io::Result<(Prefixed<R>, &'static Encoding)> {
    let mut head = Vec::with_capacity(DETECT_BYTES);
    (&mut reader)
        .take(DETECT_BYTES as u64)
        .read_to_end(&mut head)?;
    let encoding = guess(&head, head.len() < DETECT_BYTES);
    Ok((Cursor::new(head).chain(reader), encoding))
}

/// The charset of `head`, the start of an input (all of it when `complete`): its BOM's, else
/// chardetng's guess.
pub fn guess(head: &[u8], complete: bool) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return encoding;
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(head, complete);
    detector.guess(None, Utf8Detection::Allow)
}

/// Where replaced bytes are reported, and how many so far.
#[derive(Debug)]
struct Replacing {
    connector: Arc<str>,
    file: Arc<str>,
    count: u64,
}

impl Replacing {
    fn report(&mut self, malformation: &Malformation) {
        self.count += 1;
        if self.count <= REPORTED_REPLACEMENTS {
            tracing::warn!(
                connector = %self.connector,
                file = %self.file,
                offset = malformation.source_offset,
                "{malformation} replaced by U+FFFD (invalid_bytes = \"replace\")"
            );
        }
    }

    fn finish(&self) {
        if self.count > REPORTED_REPLACEMENTS {
            tracing::warn!(
                connector = %self.connector,
                file = %self.file,
                "{} invalid byte sequences replaced by U+FFFD in this input ({} more than logged)",
                self.count,
                self.count - REPORTED_REPLACEMENTS
            );
        }
    }
}

/// One malformed byte sequence met while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformation {
    encoding: &'static Encoding,
    output_offset: u64,
    source_offset: u64,
    bytes: [u8; 4],
    len: u8,
}

impl Malformation {
    /// The encoding the source was decoded with.
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    /// Offset of the U+FFFD written in its place, in the decoded UTF-8 output.
    pub fn output_offset(&self) -> u64 {
        self.output_offset
    }

    /// Offset of the first bad byte in the source.
    pub fn source_offset(&self) -> u64 {
        self.source_offset
    }

    /// The bad bytes (1 to 4).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} byte sequence", self.encoding.name())?;
        for byte in self.bytes() {
            write!(f, " 0x{byte:02X}")?;
        }
        write!(f, " at byte offset {}", self.source_offset)
    }
}

/// A point where an output offset and a source offset are known to correspond exactly.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    output: u64,
    source: u64,
}

/// How a line break looks in the source, for placing anchors at line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineBreak {
    /// UTF-8 maps offsets one to one between malformations: no anchors needed.
    Untracked,
    /// Any other ASCII-compatible encoding: the byte 0x0A.
    Byte,
    /// UTF-16: the code unit 0x000A, at an even offset.
    Utf16 { big_endian: bool },
}

impl LineBreak {
    fn of(encoding: &'static Encoding) -> Self {
        if encoding == encoding_rs::UTF_8 {
            Self::Untracked
        } else if encoding == encoding_rs::UTF_16LE {
            Self::Utf16 { big_endian: false }
        } else if encoding == encoding_rs::UTF_16BE {
            Self::Utf16 { big_endian: true }
        } else if encoding.is_ascii_compatible() {
            Self::Byte
        } else {
            Self::Untracked
        }
    }
}

/// Reads bytes in one encoding, yields UTF-8 (as [`Read`] and [`BufRead`]), with bounded buffers.
pub struct DecodingReader<R> {
    inner: R,
    declared: &'static Encoding,
    decoder: Option<Decoder>,
    line_break: LineBreak,
    input: Box<[u8]>,
    in_pos: usize,
    in_len: usize,
    /// Source offset of `input[0]`.
    in_base: u64,
    eof: bool,
    output: Box<[u8]>,
    out_pos: usize,
    out_len: usize,
    /// Output bytes produced so far: the output offset of `output[out_len]`.
    produced: u64,
    finished: bool,
    malformations: VecDeque<Malformation>,
    /// Set with `invalid_bytes = "replace"`: malformations are logged here instead of kept.
    replacing: Option<Replacing>,
    anchors: VecDeque<Anchor>,
}

impl<R: Read> DecodingReader<R> {
    /// Decodes `inner` from `encoding`, unless the source starts with a BOM.
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        Self {
            inner,
            declared: encoding,
            decoder: None,
            line_break: LineBreak::of(encoding),
            input: vec![0; HISTORY + CHUNK].into_boxed_slice(),
            in_pos: 0,
            in_len: 0,
            in_base: 0,
            eof: false,
            output: vec![0; CHUNK].into_boxed_slice(),
            out_pos: 0,
            out_len: 0,
            produced: 0,
            finished: false,
            malformations: VecDeque::new(),
            replacing: None,
            anchors: VecDeque::new(),
        }
    }

    /// Applies `invalid`: with [`InvalidBytes::Replace`], malformed sequences are logged (naming
    /// `connector` and `file`) and never handed to the parser, so no record is rejected for them.
    pub fn with_invalid_bytes(
        mut self,
        invalid: InvalidBytes,
        connector: &Arc<str>,
        file: &Arc<str>,
    ) -> Self {
        self.replacing = (invalid == InvalidBytes::Replace).then(|| Replacing {
            connector: Arc::clone(connector),
            file: Arc::clone(file),
            count: 0,
        });
        self
    }

    /// The encoding in use: the declared one, or the BOM's once the first bytes are read.
    pub fn encoding(&self) -> &'static Encoding {
        self.decoder
            .as_ref()
            .map_or(self.declared, Decoder::encoding)
    }

    /// Offset of the next byte to be read, in the decoded UTF-8 output.
    pub fn position(&self) -> u64 {
        self.produced - (self.out_len - self.out_pos) as u64
    }

    /// Source offset of the next byte to be read: exact at the start of a line (and everywhere in
    /// UTF-8), approximate inside a line of other encodings.
    pub fn source_position(&mut self) -> u64 {
        let position = self.position();
        while self.anchors.len() > 1 && self.anchors[1].output <= position {
            self.anchors.pop_front();
        }
        self.anchors
            .front()
            .map_or(position, |a| a.source + position.saturating_sub(a.output))
    }

    /// Removes and yields the malformations in the output read so far, oldest first.
    ///
    /// Malformations are kept until taken: a parser takes them once per record.
    pub fn take_malformations(&mut self) -> impl Iterator<Item = Malformation> + '_ {
        let position = self.position();
        let count = self
            .malformations
            .iter()
            .take_while(|m| m.output_offset < position)
            .count();
        self.malformations.drain(..count)
    }

    /// Refills the output buffer once it has been read entirely.
    fn decode_more(&mut self) -> io::Result<()> {
        self.out_pos = 0;
        self.out_len = 0;
        // Everything decoded so far has been read: only the last anchor can still be needed.
        let stale = self.anchors.len().saturating_sub(1);
        self.anchors.drain(..stale);
        if self.decoder.is_none() {
            self.start()?;
        }
        while !self.finished {
            if self.in_pos == self.feed_end() && !self.eof {
                if self.out_len > 0 {
                    break;
                }
                self.fill_input()?;
            } else if self.output.len() - self.out_len < MIN_OUTPUT_SPACE + REPLACEMENT.len()
                || !self.decode_segment()
            {
                break;
            }
        }
        Ok(())
    }

    /// Sniffs the BOM and sets up the decoder.
    fn start(&mut self) -> io::Result<()> {
        while self.in_len < 3 && !self.eof {
            self.fill_input()?;
        }
        let (encoding, bom) =
            Encoding::for_bom(&self.input[..self.in_len]).unwrap_or((self.declared, 0));
        self.in_pos = bom;
        self.line_break = LineBreak::of(encoding);
        self.anchors.push_back(Anchor {
            output: 0,
            source: bom as u64,
        });
        self.decoder = Some(encoding.new_decoder_without_bom_handling());
        Ok(())
    }

    /// Reads more source bytes, keeping a little history and any unfed bytes at the front.
    fn fill_input(&mut self) -> io::Result<()> {
        let keep_from = self.in_pos.saturating_sub(HISTORY);
        self.input.copy_within(keep_from..self.in_len, 0);
        self.in_base += keep_from as u64;
        self.in_pos -= keep_from;
        self.in_len -= keep_from;
        loop {
            match self.inner.read(&mut self.input[self.in_len..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.in_len += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// End of the input that may be fed now: UTF-16 holds back an odd byte until more arrives,
    /// so that a line break is never split between two feeds.
    fn feed_end(&self) -> usize {
        let odd = (self.in_base + self.in_len as u64) % 2 == 1;
        match self.line_break {
            LineBreak::Utf16 { .. } if odd && !self.eof => self.in_len - 1,
            _ => self.in_len,
        }
    }

    /// End of the next segment to feed, and whether it ends just after a line break.
    fn segment_end(&self, feed_end: usize) -> (usize, bool) {
        let from = self.in_pos;
        let found = match self.line_break {
            LineBreak::Untracked => None,
            LineBreak::Byte => self.input[from..feed_end]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| from + i + 1),
            LineBreak::Utf16 { big_endian } => {
                let aligned = from + ((self.in_base + from as u64) % 2) as usize;
                let unit: [u8; 2] = if big_endian { [0, b'\n'] } else { [b'\n', 0] };
                self.input[aligned.min(feed_end)..feed_end]
                    .chunks_exact(2)
                    .position(|pair| pair == unit)
                    .map(|i| aligned + 2 * i + 2)
            }
        };
        found.map_or((feed_end, false), |end| (end, true))
    }

    /// Decodes one segment (up to a line break, or all there is); false once output is full or
    /// the source is finished.
    fn decode_segment(&mut self) -> bool {
        let (end, at_line_break) = self.segment_end(self.feed_end());
        let last = self.eof && end == self.in_len;
        let Some(decoder) = self.decoder.as_mut() else {
            return false;
        };
        let limit = self.output.len() - REPLACEMENT.len();
        let (result, read, written) = decoder.decode_to_utf8_without_replacement(
            &self.input[self.in_pos..end],
            &mut self.output[self.out_len..limit],
            last,
        );
        self.in_pos += read;
        self.out_len += written;
        self.produced += written as u64;
        match result {
            DecoderResult::InputEmpty => {
                if at_line_break {
                    self.anchor(self.in_pos);
                }
                self.finished = last;
                if last && let Some(replacing) = &self.replacing {
                    replacing.finish();
                }
                !last
            }
            DecoderResult::OutputFull => false,
            DecoderResult::Malformed(bad, extra) => {
                self.malformed(usize::from(bad), usize::from(extra));
                true
            }
        }
    }

    /// Logs a malformed sequence that ends `extra` bytes before the read position, and writes
    /// U+FFFD in its place.
    fn malformed(&mut self, bad: usize, extra: usize) {
        let end = self.in_pos.saturating_sub(extra);
        let start = end.saturating_sub(bad);
        let mut bytes = [0; 4];
        let len = (end - start).min(bytes.len());
        bytes[..len].copy_from_slice(&self.input[start..start + len]);
        let malformation = Malformation {
            encoding: self.encoding(),
            output_offset: self.produced,
            source_offset: self.in_base + start as u64,
            bytes,
            len: len as u8,
        };
        match &mut self.replacing {
            Some(replacing) => replacing.report(&malformation),
            None => self.malformations.push_back(malformation),
        }
        self.output[self.out_len..self.out_len + REPLACEMENT.len()].copy_from_slice(REPLACEMENT);
        self.out_len += REPLACEMENT.len();
        self.produced += REPLACEMENT.len() as u64;
        self.anchor(end);
    }

    /// Records that the output produced so far corresponds to the source up to `input[index]`.
    fn anchor(&mut self, index: usize) {
        self.anchors.push_back(Anchor {
            output: self.produced,
            source: self.in_base + index as u64,
        });
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for DecodingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.out_pos == self.out_len && !self.finished {
            self.decode_more()?;
        }
        Ok(&self.output[self.out_pos..self.out_len])
    }

    fn consume(&mut self, amt: usize) {
        self.out_pos = (self.out_pos + amt).min(self.out_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{BIG5, GBK, SHIFT_JIS, UTF_8, UTF_16LE, WINDOWS_1252};

    /// Hands out its bytes `step` at a time, to cross every buffer boundary.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn read_all(reader: &mut impl Read) -> String {
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        out
    }

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let units = text.encode_utf16().flat_map(u16::to_le_bytes);
        let prefix: &[u8] = if bom { b"\xFF\xFE" } else { b"" };
        prefix.iter().copied().chain(units).collect()
    }

    /// Reads line by line, checking the source position at every line start.
    fn check_line_starts<R: Read>(
        reader: &mut DecodingReader<R>,
        bom: u64,
        lines: &[Vec<u8>],
        decoded: &[&str],
    ) {
        let mut expected_offset = bom;
        for (raw, text) in lines.iter().zip(decoded) {
            reader.fill_buf().unwrap();
            assert_eq!(reader.source_position(), expected_offset);
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).unwrap();
            assert_eq!(String::from_utf8(line).unwrap(), *text);
            expected_offset += raw.len() as u64;
        }
    }

    #[test]
    fn utf8_bom_overrides_the_declared_encoding_and_is_stripped() {
        let mut reader = DecodingReader::new(&b"\xEF\xBB\xBFid,caf\xC3\xA9\n"[..], GBK);
        assert_eq!(read_all(&mut reader), "id,café\n");
        assert_eq!(reader.encoding(), UTF_8);
    }

    #[test]
    fn utf8_without_bom_passes_through() {
        let mut reader = DecodingReader::new("名,值\n".as_bytes(), UTF_8);
        assert_eq!(read_all(&mut reader), "名,值\n");
    }

    #[test]
    fn utf16_bom_is_sniffed() {
        let bytes = utf16le("名,值\n甲,乙\n", true);
        let mut reader = DecodingReader::new(&bytes[..], WINDOWS_1252);
        assert_eq!(read_all(&mut reader), "名,值\n甲,乙\n");
        assert_eq!(reader.encoding(), UTF_16LE);
    }

    #[test]
    fn multibyte_characters_survive_one_byte_reads() {
        let text = "和珅|亅|功夫\n".repeat(50);
        let (gbk, _, _) = GBK.encode(&text);
        let mut reader = DecodingReader::new(
            Trickle {
                bytes: &gbk,
                step: 1,
            },
            GBK,
        );
        assert_eq!(read_all(&mut reader), text);
        let text = text.replace('珅', "許").replace('亅', "蓋");
        let (big5, _, _) = BIG5.encode(&text);
        let mut reader = DecodingReader::new(
            Trickle {
                bytes: &big5,
                step: 3,
            },
            BIG5,
        );
        assert_eq!(read_all(&mut reader), text);
    }

    #[test]
    fn malformed_bytes_are_replaced_and_logged() {
        let mut reader = DecodingReader::new(&b"ab\x81\x7Fcd\n\xFFe\n"[..], GBK);
        assert_eq!(read_all(&mut reader), "ab\u{FFFD}\u{7F}cd\n\u{FFFD}e\n");
        let found: Vec<_> = reader.take_malformations().collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].bytes(), b"\x81");
        assert_eq!(found[0].source_offset(), 2);
        assert_eq!(found[0].output_offset(), 2);
        assert_eq!(found[0].encoding(), GBK);
        assert_eq!(
            found[0].to_string(),
            "invalid GBK byte sequence 0x81 at byte offset 2"
        );
        assert_eq!(found[1].bytes(), b"\xFF");
        assert_eq!(found[1].source_offset(), 7);
        assert_eq!(reader.take_malformations().count(), 0);
    }

    #[test]
    fn malformations_are_taken_only_up_to_the_read_position() {
        let mut reader = DecodingReader::new(&b"a\xFF\nb\xFF\n"[..], UTF_8);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        assert_eq!(reader.take_malformations().count(), 1);
        assert_eq!(reader.take_malformations().count(), 0);
        reader.read_until(b'\n', &mut line).unwrap();
        let second: Vec<_> = reader.take_malformations().collect();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].source_offset(), 4);
    }

    #[test]
    fn a_sequence_split_across_reads_is_reported_whole() {
        let mut reader = DecodingReader::new(
            Trickle {
                bytes: b"x\xE4\xB8\nz",
                step: 1,
            },
            UTF_8,
        );
        assert_eq!(read_all(&mut reader), "x\u{FFFD}\nz");
        let found: Vec<_> = reader.take_malformations().collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].bytes(), b"\xE4\xB8");
        assert_eq!(found[0].source_offset(), 1);
    }

    #[test]
    fn line_starts_map_exactly_to_source_offsets() {
        let decoded: Vec<String> = (0..20_000)
            .map(|i| format!("{i}|和珅{}|€\n", "乙".repeat(i % 7)))
            .collect();
        let decoded: Vec<&str> = decoded.iter().map(String::as_str).collect();
        for (encoding, bom) in [(GBK, 0), (UTF_8, 3), (UTF_16LE, 2)] {
            let lines: Vec<Vec<u8>> = decoded
                .iter()
                .map(|l| match encoding == UTF_16LE {
                    true => utf16le(l, false),
                    false => encoding.encode(l).0.into_owned(),
                })
                .collect();
            let mut source: Vec<u8> = match bom {
                3 => b"\xEF\xBB\xBF".to_vec(),
                2 => b"\xFF\xFE".to_vec(),
                _ => Vec::new(),
            };
            source.extend(lines.concat());
            for step in [4099, 1 << 20] {
                let mut reader = DecodingReader::new(
                    Trickle {
                        bytes: &source,
                        step,
                    },
                    encoding,
                );
                check_line_starts(&mut reader, bom, &lines, &decoded);
            }
        }
    }

    #[test]
    fn offsets_stay_exact_after_a_malformation_in_utf8() {
        let mut reader = DecodingReader::new(&b"a\xFF\xFEb\nc\n"[..], UTF_8);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        assert_eq!(reader.source_position(), 5);
    }

    #[test]
    fn expanding_single_byte_text_fills_many_buffers() {
        let source = b"\x80\x80\x80\n".repeat(40_000);
        let mut reader = DecodingReader::new(&source[..], WINDOWS_1252);
        assert_eq!(read_all(&mut reader), "€€€\n".repeat(40_000));
        assert_eq!(reader.take_malformations().count(), 0);
    }

    #[test]
    fn empty_input_reads_nothing() {
        let mut reader = DecodingReader::new(&b""[..], GBK);
        assert_eq!(read_all(&mut reader), "");
        assert_eq!(reader.source_position(), 0);
    }

    /// Short texts are ambiguous between the CJK charsets: a few lines of real-looking data
    /// are enough for chardetng.
    const STORES_SIMPLIFIED: &str = "门店编号,商品名称,数量,单价,金额\n\
        0101,康师傅红烧牛肉面,12,4.50,54.00\n0102,农夫山泉矿泉水550毫升,24,2.00,48.00\n\
        0103,伊利纯牛奶250毫升,6,3.20,19.20\n上海市浦东新区世纪大道店,北京朝阳区望京店\n";
    const STORES_TRADITIONAL: &str = "門市編號,商品名稱,數量\n0101,統一肉燥麵,12\n\
        0102,臺灣啤酒,24\n臺北市信義區忠孝東路店,高雄市前鎮區中華五路店\n";

    #[test]
    fn detect_guesses_the_charset_and_gives_every_byte_back() {
        let samples = [
            (GBK, GBK.encode(STORES_SIMPLIFIED).0.into_owned()),
            (BIG5, BIG5.encode(STORES_TRADITIONAL).0.into_owned()),
            (
                SHIFT_JIS,
                SHIFT_JIS
                    .encode("店舗,商品名,数量\n東京,おにぎり,12\n大阪,お茶,3\n")
                    .0
                    .into_owned(),
            ),
            (UTF_8, STORES_SIMPLIFIED.as_bytes().to_vec()),
            (UTF_16LE, utf16le(STORES_SIMPLIFIED, true)),
        ];
        for (expected, bytes) in samples {
            let (mut reader, guessed) = detect(&bytes[..]).unwrap();
            assert_eq!(guessed, expected, "{}", expected.name());
            let mut back = Vec::new();
            reader.read_to_end(&mut back).unwrap();
            assert_eq!(back, bytes);
        }
    }

    #[test]
    fn detect_reads_a_bounded_head_of_a_long_input() {
        let bytes = GBK.encode(STORES_SIMPLIFIED).0.repeat(1_000);
        let mut counting = Trickle {
            bytes: &bytes,
            step: 4096,
        };
        let (reader, guessed) = detect(&mut counting).unwrap();
        assert_eq!(guessed, GBK);
        assert_eq!(reader.get_ref().0.get_ref().len(), DETECT_BYTES);
    }

    #[test]
    fn replacing_hands_no_malformation_to_the_parser() {
        let connector: Arc<str> = "pos".into();
        let file: Arc<str> = "a.csv".into();
        let mut reader = DecodingReader::new(&b"a\xFF\nb\xFE\n"[..], UTF_8).with_invalid_bytes(
            InvalidBytes::Replace,
            &connector,
            &file,
        );
        assert_eq!(read_all(&mut reader), "a\u{FFFD}\nb\u{FFFD}\n");
        assert_eq!(reader.take_malformations().count(), 0);
        assert_eq!(reader.replacing.as_ref().map(|r| r.count), Some(2));
        let mut erroring = DecodingReader::new(&b"a\xFF\n"[..], UTF_8).with_invalid_bytes(
            InvalidBytes::Error,
            &connector,
            &file,
        );
        read_all(&mut erroring);
        assert_eq!(erroring.take_malformations().count(), 1);
    }
}
