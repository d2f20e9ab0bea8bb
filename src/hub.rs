//! The hub: starts the publisher and one supervised task per connector, keeps a failing connector
//! from stopping the others (it is restarted with backoff), and stops everything on cancellation.

use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::config::hub::HubConfig;
use crate::connector::emit::Emitter;
use crate::connector::file_drop::FileDrop;
use crate::mapping::Mapping;
use crate::route::Publisher;
use crate::route::publisher::PublisherSettings;
use crate::route::topology::Topology;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest pause before a crashed connector is restarted.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

/// The publisher settings that `omnibus.toml` describes.
pub fn publisher_settings(hub: &HubConfig) -> PublisherSettings {
    PublisherSettings {
        url: hub.broker.url.clone(),
        topology: Topology {
            exchange: hub.broker.exchange.clone(),
            dead_letter_exchange: hub.broker.dead_letter_exchange.clone(),
            dead_letter_queue: hub.broker.dead_letter_queue.clone(),
        },
        confirm_window: hub.broker.confirm_window,
        max_backoff: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// Runs the connectors until `cancel` fires, then waits for them and the publisher to stop.
pub async fn run(hub: &HubConfig, connectors: Vec<ConnectorSpec>, cancel: CancellationToken) {
    let (publisher, publisher_task) = Publisher::spawn(publisher_settings(hub), cancel.clone());
    let tracker = TaskTracker::new();
    let mut started = 0;
    for spec in connectors {
        match Mapping::load(&hub.paths.mappings.join(format!("{}.toml", spec.mapping))) {
            Ok(mapping) => {
                started += 1;
                tracker.spawn(supervise(
                    Arc::new(spec),
                    Arc::new(mapping),
                    publisher.clone(),
                    cancel.clone(),
                ));
            }
            Err(diagnostics) => {
                tracing::error!(connector = %spec.id, "connector not started; its mapping has errors:\n{diagnostics}");
            }
        }
    }
    tracker.close();
    tracing::info!(connectors = started, "hub running");
    drop(publisher);
    tracker.wait().await;
    let _ = publisher_task.await;
    tracing::info!("hub stopped");
}

/// Runs one connector, restarting it with backoff when it fails or panics.
async fn supervise(
    spec: Arc<ConnectorSpec>,
    mapping: Arc<Mapping>,
    publisher: Publisher,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    while !cancel.is_cancelled() {
        let task = tokio::spawn(run_connector(
            Arc::clone(&spec),
            Arc::clone(&mapping),
            publisher.clone(),
            cancel.clone(),
        ));
        let failure = match task.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(join) => format!("crashed: {join}"),
        };
        tracing::error!(connector = %spec.id, error = %failure, retry_in = ?backoff, "connector failed; the others keep running");
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_RESTART_BACKOFF);
    }
}

async fn run_connector(
    spec: Arc<ConnectorSpec>,
    mapping: Arc<Mapping>,
    publisher: Publisher,
    cancel: CancellationToken,
) -> Result<(), String> {
    let emitter = Emitter::new(&spec, mapping.event_type()).map_err(|e| e.to_string())?;
    match &spec.source {
        SourceSpec::File(source) => FileDrop {
            source: source.clone(),
            spec: Arc::clone(&spec),
            mapping,
            emitter,
            publisher,
        }
        .run(cancel)
        .await
        .map_err(|e| e.to_string()),
    }
}
