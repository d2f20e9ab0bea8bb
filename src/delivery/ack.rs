//! Ack tokens: a source commits its position only when the [`Batch`] of an input reports that every
//! event derived from it was confirmed by the broker or dead-lettered (and itself confirmed).
//!
//! Each derived event carries an [`AckToken`]. Settling a token records the outcome; dropping it
//! unsettled (the hub shut down, the publisher gave up) marks the whole batch abandoned, so the
//! source keeps its input for the next run instead of acknowledging what was not delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// The events derived from one input (a file, a message, a page).
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
    abandoned: AtomicBool,
    settled: Notify,
}

/// What happened to a sealed batch's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every event was confirmed or dead-lettered: the source may commit.
    Settled { confirmed: u64, dead_lettered: u64 },
    /// At least one event was dropped unsettled: the source must not commit.
    Abandoned,
}

/// How a token's event ended up safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The broker confirmed the canonical event.
    Confirmed,
    /// The broker confirmed the dead letter that stands for a bad record.
    DeadLettered,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    pub fn new() -> Self {
        let state = State {
            pending: AtomicUsize::new(1),
            ..State::default()
        };
        Self {
            state: Arc::new(state),
        }
    }

    /// A token for one more event of this batch.
    pub fn token(&self) -> AckToken {
        self.state.pending.fetch_add(1, Ordering::AcqRel);
        AckToken {
            state: Some(Arc::clone(&self.state)),
        }
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
            return BatchOutcome::Abandoned;
        }
        BatchOutcome::Settled {
            confirmed: state.confirmed.load(Ordering::Acquire),
            dead_lettered: state.dead_lettered.load(Ordering::Acquire),
        }
    }
}

/// One event's share of its batch's acknowledgement.
#[derive(Debug)]
pub struct AckToken {
    state: Option<Arc<State>>,
}

impl AckToken {
    /// Records that the event is safe; the batch may commit once all its tokens say so.
    pub fn settle(mut self, how: Settlement) {
        if let Some(state) = self.state.take() {
            let counter = match how {
                Settlement::Confirmed => &state.confirmed,
                Settlement::DeadLettered => &state.dead_lettered,
            };
            counter.fetch_add(1, Ordering::AcqRel);
            release(&state);
        }
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
                dead_lettered: 0
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
                dead_lettered: 1
            }
        );
    }

    #[tokio::test]
    async fn a_dropped_token_abandons_the_batch() {
        let batch = Batch::new();
        let a = batch.token();
        let b = batch.token();
        a.settle(Settlement::Confirmed);
        drop(b);
        assert_eq!(batch.seal().await, BatchOutcome::Abandoned);
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
                dead_lettered: 0
            }
        );
    }
}
