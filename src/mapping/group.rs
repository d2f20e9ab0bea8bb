//! `[group]`: consecutive rows whose `by` columns are equal make one nested record — the first
//! row's columns at the top, every row (the first included) in a list named by `into` — so a
//! receipt split over header and line rows, or an order repeated on each of its lines, becomes
//! one event. Rows are flat rows (CSV, fixed width, XLSX) or records that are objects (a `sql`
//! source's rows, NDJSON lines), whose `by` members are compared as text (null as empty). A group
//! holds at most `max_rows` rows; a larger one, or one with a row that could not be decoded, fails
//! as a whole.

use super::plan::GroupPlan;
use crate::format::record::{Body, Columns, Origin, Record, RecordError};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Collects rows into groups.
#[derive(Debug)]
pub(super) struct Grouper {
    by: Vec<String>,
    into: String,
    max_rows: usize,
    /// The last columns seen and the indexes of the `by` columns in them.
    key_columns: Option<(Arc<Columns>, Vec<usize>)>,
    open: Option<Open>,
}

/// The group being collected.
#[derive(Debug)]
struct Open {
    key: Vec<String>,
    origin: Origin,
    items: u64,
    first: Map<String, Value>,
    rows: Vec<Value>,
    raw: Vec<u8>,
    /// Why the group fails, once it does.
    failed: Option<String>,
}

/// A complete group.
#[derive(Debug)]
pub(super) struct Group {
    /// Where its first row came from.
    pub origin: Origin,
    /// Input records it covers.
    pub items: u64,
    /// The grouped record, or why the group fails.
    pub record: Result<Record, String>,
    /// Its rows as read.
    pub raw: Vec<u8>,
}

impl Grouper {
    pub fn new(plan: &GroupPlan) -> Self {
        Self {
            by: plan.by.clone(),
            into: plan.into.clone(),
            max_rows: plan.max_rows,
            key_columns: None,
            open: None,
        }
    }

    /// Takes the next item; returns the groups it completes (a row with a new key closes the open
    /// group). A row undecodable fails the open group. An error: the rows lack a `by` column.
    pub fn push(&mut self, item: Result<Record, RecordError>) -> Result<Vec<Group>, String> {
        let record = match item {
            Ok(record) => record,
            Err(e) => return Ok(self.undecodable(e)),
        };
        let (key, row) = match &record.body {
            Body::Row { columns, row } => {
                let indexes = self.key_indexes(columns)?;
                let key: Vec<String> = indexes
                    .iter()
                    .map(|&i| row.get(i).unwrap_or_default().to_string())
                    .collect();
                (key, row_object(columns, row))
            }
            Body::Tree(Value::Object(members)) => (object_key(&self.by, members)?, members.clone()),
            Body::Tree(_) => {
                let closed = self.finish();
                let lone = Group {
                    origin: record.origin.clone(),
                    items: 1,
                    raw: record.raw(),
                    record: Err(
                        "[group] applies to rows and objects; this record is neither".into(),
                    ),
                };
                return Ok(closed.into_iter().chain([lone]).collect());
            }
        };
        if let Some(open) = self.open.as_mut().filter(|o| o.key == key) {
            open.add(&record, row, self.max_rows);
            return Ok(Vec::new());
        }
        let closed = self.finish();
        self.open = Some(Open::start(key, &record, row));
        Ok(closed.into_iter().collect())
    }

    /// Closes the open group, if any.
    pub fn finish(&mut self) -> Option<Group> {
        let open = self.open.take()?;
        let record = match open.failed {
            Some(reason) => Err(reason),
            None => {
                let mut tree = open.first;
                tree.insert(self.into.clone(), Value::Array(open.rows));
                Ok(Record {
                    origin: open.origin.clone(),
                    body: Body::Tree(Value::Object(tree)),
                })
            }
        };
        Some(Group {
            origin: open.origin,
            items: open.items,
            record,
            raw: open.raw,
        })
    }

    fn undecodable(&mut self, e: RecordError) -> Vec<Group> {
        let reason = format!("line {}: {}", e.origin.line, e.reason);
        match &mut self.open {
            Some(open) => {
                open.items += 1;
                open.raw.extend_from_slice(&e.raw);
                open.failed
                    .get_or_insert(format!("a row of the group could not be decoded: {reason}"));
                Vec::new()
            }
            None => vec![Group {
                origin: e.origin,
                items: 1,
                record: Err(e.reason),
                raw: e.raw,
            }],
        }
    }

