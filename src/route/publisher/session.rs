//! One connection's worth of publishing: publishes with `mandatory` and confirms, matches returns
//! by publish tag, settles what the broker confirmed (or spills to the outbox), and reports how the
//! connection ended. It measures each publish's wait for its confirm and keeps the gauge of
//! publishes in flight.

use super::flow::Flow;
use super::queue::Queue;
use super::{Ack, Outgoing, PublisherSettings, Target};
use crate::canonical::wire::publish_tag;
use crate::delivery::ack::Settlement;
use crate::delivery::outbox::Outbox;
use crate::state::dedupe;
use crate::telemetry::{CONFIRMS_IN_FLIGHT, PUBLISH_CONFIRM};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection, Event};
use metrics::{Gauge, Histogram};
use std::collections::{HashMap, HashSet};
use std::time::Instant as Clock;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(super) enum SessionEnd {
    Stopped,
    Lost(String),
}

pub(super) type Confirm = BoxFuture<'static, (u64, lapin::Result<Confirmation>)>;

/// One connection's worth of publishing.
pub(super) struct Session<'s> {
    settings: &'s PublisherSettings,
    channel: Channel,
    events: futures_util::stream::BoxStream<'static, Event>,
    blocked: bool,
    exchange: ShortString,
    dead_letter_exchange: ShortString,
    /// Published messages awaiting their confirm, with when they were published (Unix seconds,
    /// and the instant for the confirm's latency).
    unconfirmed: HashMap<u64, (Outgoing, i64, Clock)>,
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
    /// `omnibus_confirms_in_flight` and `omnibus_publish_confirm_seconds`.
    in_flight: Gauge,
    confirm_latency: Histogram,
}

impl<'s> Session<'s> {
    pub(super) fn new(
        settings: &'s PublisherSettings,
        connection: &Connection,
        channel: Channel,
    ) -> Self {
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
            in_flight: metrics::gauge!(CONFIRMS_IN_FLIGHT),
            confirm_latency: metrics::histogram!(PUBLISH_CONFIRM),
        }
    }

    pub(super) fn has_room(&self) -> bool {
        !self.blocked && self.unconfirmed.len() < self.settings.confirm_window
    }

    pub(super) async fn run(
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
                self.publish(msg, flow).await;
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
                    Some(msg) => self.publish(msg, flow).await,
                    None => flow.rx_closed = true,
                },
            }
        }
    }

    /// When the outbox should take over because sources have waited on a full window too long.
    pub(super) fn spill_deadline(
        &mut self,
        flow: &Flow,
        rx: &mpsc::Receiver<Outgoing>,
    ) -> Option<Instant> {
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
    pub(super) fn past_grace(&self, flow: &Flow, rx: &mpsc::Receiver<Outgoing>) -> bool {
        flow.rx_closed || rx.is_empty() || flow.outbox.is_none()
    }

    pub(super) async fn connection_event(&mut self, event: Event, flow: &mut Flow) {
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
    /// without publishing it again).
    pub(super) async fn publish(&mut self, msg: Outgoing, flow: &mut Flow) {
        if flow.known.remove(msg.wire.id.as_bytes()) {
            self.delivered(msg, flow);
            self.flush_confirmed(flow).await;
            return;
        }
        self.send(msg);
    }

    /// Starts publishing `msg`: its frames are queued at once, in publish order, and its confirm
    /// (or the error that ends the connection) comes back through `confirms`. Nothing here waits
    /// for the socket, so a connection the broker blocks never stalls the session.
    fn send(&mut self, msg: Outgoing) {
        let exchange = match msg.target {
            Target::Events => self.exchange.clone(),
            Target::DeadLetters => self.dead_letter_exchange.clone(),
        };
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let seq = msg.wire.tag;
        let channel = self.channel.clone();
        let routing_key = msg.routing_key.clone();
        let body = msg.wire.body.clone();
        let properties = msg.wire.properties.clone();
        let mut publish: Confirm = Box::pin(async move {
            let sent = channel
                .basic_publish(exchange, routing_key, options, &body, properties)
                .await;
            let confirmed = match sent {
                Ok(confirm) => confirm.await,
                Err(e) => Err(e),
            };
            (seq, confirmed)
        });
        if let Some(done) = (&mut publish).now_or_never() {
            publish = Box::pin(std::future::ready(done));
        }
        self.unconfirmed
            .insert(seq, (msg, crate::state::now_unix(), Clock::now()));
        self.in_flight.set(self.unconfirmed.len() as f64);
        self.confirms.push(publish);
    }

    /// Handles `first` and every other confirm already resolved with it.
    ///
    /// lapin hands each returned message to whichever confirm it resolves next — with a multiple
    /// ack, in no particular order — so a return may ride on another message's confirm. The broker
    /// sends a message's return before its ack, so by the time a message's confirm is resolved its
    /// return (if any) rides on a confirm resolved no later: collecting the returns of every
    /// resolved confirm first, by the publish tag they carry, tells exactly which were returned.
    pub(super) fn confirmed(
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
            let Some((msg, at, sent)) = self.unconfirmed.remove(&seq) else {
                continue;
            };
            let returned = self.returned.remove(&seq);
            match result {
                Ok(Confirmation::Ack(_)) if !returned => {
                    self.confirm_latency.record(sent.elapsed().as_secs_f64());
                    self.delivered(msg, flow);
                }
                Ok(Confirmation::Ack(_)) => self.refuse(msg, RETURNED, &mut flow.queue),
                Ok(Confirmation::Nack(_)) => self.refuse(msg, NACKED, &mut flow.queue),
                Ok(Confirmation::NotRequested) => {
                    self.refuse(msg, "not confirmed", &mut flow.queue)
                }
                Err(e) => {
                    self.unconfirmed.insert(seq, (msg, at, sent));
                    lost = Some(e.to_string());
                }
            }
        }
        self.in_flight.set(self.unconfirmed.len() as f64);
        lost.map_or(Ok(()), Err)
    }

    pub(super) fn delivered(&mut self, msg: Outgoing, flow: &mut Flow) {
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
    pub(super) async fn flush_confirmed(&mut self, flow: &Flow) {
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

    pub(super) fn refuse(&mut self, msg: Outgoing, why: &str, queue: &mut Queue) {
        self.refused(&msg, why);
        queue.pause(msg);
    }

    /// Logs (once per episode) why the broker did not take a message.
    pub(super) fn refused(&mut self, msg: &Outgoing, why: &str) {
        if self.warned_refused {
            return;
        }
        self.warned_refused = true;
        tracing::warn!(routing_key = %msg.routing_key.as_str(), "message {why}; holding it and retrying, its source stays unacknowledged");
    }

    /// After the session: every unconfirmed message goes back, oldest first; they are in doubt
    /// (the broker may have them) from the time the oldest was published.
    pub(super) fn requeue_unconfirmed(&mut self, flow: &mut Flow) {
        if let Some(oldest) = self.unconfirmed.values().map(|(_, at, _)| *at).min() {
            flow.doubt(Some(oldest));
        }
        let mut seqs: Vec<u64> = self.unconfirmed.keys().copied().collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        for seq in seqs {
            if let Some((msg, _, _)) = self.unconfirmed.remove(&seq) {
                flow.queue.ready.push_front(msg);
            }
        }
        self.in_flight.set(0.0);
    }
}

pub(super) const RETURNED: &str = "returned as unroutable: no queue is bound for this routing key";
pub(super) const NACKED: &str = "negatively acknowledged (nack) by the broker";

pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
