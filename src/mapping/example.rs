//! `[[examples]]`: a mapping's own tests, run by `omnibus test` and `omnibus check`. Each example
//! is one record (a row of source column → value, a nested table, or a list of rows for a
//! `[group]` mapping) and the expected `data` (a list of them with `split`), error, or skip.

use super::difference::{Unlisted, differences};
use super::mapper::{Mapper, Outcome};
use super::plan::{Example, ExampleInput, Expect, Mapping};
use crate::canonical::schema::Schema;
use crate::format::record::{Body, Columns, Origin, Record};
use serde_json::Value;
use std::sync::Arc;

impl Mapping {
    /// Runs every example, checking events against `schema` when given; returns one message per
    /// failing example (empty when all pass), each starting with the mapping file and the
    /// example's line.
    pub fn run_examples(&self, schema: Option<&Arc<Schema>>) -> Vec<String> {
        self.examples
            .iter()
            .enumerate()
            .filter_map(|(n, example)| {
                self.run_example(example, schema)
                    .err()
                    .map(|why| format!("{}:{}: example {}: {why}", self.file, example.line, n + 1))
            })
            .collect()
    }

    /// How many `[[examples]]` the mapping has.
    pub fn example_count(&self) -> usize {
        self.examples.len()
    }

    /// The `data` the mapping makes of one flat row (source column → value), for tools that write
    /// examples (`omnibus scaffold`).
    pub fn example_output(&self, input: &[(String, String)]) -> Result<Value, String> {
        let example = Example {
            line: 0,
            input: ExampleInput::Row(input.to_vec()),
            expect: Expect::Skipped,
        };
        let events = self.example_events(&example, None)?;
        match events.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!("the record makes {} events", events.len())),
        }
    }

    fn run_example(&self, example: &Example, schema: Option<&Arc<Schema>>) -> Result<(), String> {
        match (self.example_events(example, schema), &example.expect) {
            (Err(e), Expect::Error(want)) if e.contains(want.as_str()) => Ok(()),
            (Err(e), Expect::Error(want)) => {
                Err(format!("expected an error containing \"{want}\", got: {e}"))
            }
            (Err(e), _) => Err(format!("failed: {e}")),
            (Ok(events), Expect::Skipped) if events.is_empty() => Ok(()),
            (Ok(events), Expect::Output(want)) => compare_events(want, &events),
            (Ok(events), Expect::Error(want)) => Err(format!(
                "expected an error containing \"{want}\", got output {}",
                list(&events)
            )),
            (Ok(events), Expect::Skipped) => Err(format!(
                "expected the record to be skipped by `when`, got output {}",
                list(&events)
            )),
        }
    }

    /// The `data` of every event the example's input makes, or the first failure.
    pub(super) fn example_events(
        &self,
        example: &Example,
        schema: Option<&Arc<Schema>>,
    ) -> Result<Vec<Value>, String> {
        let mut mapper = Mapper::new(self, schema.cloned());
        let mut units = Vec::new();
        let records = self.example_records(example);
        for record in records {
            mapper
                .push(Ok(record), &mut units)
                .map_err(|e| e.to_string())?;
        }
        mapper.finish(&mut units);
        let mut events = Vec::new();
        for unit in units {
            match unit.outcome {
                Outcome::Events(mapped) => {
                    for m in mapped {
                        let data = serde_json::from_slice(&m.data)
                            .map_err(|e| format!("the output is not JSON: {e}"))?;
                        events.push(data);
                    }
                }
                Outcome::Failed(failure) => return Err(failure.reason),
            }
        }
        Ok(events)
    }

    /// The example's input as records. Columns the mapping reads `from` but a row leaves out are
    /// present and empty, so that examples only list what matters to them.
    fn example_records(&self, example: &Example) -> Vec<Record> {
        let origin = Origin {
            connector: "example".into(),
            file: Arc::clone(&self.file),
            line: example.line as u64,
            offset: 0,
            locator: None,
        };
        match &example.input {
            ExampleInput::Row(row) => self.example_rows(origin, std::slice::from_ref(row)),
            ExampleInput::Rows(rows) => self.example_rows(origin, rows),
            ExampleInput::Tree(tree) => vec![Record {
                origin,
                body: Body::Tree(tree.clone()),
            }],
        }
    }

    /// Consecutive rows sharing one set of columns.
    fn example_rows(&self, origin: Origin, rows: &[Vec<(String, String)>]) -> Vec<Record> {
        let columns = self.example_columns(rows);
        rows.iter()
            .map(|row| row_record(origin.clone(), &columns, row))
            .collect()
    }

    /// Every column any of the rows names, then the columns fields read that none names.
    fn example_columns(&self, rows: &[Vec<(String, String)>]) -> Arc<Columns> {
        let mut names: Vec<String> = Vec::new();
        let given = rows.iter().flat_map(|r| r.iter().map(|(n, _)| n.as_str()));
        let read = self.fields.iter().filter_map(|f| f.column());
        for name in given.chain(read) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        Arc::new(Columns::new(names, b','))
    }
}

