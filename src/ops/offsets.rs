//! `omnibus offsets`: what each connector has taken — the file ledger, the positions (cursors and
//! watermarks) and the messages waiting in the outbox — and resetting a connector's, which is
//! refused while a hub holds the state dir's lock (it would overwrite the change).

use super::{OpsError, hub_config, open_store, table, time};
use crate::state::ledger::{self, Entry};
use crate::state::positions::{self, Position};
use crate::state::{HubLock, LockError, Store, outbox};
use std::fmt::Write;
use std::path::Path;

/// The position `--to` sets when no `--name` is given.
pub const DEFAULT_POSITION: &str = "watermark";
/// Hex digits of a content hash shown in the table.
const SHORT_HASH: usize = 16;

/// Everything the state store holds about the connectors' progress.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Offsets {
    pub files: Vec<Entry>,
    pub positions: Vec<Position>,
    pub outbox: Vec<Queued>,
}

/// Messages waiting in the outbox for one connector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Queued {
    pub connector: String,
    pub messages: u64,
}

/// What `offsets reset` does to a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Forget its file ledger and positions: files dropped again are new.
    Forget,
    /// Set one position.
    Set { name: String, value: String },
}

/// What `offsets reset` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetDone {
    Forgot { files: usize, positions: usize },
    Set { name: String, value: String },
}

/// The offsets of every connector, or of one.
pub fn show(config: &Path, connector: Option<&str>) -> Result<Offsets, OpsError> {
    let store = open_store(config)?;
    Ok(store.read_blocking(|c| {
        let outbox = outbox::per_connector(c)?
            .into_iter()
            .filter(|(id, _)| connector.is_none_or(|wanted| wanted == id.as_str()))
            .map(|(connector, messages)| Queued {
                connector,
                messages,
            })
            .collect();
        Ok(Offsets {
            files: ledger::list(c, connector)?,
            positions: positions::list(c, connector)?,
            outbox,
        })
    })?)
}

/// Resets a connector's offsets, holding the hub's lock meanwhile; refused while a hub runs.
pub fn reset(config: &Path, connector: &str, reset: Reset) -> Result<ResetDone, OpsError> {
    let dir = hub_config(config)?.state.dir;
    let _lock = HubLock::acquire(&dir).map_err(|e| match e {
        LockError::Held { dir, pid } => OpsError::HubRunning {
            dir,
            pid,
            connector: connector.to_string(),
        },
        other => OpsError::Lock(other),
    })?;
    let store = Store::open(&dir)?;
    let connector = connector.to_string();
    let done = store.write_blocking(move |c| match reset {
        Reset::Forget => Ok(ResetDone::Forgot {
            files: ledger::forget(c, &connector)?,
            positions: positions::forget(c, &connector)?,
        }),
        Reset::Set { name, value } => {
            positions::set(c, &connector, &name, &value)?;
            Ok(ResetDone::Set { name, value })
        }
    })?;
    Ok(done)
}

/// The `offsets show` tables.
pub fn render(offsets: &Offsets) -> String {
    let mut out = String::from("files:\n");
    let files: Vec<Vec<String>> = offsets.files.iter().map(file_row).collect();
    out.push_str(&or_none(&files, |rows| {
        let headers = [
            "connector",
            "state",
            "rows_done",
            "published/failed",
            "hash",
            "updated",
            "path",
        ];
        table(&headers, rows)
    }));
    out.push_str("\npositions:\n");
    let positions: Vec<Vec<String>> = offsets
        .positions
        .iter()
        .map(|p| {
            vec![
                p.connector.clone(),
                p.name.clone(),
                p.value.clone(),
                time(p.updated),
            ]
        })
        .collect();
    out.push_str(&or_none(&positions, |rows| {
        table(&["connector", "name", "value", "updated"], rows)
    }));
    out.push_str("\noutbox:\n");
    let queued: Vec<Vec<String>> = offsets
        .outbox
        .iter()
        .map(|q| vec![q.connector.clone(), q.messages.to_string()])
        .collect();
    out.push_str(&or_none(&queued, |rows| {
        table(&["connector", "messages"], rows)
    }));
    out
}

fn file_row(f: &Entry) -> Vec<String> {
    vec![
        f.connector.clone(),
        f.state.clone(),
        f.rows_done.to_string(),
        format!("{}/{}", f.published, f.failed),
        f.hash.chars().take(SHORT_HASH).collect(),
        time(f.updated),
        f.path.clone(),
    ]
}

fn or_none(rows: &[Vec<String>], render: impl FnOnce(&[Vec<String>]) -> String) -> String {
    if rows.is_empty() {
        "  (none)\n".to_string()
    } else {
        render(rows)
    }
}

/// The line `offsets reset` prints.
pub fn render_reset(connector: &str, done: &ResetDone) -> String {
    let mut out = String::new();
    let _ = match done {
        ResetDone::Forgot { files, positions } => write!(
            out,
            "connector {connector}: forgot {files} file(s) and {positions} position(s); files \
             dropped again are taken as new"
        ),
        ResetDone::Set { name, value } => {
            write!(out, "connector {connector}: position {name} set to {value}")
        }
    };
    out
}
