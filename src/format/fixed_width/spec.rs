//! The `[format]` table of a fixed-width connector: its TOML shape, checked into a
//! [`FixedWidthSpec`] with every problem reported at its line and column.

use std::collections::HashSet;
use std::fmt;

use encoding_rs::Encoding;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use toml::Spanned;
use toml::de::DeValue;

use super::group::GroupSpec;
use super::layout::{Field, Kind, Layout, Trim};
use super::number::{Number, Sign};
use super::reader::{Framing, MAX_LINE_BYTES};
use super::{FixedWidthSpec, RECORD_TYPE};
use crate::config::Diagnostics;
use crate::config::connector_file;
use crate::config::diagnostic::{Diagnostic, keep};
use crate::config::toml_de::Source;

/// Most implied decimals (the scale `type = "decimal"` can hold).
const MAX_DECIMALS: i64 = 28;

/// `[format] type = "fixed_width"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatFile {
    encoding: Option<Spanned<String>>,
    invalid_bytes: Option<Spanned<String>>,
    record_length: Option<Spanned<i64>>,
    #[serde(default)]
    skip_lines: u64,
    discriminator: Option<Spanned<SliceFile>>,
    #[serde(default)]
    unknown_records: UnknownRecords,
    #[serde(default)]
    short_lines: ShortLines,
    records: Option<Vec<Spanned<RecordFile>>>,
    group: Option<Spanned<GroupFile>>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum UnknownRecords {
    #[default]
    Error,
    Skip,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ShortLines {
    #[default]
    Error,
    Pad,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SliceFile {
    start: Spanned<i64>,
    length: Spanned<i64>,
}

/// One `[[format.records]]` layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    #[serde(rename = "type")]
    record_type: Option<Spanned<String>>,
    length: Option<Spanned<i64>>,
    fields: Option<Vec<FieldFile>>,
    widths: Option<Vec<Spanned<WidthFile>>>,
}

/// `{ name = "qty", start = 12, length = 7, decimals = 3 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    name: Spanned<String>,
    start: Spanned<i64>,
    length: Spanned<i64>,
    #[serde(rename = "type")]
    kind: Option<FieldType>,
    decimals: Option<Spanned<i64>>,
    sign: Option<SignFile>,
    decimal_separator: Option<Spanned<String>>,
    trim: Option<TrimFile>,
}

/// The options table of an ordered width, `["qty", 7, { decimals = 3 }]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsFile {
    #[serde(rename = "type")]
    kind: Option<FieldType>,
    decimals: Option<Spanned<i64>>,
    sign: Option<SignFile>,
    decimal_separator: Option<Spanned<String>>,
    trim: Option<TrimFile>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FieldType {
    Text,
    Number,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SignFile {
    Leading,
    Trailing,
    Overpunch,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TrimFile {
    Right,
    Both,
    None,
}

/// `["name", width]` or `["name", width, { options }]`; the name `""` skips the bytes.
#[derive(Debug)]
struct WidthFile {
    name: Spanned<String>,
    width: Spanned<i64>,
    options: OptionsFile,
}

impl<'de> Deserialize<'de> for WidthFile {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(WidthVisitor)
    }
}

struct WidthVisitor;

impl<'de> Visitor<'de> for WidthVisitor {
    type Value = WidthFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[\"name\", width] or [\"name\", width, { options }]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WidthFile, A::Error> {
        let name = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let width = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let options = seq.next_element()?.unwrap_or_default();
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &self));
        }
        Ok(WidthFile {
            name,
            width,
            options,
        })
    }
}

/// `[format.group]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    header: Spanned<String>,
    #[serde(default)]
    lines: Vec<Spanned<String>>,
    trailer: Option<Spanned<String>>,
    trailer_count: Option<Spanned<String>>,
}

/// Reads and checks the `[format]` keys after `type` (`kind` is the `type` given).
pub fn parse_spec(
    src: &Source<'_>,
    kind: &Spanned<String>,
    rest: Spanned<DeValue<'_>>,
) -> Result<FixedWidthSpec, Diagnostics> {
    let file: FormatFile = src.deserialize(rest, "format")?;
    file.check(src, kind.span().start)
}

/// A whole number in `min..=max`, for a key such as `start`.
fn whole(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<i64>,
    min: i64,
    max: usize,
) -> Result<usize, Diagnostic> {
    let n = *value.get_ref();
    match usize::try_from(n) {
        Ok(n) if n <= max && n as i64 >= min => Ok(n),
        _ => Err(src.diagnostic(
            value.span().start,
            format!("{key} must be a whole number from {min} to {max}, got {n}"),
        )),
    }
}

