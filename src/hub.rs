//! The hub: takes the state dir's lock, opens the state store, starts the publisher, the ingest
//! listener (when an `http_push` connector runs) and one supervised task per connector, keeps a
//! failing connector from stopping the others (it is restarted with backoff), and stops everything
//! on cancellation.

use crate::admin::{self, Admin, AdminError};
use crate::backoff::Backoff;
use crate::canonical::schema::{Schema, Schemas};
use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::config::hub::{DeliveryConfig, HubConfig};
use crate::connector::amqp::AmqpSource;
use crate::connector::emit::Emitter;
use crate::connector::file_drop::FileDrop;
use crate::connector::http_poll::{HttpPollSource, HttpPollSpec};
use crate::connector::http_push::HttpPushSource;
use crate::connector::http_push::listener::{self, ListenError, Routes};
use crate::connector::ingest::Pipeline;
use crate::connector::mqtt::MqttSource;
use crate::connector::sql::SqlSource;
use crate::connector::status::{Phase, Registry};
use crate::mapping::Mapping;
use crate::route::Publisher;
use crate::route::publisher::PublisherSettings;
use crate::route::receipts::Receipts;
use crate::route::topology::Topology;
use crate::state::{HubLock, LockError, Store, StoreError, dedupe};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest pause before a crashed connector is restarted.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

