//! Processing one complete file: decode it on a blocking thread, map each record, publish each
//! event (or dead-letter each bad record), and wait until every one is settled before the file may
//! be finished.

use super::finish::Tally;
use crate::canonical::Event;
use crate::canonical::event::EventTime;
use crate::config::connector::FormatSpec;
use crate::connector::emit::Emitter;
use crate::delivery::ack::{Batch, BatchOutcome, Settlement};
use crate::delivery::dead_letter::{DeadLetter, Stage};
use crate::delivery::replay;
use crate::format::record::{Columns, Origin, Record};
use crate::format::{self, DecodeError};
use crate::mapping::{Binder, BoundMapping, Mapping};
use crate::route::{Outgoing, Publisher};
use crate::state::ledger::{self, FileKey};
use crate::state::{Store, dead_letters, dedupe};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records handed from the decoding thread at a time.
const CHUNK: usize = 256;
/// Chunks buffered between the decoding thread and the mapper.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Why a file could not be taken this time.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading the file failed; it stays and is retried once it changes.
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    /// The file as a whole does not fit the connector (header, columns, an oversized record at
    /// `line`); it goes to `error/`.
    #[error("{file}:{line}: {reason}")]
    Unusable {
        file: String,
        line: u64,
        reason: String,
    },
    /// The publisher stopped (the hub is shutting down) before every event was handed over.
    #[error("the hub is stopping; the file stays and is read again")]
    Stopped,
    /// Some event was not settled (the hub is stopping): the file stays for the next run, which
    /// resumes after the first `done` items.
    #[error(
        "{file}: stopped after {done} settled record(s); the file stays and resumes from there"
    )]
    Unsettled { file: String, done: u64 },
    /// The state store cannot commit: nothing more is acknowledged until it can.
    #[error("state store: {0}")]
    Store(String),
}

/// The parts of a connector that processing a file needs.
pub struct FileJob<'a> {
    pub format: &'a FormatSpec,
    pub mapping: &'a Mapping,
    pub emitter: &'a Emitter,
    pub publisher: &'a Publisher,
    pub store: &'a Store,
    /// Check each event against the dedupe window before publishing it.
    pub dedupe: bool,
    pub cancel: &'a CancellationToken,
}

/// How often a file's progress is saved while it is processed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// One decoded item, ready to publish.
enum Prepared {
    Event(Event),
    Letter(DeadLetter),
    Filtered,
}

/// The state of one file's run.
struct Run<'j> {
    key: &'j FileKey,
    batch: Batch,
    tally: Tally,
    time: EventTime,
    last_checkpoint: Instant,
}