    fn key_indexes(&mut self, columns: &Arc<Columns>) -> Result<&[usize], String> {
        let fresh = match self.key_columns.take() {
            Some((c, indexes)) if Arc::ptr_eq(&c, columns) => (c, indexes),
            _ => (Arc::clone(columns), self.resolve(columns)?),
        };
        Ok(&self.key_columns.insert(fresh).1)
    }

    fn resolve(&self, columns: &Columns) -> Result<Vec<usize>, String> {
        self.by
            .iter()
            .map(|name| {
                columns.position(name).ok_or_else(|| {
                    format!(
                        "[group] by: the file has no column \"{name}\"; its columns are: {}",
                        columns.names().join(", ")
                    )
                })
            })
            .collect()
    }
}

/// The group key of an object record (a `sql` row, an NDJSON line): its `by` members as text,
/// null as empty. The `sql` source finds its polls' group boundaries with it too.
pub(crate) fn object_key(
    by: &[String],
    members: &Map<String, Value>,
) -> Result<Vec<String>, String> {
    by.iter()
        .map(|name| match members.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Null) => Ok(String::new()),
            Some(other) => Ok(other.to_string()),
            None => Err(format!(
                "[group] by: the record has no member \"{name}\"; its members are: {}",
                members.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        })
        .collect()
}

impl Open {
    fn start(key: Vec<String>, record: &Record, first: Map<String, Value>) -> Self {
        Self {
            key,
            origin: record.origin.clone(),
            items: 1,
            rows: vec![Value::Object(first.clone())],
            first,
            raw: row_raw(record),
            failed: None,
        }
    }

    fn add(&mut self, record: &Record, row: Map<String, Value>, max: usize) {
        self.items += 1;
        if self.failed.is_some() {
            return;
        }
        if self.rows.len() >= max {
            self.failed = Some(format!(
                "the group has more than {max} rows ([group] max_rows); it is dead-lettered whole"
            ));
            return;
        }
        self.rows.push(Value::Object(row));
        self.raw.extend_from_slice(&row_raw(record));
    }
}

/// A row as read: a flat row's line, an object's JSON on a line of its own.
fn row_raw(record: &Record) -> Vec<u8> {
    let mut raw = record.raw();
    if matches!(record.body, Body::Tree(_)) {
        raw.push(b'\n');
    }
    raw
}