impl FormatFile {
    fn check(self, src: &Source<'_>, at: usize) -> Result<FixedWidthSpec, Diagnostics> {
        let mut found = Diagnostics::default();
        let charset = connector_file::charset(src, self.encoding.as_ref(), self.invalid_bytes);
        let charset = keep(&mut found, charset);
        let encoding = keep(&mut found, encoding(src, self.encoding));
        let framing = keep(&mut found, framing(src, self.record_length.as_ref()));
        let discriminator = keep(&mut found, discriminator(src, self.discriminator.as_ref()));
        let (Some(charset), Some(encoding), Some(framing), Some(discriminator)) =
            (charset, encoding, framing, discriminator)
        else {
            return Err(found);
        };
        let shape = Shape {
            encoding,
            framing,
            discriminator,
        };
        let records = self.records.unwrap_or_default();
        let layouts = keep(&mut found, shape.layouts(src, at, records));
        let group = match (self.group, &layouts) {
            (Some(group), Some(layouts)) => {
                keep(&mut found, shape.group(src, group, layouts)).map(Some)
            }
            (_, _) => Some(None),
        };
        let (Some(layouts), Some(group)) = (layouts, group) else {
            return Err(found);
        };
        Ok(FixedWidthSpec {
            encoding,
            charset,
            framing,
            skip_lines: self.skip_lines,
            discriminator,
            layouts,
            skip_unknown: self.unknown_records == UnknownRecords::Skip,
            pad_short: self.short_lines == ShortLines::Pad,
            group,
        })
    }
}

/// The charset: an ASCII-compatible one, since layouts count its bytes and lines end at LF.
fn encoding(
    src: &Source<'_>,
    label: Option<Spanned<String>>,
) -> Result<&'static Encoding, Diagnostic> {
    let at = label.as_ref().map_or(0, |l| l.span().start);
    let encoding = connector_file::encoding(src, label)?;
    if !encoding.is_ascii_compatible() {
        return Err(src.diagnostic(
            at,
            format!(
                "fixed-width files need an ASCII-compatible encoding (layouts count its bytes), \
                 not {}; use e.g. \"utf-8\", \"gbk\", \"gb18030\", \"big5\", \"shift_jis\"",
                encoding.name()
            ),
        ));
    }
    Ok(encoding)
}

fn framing(src: &Source<'_>, length: Option<&Spanned<i64>>) -> Result<Framing, Diagnostic> {
    match length {
        None => Ok(Framing::Lines),
        Some(length) => whole(src, "record_length", length, 1, MAX_LINE_BYTES).map(Framing::Fixed),
    }
}

fn discriminator(
    src: &Source<'_>,
    slice: Option<&Spanned<SliceFile>>,
) -> Result<Option<(usize, usize)>, Diagnostics> {
    let Some(slice) = slice else {
        return Ok(None);
    };
    let slice = slice.get_ref();
    let mut found = Diagnostics::default();
    let start = keep(
        &mut found,
        whole(src, "start", &slice.start, 1, MAX_LINE_BYTES),
    );
    let length = keep(
        &mut found,
        whole(src, "length", &slice.length, 1, MAX_LINE_BYTES),
    );
    match (start, length) {
        (Some(start), Some(length)) => Ok(Some((start - 1, length))),
        _ => Err(found),
    }
}

/// The file-wide settings layouts are checked against.
struct Shape {
    encoding: &'static Encoding,
    framing: Framing,
    discriminator: Option<(usize, usize)>,
}

impl Shape {
    fn layouts(
        &self,
        src: &Source<'_>,
        at: usize,
        records: Vec<Spanned<RecordFile>>,
    ) -> Result<Vec<Layout>, Diagnostics> {
        if records.is_empty() {
            let message = "a fixed-width format needs at least one layout: [[format.records]] \
                           with fields = [...] or widths = [...]";
            return Err(src.diagnostic(at, message).into());
        }
        if self.discriminator.is_none() && records.len() > 1 {
            let message = "several layouts need discriminator = { start = ..., length = ... } \
                           under [format]: the bytes that tell the record types apart";
            return Err(src.diagnostic(records[1].span().start, message).into());
        }
        let mut found = Diagnostics::default();
        let mut seen = HashSet::new();
        let mut layouts = Vec::with_capacity(records.len());
        for record in records {
            let at = record.span().start;
            if let Some(layout) = keep(&mut found, self.layout(src, record)) {
                if !seen.insert(layout.tag.clone()) {
                    let kind = layout.record_type.clone().unwrap_or_default();
                    let message = format!("record type \"{kind}\" has two layouts");
                    found.push(src.diagnostic(at, message));
                }
                layouts.push(layout);
            }
        }
        if found.is_empty() {
            Ok(layouts)
        } else {
            Err(found)
        }
    }

