//! The syntax of one `connectors/<id>.toml` file and its translation into a [`ConnectorSpec`].
//!
//! `[source]` and `[format]` are dispatched on their `type` key by hand (serde's tagged enums lose
//! spans): the `type` is read from the parsed table, then the type's own `deny_unknown_fields`
//! struct is deserialised from the rest of the section. Every problem is reported at the line and
//! column of the value to fix; all problems of one file are reported together.

use super::connector::{
    After, ConnectorSpec, ContentMode, CsvColumns, CsvSpec, FileSourceSpec, FormatSpec,
    OnDuplicate, SourceSpec,
};
use super::diagnostic::{Diagnostic, Diagnostics, keep, line_col};
use super::instances;
use super::toml_de::{Source, did_you_mean};
use crate::connector::freshness::Expectation;
use crate::connector::{amqp, http_poll, http_push, mqtt, sql};
use crate::format::charset::{Charset, InvalidBytes};
use crate::format::{edifact, fixed_width, json, xlsx, xml};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A section dispatched on its `type`, and the types it takes.
struct Kinds {
    section: &'static str,
    now: &'static [&'static str],
}

const SOURCE: Kinds = Kinds {
    section: "source",
    now: &["file", "amqp", "mqtt", "http_push", "http_poll", "sql"],
};

const FORMAT: Kinds = Kinds {
    section: "format",
    now: &[
        "csv",
        "json",
        "ndjson",
        "xml",
        "fixed_width",
        "edifact",
        "xlsx",
    ],
};

const DEFAULT_SETTLE: Duration = Duration::from_secs(2);
const DEFAULT_RESCAN: Duration = Duration::from_secs(5);

/// Labels suggested when an encoding label is unknown.
const COMMON_ENCODINGS: &str = "\"utf-8\", \"gbk\", \"gb18030\", \"big5\", \"shift_jis\", \"euc-kr\", \"iso-8859-1\", \"windows-1252\"";

/// The top level of a connector file. `source` and `format` are only named here (so that a typo
/// such as `[sourse]` gets a suggestion); their contents are read by their `type`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorFile {
    pub id: Option<Spanned<String>>,
    pub system: Spanned<String>,
    pub mapping: Spanned<String>,
    pub routing_key: Option<Spanned<String>>,
    #[serde(default)]
    pub content_mode: ContentMode,
    /// Input expected at least this often (`"1h"`).
    pub expect_every: Option<Spanned<String>>,
    /// Input expected by each deadline of a schedule (`"daily by 02:00 Asia/Shanghai"`).
    pub expect: Option<Spanned<String>>,
    pub source: Option<IgnoredAny>,
    pub format: Option<IgnoredAny>,
}

/// `[source] type = "file"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceFile {
    pub path: Spanned<PathBuf>,
    pub glob: Option<Spanned<String>>,
    pub settle: Option<Spanned<String>>,
    pub rescan: Option<Spanned<String>>,
    #[serde(default)]
    pub after: After,
    pub marker: Option<Spanned<String>>,
    pub ignore: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    pub max_inflated_bytes: Option<u64>,
}

/// `[format] type = "csv"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvFormatFile {
    pub encoding: Option<Spanned<String>>,
    pub invalid_bytes: Option<Spanned<String>>,
    pub delimiter: Option<Spanned<String>>,
    pub quote: Option<Spanned<String>>,
    pub header: Option<Spanned<bool>>,
    pub columns: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub skip_lines: usize,
}

/// A checked connector file, with the position of an explicit `id` (for duplicate-id messages).
#[derive(Debug, Clone)]
pub struct ParsedConnector {
    pub spec: ConnectorSpec,
    /// 1-based line and column of the `id` value; `None` when the id is the file stem.
    pub id_position: Option<(usize, usize)>,
}

