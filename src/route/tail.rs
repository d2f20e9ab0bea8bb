//! Reading the canonical feed back (`omnibus tail`): a temporary exclusive queue bound to the
//! events exchange with a type pattern; each event is shown on one readable line (type, subject,
//! the system and connector of its source, and its key data), and the events seen are counted per
//! type and per legacy system.

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How many of the data's fields a line shows at most.
const KEY_FIELDS: usize = 6;
/// How many characters of one field's value a line shows at most.
const VALUE_CHARS: usize = 32;
/// The prefix of the CloudEvents `source` of Omnibus's events: `/omnibus/<system>/<connector>`.
const SOURCE_PREFIX: &str = "/omnibus/";

/// What to show.
#[derive(Debug, Clone)]
pub struct TailOptions {
    pub url: String,
    pub exchange: String,
    /// Topic pattern over event types (routing keys), e.g. `retail.sale.#`.
    pub pattern: String,
    /// Stop after this many events.
    pub limit: Option<usize>,
    /// Stop after this long without an event.
    pub idle: Option<Duration>,
}

/// One event as read from the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Tailed {
    pub event_type: String,
    pub subject: String,
    /// The CloudEvents `source`: `/omnibus/<system>/<connector>`.
    pub source: String,
    /// The top-level fields of the event's `data`, in the order they were written.
    pub data: Fields,
}

/// A JSON object's members in their written order (serde_json's own map sorts them); any other
/// JSON value is one member with an empty name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields(pub Vec<(String, Value)>);

