//! Replaying a dead letter: its record rebuilt from the dead-letter index — from the stored decoded
//! record, or, for a record that could not be decoded, by decoding its raw bytes again with the
//! connector's current format — then mapped with the connector's current mapping and made into
//! the message that publishes it, as the hub would have.
//!
//! The stored `decoded` column is a JSON object of column → value for a record that was decoded.
//! For a record that failed decoding it may hold the input's column names as a JSON array
//! ([`header_json`]), which replay needs when the connector reads its columns from a header line.

use crate::canonical::Event;
use crate::canonical::event::EventTime;
use crate::canonical::schema::Schema;
use crate::config::connector::{ConnectorSpec, CsvColumns, CsvSpec, FormatSpec};
use crate::connector::emit::Emitter;
use crate::delivery::ack::AckToken;
use crate::delivery::dead_letter::Stage;
use crate::format::charset::Charset;
use crate::format::json::{JsonKind, JsonSpec};
use crate::format::record::{Body, Columns, Origin, Record};
use crate::format::{self, DecodeError};
use crate::mapping::{FailStage, Mapper, Mapping, Outcome};
use crate::route::Outgoing;
use crate::route::router::RouteError;
use crate::state::dead_letters::Letter;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::sync::Arc;

/// Why a letter's record failed again; it stays a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.reason)
    }
}

/// Replays the letters of one connector with its current format and mapping.
#[derive(Debug)]
pub struct Replayer {
    /// `None` for a connector whose records come ready (SQL rows).
    format: Option<FormatSpec>,
    mapping: Arc<Mapping>,
    schema: Option<Arc<Schema>>,
    emitter: Emitter,
}

impl Replayer {
    /// `schema`: the schema of the mapping's event type, which replayed events must conform to.
    pub fn new(
        spec: &ConnectorSpec,
        mapping: Arc<Mapping>,
        schema: Option<Arc<Schema>>,
    ) -> Result<Self, RouteError> {
        Ok(Self {
            format: spec.format.clone(),
            emitter: Emitter::new(spec, mapping.event_type())?,
            mapping,
            schema,
        })
    }

    /// The mapping the letters are replayed with.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The letter's events under the current mapping (several with `split`); none when the
    /// mapping filters it out. The events' time is when the record first failed, close to when
    /// the hub first took it.
    pub fn events(&self, letter: &Letter) -> Result<Vec<Event>, Failure> {
        let records = self.records(letter)?;
        let mut mapper = Mapper::new(&self.mapping, self.schema.clone());
        let mut units = Vec::new();
        for record in records {
            mapper
                .push(Ok(record), &mut units)
                .map_err(|e| failure(Stage::Map, e))?;
        }
        mapper.finish(&mut units);
        let unit = match (units.pop(), units.is_empty()) {
            (Some(unit), true) => unit,
            _ => {
                return Err(failure(
                    Stage::Decode,
                    "the letter's records no longer make one unit (check `[group]`)",
                ));
            }
        };
        let time = chrono::DateTime::from_timestamp(letter.first_at, 0).unwrap_or_default();
        let time = EventTime::new(time);
        match unit.outcome {
            Outcome::Events(mapped) => Ok(mapped
                .into_iter()
                .map(|m| self.emitter.event(m, unit.origin.clone(), &time))
                .collect()),
            Outcome::Failed(f) => Err(failure(
                match f.stage {
                    FailStage::Decode => Stage::Decode,
                    FailStage::Map => Stage::Map,
                    FailStage::Validate => Stage::Validate,
                },
                f.reason,
            )),
        }
    }

    /// The message that publishes `event`, settling `ack` once confirmed.
    pub fn outgoing(&self, event: Event, ack: AckToken) -> Result<Outgoing, Failure> {
        self.emitter
            .outgoing(event, ack)
            .map_err(|e| failure(Stage::Encode, e))
    }

    /// The letter's records: from its decoded form, or its raw bytes decoded again.
    fn records(&self, letter: &Letter) -> Result<Vec<Record>, Failure> {
        let decoded = match letter.decoded.as_deref() {
            Some(json) => Some(Decoded::parse(json).map_err(|e| {
                failure(
                    Stage::Decode,
                    format!("the stored decoded record is unreadable: {e}"),
                )
            })?),
            None => None,
        };
        match decoded {
            Some(Decoded::Record(fields)) => {
                Ok(vec![record_of(fields, self.format.as_ref(), letter)])
            }
            Some(Decoded::Tree(tree)) => Ok(vec![Record {
                origin: origin_of(letter),
                body: Body::Tree(tree),
            }]),
            Some(Decoded::Header(names)) => decode_raw(self.raw_format()?, Some(names), letter),
            None => decode_raw(self.raw_format()?, None, letter),
        }
    }

