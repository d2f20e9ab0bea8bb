//! The file-drop connector (`[source] type = "file"`): watches a folder (inotify through `notify`,
//! backed by a periodic rescan that is the source of truth, since notifications miss writes made
//! from other hosts on network shares), takes each complete file, publishes its records, and only
//! once every record is confirmed or dead-lettered moves it to `done/` (or `error/`) or deletes it.

mod finish;
mod process;
mod scan;

pub use finish::{Finished, Tally};
pub use process::{FileError, FileJob};
pub use scan::Scanner;

use crate::config::connector::{ConnectorSpec, FileSourceSpec};
use crate::connector::emit::Emitter;
use crate::mapping::Mapping;
use crate::route::Publisher;
use notify::{RecursiveMode, Watcher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A running file-drop connector.
pub struct FileDrop {
    pub spec: Arc<ConnectorSpec>,
    pub source: FileSourceSpec,
    pub mapping: Arc<Mapping>,
    pub emitter: Emitter,
    pub publisher: Publisher,
}

impl FileDrop {
    /// Runs until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), globset::Error> {
        let id = self.spec.id.clone();
        let mut scanner = Scanner::new(&self.source)?;
        let (_watcher, mut changed) = watch(&self.source.path, &id);
        let job = FileJob {
            format: &self.spec.format,
            mapping: &self.mapping,
            emitter: &self.emitter,
            publisher: &self.publisher,
            cancel: &cancel,
        };
        tracing::info!(connector = %id, dir = %self.source.path.display(), glob = %self.source.glob, "watching folder");
        while !cancel.is_cancelled() {
            let scan = scanner.scan(&id);
            for path in scan.ready {
                if cancel.is_cancelled() {
                    break;
                }
                self.take(&job, &mut scanner, &path).await;
            }
            let wait = scan
                .next_settle
                .map_or(self.source.rescan, |at| {
                    at.saturating_duration_since(tokio::time::Instant::now())
                        .min(self.source.rescan)
                })
                .max(Duration::from_millis(20));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                Some(()) = changed.recv() => {}
            }
        }
        tracing::info!(connector = %id, "connector stopped");
        Ok(())
    }

    /// Processes one file and finishes it, or leaves it in place with a clear log line.
    async fn take(&self, job: &FileJob<'_>, scanner: &mut Scanner, path: &Path) {
        let id = &self.spec.id;
        let file = path.display().to_string();
        tracing::info!(connector = %id, %file, "taking file");
        let tally = match job.run(path).await {
            Ok(tally) => tally,
            Err(FileError::Unusable { reason, .. }) => {
                tracing::error!(connector = %id, %file, %reason, "file does not fit the connector; moving it to error/");
                let mut tally = Tally::default();
                tally.failure(&whole_file(id, &file), &reason);
                tally
            }
            Err(e @ FileError::Read { .. }) => {
                tracing::error!(connector = %id, error = %e, "file left in place; retried once it changes");
                scanner.mark_failed(path);
                return;
            }
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "file left in place");
                return;
            }
        };
        let marker = scanner.marker_of(path);
        match finish::finish(path, marker.as_deref(), self.source.after, &tally) {
            Ok(finished) => {
                scanner.taken(path);
                tracing::info!(connector = %id, %file, published = tally.published, failed = tally.failed, filtered = tally.filtered, to = ?finished, "file done");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                scanner.taken(path);
                tracing::warn!(connector = %id, %file, "file vanished before it could be moved; its records were all delivered");
            }
            Err(e) => {
                scanner.mark_failed(path);
                tracing::error!(connector = %id, %file, error = %e, "records delivered but the file could not be moved; fix the folder's permissions (it would be read again otherwise)");
            }
        }
    }
}

/// The origin used in the report when a whole file fails.
fn whole_file(connector: &str, file: &str) -> crate::format::record::Origin {
    crate::format::record::Origin {
        connector: connector.into(),
        file: file.into(),
        line: 1,
        offset: 0,
    }
}

/// Watches `dir` for changes; a failure to watch is logged and the rescan carries on alone.
fn watch(dir: &Path, connector: &str) -> (Option<notify::RecommendedWatcher>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel(1);
    let watcher = notify::recommended_watcher(move |_event| {
        let _ = tx.try_send(());
    })
    .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w));
    match watcher {
        Ok(w) => (Some(w), rx),
        Err(e) => {
            tracing::warn!(connector, dir = %dir.display(), error = %e, "cannot watch the folder; relying on the periodic rescan");
            (None, rx)
        }
    }
}
