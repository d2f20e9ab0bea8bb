//! One result row made into a record: a tree of column name → value as text — integers and
//! decimals exact (`NUMERIC`/`DECIMAL` as written, scale kept), floats in their shortest exact
//! form, booleans `true`/`false`, instants (`TIMESTAMPTZ`, MySQL `TIMESTAMP`) RFC 3339 in UTC
//! (`2024-03-01T08:00:00Z`), naive `TIMESTAMP`/`DATETIME` as written without an offset
//! (`2024-03-01T08:00:00`), dates `YYYY-MM-DD`, times `HH:MM:SS[.f]`, JSON and UUIDs as text,
//! bytes base64, NULL as JSON null — with the row's key (timestamp, id) for the watermark.
//!
//! Columns are read by their type's name; a column of another type (a geometry, an array, a
//! range...) makes the row unreadable: it is dead-lettered with a reason that says to cast it.

use super::query::Dialect;
use super::watermark::{Key, Stamp};
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::{Column, Row, Type, TypeInfo, ValueRef};

/// How a column's values are read, from its type's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    I16,
    I32,
    I64,
    U64,
    F32,
    F64,
    Decimal,
    Text,
    /// PostgreSQL `JSONB`: a version byte, then the JSON text.
    Jsonb,
    Uuid,
    Zoned,
    Naive,
    Date,
    Time,
    Bytes,
}

fn kind(dialect: Dialect, type_name: &str) -> Option<Kind> {
    match dialect {
        Dialect::Postgres => pg_kind(type_name),
        Dialect::Mysql => mysql_kind(type_name),
    }
}

fn pg_kind(type_name: &str) -> Option<Kind> {
    Some(match type_name {
        "BOOL" => Kind::Bool,
        "INT2" => Kind::I16,
        "INT4" => Kind::I32,
        "INT8" => Kind::I64,
        "FLOAT4" => Kind::F32,
        "FLOAT8" => Kind::F64,
        "NUMERIC" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "NAME" | "JSON" => Kind::Text,
        "JSONB" => Kind::Jsonb,
        "UUID" => Kind::Uuid,
        "TIMESTAMPTZ" => Kind::Zoned,
        "TIMESTAMP" => Kind::Naive,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "BYTEA" => Kind::Bytes,
        _ => return None,
    })
}

fn mysql_kind(type_name: &str) -> Option<Kind> {
    Some(match type_name {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Kind::I64,
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" | "YEAR" => Kind::U64,
        "FLOAT" => Kind::F32,
        "DOUBLE" => Kind::F64,
        "DECIMAL" => Kind::Decimal,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "JSON" => Kind::Text,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => Kind::Bytes,
        "TIMESTAMP" => Kind::Zoned,
        "DATETIME" => Kind::Naive,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        _ => return None,
    })
}

/// One value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Stamp(Stamp),
    Text(String),
}

impl Cell {
    fn into_json(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::String(n.to_string()),
            Cell::Stamp(s) => Value::String(s.to_string()),
            Cell::Text(t) => Value::String(t),
        }
    }
}

/// A result row of either database.
pub trait SqlRow {
    /// The names of the row's columns.
    fn names(&self) -> Vec<String>;
    /// Reads column `i` as its type says; `Err` with the reason it cannot be.
    fn cell(&self, i: usize, dialect: Dialect) -> Result<Cell, String>;
}

