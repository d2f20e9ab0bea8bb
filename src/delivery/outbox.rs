//! The outbox, as the publisher uses it: when the broker is unreachable, blocked, or slower than the
//! sources, messages are committed to the state store and their sources acknowledged from there;
//! once the broker takes messages again the outbox is drained in order, each row deleted (and its id
//! remembered in the dedupe window) when the broker confirms it.
//!
//! Bounded by `outbox_max_bytes`: when full, the publisher stops taking messages, so sources wait
//! instead of memory growing or anything being dropped.

use crate::canonical::wire::{Wire, tag_headers};
use crate::delivery::ack::Settlement;
use crate::route::{Ack, Outgoing, Target};
use crate::state::{Store, StoreError, dedupe, outbox};
use lapin::BasicProperties;
use lapin::types::ShortString;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Rows read from the store at a time while draining.
pub const DRAIN_BATCH: usize = 256;

/// The publisher's view of the outbox.
#[derive(Debug)]
pub struct Outbox {
    store: Store,
    max_bytes: u64,
    shared: Arc<Shared>,
    /// The last sequence number handed to the publisher.
    cursor: i64,
}

/// Counters updated on the store's writer thread as commits land.
#[derive(Debug, Default)]
struct Shared {
    /// Highest sequence number committed.
    last_seq: AtomicI64,
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Appends queued but not committed yet.
    pending: AtomicU64,
}

impl Outbox {
    /// Opens the outbox of `store`, counting what an earlier run left in it.
    pub async fn open(store: Store, max_bytes: u64) -> Result<Self, StoreError> {
        let (depth, last_seq) = store
            .read(|conn| {
                let depth = outbox::depth(conn)?;
                let last = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox", [], |r| {
                    r.get::<_, i64>(0)
                })?;
                Ok((depth, last))
            })
            .await?;
        let shared = Shared {
            last_seq: AtomicI64::new(last_seq),
            messages: AtomicU64::new(depth.messages),
            bytes: AtomicU64::new(depth.bytes),
            pending: AtomicU64::new(0),
        };
        Ok(Self {
            store,
            max_bytes,
            shared: Arc::new(shared),
            cursor: 0,
        })
    }

    /// Messages stored and not yet confirmed by the broker.
    pub fn messages(&self) -> u64 {
        self.shared.messages.load(Ordering::Acquire)
    }

    /// Whether the outbox has reached its size limit (the publisher stops taking messages).
    pub fn is_full(&self) -> bool {
        self.shared.bytes.load(Ordering::Acquire) >= self.max_bytes
    }

    /// Whether rows were committed that have not been handed to the publisher yet.
    pub fn has_unread(&self) -> bool {
        self.shared.last_seq.load(Ordering::Acquire) > self.cursor
    }

    /// Whether appends are on their way to the store.
    pub fn has_pending(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire) > 0
    }

    /// Stores messages from sources; their tokens settle as stored once the commit lands. A failed
    /// commit drops them, so their sources stay unacknowledged and read them again.
    pub async fn put(&self, messages: Vec<Outgoing>) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(messages.len());
        let mut tokens = Vec::with_capacity(messages.len());
        for msg in messages {
            match msg.ack {
                Ack::Source(token) => {
                    rows.push(to_row(
                        &msg.connector,
                        msg.target,
                        &msg.routing_key,
                        &msg.wire,
                    ));
                    tokens.push((token, stored_as(msg.target)));
                }
                Ack::Outbox { .. } => {}
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let bytes: u64 = rows.iter().map(outbox::Row::bytes).sum();
        let count = rows.len() as u64;
        let shared = Arc::clone(&self.shared);
        shared.pending.fetch_add(1, Ordering::AcqRel);
        self.store
            .submit(
                move |conn| outbox::append(conn, &rows),
                move |result| {
                    if let Ok(seqs) = &result {
                        shared.messages.fetch_add(count, Ordering::AcqRel);
                        shared.bytes.fetch_add(bytes, Ordering::AcqRel);
                        if let Some(last) = seqs.last() {
                            shared.last_seq.fetch_max(*last, Ordering::AcqRel);
                        }
                        for (token, how) in tokens {
                            token.settle(how);
                        }
                    }
                    shared.pending.fetch_sub(1, Ordering::AcqRel);
                },
            )
            .await
    }

    /// The next rows to publish, oldest first.
    pub async fn take(&mut self) -> Result<Vec<Outgoing>, StoreError> {
        let after = self.cursor;
        let rows = self
            .store
            .read(move |conn| outbox::next(conn, after, DRAIN_BATCH))
            .await?;
        if let Some((last, _)) = rows.last() {
            self.cursor = *last;
        }
        Ok(rows
            .into_iter()
            .filter_map(|(seq, row)| from_row(seq, row))
            .collect())
    }

    /// After a lost connection: read again from the oldest row still stored.
    pub fn rewind(&mut self) {
        self.cursor = 0;
    }

    /// The broker confirmed these rows: delete them and remember their ids.
    pub async fn delivered(
        &self,
        rows: Vec<(i64, u64)>,
        ids: Vec<dedupe::Id>,
    ) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let bytes: u64 = rows.iter().map(|r| r.1).sum();
        let count = seqs.len() as u64;
        self.store
            .submit(
                move |conn| {
                    outbox::delete(conn, &seqs)?;
                    dedupe::record(conn, &ids)
                },
                move |result| {
                    if result.is_ok() {
                        shared.messages.fetch_sub(count, Ordering::AcqRel);
                        shared.bytes.fetch_sub(bytes, Ordering::AcqRel);
                    }
                },
            )
            .await
    }
}

fn to_row(connector: &str, target: Target, routing_key: &ShortString, wire: &Wire) -> outbox::Row {
    outbox::Row {
        connector: connector.to_string(),
        target: match target {
            Target::Events => 0,
            Target::DeadLetters => 1,
        },
        routing_key: routing_key.to_string(),
        message_id: Some(*wire.id.as_bytes()),
        properties: serde_json::to_vec(&wire.properties).unwrap_or_default(),
        body: wire.body.to_vec(),
    }
}

/// A stored row as a message again, with a fresh publish tag; a row whose properties cannot be
/// read back is logged and left in the outbox for ops.
fn from_row(seq: i64, row: outbox::Row) -> Option<Outgoing> {
    let bytes = row.bytes();
    let properties: BasicProperties = match serde_json::from_slice(&row.properties) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(seq, connector = %row.connector, error = %e, "outbox row has unreadable properties; left in the outbox");
            return None;
        }
    };
    let mut headers = properties.headers().clone().unwrap_or_default();
    let tag = tag_headers(&mut headers);
    let id = row
        .message_id
        .map(uuid::Uuid::from_bytes)
        .unwrap_or_default();
    Some(Outgoing {
        connector: row.connector.as_str().into(),
        target: if row.target == 1 {
            Target::DeadLetters
        } else {
            Target::Events
        },
        routing_key: ShortString::from(row.routing_key),
        wire: Wire {
            body: row.body.into(),
            properties: properties.with_headers(headers),
            tag,
            id,
        },
        ack: Ack::Outbox { seq, bytes },
    })
}

/// How a message the outbox stores counts as settled: an event as stored, a dead letter as
/// dead-lettered (its record is not an event out of the connector).
fn stored_as(target: Target) -> Settlement {
    match target {
        Target::Events => Settlement::Stored,
        Target::DeadLetters => Settlement::DeadLettered,
    }
}
