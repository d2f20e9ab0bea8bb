//! The mapper: decoded records in, [`Unit`]s out — what every source (files, replay, `omnibus
//! map`, `omnibus test`) runs records through. It binds the mapping to each file's columns, groups
//! consecutive rows (`[group]`), maps (one event per record, or per item with `split`), and checks
//! every event against its schema. A unit covers one or more input records and is either the
//! events made of them or one failure that dead-letters them together.

use super::group::{Group, Grouper};
use super::{Binder, MapError, Mapped, Mapping};
use crate::canonical::schema::Schema;
use crate::format::record::{Columns, Origin, Record, RecordError};
use std::sync::Arc;

/// What became of one or more consecutive input records.
#[derive(Debug)]
pub struct Unit {
    /// Where the (first) record came from.
    pub origin: Origin,
    /// Input records the unit stands for: 1, or a group's rows.
    pub items: u64,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// The events made of the records: none when `when` filtered them out.
    Events(Vec<Mapped>),
    /// The records fail together.
    Failed(Failure),
}

/// Why records failed, with what a dead letter needs.
#[derive(Debug)]
pub struct Failure {
    pub stage: FailStage,
    pub reason: String,
    /// The records as read (rows re-encoded with their delimiter, trees as JSON).
    pub raw: Vec<u8>,
    /// The decoded records as JSON, when they were decoded.
    pub decoded: Option<String>,
    /// The input's columns, for a row that could not be decoded.
    pub columns: Option<Arc<Columns>>,
}

/// The step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailStage {
    Decode,
    Map,
    /// The event does not conform to its schema.
    Validate,
}

/// Maps a stream of records with one mapping.
#[derive(Debug)]
pub struct Mapper<'m> {
    mapping: &'m Mapping,
    binder: Binder<'m>,
    grouper: Option<Grouper>,
    schema: Option<Arc<Schema>>,
}

impl<'m> Mapper<'m> {
    /// `schema`: the schema of the mapping's event type, every event is checked against it.
    pub fn new(mapping: &'m Mapping, schema: Option<Arc<Schema>>) -> Self {
        Self {
            mapping,
            binder: Binder::new(mapping),
            grouper: mapping.group().map(Grouper::new),
            schema,
        }
    }

    /// Takes the next decoded item; the units it completes are added to `out`. An error means the
    /// file as a whole does not fit the mapping (a column it reads is missing).
    pub fn push(
        &mut self,
        item: Result<Record, RecordError>,
        out: &mut Vec<Unit>,
    ) -> Result<(), MapError> {
        if let Some(columns) = item.as_ref().err().and_then(|e| e.columns.as_ref())
            && self.grouper.is_none()
        {
            self.binder.columns(columns)?;
        }
        let Some(grouper) = &mut self.grouper else {
            out.push(match item {
                Ok(record) => self.map(record)?,
                Err(e) => decode_failure(e),
            });
            return Ok(());
        };
        let groups = grouper
            .push(item)
            .map_err(|reason| self.mapping.error_at_group(reason))?;
        for group in groups {
            out.push(self.group(group));
        }
        Ok(())
    }

    /// Ends the input: the last open group, if any, becomes a unit.
    pub fn finish(&mut self, out: &mut Vec<Unit>) {
        if let Some(group) = self.grouper.as_mut().and_then(Grouper::finish) {
            out.push(self.group(group));
        }
    }

    /// Maps one record as it is, without grouping (a group's record, a replayed dead letter). An
    /// error means the record does not fit at all (a flat row lacking a column the mapping reads).
    pub fn map(&mut self, record: Record) -> Result<Unit, MapError> {
        let bound = self.binder.bind(&record)?;
        let outcome = match bound.eval(&record) {
            Ok(events) => self.validated(events, &record),
            Err(e) => failed(FailStage::Map, e.to_string(), &record),
        };
        Ok(Unit {
            origin: record.origin,
            items: 1,
            outcome,
        })
    }

    /// The unit of a complete group: its record mapped, or its failure; a failure carries the
    /// group's rows as read.
    fn group(&mut self, group: Group) -> Unit {
        let (stage, reason) = match group.record {
            Ok(record) => match self.map(record) {
                Ok(mut unit) => {
                    unit.items = group.items;
                    if let Outcome::Failed(failure) = &mut unit.outcome {
                        failure.raw = group.raw;
                    }
                    return unit;
                }
                Err(e) => (FailStage::Map, e.to_string()),
            },
            Err(reason) => (FailStage::Decode, reason),
        };
        Unit {
            origin: group.origin,
            items: group.items,
            outcome: Outcome::Failed(Failure {
                stage,
                reason,
                raw: group.raw,
                decoded: None,
                columns: None,
            }),
        }
    }

    /// The events when every one conforms to the schema; else the failure of the first that does
    /// not.
    fn validated(&self, events: Vec<Mapped>, record: &Record) -> Outcome {
        let Some(schema) = &self.schema else {
            return Outcome::Events(events);
        };
        for event in &events {
            if let Err(reason) = self.mapping.validate(schema, event) {
                return failed(FailStage::Validate, reason, record);
            }
        }
        Outcome::Events(events)
    }
}

fn failed(stage: FailStage, reason: String, record: &Record) -> Outcome {
    Outcome::Failed(Failure {
        stage,
        reason,
        raw: record.raw(),
        decoded: Some(record.to_json()),
        columns: None,
    })
}

fn decode_failure(e: RecordError) -> Unit {
    Unit {
        origin: e.origin,
        items: 1,
        outcome: Outcome::Failed(Failure {
            stage: FailStage::Decode,
            reason: e.reason,
            raw: e.raw,
            decoded: None,
            columns: e.columns,
        }),
    }
}
