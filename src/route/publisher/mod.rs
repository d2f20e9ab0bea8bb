//! The publisher: the one owner of the broker connection.
//!
//! Sources hand it [`Outgoing`] messages through a bounded channel (back pressure reaches them when
//! the confirm window is full). It publishes with `mandatory` and publisher confirms, keeping up to
//! `confirm_window` publishes awaiting their confirm. Only a plain `basic.ack` settles a message's
//! [`AckToken`]; a `basic.nack`, a returned (unroutable) message or a lost connection counts as not
//! delivered, and the message is published again — after a pause for nacks and returns, after a
//! reconnect (with the topology declared again) for a lost connection. lapin does not republish
//! unconfirmed messages itself, so the publisher keeps every unconfirmed message until its confirm.
//!
//! With a state store, the publisher also keeps the dedupe window (every confirmed message id) and
//! the outbox: while the broker is unreachable, blocked by an alarm, or slower than the sources for
//! longer than `spill_after`, messages are committed to the outbox instead (their sources are
//! acknowledged from there), and the outbox is drained in order before anything new is published
//! directly again.

mod flow;
mod queue;
mod session;

use super::topology::Topology;
use crate::backoff::Backoff;
use crate::canonical::wire::Wire;
use crate::delivery::ack::AckToken;
use crate::delivery::outbox::Outbox;
use crate::state::Store;
use flow::Flow;
use lapin::options::ConfirmSelectOptions;
use lapin::types::ShortString;
use lapin::{Channel, Connection, ConnectionProperties};
use session::{Session, SessionEnd};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Which exchange a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The canonical event exchange.
    Events,
    /// The dead-letter exchange.
    DeadLetters,
}

/// What a message's confirm settles.
#[derive(Debug)]
pub enum Ack {
    /// A source's token: settled when the broker confirms the message or the outbox stores it.
    Source(AckToken),
    /// A row of the outbox (and its size): deleted when the broker confirms it.
    Outbox { seq: i64, bytes: u64 },
}

/// One message for the broker, with what its confirm settles.
#[derive(Debug)]
pub struct Outgoing {
    /// The connector the message comes from.
    pub connector: Arc<str>,
    pub target: Target,
    pub routing_key: ShortString,
    pub wire: Wire,
    pub ack: Ack,
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
    /// How long shutdown waits for outstanding confirms before storing the rest in the outbox.
    pub shutdown_grace: Duration,
    /// The state store: dedupe window and outbox. Without it, nothing is remembered or spilled.
    pub store: Option<Store>,
    /// The outbox's size limit.
    pub outbox_max_bytes: u64,
    /// How long sources may wait on a full confirm window before the outbox takes their messages.
    pub spill_after: Duration,
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
    recovered: watch::Receiver<bool>,
}

impl Publisher {
    /// Starts the publisher task. It connects (retrying with backoff until it can), declares the
    /// topology and publishes until `cancel` fires.
    pub fn spawn(settings: PublisherSettings, cancel: CancellationToken) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.confirm_window.max(1));
        let (state_tx, state) = watch::channel(BrokerState::Connecting);
        let (recovered_tx, recovered) = watch::channel(false);
        let signals = Signals {
            state: state_tx,
            recovered: recovered_tx,
        };
        let task = tokio::spawn(run(settings, rx, signals, cancel));
        let publisher = Self {
            tx,
            state,
            recovered,
        };
        (publisher, task)
    }

    /// Waits until messages in doubt from an earlier run are sorted out (at once when there are
    /// none): sources must not read again before the dedupe window knows what reached the broker.
    pub async fn recovered(&self) {
        let mut recovered = self.recovered.clone();
        let _ = recovered.wait_for(|done| *done).await;
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

    /// Follows the broker connection's state (without keeping the publisher open, as a clone of
    /// the handle would).
    pub fn watch_state(&self) -> watch::Receiver<BrokerState> {
        self.state.clone()
    }
}

/// What the publisher task tells its handles.
struct Signals {
    state: watch::Sender<BrokerState>,
    recovered: watch::Sender<bool>,
}

async fn run(
    settings: PublisherSettings,
    mut rx: mpsc::Receiver<Outgoing>,
    signals: Signals,
    cancel: CancellationToken,
) {
    let Signals { state, recovered } = signals;
    let mut flow = Flow::new(&settings).await;
    if flow.in_doubt.is_none() {
        let _ = recovered.send(true);
    }
    let mut backoff = Backoff::new(FIRST_BACKOFF, settings.max_backoff);
    let mut stop_at = None;
    while !flow.finished(&rx) {
        let channel = match connect(&settings).await {
            Ok(channel) => channel,
            Err(reason) => {
                report_unreachable(&state, &settings, reason);
                flow.spill_all().await;
                let wait = backoff.next_wait();
                if flow
                    .wait_offline(&mut rx, wait, &cancel, &mut stop_at)
                    .await
                {
                    break;
                }
                continue;
            }
        };
        if !flow.resolve_doubt(&channel.0).await {
            let _ = tokio::time::timeout(
                CLOSE_TIMEOUT,
                channel
                    .0
                    .close(200, "omnibus publisher reconnecting".into()),
            )
            .await;
            tokio::time::sleep(backoff.next_wait()).await;
            continue;
        }
        let _ = recovered.send(true);
        backoff.reset();
        state.send_replace(BrokerState::Connected);
        tracing::info!(url = %redact(&settings.url), "broker connected; topology declared");
        let mut session = Session::new(&settings, &channel.0, channel.1);
        let end = session.run(&mut flow, &mut rx, &cancel, &mut stop_at).await;
        session.requeue_unconfirmed(&mut flow);
        let closing = channel
            .0
            .close(200, "omnibus publisher reconnecting".into());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
        match end {
            SessionEnd::Stopped => break,
            SessionEnd::Lost(reason) => {
                tracing::warn!(%reason, unconfirmed = flow.queue.len(), "broker connection lost; will reconnect and republish unconfirmed messages");
                state.send_replace(BrokerState::Unreachable(reason));
                flow.spill_all().await;
            }
        }
    }
    rx.close();
    flow.spill_all().await;
    flow.mark_clean_stop().await;
    tracing::info!(
        unsent = flow.queue.len() + rx.len(),
        outbox = flow.outbox.as_ref().map_or(0, Outbox::messages),
        "publisher stopped"
    );
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
/// The first wait before reconnecting to the broker.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

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
}
