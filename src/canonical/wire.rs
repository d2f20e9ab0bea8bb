//! The AMQP 0-9-1 form of an event, per the CloudEvents AMQP binding: binary content mode
//! (`data` as the body, attributes as `cloudEvents_*` headers) or structured mode (the whole event
//! as `application/cloudevents+json`).

use super::event::{DATA_CONTENT_TYPE, Event, SPEC_VERSION};
use crate::config::connector::ContentMode;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use std::sync::atomic::{AtomicU64, Ordering};

/// `app_id` of every message the hub publishes.
pub const APP_ID: &str = "omnibus";
/// AMQP persistent delivery mode.
pub const PERSISTENT: u8 = 2;
/// Content type of a structured-mode message.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Header carrying a message's publish tag, unique in this process, so that a message the broker
/// returns can be told apart from the others in flight (see `route::publisher`).
pub const PUBLISH_TAG: &str = "x-omnibus-publish";

/// A message's body and properties, ready for `basic.publish`.
#[derive(Debug, Clone)]
pub struct Wire {
    /// The body; cheap to clone, so a publish in flight can own a copy.
    pub body: bytes::Bytes,
    pub properties: BasicProperties,
    /// The value of the [`PUBLISH_TAG`] header in `properties`.
    pub tag: u64,
    /// The message id (`message_id` in `properties`): what the dedupe window remembers.
    pub id: uuid::Uuid,
}

/// Adds a fresh publish tag to `headers` and returns it.
pub fn tag_headers(headers: &mut FieldTable) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tag = NEXT.fetch_add(1, Ordering::Relaxed);
    headers.insert(
        PUBLISH_TAG.into(),
        AMQPValue::LongLongInt(i64::try_from(tag).unwrap_or(i64::MAX)),
    );
    tag
}

/// The publish tag of a message (one the broker returned).
pub fn publish_tag(properties: &BasicProperties) -> Option<u64> {
    match properties.headers().as_ref()?.inner().get(PUBLISH_TAG)? {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("event type \"{0}\" is longer than AMQP's 255-byte limit for the type property")]
    TypeTooLong(String),
    #[error("event data is not valid JSON: {0}")]
    Data(#[from] serde_json::Error),
}

/// Encodes `event` for AMQP in the given content mode.
pub fn encode(event: Event, mode: ContentMode) -> Result<Wire, WireError> {
    let event_type = ShortString::try_new(event.event_type.as_ref())
        .map_err(|_| WireError::TypeTooLong(event.event_type.to_string()))?;
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id: &str = event.id.hyphenated().encode_lower(&mut id);
    let mut properties = BasicProperties::default()
        .with_message_id(ShortString::from(id))
        .with_type(event_type)
        .with_timestamp(u64::try_from(event.time.at.timestamp()).unwrap_or(0))
        .with_delivery_mode(PERSISTENT)
        .with_app_id(APP_ID.into());
    let (body, mut headers, content_type) = match mode {
        ContentMode::Binary => {
            let headers = binary_headers(&event, id);
            (event.data, headers, DATA_CONTENT_TYPE)
        }
        ContentMode::Structured => (
            event.to_structured_json()?,
            FieldTable::default(),
            STRUCTURED_CONTENT_TYPE,
        ),
    };
    let tag = tag_headers(&mut headers);
    properties = properties
        .with_content_type(content_type.into())
        .with_headers(headers);
    Ok(Wire {
        body: body.into(),
        properties,
        tag,
        id: event.id,
    })
}

/// The `cloudEvents_*` headers of binary content mode.
fn binary_headers(event: &Event, id: &str) -> FieldTable {
    let mut headers = FieldTable::default();
    let mut put = |name: &str, value: String| {
        headers.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value)),
        );
    };
    put("cloudEvents_specversion", SPEC_VERSION.to_string());
    put("cloudEvents_id", id.to_string());
    put("cloudEvents_source", event.source.to_string());
    put("cloudEvents_type", event.event_type.to_string());
    put("cloudEvents_time", event.time.rfc3339.to_string());
    put("cloudEvents_dataschema", event.dataschema.to_string());
    put("cloudEvents_omnibusorigin", event.origin_attr());
    if let Some(subject) = &event.subject {
        put("cloudEvents_subject", subject.clone());
        put("cloudEvents_partitionkey", subject.clone());
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::event::tests::sample;

    fn header(wire: &Wire, name: &str) -> String {
        let headers = wire.properties.headers().clone().unwrap_or_default();
        match headers.inner().get(name) {
            Some(AMQPValue::LongString(s)) => s.to_string(),
            other => panic!("header {name}: {other:?}"),
        }
    }

    #[test]
    fn binary_mode_puts_data_in_body_and_attributes_in_headers() {
        let event = sample();
        let wire = encode(event.clone(), ContentMode::Binary).unwrap();
        assert_eq!(wire.body[..], event.data[..]);
        let p = &wire.properties;
        assert_eq!(
            p.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(
            p.message_id().as_ref().map(|s| s.as_str()),
            Some(event.id.to_string().as_str())
        );
        assert_eq!(
            p.kind().as_ref().map(|s| s.as_str()),
            Some("retail.inventory.level.v1")
        );
        assert_eq!(*p.delivery_mode(), Some(2));
        assert_eq!(*p.timestamp(), Some(1_700_000_000));
        assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("omnibus"));
        assert_eq!(header(&wire, "cloudEvents_specversion"), "1.0");
        assert_eq!(
            header(&wire, "cloudEvents_source"),
            "/omnibus/erp/erp-inventory"
        );
        assert_eq!(header(&wire, "cloudEvents_subject"), "SH-001/12345");
        assert_eq!(
            header(&wire, "cloudEvents_time"),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(header(&wire, "cloudEvents_omnibusorigin"), "stock.csv:7");
    }

    #[test]
    fn every_message_gets_its_own_publish_tag() {
        let a = encode(sample(), ContentMode::Binary).unwrap();
        let b = encode(sample(), ContentMode::Binary).unwrap();
        assert_ne!(a.tag, b.tag);
        assert_eq!(publish_tag(&a.properties), Some(a.tag));
        assert_eq!(publish_tag(&BasicProperties::default()), None);
    }

    #[test]
    fn structured_mode_carries_the_envelope_in_the_body() {
        let wire = encode(sample(), ContentMode::Structured).unwrap();
        let headers = wire.properties.headers().clone().unwrap_or_default();
        assert_eq!(
            headers.inner().len(),
            1,
            "only the publish tag: {headers:?}"
        );
        assert_eq!(publish_tag(&wire.properties), Some(wire.tag));
        let json: serde_json::Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(json["type"], "retail.inventory.level.v1");
        assert_eq!(
            wire.properties.content_type().as_ref().map(|s| s.as_str()),
            Some("application/cloudevents+json")
        );
    }
}
