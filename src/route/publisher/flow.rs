//! What the publisher keeps across connections: the messages waiting in memory, the outbox and
//! whether messages go through it, and the messages in doubt that the receipts stream settles.

use super::queue::Queue;
use super::{Outgoing, PublisherSettings};
use crate::delivery::outbox::Outbox;
use crate::route::receipts::Receipts;
use crate::state::{Store, dedupe, meta};
use lapin::Connection;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How far before the oldest message in doubt the receipts are read (clock and chunk slack).
pub(super) const DOUBT_MARGIN_SECS: i64 = 10;

/// Whether the hub that used `store` last stopped without finishing (messages may be in doubt,
/// from a little before the newest confirm it recorded); marks the store as in use.
pub(super) async fn unclean_exit(store: &Store) -> Option<Option<i64>> {
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
            tracing::warn!(
                "the hub did not stop cleanly last time; checking the receipts before publishing"
            );
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
pub(super) struct Flow {
    pub(super) queue: Queue,
    pub(super) outbox: Option<Outbox>,
    pub(super) store: Option<Store>,
    /// Messages go to the outbox (and come back from it) instead of straight to the broker.
    pub(super) spilling: bool,
    /// Outbox rows handed out and not confirmed yet.
    pub(super) outbox_in_flight: usize,
    pub(super) rx_closed: bool,
    pub(super) receipts: Option<Receipts>,
    /// Messages may have reached the broker unconfirmed since then (`Some(None)`: since ever).
    pub(super) in_doubt: Option<Option<i64>>,
    /// Ids the receipts show on the broker: settled without being published again.
    pub(super) known: HashSet<dedupe::Id>,
}

impl Flow {
    pub(super) async fn new(settings: &PublisherSettings) -> Self {
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
    pub(super) fn doubt(&mut self, since: Option<i64>) {
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
    pub(super) async fn resolve_doubt(&mut self, conn: &Connection) -> bool {
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
    pub(super) fn finished(&self, rx: &mpsc::Receiver<Outgoing>) -> bool {
        self.rx_closed && rx.is_empty() && self.queue.len() == 0
    }

    /// Starts going through the outbox (when there is one): sources' messages waiting in memory
    /// are stored there (and so acknowledged); outbox rows already read stay queued, in order.
    pub(super) async fn spill_all(&mut self) {
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
    pub(super) async fn wait_offline(
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
    pub(super) async fn store_batch(&mut self, first: Outgoing, rx: &mut mpsc::Receiver<Outgoing>) {
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
    pub(super) async fn refill(&mut self) {
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
    pub(super) async fn mark_clean_stop(&self) {
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
    pub(super) fn maybe_direct(&mut self) {
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
    pub(super) fn can_take(&self, has_room: bool, window: usize) -> bool {
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
