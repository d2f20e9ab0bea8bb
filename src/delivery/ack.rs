//! Ack tokens: a source commits its position only when the [`Batch`] of an input reports that every
//! event derived from it was confirmed by the broker or dead-lettered (and itself confirmed).
//!
//! Each derived event carries an [`AckToken`]. Settling a token records the outcome; dropping it
//! unsettled (the hub shut down, the publisher gave up) marks the whole batch abandoned, so the
//! source keeps its input for the next run instead of acknowledging what was not delivered.
//!
//! A batch made [`Batch::counting`] for a connector also counts each event confirmed or stored as
//! it settles, in the connector's [`Activity`].

use crate::telemetry::{Activity, Step};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The events derived from one input (a file, a message, a page).
///
/// Each item of the input (a record, a bad record, a filtered one) takes the next ordinal, through
/// [`Batch::token`] or [`Batch::skip`]; [`Batch::done`] tells how many items from the start are
/// settled without a gap, which is the position a source may save to resume from.
#[derive(Debug)]
pub struct Batch {
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Unsettled tokens, plus one for the batch itself until it is sealed.
    pending: AtomicUsize,
    confirmed: AtomicU64,
    dead_lettered: AtomicU64,
    stored: AtomicU64,
    abandoned: AtomicBool,
    settled: Notify,
    progress: Mutex<Progress>,
    /// Where settled events are counted.
    activity: Option<Arc<Activity>>,
}

/// Items settled from the start without a gap, and the unsettled tokens of the items after them.
#[derive(Debug, Default)]
struct Progress {
    done: u64,
    /// Open tokens of items `done`, `done + 1`, …; 0 means settled.
    open: VecDeque<u32>,
}

impl Progress {
    /// Adds `items` items, each with `tokens` open tokens; returns the first one's ordinal.
    fn push(&mut self, tokens: u32, items: u64) -> u64 {
        let ordinal = self.done + self.open.len() as u64;
        for _ in 0..items {
            self.open.push_back(tokens);
        }
        self.advance();
        ordinal
    }

    fn settle(&mut self, ordinal: u64) {
        let Some(index) = ordinal.checked_sub(self.done) else {
            return;
        };
        if let Some(open) = usize::try_from(index)
            .ok()
            .and_then(|i| self.open.get_mut(i))
        {
            *open = open.saturating_sub(1);
        }
        self.advance();
    }

    fn add_token(&mut self, ordinal: u64) {
        let index = ordinal.saturating_sub(self.done);
        if let Some(open) = usize::try_from(index)
            .ok()
            .and_then(|i| self.open.get_mut(i))
        {
            *open += 1;
        }
    }

    fn advance(&mut self) {
        while self.open.front() == Some(&0) {
            self.open.pop_front();
            self.done += 1;
        }
    }
}

/// What happened to a sealed batch's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every event was confirmed, durably stored in the outbox, or dead-lettered: the source may
    /// commit.
    Settled {
        confirmed: u64,
        dead_lettered: u64,
        stored: u64,
        /// Items settled, counted from the start of the input.
        done: u64,
    },
    /// At least one event was dropped unsettled: the source must not commit the input, only the
    /// `done` items settled from the start without a gap.
    Abandoned { done: u64 },
}

