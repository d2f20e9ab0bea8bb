//! The outbox's rows: messages the hub accepted (and acknowledged to their source) while the broker
//! could not take them, kept until the broker confirms them, drained in `seq` order.

use super::now_unix;
use rusqlite::{Connection, params};

/// One stored message, independent of the AMQP client's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub connector: String,
    /// 0: the events exchange; 1: the dead-letter exchange.
    pub target: u8,
    pub routing_key: String,
    pub message_id: Option<[u8; 16]>,
    /// The AMQP properties, as JSON.
    pub properties: Vec<u8>,
    pub body: Vec<u8>,
}

impl Row {
    /// What the row weighs against the outbox's size limit.
    pub fn bytes(&self) -> u64 {
        (self.body.len() + self.properties.len() + self.routing_key.len()) as u64
    }
}

/// Depth of the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Depth {
    pub messages: u64,
    pub bytes: u64,
    /// When the oldest message was stored (Unix seconds).
    pub oldest: Option<i64>,
}

/// Appends rows in order; returns their sequence numbers.
pub fn append(conn: &Connection, rows: &[Row]) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outbox (connector, target, routing_key, message_id, properties, body, stored)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let now = now_unix();
    let mut seqs = Vec::with_capacity(rows.len());
    for row in rows {
        stmt.execute(params![
            row.connector,
            row.target,
            row.routing_key,
            row.message_id,
            row.properties,
            row.body,
            now
        ])?;
        seqs.push(conn.last_insert_rowid());
    }
    Ok(seqs)
}

/// Up to `limit` rows after `after`, oldest first.
pub fn next(conn: &Connection, after: i64, limit: usize) -> rusqlite::Result<Vec<(i64, Row)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, connector, target, routing_key, message_id, properties, body
         FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok((
                r.get(0)?,
                Row {
                    connector: r.get(1)?,
                    target: r.get(2)?,
                    routing_key: r.get(3)?,
                    message_id: r.get(4)?,
                    properties: r.get(5)?,
                    body: r.get(6)?,
                },
            ))
        },
    )?;
    rows.collect()
}

/// Removes delivered rows.
pub fn delete(conn: &Connection, seqs: &[i64]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
    for seq in seqs {
        stmt.execute([seq])?;
    }
    Ok(())
}

/// The outbox's depth (a scan: call it at startup and for status, not per message).
pub fn depth(conn: &Connection) -> rusqlite::Result<Depth> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(length(body) + length(properties) + length(routing_key)), 0),
                MIN(stored)
         FROM outbox",
        [],
        |r| {
            Ok(Depth {
                messages: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                bytes: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                oldest: r.get(2)?,
            })
        },
    )
}

/// When the oldest message was stored (Unix seconds); `None` when the outbox is empty. Cheap: the
/// first row in `seq` order.
pub fn oldest(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let mut stmt = conn.prepare_cached("SELECT stored FROM outbox ORDER BY seq LIMIT 1")?;
    let mut rows = stmt.query([])?;
    rows.next()?.map(|r| r.get(0)).transpose()
}

/// Per-connector message counts, for `omnibus offsets show`, the admin API and `/metrics`.
pub fn per_connector(conn: &Connection) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut stmt = conn
        .prepare("SELECT connector, COUNT(*) FROM outbox GROUP BY connector ORDER BY connector")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u8) -> Row {
        Row {
            connector: "pos".into(),
            target: 0,
            routing_key: "retail.sale".into(),
            message_id: Some([n; 16]),
            properties: b"{}".to_vec(),
            body: vec![n; 10],
        }
    }

    #[test]
    fn rows_drain_in_order_and_go_once_deleted() {
        let c = super::super::schema::test_connection();
        let seqs = append(&c, &[row(1), row(2), row(3)]).unwrap();
        assert_eq!(depth(&c).unwrap().messages, 3);
        assert_eq!(depth(&c).unwrap().bytes, 3 * (10 + 2 + 11));
        let first = next(&c, 0, 2).unwrap();
        assert_eq!(
            first.iter().map(|r| r.1.body[0]).collect::<Vec<_>>(),
            [1, 2]
        );
        let rest = next(&c, first[1].0, 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].1, row(3));
        delete(&c, &seqs[..2]).unwrap();
        assert_eq!(depth(&c).unwrap().messages, 1);
        assert_eq!(per_connector(&c).unwrap(), vec![("pos".to_string(), 1)]);
    }
}
