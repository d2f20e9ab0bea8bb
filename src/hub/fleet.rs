//! The running connectors, by id. The fleet starts each under supervision, pauses, resumes and
//! wakes them on request, and applies a reload: it stops the removed and changed connectors
//! (their in-flight work finished or kept, as at shutdown), then starts the added and changed
//! ones, and leaves every other connector running untouched.

use super::control::{Command, ControlError, Done, Reloaded, Request};
use super::fingerprint::Fingerprint;
use super::replay::{self, Replayed};
use super::supervise::{Mapped, supervise};
use super::{HubError, Shared};
use crate::canonical::schema::Schemas;
use crate::check;
use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::config::hub::PathsConfig;
use crate::config::load;
use crate::connector::http_push::listener::{self, ListenError};
use crate::connector::status::Phase;
use crate::mapping::Mapping;
use crate::ops::dlq::{ReplayOptions, Via};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The running connectors' specs, in id order, as the admin API lists them.
pub type Listing = Arc<Vec<Arc<ConnectorSpec>>>;

/// One connector the hub runs (or holds paused).
struct Slot {
    spec: Arc<ConnectorSpec>,
    mapped: Mapped,
    fingerprint: Fingerprint,
    /// Rung by poll-now.
    wake: Arc<Notify>,
    /// `None` while paused.
    running: Option<Running>,
}

/// A connector's supervised task and the token that stops it.
struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops the connector and waits until its in-flight work is settled or kept.
    async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// The ingest listener for `http_push` connectors: bound once the first one starts.
enum IngestListener {
    Unbound(String),
    Serving,
}

/// Where the fleet reads its configuration, and what it started from.
pub(super) struct Origin {
    pub hub_path: PathBuf,
    /// The hub file's bytes when the hub started: a reload warns when they changed.
    pub hub_text: Vec<u8>,
    pub paths: PathsConfig,
    pub ingest_listen: String,
    /// The exchange events go to (named when a replay's events are not confirmed).
    pub exchange: String,
    /// `[delivery] replay_max_attempts`: replay's loop guard.
    pub replay_max_attempts: u32,
}

pub(super) struct Fleet {
    shared: Shared,
    origin: Origin,
    cancel: CancellationToken,
    tracker: TaskTracker,
    slots: BTreeMap<String, Slot>,
    listing: watch::Sender<Listing>,
    ingest: IngestListener,
}

impl Fleet {
    pub(super) fn new(
        shared: Shared,
        origin: Origin,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let ingest = IngestListener::Unbound(origin.ingest_listen.clone());
        Self {
            shared,
            origin,
            cancel,
            tracker,
            slots: BTreeMap::new(),
            listing: watch::Sender::new(Arc::new(Vec::new())),
            ingest,
        }
    }

    /// Follows the running connectors' specs.
    pub(super) fn listing(&self) -> watch::Receiver<Listing> {
        self.listing.subscribe()
    }

    /// Starts `connectors`; one whose mapping does not load is logged and left out, so the others
    /// run. Returns how many started.
    pub(super) async fn start(
        &mut self,
        connectors: Vec<ConnectorSpec>,
        schemas: &Schemas,
    ) -> Result<usize, HubError> {
        let mut slots = Vec::new();
        for spec in connectors {
            match self.slot(spec, schemas) {
                Ok(slot) => slots.push(slot),
                Err((id, problem)) => {
                    tracing::error!(connector = %id, "connector not started; {problem}");
                }
            }
        }
        if slots.iter().any(pushes) {
            self.ensure_ingest().await?;
        }
        let started = slots.len();
        for slot in slots {
            self.launch(slot);
        }
        self.publish_listing();
        Ok(started)
    }

