//! The dead-letter index: every bad record kept locally (besides its message on the dead-letter
//! exchange) with its raw bytes, decoded form, error, mapping version, origin and attempt count, so
//! ops can list, inspect, fix the mapping and replay.

use super::now_unix;
use rusqlite::{Connection, OptionalExtension, params};

/// A dead letter as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLetter {
    /// The dead letter's message id: the same bad record read again keeps one row.
    pub key: [u8; 16],
    pub connector: String,
    pub file: String,
    pub line: u64,
    pub offset: u64,
    /// Where in a structured input the record sits ([`crate::format::record::Origin::locator`]).
    pub locator: Option<String>,
    pub stage: String,
    pub error: String,
    pub raw: Vec<u8>,
    /// The decoded record as a JSON object, when decoding succeeded.
    pub decoded: Option<String>,
    pub mapping: Option<String>,
    pub mapping_version: Option<String>,
}

/// Records a dead letter; the same record failing again counts one more attempt and keeps the
/// latest error.
pub fn record(conn: &Connection, letter: &NewLetter) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO dead_letters (key, connector, file, line, offset, stage, error, raw, decoded,
                                   mapping, mapping_version, first_at, last_at, locator)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)
         ON CONFLICT (key) DO UPDATE SET
             attempts = attempts + 1, stage = excluded.stage, error = excluded.error,
             decoded = excluded.decoded, mapping = excluded.mapping,
             mapping_version = excluded.mapping_version, last_at = excluded.last_at,
             status = 'open'",
    )?;
    stmt.execute(params![
        letter.key,
        letter.connector,
        letter.file,
        i64::try_from(letter.line).unwrap_or(i64::MAX),
        i64::try_from(letter.offset).unwrap_or(i64::MAX),
        letter.stage,
        letter.error,
        letter.raw,
        letter.decoded,
        letter.mapping,
        letter.mapping_version,
        now_unix(),
        letter.locator
    ])?;
    Ok(())
}

/// Whether a letter still waits for a fix or was replayed successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Replayed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Replayed => "replayed",
        }
    }
}

/// Which statuses a query selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    Open,
    Replayed,
    All,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Self::Open),
            "replayed" => Ok(Self::Replayed),
            "all" => Ok(Self::All),
            _ => Err(format!("unknown status \"{s}\"; use open, replayed or all")),
        }
    }
}

impl StatusFilter {
    fn sql(self) -> Option<&'static str> {
        match self {
            Self::Open => Some("open"),
            Self::Replayed => Some("replayed"),
            Self::All => None,
        }
    }
}

/// Which letters a query selects; every condition given must hold. Letters come oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub connector: Option<String>,
    /// Letters that failed last at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Letters whose error contains this text (ASCII case-insensitive).
    pub error: Option<String>,
    /// Letters that failed last at this stage (`decode`, `map`, `validate`, `encode`).
    pub stage: Option<String>,
    /// Only these letters (all of them when empty).
    pub ids: Vec<i64>,
    pub status: StatusFilter,
    /// At most this many letters.
    pub limit: Option<u64>,
    /// Only letters with an id above this one (paging).
    pub after: Option<i64>,
}

/// One dead letter as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Letter {
    pub id: i64,
    /// The dead letter's message id on the dead-letter exchange.
    pub message_id: String,
    pub connector: String,
    pub file: String,
    pub line: u64,
    pub offset: u64,
    /// Where in a structured input the record sits (element path, message and segment, sheet
    /// and row); `null` for line-based formats.
    pub locator: Option<String>,
    pub stage: String,
    pub error: String,
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// The decoded record (JSON text; embedded as JSON when serialized).
    #[serde(serialize_with = "as_json")]
    pub decoded: Option<String>,
    pub mapping: Option<String>,
    pub mapping_version: Option<String>,
    pub attempts: u32,
    /// When it first and last failed (Unix seconds).
    pub first_at: i64,
    pub last_at: i64,
    pub status: Status,
}

