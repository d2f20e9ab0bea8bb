//! `[[examples]]`: a mapping's own tests, run by `omnibus test` and `omnibus check`. Each example
//! is one record (source column → value) and the expected `data`, error, or skip.

use super::plan::{Example, Expect, Mapping};
use crate::format::record::{Columns, Origin, Record};
use serde_json::Value;
use std::sync::Arc;

impl Mapping {
    /// Runs every example; returns one message per failing example (empty when all pass), each
    /// starting with the mapping file and the example's line.
    pub fn run_examples(&self) -> Vec<String> {
        self.examples
            .iter()
            .enumerate()
            .filter_map(|(n, example)| {
                self.run_example(example)
                    .err()
                    .map(|why| format!("{}:{}: example {}: {why}", self.file, example.line, n + 1))
            })
            .collect()
    }

    fn run_example(&self, example: &Example) -> Result<(), String> {
        let record = self.example_record(example);
        let result = self
            .bind(&record.columns)
            .and_then(|bound| bound.eval(&record));
        match (result, &example.expect) {
            (Err(e), Expect::Error(want)) if e.to_string().contains(want.as_str()) => Ok(()),
            (Err(e), Expect::Error(want)) => {
                Err(format!("expected an error containing \"{want}\", got: {e}"))
            }
            (Err(e), _) => Err(format!("failed: {e}")),
            (Ok(None), Expect::Skipped) => Ok(()),
            (Ok(None), _) => Err("the record was skipped by `when`".into()),
            (Ok(Some(mapped)), expect) => {
                let got: Value = serde_json::from_slice(&mapped.data)
                    .map_err(|e| format!("the output is not JSON: {e}"))?;
                match expect {
                    Expect::Output(want) => compare(want, &got),
                    Expect::Error(want) => Err(format!(
                        "expected an error containing \"{want}\", got output {got}"
                    )),
                    Expect::Skipped => Err(format!(
                        "expected the record to be skipped by `when`, got output {got}"
                    )),
                }
            }
        }
    }

    /// The example's input as a record. Columns the mapping reads `from` but the example leaves
    /// out are present and empty, so that examples only list what matters to them.
    fn example_record(&self, example: &Example) -> Record {
        let mut names: Vec<String> = example.input.iter().map(|(n, _)| n.clone()).collect();
        let mut values: Vec<&str> = example.input.iter().map(|(_, v)| v.as_str()).collect();
        for column in self.fields.iter().filter_map(|f| f.column()) {
            if !names.iter().any(|n| n == column) {
                names.push(column.to_string());
                values.push("");
            }
        }
        Record {
            origin: Origin {
                connector: "example".into(),
                file: Arc::clone(&self.file),
                line: example.line as u64,
                offset: 0,
            },
            columns: Arc::new(Columns::new(names, b',')),
            row: csv::StringRecord::from(values),
        }
    }
}

/// `Ok` when `got` has every value `want` lists (fields an example does not list, such as
/// constants, are not checked); otherwise every difference, by path.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    let mut differences = Vec::new();
    differ("", want, got, &mut differences);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!("output differs: {}", differences.join("; ")))
    }
}

fn differ(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let at = join(path, key);
                match g.get(key) {
                    Some(gv) => differ(&at, wv, gv, out),
                    None => out.push(format!("{at}: missing, expected {wv}")),
                }
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{path}: expected {want}, got {got}")),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
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
    fn toml_values_become_json() {
        let v: toml::Table =
            toml::from_str("a = 1\nb = \"x\"\nc = 2017-07-19\nd = { e = [true] }").unwrap();
        assert_eq!(
            toml_to_json(&toml::Value::Table(v)),
            json!({"a": 1, "b": "x", "c": "2017-07-19", "d": {"e": [true]}})
        );
    }
}
