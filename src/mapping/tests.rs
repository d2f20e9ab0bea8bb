//! Whole-mapping tests: load → bind → eval, diagnostics, examples.

use super::*;
use crate::format::record::{Columns, Origin, Record};
use std::path::Path;
use std::sync::Arc;

/// The mapping example of DESIGN.md's interface contract, with its two `"..."` placeholders
/// filled in with real expressions.
const DESIGN_EXAMPLE: &str = r#"type = "retail.inventory.level.v1"   # CloudEvents type; schemas/retail.inventory.level.v1.json
subject = "{{ store }}/{{ sku }}"      # minijinja template over output fields
key = ["store", "sku"]               # output fields whose values make the natural key of the event id
when = "LABST != '0'"                # optional record filter expression
[fields]
store   = { from = "WERKS", lookup = "stores" }
sku     = { from = "MATNR", trim = true }
on_hand = { from = "LABST", type = "decimal" }
as_of   = { from = "BUDAT", type = "date", format = "%Y%m%d" }
sold_at = { from = "TS", type = "datetime", format = "%Y-%m-%d %H:%M:%S", tz = "Asia/Shanghai" }
channel = { value = "erp" }          # constant
total   = { expr = "LABST ~ ' units'" } # computed (expression language: see Choices)
[lookups.stores]                     # inline table, or: [lookups] stores = "lookups/stores.csv"
"1001" = "SH-001"
[[examples]]                         # run by `omnibus test`
input  = { WERKS = "1001", MATNR = " 12345 ", LABST = "12.000", BUDAT = "20170719" }
output = { store = "SH-001", sku = "12345", on_hand = "12.000", as_of = "2017-07-19" }
"#;

fn load(text: &str) -> Mapping {
    Mapping::from_text(Path::new("mappings/test.toml"), text).unwrap_or_else(|d| panic!("{d}"))
}

fn problems(text: &str) -> Vec<String> {
    match Mapping::from_text(Path::new("mappings/test.toml"), text) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

fn origin() -> Origin {
    Origin {
        connector: "test".into(),
        file: "in.csv".into(),
        line: 2,
        offset: 10,
        locator: None,
    }
}

fn columns(pairs: &[(&str, &str)]) -> Arc<Columns> {
    Arc::new(Columns::new(
        pairs.iter().map(|(n, _)| n.to_string()).collect(),
        b',',
    ))
}

fn record(pairs: &[(&str, &str)]) -> Record {
    let values = pairs.iter().map(|(_, v)| *v).collect::<Vec<_>>();
    Record::row(origin(), columns(pairs), csv::StringRecord::from(values))
}

fn map(mapping: &Mapping, pairs: &[(&str, &str)]) -> Result<Option<Mapped>, MapError> {
    let record = record(pairs);
    let columns = columns(pairs);
    Ok(mapping.bind(&columns)?.eval(&record)?.pop())
}

fn data(mapping: &Mapping, pairs: &[(&str, &str)]) -> String {
    let mapped = map(mapping, pairs)
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("not filtered");
    String::from_utf8(mapped.data).expect("utf-8")
}

fn error(mapping: &Mapping, pairs: &[(&str, &str)]) -> String {
    map(mapping, pairs).expect_err("an error").to_string()
}

#[test]
fn mappings_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Mapping>();
    shared::<BoundMapping<'static>>();
}

