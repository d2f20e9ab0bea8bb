//! The SQL connector (`[source] type = "sql"`): polls a table or a custom query of a PostgreSQL,
//! MySQL or MariaDB database incrementally, by a timestamp column with a unique increasing id
//! column as tie-breaker, and publishes each new row as a record ([`row`]) through
//! [`Ingest::records`]. The watermark (and, with `commit_lag`, the window set of rows already
//! taken — see [`watermark`] for how late-committed rows are found once and only once) is saved
//! in the state store only after every event of the batch is settled; a poll that could not be
//! settled is read again from the saved position, and the dedupe window drops what was published.
//!
//! Each poll streams at most `batch_size` new rows (plus the re-read window) from one pooled
//! connection (a pool of one per connector); a poll that came back full is followed at once by
//! the next, otherwise the connector waits `interval`. With a `[group]` mapping, a full poll
//! leaves its last group to the next ([`tail`]), so groups are published whole. A database error puts the connector in
//! backing-off with an increasing delay; it never stops the other connectors.

mod query;
mod row;
mod spec;
mod tail;
mod watermark;

pub use query::Dialect;
pub use spec::{SqlSourceSpec, parse_spec};

use crate::backoff::Backoff;
use crate::connector::ingest::{Ingest, IngestError, Pipeline};
use crate::connector::status::Phase;
use crate::format::record::{Body, Origin, Record, RecordError};
use crate::state::positions;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use query::Param;
use row::{KeyColumns, KeyError, ReadRow, SqlRow};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Database, Encode, Type};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use watermark::{Key, Position, Take, Watermark, Window};

/// Position names in the state store.
const WATERMARK: &str = "watermark";
const WINDOW: &str = "window";
/// First pause after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between two attempts after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a poll waits for a pooled connection (the pool retries connecting meanwhile) before
/// it reports the database unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running SQL connector.
pub struct SqlSource {
    pub pipeline: Pipeline,
    pub source: SqlSourceSpec,
}

/// The connector's connection pool.
enum Db {
    Postgres(PgPool),
    Mysql(MySqlPool),
}