/// Parses and checks one connector file's text: one connector, or one per instance of a family
/// (`[[instances]]`, see [`super::instances`]). Returns the good connectors and the problems of the
/// others, so one bad instance does not keep its siblings from running. Ids shared by several
/// instances are caught with every other shared id, when a folder is loaded.
pub fn parse_connectors(
    src: &Source<'_>,
    mappings_dir: &Path,
) -> (Vec<ParsedConnector>, Diagnostics) {
    let table = match src.parse() {
        Ok(table) => table,
        Err(d) => return (Vec::new(), d),
    };
    let span = table.span();
    let mut table = table.into_inner();
    let family = match instances::take(src, &mut table) {
        Ok(Some(family)) => family,
        Ok(None) => {
            return match parse_table(src, span, table, mappings_dir) {
                Ok(parsed) => (vec![parsed], Diagnostics::default()),
                Err(d) => (Vec::new(), d),
            };
        }
        Err(d) => return (Vec::new(), d),
    };
    let mut good = Vec::new();
    let mut problems = Vec::new();
    for instance in &family.instances {
        let parsed = family
            .apply(src, &table, instance)
            .and_then(|filled| parse_table(src, span.clone(), filled, mappings_dir))
            .and_then(|parsed| member(src, parsed, instance));
        match parsed {
            Ok(parsed) => good.push(parsed),
            Err(d) => problems.push((instance, d)),
        }
    }
    (good, instances::merge(problems, family.instances.len()))
}

/// A parsed instance, checked to have an id of its own.
fn member(
    src: &Source<'_>,
    mut parsed: ParsedConnector,
    instance: &instances::Instance,
) -> Result<ParsedConnector, Diagnostics> {
    if parsed.id_position.is_none() {
        let message = "a family's connectors need ids of their own: set id with a parameter, \
                       e.g. id = \"<name>-${region}\"";
        return Err(Diagnostic::file(src.path, message).into());
    }
    parsed.spec.instance = Some(instance.label());
    Ok(parsed)
}

/// Parses and checks one connector's table (a whole file, or a family's instance of it).
fn parse_table(
    src: &Source<'_>,
    span: std::ops::Range<usize>,
    table: DeTable<'_>,
    mappings_dir: &Path,
) -> Result<ParsedConnector, Diagnostics> {
    let mut found = Diagnostics::default();
    let source = keep(
        &mut found,
        section(src, &table, &SOURCE).and_then(|s| source_spec(src, s)),
    );
    let format = keep(&mut found, connector_format(src, &table));
    let top = src.deserialize::<ConnectorFile>(Spanned::new(span, DeValue::Table(table)), "");
    let top = keep(&mut found, top.and_then(|top| top.check(src, mappings_dir)));
    match (top, source, format) {
        (Some(top), Some(source), Some(format)) if found.is_empty() => {
            Ok(top.into_parsed(src, source, format))
        }
        _ => {
            found.0.sort_by_key(|d| d.position);
            Err(found)
        }
    }
}

/// Parses the text of a `[format]` table alone (`type = "xml"\nrecord = "/a/b"`), as tools that
/// decode a file without a connector (`omnibus inspect --format`) take it.
pub fn parse_format(src: &Source<'_>) -> Result<FormatSpec, Diagnostics> {
    let table = src.parse()?;
    let span = table.span();
    let mut outer = DeTable::new();
    outer.insert(
        Spanned::new(span.clone(), "format".into()),
        Spanned::new(span, DeValue::Table(table.into_inner())),
    );
    section(src, &outer, &FORMAT).and_then(|s| format_spec(src, s))
}

/// The checked top-level keys.
struct Top {
    id: String,
    /// Where an explicit `id` was written.
    id_position: Option<(usize, usize)>,
    system: String,
    mapping: String,
    routing_key: Option<String>,
    content_mode: ContentMode,
    expect: Option<Expectation>,
}

