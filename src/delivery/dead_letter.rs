//! Dead letters: a record that cannot be decoded or mapped is published to the dead-letter exchange
//! with its raw bytes, the reason and its origin, so the good records around it keep flowing and ops
//! can see, fix and replay it.

use crate::canonical::wire::{APP_ID, PERSISTENT, Wire, tag_headers};
use crate::format::record::Origin;
use crate::state::dead_letters::NewLetter;
use chrono::Utc;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use std::fmt;

/// The pipeline stage at which a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Decode,
    Map,
    /// The event did not conform to its schema.
    Validate,
    Encode,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Decode, Stage::Map, Stage::Validate, Stage::Encode];
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Decode => "decode",
            Stage::Map => "map",
            Stage::Validate => "validate",
            Stage::Encode => "encode",
        })
    }
}

/// A bad record, with everything needed to find, understand and replay it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub origin: Origin,
    pub stage: Stage,
    pub reason: String,
    pub raw: Vec<u8>,
    /// The decoded record as a JSON object of column → value; for a record that could not be
    /// decoded, the JSON array of the input's column names when they are known (so replay can
    /// decode the raw bytes again).
    pub decoded: Option<String>,
}

impl DeadLetter {
    /// The dead letter's id (its `message_id`): stable for the same bad record read again.
    pub fn id(&self) -> uuid::Uuid {
        crate::canonical::id::dead_letter_id(
            &self.origin.connector,
            &self.origin.file,
            self.origin.offset,
            &self.raw,
        )
    }

    /// The row the local dead-letter index keeps, naming the mapping that failed on it.
    pub fn to_stored(&self, mapping: Option<(&str, &str)>) -> NewLetter {
        NewLetter {
            key: *self.id().as_bytes(),
            connector: self.origin.connector.to_string(),
            file: self.origin.file.to_string(),
            line: self.origin.line,
            offset: self.origin.offset,
            locator: self.origin.locator.as_deref().map(str::to_string),
            stage: self.stage.to_string(),
            error: self.reason.clone(),
            raw: self.raw.clone(),
            decoded: self.decoded.clone(),
            mapping: mapping.map(|m| m.0.to_string()),
            mapping_version: mapping.map(|m| m.1.to_string()),
        }
    }

    /// The routing key on the dead-letter exchange: the connector id.
    pub fn routing_key(&self) -> &str {
        &self.origin.connector
    }

    /// Body = the raw record; `x-omnibus-*` headers = where it came from and why it failed.
    pub fn to_wire(&self) -> Wire {
        let mut headers = FieldTable::default();
        let mut put = |name: &str, value: AMQPValue| {
            headers.insert(ShortString::from(name), value);
        };
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.to_string()));
        put("x-omnibus-connector", text(&self.origin.connector));
        put("x-omnibus-file", text(&self.origin.file));
        put(
            "x-omnibus-line",
            AMQPValue::LongLongInt(to_i64(self.origin.line)),
        );
        put(
            "x-omnibus-offset",
            AMQPValue::LongLongInt(to_i64(self.origin.offset)),
        );
        if let Some(locator) = &self.origin.locator {
            put("x-omnibus-locator", text(locator));
        }
        put("x-omnibus-stage", text(&self.stage.to_string()));
        put("x-omnibus-error", text(&self.reason));
        let tag = tag_headers(&mut headers);
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id: &str = self.id().hyphenated().encode_lower(&mut id);
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(id))
            .with_content_type("application/octet-stream".into())
            .with_delivery_mode(PERSISTENT)
            .with_app_id(APP_ID.into())
            .with_timestamp(u64::try_from(Utc::now().timestamp()).unwrap_or(0))
            .with_headers(headers);
        Wire {
            body: self.raw.clone().into(),
            properties,
            tag,
            id: self.id(),
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
