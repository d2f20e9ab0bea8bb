//! Decoding and mapping sample files without a broker (`omnibus map`): each record's canonical
//! event, or the reason it would be dead-lettered, exactly as the running hub would produce them.

use crate::canonical::event::EventTime;
use crate::config::connector::ConnectorSpec;
use crate::connector::emit::Emitter;
use crate::format::record::Origin;
use crate::format::{self, DecodeError};
use crate::mapping::{Binder, Mapping};
use std::path::Path;
use std::sync::Arc;

/// One record's fate.
#[derive(Debug)]
pub enum Previewed {
    /// The event in CloudEvents structured JSON.
    Event(Vec<u8>),
    /// Filtered out by the mapping's `when`.
    Filtered,
    /// The record would be dead-lettered.
    Failed { origin: Origin, reason: String },
}

/// Decodes and maps `path` with the connector's format and mapping, calling `each` per record.
/// A file-level problem (unreadable, unusable header) is returned as an error.
pub fn preview_file(
    spec: &ConnectorSpec,
    mapping: &Mapping,
    path: &Path,
    mut each: impl FnMut(Previewed),
) -> Result<(), String> {
    let emitter = Emitter::new(spec, mapping.event_type()).map_err(|e| e.to_string())?;
    let name: Arc<str> = path.display().to_string().into();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut binder = Binder::new(mapping);
    let time = EventTime::now();
    for item in format::decode(
        &spec.format,
        file,
        emitter.connector().clone(),
        name.clone(),
    ) {
        let record = match item {
            Ok(record) => record,
            Err(DecodeError::Record(e)) => {
                each(Previewed::Failed {
                    origin: e.origin,
                    reason: e.reason,
                });
                continue;
            }
            Err(other) => return Err(format!("{name}: {other}")),
        };
        let mapping = binder
            .bind(&record.columns)
            .map_err(|e| format!("{name}: {e}"))?;
        each(match mapping.eval(&record) {
            Ok(None) => Previewed::Filtered,
            Ok(Some(mapped)) => {
                let event = emitter.event(mapped, record.origin.clone(), &time);
                match event.to_structured_json() {
                    Ok(json) => Previewed::Event(json),
                    Err(e) => Previewed::Failed {
                        origin: record.origin,
                        reason: e.to_string(),
                    },
                }
            }
            Err(e) => Previewed::Failed {
                origin: record.origin,
                reason: e.to_string(),
            },
        });
    }
    Ok(())
}
