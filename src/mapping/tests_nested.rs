//! Nested and repeated data: paths into trees, `each` lists, `split`, `[group]`, `lookup()` in
//! expressions, and examples that exercise them.

use super::*;
use crate::format::record::{Body, Columns, Origin, Record};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

fn load(text: &str) -> Mapping {
    Mapping::from_text(Path::new("mappings/nested.toml"), text).unwrap_or_else(|d| panic!("{d}"))
}

fn problems(text: &str) -> Vec<String> {
    match Mapping::from_text(Path::new("mappings/nested.toml"), text) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

fn origin(line: u64) -> Origin {
    Origin {
        connector: "test".into(),
        file: "in.json".into(),
        line,
        offset: 0,
        locator: None,
    }
}

/// Every unit's events' data (or failure reason) for `records`.
fn run(mapping: &Mapping, records: Vec<Record>) -> Vec<Result<Vec<Value>, String>> {
    let mut mapper = Mapper::new(mapping, None);
    let mut units = Vec::new();
    for record in records {
        mapper.push(Ok(record), &mut units).unwrap();
    }
    mapper.finish(&mut units);
    units
        .into_iter()
        .map(|u| match u.outcome {
            Outcome::Events(events) => Ok(events
                .iter()
                .map(|m| serde_json::from_slice(&m.data).unwrap())
                .collect()),
            Outcome::Failed(f) => Err(f.reason),
        })
        .collect()
}

fn tree(value: Value) -> Record {
    Record {
        origin: origin(1),
        body: Body::Tree(value),
    }
}

const ORDER: &str = r#"type = "retail.order.placed.v1"
key = ["order"]
subject = "{{ order }}"
[fields]
order    = { from = "header.no", required = true }
customer = { from = "header.customer.id" }
first    = { from = "lines[0].sku" }
[fields.lines]
each = "lines"
when = "qty != '0'"
sku      = { from = "sku", required = true }
quantity = { from = "qty", type = "decimal" }
order    = { from = "$.header.no" }
label    = { expr = "sku ~ '@' ~ record.header.no" }
"#;

fn order() -> Value {
    json!({
        "header": {"no": "A1", "customer": {"id": "C9"}},
        "lines": [
            {"sku": "S1", "qty": "2"},
            {"sku": "S2", "qty": "0"},
            {"sku": "S3", "qty": "1.50"}
        ]
    })
}

#[test]
fn paths_read_nested_values_and_each_makes_a_filtered_list() {
    let m = load(ORDER);
    let events = run(&m, vec![tree(order())]);
    assert_eq!(
        events,
        [Ok(vec![json!({
            "order": "A1", "customer": "C9", "first": "S1",
            "lines": [
                {"sku": "S1", "quantity": "2", "order": "A1", "label": "S1@A1"},
                {"sku": "S3", "quantity": "1.50", "order": "A1", "label": "S3@A1"}
            ]
        })])]
    );
}

#[test]
fn an_empty_list_is_left_out_and_a_bad_item_fails_the_record() {
    let m = load(ORDER);
    let empty = run(&m, vec![tree(json!({"header": {"no": "A2"}, "lines": []}))]);
    assert_eq!(empty, [Ok(vec![json!({"order": "A2"})])]);
    let bad = run(
        &m,
        vec![tree(
            json!({"header": {"no": "A3"}, "lines": [{"qty": "1"}]}),
        )],
    );
    let reason = bad[0].as_ref().unwrap_err();
    assert!(reason.contains(":11: field \"lines.sku\""), "{reason}");
    assert!(reason.contains("required"), "{reason}");
}

#[test]
fn an_object_where_a_value_belongs_is_an_error() {
    let m = load("type = \"t\"\n[fields]\nc = { from = \"header.customer\" }\n");
    let out = run(&m, vec![tree(order())]);
    assert!(
        out[0]
            .as_ref()
            .unwrap_err()
            .contains("is an object, not a value")
    );
}

#[test]
fn list_fields_cannot_make_the_key_or_subject() {
    let p = problems(&ORDER.replace("key = [\"order\"]", "key = [\"lines.sku\"]"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("inside an `each` list"), "{p:?}");
}

const SPLIT: &str = r#"type = "retail.sale.recorded.v1"
split = "lines"
key = ["receipt", "line"]
[fields]
receipt = { from = "$.no", required = true }
line    = { from = "n", type = "integer" }
sku     = { from = "sku" }
store   = { expr = "record.store | lower" }
"#;

#[test]
fn split_makes_one_event_per_item_with_the_parents_fields() {
    let m = load(SPLIT);
    let doc = json!({"no": "R1", "store": "SH", "lines": [{"n": "1", "sku": "A"}, {"n": "2", "sku": "B"}]});
    let out = run(&m, vec![tree(doc)]);
    assert_eq!(
        out,
        [Ok(vec![
            json!({"receipt": "R1", "line": 1, "sku": "A", "store": "sh"}),
            json!({"receipt": "R1", "line": 2, "sku": "B", "store": "sh"}),
        ])]
    );
    let missing = run(&m, vec![tree(json!({"no": "R2"}))]);
    assert!(
        missing[0]
            .as_ref()
            .unwrap_err()
            .contains("split: the record has no \"lines\"")
    );
}

const GROUPED: &str = r#"type = "retail.receipt.completed.v1"
key = ["receipt"]
[group]
by = ["receipt"]
[fields]
receipt = { from = "receipt" }
store   = { from = "store" }
[fields.lines]
each = "rows"
when = "kind == 'L'"
sku = { from = "sku" }

[[examples]]
input = [
  { kind = "H", receipt = "R1", store = "SH-001", sku = "" },
  { kind = "L", receipt = "R1", store = "", sku = "A" },
  { kind = "L", receipt = "R1", store = "", sku = "B" },
]
output = { receipt = "R1", store = "SH-001", lines = [{ sku = "A" }, { sku = "B" }] }
"#;

fn rows(values: &[[&str; 4]]) -> Vec<Record> {
    let columns = Arc::new(Columns::new(
        ["kind", "receipt", "store", "sku"]
            .map(String::from)
            .to_vec(),
        b',',
    ));
    values
        .iter()
        .enumerate()
        .map(|(n, v)| {
            Record::row(
                origin(n as u64 + 2),
                Arc::clone(&columns),
                csv::StringRecord::from(v.to_vec()),
            )
        })
        .collect()
}

#[test]
fn consecutive_rows_with_one_key_make_one_event() {
    let m = load(GROUPED);
    assert_eq!(m.run_examples(None), Vec::<String>::new());
    let out = run(
        &m,
        rows(&[
            ["H", "R1", "SH-001", ""],
            ["L", "R1", "", "A"],
            ["H", "R2", "SH-002", ""],
            ["L", "R2", "", "C"],
        ]),
    );
    assert_eq!(
        out,
        [
            Ok(vec![
                json!({"receipt": "R1", "store": "SH-001", "lines": [{"sku": "A"}]})
            ]),
            Ok(vec![
                json!({"receipt": "R2", "store": "SH-002", "lines": [{"sku": "C"}]})
            ]),
        ]
    );
}

#[test]
fn a_group_key_column_the_file_lacks_fails_the_file() {
    let m = load(GROUPED);
    let columns = Arc::new(Columns::new(vec!["kind".into()], b','));
    let record = Record::row(origin(2), columns, csv::StringRecord::from(vec!["H"]));
    let mut mapper = Mapper::new(&m, None);
    let err = mapper.push(Ok(record), &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("no column \"receipt\""), "{err}");
    assert!(
        err.to_string().starts_with("mappings/nested.toml:3:"),
        "{err}"
    );
}

#[test]
fn lookup_works_in_expressions_with_a_default() {
    let m = load(
        "type = \"t\"\n[fields]\nstore = { expr = \"lookup('stores', PLANT, 'unknown')\" }\n\
         strict = { expr = \"lookup('stores', PLANT)\" }\n[lookups.stores]\n\"1001\" = \"SH-001\"\n\
         [[examples]]\ninput = { PLANT = \"1001\" }\noutput = { store = \"SH-001\", strict = \"SH-001\" }\n\
         [[examples]]\ninput = { PLANT = \"9\" }\nerror = \"\\\"9\\\" is not in lookup table \\\"stores\\\"\"\n",
    );
    assert_eq!(m.run_examples(None), Vec::<String>::new());
}

#[test]
fn lookup_calls_name_known_tables() {
    let p = problems(
        "type = \"t\"\n[fields]\ns = { expr = \"lookup('stors', P)\" }\n[lookups.stores]\n\"1\" = \"a\"\n",
    );
    assert_eq!(
        p,
        ["mappings/nested.toml:3:14: unknown lookup table \"stors\"; did you mean \"stores\"?"]
    );
}

#[test]
fn split_examples_list_every_event() {
    let text = format!(
        "{SPLIT}\n[[examples]]\ninput = {{ no = \"R1\", store = \"X\", lines = [{{ n = \"1\" }}, {{ n = \"2\" }}] }}\n\
         output = [{{ line = 1 }}, {{ line = 3 }}]\n"
    );
    let m = load(&text);
    let failures = m.run_examples(None);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("event 2: output differs: line: expected 3, got 2"),
        "{failures:?}"
    );
}

#[test]
fn bad_list_paths_are_diagnostics_and_odd_column_names_are_read_as_written() {
    let p = problems("type = \"t\"\nsplit = \"x[*]\"\n[fields]\na = { from = \"A\" }\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("mappings/nested.toml:2:9: split:"),
        "{p:?}"
    );
    let m = load(
        "type = \"t\"\n[fields]\nqty = { from = \"Qty[kg]\" }\nno = { from = \"Order No.\" }\n",
    );
    let columns = Arc::new(Columns::new(
        vec!["Qty[kg]".into(), "Order No.".into()],
        b',',
    ));
    let values = csv::StringRecord::from(vec!["5", "A1"]);
    let record = Record::row(origin(2), Arc::clone(&columns), values);
    let mapped = m.bind(&columns).unwrap().eval(&record).unwrap();
    assert_eq!(mapped[0].data, br#"{"qty":"5","no":"A1"}"#);
}