    /// Serves requests until the hub is cancelled, then waits for every connector to stop.
    pub(super) async fn serve(mut self, mut requests: mpsc::Receiver<Request>) {
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => break,
                request = requests.recv() => {
                    let Some(Request { command, reply }) = request else { break };
                    let answer = self.handle(command).await;
                    let _ = reply.send(answer);
                }
            }
        }
        drop(requests);
        for (_, slot) in std::mem::take(&mut self.slots) {
            if let Some(running) = slot.running {
                let _ = running.task.await;
            }
        }
    }

    async fn handle(&mut self, command: Command) -> Result<Done, ControlError> {
        match command {
            Command::Pause(id) => self.pause(&id).await,
            Command::Resume(id) => self.resume(&id),
            Command::PollNow(id) => self.poll_now(&id),
            Command::Reload => {
                let reloaded = self.reload().await;
                if let Err(e) = &reloaded {
                    tracing::error!("reload refused: {e}");
                }
                reloaded.map(Done::Reloaded)
            }
            Command::Replay {
                filter,
                force,
                dry_run,
            } => {
                let options = ReplayOptions {
                    filter,
                    dry_run,
                    force,
                    max_attempts: self.origin.replay_max_attempts,
                };
                self.replay(&options).await.map(Done::Replayed)
            }
        }
    }

    /// Replays dead letters with the connectors' running mappings, through the hub's publisher;
    /// other requests wait until it is done.
    async fn replay(&self, options: &ReplayOptions) -> Result<Replayed, ControlError> {
        let running = self
            .slots
            .values()
            .map(|slot| (Arc::clone(&slot.spec), slot.to_launch().mapped))
            .collect();
        let via = Via::Hub {
            publisher: self.shared.publisher.clone(),
            exchange: self.origin.exchange.clone(),
        };
        replay::replay(&self.shared.store, running, via, options).await
    }

    fn slot_mut(&mut self, id: &str) -> Result<&mut Slot, ControlError> {
        self.slots
            .get_mut(id)
            .ok_or_else(|| ControlError::NoSuchConnector(id.to_string()))
    }

    fn answer(&self, id: &str) -> Done {
        Done::Connector {
            id: id.to_string(),
            state: self.shared.status.handle(id).get().phase.as_str(),
        }
    }

    async fn pause(&mut self, id: &str) -> Result<Done, ControlError> {
        let running = self.slot_mut(id)?.running.take();
        if let Some(running) = running {
            tracing::info!(connector = %id, "pausing: finishing or keeping in-flight work");
            running.stop().await;
            tracing::info!(connector = %id, "connector paused");
        }
        self.shared.status.handle(id).phase(Phase::Paused);
        Ok(self.answer(id))
    }

    fn resume(&mut self, id: &str) -> Result<Done, ControlError> {
        let slot = self.slot_mut(id)?;
        if slot.running.is_none() {
            let launch = slot.to_launch();
            self.shared.status.handle(id).phase(Phase::Starting);
            let running = self.run(launch);
            if let Some(slot) = self.slots.get_mut(id) {
                slot.running = Some(running);
            }
            tracing::info!(connector = %id, "connector resumed");
        }
        Ok(self.answer(id))
    }

    fn poll_now(&mut self, id: &str) -> Result<Done, ControlError> {
        let slot = self.slot_mut(id)?;
        let source = &slot.spec.source;
        if !matches!(
            source,
            SourceSpec::File(_) | SourceSpec::HttpPoll(_) | SourceSpec::Sql(_)
        ) {
            return Err(ControlError::NotPolling {
                id: id.to_string(),
                kind: source.kind(),
            });
        }
        if slot.running.is_none() {
            return Err(ControlError::Paused(id.to_string()));
        }
        slot.wake.notify_one();
        tracing::info!(connector = %id, "poll now");
        Ok(self.answer(id))
    }

    /// Re-reads the configuration; refuses it whole when `omnibus check` finds a problem.
    async fn reload(&mut self) -> Result<Reloaded, ControlError> {
        let hub_path = self.origin.hub_path.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let report = check::check(&hub_path);
            match report.problems.is_empty() {
                true => load::load(&hub_path).map_err(|d| lines(&d.to_string())),
                false => Err(report.problems),
            }
        })
        .await
        .map_err(|e| ControlError::Rejected(vec![e.to_string()]))?;
        let files = checked.map_err(ControlError::Rejected)?;
        let schemas = Schemas::load(&self.origin.paths.schemas).map_err(ControlError::Rejected)?;
        let mut fresh = Vec::new();
        for spec in files.connectors {
            fresh.push(
                self.slot(spec, &schemas).map_err(|(id, p)| {
                    ControlError::Rejected(vec![format!("connector {id}: {p}")])
                })?,
            );
        }
        if fresh.iter().any(pushes) {
            self.ensure_ingest()
                .await
                .map_err(|e| ControlError::Rejected(vec![e.to_string()]))?;
        }
        let mut reloaded = self.apply(fresh).await;
        if std::fs::read(&self.origin.hub_path).ok().as_ref() != Some(&self.origin.hub_text) {
            reloaded.warnings.push(format!(
                "{} changed: its settings (broker, state, listeners, paths) apply at the next restart; connectors and mappings were reloaded",
                self.origin.hub_path.display()
            ));
        }
        tracing::info!(added = ?reloaded.added, changed = ?reloaded.changed, removed = ?reloaded.removed, unchanged = reloaded.unchanged, "configuration reloaded");
        Ok(reloaded)
    }

    /// Replaces the running connectors with `fresh`, restarting only what changed.
    async fn apply(&mut self, fresh: Vec<Slot>) -> Reloaded {
        let mut reloaded = Reloaded::default();
        let mut kept = BTreeMap::new();
        let mut start = Vec::new();
        let mut old = std::mem::take(&mut self.slots);
        for slot in fresh {
            let id = slot.spec.id.clone();
            match old.remove(&id) {
                Some(current) if current.fingerprint == slot.fingerprint => {
                    reloaded.unchanged += 1;
                    kept.insert(id, current);
                }
                Some(current) => {
                    let paused = current.running.is_none();
                    if let Some(running) = current.running {
                        running.stop().await;
                    }
                    reloaded.changed.push(id);
                    start.push((slot, paused));
                }
                None => {
                    reloaded.added.push(id);
                    start.push((slot, false));
                }
            }
        }
        for (id, slot) in old {
            if let Some(running) = slot.running {
                running.stop().await;
            }
            tracing::info!(connector = %id, "connector removed");
            reloaded.removed.push(id);
        }
        self.slots = kept;
        for (slot, paused) in start {
            match paused {
                true => {
                    self.slots.insert(slot.spec.id.clone(), slot);
                }
                false => self.launch(slot),
            }
        }
        self.publish_listing();
        reloaded
    }

    /// Loads `spec`'s mapping and schema: a slot ready to launch, or its id and the problem.
    fn slot(&self, spec: ConnectorSpec, schemas: &Schemas) -> Result<Slot, (String, String)> {
        let paths = &self.origin.paths;
        match Mapping::load_checked(&paths.mappings, &spec.mapping, schemas) {
            Ok((mapping, schema)) => Ok(Slot {
                fingerprint: Fingerprint::of(&spec, &mapping, &paths.schemas),
                spec: Arc::new(spec),
                mapped: (Arc::new(mapping), schema),
                wake: Arc::new(Notify::new()),
                running: None,
            }),
            Err(problem) => Err((spec.id, problem)),
        }
    }

    /// Starts `slot`'s connector and keeps the slot.
    fn launch(&mut self, mut slot: Slot) {
        slot.running = Some(self.run(slot.to_launch()));
        self.slots.insert(slot.spec.id.clone(), slot);
    }

    /// Spawns a supervised connector.
    fn run(&self, launch: Launch) -> Running {
        let Launch { spec, mapped, wake } = launch;
        let cancel = self.cancel.child_token();
        let task = self.tracker.spawn(supervise(
            spec,
            mapped,
            self.shared.clone(),
            wake,
            cancel.clone(),
        ));
        Running { cancel, task }
    }

    /// Binds and serves the ingest listener, unless it already is.
    async fn ensure_ingest(&mut self) -> Result<(), ListenError> {
        if let IngestListener::Unbound(address) = &self.ingest {
            let bound = listener::bind(address).await?;
            let routes = self.shared.routes.clone();
            self.tracker
                .spawn(listener::serve(bound, routes, self.cancel.clone()));
            self.ingest = IngestListener::Serving;
        }
        Ok(())
    }

    fn publish_listing(&self) {
        let specs = self.slots.values().map(|s| Arc::clone(&s.spec)).collect();
        self.listing.send_replace(Arc::new(specs));
    }
}

/// What launching a slot's connector takes.
struct Launch {
    spec: Arc<ConnectorSpec>,
    mapped: Mapped,
    wake: Arc<Notify>,
}

impl Slot {
    fn to_launch(&self) -> Launch {
        Launch {
            spec: Arc::clone(&self.spec),
            mapped: (Arc::clone(&self.mapped.0), Arc::clone(&self.mapped.1)),
            wake: Arc::clone(&self.wake),
        }
    }
}

fn pushes(slot: &Slot) -> bool {
    matches!(slot.spec.source, SourceSpec::HttpPush(_))
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}
