//! A connector's state as the admin API shows it: stable field names, times in RFC 3339 (UTC),
//! with what it has done (records in, out and failed, recent rates, lag, position).

use crate::config::connector::ConnectorSpec;
use crate::connector::status::{Failure, StatusHandle};
use crate::telemetry::{Activity, Recent, Step};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// One connector, as `GET /api/connectors` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorView {
    pub id: String,
    /// The legacy system it reads.
    pub system: String,
    /// Its source type: `file`, `amqp`, `mqtt`, `http_push`, `http_poll`, `sql`.
    pub source: String,
    pub mapping: String,
    /// `starting`, `connected`, `polling`, `idle`, `backing_off`, `stopped`.
    pub state: String,
    /// When the state last changed.
    pub since: String,
    pub last_success: Option<String>,
    pub last_error: Option<ErrorView>,
    /// When a connector backing off tries again.
    pub retry_at: Option<String>,
    /// The freshness expectation (`daily by 02:00 Asia/Shanghai`, `every 1h`), if any.
    #[serde(default)]
    pub expect: Option<String>,
    /// When the connector last took input holding records.
    #[serde(default)]
    pub last_input: Option<String>,
    /// Set while input is overdue.
    #[serde(default)]
    pub late: Option<LateView>,
    /// Records in, events out, records failed, since the hub started.
    #[serde(default)]
    pub records: Records,
    #[serde(default)]
    pub recent: Recent,
    /// The connector's messages waiting in the outbox.
    #[serde(default)]
    pub outbox_depth: u64,
    /// Age of the oldest input taken and not yet settled, in seconds.
    #[serde(default)]
    pub lag_seconds: Option<f64>,
    /// The last file taken, or the watermark of a polling source.
    #[serde(default)]
    pub position: Option<String>,
}

/// A missed freshness expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateView {
    /// The deadline that passed without input.
    pub since: String,
    pub expected: String,
}

/// A connector's record counts since the hub started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// Records read (out of the decoder, decodable or not).
    #[serde(rename = "in")]
    pub read: u64,
    /// Events out: confirmed by the broker, or taken by the outbox.
    pub out: u64,
    /// Records that failed (dead-lettered, or handed back to their system).
    pub failed: u64,
}

impl Records {
    fn of(activity: &Activity) -> Self {
        let totals = activity.totals();
        Self {
            read: activity.get(Step::Read),
            out: totals.out,
            failed: totals.failed,
        }
    }
}

/// A connector's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    pub at: String,
    pub message: String,
}

impl ConnectorView {
    /// Connector `spec` as its `handle` reports it, with `outbox_depth` of its messages in the
    /// outbox.
    pub fn of(spec: &ConnectorSpec, handle: &StatusHandle, outbox_depth: u64) -> Self {
        let status = handle.get();
        let activity = handle.activity();
        Self {
            id: spec.id.clone(),
            system: spec.system.clone(),
            source: spec.source.kind().to_string(),
            mapping: spec.mapping.clone(),
            state: status.phase.as_str().to_string(),
            since: rfc3339(status.since),
            last_success: status.last_success.map(rfc3339),
            last_error: status.last_error.as_ref().map(ErrorView::of),
            retry_at: status.retry_at.map(rfc3339),
            expect: spec.expect.as_ref().map(|e| e.describe()),
            last_input: status.last_input.map(rfc3339),
            late: status.late.as_ref().map(|late| LateView {
                since: rfc3339(late.since),
                expected: late.expected.clone(),
            }),
            records: Records::of(activity),
            recent: activity.recent(crate::telemetry::minute_now()),
            outbox_depth,
            lag_seconds: activity.lag().map(|lag| lag.as_secs_f64()),
            position: activity.position(),
        }
    }
}

impl ErrorView {
    fn of(failure: &Failure) -> Self {
        Self {
            at: rfc3339(failure.at),
            message: failure.message.clone(),
        }
    }
}

fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
impl ConnectorView {
    /// A file connector in `state` that has done nothing yet, for tests to adjust.
    pub(crate) fn blank(id: &str, state: &str) -> Self {
        Self {
            id: id.into(),
            system: "pos".into(),
            source: "file".into(),
            mapping: "sale".into(),
            state: state.into(),
            since: "2024-03-01T00:00:00.000Z".into(),
            last_success: None,
            last_error: None,
            retry_at: None,
            expect: None,
            last_input: None,
            late: None,
            records: Records::default(),
            recent: Recent::default(),
            outbox_depth: 0,
            lag_seconds: None,
            position: None,
        }
    }
}
