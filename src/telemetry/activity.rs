//! One connector's activity, counted where it happens and read by the admin API and `/metrics`:
//! records at each stage, failed records by stage, inputs by outcome, the inputs in flight (their
//! age is the connector's lag), its position (last file or watermark) and its recent rates.
//!
//! Counting is a relaxed atomic add (per chunk of records where the stage allows); the histograms
//! are recorded once per input. `/metrics` exports the totals when it is scraped, so the JSON and
//! Prometheus read the same numbers.

use super::window::{Recent, Totals, Window};
use super::{BATCH_RECORDS, END_TO_END};
use crate::delivery::dead_letter::Stage;
use metrics::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A stage a record (or the event made of it) passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Out of the decoder, decodable or not.
    Read,
    /// Decoded into a record.
    Decoded,
    /// Events made by the mapping.
    Mapped,
    /// Events handed to the publisher.
    Published,
    /// Events the broker confirmed.
    Confirmed,
    /// Events the outbox took while the broker could not (delivered from there later).
    Stored,
    /// Records dead-lettered by Omnibus.
    DeadLettered,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Read,
        Step::Decoded,
        Step::Mapped,
        Step::Published,
        Step::Confirmed,
        Step::Stored,
        Step::DeadLettered,
    ];

    /// The `stage` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Read => "read",
            Step::Decoded => "decoded",
            Step::Mapped => "mapped",
            Step::Published => "published",
            Step::Confirmed => "confirmed",
            Step::Stored => "stored",
            Step::DeadLettered => "dead_lettered",
        }
    }
}

/// How an input (a file, a message, a page, a batch of rows) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record settled (published or dead-lettered).
    Ok,
    /// The input did not fit the connector as a whole (a file moved to `error/`, a body refused).
    Refused,
    /// It could not be taken (unreadable, the state store failing); it is tried again.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Refused, Outcome::Failed];

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Inputs taken and not settled yet, by when they were taken.
#[derive(Debug, Default)]
struct InFlight {
    next: u64,
    taken: BTreeMap<u64, Instant>,
}

/// One connector's activity since the hub started.
#[derive(Debug)]
pub struct Activity {
    steps: [AtomicU64; Step::ALL.len()],
    failures: [AtomicU64; Stage::ALL.len()],
    inputs: [AtomicU64; Outcome::ALL.len()],
    in_flight: Mutex<InFlight>,
    position: Mutex<Option<String>>,
    window: Mutex<Window>,
    end_to_end: Histogram,
    batch: Histogram,
}

impl Activity {
    /// Counting for `connector` begins now.
    pub fn new(connector: &str) -> Self {
        Self {
            steps: Default::default(),
            failures: Default::default(),
            inputs: Default::default(),
            in_flight: Mutex::default(),
            position: Mutex::default(),
            window: Mutex::new(Window::starting(super::minute_now())),
            end_to_end: metrics::histogram!(END_TO_END, "connector" => connector.to_string()),
            batch: metrics::histogram!(BATCH_RECORDS, "connector" => connector.to_string()),
        }
    }

    /// `n` more records (or events) passed `step`.
    pub fn count(&self, step: Step, n: u64) {
        self.steps[step as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// A record failed at `stage`.
    pub fn failed(&self, stage: Stage) {
        self.failures[stage as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// An input is taken; it counts as in flight until the [`Input`] is dropped.
    pub fn take(&self) -> Input<'_> {
        let mut in_flight = lock(&self.in_flight);
        let id = in_flight.next;
        in_flight.next += 1;
        let taken = Instant::now();
        in_flight.taken.insert(id, taken);
        Input {
            activity: self,
            id,
            taken,
        }
    }

    /// Where the connector has got to: the last file taken, or its watermark.
    pub fn set_position(&self, position: String) {
        *lock(&self.position) = Some(position);
    }

    /// Samples the totals for the recent rates (call at least once a minute).
    pub fn sample(&self, minute: u64) {
        let totals = self.totals();
        lock(&self.window).sample(minute, totals);
    }

    /// Records (or events) that passed `step`.
    pub fn get(&self, step: Step) -> u64 {
        self.steps[step as usize].load(Ordering::Relaxed)
    }

    /// Records that failed at `stage`.
    pub fn failures(&self, stage: Stage) -> u64 {
        self.failures[stage as usize].load(Ordering::Relaxed)
    }

    /// Inputs that ended with `outcome`.
    pub fn inputs(&self, outcome: Outcome) -> u64 {
        self.inputs[outcome as usize].load(Ordering::Relaxed)
    }

    /// Events out (confirmed, or taken by the outbox) and records failed, so far.
    pub fn totals(&self) -> Totals {
        Totals {
            out: self.get(Step::Confirmed) + self.get(Step::Stored),
            failed: Stage::ALL.iter().map(|s| self.failures(*s)).sum(),
        }
    }

    /// The rates at `minute`.
    pub fn recent(&self, minute: u64) -> Recent {
        let totals = self.totals();
        lock(&self.window).recent(minute, totals)
    }

    /// How long the oldest input in flight has been; `None` when none is.
    pub fn lag(&self) -> Option<Duration> {
        self.lag_at(Instant::now())
    }

    fn lag_at(&self, now: Instant) -> Option<Duration> {
        let in_flight = lock(&self.in_flight);
        let (_, taken) = in_flight.taken.first_key_value()?;
        Some(now.saturating_duration_since(*taken))
    }

    pub fn position(&self) -> Option<String> {
        lock(&self.position).clone()
    }
}

/// An input in flight.
#[derive(Debug)]
pub struct Input<'a> {
    activity: &'a Activity,
    id: u64,
    taken: Instant,
}

impl Input<'_> {
    /// The input ended with `outcome` after `records` records; `None` when it was cut short and
    /// is taken again later (the hub is stopping).
    pub fn finish(self, outcome: Option<Outcome>, records: u64) {
        let Some(outcome) = outcome else {
            return;
        };
        self.activity.inputs[outcome as usize].fetch_add(1, Ordering::Relaxed);
        if outcome != Outcome::Failed {
            self.activity
                .end_to_end
                .record(self.taken.elapsed().as_secs_f64());
            self.activity.batch.record(records as f64);
        }
    }
}

impl Drop for Input<'_> {
    fn drop(&mut self) {
        lock(&self.activity.in_flight).taken.remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_and_failed_add_up_their_stages() {
        let activity = Activity::new("c");
        activity.count(Step::Read, 5);
        activity.count(Step::Confirmed, 3);
        activity.count(Step::Stored, 1);
        activity.failed(Stage::Decode);
        activity.failed(Stage::Validate);
        assert_eq!(activity.get(Step::Read), 5);
        assert_eq!(activity.failures(Stage::Validate), 1);
        assert_eq!(activity.totals(), Totals { out: 4, failed: 2 });
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_input_in_flight() {
        let activity = Activity::new("c");
        assert_eq!(activity.lag(), None);
        let first = activity.take();
        let second = activity.take();
        let later = second.taken + Duration::from_secs(1);
        assert_eq!(activity.lag_at(later), Some(later - first.taken));
        first.finish(Some(Outcome::Ok), 10);
        assert_eq!(activity.lag_at(later), Some(later - second.taken));
        second.finish(None, 0);
        assert_eq!(activity.lag(), None, "nothing in flight once both are done");
        assert_eq!(activity.inputs(Outcome::Ok), 1);
        assert_eq!(activity.inputs(Outcome::Failed), 0);
    }
}