const COLUMNS: &str = "id, key, connector, file, line, offset, stage, error, raw, decoded, mapping,
                       mapping_version, attempts, first_at, last_at, status, locator";

const MATCHES: &str = "(?1 IS NULL OR connector = ?1) AND (?2 IS NULL OR last_at >= ?2)
     AND (?3 IS NULL OR instr(lower(error), lower(?3)) > 0) AND (?4 IS NULL OR status = ?4)
     AND (?5 IS NULL OR id > ?5) AND (?7 IS NULL OR id IN (SELECT value FROM json_each(?7)))
     AND (?8 IS NULL OR stage = ?8)";

/// The letters `filter` selects, oldest first.
pub fn list(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Letter>> {
    let sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE {MATCHES} ORDER BY id LIMIT ?6");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(filter_params(filter), letter)?;
    rows.collect()
}

/// How many letters `filter` selects.
pub fn count(conn: &Connection, filter: &Filter) -> rusqlite::Result<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT id FROM dead_letters WHERE {MATCHES} ORDER BY id LIMIT ?6)"
    );
    let n: i64 = conn.query_row(&sql, filter_params(filter), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The connectors of the letters `filter` selects.
pub fn connectors(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT connector FROM
             (SELECT connector FROM dead_letters WHERE {MATCHES} ORDER BY id LIMIT ?6)
         ORDER BY connector"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(filter_params(filter), |r| r.get(0))?;
    rows.collect()
}

/// How many letters `filter` selects, per connector (in connector order).
pub fn counts(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<(String, u64)>> {
    let sql = format!(
        "SELECT connector, COUNT(*) FROM
             (SELECT connector FROM dead_letters WHERE {MATCHES} ORDER BY id LIMIT ?6)
         GROUP BY connector ORDER BY connector"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(filter_params(filter), |r| {
        Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
    })?;
    rows.collect()
}

/// Deletes the letters `filter` selects; returns how many went.
pub fn purge(conn: &Connection, filter: &Filter) -> rusqlite::Result<usize> {
    let sql = format!(
        "DELETE FROM dead_letters WHERE id IN
             (SELECT id FROM dead_letters WHERE {MATCHES} ORDER BY id LIMIT ?6)"
    );
    conn.execute(&sql, filter_params(filter))
}

/// One letter by its id.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Letter>> {
    let sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE id = ?1");
    conn.query_row(&sql, [id], letter).optional()
}

/// Marks a letter replayed: its record was published (or is now filtered out by the mapping).
pub fn mark_replayed(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE dead_letters SET status = 'replayed' WHERE id = ?1",
        [id],
    )?;
    Ok(n == 1)
}

/// A replayed letter that failed again: one more attempt, with the new error and the mapping (name,
/// version) that failed on it.
pub fn failed_again(
    conn: &Connection,
    id: i64,
    stage: &str,
    error: &str,
    mapping: (&str, &str),
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE dead_letters SET attempts = attempts + 1, stage = ?2, error = ?3, mapping = ?4,
                                 mapping_version = ?5, last_at = ?6
         WHERE id = ?1",
        params![id, stage, error, mapping.0, mapping.1, now_unix()],
    )?;
    Ok(n == 1)
}

type FilterParams<'a> = (
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
    Option<&'static str>,
    Option<i64>,
    i64,
    Option<String>,
    Option<&'a str>,
);

fn filter_params(filter: &Filter) -> FilterParams<'_> {
    (
        filter.connector.as_deref(),
        filter.since,
        filter.error.as_deref(),
        filter.status.sql(),
        filter.after,
        filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
        (!filter.ids.is_empty()).then(|| serde_json::Value::from(filter.ids.clone()).to_string()),
        filter.stage.as_deref(),
    )
}

/// JSON text as the JSON it holds (as a string when it is not valid JSON).
fn as_json<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let raw = text
        .as_ref()
        .map(|t| serde_json::value::RawValue::from_string(t.clone()));
    match raw {
        Some(Ok(raw)) => raw.serialize(s),
        _ => text.serialize(s),
    }
}

