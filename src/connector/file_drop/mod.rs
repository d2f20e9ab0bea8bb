//! The file-drop connector (`[source] type = "file"`): watches a folder (inotify through `notify`,
//! backed by a periodic rescan that is the source of truth, since notifications miss writes made
//! from other hosts on network shares), takes each complete file, publishes its records, and only
//! once every record is confirmed or dead-lettered moves it to `done/` (or `error/`) or deletes it.

mod finish;
mod scan;

pub use finish::Finished;
pub use scan::Scanner;

use crate::config::connector::{FileSourceSpec, OnDuplicate};
use crate::connector::ingest::{Ingest, IngestError, Pipeline};
use crate::connector::status::Phase;
use crate::connector::tally::Tally;
use crate::state::ledger::{self, FileKey, Seen};
use notify::{RecursiveMode, Watcher};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A running file-drop connector.
pub struct FileDrop {
    pub pipeline: Pipeline,
    pub source: FileSourceSpec,
}

impl FileDrop {
    /// Runs until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), globset::Error> {
        let id = self.pipeline.spec.id.clone();
        let mut scanner = Scanner::new(&self.source)?;
        create_missing(&self.source.path, &id);
        let (_watcher, mut changed) = watch(&self.source.path, &id);
        let job = self.pipeline.ingest(&cancel);
        tracing::info!(connector = %id, dir = %self.source.path.display(), glob = %self.source.glob, "watching folder");
        self.pipeline.status.phase(Phase::Connected);
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
                () = self.pipeline.wake.notified() => {}
            }
        }
        tracing::info!(connector = %id, "connector stopped");
        Ok(())
    }

    /// Processes one file and finishes it, or leaves it in place with a clear log line.
    async fn take(&self, job: &Ingest<'_>, scanner: &mut Scanner, path: &Path) {
        let id = &self.pipeline.spec.id;
        let file = path.display().to_string();
        let key = match self.identify(path).await {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(connector = %id, %file, error = %e, "file left in place; retried once it changes");
                scanner.mark_failed(path);
                return;
            }
        };
        let Some(resume) = self.admit(&key, &file, path, scanner).await else {
            return;
        };
        tracing::info!(connector = %id, %file, resume, "taking file");
        let tally = match job
            .run(path, &key, resume, self.source.max_inflated_bytes)
            .await
        {
            Ok(tally) => tally,

            Err(e @ IngestError::Read { .. }) => {
                tracing::error!(connector = %id, error = %e, "file left in place; retried once it changes");
                self.pipeline.status.error(&e.to_string());
                scanner.mark_failed(path);
                return;
            }
            Err(e @ IngestError::Store(_)) => {
                tracing::error!(connector = %id, %file, error = %e, "STATE STORE FAILING: file left in place and not acknowledged; retried on the next scan");
                self.pipeline.status.error(&e.to_string());
                return;
            }
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "file left in place");
                return;
            }
        };
        if let Some(reason) = &tally.refused {
            tracing::error!(connector = %id, %file, %reason, published = tally.published, "file does not fit the connector; moving it to error/ with a report");
            self.pipeline.status.error(&format!("{file}: {reason}"));
        }
        let rows = resume + tally.rows();
        let (published, failed, refused) = (tally.published, tally.failed, tally.refused.is_some());
        let ledger_key = key.clone();
        let recorded = self
            .pipeline
            .store
            .write(move |conn| {
                if refused {
                    ledger::forget_file(conn, &ledger_key)
                } else {
                    ledger::finish(conn, &ledger_key, rows, published, failed)
                }
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(connector = %id, %file, error = %e, "STATE STORE FAILING: every record was delivered, but the file stays until the ledger can record it");
            return;
        }
        self.finish(scanner, path, &tally);
    }

    /// Hashes the file's content (on a blocking thread).
    async fn identify(&self, path: &Path) -> std::io::Result<FileKey> {
        let (connector, path) = (self.pipeline.spec.id.clone(), path.to_path_buf());
        tokio::task::spawn_blocking(move || FileKey::of_file(&connector, &path))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Looks the file up in the ledger and records that it is being taken; returns how many items
    /// an earlier run settled, or `None` when the file is not to be processed now.
    async fn admit(
        &self,
        key: &FileKey,
        file: &str,
        path: &Path,
        scanner: &mut Scanner,
    ) -> Option<u64> {
        let id = &self.pipeline.spec.id;
        let lookup_key = key.clone();
        let seen = match self
            .pipeline
            .store
            .read(move |c| ledger::lookup(c, &lookup_key))
            .await
        {
            Ok(seen) => seen,
            Err(e) => {
                tracing::error!(connector = %id, %file, error = %e, "STATE STORE FAILING: file left in place; retried on the next scan");
                return None;
            }
        };
        let resume = match seen {
            Seen::Done { path: was, updated } if self.source.on_duplicate == OnDuplicate::Skip => {
                let when = chrono::DateTime::from_timestamp(updated, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                tracing::warn!(connector = %id, %file, first = %was, at = %when, "identical content was already processed; skipping it (on_duplicate = \"reprocess\" processes it again)");
                self.finish(scanner, path, &Tally::default());
                return None;
            }
            Seen::Active { rows_done } => rows_done,
            Seen::Done { .. } | Seen::New => 0,
        };
        let (begin_key, begin_file) = (key.clone(), file.to_string());
        match self
            .pipeline
            .store
            .write(move |c| ledger::begin(c, &begin_key, &begin_file))
            .await
        {
            Ok(()) => Some(resume),
            Err(e) => {
                tracing::error!(connector = %id, %file, error = %e, "STATE STORE FAILING: file left in place and not acknowledged; retried on the next scan");
                None
            }
        }
    }

    /// Moves (or deletes) a settled file and its marker.
    fn finish(&self, scanner: &mut Scanner, path: &Path, tally: &Tally) {
        let id = &self.pipeline.spec.id;
        let file = path.display().to_string();
        let marker = scanner.marker_of(path);
        match finish::finish(path, marker.as_deref(), self.source.after, tally) {
            Ok(finished) => {
                scanner.taken(path);
                self.pipeline.status.success();
                tracing::info!(connector = %id, %file, published = tally.published, failed = tally.failed, filtered = tally.filtered, duplicates = tally.duplicates, to = ?finished, "file done");
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

/// Creates a drop folder that does not exist yet, so the legacy system can drop into it and the
/// folder can be watched from the start (as Camel's `autoCreate`). A folder that cannot be made is
/// left to the scan, which logs it and retries.
fn create_missing(dir: &Path, connector: &str) {
    if dir.exists() {
        return;
    }
    match std::fs::create_dir_all(dir) {
        Ok(()) => {
            tracing::info!(connector, dir = %dir.display(), "created the missing drop folder")
        }
        Err(e) => {
            tracing::warn!(connector, dir = %dir.display(), error = %e, "the drop folder does not exist and cannot be created; create it or fix [source] path")
        }
    }
}

/// Watches `dir` for changes (not mere reads); a failure to watch is logged and the rescan carries
/// on alone.
fn watch(dir: &Path, connector: &str) -> (Option<notify::RecommendedWatcher>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Opening and reading a file (the hub's own hashing and decoding) is no reason to rescan.
        let access = matches!(&event, Ok(e) if matches!(e.kind, notify::EventKind::Access(_)));
        if !access {
            let _ = tx.try_send(());
        }
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
