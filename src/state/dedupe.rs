//! The dedupe window: ids of messages the broker confirmed, kept for a configured time and count, so
//! a record read again (a resumed or re-dropped file, a replayed webhook) is not published twice.

use super::now_unix;
use rusqlite::{Connection, params};
use std::collections::HashSet;

/// A message id as stored: the 16 bytes of its UUID.
pub type Id = [u8; 16];

/// Records ids as confirmed now (an id confirmed again keeps its first time).
pub fn record(conn: &Connection, ids: &[Id]) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO confirmed (id, at) VALUES (?1, ?2)")?;
    let now = now_unix();
    for id in ids {
        stmt.execute(params![id, now])?;
    }
    Ok(())
}

/// Which of `ids` are in the window.
pub fn seen(conn: &Connection, ids: &[Id]) -> rusqlite::Result<HashSet<Id>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM confirmed WHERE id = ?1")?;
    let mut found = HashSet::new();
    for id in ids {
        if stmt.exists([id])? {
            found.insert(*id);
        }
    }
    Ok(found)
}

/// Drops ids older than `max_age_secs`, then the oldest beyond `max_count`; returns how many went.
pub fn prune(conn: &Connection, max_age_secs: i64, max_count: u64) -> rusqlite::Result<usize> {
    let by_age = conn.execute(
        "DELETE FROM confirmed WHERE at < ?1",
        [now_unix().saturating_sub(max_age_secs)],
    )?;
    let by_count = conn.execute(
        "DELETE FROM confirmed WHERE id IN (
             SELECT id FROM confirmed ORDER BY at DESC LIMIT -1 OFFSET ?1)",
        params![i64::try_from(max_count).unwrap_or(i64::MAX)],
    )?;
    Ok(by_age + by_count)
}

/// How many ids the window holds.
pub fn len(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM confirmed", [], |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_ids_are_seen_until_pruned() {
        let c = super::super::schema::test_connection();
        record(&c, &[[1; 16], [2; 16]]).unwrap();
        record(&c, &[[2; 16]]).unwrap();
        let seen = seen(&c, &[[1; 16], [3; 16]]).unwrap();
        assert!(seen.contains(&[1; 16]) && !seen.contains(&[3; 16]));
        assert_eq!(len(&c).unwrap(), 2);
        assert_eq!(prune(&c, 3600, 1).unwrap(), 1);
        assert_eq!(len(&c).unwrap(), 1);
        assert_eq!(prune(&c, -10, 10).unwrap(), 1);
        assert_eq!(len(&c).unwrap(), 0);
    }
}
