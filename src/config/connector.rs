//! Connector specs: what one `connectors/<id>.toml` says, resolved and checked.
//!
//! These are the validated forms the rest of the hub uses; the file syntax (and its diagnostics)
//! lives in [`super::load`].

use std::path::PathBuf;
use std::time::Duration;

/// One connector, ready to run.
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    /// Unique id; defaults to the file stem.
    pub id: String,
    /// Which legacy system; part of the CloudEvents `source`.
    pub system: String,
    /// Mapping name: `mappings/<mapping>.toml`.
    pub mapping: String,
    /// minijinja template for the routing key; `None` routes by event type.
    pub routing_key: Option<String>,
    pub content_mode: ContentMode,
    /// When the legacy system is expected to send input; `None` expects nothing.
    pub expect: Option<crate::connector::freshness::Expectation>,
    pub source: SourceSpec,
    /// `[format]`; `None` only for sources whose records come ready (`sql` rows).
    pub format: Option<FormatSpec>,
    /// The connector file, for messages.
    pub file: PathBuf,
    /// The instance's parameters (`region = "east"`) when the file defines a family of connectors.
    pub instance: Option<String>,
}

/// CloudEvents content mode on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentMode {
    /// `data` is the body; attributes are `cloudEvents_*` headers.
    #[default]
    Binary,
    /// The body is the whole event as `application/cloudevents+json`.
    Structured,
}

#[derive(Debug, Clone)]
pub enum SourceSpec {
    File(FileSourceSpec),
    Amqp(crate::connector::amqp::AmqpSourceSpec),
    Mqtt(crate::connector::mqtt::MqttSourceSpec),
    HttpPush(crate::connector::http_push::HttpPushSpec),
    HttpPoll(Box<crate::connector::http_poll::HttpPollSpec>),
    Sql(crate::connector::sql::SqlSourceSpec),
}

impl SourceSpec {
    /// The source's `type`, as written in connector files.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::File(_) => "file",
            SourceSpec::Amqp(_) => "amqp",
            SourceSpec::Mqtt(_) => "mqtt",
            SourceSpec::HttpPush(_) => "http_push",
            SourceSpec::HttpPoll(_) => "http_poll",
            SourceSpec::Sql(_) => "sql",
        }
    }

    /// Where the source reads, for listings: a folder and glob, a queue, topics, a webhook path,
    /// a URL or a table (URLs without their credentials).
    pub fn reads(&self) -> String {
        match self {
            SourceSpec::File(f) => format!("{}/{}", tidy(&f.path).display(), f.glob),
            SourceSpec::Amqp(a) => format!("queue {} at {}", a.queue, a.url),
            SourceSpec::Mqtt(m) => format!("topics {} at {}", m.topics.join(", "), m.url),
            SourceSpec::HttpPush(p) => format!("POST {}", p.path),
            SourceSpec::HttpPoll(p) => format!("GET {}", p.url),
            SourceSpec::Sql(q) => format!("{} at {}", q.name, q.url),
        }
    }
}

/// `a/b/../c` as `a/c`, for display: a path resolved against a config file reads better without
/// the `..` that took it out of the config folder.
fn tidy(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        let after_name = matches!(out.components().next_back(), Some(Component::Normal(_)));
        match part {
            Component::ParentDir if after_name => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `[source] type = "file"`.
#[derive(Debug, Clone)]
pub struct FileSourceSpec {
    /// Folder watched for files.
    pub path: PathBuf,
    /// Glob matched against file names in the folder (not recursive).
    pub glob: String,
    /// A file is taken once its size and modification time are unchanged this long.
    pub settle: Duration,
    /// Period of the full rescan that backs up file-system notifications.
    pub rescan: Duration,
    /// What happens to a file once all its records are settled.
    pub after: After,
    /// When set, a file is taken only once `<file><marker>` exists (e.g. `.done`, `.ok`).
    pub marker: Option<String>,
    /// Glob patterns of names never taken (files still being written under a temporary name).
    pub ignore: Vec<String>,
    /// What happens to a file whose identical content was already processed.
    pub on_duplicate: OnDuplicate,
    /// Bytes a compressed file (or one zip entry) may inflate to before it is refused.
    pub max_inflated_bytes: u64,
}

/// `on_duplicate`: a file dropped again with content the ledger has seen finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Log it and finish the file without publishing anything again.
    #[default]
    Skip,
    /// Process it again; events still in the dedupe window are not published twice.
    Reprocess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum After {
    /// To `done/` (or `error/` when no record succeeded) under the folder.
    #[default]
    Move,
    Delete,
}

/// `[format]`: how a connector's input is decoded into records.
#[derive(Debug, Clone)]
pub enum FormatSpec {
    Csv(CsvSpec),
    /// `json` (one document, records at a path) and `ndjson` (one record per line).
    Json(crate::format::json::JsonSpec),
    Xml(crate::format::xml::XmlSpec),
    FixedWidth(crate::format::fixed_width::FixedWidthSpec),
    Edifact(crate::format::edifact::EdifactSpec),
    Xlsx(crate::format::xlsx::XlsxSpec),
}

impl FormatSpec {
    /// Whether each input's encoding is guessed before decoding (`encoding = "detect"`) by
    /// [`crate::format::decode`]. XML and EDIFACT weigh the guess against their own declarations
    /// themselves, so they answer `false`.
    pub fn guesses_encoding(&self) -> bool {
        match self {
            FormatSpec::Csv(csv) => csv.charset.detect,
            FormatSpec::Json(json) => json.charset.detect,
            FormatSpec::FixedWidth(fixed) => fixed.charset().detect,
            FormatSpec::Xml(_) | FormatSpec::Edifact(_) | FormatSpec::Xlsx(_) => false,
        }
    }

    /// The same spec reading `encoding` (the guess of `encoding = "detect"`); formats that pick
    /// their encoding themselves are unchanged.
    pub fn with_encoding(&self, encoding: &'static encoding_rs::Encoding) -> Self {
        match self {
            FormatSpec::Csv(csv) => FormatSpec::Csv(CsvSpec {
                encoding,
                ..csv.clone()
            }),
            FormatSpec::Json(json) => FormatSpec::Json(crate::format::json::JsonSpec {
                encoding,
                ..json.clone()
            }),
            FormatSpec::FixedWidth(fixed) => FormatSpec::FixedWidth(fixed.with_encoding(encoding)),
            FormatSpec::Xml(_) | FormatSpec::Edifact(_) | FormatSpec::Xlsx(_) => self.clone(),
        }
    }

    /// The CSV settings, for the tools that only handle CSV so far.
    pub fn csv(&self) -> Option<&CsvSpec> {
        match self {
            FormatSpec::Csv(csv) => Some(csv),
            _ => None,
        }
    }
}

/// `[format] type = "csv"`.
#[derive(Debug, Clone)]
pub struct CsvSpec {
    /// Charset of the file; a BOM overrides it.
    pub encoding: &'static encoding_rs::Encoding,
    pub charset: crate::format::charset::Charset,
    pub delimiter: u8,
    pub quote: u8,
    /// Column names: from the first row (after `skip_lines`) or given explicitly.
    pub columns: CsvColumns,
    /// Lines dropped before the header or first record (banners, report titles).
    pub skip_lines: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvColumns {
    Header,
    Named(Vec<String>),
}
