//! The live tap: samples of what the connectors produce right now, for ops watching a running hub
//! (`GET /api/tap`, `omnibus tap`). The ingest path offers each record once decoded, each event
//! once mapped and validated, and each event once the broker confirmed it or the outbox stored it.
//!
//! Samples go through one bounded broadcast channel for the whole hub: a reader that falls behind
//! skips samples (and is told how many), it never slows a connector. A sample is built only while
//! someone taps its connector at its stage, so nobody tapping costs two atomic loads per record.

use crate::canonical::Event;
use crate::delivery::ack::{AckToken, Settlement};
use crate::format::DecodeError;
use crate::format::record::Record;
use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Samples the channel holds for its slowest reader before that reader starts skipping.
const CAPACITY: usize = 1024;

/// Where on the ingest path a sample is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A record as its decoder produced it, with its origin.
    Decoded,
    /// A canonical event after mapping and schema validation.
    Mapped,
    /// An event the broker confirmed, or the outbox stored.
    Published,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Decoded, Stage::Mapped, Stage::Published];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decoded => "decoded",
            Stage::Mapped => "mapped",
            Stage::Published => "published",
        }
    }

    /// The stage named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One sample: its connector and stage, and its JSON line (`connector`, `stage`, `at`, and the
/// record or event).
#[derive(Debug)]
pub struct Sample {
    pub connector: Arc<str>,
    pub stage: Stage,
    pub line: String,
}

/// How many readers tap each stage (of one connector, or of every connector).
#[derive(Debug, Default)]
struct Interest([AtomicUsize; 3]);

impl Interest {
    fn get(&self, stage: Stage) -> bool {
        self.0[stage.index()].load(Ordering::Relaxed) > 0
    }
}

/// The hub's tap: connectors offer samples through their [`TapPoint`]s, readers
/// [`subscribe`](Tap::subscribe). Clones share one channel.
#[derive(Debug, Clone)]
pub struct Tap {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: broadcast::Sender<Arc<Sample>>,
    /// Readers of every connector.
    any: Arc<Interest>,
    /// Readers of one connector, by connector id.
    points: Mutex<HashMap<String, Arc<Interest>>>,
    /// Ends every reader's stream: the hub is stopping.
    stop: CancellationToken,
}

impl Tap {
    /// A tap whose readers' streams end when `stop` fires.
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                sender: broadcast::channel(CAPACITY).0,
                any: Arc::default(),
                points: Mutex::default(),
                stop,
            }),
        }
    }

    /// Where connector `id` offers its samples.
    pub fn point(&self, id: &str) -> TapPoint {
        TapPoint {
            connector: id.into(),
            own: self.interest(id),
            tap: self.clone(),
        }
    }

    /// Samples of `stage`, from `connector` only or from every connector, from now on.
    pub fn subscribe(&self, connector: Option<&str>, stage: Stage) -> Subscription {
        let interest = match connector {
            Some(id) => self.interest(id),
            None => Arc::clone(&self.inner.any),
        };
        interest.0[stage.index()].fetch_add(1, Ordering::Relaxed);
        Subscription {
            receiver: self.inner.sender.subscribe(),
            connector: connector.map(Arc::from),
            stage,
            interest,
            stop: self.inner.stop.clone(),
        }
    }

    fn interest(&self, id: &str) -> Arc<Interest> {
        let mut points = match self.inner.points.lock() {
            Ok(points) => points,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(points.entry(id.to_string()).or_default())
    }
}

/// One connector's place on the tap.
#[derive(Debug, Clone)]
pub struct TapPoint {
    connector: Arc<str>,
    own: Arc<Interest>,
    tap: Tap,
}

impl TapPoint {
    /// Whether anyone taps this connector at `stage`.
    pub fn wants(&self, stage: Stage) -> bool {
        self.own.get(stage) || self.tap.inner.any.get(stage)
    }