#[test]
fn design_example_compiles_and_its_examples_pass() {
    let m = load(DESIGN_EXAMPLE);
    assert_eq!(m.run_examples(None), Vec::<String>::new());
    assert_eq!(m.name(), "test");
    assert_eq!(m.event_type(), "retail.inventory.level.v1");
    assert_eq!(
        m.source_columns(),
        ["WERKS", "MATNR", "LABST", "BUDAT", "TS"]
    );
    let mapped = map(
        &m,
        &[
            ("WERKS", "1001"),
            ("MATNR", " 12345 "),
            ("LABST", "12.000"),
            ("BUDAT", "20170719"),
            ("TS", "2024-03-01 10:15:00"),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        String::from_utf8(mapped.data).unwrap(),
        r#"{"store":"SH-001","sku":"12345","on_hand":"12.000","as_of":"2017-07-19","sold_at":"2024-03-01T10:15:00+08:00","channel":"erp","total":"12.000 units"}"#
    );
    assert_eq!(mapped.subject.as_deref(), Some("SH-001/12345"));
    assert_eq!(mapped.key, ["SH-001", "12345"]);
}

#[test]
fn when_filters_records_out() {
    let m = load(DESIGN_EXAMPLE);
    let skipped = map(
        &m,
        &[
            ("WERKS", "1001"),
            ("MATNR", "1"),
            ("LABST", "0"),
            ("BUDAT", "20170719"),
            ("TS", ""),
        ],
    );
    assert_eq!(skipped, Ok(None));
}

#[test]
fn decimal_errors_name_mapping_line_field_column_and_value() {
    let text = "type = \"retail.inventory.level.v1\"\n\n# comments\n#\n#\n#\n#\n#\n#\n[fields]\nsku = { from = \"MATNR\" }\non_hand = { from = \"LABST\", type = \"decimal\" }\n";
    let m = Mapping::from_text(Path::new("mappings/erp_inventory.toml"), text).unwrap();
    let e = map(&m, &[("MATNR", "1"), ("LABST", "12,x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "mappings/erp_inventory.toml:12: field \"on_hand\" (from column \"LABST\"): cannot read \"12,x\" as a decimal"
    );
    assert_eq!(e.value.as_deref(), Some("12,x"));
    assert_eq!(e.column.as_deref(), Some("LABST"));
    assert_eq!(e.field.as_deref(), Some("on_hand"));
}

#[test]
fn unknown_keys_get_did_you_mean_with_position() {
    let found = problems(
        "type = \"t\"\nsubjet = \"x\"\n[fields]\nsku = { from = \"MATNR\", trm = true }\n",
    );
    assert_eq!(
        found,
        [
            "mappings/test.toml:2:1: unknown key \"subjet\"; did you mean \"subject\"?",
            "mappings/test.toml:4:25: unknown key \"trm\" in [fields.sku]; did you mean \"trim\"?",
        ]
    );
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let text = r#"type = "t"
subject = "{{ store }}/{{ skuu }}"
key = ["store", "nope"]
version = "revision"
when = "QTY =="
[fields]
store = { from = "WERKS", lookup = "store" }
sku = { from = "MATNR", value = "x" }
qty = { type = "integer" }
at = { from = "TS", type = "datetime", tz = "Asia/Shangai" }
day = { from = "D", type = "date", format = "%Y%m" }
calc = { expr = "a +" }
city = { from = "C", lookup = "cities" }
[lookups]
cities = "lookups/cities.csv"
"#;
    let found = problems(text);
    let expected = [
        "mappings/test.toml:15:10: lookup \"cities\": cannot read mappings/lookups/cities.csv: ",
        "mappings/test.toml:7:36: unknown lookup table \"store\"; the mapping defines \"cities\"",
        "mappings/test.toml:8:33: field \"sku\" has both from and value; give only one",
        "mappings/test.toml:9:1: field \"qty\" needs one of from, value or expr",
        "mappings/test.toml:10:45: unknown time zone \"Asia/Shangai\"; did you mean \"Asia/Shanghai\"?",
        "mappings/test.toml:11:45: format \"%Y%m\" does not give a complete date",
        "mappings/test.toml:12:17: expr does not compile: syntax error",
        "mappings/test.toml:3:17: key names \"nope\", which is not an output field",
        "mappings/test.toml:4:11: version names \"revision\", which is not an output field",
        "mappings/test.toml:5:8: when does not compile: syntax error",
        "mappings/test.toml:2:11: subject uses \"skuu\", which is not an output field; did you mean \"sku\"?",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (got, want) in found.iter().zip(expected) {
        assert!(got.starts_with(want), "{got}\n  should start with\n{want}");
    }
}

#[test]
fn templates_that_do_not_compile_are_reported() {
    let found = problems("type = \"t\"\nsubject = \"{{ sku \"\n[fields]\nsku = { from = \"A\" }\n");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("mappings/test.toml:2:11: subject does not compile: syntax error"),
        "{found:?}"
    );
}

#[test]
fn options_that_do_not_fit_the_field_are_reported() {
    let found = problems(
        r#"type = "t"
[fields]
a = { value = "x", trim = true, lookup = "l" }
b = { from = "B", format = "%Y" }
c = { from = "C", type = "date", tz = "UTC" }
d = { from = "D", default = "x", required = true }
e = { value = "abc", type = "integer" }
f = { from = "F", type = "decimal", default = 1.5 }
g = { from = "G", type = "datetime", format = "%Y-%m-%d %H:%M" }
"#,
    );
    assert_eq!(
        found,
        [
            "mappings/test.toml:3:27: `trim` does not apply to a constant `value`",
            "mappings/test.toml:3:42: `lookup` does not apply to a constant `value`",
            "mappings/test.toml:4:28: `format` applies only to date and datetime fields",
            "mappings/test.toml:5:39: `tz` applies only to datetime fields",
            "mappings/test.toml:6:29: a field with a default is never missing; drop `required` or `default`",
            "mappings/test.toml:7:15: value: cannot read \"abc\" as an integer",
            "mappings/test.toml:8:47: default: write decimal numbers as strings (\"1.50\") so that their scale is kept",
            "mappings/test.toml:9:47: format \"%Y-%m-%d %H:%M\" reads no UTC offset (%z); set `tz` to the zone the times are in",
        ]
    );
}

#[test]
fn clashing_field_names_are_reported() {
    let found = problems(
        "type = \"t\"\n[fields]\ncustomer = { from = \"A\" }\n\"customer.name\" = { from = \"B\" }\n",
    );
    assert_eq!(
        found,
        [
            "mappings/test.toml:4:1: field \"customer.name\" is inside \"customer\", which is a field, not an object"
        ]
    );
}

#[test]
fn naive_datetimes_are_zoned() {
    let m = load(
        "type = \"t\"\n[fields]\nat = { from = \"TS\", type = \"datetime\", format = \"%Y-%m-%d %H:%M:%S\", tz = \"Asia/Shanghai\" }\n",
    );
    assert_eq!(
        data(&m, &[("TS", "2024-03-01 10:15:00")]),
        r#"{"at":"2024-03-01T10:15:00+08:00"}"#
    );
}

#[test]
fn nested_output_from_dotted_names_and_sub_tables() {
    let m = load(
        r#"type = "t"
[fields]
id = { from = "ID", type = "integer" }
"customer.name" = { from = "NAME" }
"customer.vip" = { from = "VIP", type = "boolean" }
[fields.customer.address]
city = { from = "CITY", trim = true }
[fields.total]
amount = { from = "AMT", type = "decimal" }
"#,
    );
    assert_eq!(
        data(
            &m,
            &[
                ("ID", "7"),
                ("NAME", "Li \"Lei\""),
                ("VIP", "Y"),
                ("CITY", " 上海 "),
                ("AMT", "")
            ]
        ),
        r#"{"id":7,"customer":{"name":"Li \"Lei\"","vip":true,"address":{"city":"上海"}}}"#
    );
    assert_eq!(
        data(
            &m,
            &[
                ("ID", "7"),
                ("NAME", ""),
                ("VIP", ""),
                ("CITY", ""),
                ("AMT", "1.50")
            ]
        ),
        r#"{"id":7,"total":{"amount":"1.50"}}"#
    );
}

#[test]
fn lookup_files_resolve_next_to_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lookups")).unwrap();
    std::fs::write(
        dir.path().join("lookups/stores.csv"),
        "plant,store\n1001,SH-001\n1002,SH-002\n",
    )
    .unwrap();
    let path = dir.path().join("stock.toml");
    std::fs::write(
        &path,
        r#"type = "t"
[fields]
store = { from = "WERKS", lookup = "stores" }
region = { from = "WERKS", lookup = "stores", default = "unknown" }
[lookups]
stores = "lookups/stores.csv"
"#,
    )
    .unwrap();
    let m = Mapping::load(&path).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(m.name(), "stock");
    assert_eq!(
        data(&m, &[("WERKS", "1002")]),
        r#"{"store":"SH-002","region":"SH-002"}"#
    );
    let e = map(&m, &[("WERKS", "9999")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: field \"store\" (from column \"WERKS\"): \"9999\" is not in lookup table \"stores\"",
            path.display()
        )
    );
}

#[test]
fn missing_lookup_file_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "type = \"t\"\n[fields]\na = { from = \"A\", lookup = \"x\" }\n[lookups]\nx = \"nope.csv\"\n",
    )
    .unwrap();
    let d = Mapping::load(&path).unwrap_err();
    assert_eq!(d.0.len(), 1, "{d}");
    assert!(
        d.0[0]
            .to_string()
            .contains(":5:5: lookup \"x\": cannot read "),
        "{d}"
    );
}

