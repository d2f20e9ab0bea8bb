//! The receipts stream: an optional RabbitMQ stream bound to the hub's exchanges that keeps a copy of
//! every message the broker accepted, so that after a crash or a lost connection the hub can tell
//! which of the messages it never saw confirmed did reach the broker, and not publish them twice.
//!
//! The check publishes a fence straight into the stream, then reads the stream from a point in time
//! up to the fence: every message id read reached the broker. The stream has its own retention
//! (`receipts_max_age`, `receipts_max_bytes`), so it costs bounded broker disk.

use crate::state::dedupe::Id;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use std::collections::HashSet;
use std::time::Duration;

/// Message-id prefix of fences, so they never count as receipts.
const FENCE: &str = "omnibus-fence-";
/// Longest wait for the next message while reading up to the fence.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The stream's name and retention (`[delivery] receipts*` in `omnibus.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipts {
    pub stream: String,
    /// RabbitMQ's `x-max-age` syntax: `24h`, `7D`.
    pub max_age: String,
    pub max_bytes: u64,
}

impl Receipts {
    /// Declares the stream and binds it with `#` to each exchange (idempotent).
    pub async fn declare(&self, channel: &Channel, exchanges: &[&str]) -> lapin::Result<()> {
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), text("stream"));
        args.insert("x-max-age".into(), text(&self.max_age));
        args.insert(
            "x-max-length-bytes".into(),
            AMQPValue::LongLongInt(i64::try_from(self.max_bytes).unwrap_or(i64::MAX)),
        );
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(self.stream.as_str().into(), durable, args)
            .await?;
        for exchange in exchanges {
            channel
                .queue_bind(
                    self.stream.as_str().into(),
                    (*exchange).into(),
                    "#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Ids of the messages the broker accepted since `since` (Unix seconds; `None`: since the start
    /// of the stream).
    pub async fn present(
        &self,
        conn: &Connection,
        since: Option<i64>,
    ) -> Result<HashSet<Id>, String> {
        let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
        let result = self.read(&channel, since).await;
        let _ = channel.close(200, "receipts read".into()).await;
        result
    }

    async fn read(&self, channel: &Channel, since: Option<i64>) -> Result<HashSet<Id>, String> {
        let fence = self.fence(channel).await.map_err(|e| e.to_string())?;
        let mut consumer = self
            .consume(channel, since)
            .await
            .map_err(|e| e.to_string())?;
        let mut ids = HashSet::new();
        while let Ok(Some(delivery)) = tokio::time::timeout(READ_TIMEOUT, consumer.next()).await {
            let delivery = delivery.map_err(|e| e.to_string())?;
            delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            let Some(id) = delivery.properties.message_id() else {
                continue;
            };
            if id.as_str() == fence {
                return Ok(ids);
            }
            if let Ok(uuid) = uuid::Uuid::parse_str(id.as_str()) {
                ids.insert(*uuid.as_bytes());
            }
        }
        Err(format!(
            "reading {} stopped before the fence arrived",
            self.stream
        ))
    }

    /// A consumer on the stream from `since`.
    async fn consume(
        &self,
        channel: &Channel,
        since: Option<i64>,
    ) -> lapin::Result<lapin::Consumer> {
        channel.basic_qos(1000, BasicQosOptions::default()).await?;
        let mut args = FieldTable::default();
        let offset = match since {
            Some(t) => AMQPValue::Timestamp(u64::try_from(t).unwrap_or(0)),
            None => text("first"),
        };
        args.insert("x-stream-offset".into(), offset);
        channel
            .basic_consume(
                self.stream.as_str().into(),
                "omnibus-receipts".into(),
                BasicConsumeOptions::default(),
                args,
            )
            .await
    }

    /// Publishes a fence into the stream (through the default exchange) and waits for its confirm.
    async fn fence(&self, channel: &Channel) -> lapin::Result<String> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let fence = format!("{FENCE}{}", uuid::Uuid::now_v7());
        let props = BasicProperties::default().with_message_id(ShortString::from(fence.as_str()));
        channel
            .basic_publish(
                "".into(),
                self.stream.as_str().into(),
                BasicPublishOptions::default(),
                b"",
                props,
            )
            .await?
            .await?;
        Ok(fence)
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_string()))
}