    /// Offers each decoded record (or record that failed to decode) among `items`.
    pub fn decoded<'r>(&self, items: impl Iterator<Item = &'r Result<Record, DecodeError>>) {
        if !self.wants(Stage::Decoded) {
            return;
        }
        for item in items {
            let (origin, field) = match item {
                Ok(record) => (&record.origin, ("record", record.to_json())),
                Err(DecodeError::Record(e)) => {
                    let reason = Value::from(e.reason.as_str()).to_string();
                    (&e.origin, ("error", reason))
                }
                Err(_) => continue,
            };
            let origin = ("origin", origin.to_json().to_string());
            self.send(Stage::Decoded, &[origin, field]);
        }
    }

    /// Offers a mapped event (the CloudEvent, as the broker receives it in structured mode).
    pub fn mapped(&self, event: &Event) {
        if !self.wants(Stage::Mapped) {
            return;
        }
        if let Ok(envelope) = event.to_structured_json() {
            let envelope = String::from_utf8_lossy(&envelope).into_owned();
            self.send(Stage::Mapped, &[("event", envelope)]);
        }
    }

    /// Readies a sample of `event` for when it is settled, if anyone taps the published stage.
    pub fn publishing(&self, event: &Event) -> Option<Publishing> {
        if !self.wants(Stage::Published) {
            return None;
        }
        Some(Publishing {
            point: self.clone(),
            id: event.id.to_string(),
            event_type: Arc::clone(&event.event_type),
            subject: event.subject.clone(),
        })
    }

    /// Sends a sample: `connector`, `stage` and `at`, then `fields` (each a name and JSON text),
    /// in that order.
    fn send(&self, stage: Stage, fields: &[(&str, String)]) {
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut line = format!(
            "{{\"connector\":{},\"stage\":\"{}\",\"at\":\"{at}\"",
            Value::from(&*self.connector),
            stage.as_str()
        );
        for (name, json) in fields {
            line.push_str(&format!(",\"{name}\":{json}"));
        }
        line.push('}');
        let sample = Sample {
            connector: Arc::clone(&self.connector),
            stage,
            line,
        };
        let _ = self.tap.inner.sender.send(Arc::new(sample));
    }
}

/// A published event's sample.
#[derive(Debug, serde::Serialize)]
struct Published<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    routing_key: &'a str,
    /// `confirmed` (by the broker) or `outbox` (stored, published later).
    delivery: &'static str,
}

/// An event on its way to the broker, sampled once its token is settled.
#[derive(Debug)]
pub struct Publishing {
    point: TapPoint,
    id: String,
    event_type: Arc<str>,
    subject: Option<String>,
}

impl Publishing {
    /// `token`, offering the event's sample (with `routing_key`, and whether the broker confirmed
    /// it or the outbox stored it) when it is settled.
    pub fn watch(self, token: AckToken, routing_key: &str) -> AckToken {
        let routing_key = routing_key.to_string();
        token.on_settle(move |how| {
            let Publishing {
                point,
                id,
                event_type,
                subject,
            } = self;
            let summary = Published {
                id: &id,
                event_type: &event_type,
                subject: subject.as_deref(),
                routing_key: &routing_key,
                delivery: match how {
                    Settlement::Confirmed => "confirmed",
                    Settlement::Stored => "outbox",
                    Settlement::DeadLettered => "dead_lettered",
                },
            };
            if let Ok(json) = serde_json::to_string(&summary) {
                point.send(Stage::Published, &[("event", json)]);
            }
        })
    }
}

/// What a reader receives.
#[derive(Debug)]
pub enum Tapped {
    Sample(Arc<Sample>),
    /// The reader fell behind and this many samples (of every connector and stage) passed it by.
    Skipped(u64),
}

/// A reader's samples of one stage (of one connector, or every connector). Dropping it stops
/// the connectors from building samples for it.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Sample>>,
    connector: Option<Arc<str>>,
    stage: Stage,
    interest: Arc<Interest>,
    stop: CancellationToken,
}

