//! The store's tables. `migrate` creates what is missing; `meta.schema` records the version so a
//! later release can tell which changes an old file needs.

use rusqlite::Connection;

/// The schema version this build writes. 2: `dead_letters.locator`.
const VERSION: i64 = 2;

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
    locator TEXT,                -- where in a structured input: element path, message, sheet row
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

/// Creates missing tables and columns and records the schema version.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLES)?;
    if !has_column(conn, "dead_letters", "locator")? {
        conn.execute_batch("ALTER TABLE dead_letters ADD COLUMN locator TEXT")?;
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [VERSION.to_string()],
    )?;
    Ok(())
}

/// Whether `table` (created by a build of any version) has `column`.
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        if name? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// An in-memory database with the schema, for the tests of the store's modules.
#[cfg(test)]
pub(super) fn test_connection() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    migrate(&conn).expect("schema");
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_store_gains_the_locator_column() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
             INSERT INTO meta VALUES ('schema', '1');
             CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE,
                 connector TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL,
                 offset INTEGER NOT NULL, stage TEXT NOT NULL, error TEXT NOT NULL,
                 raw BLOB NOT NULL, decoded TEXT, mapping TEXT, mapping_version TEXT,
                 attempts INTEGER NOT NULL DEFAULT 1, first_at INTEGER NOT NULL,
                 last_at INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'open');
             INSERT INTO dead_letters (key, connector, file, line, offset, stage, error, raw,
                 first_at, last_at) VALUES (x'01', 'pos', 'a.csv', 2, 9, 'map', 'e', x'00', 1, 1);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        assert!(has_column(&conn, "dead_letters", "locator").unwrap());
        let locator: Option<String> = conn
            .query_row("SELECT locator FROM dead_letters", [], |r| r.get(0))
            .unwrap();
        assert_eq!(locator, None);
        let version: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, "2");
    }
}
