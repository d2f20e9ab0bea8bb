//! What each running connector reports about itself — connected, polling, idle, backing off —
//! with the time of its last success and its last error, for ops (the admin API and status page
//! read it; the log gets every change of health).
//!
//! The hub keeps one [`Registry`]; each connector gets a [`StatusHandle`] and reports through it.
//! Reports are cheap (a `watch` channel): a connector may report on every poll. Each handle also
//! carries the connector's [`Activity`] (records counted at each stage), kept across restarts.

use crate::telemetry::Activity;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// What a connector is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Started, not yet connected or listening.
    Starting,
    /// Connected to (or listening for) its source, waiting for input.
    Connected,
    /// Reading from its source right now (a poll, a query, a file).
    Polling,
    /// Between two polls.
    Idle,
    /// The source failed; the connector waits before trying again.
    BackingOff,
    /// Paused by ops: it takes no input until resumed.
    Paused,
    /// Stopped with the hub.
    Stopped,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Starting,
        Phase::Connected,
        Phase::Polling,
        Phase::Idle,
        Phase::BackingOff,
        Phase::Paused,
        Phase::Stopped,
    ];

    /// The phase's name, as shown to ops.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Connected => "connected",
            Phase::Polling => "polling",
            Phase::Idle => "idle",
            Phase::BackingOff => "backing_off",
            Phase::Paused => "paused",
            Phase::Stopped => "stopped",
        }
    }
}

/// A failure the connector reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: SystemTime,
    pub message: String,
}

/// A connector's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub phase: Phase,
    /// When the phase last changed.
    pub since: SystemTime,
    /// When the connector last took input and had it settled (or found none to take).
    pub last_success: Option<SystemTime>,
    pub last_error: Option<Failure>,
    /// When a connector backing off tries again.
    pub retry_at: Option<SystemTime>,
    /// When the connector last took input holding at least one record.
    pub last_input: Option<SystemTime>,
    /// Set while input is overdue (the connector's freshness expectation was missed).
    pub late: Option<Late>,
}

/// A missed freshness expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Late {
    /// The deadline that passed without input.
    pub since: SystemTime,
    /// The expectation, as written (`daily by 02:00 Asia/Shanghai`, `every 1h`).
    pub expected: String,
}

/// Where one connector reports its state.
#[derive(Debug, Clone)]
pub struct StatusHandle {
    connector: Arc<str>,
    tx: Arc<watch::Sender<Status>>,
    activity: Arc<Activity>,
}

impl StatusHandle {
    /// A handle for a connector that is not in any registry (tools, tests).
    pub fn detached(connector: &str) -> Self {
        let status = Status {
            phase: Phase::Starting,
            since: SystemTime::now(),
            last_success: None,
            last_error: None,
            retry_at: None,
            last_input: None,
            late: None,
        };
        Self {
            connector: connector.into(),
            tx: Arc::new(watch::Sender::new(status)),
            activity: Arc::new(Activity::new(connector)),
        }
    }

    /// What the connector has done: records at each stage, inputs in flight, its position.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The connector's id.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// The connector's current state.
    pub fn get(&self) -> Status {
        self.tx.borrow().clone()
    }