/// Why a poll did not complete; the connector backs off and polls again from its saved position.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("database: {0}")]
    Db(String),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Group(#[from] tail::GroupTooLarge),
    #[error("the rows do not fit the mapping: {0}")]
    Refused(String),
    #[error("{0}")]
    Ingest(#[from] IngestError),
    #[error("state store: {0}")]
    Store(String),
    #[error("the saved position is unreadable ({0}); fix it with `omnibus offsets reset`")]
    Position(String),
    #[error("the hub is stopping")]
    Stopped,
}

impl From<sqlx::Error> for PollError {
    fn from(e: sqlx::Error) -> Self {
        let message = match e {
            sqlx::Error::PoolTimedOut => format!(
                "no connection within {}s: the server refuses connections or does not answer \
                 (is it running, is host:port right?)",
                ACQUIRE_TIMEOUT.as_secs()
            ),
            other => other.to_string(),
        };
        PollError::Db(message)
    }
}

/// The rows one poll takes, in poll order, and how many it read.
struct Fetched {
    taken: Vec<ReadRow>,
    read: usize,
}

impl SqlSource {
    /// Polls until `cancel` fires, backing off while the database or the broker fails.
    pub async fn run(self, cancel: CancellationToken) {
        let job = self.pipeline.ingest(&cancel);
        let status = &self.pipeline.status;
        let db = match self.pool() {
            Ok(db) => db,
            Err(e) => {
                tracing::error!(connector = %self.pipeline.spec.id, url = %self.source.url, error = %e, "cannot use the database URL");
                status.error(&format!("url: {e}"));
                status.phase(Phase::Stopped);
                return;
            }
        };
        let mut position = None;
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        while !cancel.is_cancelled() {
            status.phase(Phase::Polling);
            let wait = match self.poll(&db, &job, &mut position, &cancel).await {
                Ok(true) => {
                    status.success();
                    backoff.reset();
                    continue;
                }
                Ok(false) => {
                    status.success();
                    status.phase(Phase::Idle);
                    backoff.reset();
                    self.source.interval
                }
                Err(_) if cancel.is_cancelled() => break,
                Err(e) => {
                    let wait = backoff.next_wait();
                    status.backing_off(&e.to_string(), wait);
                    tracing::warn!(connector = %self.pipeline.spec.id, database = %self.source.url, error = %e, retry_in = ?wait, "SQL poll failed; retrying");
                    wait
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
                () = self.pipeline.wake.notified() => {}
            }
        }
        match db {
            Db::Postgres(pool) => pool.close().await,
            Db::Mysql(pool) => pool.close().await,
        }
        status.phase(Phase::Stopped);
    }

    /// A pool of one connection, opened on first use.
    fn pool(&self) -> Result<Db, sqlx::Error> {
        let url = self.source.url.expose();
        Ok(match self.source.dialect {
            Dialect::Postgres => Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy(url)?,
            ),
            Dialect::Mysql => Db::Mysql(
                MySqlPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy(url)?,
            ),
        })
    }

    /// One poll: reads the rows after the position, publishes the new and late ones and, once
    /// they are settled, saves the position past them. `Ok(true)` when the poll read a full
    /// batch (more rows are likely waiting).
    async fn poll(
        &self,
        db: &Db,
        job: &Ingest<'_>,
        position: &mut Option<Position>,
        cancel: &CancellationToken,
    ) -> Result<bool, PollError> {
        let current = match position.take() {
            Some(p) => p,
            None => self.load().await?,
        };
        let current = &*position.insert(current);
        let (since, limit) = current.since(self.source.batch_size);
        let mut fetched = tokio::select! {
            fetched = self.fetch(db, &since, limit, current) => fetched?,
            () = cancel.cancelled() => return Err(PollError::Stopped),
        };
        let full = fetched.read as i64 >= limit;
        if let Some(group) = self.pipeline.mapping.group()
            && full
        {
            tail::hold_back_last_group(&mut fetched.taken, &group.by)?;
        }
        if fetched.taken.is_empty() {
            return Ok(full);
        }
        let keys: Vec<(Key, bool)> = fetched.taken.iter().map(|r| (r.key, r.zoned)).collect();
        let name: Arc<str> = self.source.name.as_str().into();
        let records = self.records(&name, fetched.taken);
        let tally = job.records(name, records).await?;
        if let Some(reason) = tally.refused {
            return Err(PollError::Refused(reason));
        }
        let next = current.after(&keys);
        self.save(&next).await?;
        tracing::info!(connector = %self.pipeline.spec.id, rows = keys.len(), published = tally.published, failed = tally.failed, duplicates = tally.duplicates, watermark = %next.mark, "rows taken");
        *position = Some(next);
        Ok(full)
    }

    /// The saved position, or the start (`initial`) when none is saved.
    async fn load(&self) -> Result<Position, PollError> {
        let connector = self.pipeline.spec.id.clone();
        let (mark, window) = self
            .pipeline
            .store
            .read(move |conn| {
                Ok((
                    positions::get(conn, &connector, WATERMARK)?,
                    positions::get(conn, &connector, WINDOW)?,
                ))
            })
            .await
            .map_err(|e| PollError::Store(e.to_string()))?;
        let mark = match mark {
            Some(text) => Watermark::parse(&text).map_err(PollError::Position)?,
            None => Watermark::before(self.source.initial),
        };
        let window = match window {
            Some(text) => Window::parse(&text).map_err(PollError::Position)?,
            None => Window::default(),
        };
        self.pipeline
            .status
            .activity()
            .set_position(mark.to_string());
        Ok(Position {
            mark,
            window,
            lag: self.source.commit_lag,
            floor: self.source.initial.at,
        })
    }

    /// Saves the watermark and the window set together.
    async fn save(&self, position: &Position) -> Result<(), PollError> {
        let connector = self.pipeline.spec.id.clone();
        let (mark, window) = (position.mark.to_string(), position.window.to_text());
        let saved = mark.clone();
        self.pipeline
            .store
            .write(move |conn| {
                positions::set(conn, &connector, WATERMARK, &mark)?;
                positions::set(conn, &connector, WINDOW, &window)
            })
            .await
            .map_err(|e| PollError::Store(e.to_string()))?;
        self.pipeline.status.activity().set_position(saved);
        Ok(())
    }

    /// Runs the poll query from `since` and keeps the rows the position takes.
    async fn fetch(
        &self,
        db: &Db,
        since: &Watermark,
        limit: i64,
        position: &Position,
    ) -> Result<Fetched, PollError> {
        let sql = AssertSqlSafe(self.source.query.sql.clone());
        let binds = &self.source.query.binds;
        match db {
            Db::Postgres(pool) => {
                let query = bind(sqlx::query(sql), binds, since, limit);
                self.take(query.fetch(pool), position).await
            }
            Db::Mysql(pool) => {
                let query = bind(sqlx::query(sql), binds, since, limit);
                self.take(query.fetch(pool), position).await
            }
        }
    }

    /// Streams the rows, reading each as it comes and keeping those the position takes.
    async fn take<R: SqlRow>(
        &self,
        mut rows: BoxStream<'_, Result<R, sqlx::Error>>,
        position: &Position,
    ) -> Result<Fetched, PollError> {
        let mut fetched = Fetched {
            taken: Vec::new(),
            read: 0,
        };
        let mut columns: Option<(Vec<String>, KeyColumns)> = None;
        while let Some(row) = rows.next().await {
            let row = row?;
            fetched.read += 1;
            let (names, keys) = match &columns {
                Some(found) => found,
                None => {
                    let names = row.names();
                    let source = &self.source;
                    let keys =
                        KeyColumns::find(&names, &source.timestamp_column, &source.id_column)?;
                    columns.insert((names, keys))
                }
            };
            let read = row::read(&row, names, keys, self.source.dialect)?;
            if position.take(&read.key) != Take::Skip {
                fetched.taken.push(read);
            }
        }
        Ok(fetched)
    }

    /// The records of the rows taken, each named by its ordinal in the batch and its id.
    fn records(&self, name: &Arc<str>, rows: Vec<ReadRow>) -> Vec<Result<Record, RecordError>> {
        let connector = self.pipeline.emitter.connector();
        rows.into_iter()
            .enumerate()
            .map(|(n, row)| {
                let origin = Origin {
                    connector: Arc::clone(connector),
                    file: Arc::clone(name),
                    line: n as u64 + 1,
                    offset: 0,
                    locator: Some(format!("id={}", row.id).into()),
                };
                match row.body {
                    Ok(tree) => Ok(Record {
                        origin,
                        body: Body::Tree(tree),
                    }),
                    Err(bad) => Err(RecordError {
                        origin,
                        raw: bad.partial.to_string().into_bytes(),
                        reason: bad.reason,
                        columns: None,
                    }),
                }
            })
            .collect()
    }
}

/// Binds the poll query's parameters in placeholder order: the watermark's timestamp (naive or
/// an instant, as the column is), its id, the limit.
fn bind<'q, DB: Database>(
    mut query: Query<'q, DB, DB::Arguments>,
    binds: &[Param],
    since: &Watermark,
    limit: i64,
) -> Query<'q, DB, DB::Arguments>
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> NaiveDateTime: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    for param in binds {
        query = match param {
            Param::SinceTs if since.ts.zoned => query.bind(since.ts.at.and_utc()),
            Param::SinceTs => query.bind(since.ts.at),
            Param::SinceId => query.bind(since.id),
            Param::Limit => query.bind(limit),
        };
    }
    query
}
