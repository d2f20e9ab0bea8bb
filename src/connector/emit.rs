//! From a mapped record to a message for the broker: the CloudEvents envelope (id, source, type,
//! time), the routing key and the wire form. Shared by every source.

use crate::canonical::event::{EventTime, dataschema_of, source_of};
use crate::canonical::wire::Wire;
use crate::canonical::{Event, id, wire};
use crate::config::connector::{ConnectorSpec, ContentMode};
use crate::delivery::ack::AckToken;
use crate::delivery::dead_letter::DeadLetter;
use crate::format::record::Origin;
use crate::mapping::Mapped;
use crate::route::router::{RouteError, Router};
use crate::route::{Ack, Outgoing, Target};
use lapin::types::ShortString;
use std::sync::Arc;

/// Builds events and messages for one connector.
#[derive(Debug)]
pub struct Emitter {
    connector: Arc<str>,
    source: Arc<str>,
    event_type: Arc<str>,
    dataschema: Arc<str>,
    router: Router,
    mode: ContentMode,
}

impl Emitter {
    /// `event_type` is the type the connector's mapping produces.
    pub fn new(spec: &ConnectorSpec, event_type: &str) -> Result<Self, RouteError> {
        Ok(Self {
            connector: spec.id.as_str().into(),
            source: source_of(&spec.system, &spec.id).into(),
            event_type: event_type.into(),
            dataschema: dataschema_of(event_type).into(),
            router: Router::new(spec.routing_key.as_deref(), &spec.id, &spec.system)?,
            mode: spec.content_mode,
        })
    }

    pub fn connector(&self) -> &Arc<str> {
        &self.connector
    }

    /// The canonical event of a mapped record: its id is derived from the natural key (or, when
    /// the mapping names none, from the data), so a re-read record keeps its id.
    pub fn event(&self, mapped: Mapped, origin: Origin, time: &EventTime) -> Event {
        let id = if mapped.key.is_empty() {
            id::content_id(&self.connector, &mapped.data)
        } else {
            id::event_id(&self.connector, &mapped.key)
        };
        Event {
            id,
            source: Arc::clone(&self.source),
            event_type: Arc::clone(&self.event_type),
            subject: mapped.subject,
            time: time.clone(),
            dataschema: Arc::clone(&self.dataschema),
            data: mapped.data,
            origin,
        }
    }

    /// The message that publishes `event` on the canonical exchange; a failure here is a record
    /// error (dead letter), not an infrastructure one.
    pub fn outgoing(&self, event: Event, ack: AckToken) -> Result<Outgoing, String> {
        self.encode(event)
            .map(|encoded| self.with_ack(encoded, ack))
    }

    /// The routing key and wire form of `event`, before any token is taken for it.
    pub fn encode(&self, event: Event) -> Result<(ShortString, Wire), String> {
        let routing_key = self.router.route(&event).map_err(|e| e.to_string())?;
        let wire = wire::encode(event, self.mode).map_err(|e| e.to_string())?;
        Ok((routing_key, wire))
    }

    /// The message for an encoded event, settling `ack` once confirmed.
    pub fn with_ack(&self, (routing_key, wire): (ShortString, Wire), ack: AckToken) -> Outgoing {
        Outgoing {
            connector: Arc::clone(&self.connector),
            target: Target::Events,
            routing_key,
            wire,
            ack: Ack::Source(ack),
        }
    }

    /// The message that dead-letters a bad record (routing key: the connector id).
    pub fn dead_letter(&self, letter: &DeadLetter, ack: AckToken) -> Outgoing {
        let routing_key = ShortString::try_new(letter.routing_key())
            .unwrap_or_else(|_| ShortString::from("connector-id-too-long"));
        Outgoing {
            connector: Arc::clone(&self.connector),
            target: Target::DeadLetters,
            routing_key,
            wire: letter.to_wire(),
            ack: Ack::Source(ack),
        }
    }
}