impl ConnectorFile {
    fn check(self, src: &Source<'_>, mappings_dir: &Path) -> Result<Top, Diagnostics> {
        let mut found = Diagnostics::default();
        let id = match self.id {
            Some(id) => name(src, "connector id", &id).map(|()| {
                (
                    id.get_ref().clone(),
                    Some(line_col(src.text, id.span().start)),
                )
            }),
            None => stem_id(src).map(|stem| (stem, None)),
        };
        let id = keep(&mut found, id);
        keep(&mut found, name(src, "system", &self.system));
        keep(&mut found, mapping_exists(src, &self.mapping, mappings_dir));
        if let Some(key) = &self.routing_key {
            keep(&mut found, template(src, key));
        }
        let expect = keep(&mut found, expectation(src, self.expect_every, self.expect));
        let Some((id, id_position)) = id.filter(|_| found.is_empty()) else {
            return Err(found);
        };
        Ok(Top {
            id,
            id_position,
            system: self.system.into_inner(),
            mapping: self.mapping.into_inner(),
            routing_key: self.routing_key.map(Spanned::into_inner),
            content_mode: self.content_mode,
            expect: expect.flatten(),
        })
    }
}

impl Top {
    fn into_parsed(
        self,
        src: &Source<'_>,
        source: SourceSpec,
        format: Option<FormatSpec>,
    ) -> ParsedConnector {
        ParsedConnector {
            spec: ConnectorSpec {
                id: self.id,
                system: self.system,
                mapping: self.mapping,
                routing_key: self.routing_key,
                content_mode: self.content_mode,
                expect: self.expect,
                source,
                format,
                file: src.path.to_path_buf(),
                instance: None,
            },
            id_position: self.id_position,
        }
    }
}

/// `expect_every` or `expect`: when the legacy system is expected to send input.
fn expectation(
    src: &Source<'_>,
    every: Option<Spanned<String>>,
    by: Option<Spanned<String>>,
) -> Result<Option<Expectation>, Diagnostic> {
    match (every, by) {
        (None, None) => Ok(None),
        (Some(_), Some(by)) => {
            Err(src.diagnostic(by.span().start, "give expect_every or expect, not both"))
        }
        (Some(every), None) => positive_duration(src, "expect_every", Some(every), Duration::ZERO)
            .map(|every| Some(Expectation::Every(every))),
        (None, Some(by)) => Expectation::parse(by.get_ref())
            .map(Some)
            .map_err(|e| src.diagnostic(by.span().start, e)),
    }
}

/// Ids and system names end up in URIs (`/omnibus/<system>/<id>`) and routing keys.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn name_rule(what: &str, value: &str) -> String {
    format!(
        "{what} \"{value}\" must be non-empty and use only ASCII letters, digits, \"-\", \"_\" and \".\""
    )
}

fn name(src: &Source<'_>, what: &str, value: &Spanned<String>) -> Result<(), Diagnostic> {
    if valid_name(value.get_ref()) {
        return Ok(());
    }
    Err(src.diagnostic(value.span().start, name_rule(what, value.get_ref())))
}

/// The id of a connector file without an `id` key: its file stem.
fn stem_id(src: &Source<'_>) -> Result<String, Diagnostic> {
    let stem = src.path.file_stem().unwrap_or_default().to_string_lossy();
    if valid_name(&stem) {
        return Ok(stem.into_owned());
    }
    let rule = name_rule("connector id", &stem);
    Err(Diagnostic::file(
        src.path,
        format!("{rule}; rename the file or set id = \"...\""),
    ))
}

fn mapping_exists(
    src: &Source<'_>,
    mapping: &Spanned<String>,
    dir: &Path,
) -> Result<(), Diagnostic> {
    let file = dir.join(format!("{}.toml", mapping.get_ref()));
    if !mapping.get_ref().is_empty() && file.is_file() {
        return Ok(());
    }
    let message = format!(
        "mapping \"{}\" not found: no file {}",
        mapping.get_ref(),
        file.display()
    );
    Err(src.diagnostic(mapping.span().start, message))
}