/// Implements [`SqlRow`] for a database's row type (the calls are the same; the trait bounds
/// would not be).
macro_rules! sql_row {
    ($row:ty, $unsigned:expr) => {
        impl SqlRow for $row {
            fn names(&self) -> Vec<String> {
                self.columns().iter().map(|c| c.name().to_string()).collect()
            }

            fn cell(&self, i: usize, dialect: Dialect) -> Result<Cell, String> {
                let raw = self.try_get_raw(i).map_err(|e| e.to_string())?;
                if raw.is_null() {
                    return Ok(Cell::Null);
                }
                let type_info = self.columns()[i].type_info();
                let name = type_info.name();
                let Some(kind) = kind(dialect, name) else {
                    return Err(format!(
                        "has type {name}, which Omnibus does not read; cast it in a custom query \
                         (CAST(column AS CHAR) on MySQL/MariaDB, column::text on PostgreSQL)"
                    ));
                };
                let text_bytes =
                    kind == Kind::Bytes && <String as Type<<$row as Row>::Database>>::compatible(type_info);
                let get = |e: sqlx::Error| e.to_string();
                Ok(match kind {
                    _ if text_bytes => Cell::Text(self.try_get_unchecked(i).map_err(get)?),
                    Kind::Bool => Cell::Text(self.try_get_unchecked::<bool, _>(i).map_err(get)?.to_string()),
                    Kind::I16 => Cell::Int(self.try_get_unchecked::<i16, _>(i).map_err(get)?.into()),
                    Kind::I32 => Cell::Int(self.try_get_unchecked::<i32, _>(i).map_err(get)?.into()),
                    Kind::I64 => Cell::Int(self.try_get_unchecked(i).map_err(get)?),
                    Kind::U64 => $unsigned(self, i)?,
                    Kind::F32 => Cell::Text(self.try_get_unchecked::<f32, _>(i).map_err(get)?.to_string()),
                    Kind::F64 => Cell::Text(self.try_get_unchecked::<f64, _>(i).map_err(get)?.to_string()),
                    Kind::Decimal => Cell::Text(self.try_get_unchecked::<Decimal, _>(i).map_err(get)?.to_string()),
                    Kind::Text => Cell::Text(self.try_get_unchecked(i).map_err(get)?),
                    Kind::Jsonb => jsonb(self.try_get_unchecked(i).map_err(get)?)?,
                    Kind::Uuid => uuid(self.try_get_unchecked(i).map_err(get)?)?,
                    Kind::Zoned => {
                        let at: DateTime<Utc> = self.try_get_unchecked(i).map_err(get)?;
                        Cell::Stamp(Stamp { at: at.naive_utc(), zoned: true })
                    }
                    Kind::Naive => {
                        let at: NaiveDateTime = self.try_get_unchecked(i).map_err(get)?;
                        Cell::Stamp(Stamp { at, zoned: false })
                    }
                    Kind::Date => Cell::Text(self.try_get_unchecked::<NaiveDate, _>(i).map_err(get)?.to_string()),
                    Kind::Time => Cell::Text(self.try_get_unchecked::<NaiveTime, _>(i).map_err(get)?.to_string()),
                    Kind::Bytes => {
                        let bytes: Vec<u8> = self.try_get_unchecked(i).map_err(get)?;
                        Cell::Text(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                })
            }
        }
    };
}

sql_row!(MySqlRow, |row: &MySqlRow, i| row
    .try_get_unchecked::<u64, _>(i)
    .map(unsigned)
    .map_err(|e| e.to_string()));
sql_row!(PgRow, |_: &PgRow, _| Err::<Cell, String>(
    "is unsigned, which PostgreSQL has not".to_string()
));

/// An unsigned integer: exact as text, and usable as an id when it fits an `i64`.
fn unsigned(n: u64) -> Cell {
    i64::try_from(n).map_or_else(|_| Cell::Text(n.to_string()), Cell::Int)
}

fn jsonb(bytes: Vec<u8>) -> Result<Cell, String> {
    match bytes.split_first() {
        Some((1, text)) => String::from_utf8(text.to_vec())
            .map(Cell::Text)
            .map_err(|e| e.to_string()),
        _ => Err("is JSONB in an unknown binary version; cast it (column::text)".to_string()),
    }
}

fn uuid(bytes: Vec<u8>) -> Result<Cell, String> {
    uuid::Uuid::from_slice(&bytes)
        .map(|u| Cell::Text(u.to_string()))
        .map_err(|e| e.to_string())
}

/// Where the key columns sit in the rows of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumns {
    pub ts: usize,
    pub id: usize,
}

/// Why the rows of a query cannot be followed by the watermark: the connector's settings do not
/// fit its table or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the query returns no column \"{0}\"; name it in timestamp_column/id_column or select it"
    )]
    Missing(String),
    #[error(
        "timestamp_column \"{column}\" {reason}; it must be a TIMESTAMP, TIMESTAMPTZ or DATETIME \
         column without NULLs"
    )]
    Timestamp { column: String, reason: String },
    #[error(
        "id_column \"{column}\" {reason}; it must be an integer column (INT, BIGINT, SERIAL) \
         without NULLs"
    )]
    Id { column: String, reason: String },
}

impl KeyColumns {
    /// Finds the key columns among `names`.
    pub fn find(names: &[String], ts: &str, id: &str) -> Result<Self, KeyError> {
        let at = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| KeyError::Missing(name.to_string()))
        };
        Ok(Self {
            ts: at(ts)?,
            id: at(id)?,
        })
    }
}