/// The publisher settings that `omnibus.toml` describes; `store` enables the outbox and the dedupe
/// window.
pub fn publisher_settings(hub: &HubConfig, store: Option<Store>) -> PublisherSettings {
    PublisherSettings {
        url: hub.broker.url.clone(),
        topology: Topology {
            exchange: hub.broker.exchange.clone(),
            dead_letter_exchange: hub.broker.dead_letter_exchange.clone(),
            dead_letter_queue: hub.broker.dead_letter_queue.clone(),
            receipts: hub.delivery.receipts.then(|| Receipts {
                stream: format!("{}.receipts", hub.broker.exchange),
                max_age: hub.delivery.receipts_max_age.clone(),
                max_bytes: hub.delivery.receipts_max_bytes,
            }),
        },
        confirm_window: hub.broker.confirm_window,
        max_backoff: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(5).min(hub.delivery.shutdown_timeout / 2),
        store,
        outbox_max_bytes: hub.delivery.outbox_max_bytes,
        spill_after: hub.delivery.spill_after,
    }
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The schemas folder has problems: no event could be checked.
    #[error("the schemas folder has errors:\n{}", .0.join("\n"))]
    Schemas(Vec<String>),
    #[error(transparent)]
    Ingest(#[from] ListenError),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// What every connector task shares.
#[derive(Clone)]
struct Shared {
    publisher: Publisher,
    store: Store,
    dedupe: bool,
    status: Registry,
    /// The ingest listener's paths, for `http_push` connectors.
    routes: Routes,
}

/// Runs the connectors until `cancel` fires, then waits for them and the publisher to stop.
///
/// Takes the lock on the state dir first (one hub per state) and opens the state store.
pub async fn run(
    hub: &HubConfig,
    connectors: Vec<ConnectorSpec>,
    cancel: CancellationToken,
) -> Result<(), HubError> {
    let schemas = Schemas::load(&hub.paths.schemas).map_err(HubError::Schemas)?;
    let _lock = HubLock::acquire(&hub.state.dir)?;
    let store = Store::open(&hub.state.dir)?;
    tracing::info!(store = %store.path().display(), "state store open");
    let pushed = connectors
        .iter()
        .any(|c| matches!(c.source, SourceSpec::HttpPush(_)));
    let ingest = match pushed {
        true => Some(listener::bind(&hub.ingest.listen).await?),
        false => None,
    };
    let admin = admin::bind(&hub.admin.listen).await?;
    let settings = publisher_settings(hub, Some(store.clone()));
    let (publisher, publisher_task) = Publisher::spawn(settings, cancel.clone());
    let pruning = tokio::spawn(prune_dedupe(
        store.clone(),
        hub.delivery.clone(),
        cancel.clone(),
    ));
    let shared = Shared {
        publisher,
        store: store.clone(),
        dedupe: !hub.delivery.dedupe_window.is_zero(),
        status: Registry::default(),
        routes: Routes::default(),
    };
    let tracker = TaskTracker::new();
    let mut started = Vec::new();
    for spec in connectors {
        match Mapping::load_checked(&hub.paths.mappings, &spec.mapping, &schemas) {
            Ok((mapping, schema)) => {
                let spec = Arc::new(spec);
                started.push(Arc::clone(&spec));
                let mapped = (Arc::new(mapping), schema);
                tracker.spawn(supervise(spec, mapped, shared.clone(), cancel.clone()));
            }
            Err(problem) => {
                tracing::error!(connector = %spec.id, "connector not started; {problem}");
            }
        }
    }
    let running = started.len();
    if let Some(ingest) = ingest.filter(|_| running > 0) {
        let routes = shared.routes.clone();
        tracker.spawn(listener::serve(ingest, routes, cancel.clone()));
    }
    started.sort_by(|a, b| a.id.cmp(&b.id));
    let view = Admin {
        status: shared.status.clone(),
        connectors: Arc::new(started),
        broker: shared.publisher.watch_state(),
        store: store.clone(),
    };
    tracker.spawn(admin::serve(admin, view, cancel.clone()));
    tracker.close();
    tracing::info!(connectors = running, "hub running");
    drop(shared);
    tracker.wait().await;
    let _ = publisher_task.await;
    pruning.abort();
    if let Err(e) = store.write(|_| Ok(())).await {
        tracing::warn!(error = %e, "the state store's last writes may not have landed");
    }
    tracing::info!("hub stopped");
    Ok(())
}

/// How often the dedupe window is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Drops confirmed ids that fell out of the dedupe window, every [`PRUNE_EVERY`].
async fn prune_dedupe(store: Store, delivery: DeliveryConfig, cancel: CancellationToken) {
    let max_age = i64::try_from(delivery.dedupe_window.as_secs()).unwrap_or(i64::MAX);
    loop {
        let max_ids = delivery.dedupe_max_ids;
        match store
            .write(move |conn| dedupe::prune(conn, max_age, max_ids))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "dedupe window pruned"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the dedupe window"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// A connector's mapping and the schema its events are checked against.
type Mapped = (Arc<Mapping>, Arc<Schema>);

/// Runs one connector, restarting it with backoff when it fails or panics.
async fn supervise(
    spec: Arc<ConnectorSpec>,
    mapping: Mapped,
    shared: Shared,
    cancel: CancellationToken,
) {
    let status = shared.status.handle(&spec.id);
    let mut backoff = Backoff::new(Duration::from_secs(1), MAX_RESTART_BACKOFF);
    while !cancel.is_cancelled() {
        let task = tokio::spawn(run_connector(
            Arc::clone(&spec),
            (Arc::clone(&mapping.0), Arc::clone(&mapping.1)),
            shared.clone(),
            cancel.clone(),
        ));
        let failure = match task.await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e,
            Err(join) => format!("crashed: {join}"),
        };
        let wait = backoff.next_wait();
        tracing::error!(connector = %spec.id, error = %failure, retry_in = ?wait, "connector failed; the others keep running");
        status.backing_off(&failure, wait);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    status.phase(Phase::Stopped);
}

async fn run_connector(
    spec: Arc<ConnectorSpec>,
    (mapping, schema): Mapped,
    shared: Shared,
    cancel: CancellationToken,
) -> Result<(), String> {
    let emitter = Emitter::new(&spec, mapping.event_type()).map_err(|e| e.to_string())?;
    let routes = shared.routes.clone();
    let pipeline = Pipeline {
        spec: Arc::clone(&spec),
        mapping,
        schema,
        emitter,
        publisher: shared.publisher,
        store: shared.store,
        dedupe: shared.dedupe,
        status: shared.status.handle(&spec.id),
    };
    match &spec.source {
        SourceSpec::File(source) => {
            let source = source.clone();
            FileDrop { pipeline, source }
                .run(cancel)
                .await
                .map_err(|e| e.to_string())
        }
        SourceSpec::Amqp(source) => {
            let source = source.clone();
            AmqpSource { pipeline, source }.run(cancel).await;
            Ok(())
        }
        SourceSpec::Mqtt(source) => {
            let source = source.clone();
            MqttSource { pipeline, source }.run(cancel).await
        }
        SourceSpec::HttpPush(source) => {
            let source = source.clone();
            let push = HttpPushSource {
                pipeline,
                source,
                routes,
            };
            push.run(cancel).await
        }
        SourceSpec::HttpPoll(source) => {
            let source = HttpPollSpec::clone(source);
            HttpPollSource { pipeline, source }.run(cancel).await
        }
        SourceSpec::Sql(source) => {
            let source = source.clone();
            SqlSource { pipeline, source }.run(cancel).await;
            Ok(())
        }
    }
}