fn template(src: &Source<'_>, key: &Spanned<String>) -> Result<(), Diagnostic> {
    let env = minijinja::Environment::new();
    match env.template_from_str(key.get_ref()) {
        Ok(_) => Ok(()),
        Err(e) => Err(src.diagnostic(
            key.span().start,
            format!("routing_key is not a valid template: {e}"),
        )),
    }
}

/// A `[source]` or `[format]` section: its `type` and the rest of its keys.
struct Section<'a> {
    kinds: &'static Kinds,
    kind: Spanned<String>,
    rest: Spanned<DeValue<'a>>,
}

fn section<'a>(
    src: &Source<'a>,
    table: &DeTable<'a>,
    kinds: &'static Kinds,
) -> Result<Section<'a>, Diagnostics> {
    let name = kinds.section;
    let Some(value) = table.get(name) else {
        return Err(Diagnostic::file(src.path, format!("missing [{name}] table")).into());
    };
    let span = value.span();
    let DeValue::Table(inner) = value.get_ref() else {
        return Err(src
            .diagnostic(span.start, format!("\"{name}\" must be a table ([{name}])"))
            .into());
    };
    let mut inner = inner.clone();
    let Some(kind) = inner.remove("type") else {
        let message = format!(
            "missing key \"type\" in [{name}]; supported: {}",
            kinds.now.join(", ")
        );
        return Err(src.diagnostic(span.start, message).into());
    };
    let Some(text) = kind.get_ref().as_str() else {
        let message = format!("\"type\" in [{name}] must be a string");
        return Err(src.diagnostic(kind.span().start, message).into());
    };
    Ok(Section {
        kinds,
        kind: Spanned::new(kind.span(), text.to_string()),
        rest: Spanned::new(span, DeValue::Table(inner)),
    })
}

/// `unknown source type "fiel"; did you mean "file"?`, or the list of supported types.
fn unsupported(src: &Source<'_>, section: &Section<'_>) -> Diagnostics {
    let Kinds { section: name, now } = section.kinds;
    let kind = section.kind.get_ref();
    let known: Vec<String> = now.iter().map(|k| k.to_string()).collect();
    let message = match did_you_mean(kind, &known) {
        Some(best) => format!("unknown {name} type \"{kind}\"; did you mean \"{best}\"?"),
        None => format!(
            "unknown {name} type \"{kind}\"; supported: {}",
            now.join(", ")
        ),
    };
    src.diagnostic(section.kind.span().start, message).into()
}

fn source_spec(src: &Source<'_>, section: Section<'_>) -> Result<SourceSpec, Diagnostics> {
    match section.kind.get_ref().as_str() {
        "file" => {
            let file: FileSourceFile = src.deserialize(section.rest, "source")?;
            Ok(SourceSpec::File(file.check(src)?))
        }
        "amqp" => amqp::parse_spec(src, section.rest).map(SourceSpec::Amqp),
        "mqtt" => mqtt::parse_spec(src, section.rest).map(SourceSpec::Mqtt),
        "http_push" => http_push::parse_spec(src, section.rest).map(SourceSpec::HttpPush),
        "http_poll" => http_poll::parse_spec(src, section.rest)
            .map(|spec| SourceSpec::HttpPoll(Box::new(spec))),
        "sql" => sql::parse_spec(src, section.rest).map(SourceSpec::Sql),
        _ => Err(unsupported(src, &section)),
    }
}

/// Source types whose records come ready (rows), with no bytes to decode: no `[format]`.
const RECORD_SOURCES: &[&str] = &["sql"];

