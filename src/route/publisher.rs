//! The publisher: the one owner of the broker connection.
//!
//! Sources hand it [`Outgoing`] messages through a bounded channel (back pressure reaches them when
//! the confirm window is full). It publishes with `mandatory` and publisher confirms, keeping up to
//! `confirm_window` publishes awaiting their confirm. Only a plain `basic.ack` settles a message's
//! [`AckToken`]; a `basic.nack`, a returned (unroutable) message or a lost connection counts as not
//! delivered, and the message is published again — after a pause for nacks and returns, after a
//! reconnect (with the topology declared again) for a lost connection. lapin does not republish
//! unconfirmed messages itself, so the publisher keeps every unconfirmed message until its confirm.

use super::topology::Topology;
use crate::canonical::wire::{Wire, publish_tag};
use crate::delivery::ack::{AckToken, Settlement};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection, ConnectionProperties};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Which exchange a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The canonical event exchange.
    Events,
    /// The dead-letter exchange.
    DeadLetters,
}

/// One message for the broker, with the token it settles once confirmed.
#[derive(Debug)]
pub struct Outgoing {
    pub target: Target,
    pub routing_key: ShortString,
    pub wire: Wire,
    pub ack: AckToken,
}

/// Connection and flow settings of the publisher.
#[derive(Debug, Clone)]
pub struct PublisherSettings {
    pub url: String,
    pub topology: Topology,
    /// Publishes awaiting a confirm at most.
    pub confirm_window: usize,
    /// Longest pause between reconnect attempts.
    pub max_backoff: Duration,
    /// How long shutdown waits for outstanding confirms.
    pub shutdown_grace: Duration,
}

/// What the publisher's connection is doing, for logs and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerState {
    Connecting,
    Connected,
    Unreachable(String),
}

/// The publisher has stopped (the hub is shutting down); the message was not taken.
#[derive(Debug, thiserror::Error)]
#[error("the publisher has stopped")]
pub struct PublisherClosed(pub Box<Outgoing>);

/// Handle to the publisher task; cheap to clone, one per source.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Outgoing>,
    state: watch::Receiver<BrokerState>,
}

impl Publisher {
    /// Starts the publisher task. It connects (retrying with backoff until it can), declares the
    /// topology and publishes until `cancel` fires.
    pub fn spawn(settings: PublisherSettings, cancel: CancellationToken) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.confirm_window.max(1));
        let (state_tx, state) = watch::channel(BrokerState::Connecting);
        let task = tokio::spawn(run(settings, rx, state_tx, cancel));
        (Self { tx, state }, task)
    }

    /// Queues a message; waits while the publisher is saturated.
    pub async fn publish(&self, msg: Outgoing) -> Result<(), PublisherClosed> {
        self.tx
            .send(msg)
            .await
            .map_err(|e| PublisherClosed(Box::new(e.0)))
    }

    /// The broker connection's current state.
    pub fn state(&self) -> BrokerState {
        self.state.borrow().clone()
    }
}

async fn run(
    settings: PublisherSettings,
    mut rx: mpsc::Receiver<Outgoing>,
    state: watch::Sender<BrokerState>,
    cancel: CancellationToken,
) {
    let mut queue = Queue::default();
    let mut backoff = Backoff::new(settings.max_backoff);
    while !cancel.is_cancelled() {
        let channel = match connect(&settings).await {
            Ok(channel) => channel,
            Err(reason) => {
                report_unreachable(&state, &settings, reason);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(backoff.next()) => continue,
                }
            }
        };
        backoff.reset();
        state.send_replace(BrokerState::Connected);
        tracing::info!(url = %redact(&settings.url), "broker connected; topology declared");
        let mut session = Session::new(&settings, channel.1);
        let end = session.run(&mut queue, &mut rx, &cancel).await;
        session.requeue_unconfirmed(&mut queue);
        let closing = channel
            .0
            .close(200, "omnibus publisher reconnecting".into());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
        match end {
            SessionEnd::Stopped => break,
            SessionEnd::Lost(reason) => {
                tracing::warn!(%reason, unconfirmed = queue.len(), "broker connection lost; will reconnect and republish unconfirmed messages");
                state.send_replace(BrokerState::Unreachable(reason));
            }
        }
    }
    rx.close();
    tracing::info!(unsent = queue.len() + rx.len(), "publisher stopped");
}

fn report_unreachable(
    state: &watch::Sender<BrokerState>,
    settings: &PublisherSettings,
    reason: String,
) {
    let changed = !matches!(&*state.borrow(), BrokerState::Unreachable(r) if *r == reason);
    if changed {
        tracing::warn!(url = %redact(&settings.url), %reason, "broker unreachable; retrying with backoff, sources wait");
        state.send_replace(BrokerState::Unreachable(reason));
    }
}

