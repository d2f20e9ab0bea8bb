//! `[format] type = "edifact"`: its keys, their defaults and checks.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::Diagnostics;
use crate::config::connector_file::{charset, named_encoding};
use crate::config::toml_de::Source;
use crate::format::charset::Charset;

/// Default largest message, in bytes of text.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Largest `max_message_bytes` accepted.
const MAX_MESSAGE_BYTES_LIMIT: i64 = 1 << 30;

/// Envelope and section segments: never group triggers or members.
const SERVICE_TAGS: [&str; 8] = ["UNA", "UNB", "UNG", "UNH", "UNS", "UNT", "UNE", "UNZ"];

/// The line-item group's default members: the segments of the LIN groups of EANCOM ORDERS,
/// DESADV, INVOIC and their relatives.
const LIN_MEMBERS: [&str; 42] = [
    "ALC", "ALI", "APR", "CCI", "COM", "CTA", "CUX", "DGS", "DLM", "DOC", "DTM", "EQD", "FII",
    "FTX", "GIN", "GIR", "GIS", "HAN", "IMD", "LOC", "MEA", "MOA", "NAD", "PAC", "PAI", "PAT",
    "PCD", "PCI", "PIA", "PRI", "QTY", "QVR", "RCS", "RFF", "RNG", "RTE", "SCC", "SEQ", "STG",
    "TAX", "TDT", "TOD",
];
/// The party group's default members.
const NAD_MEMBERS: [&str; 7] = ["LOC", "FII", "RFF", "DOC", "DTM", "CTA", "COM"];

/// `[format]` for the EDIFACT decoder, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdifactSpec {
    /// Charset of the input; `None`: the one the first UNB's syntax identifier names (UTF-8 when
    /// it names none). A BOM overrides both.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// `encoding = "detect"`: guess the charset when the syntax identifier names none.
    pub charset: Charset,
    /// Segment groups: which segments start one, and which segments it holds.
    pub groups: Groups,
    /// Largest message (UNH to UNT) kept, in bytes of text; also the longest segment.
    pub max_message_bytes: usize,
}