/// A row of `columns`, empty where `row` gives no value.
fn row_record(origin: Origin, columns: &Arc<Columns>, row: &[(String, String)]) -> Record {
    let values: Vec<&str> = columns
        .names()
        .iter()
        .map(|name| {
            row.iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        })
        .collect();
    Record::row(origin, Arc::clone(columns), csv::StringRecord::from(values))
}

/// Compares the expected output (one `data`, or a list with `split`) with the events made.
fn compare_events(want: &Value, events: &[Value]) -> Result<(), String> {
    match (want, events) {
        (Value::Array(wants), _) if wants.len() == events.len() => {
            let differences: Vec<String> = wants
                .iter()
                .zip(events)
                .enumerate()
                .filter_map(|(n, (w, g))| {
                    compare(w, g).err().map(|e| format!("event {}: {e}", n + 1))
                })
                .collect();
            if differences.is_empty() {
                Ok(())
            } else {
                Err(differences.join("; "))
            }
        }
        (Value::Array(wants), _) => Err(format!(
            "expected {} events, got {}: {}",
            wants.len(),
            events.len(),
            list(events)
        )),
        (_, [one]) => compare(want, one),
        (_, []) => Err("the record was skipped by `when`".into()),
        (_, many) => Err(format!(
            "the record made {} events; write `output` as a list of them: {}",
            many.len(),
            list(many)
        )),
    }
}

fn list(events: &[Value]) -> String {
    match events {
        [one] => one.to_string(),
        many => Value::Array(many.to_vec()).to_string(),
    }
}

/// `Ok` when `got` has every value `want` lists (fields an example does not list, such as
/// constants, are not checked); otherwise every difference, by path.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    let differences = differences(want, got, Unlisted::Ignored);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!("output differs: {}", differences.join("; ")))
    }
}

/// An expected output written in TOML, as JSON (dates and times become strings).
pub(super) fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_listed_by_path_and_unlisted_fields_are_not_checked() {
        let want = json!({"a": "1", "b": {"c": 2}, "d": true});
        let got = json!({"a": "1", "b": {"c": 3}, "e": 1});
        assert_eq!(
            compare(&want, &got).unwrap_err(),
            "output differs: b.c: expected 2, got 3; d: missing, expected true"
        );
        assert!(compare(&want, &want).is_ok());
    }

    #[test]
    fn lists_compare_item_by_item_with_unlisted_fields_unchecked() {
        let got = json!({"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]});
        assert!(compare(&json!({"lines": [{"sku": "A"}, {"qty": 2}]}), &got).is_ok());
        assert_eq!(
            compare(&json!({"lines": [{"sku": "A"}, {"sku": "C"}]}), &got).unwrap_err(),
            "output differs: lines[1].sku: expected \"C\", got \"B\""
        );
        assert!(
            compare(&json!({"lines": [{"sku": "A"}]}), &got)
                .unwrap_err()
                .contains("lines: expected 1 items, got 2")
        );
    }

    #[test]
    fn toml_values_become_json() {
        let v: toml::Table =
            toml::from_str("a = 1\nb = \"x\"\nc = 2017-07-19\nd = { e = [true] }").unwrap();
        assert_eq!(
            toml_to_json(&toml::Value::Table(v)),
            json!({"a": 1, "b": "x", "c": "2017-07-19", "d": {"e": [true]}})
        );
    }
}