impl FileJob<'_> {
    /// Publishes every record of `path` after the first `resume` items (settled by an earlier
    /// run); returns the tally once all are settled. Progress is saved in the ledger under `key`
    /// as it goes, so a run cut short resumes where it got to.
    pub async fn run(&self, path: &Path, key: &FileKey, resume: u64) -> Result<Tally, FileError> {
        let name: Arc<str> = path.display().to_string().into();
        let file = std::fs::File::open(path).map_err(|e| FileError::Read {
            file: name.to_string(),
            reason: e.to_string(),
        })?;
        let mut rx = spawn_decoder(self.format.clone(), file, self.emitter.connector(), &name);
        let mut run = Run {
            key,
            batch: Batch::resuming(resume),
            tally: Tally::default(),
            time: EventTime::now(),
            last_checkpoint: Instant::now(),
        };
        let mut binder = Binder::new(self.mapping);
        let mut failure = None;
        let mut ordinal = 0u64;
        while let Some(chunk) = rx.recv().await {
            if self.cancel.is_cancelled() {
                break;
            }
            let skip = usize::try_from(resume.saturating_sub(ordinal)).unwrap_or(usize::MAX);
            ordinal += chunk.len() as u64;
            let items = chunk.into_iter().skip(skip);
            if let Err(e) = self.chunk(items, &name, &mut binder, &mut run).await {
                failure = Some(e);
                break;
            }
            self.checkpoint(&mut run).await;
        }
        drop(rx);
        let Run {
            batch, mut tally, ..
        } = run;
        let outcome = batch.seal().await;
        match failure {
            None | Some(FileError::Stopped) => {}
            Some(FileError::Unusable { line, reason, .. }) => {
                let origin = Origin {
                    connector: Arc::clone(self.emitter.connector()),
                    file: name,
                    line,
                    offset: 0,
                };
                tally.refuse(&origin, &reason);
                return Ok(tally);
            }
            Some(e) => return Err(e),
        }
        let done = match outcome {
            BatchOutcome::Settled { .. } if !self.cancel.is_cancelled() => return Ok(tally),
            BatchOutcome::Settled { done, .. } | BatchOutcome::Abandoned { done } => done,
        };
        self.save_progress(key, done).await;
        Err(FileError::Unsettled {
            file: name.to_string(),
            done,
        })
    }

    /// Maps a chunk, drops what the dedupe window has already seen, and publishes the rest; a
    /// fatal item (the file does not fit) ends the chunk after the items before it are published.
    async fn chunk<'m>(
        &'m self,
        items: impl Iterator<Item = Result<Record, DecodeError>>,
        name: &Arc<str>,
        binder: &mut Binder<'m>,
        run: &mut Run<'_>,
    ) -> Result<(), FileError> {
        let mut prepared = Vec::with_capacity(CHUNK);
        let mut fatal = None;
        for item in items {
            match self.prepare(item, name, binder, &run.time) {
                Ok(item) => prepared.push(item),
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        let seen = self.seen(&prepared).await?;
        for item in prepared {
            match item {
                Prepared::Filtered => {
                    run.tally.filtered += 1;
                    run.batch.skip();
                }
                Prepared::Event(event) if seen.contains(event.id.as_bytes()) => {
                    run.tally.duplicates += 1;
                    run.batch.skip();
                }
                Prepared::Letter(letter) if seen.contains(letter.id().as_bytes()) => {
                    run.tally.duplicates += 1;
                    run.batch.skip();
                }
                Prepared::Event(event) => self.event(event, run).await?,
                Prepared::Letter(letter) => self.dead_letter(letter, run).await?,
            }
        }
        fatal.map_or(Ok(()), Err)
    }

    /// Maps one decoded item; a record that cannot be mapped becomes a dead letter.
    fn prepare<'m>(
        &'m self,
        item: Result<Record, DecodeError>,
        name: &Arc<str>,
        binder: &mut Binder<'m>,
        time: &EventTime,
    ) -> Result<Prepared, FileError> {
        let record = match item {
            Ok(record) => record,
            Err(DecodeError::Record(e)) => {
                if let Some(columns) = &e.columns {
                    self.bind(binder, columns, &e.origin)?;
                }
                return Ok(Prepared::Letter(DeadLetter {
                    decoded: e.columns.as_deref().map(replay::header_json),
                    origin: e.origin,
                    stage: Stage::Decode,
                    reason: e.reason,
                    raw: e.raw,
                }));
            }
            Err(e @ (DecodeError::Header { line, .. } | DecodeError::Oversized { line, .. })) => {
                return Err(FileError::Unusable {
                    file: name.to_string(),
                    line,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                return Err(FileError::Read {
                    file: name.to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let mapping = self.bind(binder, &record.columns, &record.origin)?;
        Ok(match mapping.eval(&record) {
            Ok(None) => Prepared::Filtered,
            Ok(Some(mapped)) => {
                Prepared::Event(self.emitter.event(mapped, record.origin.clone(), time))
            }
            Err(e) => Prepared::Letter(letter(record, Stage::Map, e.to_string())),
        })
    }

    /// The mapping bound to a file's columns; columns it cannot use make the file unusable.
    fn bind<'m, 'b>(
        &'m self,
        binder: &'b mut Binder<'m>,
        columns: &Arc<Columns>,
        origin: &Origin,
    ) -> Result<&'b BoundMapping<'m>, FileError> {
        binder.bind(columns).map_err(|e| FileError::Unusable {
            file: origin.file.to_string(),
            line: origin.line,
            reason: e.to_string(),
        })
    }

    /// The ids among `prepared` that the dedupe window holds.
    async fn seen(&self, prepared: &[Prepared]) -> Result<HashSet<dedupe::Id>, FileError> {
        if !self.dedupe {
            return Ok(HashSet::new());
        }
        let ids: Vec<dedupe::Id> = prepared
            .iter()
            .filter_map(|p| match p {
                Prepared::Event(e) => Some(*e.id.as_bytes()),
                Prepared::Letter(l) => Some(*l.id().as_bytes()),
                Prepared::Filtered => None,
            })
            .collect();
        self.store
            .read(move |conn| dedupe::seen(conn, &ids))
            .await
            .map_err(|e| FileError::Store(e.to_string()))
    }

    async fn event(&self, event: Event, run: &mut Run<'_>) -> Result<(), FileError> {
        let origin = event.origin.clone();
        match self.emitter.encode(event) {
            Ok(encoded) => {
                run.tally.published += 1;
                let msg = self.emitter.with_ack(encoded, run.batch.token());
                self.publish(msg).await
            }
            Err(reason) => {
                let letter = DeadLetter {
                    raw: Vec::new(),
                    decoded: None,
                    origin,
                    stage: Stage::Encode,
                    reason,
                };
                self.dead_letter(letter, run).await
            }
        }
    }

    /// Dead-letters a bad record: stored in the dead-letter index and published to the
    /// dead-letter exchange; the record counts as settled once both are done.
    async fn dead_letter(&self, letter: DeadLetter, run: &mut Run<'_>) -> Result<(), FileError> {
        tracing::warn!(connector = %letter.origin.connector, file = %letter.origin.file, line = letter.origin.line, stage = %letter.stage, reason = %letter.reason, "record dead-lettered");
        run.tally.failure(&letter.origin, &letter.reason);
        let token = run.batch.token();
        let stored = token.also();
        let row = letter.to_stored(Some((self.mapping.name(), self.mapping.version())));
        self.store
            .submit(
                move |conn| dead_letters::record(conn, &row),
                move |result| {
                    if result.is_ok() {
                        stored.settle(Settlement::DeadLettered);
                    }
                },
            )
            .await
            .map_err(|e| FileError::Store(e.to_string()))?;
        self.publish(self.emitter.dead_letter(&letter, token)).await
    }

    /// Hands a message to the publisher; gives up when the hub stops (the message's token is
    /// dropped, so the file is not acknowledged past it).
    async fn publish(&self, msg: Outgoing) -> Result<(), FileError> {
        tokio::select! {
            sent = self.publisher.publish(msg) => sent.map_err(|_| FileError::Stopped),
            () = self.cancel.cancelled() => Err(FileError::Stopped),
        }
    }

    /// Saves how far the file got, at most every [`CHECKPOINT_EVERY`].
    async fn checkpoint(&self, run: &mut Run<'_>) {
        if run.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        run.last_checkpoint = Instant::now();
        let (key, done) = (run.key.clone(), run.batch.done());
        let _ = self
            .store
            .submit(move |conn| ledger::checkpoint(conn, &key, done), |_| {})
            .await;
    }

    /// Saves the final position of a run cut short (waiting for the commit).
    async fn save_progress(&self, key: &FileKey, done: u64) {
        let key = key.clone();
        if let Err(e) = self
            .store
            .write(move |conn| ledger::checkpoint(conn, &key, done))
            .await
        {
            tracing::error!(error = %e, "cannot save the file's progress; it is read again from its last saved position");
        }
    }
}

/// The dead letter of a record that failed at `stage`.
fn letter(record: Record, stage: Stage, reason: String) -> DeadLetter {
    DeadLetter {
        raw: record.raw(),
        decoded: Some(record.to_json()),
        origin: record.origin,
        stage,
        reason,
    }
}

type Chunk = Vec<Result<Record, DecodeError>>;

/// Decodes on a blocking thread, sending records in chunks; stops when the receiver goes away.
fn spawn_decoder(
    format: FormatSpec,
    file: std::fs::File,
    connector: &Arc<str>,
    name: &Arc<str>,
) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (connector, name) = (Arc::clone(connector), Arc::clone(name));
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in format::decode(&format, file, connector, name) {
            let fatal = item.as_ref().is_err_and(DecodeError::is_fatal);
            chunk.push(item);
            if chunk.len() < CHUNK && !fatal {
                continue;
            }
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if tx.blocking_send(full).is_err() || fatal {
                return;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
    });
    rx
}