/// A row as a JSON object of column → text.
fn row_object(columns: &Columns, row: &csv::StringRecord) -> Map<String, Value> {
    columns
        .names()
        .iter()
        .zip(row.iter())
        .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouper(max_rows: usize) -> Grouper {
        Grouper::new(&GroupPlan {
            by: vec!["no".into()],
            into: "rows".into(),
            max_rows,
            line: 1,
        })
    }

    fn rows(values: &[(&str, &str)]) -> Vec<Result<Record, RecordError>> {
        let columns = Arc::new(Columns::new(vec!["no".into(), "sku".into()], b','));
        values
            .iter()
            .enumerate()
            .map(|(i, (no, sku))| {
                let origin = Origin {
                    connector: "c".into(),
                    file: "f.csv".into(),
                    line: i as u64 + 2,
                    offset: 0,
                    locator: None,
                };
                Ok(Record::row(
                    origin,
                    Arc::clone(&columns),
                    csv::StringRecord::from(vec![*no, *sku]),
                ))
            })
            .collect()
    }

    fn run(g: &mut Grouper, items: Vec<Result<Record, RecordError>>) -> Vec<Group> {
        let mut out = Vec::new();
        for item in items {
            out.extend(g.push(item).unwrap());
        }
        out.extend(g.finish());
        out
    }

    #[test]
    fn consecutive_rows_with_one_key_make_one_record() {
        let groups = run(
            &mut grouper(10),
            rows(&[("A", "1"), ("A", "2"), ("B", "3"), ("A", "4")]),
        );
        assert_eq!(
            groups.iter().map(|g| g.items).collect::<Vec<_>>(),
            [2, 1, 1]
        );
        let Ok(Record {
            body: Body::Tree(tree),
            origin,
        }) = &groups[0].record
        else {
            panic!("expected a tree");
        };
        assert_eq!(origin.line, 2);
        assert_eq!(tree["no"], "A");
        assert_eq!(tree["rows"][1]["sku"], "2");
        assert_eq!(groups[0].raw, b"A,1\nA,2\n");
    }

    #[test]
    fn an_oversized_group_fails_whole_and_counts_every_row() {
        let groups = run(
            &mut grouper(2),
            rows(&[("A", "1"), ("A", "2"), ("A", "3"), ("B", "4")]),
        );
        assert_eq!(groups[0].items, 3);
        assert!(
            groups[0]
                .record
                .as_ref()
                .unwrap_err()
                .contains("more than 2 rows")
        );
        assert!(groups[1].record.is_ok());
    }

    #[test]
    fn an_undecodable_row_fails_the_open_group() {
        let mut g = grouper(10);
        let mut items = rows(&[("A", "1")]);
        items.push(Err(RecordError {
            origin: Origin {
                connector: "c".into(),
                file: "f.csv".into(),
                line: 3,
                offset: 9,
                locator: None,
            },
            raw: b"A,\"x\n".to_vec(),
            reason: "expected 2 fields, found 1".into(),
            columns: None,
        }));
        let groups = run(&mut g, items);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].items, 2);
        assert!(groups[0].record.as_ref().unwrap_err().contains("line 3"));
    }

    #[test]
    fn a_missing_key_column_is_an_error_for_the_file() {
        let mut g = Grouper::new(&GroupPlan {
            by: vec!["receipt".into()],
            into: "rows".into(),
            max_rows: 10,
            line: 1,
        });
        let mut items = rows(&[("A", "1")]);
        let err = g.push(items.remove(0)).unwrap_err();
        assert!(err.contains("no column \"receipt\""), "{err}");
    }

    fn objects(rows: &[serde_json::Value]) -> Vec<Result<Record, RecordError>> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                Ok(Record {
                    origin: Origin {
                        connector: "c".into(),
                        file: "orders".into(),
                        line: i as u64 + 1,
                        offset: 0,
                        locator: None,
                    },
                    body: Body::Tree(row.clone()),
                })
            })
            .collect()
    }

    #[test]
    fn consecutive_objects_with_one_key_make_one_record() {
        let items = objects(&[
            serde_json::json!({"no": "A", "sku": "1", "note": null}),
            serde_json::json!({"no": "A", "sku": "2", "note": null}),
            serde_json::json!({"no": null, "sku": "3"}),
            serde_json::json!({"no": null, "sku": "4"}),
            serde_json::json!({"no": "A", "sku": "5"}),
        ]);
        let groups = run(&mut grouper(10), items);
        assert_eq!(
            groups.iter().map(|g| g.items).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let Ok(Record {
            body: Body::Tree(tree),
            ..
        }) = &groups[0].record
        else {
            panic!("expected a tree");
        };
        assert_eq!(tree["no"], "A");
        assert_eq!(tree["note"], Value::Null);
        assert_eq!(tree["rows"][1]["sku"], "2");
        assert_eq!(
            groups[0].raw,
            b"{\"no\":\"A\",\"note\":null,\"sku\":\"1\"}\n{\"no\":\"A\",\"note\":null,\"sku\":\"2\"}\n"
        );
    }

    #[test]
    fn an_object_without_the_key_member_is_an_error_for_the_input() {
        let mut items = objects(&[serde_json::json!({"order": "A"})]);
        let err = grouper(10).push(items.remove(0)).unwrap_err();
        assert!(err.contains("no member \"no\""), "{err}");
    }

    #[test]
    fn a_record_that_is_no_object_fails_alone() {
        let items = objects(&[
            serde_json::json!({"no": "A"}),
            serde_json::json!(["A", "1"]),
        ]);
        let groups = run(&mut grouper(10), items);
        assert_eq!(groups.len(), 2);
        assert!(groups[0].record.is_ok());
        assert!(groups[1].record.as_ref().unwrap_err().contains("neither"));
    }
}