/// The connector's `[format]`: required, except for a source of ready records, where one is an
/// error (it would be silently ignored).
fn connector_format(
    src: &Source<'_>,
    table: &DeTable<'_>,
) -> Result<Option<FormatSpec>, Diagnostics> {
    let source_type = table
        .get(SOURCE.section)
        .and_then(|s| s.get_ref().as_table())
        .and_then(|s| s.get("type"))
        .and_then(|t| t.get_ref().as_str());
    let Some(kind) = source_type.filter(|k| RECORD_SOURCES.contains(k)) else {
        return section(src, table, &FORMAT)
            .and_then(|s| format_spec(src, s))
            .map(Some);
    };
    match table.get(FORMAT.section) {
        None => Ok(None),
        Some(format) => {
            let message = format!(
                "[format] does not apply to a {kind} source: its rows are records already; \
                 remove the [format] table"
            );
            Err(src.diagnostic(format.span().start, message).into())
        }
    }
}

fn format_spec(src: &Source<'_>, section: Section<'_>) -> Result<FormatSpec, Diagnostics> {
    match section.kind.get_ref().as_str() {
        "csv" => {
            let csv: CsvFormatFile = src.deserialize(section.rest, "format")?;
            Ok(FormatSpec::Csv(csv.check(src)?))
        }
        "json" | "ndjson" => {
            json::parse_spec(src, &section.kind, section.rest).map(FormatSpec::Json)
        }
        "xml" => xml::parse_spec(src, &section.kind, section.rest).map(FormatSpec::Xml),
        "fixed_width" => {
            fixed_width::parse_spec(src, &section.kind, section.rest).map(FormatSpec::FixedWidth)
        }
        "edifact" => edifact::parse_spec(src, &section.kind, section.rest).map(FormatSpec::Edifact),
        "xlsx" => xlsx::parse_spec(src, section.rest).map(FormatSpec::Xlsx),
        _ => Err(unsupported(src, &section)),
    }
}

impl FileSourceFile {
    fn check(self, src: &Source<'_>) -> Result<FileSourceSpec, Diagnostics> {
        let mut found = Diagnostics::default();
        let path = keep(&mut found, folder(src, &self.path));
        let glob = self
            .glob
            .map_or(Ok("*".to_string()), |g| pattern(src, "glob", g));
        let glob = keep(&mut found, glob);
        let settle = keep(
            &mut found,
            duration(src, "settle", self.settle, DEFAULT_SETTLE),
        );
        let rescan = keep(
            &mut found,
            positive_duration(src, "rescan", self.rescan, DEFAULT_RESCAN),
        );
        let marker = keep(&mut found, marker(src, self.marker));
        let ignore = keep(&mut found, ignore(src, self.ignore));
        let (Some(path), Some(glob), Some(settle), Some(rescan), Some(marker), Some(ignore)) =
            (path, glob, settle, rescan, marker, ignore)
        else {
            return Err(found);
        };
        Ok(FileSourceSpec {
            path,
            glob,
            settle,
            rescan,
            after: self.after,
            marker,
            ignore,
            on_duplicate: self.on_duplicate,
            max_inflated_bytes: self
                .max_inflated_bytes
                .unwrap_or(crate::format::compressed::DEFAULT_MAX_INFLATED),
        })
    }
}

/// The watched folder; relative to the connector file's directory.
fn folder(src: &Source<'_>, path: &Spanned<PathBuf>) -> Result<PathBuf, Diagnostic> {
    if path.get_ref().as_os_str().is_empty() {
        return Err(src.diagnostic(path.span().start, "path must name the folder to watch"));
    }
    let base = src.path.parent().unwrap_or(Path::new(""));
    Ok(base.join(path.get_ref()))
}

fn pattern(src: &Source<'_>, key: &str, glob: Spanned<String>) -> Result<String, Diagnostic> {
    match globset::Glob::new(glob.get_ref()) {
        Ok(_) => Ok(glob.into_inner()),
        Err(e) => Err(src.diagnostic(
            glob.span().start,
            format!("{key} is not a valid glob: {}", e.kind()),
        )),
    }
}