/// How a token's event ended up safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The broker confirmed the canonical event.
    Confirmed,
    /// The broker confirmed the dead letter that stands for a bad record (or the dead-letter
    /// index or the outbox stored it).
    DeadLettered,
    /// The outbox stored the event durably; it reaches the broker later.
    Stored,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    pub fn new() -> Self {
        Self::resuming(0)
    }

    /// A batch whose first `done` items were settled by an earlier run: the next item is item
    /// `done`.
    pub fn resuming(done: u64) -> Self {
        Self::with(done, None)
    }

    /// A batch resuming after `done` items whose confirmed and stored events count in `activity`.
    pub fn counting(done: u64, activity: Arc<Activity>) -> Self {
        Self::with(done, Some(activity))
    }

    fn with(done: u64, activity: Option<Arc<Activity>>) -> Self {
        let state = State {
            pending: AtomicUsize::new(1),
            progress: Mutex::new(Progress {
                done,
                open: VecDeque::new(),
            }),
            activity,
            ..State::default()
        };
        Self {
            state: Arc::new(state),
        }
    }

    /// A token for the next item's event.
    pub fn token(&self) -> AckToken {
        self.token_spanning(1)
    }

    /// One token for the next `items` items (a group of rows that makes one event): they are
    /// settled together.
    pub fn token_spanning(&self, items: u64) -> AckToken {
        self.state.pending.fetch_add(1, Ordering::AcqRel);
        let items = items.max(1);
        let ordinal = self.progress(|p| p.push(1, items));
        AckToken {
            state: Some(Arc::clone(&self.state)),
            ordinal,
            span: items,
            watcher: None,
        }
    }

    /// Counts the next item as settled at once (filtered out, or already delivered).
    pub fn skip(&self) {
        self.skip_many(1);
    }

    /// Counts the next `items` items as settled at once.
    pub fn skip_many(&self, items: u64) {
        self.progress(|p| p.push(0, items));
    }

    /// Items settled from the start without a gap.
    pub fn done(&self) -> u64 {
        self.progress(|p| p.done)
    }

    fn progress<T>(&self, f: impl FnOnce(&mut Progress) -> T) -> T {
        progress(&self.state, f)
    }

    /// Closes the batch (no more tokens) and waits until every token is settled or dropped.
    pub async fn seal(self) -> BatchOutcome {
        let state = self.state;
        let notified = state.settled.notified();
        tokio::pin!(notified);
        if state.pending.fetch_sub(1, Ordering::AcqRel) != 1 {
            loop {
                notified.as_mut().await;
                if state.pending.load(Ordering::Acquire) == 0 {
                    break;
                }
                notified.set(state.settled.notified());
            }
        }
        if state.abandoned.load(Ordering::Acquire) {
            return BatchOutcome::Abandoned {
                done: progress(&state, |p| p.done),
            };
        }
        BatchOutcome::Settled {
            confirmed: state.confirmed.load(Ordering::Acquire),
            dead_lettered: state.dead_lettered.load(Ordering::Acquire),
            stored: state.stored.load(Ordering::Acquire),
            done: progress(&state, |p| p.done),
        }
    }
}

fn progress<T>(state: &State, f: impl FnOnce(&mut Progress) -> T) -> T {
    let mut guard = match state.progress.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard)
}

/// One event's share of its batch's acknowledgement.
#[derive(Debug)]
pub struct AckToken {
    state: Option<Arc<State>>,
    /// The first item it stands for.
    ordinal: u64,
    /// How many consecutive items it stands for.
    span: u64,
    /// Told how the token was settled (the live tap); not told when it is dropped unsettled.
    watcher: Option<Watcher>,
}

/// What is told how a token was settled.
struct Watcher(Box<dyn FnOnce(Settlement) + Send + Sync>);

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

impl AckToken {
    /// A second token for the same item: the item counts as settled once both are (a dead letter
    /// is published and stored locally).
    pub fn also(&self) -> AckToken {
        let state = self.state.as_ref().map(Arc::clone);
        if let Some(state) = &state {
            state.pending.fetch_add(1, Ordering::AcqRel);
            progress(state, |p| self.items().for_each(|o| p.add_token(o)));
        }
        AckToken {
            state,
            ordinal: self.ordinal,
            span: self.span,
            watcher: None,
        }
    }

    /// This token, telling `watcher` how it was settled (when it is; a token dropped unsettled
    /// tells nothing).
    pub fn on_settle(mut self, watcher: impl FnOnce(Settlement) + Send + Sync + 'static) -> Self {
        self.watcher = Some(Watcher(Box::new(watcher)));
        self
    }

    /// Records that the event is safe; the batch may commit once all its tokens say so.
    pub fn settle(mut self, how: Settlement) {
        if let Some(state) = self.state.take() {
            let counter = match how {
                Settlement::Confirmed => &state.confirmed,
                Settlement::DeadLettered => &state.dead_lettered,
                Settlement::Stored => &state.stored,
            };
            counter.fetch_add(1, Ordering::AcqRel);
            count(&state, how);
            progress(&state, |p| self.items().for_each(|o| p.settle(o)));
            release(&state);
        }
        if let Some(Watcher(watcher)) = self.watcher.take() {
            watcher(how);
        }
    }

    fn items(&self) -> std::ops::Range<u64> {
        self.ordinal..self.ordinal + self.span
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.abandoned.store(true, Ordering::Release);
            release(&state);
        }
    }
}

/// Counts a settled event in its connector's activity (a dead letter is counted when it is made).
fn count(state: &State, how: Settlement) {
    let step = match how {
        Settlement::Confirmed => Step::Confirmed,
        Settlement::Stored => Step::Stored,
        Settlement::DeadLettered => return,
    };
    if let Some(activity) = &state.activity {
        activity.count(step, 1);
    }
}

