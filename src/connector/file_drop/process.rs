//! Processing one complete file: decode it on a blocking thread, map each record, publish each
//! event (or dead-letter each bad record), and wait until every one is settled before the file may
//! be finished.

use super::finish::Tally;
use crate::canonical::event::EventTime;
use crate::config::connector::FormatSpec;
use crate::connector::emit::Emitter;
use crate::delivery::ack::{Batch, BatchOutcome};
use crate::delivery::dead_letter::{DeadLetter, Stage};
use crate::format::record::Record;
use crate::format::{self, DecodeError};
use crate::mapping::{Binder, Mapping};
use crate::route::{Outgoing, Publisher};
use std::path::Path;
use std::sync::Arc;
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
    /// The file as a whole does not fit the connector (header, columns); it goes to `error/`.
    #[error("{file}: {reason}")]
    Unusable { file: String, reason: String },
    /// The publisher stopped (the hub is shutting down) before every event was handed over.
    #[error("the hub is stopping; the file stays and is read again")]
    Stopped,
    /// Some event was not settled (the hub is stopping): the file stays for the next run.
    #[error("{file}: not every event was confirmed; the file stays and is read again")]
    Unsettled { file: String },
}

/// The parts of a connector that processing a file needs.
pub struct FileJob<'a> {
    pub format: &'a FormatSpec,
    pub mapping: &'a Mapping,
    pub emitter: &'a Emitter,
    pub publisher: &'a Publisher,
    pub cancel: &'a CancellationToken,
}

impl FileJob<'_> {
    /// Publishes every record of `path`; returns the tally once all are settled.
    pub async fn run(&self, path: &Path) -> Result<Tally, FileError> {
        let name: Arc<str> = path.display().to_string().into();
        let file = std::fs::File::open(path).map_err(|e| FileError::Read {
            file: name.to_string(),
            reason: e.to_string(),
        })?;
        let mut rx = spawn_decoder(self.format.clone(), file, self.emitter.connector(), &name);
        let batch = Batch::new();
        let time = EventTime::now();
        let mut tally = Tally::default();
        let mut binder = Binder::new(self.mapping);
        let mut failure = None;
        'chunks: while let Some(chunk) = rx.recv().await {
            if self.cancel.is_cancelled() {
                break;
            }
            for item in chunk {
                let step = match item {
                    Ok(record) => {
                        self.record(record, &mut binder, &time, &batch, &mut tally)
                            .await
                    }
                    Err(DecodeError::Record(e)) => {
                        let letter = DeadLetter {
                            origin: e.origin,
                            stage: Stage::Decode,
                            reason: e.reason,
                            raw: e.raw,
                        };
                        self.dead_letter(letter, &batch, &mut tally).await
                    }
                    Err(e @ (DecodeError::Header { .. } | DecodeError::Oversized { .. })) => {
                        Err(FileError::Unusable {
                            file: name.to_string(),
                            reason: e.to_string(),
                        })
                    }
                    Err(e) => Err(FileError::Read {
                        file: name.to_string(),
                        reason: e.to_string(),
                    }),
                };
                if let Err(e) = step {
                    failure = Some(e);
                    break 'chunks;
                }
            }
        }
        drop(rx);
        let outcome = batch.seal().await;
        if let Some(e) = failure {
            return Err(e);
        }
        match outcome {
            BatchOutcome::Settled { .. } if !self.cancel.is_cancelled() => Ok(tally),
            _ => Err(FileError::Unsettled {
                file: name.to_string(),
            }),
        }
    }

    /// Maps and publishes one record; a mapping failure dead-letters it.
    async fn record<'m>(
        &'m self,
        record: Record,
        binder: &mut Binder<'m>,
        time: &EventTime,
        batch: &Batch,
        tally: &mut Tally,
    ) -> Result<(), FileError> {
        let mapping = binder
            .bind(&record.columns)
            .map_err(|e| FileError::Unusable {
                file: record.origin.file.to_string(),
                reason: e.to_string(),
            })?;
        let failed = match mapping.eval(&record) {
            Ok(None) => {
                tally.filtered += 1;
                return Ok(());
            }
            Ok(Some(mapped)) => {
                let event = self.emitter.event(mapped, record.origin.clone(), time);
                match self.emitter.outgoing(event, batch.token()) {
                    Ok(msg) => {
                        tally.published += 1;
                        return self.publish(msg).await;
                    }
                    Err(reason) => (Stage::Encode, reason),
                }
            }
            Err(e) => (Stage::Map, e.to_string()),
        };
        let letter = DeadLetter {
            raw: record.raw(),
            origin: record.origin,
            stage: failed.0,
            reason: failed.1,
        };
        self.dead_letter(letter, batch, tally).await
    }

    async fn dead_letter(
        &self,
        letter: DeadLetter,
        batch: &Batch,
        tally: &mut Tally,
    ) -> Result<(), FileError> {
        tracing::warn!(connector = %letter.origin.connector, file = %letter.origin.file, line = letter.origin.line, stage = %letter.stage, reason = %letter.reason, "record dead-lettered");
        tally.failure(&letter.origin, &letter.reason);
        self.publish(self.emitter.dead_letter(&letter, batch.token()))
            .await
    }

    async fn publish(&self, msg: Outgoing) -> Result<(), FileError> {
        self.publisher
            .publish(msg)
            .await
            .map_err(|_| FileError::Stopped)
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