    /// The format raw bytes decode with; a connector of ready records has none.
    fn raw_format(&self) -> Result<&FormatSpec, Failure> {
        self.format.as_ref().ok_or_else(|| {
            failure(
                Stage::Decode,
                "the record could not be read from its source and the connector has no [format] \
                 to decode it again; fix the source (e.g. cast the column in the query) and read \
                 it again (`omnibus offsets reset`)",
            )
        })
    }
}

/// What a dead letter stores for a failed decode, so its raw bytes can be decoded again: the
/// input's column names as a JSON array.
pub fn header_json(columns: &Columns) -> String {
    serde_json::Value::from(columns.names().to_vec()).to_string()
}

fn failure(stage: Stage, reason: impl ToString) -> Failure {
    Failure {
        stage,
        reason: reason.to_string(),
    }
}

fn origin_of(letter: &Letter) -> Origin {
    Origin {
        connector: letter.connector.as_str().into(),
        file: letter.file.as_str().into(),
        line: letter.line,
        offset: letter.offset,
        locator: letter.locator.as_deref().map(Arc::from),
    }
}

/// A record from its stored fields (column → value, in stored order).
fn record_of(
    fields: Vec<(String, String)>,
    format: Option<&FormatSpec>,
    letter: &Letter,
) -> Record {
    let delimiter = format
        .and_then(FormatSpec::csv)
        .map_or(b',', |csv| csv.delimiter);
    let (names, values): (Vec<String>, Vec<String>) = fields.into_iter().unzip();
    Record::row(
        origin_of(letter),
        Arc::new(Columns::new(names, delimiter)),
        csv::StringRecord::from(values),
    )
}

/// Decodes a letter's raw bytes (UTF-8: they were stored after charset decoding) as records of
/// the connector's current format (one, or a group's rows), with the columns it names or else the
/// input's stored header. An XLSX row was stored as a CSV line.
fn decode_raw(
    format: &FormatSpec,
    header: Option<Vec<String>>,
    letter: &Letter,
) -> Result<Vec<Record>, Failure> {
    let csv = match format {
        FormatSpec::Xlsx(xlsx) => Some(xlsx.raw_csv()),
        _ => format.csv().cloned(),
    };
    let Some(csv) = csv else {
        return decode_all(format, letter);
    };
    let names = match (&csv.columns, header) {
        (CsvColumns::Named(names), _) => names.clone(),
        (CsvColumns::Header, Some(names)) => names,
        (CsvColumns::Header, None) => {
            return Err(failure(
                Stage::Decode,
                "the letter keeps no column names and the connector reads them from a header \
                 line; name the columns under [format] with `columns = [...]` to replay it",
            ));
        }
    };
    let spec = FormatSpec::Csv(CsvSpec {
        encoding: encoding_rs::UTF_8,
        charset: crate::format::charset::Charset::default(),
        columns: CsvColumns::Named(names),
        skip_lines: 0,
        ..csv
    });
    let origin = origin_of(letter);
    let records = format::decode(
        &spec,
        letter.raw.as_slice(),
        Arc::clone(&origin.connector),
        Arc::clone(&origin.file),
    );
    let mut out = Vec::new();
    for (n, item) in records.enumerate() {
        match item {
            Ok(mut record) => {
                record.origin = Origin {
                    line: origin.line + n as u64,
                    ..origin.clone()
                };
                out.push(record);
            }
            Err(DecodeError::Record(e)) => return Err(failure(Stage::Decode, e.reason)),
            Err(e) => return Err(failure(Stage::Decode, e)),
        }
    }
    if out.is_empty() {
        return Err(failure(Stage::Decode, "the raw bytes hold no record"));
    }
    Ok(out)
}