fn letter(r: &rusqlite::Row<'_>) -> rusqlite::Result<Letter> {
    let key: Vec<u8> = r.get(1)?;
    let status: String = r.get(15)?;
    Ok(Letter {
        id: r.get(0)?,
        message_id: uuid::Uuid::from_slice(&key)
            .map(|u| u.to_string())
            .unwrap_or_default(),
        connector: r.get(2)?,
        file: r.get(3)?,
        line: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
        offset: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        stage: r.get(6)?,
        error: r.get(7)?,
        raw: r.get(8)?,
        decoded: r.get(9)?,
        mapping: r.get(10)?,
        mapping_version: r.get(11)?,
        attempts: u32::try_from(r.get::<_, i64>(12)?).unwrap_or(u32::MAX),
        first_at: r.get(13)?,
        last_at: r.get(14)?,
        locator: r.get(16)?,
        status: if status == "replayed" {
            Status::Replayed
        } else {
            Status::Open
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        super::super::schema::test_connection()
    }

    fn new_letter(n: u8, connector: &str, error: &str) -> NewLetter {
        NewLetter {
            key: [n; 16],
            connector: connector.into(),
            file: format!("/in/{n}.csv"),
            line: u64::from(n) + 1,
            offset: u64::from(n) * 10,
            locator: (n == 2).then(|| "/ORDERS05/IDOC[2]".to_string()),
            stage: "map".into(),
            error: error.into(),
            raw: vec![n, b'\n'],
            decoded: Some(format!("{{\"n\":\"{n}\"}}")),
            mapping: Some("pos_sales".into()),
            mapping_version: Some("abc".into()),
        }
    }

    /// Three letters: 1 (pos, old), 2 (pos), 3 (erp).
    fn three() -> Connection {
        let c = conn();
        record(&c, &new_letter(1, "pos", "field amount: not a decimal")).unwrap();
        record(&c, &new_letter(2, "pos", "field sku is required")).unwrap();
        record(&c, &new_letter(3, "erp", "Expected 12 fields, found 11")).unwrap();
        c.execute(
            "UPDATE dead_letters SET last_at = 1000 WHERE key = ?1",
            [[1u8; 16]],
        )
        .unwrap();
        c
    }

    fn ids(c: &Connection, filter: &Filter) -> Vec<i64> {
        list(c, filter).unwrap().iter().map(|l| l.id).collect()
    }

    #[test]
    fn a_stored_letter_reads_back_whole() {
        let c = three();
        let letter = get(&c, 2).unwrap().unwrap();
        assert_eq!(letter.connector, "pos");
        assert_eq!(
            (letter.file.as_str(), letter.line, letter.offset),
            ("/in/2.csv", 3, 20)
        );
        assert_eq!(letter.raw, b"\x02\n");
        assert_eq!(letter.decoded.as_deref(), Some("{\"n\":\"2\"}"));
        assert_eq!(letter.mapping_version.as_deref(), Some("abc"));
        assert_eq!(letter.locator.as_deref(), Some("/ORDERS05/IDOC[2]"));
        assert_eq!((letter.attempts, letter.status), (1, Status::Open));
        assert_eq!(
            letter.message_id,
            uuid::Uuid::from_bytes([2; 16]).to_string()
        );
        let json = serde_json::to_value(&letter).unwrap();
        assert_eq!(json["decoded"], serde_json::json!({"n": "2"}));
        assert_eq!(json["status"], "open");
        assert_eq!(json["locator"], "/ORDERS05/IDOC[2]");
        assert!(json.get("raw").is_none());
        assert_eq!(get(&c, 99).unwrap(), None);
    }

    #[test]
    fn filters_combine_and_letters_come_oldest_first() {
        let c = three();
        assert_eq!(ids(&c, &Filter::default()), [1, 2, 3]);
        let pos = Filter {
            connector: Some("pos".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&c, &pos), [1, 2]);
        let recent = Filter {
            since: Some(now_unix() - 60),
            ..pos.clone()
        };
        assert_eq!(ids(&c, &recent), [2]);
        let error = Filter {
            error: Some("expected 12".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&c, &error), [3]);
        let page = Filter {
            after: Some(1),
            limit: Some(1),
            ..Filter::default()
        };
        assert_eq!(ids(&c, &page), [2]);
        assert_eq!(count(&c, &page).unwrap(), 1);
        assert_eq!(count(&c, &Filter::default()).unwrap(), 3);
        assert_eq!(connectors(&c, &Filter::default()).unwrap(), ["erp", "pos"]);
        assert_eq!(connectors(&c, &recent).unwrap(), ["pos"]);
    }

    #[test]
    fn letters_are_selected_by_stage_and_by_id_and_counted_per_connector() {
        let c = three();
        c.execute("UPDATE dead_letters SET stage = 'decode' WHERE id = 3", [])
            .unwrap();
        let map = Filter {
            stage: Some("map".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&c, &map), [1, 2]);
        let chosen = Filter {
            ids: vec![3, 1, 99],
            ..Filter::default()
        };
        assert_eq!(ids(&c, &chosen), [1, 3]);
        assert_eq!(
            counts(&c, &Filter::default()).unwrap(),
            [("erp".to_string(), 1), ("pos".to_string(), 2)]
        );
        assert_eq!(counts(&c, &map).unwrap(), [("pos".to_string(), 2)]);
    }

    #[test]
    fn replayed_letters_leave_the_open_list_and_reopen_when_they_fail_again_in_the_hub() {
        let c = three();
        assert!(mark_replayed(&c, 2).unwrap());
        let replayed = Filter {
            status: StatusFilter::Replayed,
            ..Filter::default()
        };
        assert_eq!(ids(&c, &replayed), [2]);
        assert_eq!(ids(&c, &Filter::default()), [1, 3]);
        let all = Filter {
            status: StatusFilter::All,
            ..Filter::default()
        };
        assert_eq!(ids(&c, &all), [1, 2, 3]);
        record(&c, &new_letter(2, "pos", "field sku is required")).unwrap();
        let again = get(&c, 2).unwrap().unwrap();
        assert_eq!((again.attempts, again.status), (2, Status::Open));
    }

    #[test]
    fn failing_again_counts_an_attempt_and_keeps_the_new_error_and_mapping() {
        let c = three();
        assert!(
            failed_again(
                &c,
                1,
                "map",
                "field qty: not a decimal",
                ("pos_sales", "def")
            )
            .unwrap()
        );
        let letter = get(&c, 1).unwrap().unwrap();
        assert_eq!(letter.attempts, 2);
        assert_eq!(letter.error, "field qty: not a decimal");
        assert_eq!(letter.mapping_version.as_deref(), Some("def"));
        assert!(letter.last_at > 1000);
        assert_eq!(letter.status, Status::Open);
        assert!(!failed_again(&c, 99, "map", "x", ("m", "v")).unwrap());
    }

    #[test]
    fn purge_deletes_what_the_filter_selects() {
        let c = three();
        let pos = Filter {
            connector: Some("pos".into()),
            limit: Some(1),
            ..Filter::default()
        };
        assert_eq!(purge(&c, &pos).unwrap(), 1);
        assert_eq!(ids(&c, &Filter::default()), [2, 3]);
        let replayed = Filter {
            status: StatusFilter::Replayed,
            ..Filter::default()
        };
        assert_eq!(purge(&c, &replayed).unwrap(), 0);
        assert_eq!(count(&c, &Filter::default()).unwrap(), 2);
    }

    #[test]
    fn status_filters_parse_from_their_names() {
        assert_eq!("all".parse::<StatusFilter>(), Ok(StatusFilter::All));
        assert_eq!("open".parse::<StatusFilter>(), Ok(StatusFilter::Open));
        assert!(
            "closed"
                .parse::<StatusFilter>()
                .unwrap_err()
                .contains("open, replayed or all")
        );
    }
}
