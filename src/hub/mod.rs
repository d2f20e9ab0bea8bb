//! The hub: takes the state dir's lock, opens the state store, starts the publisher, the admin
//! API and the fleet of connectors ([`fleet`]), each supervised so that a failing connector never
//! stops the others ([`supervise`]); serves ops' requests — pause, resume, poll now, reload —
//! through [`Control`] (from the admin API, SIGHUP and `--watch`: [`triggers`]); keeps the metrics
//! recorder and the connectors' recent rates up to date; and stops everything on cancellation.

mod control;
mod fingerprint;
mod fleet;
mod replay;
mod supervise;
mod triggers;

pub use control::{Command, Control, ControlError, Done, Reloaded};
pub use fleet::Listing;
pub use replay::{Again, Replayed};

use crate::admin::{self, Admin, AdminError};
use crate::canonical::schema::Schemas;
use crate::config::hub::{DeliveryConfig, HubConfig};
use crate::config::load::HubFiles;
use crate::connector::http_push::listener::{ListenError, Routes};
use crate::connector::status::Registry;
use crate::connector::tap::Tap;
use crate::route::Publisher;
use crate::route::publisher::PublisherSettings;
use crate::route::receipts::Receipts;
use crate::route::topology::Topology;
use crate::state::{HubLock, LockError, Store, StoreError, dedupe};
use crate::telemetry;
use fleet::{Fleet, Origin};
use metrics_exporter_prometheus::PrometheusHandle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    /// The live tap the connectors offer samples to.
    tap: Tap,
}

/// How the hub picks up configuration changes besides `POST /api/reload`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Reload when a file under the connectors, mappings or schemas folder changes.
    pub watch: bool,
}

/// Runs the connectors of `files` until `cancel` fires, then waits for them and the publisher
/// to stop. SIGHUP reloads the connectors and mappings.
///
/// Takes the lock on the state dir first (one hub per state) and opens the state store.
pub async fn run(
    files: HubFiles,
    options: RunOptions,
    cancel: CancellationToken,
) -> Result<(), HubError> {
    let HubFiles {
        hub,
        hub_path,
        connectors,
    } = files;
    let metrics = telemetry::recorder();
    let schemas = Schemas::load(&hub.paths.schemas).map_err(HubError::Schemas)?;
    let _lock = HubLock::acquire(&hub.state.dir)?;
    let store = Store::open(&hub.state.dir)?;
    tracing::info!(store = %store.path().display(), "state store open");
    let admin = admin::bind(&hub.admin.listen).await?;
    let settings = publisher_settings(&hub, Some(store.clone()));
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
        tap: Tap::new(cancel.clone()),
    };
    let upkeep = tokio::spawn(keep_metrics(metrics.clone(), shared.status.clone()));
    let origin = Origin {
        hub_text: std::fs::read(&hub_path).unwrap_or_default(),
        hub_path,
        paths: hub.paths.clone(),
        ingest_listen: hub.ingest.listen.clone(),
        exchange: hub.broker.exchange.clone(),
        replay_max_attempts: hub.delivery.replay_max_attempts,
    };
    let tracker = TaskTracker::new();
    let mut fleet = Fleet::new(shared.clone(), origin, cancel.clone(), tracker.clone());
    let running = fleet.start(connectors, &schemas).await?;
    let (control, requests) = Control::channel();
    let view = Admin {
        status: shared.status.clone(),
        connectors: fleet.listing(),
        broker: shared.publisher.watch_state(),
        store: store.clone(),
        control: control.clone(),
        metrics,
        tap: shared.tap.clone(),
    };
    drop(shared);
    tracker.spawn(admin::serve(admin, view, cancel.clone()));
    triggers::spawn(&tracker, &hub.paths, options, control, cancel.clone());
    tracing::info!(connectors = running, "hub running");
    fleet.serve(requests).await;
    tracker.close();
    tracker.wait().await;
    let _ = publisher_task.await;
    pruning.abort();
    upkeep.abort();
    if let Err(e) = store.write(|_| Ok(())).await {
        tracing::warn!(error = %e, "the state store's last writes may not have landed");
    }
    tracing::info!("hub stopped");
    Ok(())
}

/// How often the metrics recorder is tidied and the connectors' totals sampled.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Drains the recorder's histogram samples (which otherwise pile up between scrapes) and samples
/// every connector's totals for its recent rates, every [`UPKEEP_EVERY`].
async fn keep_metrics(metrics: PrometheusHandle, status: Registry) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        metrics.run_upkeep();
        let minute = telemetry::minute_now();
        for handle in status.handles() {
            handle.activity().sample(minute);
        }
    }
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