/// Decodes a letter's raw bytes with a format that needs no column names.
fn decode_all(format: &FormatSpec, letter: &Letter) -> Result<Vec<Record>, Failure> {
    let format = replay_format(format).map_err(|reason| failure(Stage::Decode, reason))?;
    let origin = origin_of(letter);
    let records = format::decode(
        &format,
        letter.raw.as_slice(),
        Arc::clone(&origin.connector),
        Arc::clone(&origin.file),
    );
    let out = records
        .map(|item| match item {
            Ok(record) => Ok(record),
            Err(DecodeError::Record(e)) => Err(failure(Stage::Decode, e.reason)),
            Err(e) => Err(failure(Stage::Decode, e)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(failure(Stage::Decode, "the raw bytes hold no record"));
    }
    Ok(out)
}

/// The format a letter's raw bytes decode with again: NDJSON lines were stored as decoded UTF-8
/// text, fixed-width records and documents as the file's own bytes without its leading lines.
/// The other formats stored a record cut out of its document (an XML element, a JSON value, an
/// EDIFACT message) whose envelope and context are gone: it cannot be decoded alone.
fn replay_format(format: &FormatSpec) -> Result<FormatSpec, &'static str> {
    match format {
        FormatSpec::Json(json) if json.kind == JsonKind::Lines => Ok(FormatSpec::Json(JsonSpec {
            encoding: encoding_rs::UTF_8,
            charset: Charset::default(),
            ..json.clone()
        })),
        FormatSpec::FixedWidth(fixed) => Ok(FormatSpec::FixedWidth(fixed.without_skipped_lines())),
        FormatSpec::Json(_) | FormatSpec::Xml(_) | FormatSpec::Edifact(_) => Err(
            "the record failed to decode and was cut out of its document (JSON, XML or EDIFACT), \
             which cannot be decoded again alone; fix the sender's file and drop it again (the \
             letter's origin names it and the record's place in it)",
        ),
        FormatSpec::Csv(_) | FormatSpec::Xlsx(_) => Ok(format.clone()),
    }
}

/// The stored `decoded` column: a flat record (column → value, in stored order), a nested one,
/// or an input's header.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Record(Vec<(String, String)>),
    Tree(serde_json::Value),
    Header(Vec<String>),
}

impl Decoded {
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        let decoded = de.deserialize_any(DecodedVisitor)?;
        de.end()?;
        match decoded {
            Decoded::Tree(_) => serde_json::from_str(json).map(Decoded::Tree),
            flat => Ok(flat),
        }
    }
}

struct DecodedVisitor;

impl<'de> Visitor<'de> for DecodedVisitor {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of column → value, or an array of column names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let mut fields = Vec::new();
        let mut nested = false;
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            nested |= value.is_object() || value.is_array();
            fields.push((name, text_of(value)));
        }
        Ok(if nested {
            Decoded::Tree(serde_json::Value::Null)
        } else {
            Decoded::Record(fields)
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            names.push(name);
        }
        Ok(Decoded::Header(names))
    }
}