impl Fields {
    fn of(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_else(|_| {
            let value = serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
            Fields(vec![(String::new(), value)])
        })
    }
}

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Fields(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// A structured-mode body: the whole event.
#[derive(serde::Deserialize)]
struct Structured {
    #[serde(rename = "type", default)]
    event_type: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}

impl Tailed {
    /// Reads a delivery in binary content mode (`cloudEvents_*` headers, `data` as the body) or
    /// structured mode (the whole event as the body).
    pub fn from_delivery(d: &Delivery) -> Self {
        let structured = d
            .properties
            .content_type()
            .as_ref()
            .is_some_and(|t| t.as_str().starts_with("application/cloudevents"));
        if structured && let Ok(event) = serde_json::from_slice::<Structured>(&d.data) {
            let text = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
            return Self {
                event_type: text(event.event_type),
                subject: text(event.subject),
                source: text(event.source),
                data: event
                    .data
                    .map(|raw| Fields::of(raw.get().as_bytes()))
                    .unwrap_or_default(),
            };
        }
        let header = |name: &str| -> String {
            d.properties
                .headers()
                .as_ref()
                .and_then(|h| match h.inner().get(name) {
                    Some(AMQPValue::LongString(s)) => Some(s.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "-".to_string())
        };
        Self {
            event_type: header("cloudEvents_type"),
            subject: header("cloudEvents_subject"),
            source: header("cloudEvents_source"),
            data: Fields::of(&d.data),
        }
    }

    /// The legacy system in the source, `None` for a source not written by Omnibus.
    pub fn system(&self) -> Option<&str> {
        self.origin().map(|(system, _)| system)
    }

    /// `(system, connector)` from `/omnibus/<system>/<connector>`.
    fn origin(&self) -> Option<(&str, &str)> {
        self.source.strip_prefix(SOURCE_PREFIX)?.split_once('/')
    }

    /// `type  subject  system/connector  key=value …` on one line.
    pub fn line(&self) -> String {
        let from = match self.origin() {
            Some((system, connector)) => format!("{system}/{connector}"),
            None => self.source.clone(),
        };
        format!(
            "{:<34} {:<30} {:<36} {}",
            self.event_type,
            self.subject,
            from,
            key_data(&self.data)
        )
    }
}

/// The data's first fields as `name=value`: scalars as they are (shortened), objects as `{…}`,
/// arrays by their length.
fn key_data(data: &Fields) -> String {
    let mut out = String::new();
    for (name, value) in data.0.iter().take(KEY_FIELDS) {
        let shown = match value {
            Value::String(s) => shorten(s),
            Value::Object(_) => "{…}".to_string(),
            Value::Array(items) => format!("[{}]", items.len()),
            other => shorten(&other.to_string()),
        };
        let sep = if out.is_empty() { "" } else { " " };
        match name.is_empty() {
            true => {
                let _ = write!(out, "{sep}{shown}");
            }
            false => {
                let _ = write!(out, "{sep}{name}={shown}");
            }
        }
    }
    if data.0.len() > KEY_FIELDS {
        out.push_str(" …");
    }
    out
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(VALUE_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Events seen, per type and per legacy system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub by_type: BTreeMap<String, usize>,
    pub by_system: BTreeMap<String, usize>,
}

impl Counts {
    pub fn add(&mut self, event: &Tailed) {
        self.total += 1;
        *self.by_type.entry(event.event_type.clone()).or_default() += 1;
        let system = event.system().unwrap_or("(not omnibus)").to_string();
        *self.by_system.entry(system).or_default() += 1;
    }

    /// Both tallies as aligned tables, largest first.
    pub fn render(&self) -> String {
        let mut out = format!("{} event(s)\n", self.total);
        for (title, tally) in [("type", &self.by_type), ("system", &self.by_system)] {
            let mut rows: Vec<(&String, &usize)> = tally.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let width = rows
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            let _ = writeln!(out, "\nper {title}:");
            for (name, n) in rows {
                let _ = writeln!(out, "  {name:<width$}  {n:>5}");
            }
        }
        out
    }
}

/// Consumes and calls `each` with every event; returns how many were seen. `ready` is called once
/// the queue is bound, so a caller can start producing only then.
pub async fn tail(
    opts: &TailOptions,
    ready: impl FnOnce(),
    mut each: impl FnMut(Tailed),
) -> lapin::Result<usize> {
    let conn = Connection::connect(&opts.url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    super::topology::declare_exchange(&channel, &opts.exchange).await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            opts.exchange.as_str().into(),
            opts.pattern.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "omnibus-tail".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    ready();
    let mut seen = 0;
    while opts.limit.is_none_or(|l| seen < l) {
        let next = match opts.idle {
            Some(idle) => match tokio::time::timeout(idle, consumer.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => consumer.next().await,
        };
        match next {
            Some(delivery) => {
                each(Tailed::from_delivery(&delivery?));
                seen += 1;
            }
            None => break,
        }
    }
    let _ = conn.close(200, "tail done".into()).await;
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, source: &str, data: &str) -> Tailed {
        Tailed {
            event_type: event_type.into(),
            subject: "SH-001/R1".into(),
            source: source.into(),
            data: Fields::of(data.as_bytes()),
        }
    }

    #[test]
    fn a_line_shows_the_system_connector_and_first_fields_in_order() {
        let data = r#"{"store": "SH-001", "amount": "4.00", "line": 1, "payment": {"method": "cash"},
                       "items": [1, 2], "name": "农夫山泉 550ml 农夫山泉 550ml 农夫山泉 550ml 农夫山泉", "a": 1}"#;
        let line = event("retail.sale.recorded.v1", "/omnibus/pos/pos-sales", data).line();
        assert!(line.starts_with("retail.sale.recorded.v1 "), "{line}");
        assert!(line.contains(" pos/pos-sales "), "{line}");
        assert!(
            line.ends_with(
                "store=SH-001 amount=4.00 line=1 payment={…} items=[2] \
                 name=农夫山泉 550ml 农夫山泉 550ml 农夫山泉 550ml… …"
            ),
            "{line}"
        );
        let plain = event("x.v1", "elsewhere", "[1, 2]").line();
        assert!(plain.contains(" elsewhere "), "{plain}");
        assert!(plain.ends_with(" [2]"), "{plain}");
    }

    #[test]
    fn counts_go_per_type_and_per_system() {
        let mut counts = Counts::default();
        counts.add(&event(
            "retail.sale.recorded.v1",
            "/omnibus/pos/pos-sales",
            "{}",
        ));
        counts.add(&event(
            "retail.sale.recorded.v1",
            "/omnibus/pos/pos-journal",
            "{}",
        ));
        counts.add(&event(
            "retail.order.placed.v1",
            "/omnibus/auction/auction-results",
            "{}",
        ));
        counts.add(&event("x.v1", "elsewhere", "null"));
        assert_eq!(counts.total, 4);
        assert_eq!(counts.by_type["retail.sale.recorded.v1"], 2);
        assert_eq!(counts.by_system["pos"], 2);
        assert_eq!(counts.by_system["auction"], 1);
        assert_eq!(counts.by_system["(not omnibus)"], 1);
        let shown = counts.render();
        assert!(shown.starts_with("4 event(s)\n"), "{shown}");
        let systems: Vec<Vec<&str>> = shown
            .split("per system:\n")
            .nth(1)
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(systems[0], ["pos", "2"]);
        assert_eq!(systems.len(), 3);
    }
}