fn ignore(
    src: &Source<'_>,
    ignore: Option<Vec<Spanned<String>>>,
) -> Result<Vec<String>, Diagnostics> {
    let Some(globs) = ignore else {
        return Ok([".*", "*.tmp", "*.part"].map(str::to_string).to_vec());
    };
    let mut found = Diagnostics::default();
    let globs: Vec<String> = globs
        .into_iter()
        .filter_map(|g| pattern(src, "ignore", g).map_err(|d| found.push(d)).ok())
        .collect();
    if found.is_empty() {
        Ok(globs)
    } else {
        Err(found)
    }
}

/// The humantime duration written at `key` (`"2s"`, `"1m"`), or `default` when absent.
pub(crate) fn duration(
    src: &Source<'_>,
    key: &str,
    value: Option<Spanned<String>>,
    default: Duration,
) -> Result<Duration, Diagnostic> {
    let Some(value) = value else {
        return Ok(default);
    };
    humantime::parse_duration(value.get_ref()).map_err(|e| {
        let text = value.get_ref();
        let message = format!(
            "{key} = \"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"2s\", \"1m\""
        );
        src.diagnostic(value.span().start, message)
    })
}

/// A duration key that must be longer than zero (a zero period would poll in a busy loop).
pub(crate) fn positive_duration(
    src: &Source<'_>,
    key: &str,
    value: Option<Spanned<String>>,
    default: Duration,
) -> Result<Duration, Diagnostic> {
    let at = value.as_ref().map_or(0, |v| v.span().start);
    let period = duration(src, key, value, default)?;
    if period.is_zero() {
        return Err(src.diagnostic(at, format!("{key} must be longer than zero")));
    }
    Ok(period)
}

fn marker(src: &Source<'_>, marker: Option<Spanned<String>>) -> Result<Option<String>, Diagnostic> {
    match marker {
        Some(m) if m.get_ref().is_empty() => Err(src.diagnostic(
            m.span().start,
            "marker must be a file name suffix such as \".done\"",
        )),
        m => Ok(m.map(Spanned::into_inner)),
    }
}

impl CsvFormatFile {
    fn check(self, src: &Source<'_>) -> Result<CsvSpec, Diagnostics> {
        let mut found = Diagnostics::default();
        let clash_at = self
            .delimiter
            .as_ref()
            .or(self.quote.as_ref())
            .map(|v| v.span().start);
        let charset = keep(
            &mut found,
            charset(src, self.encoding.as_ref(), self.invalid_bytes),
        );
        let encoding = keep(&mut found, encoding(src, self.encoding));
        let delimiter = keep(
            &mut found,
            ascii_char(src, "delimiter", self.delimiter, b','),
        );
        let quote = keep(&mut found, ascii_char(src, "quote", self.quote, b'"'));
        let columns = keep(&mut found, columns(src, self.header, self.columns));
        let (Some(charset), Some(encoding), Some(delimiter), Some(quote), Some(columns)) =
            (charset, encoding, delimiter, quote, columns)
        else {
            return Err(found);
        };
        if delimiter == quote {
            let message = "delimiter and quote must be different characters";
            return Err(src.diagnostic(clash_at.unwrap_or_default(), message).into());
        }
        Ok(CsvSpec {
            encoding,
            charset,
            delimiter,
            quote,
            columns,
            skip_lines: self.skip_lines,
        })
    }
}

/// The charset `[format] encoding` names; UTF-8 when the key is absent or says `"detect"`.
pub fn encoding(
    src: &Source<'_>,
    label: Option<Spanned<String>>,
) -> Result<&'static encoding_rs::Encoding, Diagnostic> {
    match label {
        Some(label) if !is_detect(&label) => encoding_at(src, &label),
        _ => Ok(encoding_rs::UTF_8),
    }
}