#[test]
fn defaults_and_required_fields() {
    let m = load(
        r#"type = "t"
[fields]
sku = { from = "SKU", required = true }
unit = { from = "UNIT", trim = true, default = "EA" }
qty = { from = "QTY", type = "integer", default = 0 }
note = { from = "NOTE" }
"#,
    );
    assert_eq!(
        data(
            &m,
            &[("SKU", "A"), ("UNIT", "  "), ("QTY", ""), ("NOTE", "")]
        ),
        r#"{"sku":"A","unit":"EA","qty":0}"#
    );
    assert_eq!(
        data(
            &m,
            &[("SKU", "A"), ("UNIT", "PC"), ("QTY", " 3 "), ("NOTE", " ")]
        ),
        r#"{"sku":"A","unit":"PC","qty":3,"note":" "}"#
    );
    assert_eq!(
        error(&m, &[("SKU", ""), ("UNIT", ""), ("QTY", ""), ("NOTE", "")]),
        "mappings/test.toml:3: field \"sku\" (from column \"SKU\"): is required, but the value is missing or empty"
    );
}

#[test]
fn short_rows_read_as_missing_values() {
    let m = load("type = \"t\"\n[fields]\na = { from = \"A\" }\nb = { from = \"B\" }\n");
    let columns = columns(&[("A", ""), ("B", "")]);
    let record = Record::row(
        origin(),
        Arc::clone(&columns),
        csv::StringRecord::from(vec!["1"]),
    );
    let mapped = m.bind(&columns).unwrap().eval(&record).unwrap().remove(0);
    assert_eq!(mapped.data, br#"{"a":"1"}"#);
}

#[test]
fn a_column_the_file_lacks_is_reported_at_bind() {
    let m = load("type = \"t\"\n[fields]\nsku = { from = \"MATNR\" }\n");
    let columns = Columns::new(vec!["WERKS".into(), "matnr".into()], b',');
    let e = m.bind(&columns).unwrap_err();
    assert_eq!(
        e.to_string(),
        "mappings/test.toml:3: field \"sku\" (from column \"MATNR\"): the file has no column \"MATNR\" (did you mean \"matnr\"?); its columns are: WERKS, matnr"
    );
}

#[test]
fn expressions_compute_typed_values() {
    let m = load(
        r#"type = "t"
when = "KIND is not defined or KIND != 'X'"
[fields]
double = { expr = "QTY | int * 2", type = "integer" }
label = { expr = "NAME | upper if NAME else none" }
"#,
    );
    assert_eq!(m.source_columns(), ["KIND", "QTY", "NAME"]);
    assert_eq!(
        data(&m, &[("QTY", "21"), ("NAME", "ab")]),
        r#"{"double":42,"label":"AB"}"#
    );
    assert_eq!(
        data(&m, &[("QTY", "1"), ("NAME", ""), ("KIND", "A")]),
        r#"{"double":2}"#
    );
    assert_eq!(
        map(&m, &[("QTY", "1"), ("NAME", ""), ("KIND", "X")]),
        Ok(None)
    );
    assert_eq!(
        error(&m, &[("NAME", "")]),
        "mappings/test.toml:4: field \"double\": cannot evaluate \"QTY | int * 2\": undefined value: `QTY` is undefined"
    );
}

#[test]
fn when_errors_name_the_expression() {
    let m = load("type = \"t\"\nwhen = \"QTY != '0'\"\n[fields]\na = { from = \"A\" }\n");
    assert_eq!(
        error(&m, &[("A", "1")]),
        "mappings/test.toml:2: when: cannot evaluate \"QTY != '0'\": undefined value: `QTY` is undefined"
    );
}

#[test]
fn subject_templates_beyond_placeholders_use_minijinja() {
    let m = load(
        r#"type = "t"
subject = "{{ store | lower }}/{{ customer.id }}"
[fields]
store = { from = "S" }
"customer.id" = { from = "C", type = "integer" }
"#,
    );
    let mapped = map(&m, &[("S", "SH-1"), ("C", "7")]).unwrap().unwrap();
    assert_eq!(mapped.subject.as_deref(), Some("sh-1/7"));
}

#[test]
fn native_subjects_read_nested_and_escaped_values() {
    let m = load(
        r#"type = "t"
subject = "{{ customer.name }}@{{ n }}"
key = ["customer.name", "n"]
version = "rev"
[fields]
"customer.name" = { from = "NAME" }
n = { from = "N", type = "decimal" }
rev = { from = "REV", type = "integer" }
"#,
    );
    let mapped = map(&m, &[("NAME", "a\"b"), ("N", "1.0"), ("REV", "3")])
        .unwrap()
        .unwrap();
    assert_eq!(mapped.subject.as_deref(), Some("a\"b@1.0"));
    assert_eq!(mapped.key, ["a\"b", "1.0", "3"]);
    assert_eq!(
        error(&m, &[("NAME", "x"), ("N", ""), ("REV", "3")]),
        "mappings/test.toml:7: field \"n\" (from column \"N\"): is part of the event id (key or version), but the value is missing or empty"
    );
}

#[test]
fn missing_subject_fields_are_errors() {
    let m = load("type = \"t\"\nsubject = \"s/{{ a }}\"\n[fields]\na = { from = \"A\" }\n");
    assert_eq!(
        error(&m, &[("A", "")]),
        "mappings/test.toml:2: subject: field \"a\" is missing or empty"
    );
}

#[test]
fn failing_examples_are_reported() {
    let m = load(
        r#"type = "t"
when = "A != 'skip'"
[fields]
a = { from = "A", type = "integer" }
[[examples]]
input = { A = "1" }
output = { a = 2 }
[[examples]]
input = { A = "x" }
error = "as an integer"
[[examples]]
input = { A = "skip" }
skipped = true
[[examples]]
input = { A = "3" }
error = "boom"
[[examples]]
input = { A = "skip" }
output = { a = 1 }
"#,
    );
    assert_eq!(
        m.run_examples(None),
        [
            "mappings/test.toml:5: example 1: output differs: a: expected 2, got 1",
            "mappings/test.toml:14: example 4: expected an error containing \"boom\", got output {\"a\":3}",
            "mappings/test.toml:17: example 5: the record was skipped by `when`",
        ]
    );
}

#[test]
fn examples_need_one_expectation() {
    let found = problems(
        "type = \"t\"\n[fields]\na = { from = \"A\" }\n[[examples]]\ninput = { A = \"1\" }\n",
    );
    assert_eq!(
        found,
        [
            "mappings/test.toml:4:1: an example needs exactly one of `output`, `error` or `skipped = true`"
        ]
    );
}

#[test]
fn a_mapping_without_fields_or_type_is_refused() {
    assert_eq!(
        problems("type = \"t\"\n"),
        ["mappings/test.toml:1:1: the mapping has no [fields]"]
    );
    let found = problems("[fields]\na = { from = \"A\" }\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("missing field `type`"), "{found:?}");
}

#[test]
fn unreadable_files_are_reported() {
    let d = Mapping::load(Path::new("/nonexistent/m.toml")).unwrap_err();
    assert!(
        d.to_string()
            .starts_with("/nonexistent/m.toml: cannot read the mapping: "),
        "{d}"
    );
}
