//! The AMQP connector (`[source] type = "amqp"`): consumes a legacy system's queue on its own
//! broker, ingests each message body ([`crate::connector::ingest`]) and acknowledges the delivery
//! only once every event derived from it is confirmed by the hub's broker or durably stored; a
//! record that fails to decode or map is dead-lettered to Omnibus's dead-letter exchange first,
//! then the delivery is acknowledged — or, with `on_failure = "reject"`, the delivery is rejected
//! without requeue so the legacy queue's own dead-letter exchange takes it whole. A delivery that
//! cannot be settled (the hub is stopping) is returned to the legacy queue (`nack` with
//! requeue), so nothing is lost. Mappings see the delivery's `_meta.exchange` and
//! `_meta.routing_key`.
//!
//! Deliveries are ingested concurrently, at most `prefetch` at a time (the broker hands out no
//! more unacknowledged ones). When the connection or channel fails — the legacy broker restarts,
//! the network drops — the connector reconnects with backoff and resumes consuming; deliveries
//! that were unacknowledged then are redelivered by the broker, and the dedupe window drops the
//! events already published.

mod spec;

pub use spec::{AmqpSourceSpec, OnFailure, parse_spec};

use crate::backoff::Backoff;
use crate::connector::ingest::{Failures, Ingest, Pipeline};
use crate::connector::meta::Meta;
use crate::connector::status::Phase;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a delivery goes back to its queue.
const REQUEUE: BasicNackOptions = BasicNackOptions {
    multiple: false,
    requeue: true,
};

/// How long a stopping connector waits for the deliveries already sent to it.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(2);

/// First pause before reconnecting.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A running AMQP connector.
pub struct AmqpSource {
    pub pipeline: Pipeline,
    pub source: AmqpSourceSpec,
}

/// Why consuming stopped before the hub did.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("{0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker cancelled the consumer (queue deleted?)")]
    Cancelled,
}

impl AmqpSource {
    /// Consumes until `cancel` fires, reconnecting with backoff whenever the broker goes away.
    pub async fn run(self, cancel: CancellationToken) {
        let mut job = self.pipeline.ingest(&cancel);
        if self.source.on_failure == OnFailure::Reject {
            job.failures = Failures::HandBack;
        }
        let status = &self.pipeline.status;
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        while !cancel.is_cancelled() {
            let mut consumed = false;
            let Err(e) = self.consume(&job, &cancel, &mut consumed).await else {
                break;
            };
            if consumed {
                backoff.reset();
            }
            let wait = backoff.next_wait();
            status.backing_off(&e.to_string(), wait);
            tracing::warn!(connector = %self.pipeline.spec.id, broker = %self.source.url, queue = %self.source.queue, error = %e, retry_in = ?wait, "AMQP source disconnected; reconnecting");
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        status.phase(Phase::Stopped);
    }

    /// One connection's life: consume and ingest until cancelled (`Ok`) or the broker fails.
    async fn consume(
        &self,
        job: &Ingest<'_>,
        cancel: &CancellationToken,
        consumed: &mut bool,
    ) -> Result<(), ConsumeError> {
        let props = ConnectionProperties::default()
            .with_connection_name(format!("omnibus {}", self.pipeline.spec.id).into());
        let conn = Connection::connect(self.source.url.expose(), props).await?;
        let channel = conn.create_channel().await?;
        channel
            .basic_qos(self.source.prefetch, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                self.source.queue.as_str().into(),
                format!("omnibus-{}", self.pipeline.spec.id).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        *consumed = true;
        self.pipeline.status.phase(Phase::Connected);
        tracing::info!(connector = %self.pipeline.spec.id, broker = %self.source.url, queue = %self.source.queue, prefetch = self.source.prefetch, "consuming");
        let mut inflight = FuturesUnordered::new();
        let ended = loop {
            tokio::select! {
                () = cancel.cancelled() => break Ok(()),
                Some(settled) = inflight.next(), if !inflight.is_empty() => {
                    if let Err(e) = settled {
                        break Err(ConsumeError::Broker(e));
                    }
                }
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => inflight.push(self.take(job, delivery)),
                    Some(Err(e)) => break Err(ConsumeError::Broker(e)),
                    None => break Err(ConsumeError::Cancelled),
                },
            }
        };
        if ended.is_ok() {
            self.hand_back_prefetched(&channel, &mut consumer).await;
        }
        while inflight.next().await.is_some() {}
        let _ = conn.close(200, "omnibus connector stopping".into()).await;
        ended
    }

    /// The hub is stopping: stops the consumer and returns the deliveries the broker had already
    /// sent but the connector had not started on to the queue, each with a log line.
    async fn hand_back_prefetched(&self, channel: &lapin::Channel, consumer: &mut lapin::Consumer) {
        let tag = consumer.tag();
        let _ = channel
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await;
        let drain = async {
            while let Some(Ok(delivery)) = consumer.next().await {
                let name = self.message_name(&delivery);
                tracing::warn!(connector = %self.pipeline.spec.id, message = %name, "message not settled; returned to its queue (the hub is stopping)");
                let _ = delivery.acker.nack(REQUEUE).await;
            }
        };
        let _ = tokio::time::timeout(HAND_BACK_TIMEOUT, drain).await;
    }

    /// Ingests one delivery and settles it with the legacy broker: ack once its events are safe,
    /// nack with requeue when they could not be settled.
    async fn take(&self, job: &Ingest<'_>, delivery: Delivery) -> Result<(), lapin::Error> {
        let name = self.message_name(&delivery);
        let meta = Meta::default()
            .with("exchange", delivery.exchange.as_str())
            .with("routing_key", delivery.routing_key.as_str());
        let Delivery { data, acker, .. } = delivery;
        match job.message(Arc::clone(&name), data, meta).await {
            Ok(tally) if tally.failed > 0 && job.failures == Failures::HandBack => {
                tracing::warn!(connector = %self.pipeline.spec.id, message = %name, failed = tally.failed, "message rejected to its queue's dead-letter exchange");
                self.pipeline.status.error(&format!(
                    "{name}: rejected, {} record(s) failed",
                    tally.failed
                ));
                let reject = BasicNackOptions {
                    requeue: false,
                    ..BasicNackOptions::default()
                };
                acker.nack(reject).await.map(drop)
            }
            Ok(_) => {
                self.pipeline.status.success();
                acker.ack(BasicAckOptions::default()).await.map(drop)
            }
            Err(e) => {
                tracing::warn!(connector = %self.pipeline.spec.id, message = %name, error = %e, "message not settled; returned to its queue");
                acker.nack(REQUEUE).await.map(drop)
            }
        }
    }

    /// How a message is named in origins and dead letters: `amqp:<queue>/<message id>`, or the
    /// BLAKE3 of its body when it has no id, so a redelivered message keeps its name (and its
    /// dead letter keeps its id).
    fn message_name(&self, delivery: &Delivery) -> Arc<str> {
        let id = match delivery.properties.message_id() {
            Some(id) => id.to_string(),
            None => format!("blake3-{}", &blake3::hash(&delivery.data).to_hex()[..16]),
        };
        format!("amqp:{}/{id}", self.source.queue).into()
    }
}
