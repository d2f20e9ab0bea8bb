//! EDIFACT service characters (the UNA service string advice and the defaults) and the charset a
//! UNB syntax identifier names.

use std::io::{self, Read};

use encoding_rs::Encoding;

/// Bytes read from the start of an input to find the first UNB's syntax identifier.
const SNIFF_BYTES: usize = 1024;

/// The separators of one interchange: ASCII bytes of the decoded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separators {
    pub component: u8,
    pub element: u8,
    pub release: Option<u8>,
    pub repetition: Option<u8>,
    pub terminator: u8,
}

impl Default for Separators {
    /// ISO 9735 level A defaults, without the repetition separator of syntax version 4.
    fn default() -> Self {
        Self {
            component: b':',
            element: b'+',
            release: Some(b'?'),
            repetition: None,
            terminator: b'\'',
        }
    }
}

impl Separators {
    /// The separators a UNA service string advice declares: the six characters after `UNA`
    /// (component, element, decimal mark, release, repetition, terminator). A space as release or
    /// repetition character means none.
    pub fn from_una(chars: &[u8; 6]) -> Result<Self, String> {
        let line_break = |i: usize, c: u8| matches!(c, b'\r' | b'\n') && i != 5;
        if let Some((_, &bad)) = chars
            .iter()
            .enumerate()
            .find(|&(i, &c)| !c.is_ascii() || line_break(i, c))
        {
            return Err(format!(
                "the UNA service string advice declares {} as a separator; only ASCII \
                 characters other than line breaks can be separators",
                describe(bad)
            ));
        }
        let optional = |c: u8| (c != b' ').then_some(c);
        let separators = Self {
            component: chars[0],
            element: chars[1],
            release: optional(chars[3]),
            repetition: optional(chars[4]),
            terminator: chars[5],
        };
        let mut used = vec![
            separators.component,
            separators.element,
            separators.terminator,
        ];
        used.extend(separators.release);
        used.extend(separators.repetition);
        let mut sorted = used.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != used.len() {
            return Err(format!(
                "the UNA service string advice \"UNA{}\" uses one character for two roles",
                String::from_utf8_lossy(chars)
            ));
        }
        Ok(separators)
    }
}

/// A byte as a message shows it.
fn describe(byte: u8) -> String {
    match byte {
        b'\n' => "a line feed".into(),
        b'\r' => "a carriage return".into(),
        b if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
        b => format!("the byte 0x{b:02X}"),
    }
}

/// The charset of a syntax identifier (UNB element 1, first component), if it names one.
pub fn charset_of(identifier: &str) -> Option<&'static Encoding> {
    let label: &[u8] = match identifier {
        // UNOA and UNOB are ASCII subsets: read as UTF-8 so that a stray byte fails its message
        // instead of turning into a guessed letter.
        "UNOA" | "UNOB" | "UNOW" | "UNOY" => b"utf-8",
        "UNOC" => b"iso-8859-1",
        "UNOD" => b"iso-8859-2",
        "UNOE" => b"iso-8859-5",
        "UNOF" => b"iso-8859-7",
        "UNOG" => b"iso-8859-3",
        "UNOH" => b"iso-8859-4",
        "UNOI" => b"iso-8859-6",
        "UNOJ" => b"iso-8859-8",
        "UNOK" => b"iso-8859-9",
        "KECA" => b"euc-kr",
        _ => return None,
    };
    Encoding::for_label(label)
}

/// The start of an input, read to pick its charset, and the syntax identifier found in it.
pub struct Sniffed {
    /// The bytes read; they are decoded before the rest of the input.
    pub prefix: Vec<u8>,
    /// The syntax identifier of the first UNB, when one is in the prefix.
    pub identifier: Option<String>,
}

/// Reads the first bytes of `reader` (at least `size`, if it has them) and finds the first UNB's
/// syntax identifier in them.
pub fn sniff<R: Read>(reader: &mut R, size: usize) -> io::Result<Sniffed> {
    let mut prefix = vec![0; size.max(SNIFF_BYTES)];
    let mut len = 0;
    while len < prefix.len() {
        match reader.read(&mut prefix[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    prefix.truncate(len);
    let identifier = syntax_identifier(&prefix);
    Ok(Sniffed { prefix, identifier })
}

/// `UNOC` from `…UNB+UNOC:3+…`, whatever the element separator.
fn syntax_identifier(bytes: &[u8]) -> Option<String> {
    let at = bytes.windows(3).position(|w| w == b"UNB")?;
    let rest = bytes.get(at + 4..)?;
    let end = rest.iter().position(|b| !b.is_ascii_alphanumeric())?;
    let identifier = std::str::from_utf8(&rest[..end]).ok()?;
    (!identifier.is_empty()).then(|| identifier.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn una_declares_separators_and_space_means_none() {
        let separators = Separators::from_una(b"^*.? $").unwrap();
        assert_eq!(separators.component, b'^');
        assert_eq!(separators.element, b'*');
        assert_eq!(separators.release, Some(b'?'));
        assert_eq!(separators.repetition, None);
        assert_eq!(separators.terminator, b'$');
        let v4 = Separators::from_una(b":+.?*'").unwrap();
        assert_eq!(v4.repetition, Some(b'*'));
    }

    #[test]
    fn una_refuses_line_breaks_and_clashes() {
        let err = Separators::from_una(b":\n.? '").unwrap_err();
        assert!(err.contains("a line feed"), "{err}");
        let err = Separators::from_una(b"::.? '").unwrap_err();
        assert!(err.contains("two roles"), "{err}");
        let lf = Separators::from_una(b":+.? \n").unwrap();
        assert_eq!(lf.terminator, b'\n');
    }

    #[test]
    fn syntax_identifiers_name_charsets() {
        assert_eq!(charset_of("UNOC"), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(charset_of("UNOE"), Some(encoding_rs::ISO_8859_5));
        assert_eq!(charset_of("UNOY"), Some(encoding_rs::UTF_8));
        assert_eq!(charset_of("UNOA"), Some(encoding_rs::UTF_8));
        assert_eq!(charset_of("IATB"), None);
    }

    #[test]
    fn sniffing_finds_the_identifier_after_a_una_and_keeps_the_bytes() {
        let input = b"UNA^*.? $\nUNB*UNOE^1*X$";
        let sniffed = sniff(&mut &input[..], 0).unwrap();
        assert_eq!(sniffed.identifier.as_deref(), Some("UNOE"));
        assert_eq!(sniffed.prefix, input);
        assert_eq!(sniff(&mut &b"UNH+1'"[..], 0).unwrap().identifier, None);
    }
}
