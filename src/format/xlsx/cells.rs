//! Cell values as the text a record holds, and the names of cells (`C7`, `'Q3 Orders'!C7`).
//!
//! Excel keeps numbers as binary floats and dates as day counts; a record holds text, so each
//! value is written the way a mapping can parse it without knowing Excel: numbers in their
//! shortest exact form (`12.5`; an integral value without `.0`), booleans `true`/`false`, dates and
//! date-times in ISO 8601 without an offset (Excel has no time zone), durations as ISO 8601
//! durations (`PT36H5M`).

use calamine::{CellErrorType, DataRef, ExcelDateTime};

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// One cell's content, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// An error value (`#DIV/0!`, `#N/A`): the formula that made it failed.
    Error(CellErrorType),
}

impl Value {
    /// Whether the cell holds nothing (an error is something).
    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Text(text) if text.is_empty())
    }

    /// The text a record holds: an error as Excel shows it.
    pub fn into_text(self) -> String {
        match self {
            Value::Text(text) => text,
            Value::Error(error) => error.to_string(),
        }
    }
}

/// The value calamine read, as text.
pub fn value(data: DataRef<'_>) -> Value {
    Value::Text(match data {
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) => number(f),
        DataRef::String(s) => s,
        DataRef::SharedString(s) => s.to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => date_time(&dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
        DataRef::Error(e) => return Value::Error(e),
        DataRef::Empty => String::new(),
    })
}

/// The shortest text that reads back as the same float; `12`, not `12.0`; never `-0`.
pub fn number(f: f64) -> String {
    if f == 0.0 {
        return "0".to_string();
    }
    f.to_string()
}

/// A date (`2026-11-24`), a date-time (`2026-11-24T13:05:00`, with `.250` when it has
/// milliseconds), a time of day (`13:05:00`: a serial below 1, no date), or a duration.
fn date_time(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        return duration(dt.as_f64());
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    let time = if milli == 0 {
        format!("{hour:02}:{minute:02}:{second:02}")
    } else {
        format!("{hour:02}:{minute:02}:{second:02}.{milli:03}")
    };
    if (0.0..1.0).contains(&dt.as_f64()) {
        return time;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if (hour, minute, second, milli) == (0, 0, 0, 0) {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// An ISO 8601 duration from a number of days: `PT36H5M`, `PT0.5S`, `-PT1H`, `PT0S`.
fn duration(days: f64) -> String {
    let total = (days * DAY_MS).round();
    let sign = if total < 0.0 { "-" } else { "" };
    // Far beyond any duration Excel shows; the cast saturates rather than wraps.
    let ms = total.abs() as u64;
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let (seconds, milli) = (ms / 1000 % 60, ms % 1000);
    let mut out = format!("{sign}PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if milli > 0 {
        let fraction = format!("{milli:03}");
        out.push_str(&format!("{seconds}.{}S", fraction.trim_end_matches('0')));
    } else if seconds > 0 || ms == 0 {
        out.push_str(&format!("{seconds}S"));
    }
    out
}

/// The letters of a 0-based column: `A`, `Z`, `AA`, `XFD`.
pub fn column_name(column: u32) -> String {
    let mut n = u64::from(column) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A sheet's name as Excel writes it in a reference: quoted (`'Q3 Orders'`) unless it is one
/// word of letters, digits and `_` that does not start with a digit.
pub fn sheet_name(name: &str) -> String {
    let plain = name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// `Sheet1!C7` for the 0-based column and 1-based row; `sheet` as [`sheet_name`] writes it.
pub fn cell_ref(sheet: &str, column: u32, row: u32) -> String {
    format!("{sheet}!{}{row}", column_name(column))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    fn at(serial: f64) -> String {
        date_time(&ExcelDateTime::new(
            serial,
            ExcelDateTimeType::DateTime,
            false,
        ))
    }

    fn lasting(days: f64) -> String {
        date_time(&ExcelDateTime::new(
            days,
            ExcelDateTimeType::TimeDelta,
            false,
        ))
    }

    #[test]
    fn numbers_are_their_shortest_exact_text() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(number(1e-3), "0.001");
        assert_eq!(number(4_294_967_296.0), "4294967296");
    }

    #[test]
    fn dates_times_and_date_times_are_iso_8601_without_an_offset() {
        assert_eq!(at(46350.0), "2026-11-24");
        assert_eq!(
            at(46350.0 + 13.0 / 24.0 + 5.0 / 1440.0),
            "2026-11-24T13:05:00"
        );
        assert_eq!(at(45943.541), "2025-10-13T12:59:02.400");
        assert_eq!(at(0.5), "12:00:00");
        assert_eq!(
            date_time(&ExcelDateTime::new(
                44888.0,
                ExcelDateTimeType::DateTime,
                true
            )),
            "2026-11-24"
        );
    }

    #[test]
    fn durations_are_iso_8601_durations() {
        assert_eq!(lasting(1.5 + 5.0 / 1440.0), "PT36H5M");
        assert_eq!(lasting(0.0), "PT0S");
        assert_eq!(lasting(0.5 / 86_400.0), "PT0.5S");
        assert_eq!(lasting(-1.0 / 24.0), "-PT1H");
        assert_eq!(lasting(1.0 / 86_400.0 + 2.0 / 1440.0), "PT2M1S");
    }

    #[test]
    fn values_become_text_and_errors_stay_errors() {
        assert_eq!(value(DataRef::Int(7)), Value::Text("7".into()));
        assert_eq!(value(DataRef::Bool(false)), Value::Text("false".into()));
        assert_eq!(value(DataRef::SharedString("x")), Value::Text("x".into()));
        assert!(value(DataRef::Empty).is_empty());
        let error = value(DataRef::Error(CellErrorType::Div0));
        assert!(!error.is_empty());
        assert_eq!(error.into_text(), "#DIV/0!");
    }

    #[test]
    fn cells_are_named_as_excel_names_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16_383), "XFD");
        assert_eq!(cell_ref(&sheet_name("Sheet1"), 2, 7), "Sheet1!C7");
        assert_eq!(sheet_name("Q3 Orders"), "'Q3 Orders'");
        assert_eq!(sheet_name("2024"), "'2024'");
        assert_eq!(sheet_name("Bob's"), "'Bob''s'");
        assert_eq!(sheet_name("订单"), "订单");
    }
}
