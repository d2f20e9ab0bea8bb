//! Lookup tables: code → value tables a field's value is translated through (`lookup = "…"`, or
//! `lookup(table, key, default)` in an expression), written inline in the mapping or kept in a
//! two-column CSV file (`key,value` header row) next to it.

use minijinja::value::Object;
use minijinja::{Error, ErrorKind, State, Value};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The context name under which expressions find their mapping's tables (not an identifier a
/// column can have).
pub(super) const TABLES: &str = "__omnibus_lookups";

/// One lookup table, loaded once with its mapping.
#[derive(Debug)]
pub(super) struct Lookup {
    name: String,
    entries: HashMap<String, String>,
}

impl Lookup {
    pub fn inline(name: &str, entries: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            name: name.to_string(),
            entries: entries.into_iter().collect(),
        }
    }

    /// Reads a CSV file with a header row and two columns, key and value. A key that appears twice
    /// is an error: the file would be ambiguous.
    pub fn from_csv(name: &str, path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| format!("cannot read {shown}: {}", csv_reason(&e)))?;
        let width = reader
            .headers()
            .map_err(|e| format!("{shown}: {}", csv_reason(&e)))?
            .len();
        if width != 2 {
            return Err(format!(
                "{shown}:1: the header has {width} columns; a lookup file has two: key,value"
            ));
        }
        let mut entries = HashMap::new();
        for row in reader.records() {
            let row = row.map_err(|e| format!("{shown}: {}", csv_reason(&e)))?;
            let line = row.position().map_or(0, |p| p.line());
            let (key, value) = (&row[0], &row[1]);
            match entries.entry(key.to_string()) {
                Entry::Occupied(_) => {
                    return Err(format!("{shown}:{line}: key \"{key}\" appears twice"));
                }
                Entry::Vacant(slot) => {
                    slot.insert(value.to_string());
                }
            }
        }
        Ok(Self {
            name: name.to_string(),
            entries,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }
}

/// A mapping's lookup tables, by name, as expressions see them.
#[derive(Debug, Default)]
pub(super) struct Tables(pub BTreeMap<String, Arc<Lookup>>);

impl Object for Tables {}

/// `lookup(table, key, default)`: the table's value for `key`; `default` (or an error) when the
/// key is not in the table; none for a missing key.
pub(super) fn lookup_function(
    state: &State,
    table: &str,
    key: Value,
    default: Option<Value>,
) -> Result<Value, Error> {
    let tables = state.lookup(TABLES);
    let tables = tables
        .as_ref()
        .and_then(|t| t.downcast_object_ref::<Tables>())
        .ok_or_else(|| invalid("lookup: this expression has no lookup tables"))?;
    let lookup = tables.0.get(table).ok_or_else(|| {
        let known: Vec<&str> = tables.0.keys().map(String::as_str).collect();
        invalid(format!(
            "lookup: unknown table \"{table}\"; the mapping defines: {}",
            known.join(", ")
        ))
    })?;
    if key.is_none() || key.is_undefined() {
        return Ok(Value::from(()));
    }
    let text = key.as_str().map_or_else(|| key.to_string(), str::to_string);
    match (lookup.get(text.trim()), default) {
        (Some(found), _) => Ok(Value::from(found)),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(invalid(format!(
            "lookup: \"{text}\" is not in lookup table \"{table}\""
        ))),
    }
}

/// The table names that `lookup('name', …)` calls in an expression give as literal strings.
pub(super) fn called_tables(expression: &str) -> Vec<&str> {
    static CALL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\blookup\(\s*(?:'([^']*)'|"([^"]*)")"#).expect("a valid pattern")
    });
    CALL.captures_iter(expression)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str())
        .collect()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_a_two_column_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stores.csv");
        fs::write(&path, "code,store\n1001,SH-001\n\"1,002\",\"BJ, 002\"\n").unwrap();
        let table = Lookup::from_csv("t", &path).unwrap();
        assert_eq!(table.get("1001"), Some("SH-001"));
        assert_eq!(table.get("1,002"), Some("BJ, 002"));
        assert_eq!(table.get("1003"), None);
    }

    #[test]
    fn refuses_wrong_width_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let wide = dir.path().join("wide.csv");
        fs::write(&wide, "a,b,c\n1,2,3\n").unwrap();
        assert!(
            Lookup::from_csv("t", &wide).unwrap_err().ends_with(
                "wide.csv:1: the header has 3 columns; a lookup file has two: key,value"
            )
        );
        let dup = dir.path().join("dup.csv");
        fs::write(&dup, "key,value\n1,a\n2,b\n1,c\n").unwrap();
        assert!(
            Lookup::from_csv("t", &dup)
                .unwrap_err()
                .ends_with("dup.csv:4: key \"1\" appears twice")
        );
        let ragged = dir.path().join("ragged.csv");
        fs::write(&ragged, "key,value\n1,a,x\n").unwrap();
        assert!(Lookup::from_csv("t", &ragged).is_err());
    }

    #[test]
    fn missing_file_names_the_file() {
        let err = Lookup::from_csv("t", Path::new("/nonexistent/stores.csv")).unwrap_err();
        assert!(
            err.starts_with("cannot read /nonexistent/stores.csv: "),
            "{err}"
        );
    }
}