/// A field's text: strings as they are, null as empty, anything else as its JSON.
fn text_of(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::dead_letters::Status;

    const MAPPING: &str = "type = \"test.item.v1\"\nkey = [\"sku\"]\n\
                           [fields]\nsku = { from = \"sku\", required = true }\n\
                           qty = { from = \"qty\", type = \"integer\" }\n";
    const HEADER: &str = "header = true";

    /// A connector `shop` (GBK, `|`, two banner lines skipped) loaded from its file; `columns` is
    /// its `[format]` line naming the columns, or `header = true`.
    fn replayer(columns: &str) -> Replayer {
        replayer_for(&format!(
            "type = \"csv\"\nencoding = \"gbk\"\ndelimiter = \"|\"\nskip_lines = 2\n{columns}"
        ))
    }

    /// A connector `shop` with this `[format]`.
    fn replayer_for(format: &str) -> Replayer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("items.toml"), MAPPING).unwrap();
        let text = format!(
            "system = \"test\"\nmapping = \"items\"\n[source]\ntype = \"file\"\npath = \"/in\"\n\
             [format]\n{format}\n"
        );
        let file = dir.path().join("shop.toml");
        std::fs::write(&file, text).unwrap();
        let spec = crate::config::load::load_connector(&file, dir.path()).unwrap();
        let mapping = Mapping::load(&dir.path().join("items.toml")).unwrap();
        Replayer::new(&spec, Arc::new(mapping), None).unwrap()
    }

    fn letter(raw: &[u8], decoded: Option<&str>) -> Letter {
        Letter {
            id: 1,
            message_id: String::new(),
            connector: "shop".into(),
            file: "/in/a.txt".into(),
            line: 7,
            offset: 90,
            locator: None,
            stage: "map".into(),
            error: "old".into(),
            raw: raw.to_vec(),
            decoded: decoded.map(String::from),
            mapping: None,
            mapping_version: None,
            attempts: 1,
            first_at: 1_700_000_000,
            last_at: 1_700_000_000,
            status: Status::Open,
        }
    }

    fn data(event: &Event) -> serde_json::Value {
        serde_json::from_slice(&event.data).unwrap()
    }

    #[test]
    fn a_decoded_record_is_mapped_again_with_its_origin_and_first_failure_time() {
        let r = replayer(HEADER);
        let event = r
            .events(&letter(b"", Some(r#"{"sku":"A1","qty":"3"}"#)))
            .unwrap()
            .remove(0);
        assert_eq!(data(&event), serde_json::json!({"sku": "A1", "qty": 3}));
        assert_eq!(event.origin.to_string(), "/in/a.txt:7");
        assert_eq!(event.origin.offset, 90);
        assert_eq!(&*event.time.rfc3339, "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn a_record_the_mapping_still_rejects_fails_at_the_map_stage() {
        let r = replayer(HEADER);
        let failure = r
            .events(&letter(b"", Some(r#"{"sku":"A1","qty":"x"}"#)))
            .unwrap_err();
        assert_eq!(failure.stage, Stage::Map);
        assert!(failure.reason.contains("qty"), "{failure}");
        let missing = r.events(&letter(b"", Some(r#"{"qty":"1"}"#))).unwrap_err();
        assert_eq!(missing.stage, Stage::Map);
    }

    #[test]
    fn raw_bytes_are_decoded_again_with_the_stored_header_or_the_named_columns() {
        let r = replayer(HEADER);
        let event = r
            .events(&letter("B2|5\n".as_bytes(), Some(r#"["sku","qty"]"#)))
            .unwrap()
            .remove(0);
        assert_eq!(data(&event), serde_json::json!({"sku": "B2", "qty": 5}));
        let event = replayer("columns = [\"sku\", \"qty\"]")
            .events(&letter("货号|6\n".as_bytes(), None))
            .unwrap()
            .remove(0);
        assert_eq!(data(&event)["sku"], "货号");
    }

    #[test]
    fn raw_bytes_that_still_do_not_decode_fail_at_the_decode_stage() {
        let r = replayer(HEADER);
        let short = r
            .events(&letter(b"B2\n", Some(r#"["sku","qty"]"#)))
            .unwrap_err();
        assert_eq!(short.stage, Stage::Decode);
        assert_eq!(short.reason, "expected 2 fields, found 1");
        let unnamed = r.events(&letter(b"B2|5\n", None)).unwrap_err();
        assert!(unnamed.reason.contains("columns = [...]"), "{unnamed}");
        let two = r
            .events(&letter(b"B2|5\nC3|6\n", Some(r#"["sku","qty"]"#)))
            .unwrap_err();
        assert!(two.reason.contains("one unit"), "{two}");
    }

    #[test]
    fn fixed_width_and_ndjson_raw_bytes_decode_again_other_formats_say_why_not() {
        let fixed = replayer_for(
            "type = \"fixed_width\"\nencoding = \"gbk\"\nskip_lines = 1\nshort_lines = \"pad\"\n\
             [[format.records]]\nfields = [{ name = \"sku\", start = 1, length = 4 }, \
             { name = \"qty\", start = 5, length = 3 }]",
        );
        let raw = encoding_rs::GBK.encode("货号 5\n").0;
        let event = fixed.events(&letter(&raw, None)).unwrap().remove(0);
        assert_eq!(data(&event), serde_json::json!({"sku": "货号", "qty": 5}));
        let lines = replayer_for("type = \"ndjson\"\nencoding = \"gbk\"");
        let raw = r#"{"sku":"货号","qty":"2"}"#.as_bytes();
        let event = lines.events(&letter(raw, None)).unwrap().remove(0);
        assert_eq!(data(&event), serde_json::json!({"sku": "货号", "qty": 2}));
        let xml = replayer_for("type = \"xml\"\nrecord = \"/R/L\"");
        let failure = xml
            .events(&letter(b"<L><sku>A</sku></L>", None))
            .unwrap_err();
        assert_eq!(failure.stage, Stage::Decode);
        assert!(failure.reason.contains("drop it again"), "{failure}");
        let decoded = xml
            .events(&letter(b"", Some(r#"{"sku":"A","qty":"4"}"#)))
            .unwrap()
            .remove(0);
        assert_eq!(data(&decoded)["qty"], 4);
    }

    #[test]
    fn the_decoded_column_keeps_its_stored_order() {
        assert_eq!(
            Decoded::parse(r#"{"z":"1","a":null,"m":2}"#).unwrap(),
            Decoded::Record(vec![
                ("z".into(), "1".into()),
                ("a".into(), String::new()),
                ("m".into(), "2".into())
            ])
        );
        let columns = Columns::new(vec!["b".into(), "a".into()], b',');
        assert_eq!(
            Decoded::parse(&header_json(&columns)).unwrap(),
            Decoded::Header(vec!["b".into(), "a".into()])
        );
        assert!(Decoded::parse("\"text\"").is_err());
    }
}