fn release(state: &State) {
    if state.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        state.settled.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_batch_settles_at_once() {
        assert_eq!(
            Batch::new().seal().await,
            BatchOutcome::Settled {
                confirmed: 0,
                dead_lettered: 0,
                stored: 0,
                done: 0
            }
        );
    }

    #[tokio::test]
    async fn seal_waits_for_tokens_settled_later() {
        let batch = Batch::new();
        let a = batch.token();
        let b = batch.token();
        let waiter = tokio::spawn(batch.seal());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        a.settle(Settlement::Confirmed);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        b.settle(Settlement::DeadLettered);
        assert_eq!(
            waiter.await.unwrap(),
            BatchOutcome::Settled {
                confirmed: 1,
                dead_lettered: 1,
                stored: 0,
                done: 2
            }
        );
    }

    #[test]
    fn a_watcher_is_told_how_its_token_was_settled_and_not_when_dropped() {
        let batch = Batch::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let told = tx.clone();
        let token = batch
            .token()
            .on_settle(move |how| told.send(how).expect("send"));
        token.settle(Settlement::Stored);
        drop(
            batch
                .token()
                .on_settle(move |how| tx.send(how).expect("send")),
        );
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [Settlement::Stored]);
    }

    #[tokio::test]
    async fn a_dropped_token_abandons_the_batch() {
        let batch = Batch::new();
        let a = batch.token();
        let b = batch.token();
        a.settle(Settlement::Confirmed);
        drop(b);
        assert_eq!(batch.seal().await, BatchOutcome::Abandoned { done: 1 });
    }

    #[tokio::test]
    async fn tokens_settled_before_seal_count() {
        let batch = Batch::new();
        batch.token().settle(Settlement::Confirmed);
        batch.token().settle(Settlement::Confirmed);
        assert_eq!(
            batch.seal().await,
            BatchOutcome::Settled {
                confirmed: 2,
                dead_lettered: 0,
                stored: 0,
                done: 2
            }
        );
    }

    #[tokio::test]
    async fn done_counts_settled_items_from_the_start_without_gaps() {
        let batch = Batch::resuming(10);
        let a = batch.token();
        batch.skip();
        let b = batch.token();
        let b2 = b.also();
        assert_eq!(batch.done(), 10);
        b.settle(Settlement::DeadLettered);
        assert_eq!(batch.done(), 10);
        a.settle(Settlement::Stored);
        assert_eq!(batch.done(), 12);
        b2.settle(Settlement::DeadLettered);
        assert_eq!(batch.done(), 13);
        batch.skip();
        assert_eq!(batch.done(), 14);
        assert_eq!(
            batch.seal().await,
            BatchOutcome::Settled {
                confirmed: 0,
                dead_lettered: 2,
                stored: 1,
                done: 14
            }
        );
    }

    #[tokio::test]
    async fn a_spanning_token_settles_its_items_together() {
        let batch = Batch::new();
        batch.skip_many(2);
        let group = batch.token_spanning(3);
        let also = group.also();
        let after = batch.token();
        after.settle(Settlement::Confirmed);
        assert_eq!(batch.done(), 2);
        group.settle(Settlement::Confirmed);
        assert_eq!(batch.done(), 2);
        also.settle(Settlement::Confirmed);
        assert_eq!(batch.done(), 6);
        assert!(matches!(
            batch.seal().await,
            BatchOutcome::Settled {
                confirmed: 3,
                done: 6,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_counting_batch_counts_confirmed_and_stored_events() {
        let activity = Arc::new(Activity::new("c"));
        let batch = Batch::counting(0, Arc::clone(&activity));
        batch.token().settle(Settlement::Confirmed);
        batch.token().settle(Settlement::Stored);
        batch.token().settle(Settlement::DeadLettered);
        drop(batch.token());
        assert_eq!(activity.get(Step::Confirmed), 1);
        assert_eq!(activity.get(Step::Stored), 1);
        assert_eq!(activity.totals().out, 2);
    }

    #[tokio::test]
    async fn an_abandoned_item_holds_the_position_back() {
        let batch = Batch::new();
        let a = batch.token();
        let b = batch.token();
        drop(a);
        b.settle(Settlement::Confirmed);
        assert_eq!(batch.done(), 0);
        assert_eq!(batch.seal().await, BatchOutcome::Abandoned { done: 0 });
    }
}