/// The charset choices of a `[format]`: `encoding = "detect"` and `invalid_bytes`.
pub fn charset(
    src: &Source<'_>,
    encoding: Option<&Spanned<String>>,
    invalid: Option<Spanned<String>>,
) -> Result<Charset, Diagnostic> {
    let invalid = match invalid {
        None => InvalidBytes::Error,
        Some(value) => match value.get_ref().as_str() {
            "error" => InvalidBytes::Error,
            "replace" => InvalidBytes::Replace,
            other => {
                let message = format!(
                    "invalid_bytes must be \"error\" (dead-letter the record) or \"replace\" \
                     (U+FFFD, logged with the byte offset), not \"{other}\""
                );
                return Err(src.diagnostic(value.span().start, message));
            }
        },
    };
    Ok(Charset {
        detect: encoding.is_some_and(is_detect),
        invalid,
    })
}

/// The charset `[format] encoding` names, if it names one (not absent, not `"detect"`).
pub fn named_encoding(
    src: &Source<'_>,
    label: Option<&Spanned<String>>,
) -> Result<Option<&'static encoding_rs::Encoding>, Diagnostic> {
    match label {
        Some(label) if !is_detect(label) => encoding_at(src, label).map(Some),
        _ => Ok(None),
    }
}

/// Whether an `encoding` value asks for each input's charset to be guessed.
fn is_detect(label: &Spanned<String>) -> bool {
    is_detect_label(label.get_ref())
}

/// Whether an encoding label is `detect` (any case), not a charset.
pub fn is_detect_label(label: &str) -> bool {
    label.trim().eq_ignore_ascii_case("detect")
}

/// The charset a label in a file names, or a diagnostic at the label.
pub fn encoding_at(
    src: &Source<'_>,
    label: &Spanned<String>,
) -> Result<&'static encoding_rs::Encoding, Diagnostic> {
    encoding_for_label(label.get_ref())
        .map_err(|message| src.diagnostic(label.span().start, message))
}

/// The charset a WHATWG label (`"gbk"`, `"utf-8"`, …) names, or a message listing common ones.
pub fn encoding_for_label(label: &str) -> Result<&'static encoding_rs::Encoding, String> {
    match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
        Some(e) if e != encoding_rs::REPLACEMENT => Ok(e),
        _ => Err(format!(
            "unknown encoding \"{label}\"; use a WHATWG label such as {COMMON_ENCODINGS}"
        )),
    }
}

/// One ASCII character; `"\t"` (a tab, or the two characters backslash-t) means tab.
fn ascii_char(
    src: &Source<'_>,
    key: &str,
    value: Option<Spanned<String>>,
    default: u8,
) -> Result<u8, Diagnostic> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.get_ref().as_bytes() {
        b"\\t" => Ok(b'\t'),
        [c] if c.is_ascii() && !matches!(c, b'\n' | b'\r') => Ok(*c),
        _ => {
            let message = format!(
                "{key} must be one ASCII character (or \"\\t\"), got \"{}\"",
                value.get_ref()
            );
            Err(src.diagnostic(value.span().start, message))
        }
    }
}

fn columns(
    src: &Source<'_>,
    header: Option<Spanned<bool>>,
    columns: Option<Spanned<Vec<String>>>,
) -> Result<CsvColumns, Diagnostic> {
    match (header, columns) {
        (Some(header), Some(_)) if *header.get_ref() => Err(src.diagnostic(
            header.span().start,
            "header = true and columns = [...] exclude each other: keep header to read names \
             from the file, or columns to name them here",
        )),
        (_, Some(columns)) => named(src, columns),
        (Some(header), None) if !*header.get_ref() => Err(src.diagnostic(
            header.span().start,
            "header = false needs columns = [\"A\", \"B\", ...] naming the columns",
        )),
        (_, None) => Ok(CsvColumns::Header),
    }
}

fn named(src: &Source<'_>, columns: Spanned<Vec<String>>) -> Result<CsvColumns, Diagnostic> {
    let at = columns.span().start;
    let names = columns.into_inner();
    if names.is_empty() {
        return Err(src.diagnostic(at, "columns must name at least one column"));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(src.diagnostic(at, format!("column \"{dup}\" is named twice in columns")));
    }
    Ok(CsvColumns::Named(names))
}