    fn layout(&self, src: &Source<'_>, record: Spanned<RecordFile>) -> Result<Layout, Diagnostics> {
        let at = record.span().start;
        let record = record.into_inner();
        let mut found = Diagnostics::default();
        let kind = keep(&mut found, self.record_type(src, at, record.record_type));
        let fields = match (record.fields, record.widths) {
            (Some(fields), None) => keep(&mut found, self.fields(src, at, fields)),
            (None, Some(widths)) => keep(&mut found, self.widths(src, at, widths)),
            (Some(_), Some(_)) => {
                let message = "a layout has either fields = [...] (by start and length) or \
                               widths = [...] (in order), not both";
                found.push(src.diagnostic(at, message));
                None
            }
            (None, None) => {
                let message = "a layout needs fields = [{ name, start, length }, ...] or \
                               widths = [[\"name\", width], ...]";
                found.push(src.diagnostic(at, message));
                None
            }
        };
        let (Some((record_type, tag)), Some(fields)) = (kind, fields) else {
            return Err(found);
        };
        let end = fields.iter().map(|f| f.start + f.len).max().unwrap_or(0);
        let length = keep(
            &mut found,
            self.length(src, at, record.length.as_ref(), end),
        );
        match length {
            Some(length) if found.is_empty() => Ok(Layout {
                record_type,
                tag,
                fields,
                length,
            }),
            _ => Err(found),
        }
    }

    /// The layout's `type`, and its bytes in the file's encoding.
    fn record_type(
        &self,
        src: &Source<'_>,
        at: usize,
        kind: Option<Spanned<String>>,
    ) -> Result<(Option<String>, Vec<u8>), Diagnostic> {
        let (width, kind) = match (self.discriminator, kind) {
            (None, None) => return Ok((None, Vec::new())),
            (Some((_, width)), Some(kind)) => (width, kind),
            (Some(_), None) => {
                let message = "with a discriminator, every layout needs type = \"...\": the \
                               value its records hold at the discriminator's position";
                return Err(src.diagnostic(at, message));
            }
            (None, Some(kind)) => {
                let message = "type = \"...\" needs discriminator = { start = ..., length = ... } \
                               under [format]; a single layout without one reads every record";
                return Err(src.diagnostic(kind.span().start, message));
            }
        };
        let at = kind.span().start;
        let text = kind.get_ref();
        let (bytes, _, unmappable) = self.encoding.encode(text);
        let tag = super::trim_spaces(&bytes).to_vec();
        if tag.is_empty() || unmappable || tag.len() > width || text.contains(['\r', '\n']) {
            let message = format!(
                "type \"{text}\" must be 1 to {width} bytes of {} text (the discriminator's \
                 length)",
                self.encoding.name()
            );
            return Err(src.diagnostic(at, message));
        }
        Ok((Some(text.clone()), tag))
    }

    fn fields(
        &self,
        src: &Source<'_>,
        at: usize,
        fields: Vec<FieldFile>,
    ) -> Result<Vec<Field>, Diagnostics> {
        let mut found = Diagnostics::default();
        let mut out = Vec::with_capacity(fields.len());
        for file in fields {
            let (name, start, length, options) = file.split();
            let start = keep(&mut found, whole(src, "start", &start, 1, MAX_LINE_BYTES));
            let len = keep(&mut found, whole(src, "length", &length, 1, MAX_LINE_BYTES));
            let kind = keep(&mut found, options.kind(src, name.span().start));
            if let (Some(start), Some(len), Some(kind)) = (start, len, kind) {
                out.push(Field {
                    name: name.into_inner(),
                    start: start - 1,
                    len,
                    kind,
                });
            }
        }
        keep(&mut found, self.names(src, at, &out));
        if out.is_empty() && found.is_empty() {
            found.push(src.diagnostic(at, "fields = [...] must name at least one field"));
        }
        if found.is_empty() {
            Ok(out)
        } else {
            Err(found)
        }
    }

