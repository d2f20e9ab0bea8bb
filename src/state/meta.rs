//! Small facts about the store itself, by key: the schema version, and whether the hub that used it
//! last stopped cleanly (`running`), which tells a starting hub whether messages may be in doubt.

use rusqlite::{Connection, OptionalExtension, params};

/// Set to `1` while a hub runs, `0` once it stopped cleanly.
pub const RUNNING: &str = "running";

pub fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub fn set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// When the newest id in the dedupe window was confirmed (Unix seconds).
pub fn last_confirmed(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MAX(at) FROM confirmed", [], |r| r.get(0))
}
