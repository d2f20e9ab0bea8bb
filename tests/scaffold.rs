//! `omnibus scaffold` end to end through the library: a sample file in, a mapping text out that
//! loads with `Mapping::from_text` and whose example passes.

use omnibus::mapping::Mapping;
use omnibus::scaffold::{PLACEHOLDER_TYPE, Request, ScaffoldError, csv_format, scaffold};
use serde_json::json;
use std::path::{Path, PathBuf};

fn write_sample(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn load(text: &str) -> Mapping {
    Mapping::from_text(Path::new("scaffolded.toml"), text)
        .unwrap_or_else(|d| panic!("the scaffolded mapping does not load: {d}\n{text}"))
}

/// The `[fields]` line of output field `name`.
fn field_line<'t>(text: &'t str, name: &str) -> &'t str {
    let start = format!("{name} ");
    text.lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no field {name} in\n{text}"))
}

const STOCK: &str = "门店编号|MATNR|BUDAT|LABST|QTY|ACTIVE|CHANGED|NOTE|名称\n\
    1001|000000000010023456|20240301|120.000|12|Y|2024-03-01 10:15:00|| 康师傅 \n\
    1002|000000000010023457|20240302|5.5|-3|N|2024-03-02 08:00:00||面\n";

#[test]
fn a_gbk_sample_becomes_a_mapping_that_loads_and_passes_its_example() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(STOCK);
    assert!(!unmappable);
    let sample = write_sample(dir.path(), "MARD.txt", &bytes);
    let request = Request::new(&sample, csv_format(b'|', "gbk", true).unwrap());
    let text = scaffold(&request).unwrap();

    assert!(text.starts_with("# Starting mapping for "), "{text}");
    assert!(
        text.contains("from the first 2 records of the sample"),
        "{text}"
    );
    assert!(text.contains(&format!("type = \"{PLACEHOLDER_TYPE}\"  # a placeholder")));
    assert!(text.contains("# key = [\"门店编号\"]"), "{text}");
    let line = |name| field_line(&text, name);
    assert!(line("\"门店编号\"").contains("from = \"门店编号\", type = \"integer\""));
    assert!(line("matnr").contains("type = \"string\" }"));
    assert!(line("budat").contains("type = \"date\", format = \"%Y%m%d\""));
    assert!(line("labst").contains("type = \"decimal\""));
    assert!(line("qty").contains("type = \"integer\""));
    assert!(line("active").contains("type = \"boolean\""));
    assert!(line("changed").contains(
        "type = \"datetime\", format = \"%Y-%m-%d %H:%M:%S\", tz = \"Asia/Shanghai\" }  \
         # e.g. \"2024-03-01 10:15:00\"; check the zone"
    ));
    assert!(line("note").ends_with("# always empty in the sample"));
    assert!(line("\"名称\"").contains("type = \"string\", trim = true"));

    let mapping = load(&text);
    assert_eq!(mapping.example_count(), 1);
    assert_eq!(mapping.run_examples(None), Vec::<String>::new());
    assert!(text.contains("[examples.output]\n"), "{text}");
    assert!(text.contains("budat = \"2024-03-01\"\n"), "{text}");
    let input: Vec<(String, String)> = [
        ("门店编号", "1002"),
        ("MATNR", "000000000010023457"),
        ("BUDAT", "20240302"),
        ("LABST", "5.5"),
        ("QTY", "-3"),
        ("ACTIVE", "N"),
        ("CHANGED", "2024-03-02 08:00:00"),
        ("名称", " 面 "),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    assert_eq!(
        mapping.example_output(&input).unwrap(),
        json!({
            "门店编号": 1002, "matnr": "000000000010023457", "budat": "2024-03-02",
            "labst": "5.5", "qty": -3, "active": false,
            "changed": "2024-03-02T08:00:00+08:00", "名称": "面"
        })
    );
}

#[test]
fn the_given_event_type_is_written_without_placeholder_note() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(dir.path(), "s.csv", b"sku,qty\nA1,1\n");
    let mut request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    request.event_type = Some("retail.inventory.level.v1".into());
    let text = scaffold(&request).unwrap();
    assert!(
        text.contains("\ntype = \"retail.inventory.level.v1\"\n"),
        "{text}"
    );
    assert!(
        text.contains("# subject = \"{{ sku }}\"\n# key = [\"sku\"]\n"),
        "{text}"
    );
    assert_eq!(load(&text).event_type(), "retail.inventory.level.v1");
}

#[test]
fn a_sample_without_header_gets_numbered_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(dir.path(), "s.txt", b"A1;2024-03-01;7\nA2;2024-03-02;8\n");
    let request = Request::new(&sample, csv_format(b';', "utf-8", false).unwrap());
    let text = scaffold(&request).unwrap();
    assert!(
        text.contains("columns = [\"col1\", \"col2\", \"col3\"]"),
        "{text}"
    );
    assert!(field_line(&text, "col2").contains("type = \"date\", format = \"%Y-%m-%d\""));
    assert!(field_line(&text, "col3").contains("type = \"integer\""));
    let mapping = load(&text);
    assert_eq!(mapping.run_examples(None), Vec::<String>::new());
    assert!(text.contains("col1 = \"A1\"\n"), "{text}");
}

#[test]
fn only_max_records_are_sampled() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(dir.path(), "s.csv", b"n\n1\n2\nx\n");
    let mut request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    request.max_records = 2;
    let text = scaffold(&request).unwrap();
    assert!(text.contains("from the first 2 records"), "{text}");
    assert!(field_line(&text, "n").contains("type = \"integer\""));
    request.max_records = 1000;
    let text = scaffold(&request).unwrap();
    assert!(field_line(&text, "n").contains("type = \"string\""));
}