    fn widths(
        &self,
        src: &Source<'_>,
        at: usize,
        widths: Vec<Spanned<WidthFile>>,
    ) -> Result<Vec<Field>, Diagnostics> {
        let mut found = Diagnostics::default();
        let mut out = Vec::with_capacity(widths.len());
        let mut start = 0;
        for width in widths {
            let width = width.into_inner();
            let at = width.name.span().start;
            let len = keep(
                &mut found,
                whole(src, "width", &width.width, 1, MAX_LINE_BYTES),
            );
            let kind = keep(&mut found, width.options.kind(src, at));
            let (Some(len), Some(kind)) = (len, kind) else {
                continue;
            };
            if !width.name.get_ref().is_empty() {
                out.push(Field {
                    name: width.name.into_inner(),
                    start,
                    len,
                    kind,
                });
            }
            start += len;
        }
        if start > MAX_LINE_BYTES {
            let message = format!("the widths add up to {start} bytes, over {MAX_LINE_BYTES}");
            found.push(src.diagnostic(at, message));
        }
        keep(&mut found, self.names(src, at, &out));
        if out.is_empty() && found.is_empty() {
            let message = "widths = [...] must name at least one field (\"\" only skips bytes)";
            found.push(src.diagnostic(at, message));
        }
        if found.is_empty() {
            Ok(out)
        } else {
            Err(found)
        }
    }

    /// Field names: not empty, unique in the layout, and not `record_type` when that column is
    /// added.
    fn names(&self, src: &Source<'_>, at: usize, fields: &[Field]) -> Result<(), Diagnostic> {
        let mut seen = HashSet::new();
        for field in fields {
            let name = field.name.as_str();
            let problem = if name.is_empty() {
                "a field needs a name".to_string()
            } else if !seen.insert(name) {
                format!("field \"{name}\" is named twice in this layout")
            } else if self.discriminator.is_some() && name == RECORD_TYPE {
                format!("\"{RECORD_TYPE}\" is reserved for the record's type; rename the field")
            } else {
                continue;
            };
            return Err(src.diagnostic(at, problem));
        }
        Ok(())
    }

    /// The record length: `length` if given (at least the end of the last field), else that end.
    fn length(
        &self,
        src: &Source<'_>,
        at: usize,
        length: Option<&Spanned<i64>>,
        end: usize,
    ) -> Result<usize, Diagnostic> {
        let length = match length {
            Some(value) => {
                let length = whole(src, "length", value, 1, MAX_LINE_BYTES)?;
                if length < end {
                    let message = format!(
                        "length = {length} is shorter than the fields, which end at byte {end}"
                    );
                    return Err(src.diagnostic(value.span().start, message));
                }
                length
            }
            None => end,
        };
        match self.framing {
            Framing::Fixed(record) if length > record => Err(src.diagnostic(
                at,
                format!("this layout is {length} bytes long, over record_length = {record}"),
            )),
            _ => Ok(length),
        }
    }

    fn group(
        &self,
        src: &Source<'_>,
        group: Spanned<GroupFile>,
        layouts: &[Layout],
    ) -> Result<GroupSpec, Diagnostics> {
        let at = group.span().start;
        let group = group.into_inner();
        if self.discriminator.is_none() {
            let message = "[format.group] needs discriminator = { start = ..., length = ... } \
                           under [format] to tell header, line and trailer records apart";
            return Err(src.diagnostic(at, message).into());
        }
        let mut found = Diagnostics::default();
        let mut used = HashSet::new();
        let mut index = |name: &Spanned<String>| -> Option<usize> {
            let found_at = layouts
                .iter()
                .position(|l| l.record_type.as_ref() == Some(name.get_ref()));
            let problem = match found_at {
                None => unknown_type(name.get_ref(), layouts),
                Some(i) if !used.insert(i) => {
                    format!(
                        "record type \"{}\" has two roles in the group",
                        name.get_ref()
                    )
                }
                Some(i) => return Some(i),
            };
            found.push(src.diagnostic(name.span().start, problem));
            None
        };
        let header = index(&group.header);
        let lines: Vec<Option<usize>> = group.lines.iter().map(&mut index).collect();
        let trailer = group.trailer.as_ref().map(&mut index);
        let (Some(header), Some(lines), Some(trailer)) = (
            header,
            lines.into_iter().collect::<Option<Vec<_>>>(),
            trailer.map_or(Some(None), |t| t.map(Some)),
        ) else {
            return Err(found);
        };
        let trailer_count = keep(
            &mut found,
            trailer_count(src, group.trailer_count.as_ref(), trailer, layouts),
        );
        keep(
            &mut found,
            clashes(src, at, header, &lines, trailer, layouts),
        );
        match trailer_count {
            Some(trailer_count) if found.is_empty() => Ok(GroupSpec {
                header,
                lines,
                trailer,
                trailer_count,
            }),
            _ => Err(found),
        }
    }
}

