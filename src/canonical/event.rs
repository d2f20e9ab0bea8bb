//! The CloudEvents 1.0 envelope of a canonical event, and its structured JSON form.

use crate::format::record::Origin;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use uuid::Uuid;

/// The CloudEvents spec version every event carries.
pub const SPEC_VERSION: &str = "1.0";
/// `datacontenttype` of every event: `data` is JSON.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// When an event happened, with its RFC 3339 form computed once: the events of one input (a file)
/// share the time the hub took it.
#[derive(Debug, Clone)]
pub struct EventTime {
    pub at: DateTime<Utc>,
    pub rfc3339: Arc<str>,
}

impl EventTime {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            rfc3339: at.to_rfc3339_opts(SecondsFormat::Millis, true).into(),
            at,
        }
    }

    pub fn now() -> Self {
        Self::new(Utc::now())
    }
}

/// One canonical event, ready for the wire. `data` is JSON text.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    /// `/omnibus/<system>/<connector>`.
    pub source: Arc<str>,
    pub event_type: Arc<str>,
    pub subject: Option<String>,
    pub time: EventTime,
    pub dataschema: Arc<str>,
    pub data: Vec<u8>,
    /// Where the record came from: the `omnibusorigin` lineage extension.
    pub origin: Origin,
}

/// The CloudEvents `source` of a connector's events.
pub fn source_of(system: &str, connector: &str) -> String {
    format!("/omnibus/{system}/{connector}")
}

/// The `dataschema` URI of an event type (its schema is `schemas/<type>.json`).
pub fn dataschema_of(event_type: &str) -> String {
    format!("urn:omnibus:schema:{event_type}")
}

impl Event {
    /// The `omnibusorigin` extension value: `file:line`, then ` (locator)` for structured
    /// formats (`/ORDERS05/IDOC[3]`).
    pub fn origin_attr(&self) -> String {
        let mut line = itoa::Buffer::new();
        let line = line.format(self.origin.line);
        let locator = self.origin.locator.as_deref().unwrap_or_default();
        let mut out =
            String::with_capacity(self.origin.file.len() + 4 + line.len() + locator.len());
        out.push_str(&self.origin.file);
        out.push(':');
        out.push_str(line);
        if !locator.is_empty() {
            out.push_str(" (");
            out.push_str(locator);
            out.push(')');
        }
        out
    }

    /// The event in CloudEvents structured JSON form (`application/cloudevents+json`).
    pub fn to_structured_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let data: &RawValue = serde_json::from_slice(&self.data)?;
        let id = self.id.to_string();
        let origin = self.origin_attr();
        let envelope = Structured {
            specversion: SPEC_VERSION,
            id: &id,
            source: &self.source,
            event_type: &self.event_type,
            subject: self.subject.as_deref(),
            time: &self.time.rfc3339,
            datacontenttype: DATA_CONTENT_TYPE,
            dataschema: &self.dataschema,
            omnibusorigin: &origin,
            data,
        };
        serde_json::to_vec(&envelope)
    }
}

#[derive(Serialize)]
struct Structured<'a> {
    specversion: &'a str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    time: &'a str,
    datacontenttype: &'a str,
    dataschema: &'a str,
    omnibusorigin: &'a str,
    data: &'a RawValue,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Event {
        Event {
            id: Uuid::nil(),
            source: source_of("erp", "erp-inventory").into(),
            event_type: "retail.inventory.level.v1".into(),
            subject: Some("SH-001/12345".into()),
            time: EventTime::new(DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()),
            dataschema: dataschema_of("retail.inventory.level.v1").into(),
            data: br#"{"sku":"12345","on_hand":"12.000"}"#.to_vec(),
            origin: Origin {
                connector: "erp-inventory".into(),
                file: "stock.csv".into(),
                line: 7,
                offset: 300,
                locator: None,
            },
        }
    }

    #[test]
    fn structured_form_has_every_attribute_and_raw_data() {
        let json: serde_json::Value =
            serde_json::from_slice(&sample().to_structured_json().unwrap()).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["source"], "/omnibus/erp/erp-inventory");
        assert_eq!(json["type"], "retail.inventory.level.v1");
        assert_eq!(json["subject"], "SH-001/12345");
        assert_eq!(json["time"], "2023-11-14T22:13:20.000Z");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["omnibusorigin"], "stock.csv:7");
        assert_eq!(json["data"]["on_hand"], "12.000");
    }
}
