//! `GET /metrics`: the hub's Prometheus metrics as text. What each connector's [`Activity`]
//! counted, and the gauges read from the hub's state (broker connection, connector states, last
//! successes, the outbox), are brought up to date when scraped; histograms and the confirms in
//! flight are recorded where they happen. Labels are connector ids and fixed names only.
//!
//! [`Activity`]: crate::telemetry::Activity

use super::Admin;
use crate::connector::status::{Phase, StatusHandle};
use crate::delivery::dead_letter::Stage;
use crate::route::publisher::BrokerState;
use crate::state::{Store, outbox};
use crate::telemetry::{
    BROKER_CONNECTED, CONNECTOR_STATE, INPUTS, LAST_SUCCESS, OUTBOX_DEPTH, OUTBOX_OLDEST_AGE,
    Outcome, RECORD_FAILURES, RECORDS, Step,
};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// What the outbox holds.
#[derive(Debug, Clone, Default)]
pub struct OutboxDepth {
    /// Messages by connector.
    pub by_connector: BTreeMap<String, u64>,
    /// When the oldest was stored (Unix seconds).
    pub oldest: Option<i64>,
}

impl OutboxDepth {
    /// Reads the outbox; `None` (logged) when the state store cannot be read.
    pub async fn read(store: &Store) -> Option<Self> {
        let read = store
            .read(|conn| Ok((outbox::per_connector(conn)?, outbox::oldest(conn)?)))
            .await;
        match read {
            Ok((counts, oldest)) => Some(Self {
                by_connector: counts.into_iter().collect(),
                oldest,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox's depth");
                None
            }
        }
    }

    /// Messages of `connector`.
    pub fn of(&self, connector: &str) -> u64 {
        self.by_connector.get(connector).copied().unwrap_or(0)
    }
}

/// `GET /metrics`.
pub async fn metrics(State(admin): State<Admin>) -> Response {
    let outbox = OutboxDepth::read(&admin.store).await;
    let broker = admin.broker.borrow().clone();
    export(&admin.status.handles(), &broker, outbox.as_ref());
    ([(CONTENT_TYPE, TEXT_FORMAT)], admin.metrics.render()).into_response()
}

/// Sets the counters and gauges read from the hub's state.
fn export(connectors: &[StatusHandle], broker: &BrokerState, outbox: Option<&OutboxDepth>) {
    let connected = matches!(broker, BrokerState::Connected);
    metrics::gauge!(BROKER_CONNECTED).set(f64::from(u8::from(connected)));
    if let Some(outbox) = outbox {
        let depth: u64 = outbox.by_connector.values().sum();
        let age = outbox.oldest.map_or(0, |t| crate::state::now_unix() - t);
        metrics::gauge!(OUTBOX_DEPTH).set(depth as f64);
        metrics::gauge!(OUTBOX_OLDEST_AGE).set(age.max(0) as f64);
    }
    for handle in connectors {
        export_connector(handle);
    }
}

fn export_connector(handle: &StatusHandle) {
    let id = handle.connector().to_string();
    let activity = handle.activity();
    for step in Step::ALL {
        let labels = [
            ("connector", id.clone()),
            ("stage", step.as_str().to_string()),
        ];
        metrics::counter!(RECORDS, &labels).absolute(activity.get(step));
    }
    for stage in Stage::ALL {
        let labels = [("connector", id.clone()), ("stage", stage.to_string())];
        metrics::counter!(RECORD_FAILURES, &labels).absolute(activity.failures(stage));
    }
    for outcome in Outcome::ALL {
        let labels = [
            ("connector", id.clone()),
            ("outcome", outcome.as_str().to_string()),
        ];
        metrics::counter!(INPUTS, &labels).absolute(activity.inputs(outcome));
    }
    let status = handle.get();
    for phase in Phase::ALL {
        let labels = [
            ("connector", id.clone()),
            ("state", phase.as_str().to_string()),
        ];
        let current = f64::from(u8::from(phase == status.phase));
        metrics::gauge!(CONNECTOR_STATE, &labels).set(current);
    }
    if let Some(at) = status.last_success {
        let seconds = at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(LAST_SUCCESS, "connector" => id).set(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn the_scrape_shows_each_connector_by_stage_and_state() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = StatusHandle::detached("pos-sales");
        handle.phase(Phase::Connected);
        handle.activity().count(Step::Confirmed, 7);
        handle.activity().failed(Stage::Validate);
        let outbox = OutboxDepth {
            by_connector: [("pos-sales".to_string(), 3)].into(),
            oldest: None,
        };
        metrics::with_local_recorder(&recorder, || {
            export(&[handle], &BrokerState::Connected, Some(&outbox));
        });
        let text = recorder.handle().render();
        for line in [
            r#"omnibus_records_total{connector="pos-sales",stage="confirmed"} 7"#,
            r#"omnibus_records_total{connector="pos-sales",stage="read"} 0"#,
            r#"omnibus_record_failures_total{connector="pos-sales",stage="validate"} 1"#,
            r#"omnibus_connector_state{connector="pos-sales",state="connected"} 1"#,
            r#"omnibus_connector_state{connector="pos-sales",state="stopped"} 0"#,
            "omnibus_broker_connected 1",
            "omnibus_outbox_depth 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
    }
}
