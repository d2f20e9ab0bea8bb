//! The XML decoder (`[format] type = "xml"`): one record per element at the `record` path, read
//! with quick-xml as a stream (never a DOM of the whole file).
//!
//! This module owns the `[format]` keys ([`XmlSpec`], [`parse_spec`]) and hands the input to
//! [`decoder::XmlDecoder`]. The submodules: [`path`] (element paths and namespace prefixes),
//! [`input`] (encoding choice and the tracked text under the parser), [`tree`] (an element as a
//! JSON value) and [`decoder`] (the walk over the events).

mod decoder;
mod input;
mod path;
mod tree;

pub use decoder::XmlDecoder;
pub use path::{Namespaces, XmlPath};

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::DecodeError;
use super::record::Record;
use crate::config::connector_file::{charset, named_encoding};
use crate::config::diagnostic::keep;
use crate::config::toml_de::Source;
use crate::config::{Diagnostic, Diagnostics};
use crate::format::charset::Charset;

/// Default `max_record_bytes`.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;
/// Bounds of `max_record_bytes`.
const MIN_RECORD_BYTES: i64 = 1 << 10;
const MAX_RECORD_BYTES: i64 = 1 << 30;
/// Most `context` paths.
const MAX_CONTEXTS: usize = 32;

/// `[format]` for this decoder, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlSpec {
    /// The repeating element: one record each.
    pub record: XmlPath,
    /// Elements outside the record carried into every record after them, in their scope.
    pub context: Vec<XmlPath>,
    /// `[format.namespaces]`: the prefixes paths and tree names use.
    pub namespaces: Namespaces,
    /// The `encoding` key: overrides the XML declaration; a BOM overrides it.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub charset: Charset,
    /// Largest record (or context element, or single token) in decoded bytes.
    pub max_record_bytes: usize,
}

/// `[format] type = "xml"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlFormatFile {
    record: Option<Spanned<String>>,
    #[serde(default)]
    context: Vec<Spanned<String>>,
    #[serde(default)]
    namespaces: BTreeMap<String, Spanned<String>>,
    encoding: Option<Spanned<String>>,
    invalid_bytes: Option<Spanned<String>>,
    max_record_bytes: Option<Spanned<i64>>,
}

/// Reads and checks the `[format]` keys after `type` (`kind` is the `type` given).
pub fn parse_spec(
    src: &Source<'_>,
    kind: &Spanned<String>,
    rest: Spanned<DeValue<'_>>,
) -> Result<XmlSpec, Diagnostics> {
    let file: XmlFormatFile = src.deserialize(rest, "format")?;
    let mut found = Diagnostics::default();
    let namespaces = namespaces(src, &file.namespaces, &mut found);
    let record = match &file.record {
        Some(text) => keep(&mut found, xml_path(src, text, &namespaces)),
        None => {
            let message = "missing key \"record\" in [format]: the path of the repeating \
                           element, e.g. record = \"/ORDERS05/IDOC\"";
            found.push(src.diagnostic(kind.span().start, message));
            None
        }
    };
    let context = contexts(src, &file.context, &namespaces, record.as_ref(), &mut found);
    let encoding = keep(&mut found, named_encoding(src, file.encoding.as_ref())).flatten();
    let charset = charset(src, file.encoding.as_ref(), file.invalid_bytes);
    let charset = keep(&mut found, charset);
    let max_record_bytes = keep(&mut found, max_record_bytes(src, file.max_record_bytes));
    match (record, charset, max_record_bytes) {
        (Some(record), Some(charset), Some(max_record_bytes)) if found.is_empty() => Ok(XmlSpec {
            record,
            context,
            namespaces,
            encoding,
            charset,
            max_record_bytes,
        }),
        _ => Err(found),
    }
}

/// The records of one input.
pub fn decoder<'a, R: Read + Send + 'a>(
    spec: &XmlSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send + 'a {
    XmlDecoder::new(spec.clone(), reader, connector, file)
}

fn namespaces(
    src: &Source<'_>,
    table: &BTreeMap<String, Spanned<String>>,
    found: &mut Diagnostics,
) -> Namespaces {
    let mut pairs = Vec::new();
    for (prefix, uri) in table {
        let valid = !prefix.is_empty()
            && prefix != "xmlns"
            && !prefix.contains(|c: char| c == ':' || c.is_whitespace());
        if !valid {
            let message = format!(
                "\"{prefix}\" in [format.namespaces] is not a usable prefix (a name without \
                 \":\" or spaces, not \"xmlns\")"
            );
            found.push(src.diagnostic(uri.span().start, message));
        } else if uri.get_ref().trim().is_empty() {
            let message = format!("namespace \"{prefix}\" needs its URI, e.g. \"urn:...\"");
            found.push(src.diagnostic(uri.span().start, message));
        } else {
            pairs.push((prefix.clone(), uri.get_ref().clone()));
        }
    }
    Namespaces::new(pairs)
}

fn xml_path(
    src: &Source<'_>,
    text: &Spanned<String>,
    namespaces: &Namespaces,
) -> Result<XmlPath, Diagnostic> {
    XmlPath::parse(text.get_ref(), namespaces)
        .map_err(|message| src.diagnostic(text.span().start, message))
}

/// The `context` paths: outside the record element (neither inside it nor around it), not
/// inside one another, and ending in different names.
fn contexts(
    src: &Source<'_>,
    texts: &[Spanned<String>],
    namespaces: &Namespaces,
    record: Option<&XmlPath>,
    found: &mut Diagnostics,
) -> Vec<XmlPath> {
    if texts.len() > MAX_CONTEXTS {
        let at = texts[MAX_CONTEXTS].span().start;
        found.push(src.diagnostic(at, format!("at most {MAX_CONTEXTS} context paths")));
        return Vec::new();
    }
    let mut paths: Vec<XmlPath> = Vec::new();
    for text in texts {
        let Some(path) = keep(found, xml_path(src, text, namespaces)) else {
            continue;
        };
        match context_clash(&path, record, &paths) {
            Some(message) => found.push(src.diagnostic(text.span().start, message)),
            None => paths.push(path),
        }
    }
    paths
}

fn context_clash(path: &XmlPath, record: Option<&XmlPath>, before: &[XmlPath]) -> Option<String> {
    if let Some(record) = record
        && !path.same_root(record)
    {
        return Some(format!(
            "context \"{}\" must start at the root element of record = \"{}\"",
            path.text(),
            record.text()
        ));
    }
    if let Some(record) = record
        && (path.within(record) || record.within(path))
    {
        return Some(format!(
            "context \"{}\" must lie outside the record element \"{}\" (not inside it, not \
             around it): the record already holds what is inside it",
            path.text(),
            record.text()
        ));
    }
    let other = before
        .iter()
        .find(|b| path.within(b) || b.within(path) || b.last() == path.last())?;
    Some(format!(
        "context \"{}\" overlaps or shares its element name with context \"{}\"; each context \
         is merged into the record under its element name",
        path.text(),
        other.text()
    ))
}

fn max_record_bytes(src: &Source<'_>, value: Option<Spanned<i64>>) -> Result<usize, Diagnostic> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_RECORD_BYTES);
    };
    match usize::try_from(*value.get_ref()) {
        Ok(n) if (MIN_RECORD_BYTES..=MAX_RECORD_BYTES).contains(value.get_ref()) => Ok(n),
        _ => Err(src.diagnostic(
            value.span().start,
            format!(
                "max_record_bytes must be between {MIN_RECORD_BYTES} and {MAX_RECORD_BYTES} \
                 (default {DEFAULT_MAX_RECORD_BYTES}, 16 MiB)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
