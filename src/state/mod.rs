//! The embedded state store: one SQLite file (`omnibus.db`) under `[state] dir` holding the file
//! ledger, the positions of network connectors, the outbox, the dedupe window of confirmed event ids
//! and the dead-letter index.
//!
//! SQLite in WAL mode with `synchronous=FULL`: a commit that returned is on disk. All writes go
//! through one writer thread ([`Store::write`]) that groups whatever is queued into one transaction
//! (group commit), so a burst of confirms costs one fsync, not one each; reads use their own
//! connections and never wait for the writer. The submodules own the SQL of each concern.

pub mod dead_letters;
pub mod dedupe;
pub mod ledger;
pub mod lock;
pub mod meta;
pub mod outbox;
pub mod positions;
mod schema;
mod writer;

pub use lock::{HubLock, LockError};

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use writer::Job;

/// The store's file name inside the state dir.
pub const FILE_NAME: &str = "omnibus.db";

/// Why the store could not do something. Every variant is an infrastructure error: the caller must
/// not acknowledge its source, and retries later.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state dir {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the state store's writer has stopped")]
    Closed,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: tokio::sync::mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    healthy: AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and starts its writer thread.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let conn = open_connection(&path, false)?;
        schema::migrate(&conn).map_err(|e| sqlite(&path, e))?;
        let jobs = writer::spawn(conn, path.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                jobs,
                readers: Mutex::new(Vec::new()),
                healthy: AtomicBool::new(true),
            }),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether the last commit succeeded (false while the disk is full or read-only).
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    /// Runs `f` inside the next group-commit transaction (in a savepoint of its own: a failing `f`
    /// leaves no trace) and returns its result once that transaction is durably committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(f, |result| {
            let _ = tx.send(result);
        })
        .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `f` for the next group commit without waiting for it: `done` gets the result on the
    /// writer thread once the transaction is committed (or failed). Waits only while the writer's
    /// queue is full, which is how a slow disk pushes back on the pipeline.
    pub async fn submit<T, F, D>(&self, f: F, done: D) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let job = self.job(f, done);
        self.inner
            .jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// [`Store::write`] for synchronous callers (the CLI, blocking threads).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = self.job(f, |result| {
            let _ = tx.send(result);
        });
        self.inner
            .jobs
            .blocking_send(job)
            .map_err(|_| StoreError::Closed)?;
        rx.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    fn job<T, F, D>(&self, f: F, done: D) -> Job
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Job::new(f, move |result: Result<T, rusqlite::Error>| {
            inner.healthy.store(result.is_ok(), Ordering::Release);
            done(result.map_err(|e| sqlite(&inner.path, e)));
        })
    }

    /// Runs a read on a pooled read-only connection (on the calling thread).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.inner.path, true)?,
        };
        let result = f(&conn).map_err(|e| sqlite(&self.inner.path, e));
        if let Ok(mut readers) = self.inner.readers.lock() {
            readers.push(conn);
        }
        result
    }

    /// [`Store::read_blocking`] on a blocking thread, for async callers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|_| StoreError::Closed)?
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| sqlite(path, e))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .map_err(|e| sqlite(path, e))?;
    }
    Ok(conn)
}

fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// Seconds since the Unix epoch, the store's time unit.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_write_leaves_no_trace_and_spares_the_rest_of_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writes: Vec<_> = (0..50)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(move |c| {
                            positions::set(c, "c", &format!("p{n}"), "v")?;
                            if n % 10 == 0 {
                                c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                            }
                            Ok(n)
                        })
                        .await
                })
            })
            .collect();
        let mut failed = 0;
        for write in writes {
            if write.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 5);
        let saved = store.read(|c| positions::list(c, Some("c"))).await.unwrap();
        assert_eq!(
            saved.len(),
            45,
            "the failed writes' first statements were rolled back"
        );
        assert!(store.is_healthy());
    }

    #[test]
    fn commits_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .write_blocking(|c| positions::set(c, "mall", "cursor", "abc"))
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let value = store
            .read_blocking(|c| positions::get(c, "mall", "cursor"))
            .unwrap();
        assert_eq!(value.as_deref(), Some("abc"));
    }

    #[tokio::test]
    async fn a_store_in_a_read_only_dir_reports_every_write_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let path = store.path().to_path_buf();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA query_only = 1").unwrap();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY;
        let read_only = Connection::open_with_flags(&path, flags).unwrap();
        let jobs = writer::spawn(read_only, path.clone());
        let store = Store {
            inner: Arc::new(Inner {
                path,
                jobs,
                readers: Mutex::new(Vec::new()),
                healthy: AtomicBool::new(true),
            }),
        };
        let result = store.write(|c| positions::set(c, "c", "p", "v")).await;
        assert!(result.is_err());
        assert!(!store.is_healthy());
    }
}
