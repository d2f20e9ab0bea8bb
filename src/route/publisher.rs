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

use super::receipts::Receipts;
use super::topology::Topology;
use crate::canonical::wire::{Wire, publish_tag};
use crate::delivery::ack::{AckToken, Settlement};
use crate::delivery::outbox::Outbox;
use crate::state::{Store, dedupe, meta};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, Event};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
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
    let mut backoff = Backoff::new(settings.max_backoff);
    let mut stop_at = None;
    while !flow.finished(&rx) {
        let channel = match connect(&settings).await {
            Ok(channel) => channel,
            Err(reason) => {
                report_unreachable(&state, &settings, reason);
                flow.spill_all().await;
                let wait = backoff.next();
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
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, channel.0.close(200, "omnibus publisher reconnecting".into())).await;
            tokio::time::sleep(backoff.next()).await;
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

/// How far before the oldest message in doubt the receipts are read (clock and chunk slack).
const DOUBT_MARGIN_SECS: i64 = 10;

/// Whether the hub that used `store` last stopped without finishing (messages may be in doubt,
/// from a little before the newest confirm it recorded); marks the store as in use.
async fn unclean_exit(store: &Store) -> Option<Option<i64>> {
    let found = store
        .write(|c| {
            let running = meta::get(c, meta::RUNNING)?;
            let last = meta::last_confirmed(c)?;
            meta::set(c, meta::RUNNING, "1")?;
            Ok((running, last))
        })
        .await;
    match found {
        Ok((Some(running), last)) if running == "1" => {
            tracing::warn!("the hub did not stop cleanly last time; checking the receipts before publishing");
            Some(last)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the state store's run marker; assuming messages are in doubt");
            Some(None)
        }
    }
}

/// What the publisher keeps across connections: the messages waiting, the outbox, and whether
/// messages currently go through the outbox.
struct Flow {
    queue: Queue,
    outbox: Option<Outbox>,
    store: Option<Store>,
    /// Messages go to the outbox (and come back from it) instead of straight to the broker.
    spilling: bool,
    /// Outbox rows handed out and not confirmed yet.
    outbox_in_flight: usize,
    rx_closed: bool,
    receipts: Option<Receipts>,
    /// Messages may have reached the broker unconfirmed since then (`Some(None)`: since ever).
    in_doubt: Option<Option<i64>>,
    /// Ids the receipts show on the broker: settled without being published again.
    known: HashSet<dedupe::Id>,
}

impl Flow {
    async fn new(settings: &PublisherSettings) -> Self {
        let outbox = match &settings.store {
            Some(store) => match Outbox::open(store.clone(), settings.outbox_max_bytes).await {
                Ok(outbox) => Some(outbox),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the outbox; publishing without it");
                    None
                }
            },
            None => None,
        };
        let spilling = outbox.as_ref().is_some_and(|o| o.messages() > 0);
        if spilling {
            tracing::info!(
                messages = outbox.as_ref().map_or(0, Outbox::messages),
                "the outbox holds messages from an earlier run; draining it first"
            );
        }
        let receipts = settings.topology.receipts.clone();
        let in_doubt = match (&receipts, &settings.store) {
            (Some(_), Some(store)) => unclean_exit(store).await,
            _ => None,
        };
        Self {
            queue: Queue::default(),
            outbox,
            store: settings.store.clone(),
            spilling,
            outbox_in_flight: 0,
            rx_closed: false,
            receipts,
            in_doubt,
            known: HashSet::new(),
        }
    }

    /// Messages published since `since` may have reached the broker unconfirmed.
    fn doubt(&mut self, since: Option<i64>) {
        if self.receipts.is_none() {
            return;
        }
        let earliest = match (self.in_doubt, since) {
            (Some(Some(a)), Some(b)) => Some(a.min(b)),
            (Some(None), _) | (_, None) => None,
            (None, since) => since,
        };
        self.in_doubt = Some(earliest);
    }

    /// Reads the receipts for the messages in doubt: those the broker has are remembered in the
    /// dedupe window and settled without being published again. Returns false when the receipts
    /// could not be read (the connection is suspect: reconnect and try again).
    async fn resolve_doubt(&mut self, conn: &Connection) -> bool {
        let (Some(receipts), Some(since)) = (&self.receipts, self.in_doubt) else {
            return true;
        };
        let from = since.map(|t| t - DOUBT_MARGIN_SECS);
        match receipts.present(conn, from).await {
            Ok(ids) => {
                tracing::info!(stream = %receipts.stream, receipts = ids.len(), "read the receipts of messages in doubt");
                if let Some(store) = &self.store {
                    let recorded: Vec<dedupe::Id> = ids.iter().copied().collect();
                    if let Err(e) = store.write(move |c| dedupe::record(c, &recorded)).await {
                        tracing::error!(error = %e, "cannot remember the receipts; retrying");
                        return false;
                    }
                }
                self.known = ids;
                self.in_doubt = None;
                true
            }
            Err(e) => {
                tracing::warn!(stream = %receipts.stream, error = %e, "cannot read the receipts stream; retrying");
                false
            }
        }
    }

    /// Every source is gone and nothing waits in memory.
    fn finished(&self, rx: &mpsc::Receiver<Outgoing>) -> bool {
        self.rx_closed && rx.is_empty() && self.queue.len() == 0
    }

    /// Starts going through the outbox (when there is one): sources' messages waiting in memory
    /// are stored there (and so acknowledged); outbox rows already read stay queued, in order.
    async fn spill_all(&mut self) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        if outbox.is_full() {
            return;
        }
        if !self.spilling {
            tracing::warn!("messages now go through the outbox until the broker takes them again");
        }
        self.spilling = true;
        let waiting = self.queue.take_sources();
        if let Err(e) = outbox.put(waiting).await {
            tracing::error!(error = %e, "cannot store messages in the outbox; their sources stay unacknowledged");
        }
    }

    /// While disconnected: waits `wait`, storing sources' messages in the outbox meanwhile.
    /// Returns true when the publisher should stop (shutting down with nothing left to do).
    async fn wait_offline(
        &mut self,
        rx: &mut mpsc::Receiver<Outgoing>,
        wait: Duration,
        cancel: &CancellationToken,
        stop_at: &mut Option<Instant>,
    ) -> bool {
        let until = Instant::now() + wait;
        loop {
            let can_store = self.outbox.as_ref().is_some_and(|o| !o.is_full());
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return false,
                _ = cancel.cancelled(), if stop_at.is_none() => {
                    *stop_at = Some(Instant::now());
                }
                msg = rx.recv(), if can_store && !self.rx_closed => match msg {
                    Some(msg) => self.store_batch(msg, rx).await,
                    None => self.rx_closed = true,
                },
            }
            if stop_at.is_some() && (!can_store || self.finished(rx)) {
                return true;
            }
        }
    }

    /// Stores `first` and whatever else is waiting in the channel, in one commit.
    async fn store_batch(&mut self, first: Outgoing, rx: &mut mpsc::Receiver<Outgoing>) {
        let Some(outbox) = &self.outbox else {
            self.queue.ready.push_back(first);
            return;
        };
        let mut batch = vec![first];
        while batch.len() < crate::delivery::outbox::DRAIN_BATCH {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        if let Err(e) = outbox.put(batch).await {
            tracing::error!(error = %e, "cannot store messages in the outbox; their sources stay unacknowledged");
        }
    }

    /// Reads the next outbox rows into the queue.
    async fn refill(&mut self) {
        let Some(outbox) = &mut self.outbox else {
            return;
        };
        match outbox.take().await {
            Ok(rows) => {
                self.outbox_in_flight += rows.len();
                self.queue.ready.extend(rows);
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox; retrying"),
        }
    }

    /// Records a clean stop (nothing in doubt) when nothing was left unconfirmed.
    async fn mark_clean_stop(&self) {
        let (Some(store), Some(_)) = (&self.store, &self.receipts) else {
            return;
        };
        if self.in_doubt.is_some() || self.queue.len() > 0 {
            return;
        }
        if let Err(e) = store.write(|c| meta::set(c, meta::RUNNING, "0")).await {
            tracing::warn!(error = %e, "cannot record the clean stop; the next start checks the receipts");
        }
    }

    /// Back to publishing directly once the outbox is empty.
    fn maybe_direct(&mut self) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        if self.spilling
            && self.outbox_in_flight == 0
            && !outbox.has_unread()
            && !outbox.has_pending()
            && self.queue.len() == 0
        {
            self.spilling = false;
            tracing::info!("outbox drained; publishing directly again");
        }
    }

    /// Whether the publisher may take another message from sources now: not while messages the
    /// broker refused fill a window's worth of memory.
    fn can_take(&self, has_room: bool, window: usize) -> bool {
        if self.rx_closed {
            return false;
        }
        if self.spilling {
            self.outbox.as_ref().is_some_and(|o| !o.is_full())
        } else {
            has_room && self.queue.ready.is_empty() && self.queue.len() < window
        }
    }
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

    /// Removes the sources' messages (ready and paused, oldest first), leaving outbox rows.
    fn take_sources(&mut self) -> Vec<Outgoing> {
        let mut sources = Vec::new();
        let ready = std::mem::take(&mut self.ready);
        for msg in ready {
            match msg.ack {
                Ack::Source(_) => sources.push(msg),
                Ack::Outbox { .. } => self.ready.push_back(msg),
            }
        }
        let paused = std::mem::take(&mut self.paused);
        for (at, msg) in paused {
            match msg.ack {
                Ack::Source(_) => sources.push(msg),
                Ack::Outbox { .. } => self.paused.push_back((at, msg)),
            }
        }
        sources
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
    events: futures_util::stream::BoxStream<'static, Event>,
    blocked: bool,
    exchange: ShortString,
    dead_letter_exchange: ShortString,
    /// Published messages awaiting their confirm, with when they were published (Unix seconds).
    unconfirmed: HashMap<u64, (Outgoing, i64)>,
    confirms: FuturesUnordered<Confirm>,
    /// Publishes the broker returned as unroutable whose own confirm has not been handled yet.
    returned: HashSet<u64>,
    warned_refused: bool,
    /// Since when sources have waited on a full confirm window.
    full_since: Option<Instant>,
    /// Confirmed this round: sources' message ids, and outbox rows with their ids.
    confirmed_ids: Vec<dedupe::Id>,
    confirmed_rows: Vec<(i64, u64)>,
    confirmed_row_ids: Vec<dedupe::Id>,
}

impl<'s> Session<'s> {
    fn new(settings: &'s PublisherSettings, connection: &Connection, channel: Channel) -> Self {
        Self {
            settings,
            channel,
            events: Box::pin(connection.events_listener()),
            blocked: false,
            exchange: ShortString::from(settings.topology.exchange.as_str()),
            dead_letter_exchange: ShortString::from(
                settings.topology.dead_letter_exchange.as_str(),
            ),
            unconfirmed: HashMap::new(),
            confirms: FuturesUnordered::new(),
            returned: HashSet::new(),
            warned_refused: false,
            full_since: None,
            confirmed_ids: Vec::new(),
            confirmed_rows: Vec::new(),
            confirmed_row_ids: Vec::new(),
        }
    }

    fn has_room(&self) -> bool {
        !self.blocked && self.unconfirmed.len() < self.settings.confirm_window
    }

    async fn run(
        &mut self,
        flow: &mut Flow,
        rx: &mut mpsc::Receiver<Outgoing>,
        cancel: &CancellationToken,
        stop_at: &mut Option<Instant>,
    ) -> SessionEnd {
        loop {
            while self.has_room() {
                let Some(msg) = flow.queue.ready.pop_front() else {
                    break;
                };
                if let Err(reason) = self.publish(msg, flow).await {
                    return SessionEnd::Lost(reason);
                }
            }
            if flow.finished(rx) && self.unconfirmed.is_empty() {
                return SessionEnd::Stopped;
            }
            let spill_at = self.spill_deadline(flow, rx);
            let refill = flow.spilling
                && self.has_room()
                && flow.queue.ready.is_empty()
                && flow.outbox.as_ref().is_some_and(Outbox::has_unread);
            let wake = flow.queue.next_wake();
            let take = flow.can_take(self.has_room(), self.settings.confirm_window);
            tokio::select! {
                biased;
                _ = cancel.cancelled(), if stop_at.is_none() => {
                    *stop_at = Some(Instant::now() + self.settings.shutdown_grace);
                }
                _ = sleep_until(*stop_at), if stop_at.is_some() && self.past_grace(flow, rx) => {
                    return SessionEnd::Stopped;
                }
                Some(first) = self.confirms.next(), if !self.confirms.is_empty() => {
                    let result = self.confirmed(first, flow);
                    self.flush_confirmed(flow).await;
                    if let Err(reason) = result {
                        return SessionEnd::Lost(reason);
                    }
                    flow.maybe_direct();
                }
                Some(event) = self.events.next() => self.connection_event(event, flow).await,
                _ = sleep_until(wake), if wake.is_some() => flow.queue.wake_due(),
                _ = sleep_until(spill_at), if spill_at.is_some() => {
                    tracing::warn!(waited = ?self.settings.spill_after, "the broker is slower than the sources");
                    self.full_since = None;
                    flow.spill_all().await;
                }
                () = flow.refill(), if refill => {}
                msg = rx.recv(), if take => match msg {
                    Some(msg) if flow.spilling => flow.store_batch(msg, rx).await,
                    Some(msg) => {
                        if let Err(reason) = self.publish(msg, flow).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    None => flow.rx_closed = true,
                },
            }
        }
    }

    /// When the outbox should take over because sources have waited on a full window too long.
    fn spill_deadline(&mut self, flow: &Flow, rx: &mpsc::Receiver<Outgoing>) -> Option<Instant> {
        let waiting = flow.outbox.is_some() && !flow.spilling && !self.has_room() && !rx.is_empty();
        if !waiting {
            self.full_since = None;
            return None;
        }
        let since = *self.full_since.get_or_insert_with(Instant::now);
        Some(since + self.settings.spill_after)
    }

    /// Whether the shutdown grace should end the session: only messages that the outbox can keep
    /// (or that nobody can keep, without an outbox) are left.
    fn past_grace(&self, flow: &Flow, rx: &mpsc::Receiver<Outgoing>) -> bool {
        flow.rx_closed || rx.is_empty() || flow.outbox.is_none()
    }

    async fn connection_event(&mut self, event: Event, flow: &mut Flow) {
        match event {
            Event::ConnectionBlocked(reason) => {
                tracing::warn!(%reason, "the broker blocked publishing (resource alarm)");
                self.blocked = true;
                flow.spill_all().await;
            }
            Event::ConnectionUnblocked => {
                tracing::info!("the broker unblocked publishing");
                self.blocked = false;
            }
            _ => {}
        }
    }

    /// Publishes one message (or, when the receipts show the broker already has it, settles it
    /// without publishing it again); on failure it goes back to the front of the queue.
    async fn publish(&mut self, msg: Outgoing, flow: &mut Flow) -> Result<(), String> {
        if flow.known.remove(msg.wire.id.as_bytes()) {
            self.delivered(msg, flow);
            self.flush_confirmed(flow).await;
            return Ok(());
        }
        self.send(msg, &mut flow.queue).await
    }

    async fn send(&mut self, msg: Outgoing, queue: &mut Queue) -> Result<(), String> {
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
                self.unconfirmed.insert(seq, (msg, crate::state::now_unix()));
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
        flow: &mut Flow,
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
            let Some((msg, at)) = self.unconfirmed.remove(&seq) else {
                continue;
            };
            let returned = self.returned.remove(&seq);
            match result {
                Ok(Confirmation::Ack(_)) if !returned => self.delivered(msg, flow),
                Ok(Confirmation::Ack(_)) => self.refuse(msg, RETURNED, &mut flow.queue),
                Ok(Confirmation::Nack(_)) => self.refuse(msg, NACKED, &mut flow.queue),
                Ok(Confirmation::NotRequested) => {
                    self.refuse(msg, "not confirmed", &mut flow.queue)
                }
                Err(e) => {
                    self.unconfirmed.insert(seq, (msg, at));
                    lost = Some(e.to_string());
                }
            }
        }
        lost.map_or(Ok(()), Err)
    }

    fn delivered(&mut self, msg: Outgoing, flow: &mut Flow) {
        let id = *msg.wire.id.as_bytes();
        match msg.ack {
            Ack::Source(token) => {
                token.settle(match msg.target {
                    Target::Events => Settlement::Confirmed,
                    Target::DeadLetters => Settlement::DeadLettered,
                });
                self.confirmed_ids.push(id);
            }
            Ack::Outbox { seq, bytes } => {
                flow.outbox_in_flight = flow.outbox_in_flight.saturating_sub(1);
                self.confirmed_rows.push((seq, bytes));
                self.confirmed_row_ids.push(id);
            }
        }
        flow.queue.delivered();
        if self.warned_refused {
            tracing::info!("broker accepts messages again");
            self.warned_refused = false;
        }
    }

    /// Remembers this round's confirmed ids (dedupe window) and deletes confirmed outbox rows.
    async fn flush_confirmed(&mut self, flow: &Flow) {
        if let (Some(store), false) = (&flow.store, self.confirmed_ids.is_empty()) {
            let ids = std::mem::take(&mut self.confirmed_ids);
            let submitted = store
                .submit(move |conn| dedupe::record(conn, &ids), |_| {})
                .await;
            if let Err(e) = submitted {
                tracing::error!(error = %e, "cannot remember confirmed ids");
            }
        }
        self.confirmed_ids.clear();
        if let (Some(outbox), false) = (&flow.outbox, self.confirmed_rows.is_empty()) {
            let rows = std::mem::take(&mut self.confirmed_rows);
            let ids = std::mem::take(&mut self.confirmed_row_ids);
            if let Err(e) = outbox.delivered(rows, ids).await {
                tracing::error!(error = %e, "cannot delete delivered outbox rows");
            }
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

    /// After the session: every unconfirmed message goes back, oldest first; they are in doubt
    /// (the broker may have them) from the time the oldest was published.
    fn requeue_unconfirmed(&mut self, flow: &mut Flow) {
        if let Some(oldest) = self.unconfirmed.values().map(|(_, at)| *at).min() {
            flow.doubt(Some(oldest));
        }
        let mut seqs: Vec<u64> = self.unconfirmed.keys().copied().collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        for seq in seqs {
            if let Some((msg, _)) = self.unconfirmed.remove(&seq) {
                flow.queue.ready.push_front(msg);
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
