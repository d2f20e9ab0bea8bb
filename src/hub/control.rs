//! What ops can ask of a running hub — pause, resume or poll a connector now, reload the
//! connectors and mappings, replay dead letters — and [`Control`], the handle the admin API, SIGHUP and `--watch` send
//! those requests through. The hub's fleet ([`super::fleet`]) carries them out one at a time and
//! answers each.

use super::replay::Replayed;
use crate::state::dead_letters::Filter;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// A request to the running hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Stop taking input (in-flight work is finished or kept first) until resumed.
    Pause(String),
    Resume(String),
    /// Poll (or rescan the folder) now instead of at the next scheduled time.
    PollNow(String),
    /// Re-read the connectors and mappings; restart only the changed connectors.
    Reload,
    /// Replay the open dead letters `filter` selects with the running mappings; `force` replays
    /// letters past `[delivery] replay_max_attempts` too; `dry_run` maps them without publishing or
    /// changing anything.
    Replay {
        filter: Filter,
        force: bool,
        dry_run: bool,
    },
}

/// What the hub did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Done {
    /// A connector's state after pause, resume or poll-now.
    Connector {
        id: String,
        state: &'static str,
    },
    Reloaded(Reloaded),
    Replayed(Replayed),
}

/// What a reload changed, by connector id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reloaded {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Connectors left running as they were.
    pub unchanged: usize,
    /// What the reload could not apply (a changed hub file needs a restart).
    pub warnings: Vec<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no connector \"{0}\"")]
    NoSuchConnector(String),
    #[error(
        "connector \"{id}\" reads a {kind} source, which pushes input to the hub; only file, http_poll and sql connectors poll"
    )]
    NotPolling { id: String, kind: &'static str },
    #[error("connector \"{0}\" is paused; resume it first")]
    Paused(String),
    /// The new configuration fails `omnibus check`; the running one stays.
    #[error("the new configuration has errors; the running one stays:\n{}", .0.join("\n"))]
    Rejected(Vec<String>),
    /// A letter's connector is not running, or its mapping cannot be used; nothing was replayed.
    #[error("{0}")]
    CannotReplay(String),
    /// Replay stopped part way (the broker went away, the state store failed).
    #[error("{0}")]
    ReplayStopped(String),
    #[error("the hub is stopping")]
    Stopping,
}

/// A request and where its answer goes.
pub(super) struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Result<Done, ControlError>>,
}

/// Sends requests to the running hub.
#[derive(Debug, Clone)]
pub struct Control {
    tx: mpsc::Sender<Request>,
}

impl Control {
    /// A handle and the receiving end the fleet serves.
    pub(super) fn channel() -> (Self, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::channel(16);
        (Self { tx }, rx)
    }

    /// A handle to no hub: every request answers [`ControlError::Stopping`].
    #[cfg(test)]
    pub(crate) fn detached() -> Self {
        Self::channel().0
    }

    /// Sends `command` and waits for the hub's answer.
    pub async fn send(&self, command: Command) -> Result<Done, ControlError> {
        let (reply, answer) = oneshot::channel();
        let request = Request { command, reply };
        self.tx
            .send(request)
            .await
            .map_err(|_| ControlError::Stopping)?;
        answer.await.map_err(|_| ControlError::Stopping)?
    }
}
