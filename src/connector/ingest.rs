//! Ingesting one input — a complete file, or the body of a message, a webhook or a page — the same
//! way for every connector: decode it on a blocking thread, map each record, publish each event
//! (or dead-letter each bad record), and wait until every one is settled before the source may
//! acknowledge the input (move the file, ack the message, answer 2xx, save the cursor).
//!
//! Each stage is counted here, once, in the connector's
//! [`Activity`](crate::telemetry::Activity) (records read, decoded, mapped, published,
//! dead-lettered; inputs by outcome; the batch counts settled events).
//!
//! A source whose records come ready (the rows of a SQL query) hands them to
//! [`Ingest::records`]: they skip decoding and take the same path from the mapper on.

use super::tally::Tally;
use crate::canonical::Event;
use crate::canonical::event::EventTime;
use crate::canonical::schema::Schema;
use crate::config::connector::{ConnectorSpec, FormatSpec};
use crate::connector::emit::Emitter;
use crate::connector::meta::Meta;
use crate::connector::status::StatusHandle;
use crate::connector::tap::TapPoint;
use crate::delivery::ack::AckToken;
use crate::delivery::ack::{Batch, BatchOutcome, Settlement};
use crate::delivery::dead_letter::{DeadLetter, Stage};
use crate::delivery::replay;
use crate::format::record::{Origin, Record, RecordError};
use crate::format::{self, DecodeError};
use crate::mapping::{FailStage, Failure, Mapper, Mapping, Outcome, Unit};
use crate::route::{Outgoing, Publisher};
use crate::state::ledger::{self, FileKey};
use crate::state::{Store, dead_letters, dedupe};
use crate::telemetry::{Outcome as InputOutcome, Step};
use bytes::Bytes;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Records handed from the decoding thread at a time.
const CHUNK: usize = 256;
/// Chunks buffered between the decoding thread and the mapper.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Why an input could not be taken this time. `file` names the input: a file's path, or a
/// message's name.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
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

/// A running connector's parts that every source hands its inputs to.
pub struct Pipeline {
    pub spec: Arc<ConnectorSpec>,
    pub mapping: Arc<Mapping>,
    /// The schema every event is checked against.
    pub schema: Arc<Schema>,
    pub emitter: Emitter,
    pub publisher: Publisher,
    pub store: Store,
    /// Whether events are checked against the dedupe window.
    pub dedupe: bool,
    /// Where the connector reports its state.
    pub status: StatusHandle,
    /// Rung when ops ask a polling connector to poll now; a connector that polls waits on it as
    /// well as on its schedule.
    pub wake: Arc<Notify>,
    /// Where the connector offers samples to the live tap.
    pub tap: TapPoint,
}

impl Pipeline {
    /// Ingests through this pipeline until `cancel` fires.
    pub fn ingest<'a>(&'a self, cancel: &'a CancellationToken) -> Ingest<'a> {
        Ingest {
            format: self.spec.format.as_ref(),
            mapping: &self.mapping,
            schema: Some(&self.schema),
            emitter: &self.emitter,
            publisher: &self.publisher,
            store: &self.store,
            dedupe: self.dedupe,
            failures: Failures::DeadLetter,
            status: &self.status,
            tap: Some(&self.tap),
            cancel,
        }
    }
}

/// Where the records of an input that fail to decode or map go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failures {
    /// Each is dead-lettered by Omnibus (index and dead-letter exchange).
    DeadLetter,
    /// Each is only counted in the tally: the source hands the whole input back to its own
    /// system (an AMQP reject to the legacy queue's dead-letter exchange).
    HandBack,
}

/// The parts of a connector that ingesting an input needs.
pub struct Ingest<'a> {
    /// `None` for a connector whose records come ready ([`Ingest::records`]).
    pub format: Option<&'a FormatSpec>,
    pub mapping: &'a Mapping,
    /// The schema every event is checked against.
    pub schema: Option<&'a Arc<Schema>>,
    pub emitter: &'a Emitter,
    pub publisher: &'a Publisher,
    pub store: &'a Store,
    /// Check each event against the dedupe window before publishing it.
    pub dedupe: bool,
    pub failures: Failures,
    /// Where the connector's activity is counted, and told when an input holding records is
    /// settled.
    pub status: &'a StatusHandle,
    /// Where samples for the live tap go; `None` outside the hub.
    pub tap: Option<&'a TapPoint>,
    pub cancel: &'a CancellationToken,
}

/// How often a file's progress is saved while it is processed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// What became of one or more consecutive records (`items` of them), ready to publish.
enum Prepared {
    /// One or more events (several with `split`).
    Events {
        items: u64,
        events: Vec<Event>,
    },
    Letter {
        items: u64,
        letter: DeadLetter,
    },
    Filtered {
        items: u64,
    },
}

