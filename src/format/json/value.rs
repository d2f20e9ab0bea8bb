//! One JSON value read from the streaming reader into a tree, and the reader's errors in words.
//!
//! Numbers are kept as the text the file has (`12.50` stays `"12.50"`, `12345678901234567890123`
//! keeps every digit): a `serde_json::Value` number would turn `12.50` into `12.5` and round
//! integers past 2^64. Mappings read numbers as text anyway; strings, booleans and null keep their
//! JSON types. A member name given twice keeps its last value.

use serde_json::{Map, Value};
use struson::reader::{JsonReader, JsonReaderPosition, ReaderError, SyntaxErrorKind, ValueType};

/// Reads the next value, whole.
///
/// Recursion is bounded by the reader's nesting limit (128 levels).
pub fn read_value<J: JsonReader>(json: &mut J) -> Result<Value, ReaderError> {
    Ok(match json.peek()? {
        ValueType::Object => {
            json.begin_object()?;
            let mut members = Map::new();
            while json.has_next()? {
                let name = json.next_name_owned()?;
                members.insert(name, read_value(json)?);
            }
            json.end_object()?;
            Value::Object(members)
        }
        ValueType::Array => {
            json.begin_array()?;
            let mut items = Vec::new();
            while json.has_next()? {
                items.push(read_value(json)?);
            }
            json.end_array()?;
            Value::Array(items)
        }
        ValueType::String => Value::String(json.next_string()?),
        ValueType::Number => Value::String(json.next_number_as_string()?),
        ValueType::Boolean => Value::Bool(json.next_bool()?),
        ValueType::Null => {
            json.next_null()?;
            Value::Null
        }
    })
}

/// "an object", "an array", … for messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string or number",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

/// "an object", "an array", … of a value not read yet.
pub fn kind_of_type(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Object => "an object",
        ValueType::Array => "an array",
        ValueType::String => "a string",
        ValueType::Number => "a number",
        ValueType::Boolean => "a boolean",
        ValueType::Null => "null",
    }
}

/// A reader error in words, and where it happened in the decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    /// Decoded byte offset.
    pub offset: u64,
    /// 1-based line and column (in characters).
    pub line: u64,
    pub column: u64,
}

/// Describes `error`; I/O errors are the caller's to handle.
pub fn describe(error: &ReaderError) -> Problem {
    let (what, at) = match error {
        ReaderError::SyntaxError(e) => (syntax(e.kind), &e.location),
        ReaderError::MaxNestingDepthExceeded {
            max_nesting_depth,
            location,
        } => (
            format!("values nest deeper than {max_nesting_depth} levels"),
            location,
        ),
        ReaderError::UnsupportedNumberValue { number, location } => {
            let shown: String = number.chars().take(40).collect();
            let what = format!(
                "the number {shown}… is out of range (over 100 characters, or an exponent \
                 beyond ±99)"
            );
            (what, location)
        }
        ReaderError::UnexpectedValueType { location, .. }
        | ReaderError::UnexpectedStructure { location, .. }
        | ReaderError::IoError { location, .. } => (error.to_string(), location),
        other => (other.to_string(), &UNKNOWN),
    };
    let (line, column) = at.line_pos.map_or((0, 0), |p| (p.line + 1, p.column + 1));
    Problem {
        what,
        offset: at.data_pos.unwrap_or(0),
        line,
        column,
    }
}

const UNKNOWN: JsonReaderPosition = JsonReaderPosition {
    path: None,
    line_pos: None,
    data_pos: None,
};

fn syntax(kind: SyntaxErrorKind) -> String {
    match kind {
        SyntaxErrorKind::IncompleteDocument => {
            "the JSON ends in the middle of a value: is the file truncated?".to_string()
        }
        SyntaxErrorKind::TrailingData => "more data follows the end of the JSON value".to_string(),
        SyntaxErrorKind::MalformedJson => "this is not JSON".to_string(),
        SyntaxErrorKind::MissingComma => "a comma is missing".to_string(),
        SyntaxErrorKind::TrailingCommaNotEnabled => {
            "a comma precedes a closing bracket".to_string()
        }
        SyntaxErrorKind::NotEscapedControlCharacter => {
            "a string holds an unescaped control character (a raw line break or tab?)".to_string()
        }
        other => format!("invalid JSON ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use struson::reader::JsonStreamReader;

    fn read(text: &str) -> Result<Value, ReaderError> {
        read_value(&mut JsonStreamReader::new(text.as_bytes()))
    }

    #[test]
    fn numbers_keep_their_text_and_other_types_stay() {
        let value = read(
            r#"{"price": 12.50, "big": 12345678901234567890123, "e": -1.5E3, "ok": true,
                "none": null, "list": [1, "1"], "name": "和珅", "name": "dup"}"#,
        )
        .unwrap();
        let expected = serde_json::json!({
            "price": "12.50", "big": "12345678901234567890123", "e": "-1.5E3", "ok": true,
            "none": null, "list": ["1", "1"], "name": "dup"
        });
        assert_eq!(value, expected);
    }

    #[test]
    fn errors_say_what_and_where() {
        let problem = describe(&read("{\"a\": 1,\n \"b\" 2}").unwrap_err());
        assert_eq!(problem.what, "invalid JSON (MissingColon)");
        assert_eq!((problem.line, problem.column, problem.offset), (2, 6, 14));
        let problem = describe(&read("[1, 2").unwrap_err());
        assert!(problem.what.contains("truncated"), "{}", problem.what);
        let problem = describe(&read(&"[".repeat(200)).unwrap_err());
        assert_eq!(problem.what, "values nest deeper than 128 levels");
        let problem = describe(&read("[1e400]").unwrap_err());
        assert!(
            problem.what.contains("1e400… is out of range"),
            "{}",
            problem.what
        );
    }
}