    /// Follows the connector's state.
    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.tx.subscribe()
    }

    /// The connector is now in `phase`.
    pub fn phase(&self, phase: Phase) {
        self.tx.send_if_modified(|s| {
            if s.phase == phase {
                return false;
            }
            s.phase = phase;
            s.since = SystemTime::now();
            s.retry_at = None;
            true
        });
    }

    /// Input was taken and settled (or a poll found nothing new): the connector is healthy.
    pub fn success(&self) {
        let recovered = self.tx.borrow().phase == Phase::BackingOff;
        if recovered {
            tracing::info!(connector = %self.connector, "connector recovered");
        }
        self.tx
            .send_modify(|s| s.last_success = Some(SystemTime::now()));
    }

    /// Input holding records was taken and settled: the legacy system is sending, so the
    /// connector is not late.
    pub fn input(&self) {
        let was_late = self.tx.borrow().late.is_some();
        if was_late {
            tracing::info!(connector = %self.connector, "input arrived; the connector is no longer late");
            late_gauge(&self.connector).set(0.0);
        }
        self.tx.send_modify(|s| {
            s.last_input = Some(SystemTime::now());
            s.late = None;
        });
    }

    /// The last input's time as kept from an earlier run, unless this run saw one already.
    pub fn seed_last_input(&self, at: SystemTime) {
        self.tx.send_if_modified(|s| {
            let seeded = s.last_input.is_none();
            if seeded {
                s.last_input = Some(at);
            }
            seeded
        });
    }

    /// No input came before `since`, as the expectation `expected` required.
    pub fn late(&self, since: SystemTime, expected: &str) {
        let late = Late {
            since,
            expected: expected.to_string(),
        };
        let changed = self.tx.send_if_modified(|s| {
            let changed = s.late.as_ref() != Some(&late);
            s.late = Some(late.clone());
            changed
        });
        if changed {
            tracing::warn!(connector = %self.connector, expected = %expected, "connector is late: no input arrived as expected");
            late_gauge(&self.connector).set(1.0);
        }
    }

    /// The source failed with `message`; the connector tries again after `delay`.
    pub fn backing_off(&self, message: &str, delay: Duration) {
        let now = SystemTime::now();
        self.tx.send_modify(|s| {
            if s.phase != Phase::BackingOff {
                s.since = now;
            }
            s.phase = Phase::BackingOff;
            s.retry_at = Some(now + delay);
            s.last_error = Some(Failure {
                at: now,
                message: message.to_string(),
            });
        });
    }

    /// A failure that does not stop the connector (one input refused, one page skipped).
    pub fn error(&self, message: &str) {
        self.tx.send_modify(|s| {
            s.last_error = Some(Failure {
                at: SystemTime::now(),
                message: message.to_string(),
            });
        });
    }
}

/// `omnibus_connector_late{connector}`: 1 while the connector's input is overdue.
fn late_gauge(connector: &str) -> metrics::Gauge {
    metrics::gauge!("omnibus_connector_late", "connector" => connector.to_string())
}

/// Every connector's state, by connector id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    handles: Arc<Mutex<BTreeMap<Arc<str>, StatusHandle>>>,
}

impl Registry {
    /// The handle of connector `id`, created on first use; a restarted connector keeps its
    /// history (last success, last error).
    pub fn handle(&self, id: &str) -> StatusHandle {
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        handles
            .entry(id.into())
            .or_insert_with(|| StatusHandle::detached(id))
            .clone()
    }

    /// Every connector's current state, by id.
    pub fn snapshot(&self) -> Vec<(Arc<str>, Status)> {
        let handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        handles
            .iter()
            .map(|(id, h)| (Arc::clone(id), h.get()))
            .collect()
    }

    /// Every connector's handle, by id.
    pub fn handles(&self) -> Vec<StatusHandle> {
        let handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        handles.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_off_records_the_error_and_when_to_retry() {
        let handle = StatusHandle::detached("c");
        handle.phase(Phase::Connected);
        handle.backing_off("connection refused", Duration::from_secs(4));
        let status = handle.get();
        assert_eq!(status.phase, Phase::BackingOff);
        assert_eq!(
            status.last_error.map(|e| e.message).as_deref(),
            Some("connection refused")
        );
        let wait = status
            .retry_at
            .and_then(|t| t.duration_since(status.since).ok());
        assert_eq!(wait, Some(Duration::from_secs(4)));
        handle.phase(Phase::Connected);
        handle.success();
        let status = handle.get();
        assert_eq!(status.phase, Phase::Connected);
        assert!(status.retry_at.is_none() && status.last_success.is_some());
        assert!(
            status.last_error.is_some(),
            "the last error stays on record"
        );
    }

    #[test]
    fn a_registry_hands_out_one_handle_per_connector() {
        let registry = Registry::default();
        registry.handle("a").phase(Phase::Polling);
        registry.handle("b");
        assert_eq!(registry.handle("a").get().phase, Phase::Polling);
        let phases: Vec<_> = registry
            .snapshot()
            .into_iter()
            .map(|(id, s)| (id.to_string(), s.phase))
            .collect();
        assert_eq!(
            phases,
            [
                ("a".to_string(), Phase::Polling),
                ("b".to_string(), Phase::Starting)
            ]
        );
    }
}