/// How long connecting (with the channel and the topology) may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long closing a connection that is being abandoned may take; a dead one never answers.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects, opens a confirming channel and declares the topology, within [`CONNECT_TIMEOUT`]: a
/// broker (or network) that stops answering half-way must not hang the publisher.
async fn connect(settings: &PublisherSettings) -> Result<(Connection, Channel), String> {
    tokio::time::timeout(CONNECT_TIMEOUT, open(settings))
        .await
        .map_err(|_| format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))?
}

async fn open(settings: &PublisherSettings) -> Result<(Connection, Channel), String> {
    let props = ConnectionProperties::default().with_connection_name("omnibus".into());
    let conn = Connection::connect(&settings.url, props)
        .await
        .map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    settings
        .topology
        .declare(&channel)
        .await
        .map_err(|e| format!("declaring topology: {e}"))?;
    Ok((conn, channel))
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Messages waiting to be (re)published: ready ones first, in order; paused ones after a nack or a
/// return, until their pause ends.
#[derive(Default)]
struct Queue {
    ready: VecDeque<Outgoing>,
    paused: VecDeque<(Instant, Outgoing)>,
    pause: Option<Duration>,
}

impl Queue {
    fn len(&self) -> usize {
        self.ready.len() + self.paused.len()
    }

    /// Holds a message that the broker refused, pausing longer while refusals continue.
    fn pause(&mut self, msg: Outgoing) {
        let pause = self.pause.map_or(Duration::from_millis(250), |p| {
            (p * 2).min(Duration::from_secs(5))
        });
        self.pause = Some(pause);
        self.paused.push_back((Instant::now() + pause, msg));
    }

    fn next_wake(&self) -> Option<Instant> {
        self.paused.front().map(|(at, _)| *at)
    }

    fn wake_due(&mut self) {
        let now = Instant::now();
        while self.paused.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, msg)) = self.paused.pop_front() {
                self.ready.push_back(msg);
            }
        }
    }

    fn delivered(&mut self) {
        self.pause = None;
    }
}

enum SessionEnd {
    Stopped,
    Lost(String),
}

type Confirm = BoxFuture<'static, (u64, lapin::Result<Confirmation>)>;

/// One connection's worth of publishing.
struct Session<'s> {
    settings: &'s PublisherSettings,
    channel: Channel,
    exchange: ShortString,
    dead_letter_exchange: ShortString,
    unconfirmed: HashMap<u64, Outgoing>,
    confirms: FuturesUnordered<Confirm>,
    /// Publishes the broker returned as unroutable whose own confirm has not been handled yet.
    returned: HashSet<u64>,
    warned_refused: bool,
}

impl<'s> Session<'s> {
    fn new(settings: &'s PublisherSettings, channel: Channel) -> Self {
        Self {
            settings,
            channel,
            exchange: ShortString::from(settings.topology.exchange.as_str()),
            dead_letter_exchange: ShortString::from(
                settings.topology.dead_letter_exchange.as_str(),
            ),
            unconfirmed: HashMap::new(),
            confirms: FuturesUnordered::new(),
            returned: HashSet::new(),
            warned_refused: false,
        }
    }

    fn has_room(&self) -> bool {
        self.unconfirmed.len() < self.settings.confirm_window
    }

