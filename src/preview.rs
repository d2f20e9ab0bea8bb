//! Decoding and mapping sample files without a broker (`omnibus map`): each record's canonical
//! event, or the reason it would be dead-lettered, exactly as the running hub would produce them.

use crate::canonical::event::EventTime;
use crate::canonical::schema::Schema;
use crate::config::connector::{ConnectorSpec, FormatSpec, SourceSpec};
use crate::connector::emit::Emitter;
use crate::format::charset::Charset;
use crate::format::json::{DEFAULT_MAX_RECORD_BYTES, JsonKind, JsonSpec};
use crate::format::record::Origin;
use crate::format::{self, DecodeError};
use crate::mapping::{Mapper, Mapping, Outcome, Unit};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

/// One record's fate.
#[derive(Debug)]
pub enum Previewed {
    /// The event in CloudEvents structured JSON.
    Event(Vec<u8>),
    /// Filtered out by the mapping's `when` (the record, or the first row of its group).
    Filtered { origin: Origin },
    /// The record would be dead-lettered.
    Failed { origin: Origin, reason: String },
}

/// Decodes and maps `path` with the connector's format (NDJSON rows for a `sql` connector) and
/// mapping (checking events against `schema`), calling `each` per event, filtered record or failure. A file-level problem
/// (unreadable, unusable header, a column the mapping reads is missing) is returned as an error.
pub fn preview_file(
    spec: &ConnectorSpec,
    mapping: &Mapping,
    schema: Option<&Arc<Schema>>,
    path: &Path,
    mut each: impl FnMut(Previewed),
) -> Result<(), String> {
    let emitter = Emitter::new(spec, mapping.event_type()).map_err(|e| e.to_string())?;
    let name: Arc<str> = path.display().to_string().into();
    let Some(format) = sample_format(spec) else {
        return Err(format!(
            "connector {} has no [format] to decode {name} with",
            spec.id
        ));
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut mapper = Mapper::new(mapping, schema.cloned());
    let time = EventTime::now();
    let mut units = Vec::new();
    let mut failure = None;
    let max_inflated = match &spec.source {
        SourceSpec::File(source) => source.max_inflated_bytes,
        SourceSpec::Amqp(_)
        | SourceSpec::Mqtt(_)
        | SourceSpec::HttpPush(_)
        | SourceSpec::HttpPoll(_)
        | SourceSpec::Sql(_) => crate::format::compressed::DEFAULT_MAX_INFLATED,
    };
    let connector = Arc::clone(emitter.connector());
    format::decode_file(
        &format,
        file,
        &name,
        &connector,
        max_inflated,
        &mut |input, item| {
            let item = match item {
                Ok(record) => Ok(record),
                Err(DecodeError::Record(e)) => Err(e),
                Err(other) => {
                    failure = Some(format!("{input}: {other}"));
                    return false;
                }
            };
            if let Err(e) = mapper.push(item, &mut units) {
                failure = Some(format!("{input}: {e}"));
                return false;
            }
            units
                .drain(..)
                .for_each(|unit| report(unit, &emitter, &time, &mut each));
            true
        },
    );
    if let Some(failure) = failure {
        return Err(failure);
    }
    mapper.finish(&mut units);
    units
        .drain(..)
        .for_each(|unit| report(unit, &emitter, &time, &mut each));
    Ok(())
}

/// What a sample of `spec` is decoded with: its `[format]`; for a `sql` connector (which reads
/// rows, not files) NDJSON, one row per line as the source gives it — column → value as text,
/// NULL as null.
fn sample_format(spec: &ConnectorSpec) -> Option<Cow<'_, FormatSpec>> {
    match (&spec.format, &spec.source) {
        (Some(format), _) => Some(Cow::Borrowed(format)),
        (None, SourceSpec::Sql(_)) => Some(Cow::Owned(FormatSpec::Json(JsonSpec {
            kind: JsonKind::Lines,
            encoding: encoding_rs::UTF_8,
            charset: Charset::default(),
            record: None,
            context: Vec::new(),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }))),
        (None, _) => None,
    }
}

/// Calls `each` for a unit's events, or its filtering or failure.
fn report(unit: Unit, emitter: &Emitter, time: &EventTime, each: &mut impl FnMut(Previewed)) {
    match unit.outcome {
        Outcome::Events(events) if events.is_empty() => each(Previewed::Filtered {
            origin: unit.origin,
        }),
        Outcome::Events(events) => {
            for mapped in events {
                let event = emitter.event(mapped, unit.origin.clone(), time);
                each(match event.to_structured_json() {
                    Ok(json) => Previewed::Event(json),
                    Err(e) => Previewed::Failed {
                        origin: unit.origin.clone(),
                        reason: e.to_string(),
                    },
                });
            }
        }
        Outcome::Failed(failure) => each(Previewed::Failed {
            origin: unit.origin,
            reason: failure.reason,
        }),
    }
}
