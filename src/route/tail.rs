//! Reading the canonical feed back (`omnibus tail`): a temporary exclusive queue bound to the
//! events exchange with a type pattern, printed one readable line per event.

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use std::time::Duration;

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

/// Consumes and calls `each` with one formatted line per event; returns how many were seen.
/// `ready` is called once the queue is bound, so a caller can start producing only then.
pub async fn tail(
    opts: &TailOptions,
    ready: impl FnOnce(),
    mut each: impl FnMut(String),
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
                each(describe(&delivery?));
                seen += 1;
            }
            None => break,
        }
    }
    let _ = conn.close(200, "tail done".into()).await;
    Ok(seen)
}

/// `type  subject  source  data` on one line.
fn describe(d: &Delivery) -> String {
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
    format!(
        "{:<28} {:<28} {:<28} {}",
        header("cloudEvents_type"),
        header("cloudEvents_subject"),
        header("cloudEvents_source"),
        String::from_utf8_lossy(&d.data)
    )
}