/// A row read: its key, and its record body or the reason it cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRow {
    pub key: Key,
    /// Whether the key's timestamp is an instant.
    pub zoned: bool,
    pub id: i64,
    pub body: Result<Value, Unreadable>,
}

/// A row with a column that cannot be read: the columns that could, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub partial: Value,
    pub reason: String,
}

/// Reads a row's key and values; a key that cannot be read is the connector's problem (its
/// settings do not fit), a value that cannot be read only the row's.
pub fn read<R: SqlRow>(
    row: &R,
    names: &[String],
    keys: &KeyColumns,
    dialect: Dialect,
) -> Result<ReadRow, KeyError> {
    let ts = match row.cell(keys.ts, dialect) {
        Ok(Cell::Stamp(stamp)) => stamp,
        other => {
            return Err(KeyError::Timestamp {
                column: names[keys.ts].clone(),
                reason: key_reason(other),
            });
        }
    };
    let id = match row.cell(keys.id, dialect) {
        Ok(Cell::Int(id)) => id,
        other => {
            return Err(KeyError::Id {
                column: names[keys.id].clone(),
                reason: key_reason(other),
            });
        }
    };
    let mut fields = Map::with_capacity(names.len());
    let mut failed = None;
    for (i, name) in names.iter().enumerate() {
        let value = match row.cell(i, dialect) {
            Ok(cell) => cell.into_json(),
            Err(reason) => {
                failed.get_or_insert_with(|| format!("column \"{name}\" {reason}"));
                Value::Null
            }
        };
        fields.insert(name.clone(), value);
    }
    let body = match failed {
        None => Ok(Value::Object(fields)),
        Some(reason) => Err(Unreadable {
            partial: Value::Object(fields),
            reason,
        }),
    };
    Ok(ReadRow {
        key: (ts.at, id),
        zoned: ts.zoned,
        id,
        body,
    })
}

fn key_reason(cell: Result<Cell, String>) -> String {
    match cell {
        Ok(Cell::Null) => "is NULL in a row".to_string(),
        Ok(Cell::Int(_)) => "holds integers".to_string(),
        Ok(Cell::Stamp(_)) => "holds timestamps".to_string(),
        Ok(Cell::Text(_)) => "holds neither integers nor timestamps".to_string(),
        Err(reason) => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_by_name_per_database() {
        assert_eq!(kind(Dialect::Postgres, "NUMERIC"), Some(Kind::Decimal));
        assert_eq!(kind(Dialect::Postgres, "TIMESTAMPTZ"), Some(Kind::Zoned));
        assert_eq!(kind(Dialect::Postgres, "INT4"), Some(Kind::I32));
        assert_eq!(kind(Dialect::Postgres, "POINT"), None);
        assert_eq!(kind(Dialect::Mysql, "DATETIME"), Some(Kind::Naive));
        assert_eq!(kind(Dialect::Mysql, "TIMESTAMP"), Some(Kind::Zoned));
        assert_eq!(kind(Dialect::Mysql, "BIGINT UNSIGNED"), Some(Kind::U64));
        assert_eq!(kind(Dialect::Mysql, "GEOMETRY"), None);
    }

    #[test]
    fn values_become_text() {
        assert_eq!(unsigned(u64::MAX), Cell::Text(u64::MAX.to_string()));
        assert_eq!(unsigned(7), Cell::Int(7));
        assert_eq!(
            jsonb(b"\x01{\"a\":1}".to_vec()),
            Ok(Cell::Text("{\"a\":1}".into()))
        );
        let id = uuid(vec![0x11; 16]).unwrap();
        assert_eq!(
            id,
            Cell::Text("11111111-1111-1111-1111-111111111111".into())
        );
        let stamp = Stamp::parse("2024-03-01T08:00:00Z").unwrap();
        assert_eq!(
            Cell::Stamp(stamp).into_json(),
            Value::from("2024-03-01T08:00:00Z")
        );
        assert_eq!(Cell::Int(-4).into_json(), Value::from("-4"));
        assert_eq!(Cell::Null.into_json(), Value::Null);
    }

    #[test]
    fn key_columns_must_be_selected() {
        let names = ["id".to_string(), "at".to_string()];
        assert_eq!(
            KeyColumns::find(&names, "at", "id"),
            Ok(KeyColumns { ts: 1, id: 0 })
        );
        let err = KeyColumns::find(&names, "updated_at", "id").unwrap_err();
        assert!(
            err.to_string().contains("no column \"updated_at\""),
            "{err}"
        );
    }
}
