//! The file ledger: which file contents a file connector has taken, how far each got (items settled
//! from the start, so a half-processed file resumes after its last confirmed row) and whether it is
//! done (so the same content dropped again is recognised).

use super::now_unix;
use rusqlite::{Connection, OptionalExtension, params};
use std::io::Read;
use std::path::Path;

/// A file's identity: its connector and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    pub connector: String,
    pub hash: [u8; 32],
    pub size: u64,
}

impl FileKey {
    /// Hashes `path`'s content (streaming; the file is never held in memory).
    pub fn of_file(connector: &str, path: &Path) -> std::io::Result<Self> {
        let mut hasher = blake3::Hasher::new();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Self {
            connector: connector.to_string(),
            hash: *hasher.finalize().as_bytes(),
            size,
        })
    }

    /// The short hex form of the content hash, for logs and `offsets show`.
    pub fn short_hash(&self) -> String {
        hex(&self.hash[..8])
    }
}

/// What the ledger knows of a file content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never taken.
    New,
    /// Taken before and not finished: resume after `rows_done` items.
    Active { rows_done: u64 },
    /// Finished before (from `path`, at `updated`, Unix seconds).
    Done { path: String, updated: i64 },
}

/// One ledger row, for `omnibus offsets show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub connector: String,
    pub hash: String,
    pub size: u64,
    pub path: String,
    pub rows_done: u64,
    pub state: String,
    pub published: u64,
    pub failed: u64,
    pub updated: i64,
}

pub fn lookup(conn: &Connection, key: &FileKey) -> rusqlite::Result<Seen> {
    let row = conn
        .query_row(
            "SELECT state, rows_done, path, updated FROM files
             WHERE connector = ?1 AND hash = ?2 AND size = ?3",
            params![key.connector, key.hash, to_i64(key.size)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        None => Seen::New,
        Some((state, rows_done, _, _)) if state == "active" => Seen::Active {
            rows_done: u64::try_from(rows_done).unwrap_or(0),
        },
        Some((_, _, path, updated)) => Seen::Done { path, updated },
    })
}

/// Records that `key` is being taken from `path`, keeping `rows_done` of an earlier attempt (a
/// finished file taken again starts over).
pub fn begin(conn: &Connection, key: &FileKey, path: &str) -> rusqlite::Result<()> {
    let now = now_unix();
    conn.execute(
        "INSERT INTO files (connector, hash, size, path, rows_done, state, first_seen, updated)
         VALUES (?1, ?2, ?3, ?4, 0, 'active', ?5, ?5)
         ON CONFLICT (connector, hash, size) DO UPDATE SET
             path = excluded.path,
             rows_done = CASE WHEN state = 'done' THEN 0 ELSE rows_done END,
             state = 'active', updated = excluded.updated",
        params![key.connector, key.hash, to_i64(key.size), path, now],
    )?;
    Ok(())
}

/// Records that the first `rows_done` items of the file are settled.
pub fn checkpoint(conn: &Connection, key: &FileKey, rows_done: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE files SET rows_done = MAX(rows_done, ?4), updated = ?5
         WHERE connector = ?1 AND hash = ?2 AND size = ?3",
        params![
            key.connector,
            key.hash,
            to_i64(key.size),
            to_i64(rows_done),
            now_unix()
        ],
    )?;
    Ok(())
}

/// Records that every item of the file is settled.
pub fn finish(
    conn: &Connection,
    key: &FileKey,
    rows: u64,
    published: u64,
    failed: u64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE files SET state = 'done', rows_done = ?4, published = ?5, failed = ?6, updated = ?7
         WHERE connector = ?1 AND hash = ?2 AND size = ?3",
        params![
            key.connector,
            key.hash,
            to_i64(key.size),
            to_i64(rows),
            to_i64(published),
            to_i64(failed),
            now_unix()
        ],
    )?;
    Ok(())
}

/// Every ledger row, or one connector's, most recent first.
pub fn list(conn: &Connection, connector: Option<&str>) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(
        "SELECT connector, hash, size, path, rows_done, state, published, failed, updated
         FROM files WHERE ?1 IS NULL OR connector = ?1 ORDER BY updated DESC, path",
    )?;
    let rows = stmt.query_map([connector], |r| {
        Ok(Entry {
            connector: r.get(0)?,
            hash: hex(&r.get::<_, Vec<u8>>(1)?),
            size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            path: r.get(3)?,
            rows_done: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
            state: r.get(5)?,
            published: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            failed: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
            updated: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// Forgets one file content (a refused file: once the connector is fixed, the same content is
/// taken again as new).
pub fn forget_file(conn: &Connection, key: &FileKey) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM files WHERE connector = ?1 AND hash = ?2 AND size = ?3",
        params![key.connector, key.hash, to_i64(key.size)],
    )?;
    Ok(())
}

/// Forgets a connector's ledger (every file is new again); returns how many rows went.
pub fn forget(conn: &Connection, connector: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM files WHERE connector = ?1", [connector])
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        super::super::schema::test_connection()
    }

    fn key() -> FileKey {
        FileKey {
            connector: "pos".into(),
            hash: [7; 32],
            size: 10,
        }
    }

    #[test]
    fn a_file_goes_new_active_done_and_restarts_from_zero_when_taken_again() {
        let c = conn();
        assert_eq!(lookup(&c, &key()).unwrap(), Seen::New);
        begin(&c, &key(), "/in/a.csv").unwrap();
        checkpoint(&c, &key(), 40).unwrap();
        checkpoint(&c, &key(), 30).unwrap();
        assert_eq!(lookup(&c, &key()).unwrap(), Seen::Active { rows_done: 40 });
        begin(&c, &key(), "/in/a.csv").unwrap();
        assert_eq!(lookup(&c, &key()).unwrap(), Seen::Active { rows_done: 40 });
        finish(&c, &key(), 50, 49, 1).unwrap();
        assert!(
            matches!(lookup(&c, &key()).unwrap(), Seen::Done { path, .. } if path == "/in/a.csv")
        );
        begin(&c, &key(), "/in/b.csv").unwrap();
        assert_eq!(lookup(&c, &key()).unwrap(), Seen::Active { rows_done: 0 });
        assert_eq!(list(&c, Some("pos")).unwrap()[0].path, "/in/b.csv");
        assert!(list(&c, Some("other")).unwrap().is_empty());
    }

    #[test]
    fn the_key_is_the_content_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x,y\n1,2\n").unwrap();
        std::fs::write(dir.path().join("b"), "x,y\n1,2\n").unwrap();
        std::fs::write(dir.path().join("c"), "x,y\n1,3\n").unwrap();
        let a = FileKey::of_file("pos", &dir.path().join("a")).unwrap();
        assert_eq!(a, FileKey::of_file("pos", &dir.path().join("b")).unwrap());
        assert_ne!(a, FileKey::of_file("pos", &dir.path().join("c")).unwrap());
        assert_eq!(a.size, 8);
    }
}