#[test]
fn undecodable_records_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(dir.path(), "s.csv", b"a,b\n1,2\n3\n4,5\n");
    let request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    let text = scaffold(&request).unwrap();
    assert!(
        text.contains(
            "from the first 2 records of the sample (1 more could not be decoded; the first: \
             line 3: expected 2 fields, found 1)."
        ),
        "{text}"
    );
    assert!(field_line(&text, "b").contains("type = \"integer\""));
}

#[test]
fn errors_name_the_sample_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let format = csv_format(b',', "utf-8", true).unwrap();

    let missing = dir.path().join("missing.csv");
    let error = scaffold(&Request::new(&missing, format.clone())).unwrap_err();
    assert!(matches!(error, ScaffoldError::Unreadable { .. }));
    assert!(error.to_string().contains("missing.csv"), "{error}");

    let header_only = write_sample(dir.path(), "h.csv", b"a,b\n");
    let error = scaffold(&Request::new(&header_only, format.clone())).unwrap_err();
    assert!(matches!(error, ScaffoldError::NoRecords { .. }), "{error}");
    assert!(error.to_string().contains("h.csv: no records"), "{error}");

    let bad_header = write_sample(dir.path(), "b.csv", b"a,,c\n1,2,3\n");
    let error = scaffold(&Request::new(&bad_header, format)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("b.csv:1: header column 2 has no name"),
        "{error}"
    );

    let error = csv_format(b',', "klingon", true).unwrap_err();
    assert!(error.to_string().contains("unknown encoding \"klingon\""));
}

#[test]
fn a_column_name_with_punctuation_is_read_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(dir.path(), "s.csv", b"Order No.,qty[kg]\nA-1,2\n");
    let request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    let text = scaffold(&request).unwrap();
    assert!(
        text.contains("\norder_no = { from = \"Order No.\", type = \"string\" }"),
        "{text}"
    );
    let mapping = load(&text);
    assert_eq!(mapping.run_examples(None), Vec::<String>::new());
    assert!(
        text.contains("[examples.output]\norder_no = \"A-1\"\n"),
        "{text}"
    );
}

/// A schema folder with one event type, `t.v1`.
fn schema_dir(dir: &Path) -> PathBuf {
    let schemas = dir.join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    let schema = r#"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "$id": "urn:omnibus:schema:t.v1",
      "type": "object",
      "required": ["store", "on_hand", "as_of"],
      "properties": {
        "store": {"type": "string", "description": "Unified store code."},
        "on_hand": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"},
        "as_of": {"type": "string", "format": "date"},
        "active": {"type": "boolean"},
        "ship_to": {"type": "object", "properties": {"city": {"type": "string"}}},
        "lines": {"type": "array", "items": {"type": "object",
          "required": ["sku"], "properties": {"sku": {"type": "string"}}}}
      }
    }"#;
    std::fs::write(schemas.join("t.v1.json"), schema).unwrap();
    schemas
}

#[test]
fn schema_fields_name_and_type_the_columns_that_match_them() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = omnibus::canonical::schema::Schemas::load(&schema_dir(dir.path())).unwrap();
    let schema = std::sync::Arc::clone(schemas.get("t.v1").unwrap());
    let sample = write_sample(
        dir.path(),
        "s.csv",
        b"STORE,OnHand,AS_OF,Active,Remark\n1001,12,20240301,1,x\n1002,3,20240302,0,\n",
    );
    let mut request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    request.event_type = Some("t.v1".into());
    request.schema = Some(std::sync::Arc::clone(&schema));
    let text = scaffold(&request).unwrap();

    let line = |name| field_line(&text, name);
    assert!(line("store").contains("{ from = \"STORE\", type = \"string\", required = true }"));
    assert!(line("on_hand").contains("type = \"decimal\", required = true }"));
    assert!(line("as_of").contains("type = \"date\", format = \"%Y%m%d\", required = true }"));
    assert!(line("active").contains("{ from = \"Active\", type = \"boolean\" }"));
    assert!(line("remark").contains("type = \"string\" }"));
    assert!(
        text.contains(
            "\n# Fields of t.v1 not set yet:\n\
             # \"ship_to.city\" = { from = \"…\" }  # string\n\
             # [fields.lines]  # one object per item\n\
             # each = \"…\"\n\
             # sku = { from = \"…\" }  # string\n"
        ),
        "{text}"
    );
    let mapping = load(&text);
    assert_eq!(mapping.run_examples(Some(&schema)), Vec::<String>::new());
    assert!(text.contains("store = \"1001\"\n"), "{text}");
}

#[test]
fn a_first_record_the_mapping_fails_on_is_written_as_a_commented_example() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = omnibus::canonical::schema::Schemas::load(&schema_dir(dir.path())).unwrap();
    let sample = write_sample(dir.path(), "s.csv", b"STORE,OnHand\n,1\nS2,2\n");
    let mut request = Request::new(&sample, csv_format(b',', "utf-8", true).unwrap());
    request.schema = schemas.get("t.v1").cloned();
    let text = scaffold(&request).unwrap();
    assert!(
        text.contains("\n# The first record of the sample does not map yet: "),
        "{text}"
    );
    assert!(text.contains("is required"), "{text}");
    assert!(
        text.contains("\n# [[examples]]\n# [examples.input]\n# STORE = \"\"\n"),
        "{text}"
    );
    assert_eq!(load(&text).example_count(), 0);
}
