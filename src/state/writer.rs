//! The writer thread: the store's only writing connection. It takes every job queued at that
//! moment, runs each in a savepoint of one transaction and commits once (group commit), then
//! answers every job — with its own result, or with the commit's error when the commit failed.

use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Jobs queued for the writer at most; senders wait beyond that.
const QUEUE: usize = 4096;
/// Jobs in one transaction at most.
const GROUP: usize = 4096;

type Answer = Box<dyn FnOnce(Option<rusqlite::Error>) + Send>;
type Run = Box<dyn FnOnce(Option<&Connection>) -> Answer + Send>;

/// One write: runs inside the group transaction and returns how to answer once it is committed.
pub(super) struct Job {
    /// Runs the write on the connection (`None`: the transaction could not start; skip it).
    run: Run,
}

impl Job {
    /// `f` does the writing; `reply` gets its result, or the commit's error.
    pub(super) fn new<T, F, R>(f: F, reply: R) -> Self
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        R: FnOnce(rusqlite::Result<T>) + Send + 'static,
    {
        let run = move |conn: Option<&Connection>| -> Answer {
            let result = match conn {
                Some(conn) => in_savepoint(conn, f),
                None => Err(rusqlite::Error::InvalidQuery),
            };
            Box::new(
                move |commit_error: Option<rusqlite::Error>| match commit_error {
                    Some(e) => reply(Err(e)),
                    None => reply(result),
                },
            )
        };
        Self { run: Box::new(run) }
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("SAVEPOINT job")?;
    match f(conn) {
        Ok(value) => conn.execute_batch("RELEASE job").map(|()| value),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// Starts the writer thread on `conn`; it stops when every sender is gone.
pub(super) fn spawn(conn: Connection, path: PathBuf) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("omnibus-state".into())
        .spawn(move || run(conn, rx, &path))
        .map_err(|e| tracing::error!(error = %e, "cannot start the state store's writer thread"))
        .ok();
    tx
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, path: &std::path::Path) {
    let mut failing = false;
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let error = commit(&mut conn, group);
        match (&error, failing) {
            (Some(e), false) => {
                tracing::error!(store = %path.display(), error = %e, "STATE STORE CANNOT COMMIT: sources are not acknowledged until it can (check disk space and permissions of the state dir)")
            }
            (None, true) => tracing::info!(store = %path.display(), "state store commits again"),
            _ => {}
        }
        failing = error.is_some();
    }
}

/// Runs a group in one transaction; returns the error that made the whole group fail, if any.
fn commit(conn: &mut Connection, group: Vec<Job>) -> Option<String> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Some(fail_all(group, &e)),
    };
    let answers: Vec<Answer> = group.into_iter().map(|job| (job.run)(Some(&tx))).collect();
    match tx.commit() {
        Ok(()) => {
            for answer in answers {
                answer(None);
            }
            None
        }
        Err(e) => {
            let message = e.to_string();
            for answer in answers {
                answer(Some(copy(&e)));
            }
            Some(message)
        }
    }
}

fn fail_all(group: Vec<Job>, e: &rusqlite::Error) -> String {
    for job in group {
        let answer = (job.run)(None);
        answer(Some(copy(e)));
    }
    e.to_string()
}

/// A copy of `e` for each job of a failed group (`rusqlite::Error` is not `Clone`).
fn copy(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