impl Subscription {
    /// The next sample for this reader, or how many it skipped; `None` once the hub stops.
    pub async fn next(&mut self) -> Option<Tapped> {
        loop {
            let received = tokio::select! {
                () = self.stop.cancelled() => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(sample) if self.matches(&sample) => return Some(Tapped::Sample(sample)),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Some(Tapped::Skipped(n)),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn matches(&self, sample: &Sample) -> bool {
        sample.stage == self.stage
            && self
                .connector
                .as_ref()
                .is_none_or(|id| *id == sample.connector)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.interest.0[self.stage.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{Columns, Origin};

    fn record(line: u64) -> Result<Record, DecodeError> {
        let origin = Origin {
            connector: "pos".into(),
            file: "day.csv".into(),
            line,
            offset: 0,
            locator: None,
        };
        let columns = Arc::new(Columns::new(vec!["sku".into()], b','));
        let row = csv::StringRecord::from(vec![format!("A{line}")]);
        Ok(Record::row(origin, columns, row))
    }

    fn line(tapped: Option<Tapped>) -> Value {
        match tapped {
            Some(Tapped::Sample(sample)) => serde_json::from_str(&sample.line).expect("JSON"),
            other => panic!("not a sample: {other:?}"),
        }
    }

    #[test]
    fn nothing_is_built_while_nobody_taps() {
        let tap = Tap::new(CancellationToken::new());
        let pos = tap.point("pos");
        assert!(!pos.wants(Stage::Decoded));
        pos.decoded([record(2)].iter());
        assert_eq!(tap.inner.sender.len(), 0, "no sample was built");
        let other = tap.subscribe(Some("erp"), Stage::Decoded);
        let mapped = tap.subscribe(Some("pos"), Stage::Mapped);
        assert!(
            !pos.wants(Stage::Decoded),
            "tapping another connector or stage"
        );
        drop((other, mapped));
        let reader = tap.subscribe(None, Stage::Decoded);
        assert!(pos.wants(Stage::Decoded), "tapping every connector");
        drop(reader);
        assert!(!pos.wants(Stage::Decoded), "the reader left");
    }

    #[tokio::test]
    async fn a_reader_gets_its_connector_and_stage_with_origins() {
        let tap = Tap::new(CancellationToken::new());
        let mut reader = tap.subscribe(Some("pos"), Stage::Decoded);
        let _everything = tap.subscribe(None, Stage::Decoded);
        tap.point("erp").decoded([record(9)].iter());
        tap.point("pos").decoded([record(2), record(3)].iter());
        let first = line(reader.next().await);
        assert_eq!(
            (&first["connector"], &first["stage"]),
            (&"pos".into(), &"decoded".into())
        );
        assert_eq!(first["origin"]["line"], 2);
        assert_eq!(first["record"], serde_json::json!({"sku": "A2"}));
        assert!(first["at"].is_string());
        assert_eq!(line(reader.next().await)["origin"]["line"], 3);
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_skipped() {
        let tap = Tap::new(CancellationToken::new());
        let mut reader = tap.subscribe(Some("pos"), Stage::Decoded);
        let pos = tap.point("pos");
        let records: Vec<_> = (0..CAPACITY as u64 + 5).map(record).collect();
        pos.decoded(records.iter());
        assert!(matches!(reader.next().await, Some(Tapped::Skipped(5))));
        assert_eq!(line(reader.next().await)["origin"]["line"], 5);
    }

    #[tokio::test]
    async fn readers_stop_with_the_hub() {
        let stop = CancellationToken::new();
        let tap = Tap::new(stop.clone());
        let mut reader = tap.subscribe(None, Stage::Mapped);
        stop.cancel();
        assert!(reader.next().await.is_none());
    }

    #[test]
    fn stages_are_named() {
        assert_eq!(Stage::parse("published"), Some(Stage::Published));
        assert_eq!(Stage::parse("raw"), None);
    }
}
