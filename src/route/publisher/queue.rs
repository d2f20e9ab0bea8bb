//! The publisher's queue of messages waiting to be (re)published.

use super::{Ack, Outgoing};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Messages waiting to be (re)published: ready ones first, in order; paused ones after a nack or a
/// return, until their pause ends.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) ready: VecDeque<Outgoing>,
    paused: VecDeque<(Instant, Outgoing)>,
    pause: Option<Duration>,
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        self.ready.len() + self.paused.len()
    }

    /// Holds a message that the broker refused, pausing longer while refusals continue.
    pub(super) fn pause(&mut self, msg: Outgoing) {
        let pause = self.pause.map_or(Duration::from_millis(250), |p| {
            (p * 2).min(Duration::from_secs(5))
        });
        self.pause = Some(pause);
        self.paused.push_back((Instant::now() + pause, msg));
    }

    pub(super) fn next_wake(&self) -> Option<Instant> {
        self.paused.front().map(|(at, _)| *at)
    }

    pub(super) fn wake_due(&mut self) {
        let now = Instant::now();
        while self.paused.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, msg)) = self.paused.pop_front() {
                self.ready.push_back(msg);
            }
        }
    }

    pub(super) fn delivered(&mut self) {
        self.pause = None;
    }

    /// Removes the sources' messages (ready and paused, oldest first), leaving outbox rows.
    pub(super) fn take_sources(&mut self) -> Vec<Outgoing> {
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