fn unknown_type(name: &str, layouts: &[Layout]) -> String {
    let known: Vec<String> = layouts
        .iter()
        .filter_map(|l| l.record_type.as_ref().map(|t| format!("\"{t}\"")))
        .collect();
    format!(
        "no layout has type \"{name}\"; the layouts are for {}",
        known.join(", ")
    )
}

/// The trailer field that counts the line records.
fn trailer_count(
    src: &Source<'_>,
    name: Option<&Spanned<String>>,
    trailer: Option<usize>,
    layouts: &[Layout],
) -> Result<Option<usize>, Diagnostic> {
    let Some(name) = name else {
        return Ok(None);
    };
    let at = name.span().start;
    let Some(trailer) = trailer else {
        return Err(src.diagnostic(
            at,
            "trailer_count needs trailer = \"...\" in [format.group]",
        ));
    };
    let layout = &layouts[trailer];
    match layout.fields.iter().position(|f| &f.name == name.get_ref()) {
        Some(field) => Ok(Some(field)),
        None => Err(src.diagnostic(
            at,
            format!(
                "the trailer's {} has no field \"{}\"",
                layout.label(),
                name.get_ref()
            ),
        )),
    }
}

/// Header field names must not hide the lists and the trailer object the document adds.
fn clashes(
    src: &Source<'_>,
    at: usize,
    header: usize,
    lines: &[usize],
    trailer: Option<usize>,
    layouts: &[Layout],
) -> Result<(), Diagnostic> {
    let members: Vec<&str> = lines
        .iter()
        .chain(trailer.as_ref())
        .filter_map(|&l| layouts[l].record_type.as_deref())
        .collect();
    match layouts[header]
        .fields
        .iter()
        .find(|f| members.contains(&f.name.as_str()))
    {
        Some(field) => Err(src.diagnostic(
            at,
            format!(
                "the header's field \"{}\" has the name of a record type the document holds \
                 under that name; rename the field",
                field.name
            ),
        )),
        None => Ok(()),
    }
}

impl FieldFile {
    fn split(self) -> (Spanned<String>, Spanned<i64>, Spanned<i64>, OptionsFile) {
        let options = OptionsFile {
            kind: self.kind,
            decimals: self.decimals,
            sign: self.sign,
            decimal_separator: self.decimal_separator,
            trim: self.trim,
        };
        (self.name, self.start, self.length, options)
    }
}

impl OptionsFile {
    /// The field's kind: a number when `type = "number"` or any number option is given.
    fn kind(&self, src: &Source<'_>, at: usize) -> Result<Kind, Diagnostic> {
        let numeric =
            self.decimals.is_some() || self.sign.is_some() || self.decimal_separator.is_some();
        match (self.kind, numeric) {
            (Some(FieldType::Text), true) => Err(src.diagnostic(
                at,
                "decimals, sign and decimal_separator apply to number fields, not type = \"text\"",
            )),
            (Some(FieldType::Number), _) | (None, true) => self.number(src, at).map(Kind::Number),
            (_, false) => Ok(Kind::Text(match self.trim {
                None | Some(TrimFile::Right) => Trim::Right,
                Some(TrimFile::Both) => Trim::Both,
                Some(TrimFile::None) => Trim::Keep,
            })),
        }
    }

    fn number(&self, src: &Source<'_>, at: usize) -> Result<Number, Diagnostic> {
        if self.trim.is_some() {
            let message = "trim applies to text fields; number fields always lose their blanks";
            return Err(src.diagnostic(at, message));
        }
        let decimals = match &self.decimals {
            Some(d) => whole(src, "decimals", d, 0, MAX_DECIMALS as usize)?,
            None => 0,
        };
        let separator = match &self.decimal_separator {
            None => '.',
            Some(s) if decimals > 0 => {
                let message = "decimal_separator and decimals exclude each other: decimals \
                               places an implied point, a separator is written in the field";
                return Err(src.diagnostic(s.span().start, message));
            }
            Some(s) => match s.get_ref().as_str() {
                "." => '.',
                "," => ',',
                other => {
                    let message =
                        format!("decimal_separator must be \".\" or \",\", got \"{other}\"");
                    return Err(src.diagnostic(s.span().start, message));
                }
            },
        };
        let sign = match self.sign {
            None | Some(SignFile::Leading) => Sign::Leading,
            Some(SignFile::Trailing) => Sign::Trailing,
            Some(SignFile::Overpunch) => Sign::Overpunch,
        };
        Ok(Number {
            decimals: decimals as u8,
            sign,
            separator,
        })
    }
}
