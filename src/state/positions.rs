//! Positions of network connectors: named cursors and watermarks (`updated_at` high mark, a page
//! cursor, a consumer offset), saved only once the events derived before them are safe.

use super::now_unix;
use rusqlite::{Connection, OptionalExtension, params};

/// One saved position, for `omnibus offsets show`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub connector: String,
    pub name: String,
    pub value: String,
    pub updated: i64,
}

pub fn get(conn: &Connection, connector: &str, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM positions WHERE connector = ?1 AND name = ?2",
        params![connector, name],
        |r| r.get(0),
    )
    .optional()
}

pub fn set(conn: &Connection, connector: &str, name: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO positions (connector, name, value, updated) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (connector, name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        params![connector, name, value, now_unix()],
    )?;
    Ok(())
}

pub fn list(conn: &Connection, connector: Option<&str>) -> rusqlite::Result<Vec<Position>> {
    let mut stmt = conn.prepare(
        "SELECT connector, name, value, updated FROM positions
         WHERE ?1 IS NULL OR connector = ?1 ORDER BY connector, name",
    )?;
    let rows = stmt.query_map([connector], |r| {
        Ok(Position {
            connector: r.get(0)?,
            name: r.get(1)?,
            value: r.get(2)?,
            updated: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Forgets a connector's positions; returns how many went.
pub fn forget(conn: &Connection, connector: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM positions WHERE connector = ?1", [connector])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_list_forget() {
        let c = super::super::schema::test_connection();
        assert_eq!(get(&c, "mall", "watermark").unwrap(), None);
        set(&c, "mall", "watermark", "2024-03-01T00:00:00Z").unwrap();
        set(&c, "mall", "watermark", "2024-03-02T00:00:00Z").unwrap();
        assert_eq!(
            get(&c, "mall", "watermark").unwrap().as_deref(),
            Some("2024-03-02T00:00:00Z")
        );
        assert_eq!(list(&c, None).unwrap().len(), 1);
        assert_eq!(forget(&c, "mall").unwrap(), 1);
        assert!(list(&c, Some("mall")).unwrap().is_empty());
    }
}
