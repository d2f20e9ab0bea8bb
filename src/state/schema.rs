//! The store's tables. `migrate` creates what is missing; `meta.schema` records the version so a
//! later release can tell which changes an old file needs.

use rusqlite::Connection;

/// The schema version this build writes.
const VERSION: i64 = 1;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The file ledger: one row per file content a file connector has taken.
CREATE TABLE IF NOT EXISTS files (
    connector TEXT NOT NULL,
    hash BLOB NOT NULL,          -- BLAKE3 of the content
    size INTEGER NOT NULL,
    path TEXT NOT NULL,          -- where it was last seen
    rows_done INTEGER NOT NULL,  -- items (records and bad records) settled, counted from the start
    state TEXT NOT NULL CHECK (state IN ('active', 'done')),
    published INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (connector, hash, size)
) WITHOUT ROWID;

-- Cursors and watermarks of network connectors.
CREATE TABLE IF NOT EXISTS positions (
    connector TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (connector, name)
) WITHOUT ROWID;

-- Messages accepted while the broker could not take them, drained in seq order.
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    connector TEXT NOT NULL,
    target INTEGER NOT NULL,     -- 0 events exchange, 1 dead-letter exchange
    routing_key TEXT NOT NULL,
    message_id BLOB,
    properties BLOB NOT NULL,    -- AMQP properties as JSON
    body BLOB NOT NULL,
    stored INTEGER NOT NULL
);

-- The dedupe window: ids of messages the broker confirmed.
CREATE TABLE IF NOT EXISTS confirmed (
    id BLOB PRIMARY KEY,
    at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS confirmed_at ON confirmed (at);

-- The dead-letter index: every bad record, kept for ops to list, fix and replay.
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL UNIQUE,    -- the dead letter's message id: the same bad record keeps one row
    connector TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    stage TEXT NOT NULL,
    error TEXT NOT NULL,
    raw BLOB NOT NULL,
    decoded TEXT,                -- the decoded record (JSON object), or the column names (array)
    mapping TEXT,
    mapping_version TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed'))
);
CREATE INDEX IF NOT EXISTS dead_letters_by_connector ON dead_letters (connector, last_at);
";

/// Creates missing tables and records the schema version.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLES)?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema', ?1)
         ON CONFLICT (key) DO NOTHING",
        [VERSION.to_string()],
    )?;
    Ok(())
}

/// An in-memory database with the schema, for the tests of the store's modules.
#[cfg(test)]
pub(super) fn test_connection() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    migrate(&conn).expect("schema");
    conn
}
