//! What the hub counts and measures for ops: the Prometheus metric names, the process's recorder
//! (`metrics` facade, `metrics-exporter-prometheus`, rendered on the admin API's own `/metrics`
//! route rather than an exporter listener) with its histogram buckets, and each connector's
//! [`Activity`]. docs/admin-api.md lists every metric.

mod activity;
mod window;

pub use activity::{Activity, Input, Outcome, Step};
pub use window::{Recent, Totals};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Records (and events) per connector and stage.
pub const RECORDS: &str = "omnibus_records_total";
/// Failed records per connector and stage of failure.
pub const RECORD_FAILURES: &str = "omnibus_record_failures_total";
/// Inputs per connector and outcome.
pub const INPUTS: &str = "omnibus_inputs_total";
/// From taking an input to the settlement of everything made of it.
pub const END_TO_END: &str = "omnibus_end_to_end_seconds";
/// From publishing a message to the broker's confirm.
pub const PUBLISH_CONFIRM: &str = "omnibus_publish_confirm_seconds";
/// Records per settled input.
pub const BATCH_RECORDS: &str = "omnibus_batch_records";
/// Messages in the outbox.
pub const OUTBOX_DEPTH: &str = "omnibus_outbox_depth";
/// Age of the oldest message in the outbox.
pub const OUTBOX_OLDEST_AGE: &str = "omnibus_outbox_oldest_age_seconds";
/// Publishes awaiting the broker's confirm.
pub const CONFIRMS_IN_FLIGHT: &str = "omnibus_confirms_in_flight";
/// 1 while the publisher is connected to the broker.
pub const BROKER_CONNECTED: &str = "omnibus_broker_connected";
/// 1 for a connector's current state, 0 for the others.
pub const CONNECTOR_STATE: &str = "omnibus_connector_state";
/// When a connector last had input settled.
pub const LAST_SUCCESS: &str = "omnibus_connector_last_success_timestamp_seconds";

/// Latency buckets, in seconds: from a millisecond to ten minutes (a large file).
const SECONDS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0,
];
/// Batch-size buckets, in records: from a single message to a million-row file.
const RECORD_COUNTS: [f64; 11] = [
    1.0,
    10.0,
    100.0,
    1_000.0,
    5_000.0,
    10_000.0,
    50_000.0,
    100_000.0,
    250_000.0,
    500_000.0,
    1_000_000.0,
];

/// The hub process's recorder, installed on first use; later calls (a second hub in one process)
/// share it.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!(
            "another metrics recorder is installed in this process; /metrics stays empty"
        );
    }
    handle
}

/// The exporter with histogram buckets (without them, histograms render as summaries).
fn builder() -> PrometheusBuilder {
    let buckets: [(&str, &[f64]); 3] = [
        (END_TO_END, &SECONDS),
        (PUBLISH_CONFIRM, &SECONDS),
        (BATCH_RECORDS, &RECORD_COUNTS),
    ];
    buckets
        .into_iter()
        .try_fold(PrometheusBuilder::new(), |builder, (name, values)| {
            builder.set_buckets_for_metric(Matcher::Full(name.to_string()), values)
        })
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "histogram buckets refused; histograms render as summaries");
            PrometheusBuilder::new()
        })
}

/// Minutes since the Unix epoch.
pub fn minute_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}