/// The state of one input's run.
struct Run<'j> {
    /// Where a file's progress is saved; `None` for a message, taken whole or not at all.
    key: Option<&'j FileKey>,
    batch: Batch,
    tally: Tally,
    time: EventTime,
    last_checkpoint: Instant,
}

impl Ingest<'_> {
    /// Publishes every record of `path` after the first `resume` items (settled by an earlier
    /// run); returns the tally once all are settled. Progress is saved in the ledger under `key`
    /// as it goes, so a run cut short resumes where it got to. A compressed file (or zip entry)
    /// may inflate to `max_inflated` bytes.
    pub async fn run(
        &self,
        path: &Path,
        key: &FileKey,
        resume: u64,
        max_inflated: u64,
    ) -> Result<Tally, IngestError> {
        let name: Arc<str> = path.display().to_string().into();
        let file = std::fs::File::open(path).map_err(|e| IngestError::Read {
            file: name.to_string(),
            reason: e.to_string(),
        })?;
        self.status.activity().set_position(name.to_string());
        let source = Source::File(file, max_inflated);
        self.observed(self.ingest(source, name, Some(key), resume))
            .await
    }

    /// Publishes every record of a message's `body`, named `name` in origins and dead letters,
    /// with the message's attributes attached to each record (`_meta`); returns the tally once
    /// all are settled. A body that does not decode as a whole (the format's fatal errors) is
    /// dead-lettered whole, raw, at the decode stage.
    pub async fn message(
        &self,
        name: Arc<str>,
        body: impl Into<Bytes>,
        meta: Meta,
    ) -> Result<Tally, IngestError> {
        self.observed(self.message_body(name, body.into(), meta))
            .await
    }

    async fn message_body(
        &self,
        name: Arc<str>,
        body: Bytes,
        meta: Meta,
    ) -> Result<Tally, IngestError> {
        let source = Source::Body(body.clone(), meta);
        let tally = self.ingest(source, Arc::clone(&name), None, 0).await?;
        let Some(reason) = tally.refused.clone() else {
            return Ok(tally);
        };
        let letter = DeadLetter {
            raw: body.to_vec(),
            decoded: None,
            origin: Origin {
                connector: Arc::clone(self.emitter.connector()),
                file: name,
                line: 0,
                offset: 0,
                locator: None,
            },
            stage: Stage::Decode,
            reason,
        };
        self.whole(letter, tally).await
    }

    /// Publishes records a source made itself (rows of a query), named `name` in logs, each with
    /// its own origin; a record that could not be made is dead-lettered at the decode stage.
    /// Returns the tally once all are settled.
    pub async fn records(
        &self,
        name: Arc<str>,
        records: Vec<Result<Record, RecordError>>,
    ) -> Result<Tally, IngestError> {
        self.observed(self.ingest(Source::Records(records), name, None, 0))
            .await
    }

    /// Runs the taking of one input, counting it in flight meanwhile and by its outcome after.
    async fn observed(
        &self,
        taking: impl Future<Output = Result<Tally, IngestError>>,
    ) -> Result<Tally, IngestError> {
        let input = self.status.activity().take();
        let result = taking.await;
        let (outcome, records) = match &result {
            Ok(tally) if tally.refused.is_some() => (Some(InputOutcome::Refused), tally.rows()),
            Ok(tally) => (Some(InputOutcome::Ok), tally.rows()),
            Err(IngestError::Stopped | IngestError::Unsettled { .. }) => (None, 0),
            Err(_) => (Some(InputOutcome::Failed), 0),
        };
        input.finish(outcome, records);
        result
    }

    /// Dead-letters a message refused as a whole and waits for the letter to be settled.
    async fn whole(&self, letter: DeadLetter, tally: Tally) -> Result<Tally, IngestError> {
        let mut run = Run {
            key: None,
            batch: Batch::counting(0, Arc::clone(self.status.activity())),
            tally,
            time: EventTime::now(),
            last_checkpoint: Instant::now(),
        };
        let token = run.batch.token();
        let name = letter.origin.file.to_string();
        self.dead_letter(letter, token, &mut run).await?;
        match run.batch.seal().await {
            BatchOutcome::Settled { .. } => Ok(run.tally),
            BatchOutcome::Abandoned { done } => Err(IngestError::Unsettled { file: name, done }),
        }
    }

    /// Publishes the records of `source` after the first `resume` items.
    async fn ingest(
        &self,
        source: Source,
        name: Arc<str>,
        key: Option<&FileKey>,
        resume: u64,
    ) -> Result<Tally, IngestError> {
        let format = self.format.cloned();
        let mut rx = spawn_decoder(format, source, self.emitter.connector(), &name);
        let mut run = Run {
            key,
            batch: Batch::counting(resume, Arc::clone(self.status.activity())),
            tally: Tally::default(),
            time: EventTime::now(),
            last_checkpoint: Instant::now(),
        };
        let mut mapper = Mapper::new(self.mapping, self.schema.cloned());
        let mut failure = None;
        let mut ordinal = 0u64;
        while let Some(chunk) = rx.recv().await {
            if self.cancel.is_cancelled() {
                break;
            }
            let skip = usize::try_from(resume.saturating_sub(ordinal)).unwrap_or(usize::MAX);
            ordinal += chunk.len() as u64;
            self.count_read(chunk.get(skip..).unwrap_or_default());
            if let Some(tap) = self.tap {
                tap.decoded(chunk.iter().skip(skip));
            }
            let mut units = Vec::with_capacity(CHUNK);
            let fatal = map_chunk(chunk.into_iter().skip(skip), &name, &mut mapper, &mut units);
            if let Err(e) = self.publish_units(units, &mut run).await {
                failure = Some(e);
                break;
            }
            if let Some(e) = fatal {
                failure = Some(e);
                break;
            }
            self.checkpoint(&mut run).await;
        }
        if failure.is_none() && !self.cancel.is_cancelled() {
            let mut units = Vec::new();
            mapper.finish(&mut units);
            if let Err(e) = self.publish_units(units, &mut run).await {
                failure = Some(e);
            }
        }
        drop(rx);
        let Run {
            batch, mut tally, ..
        } = run;
        let outcome = batch.seal().await;
        match failure {
            None | Some(IngestError::Stopped) => {}
            Some(IngestError::Unusable { line, reason, .. }) => {
                let origin = Origin {
                    connector: Arc::clone(self.emitter.connector()),
                    file: name,
                    line,
                    offset: 0,
                    locator: None,
                };
                tally.refuse(&origin, &reason);
                return Ok(tally);
            }
            Some(e) => return Err(e),
        }
        let done = match outcome {
            BatchOutcome::Settled { .. } if !self.cancel.is_cancelled() => {
                if tally.records() > 0 {
                    self.status.input();
                }
                return Ok(tally);
            }
            BatchOutcome::Settled { done, .. } | BatchOutcome::Abandoned { done } => done,
        };
        if let Some(key) = key {
            self.save_progress(key, done).await;
        }
        Err(IngestError::Unsettled {
            file: name.to_string(),
            done,
        })
    }

    /// Counts the records out of the decoder, and those among them that decoded.
    fn count_read(&self, items: &[Result<Record, DecodeError>]) {
        let decoded = items.iter().filter(|item| item.is_ok()).count();
        self.status.activity().count(Step::Read, items.len() as u64);
        self.status.activity().count(Step::Decoded, decoded as u64);
    }

    /// Drops what the dedupe window has already seen among `units` and publishes the rest.
    async fn publish_units(&self, units: Vec<Unit>, run: &mut Run<'_>) -> Result<(), IngestError> {
        let prepared: Vec<Prepared> = units
            .into_iter()
            .map(|unit| self.prepare(unit, &run.time))
            .collect();
        let seen = self.seen(&prepared).await?;
        for item in prepared {
            match item {
                Prepared::Filtered { items } => {
                    run.tally.filtered += 1;
                    run.batch.skip_many(items);
                }
                Prepared::Letter { items, letter } if seen.contains(letter.id().as_bytes()) => {
                    run.tally.duplicates += 1;
                    run.batch.skip_many(items);
                }
                Prepared::Letter { items, letter } => {
                    let token = run.batch.token_spanning(items);
                    self.dead_letter(letter, token, run).await?;
                }
                Prepared::Events { items, events } => {
                    self.events(items, events, &seen, run).await?
                }
            }
        }
        Ok(())
    }

    /// Publishes the events of one unit that the dedupe window has not seen, under one token
    /// for the unit's items.
    async fn events(
        &self,
        items: u64,
        events: Vec<Event>,
        seen: &HashSet<dedupe::Id>,
        run: &mut Run<'_>,
    ) -> Result<(), IngestError> {
        let before = events.len();
        let fresh: Vec<Event> = events
            .into_iter()
            .filter(|e| !seen.contains(e.id.as_bytes()))
            .collect();
        run.tally.duplicates += (before - fresh.len()) as u64;
        let Some(token) = (!fresh.is_empty()).then(|| run.batch.token_spanning(items)) else {
            run.batch.skip_many(items);
            return Ok(());
        };
        let mut tokens: Vec<AckToken> = (1..fresh.len()).map(|_| token.also()).collect();
        tokens.push(token);
        for (event, token) in fresh.into_iter().zip(tokens) {
            self.event(event, token, run).await?;
        }
        Ok(())
    }

    /// The events or dead letter of a unit.
    fn prepare(&self, unit: Unit, time: &EventTime) -> Prepared {
        let items = unit.items;
        match unit.outcome {
            Outcome::Events(mapped) if mapped.is_empty() => Prepared::Filtered { items },
            Outcome::Events(mapped) => {
                self.status
                    .activity()
                    .count(Step::Mapped, mapped.len() as u64);
                Prepared::Events {
                    items,
                    events: mapped
                        .into_iter()
                        .map(|m| self.emitter.event(m, unit.origin.clone(), time))
                        .inspect(|event| {
                            if let Some(tap) = self.tap {
                                tap.mapped(event);
                            }
                        })
                        .collect(),
                }
            }
            Outcome::Failed(failure) => Prepared::Letter {
                items,
                letter: letter(unit.origin, failure),
            },
        }
    }

    /// The ids among `prepared` that the dedupe window holds.
    async fn seen(&self, prepared: &[Prepared]) -> Result<HashSet<dedupe::Id>, IngestError> {
        if !self.dedupe {
            return Ok(HashSet::new());
        }
        let mut ids: Vec<dedupe::Id> = Vec::with_capacity(prepared.len());
        for item in prepared {
            match item {
                Prepared::Events { events, .. } => {
                    ids.extend(events.iter().map(|e| *e.id.as_bytes()));
                }
                Prepared::Letter { letter, .. } => ids.push(*letter.id().as_bytes()),
                Prepared::Filtered { .. } => {}
            }
        }
        self.store
            .read(move |conn| dedupe::seen(conn, &ids))
            .await
            .map_err(|e| IngestError::Store(e.to_string()))
    }

    async fn event(
        &self,
        event: Event,
        token: AckToken,
        run: &mut Run<'_>,
    ) -> Result<(), IngestError> {
        let origin = event.origin.clone();
        let publishing = self.tap.and_then(|tap| tap.publishing(&event));
        match self.emitter.encode(event) {
            Ok(encoded) => {
                run.tally.published += 1;
                self.status.activity().count(Step::Published, 1);
                let token = match publishing {
                    Some(publishing) => publishing.watch(token, encoded.0.as_str()),
                    None => token,
                };
                let msg = self.emitter.with_ack(encoded, token);
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
                self.dead_letter(letter, token, run).await
            }
        }
    }

    /// Dead-letters a bad record: stored in the dead-letter index and published to the
    /// dead-letter exchange; the record counts as settled once both are done.
    async fn dead_letter(
        &self,
        letter: DeadLetter,
        token: AckToken,
        run: &mut Run<'_>,
    ) -> Result<(), IngestError> {
        run.tally.failure(&letter.origin, &letter.reason);
        self.status.activity().failed(letter.stage);
        if self.failures == Failures::HandBack {
            tracing::warn!(connector = %letter.origin.connector, file = %letter.origin.file, line = letter.origin.line, stage = %letter.stage, reason = %letter.reason, "record failed; its input goes back to its system");
            token.settle(Settlement::DeadLettered);
            return Ok(());
        }
        tracing::warn!(connector = %letter.origin.connector, file = %letter.origin.file, line = letter.origin.line, stage = %letter.stage, reason = %letter.reason, "record dead-lettered");
        self.status.activity().count(Step::DeadLettered, 1);
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
            .map_err(|e| IngestError::Store(e.to_string()))?;
        self.publish(self.emitter.dead_letter(&letter, token)).await
    }

    /// Hands a message to the publisher; gives up when the hub stops (the message's token is
    /// dropped, so the file is not acknowledged past it).
    async fn publish(&self, msg: Outgoing) -> Result<(), IngestError> {
        tokio::select! {
            sent = self.publisher.publish(msg) => sent.map_err(|_| IngestError::Stopped),
            () = self.cancel.cancelled() => Err(IngestError::Stopped),
        }
    }

    /// Saves how far the file got, at most every [`CHECKPOINT_EVERY`].
    async fn checkpoint(&self, run: &mut Run<'_>) {
        if run.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        run.last_checkpoint = Instant::now();
        let Some(key) = run.key.cloned() else {
            return;
        };
        let done = run.batch.done();
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

/// The dead letter of records that failed.
fn letter(origin: Origin, failure: Failure) -> DeadLetter {
    DeadLetter {
        raw: failure.raw,
        decoded: failure
            .decoded
            .or_else(|| failure.columns.as_deref().map(replay::header_json)),
        origin,
        stage: match failure.stage {
            FailStage::Decode => Stage::Decode,
            FailStage::Map => Stage::Map,
            FailStage::Validate => Stage::Validate,
        },
        reason: failure.reason,
    }
}

/// Maps decoded items into `units`; returns the error that ends the file, if one does (it does
/// not fit the connector, or cannot be read), after the units before it.
fn map_chunk(
    items: impl Iterator<Item = Result<Record, DecodeError>>,
    name: &Arc<str>,
    mapper: &mut Mapper<'_>,
    units: &mut Vec<Unit>,
) -> Option<IngestError> {
    for item in items {
        let (item, line): (Result<Record, RecordError>, u64) = match item {
            Ok(record) => {
                let line = record.origin.line;
                (Ok(record), line)
            }
            Err(DecodeError::Record(e)) => {
                let line = e.origin.line;
                (Err(e), line)
            }
            Err(
                e @ (DecodeError::Header { line, .. }
                | DecodeError::Oversized { line, .. }
                | DecodeError::Input { line, .. }),
            ) => {
                return Some(IngestError::Unusable {
                    file: name.to_string(),
                    line,
                    reason: e.to_string(),
                });
            }
            Err(DecodeError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Some(IngestError::Unusable {
                    file: name.to_string(),
                    line: 0,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                return Some(IngestError::Read {
                    file: name.to_string(),
                    reason: e.to_string(),
                });
            }
        };
        if let Err(e) = mapper.push(item, units) {
            return Some(IngestError::Unusable {
                file: name.to_string(),
                line,
                reason: e.to_string(),
            });
        }
    }
    None
}

type Chunk = Vec<Result<Record, DecodeError>>;

/// What an input's bytes come from.
enum Source {
    /// A file, whose compressed content may inflate to this many bytes per input.
    File(std::fs::File, u64),
    /// A message body, decoded as it is (shared with the caller, which keeps it for a dead
    /// letter of the whole body), and the attributes its records get.
    Body(Bytes, Meta),
    /// Records made by the source, not decoded from bytes.
    Records(Vec<Result<Record, RecordError>>),
}

/// Decodes on a blocking thread, sending records in chunks; stops when the receiver goes away. A
/// compressed file is inflated (at most `max_inflated` bytes per input); each entry of a zip
/// archive is decoded in turn, its records named `archive.zip!entry`. Ready records are passed
/// on as they are; bytes with no `format` to decode them are refused as unusable.
fn spawn_decoder(
    format: Option<FormatSpec>,
    source: Source,
    connector: &Arc<str>,
    name: &Arc<str>,
) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (connector, name) = (Arc::clone(connector), Arc::clone(name));
    tokio::task::spawn_blocking(move || {
        let mut chunks = Chunks {
            tx,
            chunk: Vec::with_capacity(CHUNK),
        };
        match (source, format) {
            (Source::Records(records), _) => {
                for item in records {
                    if !chunks.push(item.map_err(DecodeError::Record)) {
                        break;
                    }
                }
            }
            (Source::File(..) | Source::Body(..), None) => {
                let reason = "the connector has no [format] to decode its input with".to_string();
                chunks.push(Err(DecodeError::Input { line: 0, reason }));
            }
            (Source::File(file, max_inflated), Some(format)) => format::decode_file(
                &format,
                file,
                &name,
                &connector,
                max_inflated,
                &mut |_, item| chunks.push(item),
            ),
            (Source::Body(body, meta), Some(format)) => {
                let records = format::decode(&format, &body[..], connector, Arc::clone(&name));
                let mut attacher = meta.attacher();
                for mut item in records {
                    if let Ok(record) = &mut item {
                        attacher.attach(record);
                    }
                    if !chunks.push(item) {
                        break;
                    }
                }
            }
        }
        chunks.flush();
    });
    rx
}

/// Records on their way to the mapper, sent a chunk at a time.
struct Chunks {
    tx: mpsc::Sender<Chunk>,
    chunk: Chunk,
}

impl Chunks {
    /// Adds an item; `false` once decoding must stop (a fatal error, or nobody listens).
    fn push(&mut self, item: Result<Record, DecodeError>) -> bool {
        let fatal = item.as_ref().is_err_and(DecodeError::is_fatal);
        self.chunk.push(item);
        if self.chunk.len() < CHUNK && !fatal {
            return true;
        }
        self.flush() && !fatal
    }

    fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(full).is_ok()
    }
}
