//! The broker topology the hub declares on every (re)connect: the durable topic exchange for
//! canonical events, the durable dead-letter exchange with its bound durable queue, and the receipts
//! stream when enabled.

use super::receipts::Receipts;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

/// Names of what the hub declares (`[broker]` in `omnibus.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub exchange: String,
    pub dead_letter_exchange: String,
    pub dead_letter_queue: String,
    /// The receipts stream, when enabled.
    pub receipts: Option<Receipts>,
}

impl Topology {
    /// Declares the exchanges and the dead-letter queue (idempotent), binding the queue with `#`.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        declare_exchange(channel, &self.exchange).await?;
        declare_exchange(channel, &self.dead_letter_exchange).await?;
        let queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(
                self.dead_letter_queue.as_str().into(),
                queue,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                self.dead_letter_queue.as_str().into(),
                self.dead_letter_exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        if let Some(receipts) = &self.receipts {
            let exchanges = [self.exchange.as_str(), self.dead_letter_exchange.as_str()];
            receipts.declare(channel, &exchanges).await?;
        }
        Ok(())
    }
}

/// Declares one of the hub's durable topic exchanges (idempotent: consumers may declare it too, so
/// they can bind before the hub first starts).
pub async fn declare_exchange(channel: &Channel, name: &str) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
}