impl Default for EdifactSpec {
    fn default() -> Self {
        Self {
            encoding: None,
            charset: Charset::default(),
            groups: Groups::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Segment groups by trigger tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups(BTreeMap<String, Members>);

/// What a group holds besides its trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// Any segment but an open group's trigger.
    Any,
    Tags(BTreeSet<String>),
}

impl Default for Groups {
    /// `LIN` (line items) and `NAD` (parties).
    fn default() -> Self {
        let tags = |list: &[&str]| Members::Tags(list.iter().map(|t| t.to_string()).collect());
        Self(BTreeMap::from([
            ("LIN".to_string(), tags(&LIN_MEMBERS)),
            ("NAD".to_string(), tags(&NAD_MEMBERS)),
        ]))
    }
}

impl Groups {
    /// No groups: every segment at the message's top level.
    pub fn none() -> Self {
        Self(BTreeMap::new())
    }

    /// Groups from trigger → member tags (`["*"]`: any segment).
    pub fn new(groups: BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for (trigger, members) in groups {
            check_tag(&trigger, "group trigger")?;
            let members = if members.iter().any(|m| m == "*") {
                Members::Any
            } else {
                for member in &members {
                    check_tag(member, &format!("member of group {trigger}"))?;
                }
                Members::Tags(members.into_iter().collect())
            };
            out.insert(trigger, members);
        }
        Ok(Self(out))
    }

    /// Whether `tag` starts a group.
    pub fn is_trigger(&self, tag: &str) -> bool {
        self.0.contains_key(tag)
    }

    /// Whether the group started by `trigger` holds a segment `tag`.
    pub fn accepts(&self, trigger: &str, tag: &str) -> bool {
        match self.0.get(trigger) {
            Some(Members::Any) => true,
            Some(Members::Tags(tags)) => tags.contains(tag),
            None => false,
        }
    }
}

/// A tag names a segment: three upper-case letters or digits, not a service segment.
fn check_tag(tag: &str, role: &str) -> Result<(), String> {
    if !is_tag(tag) {
        return Err(format!(
            "{role} \"{tag}\" is not a segment tag: three upper-case letters or digits, such as \
             \"LIN\" (or \"*\" among members for any segment)"
        ));
    }
    if SERVICE_TAGS.contains(&tag) {
        return Err(format!(
            "{role} \"{tag}\" is a service segment; UNS ends every group and the envelope is \
             never grouped"
        ));
    }
    Ok(())
}

/// Three upper-case ASCII letters or digits.
pub fn is_tag(tag: &str) -> bool {
    tag.len() == 3
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `[format] type = "edifact"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdifactFormatFile {
    encoding: Option<Spanned<String>>,
    invalid_bytes: Option<Spanned<String>>,
    groups: Option<Spanned<BTreeMap<String, Vec<String>>>>,
    max_message_bytes: Option<Spanned<i64>>,
}

/// Reads and checks the `[format]` keys after `type` (`kind` is the `type` given).
pub fn parse_spec(
    src: &Source<'_>,
    kind: &Spanned<String>,
    rest: Spanned<DeValue<'_>>,
) -> Result<EdifactSpec, Diagnostics> {
    let _ = kind;
    let file: EdifactFormatFile = src.deserialize(rest, "format")?;
    let mut found = Diagnostics::default();
    let mut spec = EdifactSpec::default();
    match named_encoding(src, file.encoding.as_ref()) {
        Ok(encoding) => spec.encoding = encoding,
        Err(d) => found.push(d),
    }
    match charset(src, file.encoding.as_ref(), file.invalid_bytes) {
        Ok(charset) => spec.charset = charset,
        Err(d) => found.push(d),
    }
    if let Some(groups) = file.groups {
        let at = groups.span().start;
        match Groups::new(groups.into_inner()) {
            Ok(groups) => spec.groups = groups,
            Err(message) => found.push(src.diagnostic(at, message)),
        }
    }
    if let Some(max) = file.max_message_bytes {
        match usize::try_from(*max.get_ref()) {
            Ok(n) if n > 0 && *max.get_ref() <= MAX_MESSAGE_BYTES_LIMIT => {
                spec.max_message_bytes = n;
            }
            _ => found.push(src.diagnostic(
                max.span().start,
                format!("max_message_bytes must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}"),
            )),
        }
    }
    if found.is_empty() {
        Ok(spec)
    } else {
        Err(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Parses `text` as the keys of `[format]` after `type`.
    fn parse(text: &str) -> Result<EdifactSpec, String> {
        let src = Source {
            path: Path::new("connectors/edi.toml"),
            text,
        };
        let table = src.parse().map_err(|d| format!("{d:?}"))?;
        let span = table.span();
        let rest = Spanned::new(span, DeValue::Table(table.into_inner()));
        let kind = Spanned::new(0..0, "edifact".to_string());
        parse_spec(&src, &kind, rest).map_err(|d| {
            d.0.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn defaults_group_lines_and_parties() {
        let spec = parse("").unwrap();
        assert_eq!(spec, EdifactSpec::default());
        assert!(spec.groups.is_trigger("LIN"));
        assert!(spec.groups.accepts("LIN", "QTY"));
        assert!(!spec.groups.accepts("LIN", "CNT"));
        assert!(spec.groups.accepts("NAD", "CTA"));
    }

    #[test]
    fn keys_are_read() {
        let spec = parse(
            "encoding = \"gbk\"\nmax_message_bytes = 4096\ngroups = { CPS = [\"*\"], LIN = [\"QTY\", \"PRI\"] }\n",
        )
        .unwrap();
        assert_eq!(spec.encoding, Some(encoding_rs::GBK));
        assert_eq!(spec.max_message_bytes, 4096);
        assert!(spec.groups.accepts("CPS", "LIN"));
        assert!(!spec.groups.accepts("LIN", "IMD"));
        assert!(!spec.groups.is_trigger("NAD"));
    }

    #[test]
    fn bad_keys_are_reported_at_their_line() {
        let err = parse("encoding = \"klingon\"\nseparator = \"+\"\n").unwrap_err();
        assert!(err.contains("unknown key \"separator\""), "{err}");
        let err =
            parse("encoding = \"klingon\"\nmax_message_bytes = 0\ngroups = { lin = [\"QTY\"] }\n")
                .unwrap_err();
        assert!(
            err.contains("edi.toml:1:") && err.contains("unknown encoding"),
            "{err}"
        );
        assert!(
            err.contains("edi.toml:2:") && err.contains("max_message_bytes"),
            "{err}"
        );
        assert!(
            err.contains("edi.toml:3:") && err.contains("\"lin\""),
            "{err}"
        );
    }

    #[test]
    fn service_segments_cannot_be_grouped() {
        let mut groups = BTreeMap::new();
        groups.insert("LIN".to_string(), vec!["UNS".to_string()]);
        assert!(Groups::new(groups).unwrap_err().contains("service segment"));
    }
}