    async fn run(
        &mut self,
        queue: &mut Queue,
        rx: &mut mpsc::Receiver<Outgoing>,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        loop {
            while self.has_room() {
                let Some(msg) = queue.ready.pop_front() else {
                    break;
                };
                if let Err(reason) = self.publish(msg, queue).await {
                    return SessionEnd::Lost(reason);
                }
            }
            let wake = queue.next_wake();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    self.drain(queue).await;
                    return SessionEnd::Stopped;
                }
                Some(first) = self.confirms.next(), if !self.confirms.is_empty() => {
                    if let Err(reason) = self.confirmed(first, queue) {
                        return SessionEnd::Lost(reason);
                    }
                }
                _ = sleep_until(wake), if wake.is_some() => queue.wake_due(),
                msg = rx.recv(), if self.has_room() && queue.ready.is_empty() => match msg {
                    Some(msg) => {
                        if let Err(reason) = self.publish(msg, queue).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    None => {
                        self.drain(queue).await;
                        return SessionEnd::Stopped;
                    }
                },
            }
        }
    }

    /// Publishes one message; on failure it goes back to the front of the queue.
    async fn publish(&mut self, msg: Outgoing, queue: &mut Queue) -> Result<(), String> {
        let exchange = match msg.target {
            Target::Events => self.exchange.clone(),
            Target::DeadLetters => self.dead_letter_exchange.clone(),
        };
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let seq = msg.wire.tag;
        let sent = self
            .channel
            .basic_publish(
                exchange,
                msg.routing_key.clone(),
                options,
                &msg.wire.body,
                msg.wire.properties.clone(),
            )
            .await;
        match sent {
            Ok(confirm) => {
                self.unconfirmed.insert(seq, msg);
                self.confirms
                    .push(Box::pin(async move { (seq, confirm.await) }));
                Ok(())
            }
            Err(e) => {
                queue.ready.push_front(msg);
                Err(e.to_string())
            }
        }
    }

    /// Handles `first` and every other confirm already resolved with it.
    ///
    /// lapin hands each returned message to whichever confirm it resolves next — with a multiple
    /// ack, in no particular order — so a return may ride on another message's confirm. The broker
    /// sends a message's return before its ack, so by the time a message's confirm is resolved its
    /// return (if any) rides on a confirm resolved no later: collecting the returns of every
    /// resolved confirm first, by the publish tag they carry, tells exactly which were returned.
    fn confirmed(
        &mut self,
        first: (u64, lapin::Result<Confirmation>),
        queue: &mut Queue,
    ) -> Result<(), String> {
        let mut round = vec![first];
        while let Some(Some(next)) = self.confirms.next().now_or_never() {
            round.push(next);
        }
        for (_, result) in &round {
            if let Ok(Confirmation::Ack(Some(ret)) | Confirmation::Nack(Some(ret))) = result {
                match publish_tag(&ret.delivery.properties) {
                    Some(seq) => {
                        self.returned.insert(seq);
                    }
                    None => tracing::warn!("the broker returned a message without its publish tag"),
                }
            }
        }
        let mut lost = None;
        for (seq, result) in round {
            let Some(msg) = self.unconfirmed.remove(&seq) else {
                continue;
            };
            let returned = self.returned.remove(&seq);
            match result {
                Ok(Confirmation::Ack(_)) if !returned => self.delivered(msg, queue),
                Ok(Confirmation::Ack(_)) => self.refuse(msg, RETURNED, queue),
                Ok(Confirmation::Nack(_)) => self.refuse(msg, NACKED, queue),
                Ok(Confirmation::NotRequested) => self.refuse(msg, "not confirmed", queue),
                Err(e) => {
                    self.unconfirmed.insert(seq, msg);
                    lost = Some(e.to_string());
                }
            }
        }
        lost.map_or(Ok(()), Err)
    }

    fn delivered(&mut self, msg: Outgoing, queue: &mut Queue) {
        let how = match msg.target {
            Target::Events => Settlement::Confirmed,
            Target::DeadLetters => Settlement::DeadLettered,
        };
        msg.ack.settle(how);
        queue.delivered();
        if self.warned_refused {
            tracing::info!("broker accepts messages again");
            self.warned_refused = false;
        }
    }

    fn refuse(&mut self, msg: Outgoing, why: &str, queue: &mut Queue) {
        self.refused(&msg, why);
        queue.pause(msg);
    }

    /// Logs (once per episode) why the broker did not take a message.
    fn refused(&mut self, msg: &Outgoing, why: &str) {
        if self.warned_refused {
            return;
        }
        self.warned_refused = true;
        tracing::warn!(routing_key = %msg.routing_key.as_str(), "message {why}; holding it and retrying, its source stays unacknowledged");
    }

    /// On shutdown: wait a little for outstanding confirms so their sources can commit.
    async fn drain(&mut self, queue: &mut Queue) {
        let deadline = Instant::now() + self.settings.shutdown_grace;
        while !self.confirms.is_empty() {
            match tokio::time::timeout_at(deadline, self.confirms.next()).await {
                Ok(Some(first)) => {
                    if self.confirmed(first, queue).is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// After the connection is gone: every unconfirmed message goes back, oldest first.
    fn requeue_unconfirmed(&mut self, queue: &mut Queue) {
        let mut seqs: Vec<u64> = self.unconfirmed.keys().copied().collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        for seq in seqs {
            if let Some(msg) = self.unconfirmed.remove(&seq) {
                queue.ready.push_front(msg);
            }
        }
    }
}

const RETURNED: &str = "returned as unroutable: no queue is bound for this routing key";
const NACKED: &str = "negatively acknowledged (nack) by the broker";

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Exponential backoff for reconnects: 100 ms doubling up to the maximum.
struct Backoff {
    current: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            current: Duration::from_millis(100),
            max,
        }
    }

    fn next(&mut self) -> Duration {
        let now = self.current;
        self.current = (self.current * 2).min(self.max);
        now
    }

    fn reset(&mut self) {
        self.current = Duration::from_millis(100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(350));
        let seen: Vec<_> = (0..4).map(|_| b.next().as_millis()).collect();
        assert_eq!(seen, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next().as_millis(), 100);
    }
}
