//! A connector's state as the admin API shows it: stable field names, times in RFC 3339 (UTC).

use crate::config::connector::ConnectorSpec;
use crate::connector::status::{Failure, Status};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// One connector, as `GET /api/connectors` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub expect: Option<String>,
    /// When the connector last took input holding records.
    pub last_input: Option<String>,
    /// Set while input is overdue.
    pub late: Option<LateView>,
}

/// A missed freshness expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateView {
    /// The deadline that passed without input.
    pub since: String,
    pub expected: String,
}

/// A connector's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    pub at: String,
    pub message: String,
}

impl ConnectorView {
    pub fn of(spec: &ConnectorSpec, status: &Status) -> Self {
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
