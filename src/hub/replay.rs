//! Dead-letter replay inside the running hub (`POST /api/dead-letters/replay`): the same replay as
//! `omnibus dlq replay` ([`crate::ops::dlq`]), with each connector's running mapping (as loaded at
//! start or by the last reload) and the hub's publisher, and an account of every letter that
//! failed again or was skipped.

use super::ControlError;
use super::supervise::Mapped;
use crate::config::connector::ConnectorSpec;
use crate::delivery::replay::Replayer;
use crate::ops::OpsError;
use crate::ops::dlq::{self, Observer, Outcome, ReplayOptions, ReplaySummary, Replayers, Via};
use crate::state::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Replayed {
    #[serde(flatten)]
    pub summary: ReplaySummary,
    /// The letters whose record failed again, with the new error.
    pub failed_again: Vec<Again>,
    /// The letters skipped by the loop guard (`force` replays them).
    pub skipped_ids: Vec<i64>,
}

/// A letter that failed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Again {
    pub id: i64,
    pub connector: String,
    pub stage: String,
    pub error: String,
}

/// The running connectors' specs and mappings, by connector id.
struct Running(HashMap<String, (Arc<ConnectorSpec>, Mapped)>);

impl Replayers for Running {
    fn replayer(&self, connector: &str) -> Result<Replayer, OpsError> {
        let problem = |reason: String| OpsError::Connector {
            connector: connector.to_string(),
            reason,
        };
        let (spec, (mapping, schema)) = self
            .0
            .get(connector)
            .ok_or_else(|| problem("the hub runs no such connector".to_string()))?;
        Replayer::new(spec, Arc::clone(mapping), Some(Arc::clone(schema)))
            .map_err(|e| problem(e.to_string()))
    }
}

impl Observer for Replayed {
    fn begin(&mut self, _total: u64) {}

    fn outcome(&mut self, outcome: Outcome<'_>) {
        match outcome {
            Outcome::Failing { letter, failure } => self.failed_again.push(Again {
                id: letter.id,
                connector: letter.connector.clone(),
                stage: failure.stage.to_string(),
                error: failure.reason.clone(),
            }),
            Outcome::Skipped { letter } => self.skipped_ids.push(letter.id),
            Outcome::Replayed | Outcome::Filtered => {}
        }
    }

    fn end(&mut self) {}
}

/// Replays the open letters `options` select with the `running` connectors' mappings, through
/// `via` (the hub's publisher).
pub(super) async fn replay(
    store: &Store,
    running: Vec<(Arc<ConnectorSpec>, Mapped)>,
    via: Via,
    options: &ReplayOptions,
) -> Result<Replayed, ControlError> {
    let running = Running(
        running
            .into_iter()
            .map(|(spec, mapped)| (spec.id.clone(), (spec, mapped)))
            .collect(),
    );
    let mut replayed = Replayed::default();
    let summary = dlq::replay_with(store, &running, via, options, &mut replayed)
        .await
        .map_err(|e| match e {
            OpsError::Connector { .. } => ControlError::CannotReplay(e.to_string()),
            e => ControlError::ReplayStopped(e.to_string()),
        })?;
    replayed.summary = summary;
    Ok(replayed)
}
