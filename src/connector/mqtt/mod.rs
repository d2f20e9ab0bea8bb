//! The MQTT connector (`[source] type = "mqtt"`): subscribes to a legacy system's topic filters
//! on its MQTT broker with a persistent session (`clean_session = false`, a stable client id), so
//! messages published while the hub is down wait in the broker and arrive when it returns. Each
//! message's payload is ingested ([`crate::connector::ingest`]) with its topic as `_meta.topic`,
//! and a QoS 1 message is acknowledged (PUBACK) only once every event derived from it is
//! confirmed by the hub's broker, durably stored or dead-lettered.
//!
//! A task of its own drives the connection (rumqttc's event loop: connect, subscribe, keep-alive
//! pings, acknowledgements) and hands messages to the consumer, which ingests at most
//! `max_in_flight` at once. A message that cannot be settled is left unacknowledged and the
//! connection is renewed, so the broker sends it again (MQTT 3.1.1 redelivers only on a new
//! connection); a message settled after its connection was lost is not acknowledged on the new
//! one, where the broker sends it again and the dedupe window drops its events. When the broker
//! goes away the connection is retried with backoff (1 s doubling to 30 s).

mod spec;

pub use spec::{Login, MqttSourceSpec, parse_spec};

use crate::backoff::Backoff;
use crate::config::env::Secret;
use crate::connector::ingest::{Ingest, Pipeline};
use crate::connector::meta::Meta;
use crate::connector::status::{Phase, StatusHandle};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rumqttc::{
    AsyncClient, ConnAck, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS, Request,
    SubAck, Subscribe, SubscribeFilter, SubscribeReasonCode,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// First pause after the connection fails.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a stopping connector waits for its DISCONNECT to reach the broker.
const DISCONNECT_GRACE: Duration = Duration::from_secs(5);
/// Requests (acknowledgements, the DISCONNECT) queued for the connection beyond one per message
/// in flight.
const SPARE_REQUESTS: usize = 16;

/// A running MQTT connector.
pub struct MqttSource {
    pub pipeline: Pipeline,
    pub source: MqttSourceSpec,
}

/// What the connection task and the consumer share.
#[derive(Default)]
struct Link {
    /// Counts connections (and their losses): a message is acknowledged only on the connection
    /// it came on.
    generation: AtomicU64,
    /// Asks the connection task for a new connection, so the broker sends an unsettled message
    /// again.
    renew: Notify,
}

/// A message and the connection it came on.
struct Received {
    generation: u64,
    publish: Publish,
}

impl MqttSource {
    /// Subscribes and ingests until `cancel` fires; an `Err` when the connection task ended by
    /// itself (the hub restarts the connector).
    pub async fn run(self, cancel: CancellationToken) -> Result<(), String> {
        let client_id = self
            .source
            .client_id
            .clone()
            .unwrap_or_else(|| format!("omnibus-{}", self.pipeline.spec.id));
        let in_flight = usize::from(self.source.max_in_flight);
        let (client, eventloop) =
            AsyncClient::new(self.options(&client_id), in_flight + SPARE_REQUESTS);
        let (tx, rx) = mpsc::channel(in_flight);
        let link = Arc::new(Link::default());
        let connection = Connection {
            eventloop,
            tx,
            link: Arc::clone(&link),
            status: self.pipeline.status.clone(),
            connector: self.pipeline.spec.id.clone(),
            url: self.source.url.clone(),
            filters: self.filters(),
        };
        let driver = tokio::spawn(connection.run(cancel.clone()));
        tracing::info!(connector = %self.pipeline.spec.id, broker = %self.source.url, client_id = %client_id, topics = ?self.source.topics, "subscribing");
        let job = self.pipeline.ingest(&cancel);
        self.consume(&job, &client, rx, &link).await;
        disconnect(&client, driver).await;
        if !cancel.is_cancelled() {
            return Err("the MQTT connection task ended unexpectedly".into());
        }
        self.pipeline.status.phase(Phase::Stopped);
        Ok(())
    }

    /// The client's settings: a persistent session with manual acknowledgements.
    fn options(&self, client_id: &str) -> MqttOptions {
        let source = &self.source;
        let mut options = MqttOptions::new(client_id, source.host.clone(), source.port);
        options
            .set_keep_alive(source.keep_alive)
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(source.max_message_size, source.max_message_size);
        if let Some(login) = &source.login {
            options.set_credentials(login.user.clone(), login.password.expose());
        }
        options
    }

    fn filters(&self) -> Vec<SubscribeFilter> {
        let topics = &self.source.topics;
        let qos = self.source.qos;
        topics
            .iter()
            .map(|t| SubscribeFilter::new(t.clone(), qos))
            .collect()
    }

    /// Ingests the messages the connection task hands over, at most `max_in_flight` at once,
    /// until `cancel` fires or the task ends; then finishes the messages in flight.
    async fn consume(
        &self,
        job: &Ingest<'_>,
        client: &AsyncClient,
        mut rx: mpsc::Receiver<Received>,
        link: &Link,
    ) {
        let limit = usize::from(self.source.max_in_flight);
        let mut inflight = FuturesUnordered::new();
        loop {
            tokio::select! {
                () = job.cancel.cancelled() => break,
                Some(()) = inflight.next(), if !inflight.is_empty() => {}
                next = rx.recv(), if inflight.len() < limit => match next {
                    Some(received) => inflight.push(self.take(job, client, link, received)),
                    None => break,
                },
            }
        }
        drop(rx);
        while inflight.next().await.is_some() {}
    }

    /// Ingests one message and acknowledges it once its events are settled.
    async fn take(&self, job: &Ingest<'_>, client: &AsyncClient, link: &Link, received: Received) {
        let Received {
            generation,
            publish,
        } = received;
        let name = message_name(&publish);
        let meta = Meta::default().with("topic", publish.topic.as_str());
        let id = &self.pipeline.spec.id;
        let status = &self.pipeline.status;
        match job
            .message(Arc::clone(&name), publish.payload.clone(), meta)
            .await
        {
            Ok(_) if publish.qos == QoS::AtMostOnce => status.success(),
            Ok(_) if link.generation.load(Ordering::Acquire) != generation => {
                tracing::debug!(connector = %id, message = %name, "settled after its connection was lost; the broker sends it again and the dedupe window drops its events");
                status.success();
            }
            Ok(_) => match client.ack(&publish).await {
                Ok(()) => status.success(),
                Err(e) => {
                    tracing::warn!(connector = %id, message = %name, error = %e, "could not acknowledge; the broker sends the message again");
                }
            },
            Err(e) => {
                tracing::warn!(connector = %id, message = %name, error = %e, "message not settled; left unacknowledged for the broker to send again");
                if !job.cancel.is_cancelled() {
                    status.error(&format!("{name}: {e}"));
                    link.renew.notify_one();
                }
            }
        }
    }
}

/// How a message is named in origins and dead letters: `mqtt:<topic>/<BLAKE3 of the payload>`,
/// the same when the broker sends it again (its packet id is not).
fn message_name(publish: &Publish) -> Arc<str> {
    let hash = blake3::hash(&publish.payload).to_hex();
    format!("mqtt:{}/{}", publish.topic, &hash[..16]).into()
}

/// Sends DISCONNECT (the broker keeps the session) and waits a little for the connection task
/// to deliver it.
async fn disconnect(client: &AsyncClient, mut driver: JoinHandle<()>) {
    let _ = client.try_disconnect();
    if tokio::time::timeout(DISCONNECT_GRACE, &mut driver)
        .await
        .is_err()
    {
        driver.abort();
    }
}

/// The task that drives the connection: rumqttc's event loop.
struct Connection {
    eventloop: EventLoop,
    tx: mpsc::Sender<Received>,
    link: Arc<Link>,
    status: StatusHandle,
    connector: String,
    /// For logs (the password hidden).
    url: Secret,
    filters: Vec<SubscribeFilter>,
}

impl Connection {
    /// Polls the event loop until the DISCONNECT is sent, or until `cancel` fires while the
    /// connection is down; reconnects with backoff.
    async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut subscribed = false;
        loop {
            let polled = tokio::select! {
                polled = self.eventloop.poll() => polled.map_err(|e| e.to_string()),
                () = self.link.renew.notified() => {
                    self.eventloop.clean();
                    Err("a message could not be settled; reconnecting so that the broker sends it again".into())
                }
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    self.connected(&ack, &mut subscribed);
                    backoff.reset();
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let generation = self.link.generation.load(Ordering::Acquire);
                    // Fails only once the consumer stopped: the broker keeps the message.
                    let _ = self
                        .tx
                        .send(Received {
                            generation,
                            publish,
                        })
                        .await;
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => self.subscribed(&ack),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(reason) => {
                    if !self.lost(&reason, &mut backoff, &cancel).await {
                        break;
                    }
                }
            }
        }
    }

    /// The connection is lost: reports it and waits the backoff's next pause before the next
    /// attempt; `false` when the connector stops instead.
    async fn lost(
        &mut self,
        reason: &str,
        backoff: &mut Backoff,
        cancel: &CancellationToken,
    ) -> bool {
        self.link.generation.fetch_add(1, Ordering::AcqRel);
        if cancel.is_cancelled() {
            return false;
        }
        let wait = backoff.next_wait();
        self.status.backing_off(reason, wait);
        tracing::warn!(connector = %self.connector, broker = %self.url, error = %reason, retry_in = ?wait, "MQTT source disconnected; reconnecting");
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    /// A new connection: subscribes on the first one (the topics may have changed since the
    /// session was made) and whenever the broker kept no session.
    fn connected(&mut self, ack: &ConnAck, subscribed: &mut bool) {
        self.link.generation.fetch_add(1, Ordering::AcqRel);
        self.status.phase(Phase::Connected);
        if !*subscribed || !ack.session_present {
            let subscribe = Subscribe::new_many(self.filters.clone());
            self.eventloop
                .pending
                .push_back(Request::Subscribe(subscribe));
            *subscribed = true;
        }
        tracing::info!(connector = %self.connector, broker = %self.url, session_present = ack.session_present, "connected");
    }

    /// Logs the subscription and reports the filters the broker refused.
    fn subscribed(&self, ack: &SubAck) {
        let topics: Vec<&str> = self.filters.iter().map(|f| f.path.as_str()).collect();
        tracing::info!(connector = %self.connector, broker = %self.url, topics = ?topics, "subscribed");
        for (filter, code) in self.filters.iter().zip(&ack.return_codes) {
            if *code == SubscribeReasonCode::Failure {
                let message = format!(
                    "the broker refused the subscription to \"{}\" (is this user allowed to read it?)",
                    filter.path
                );
                tracing::error!(connector = %self.connector, broker = %self.url, "{message}");
                self.status.error(&message);
            }
        }
    }
}
