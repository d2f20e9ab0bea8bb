//! The text under the XML parser: which encoding to decode with (BOM, the `encoding` key, the XML
//! declaration, a guess with `encoding = "detect"`), and [`Tracked`], a [`BufRead`] over the charset decoder that counts lines, keeps a
//! copy of the record being read (for dead letters) and stops any single parse step that grows
//! past the size limit (an unclosed comment, CDATA section or attribute quote).

use std::io::{self, BufRead, Cursor, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::format::charset::{self, DETECT_BYTES, DecodingReader, Prefixed};

/// Bytes read ahead to find a BOM or the XML declaration.
const SNIFF: usize = 1024;

/// Reads the first bytes of `reader` and picks its encoding: a BOM (applied by the charset
/// decoder), else `configured`, else the XML declaration's `encoding`, else a guess from the
/// first bytes when `detect`, else UTF-8. An unknown label in the declaration is an error naming
/// it.
pub(super) fn sniff<R: Read>(
    mut reader: R,
    configured: Option<&'static Encoding>,
    detect: bool,
) -> io::Result<(Prefixed<R>, Result<&'static Encoding, String>)> {
    let size = if detect { DETECT_BYTES } else { SNIFF };
    let mut head = vec![0; size];
    let mut len = 0;
    while len < size {
        match reader.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(len);
    let encoding = choose(&head, configured).map(|chosen| match chosen {
        Some(encoding) => encoding,
        None if detect => charset::guess(&head, len < size),
        None => UTF_8,
    });
    Ok((Cursor::new(head).chain(reader), encoding))
}

/// The encoding `head` or `configured` settle on; `None` when neither names one.
fn choose(
    head: &[u8],
    configured: Option<&'static Encoding>,
) -> Result<Option<&'static Encoding>, String> {
    if Encoding::for_bom(head).is_some() {
        return Ok(Some(configured.unwrap_or(UTF_8)));
    }
    if let Some(encoding) = configured {
        return Ok(Some(encoding));
    }
    if head.starts_with(&[0x3C, 0, 0x3F, 0]) {
        return Ok(Some(UTF_16LE));
    }
    if head.starts_with(&[0, 0x3C, 0, 0x3F]) {
        return Ok(Some(UTF_16BE));
    }
    let Some(label) = declared_label(head) else {
        return Ok(None);
    };
    match Encoding::for_label(label.as_bytes()) {
        // A declaration readable as ASCII cannot be in UTF-16: the bytes are 8-bit.
        Some(e) if !e.is_ascii_compatible() => Ok(Some(UTF_8)),
        Some(e) if e != encoding_rs::REPLACEMENT => Ok(Some(e)),
        _ => Err(format!(
            "the XML declaration names the encoding \"{label}\", which is unknown; set \
             `encoding` under [format] to the file's real encoding (e.g. \"gbk\", \
             \"iso-8859-1\")"
        )),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>`.
fn declared_label(head: &[u8]) -> Option<String> {
    let decl = head.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&decl[..end]);
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

/// A [`BufRead`] of decoded UTF-8 that tracks what the XML parser consumed.
pub(super) struct Tracked<R> {
    inner: DecodingReader<R>,
    /// Decoded bytes consumed so far.
    consumed: u64,
    /// Line breaks consumed so far.
    newlines: u64,
    /// Where the current parse step (one event) started, and how long it may grow.
    step_start: u64,
    step_line: u64,
    step_limit: u64,
    over_limit: bool,
    /// The bytes consumed since [`Tracked::restart_capture`], up to `capture_limit`.
    capture: Vec<u8>,
    capture_limit: usize,
}

impl<R: Read> Tracked<R> {
    /// Reads the text `inner` decodes; one parse step and one capture may not exceed `limit`
    /// bytes.
    pub fn new(inner: DecodingReader<R>, limit: usize) -> Self {
        Self {
            inner,
            consumed: 0,
            newlines: 0,
            step_start: 0,
            step_line: 1,
            step_limit: limit as u64,
            over_limit: false,
            capture: Vec::new(),
            capture_limit: limit,
        }
    }

    /// The charset decoder, for its malformations and source positions.
    pub fn decoding(&mut self) -> &mut DecodingReader<R> {
        &mut self.inner
    }

    /// Marks the start of one parse step: it may consume up to the limit.
    pub fn begin_step(&mut self) {
        self.step_start = self.consumed;
        self.step_line = self.line();
    }

    /// The line the current parse step started on.
    pub fn step_line(&self) -> u64 {
        self.step_line
    }

    /// Whether the last step was stopped for growing past the limit.
    pub fn over_limit(&self) -> bool {
        self.over_limit
    }

    /// Starts a new copy of the consumed bytes.
    pub fn restart_capture(&mut self) {
        self.capture.clear();
    }

    /// The bytes consumed since the last [`Tracked::restart_capture`] (at most the limit).
    pub fn capture(&self) -> &[u8] {
        &self.capture
    }

    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The 1-based line of the next byte.
    pub fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// The line of the consumed decoded offset `at`: exact when `at` lies in the captured bytes,
    /// else the current line.
    pub fn line_at(&self, at: u64) -> u64 {
        let back = self.consumed.saturating_sub(at);
        match usize::try_from(back) {
            Ok(back) if back <= self.capture.len() => {
                let tail = &self.capture[self.capture.len() - back..];
                self.line() - newlines(tail)
            }
            _ => self.line(),
        }
    }

    /// Source byte offset of the consumed decoded offset `at` (exact in UTF-8 without invalid
    /// bytes; approximate inside lines of other encodings).
    pub fn source_offset(&mut self, at: u64) -> u64 {
        let back = self.consumed.saturating_sub(at);
        self.inner.source_position().saturating_sub(back)
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b == b'\n')).sum()
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.consumed - self.step_start > self.step_limit {
            self.over_limit = true;
            return Err(io::Error::other(
                "one XML token is longer than the size limit",
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes consumed are still in the decoder's buffer: asking for it reads nothing.
        if amt > 0
            && let Ok(buf) = self.inner.fill_buf()
        {
            let bytes = &buf[..amt.min(buf.len())];
            self.newlines += newlines(bytes);
            let room = self.capture_limit.saturating_sub(self.capture.len());
            self.capture
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        self.inner.consume(amt);
        self.consumed += amt as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{GBK, WINDOWS_1252};

    fn pick(head: &[u8], configured: Option<&'static Encoding>) -> Result<&'static str, String> {
        choose(head, configured).map(|chosen| chosen.unwrap_or(UTF_8).name())
    }

    #[test]
    fn bom_then_configured_then_declaration_then_utf8() {
        let gbk_decl = b"<?xml version=\"1.0\" encoding='GBK' ?><a/>";
        assert_eq!(pick(gbk_decl, None), Ok("GBK"));
        assert_eq!(pick(gbk_decl, Some(WINDOWS_1252)), Ok("windows-1252"));
        assert_eq!(pick(b"<?xml version=\"1.0\"?><a/>", None), Ok("UTF-8"));
        assert_eq!(pick(b"<a/>", None), Ok("UTF-8"));
        assert_eq!(
            pick(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>", None),
            Ok("windows-1252")
        );
        assert_eq!(pick(b"<?xml encoding=\"UTF-16\"?>", None), Ok("UTF-8"));
        assert_eq!(pick(b"<\0?\0x\0", None), Ok("UTF-16LE"));
        let err = pick(b"<?xml version=\"1.0\" encoding=\"klingon\"?>", None).unwrap_err();
        assert!(
            err.contains("\"klingon\"") && err.contains("`encoding`"),
            "{err}"
        );
    }

    #[test]
    fn the_sniffed_bytes_are_read_again() {
        let source = b"<?xml encoding=\"gbk\"?><a>\xC4\xE3</a>";
        let (mut reader, encoding) = sniff(&source[..], None, false).unwrap();
        assert_eq!(encoding, Ok(GBK));
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, source);
    }

    #[test]
    fn tracked_counts_lines_captures_and_stops_long_steps() {
        let mut t = Tracked::new(DecodingReader::new(&b"ab\ncd\nef"[..], UTF_8), 4);
        t.begin_step();
        let mut out = [0; 3];
        t.read_exact(&mut out).unwrap();
        assert_eq!((t.line(), t.consumed(), t.capture()), (2, 3, &b"ab\n"[..]));
        assert_eq!(t.line_at(1), 1);
        t.restart_capture();
        t.read_exact(&mut out[..2]).unwrap();
        assert_eq!(t.line_at(4), 2);
        assert!(t.fill_buf().is_err());
        assert!(t.over_limit());
        t.begin_step();
        assert_eq!(t.fill_buf().unwrap(), b"\nef");
    }
}
