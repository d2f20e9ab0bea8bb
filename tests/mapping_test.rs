//! `omnibus test` and `omnibus scaffold` through the real binary, on a tiny deployment in a
//! temporary folder: examples, golden sample files with their diff and `--bless`, coverage, and a
//! scaffolded mapping that loads.

use omnibus::mapping::Mapping;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HUB: &str = "[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\n\n[paths]\nconnectors = \"../connectors\"\n\
    mappings = \"../mappings\"\nschemas = \"../schemas\"\n";

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:omnibus:schema:shop.sale.v1",
  "type": "object",
  "required": ["store", "qty"],
  "additionalProperties": false,
  "properties": {
    "store": { "type": "string" },
    "receipt": { "type": "string" },
    "qty": { "type": "integer" },
    "total": { "type": "string" }
  }
}"#;

const CONNECTOR: &str = "system = \"shop\"\nmapping = \"sales\"\n[source]\ntype = \"file\"\n\
    path = \"../spool\"\n[format]\ntype = \"csv\"\n";

/// Two examples: a row that maps, a row that fails.
const MAPPING: &str = r#"type = "shop.sale.v1"
subject = "{{ store }}/{{ receipt }}"
key = ["store", "receipt"]
when = "qty != '0'"

[fields]
store   = { from = "store", required = true }
receipt = { from = "receipt" }
qty     = { from = "qty", type = "integer" }

[[examples]]
input  = { store = "S1", receipt = "R1", qty = "2" }
output = { store = "S1", qty = 2 }

[[examples]]
input = { store = "S1", receipt = "R2", qty = "x" }
error = "cannot read"
"#;

/// An event, a filtered record and a failing one; `till` is never read.
const SAMPLE: &str = "store,receipt,qty,till\nS1,R1,2,7\nS1,R2,0,7\nS2,R3,x,8\n";

struct Deployment {
    dir: tempfile::TempDir,
}

impl Deployment {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = Self { dir };
        for sub in [
            "config",
            "connectors",
            "mappings/tests/sales",
            "schemas",
            "spool",
        ] {
            std::fs::create_dir_all(d.path(sub)).unwrap();
        }
        d.write("config/omnibus.toml", HUB);
        d.write("schemas/shop.sale.v1.json", SCHEMA);
        d.write("connectors/shop.toml", CONNECTOR);
        d.write("mappings/sales.toml", MAPPING);
        d.write("mappings/tests/sales/sales.csv", SAMPLE);
        d
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).unwrap();
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    /// Runs `omnibus <args> --config <this deployment>`; returns the exit code and stdout.
    fn omnibus(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = run(args, &self.path("config/omnibus.toml"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        (out.status.code(), format!("{stdout}{stderr}"))
    }
}

fn run(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("OMNIBUS_CONFIG")
        .output()
        .unwrap()
}

const EXPECTED: &str = "mappings/tests/sales/sales.csv.expected.jsonl";

#[test]
fn bless_writes_the_expected_file_and_the_next_run_passes() {
    let d = Deployment::new();
    let (code, out) = d.omnibus(&["test"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("run `omnibus test --bless` to create it"),
        "{out}"
    );

    let (code, out) = d.omnibus(&["test", "--bless"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("wrote ") && out.contains("sales.csv.expected.jsonl (3 lines)"),
        "{out}"
    );
    let expected = d.read(EXPECTED);
    let lines: Vec<serde_json::Value> = expected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{expected}");
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["subject"], "S1/R1");
    assert_eq!(
        lines[0]["data"],
        serde_json::json!({"store": "S1", "receipt": "R1", "qty": 2})
    );
    assert!(lines[0]["id"].is_string());
    assert_eq!(lines[1], serde_json::json!({"line": 3, "filtered": true}));
    assert_eq!(lines[2]["line"], 4);
    let error = lines[2]["error"].as_str().unwrap();
    assert!(
        error.starts_with("sales.toml:"),
        "paths are cut to file names: {error}"
    );
    assert!(error.contains("\"x\""), "{error}");

    let (code, out) = d.omnibus(&["test"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok   sales: 2 examples, 1 golden file\n"),
        "{out}"
    );
    assert!(
        out.contains("passed: 1 mapping (2 examples, 1 golden file)"),
        "{out}"
    );
    assert_eq!(d.read(EXPECTED), expected, "a passing run writes nothing");
}

#[test]
fn a_changed_outcome_fails_with_a_diff_of_the_lines() {
    let d = Deployment::new();
    assert_eq!(d.omnibus(&["test", "--bless"]).0, Some(0));
    let blessed = d.read(EXPECTED);
    d.write(EXPECTED, &blessed.replace("\"qty\":2", "\"qty\":3"));

    let (code, out) = d.omnibus(&["test", "sales"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL sales: 2 examples, 1 golden file (1 failed)"),
        "{out}"
    );
    assert!(out.contains("sales.csv: outcomes differ"), "{out}");
    assert!(out.contains("@@ -1,3 +1,3 @@"), "{out}");
    let removed = out
        .lines()
        .find(|l| l.trim_start().starts_with("-{\"line\":2"));
    let added = out
        .lines()
        .find(|l| l.trim_start().starts_with("+{\"line\":2"));
    assert!(removed.is_some_and(|l| l.contains("\"qty\":3")), "{out}");
    assert!(added.is_some_and(|l| l.contains("\"qty\":2")), "{out}");
    assert!(
        out.contains(" {\"line\":3,\"filtered\":true}"),
        "context line: {out}"
    );
    assert!(
        out.contains("sales.csv:2: data.qty: expected 3, got 2"),
        "{out}"
    );

    let (code, out) = d.omnibus(&["test", "--bless"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        d.read(EXPECTED),
        blessed,
        "bless restores the actual outcomes"
    );
}

#[test]
fn a_failing_example_fails_naming_its_file_and_line() {
    let d = Deployment::new();
    d.omnibus(&["test", "--bless"]);
    d.write(
        "mappings/sales.toml",
        &MAPPING.replace("qty = 2 }", "qty = 5 }"),
    );
    let (code, out) = d.omnibus(&["test"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL sales: 2 examples (1 failed), 1 golden file"),
        "{out}"
    );
    assert!(
        out.contains("sales.toml:11: example 1: output differs: qty: expected 5, got 2"),
        "{out}"
    );
}

#[test]
fn coverage_lists_unread_columns_and_unset_schema_fields() {
    let d = Deployment::new();
    d.omnibus(&["test", "--bless"]);
    let (code, out) = d.omnibus(&["test", "--coverage"]);
    assert_eq!(code, Some(0), "{out}");
    let unread = out
        .split("source fields never read (columns of sample sales.csv):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    let (unread, unset) = unread.split_once("schema fields never set:\n").unwrap();
    assert_eq!(unread.trim(), "till");
    assert_eq!(unset.lines().next().map(str::trim), Some("total"));
    assert!(!unset.contains("store"), "{out}");
}

#[test]
fn unknown_mappings_and_missing_schemas_are_reported() {
    let d = Deployment::new();
    let (code, out) = d.omnibus(&["test", "sails"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("no mapping \"sails\"; known: sales"), "{out}");

    d.write(
        "mappings/other.toml",
        "type = \"shop.other.v1\"\n[fields]\na = { from = \"A\" }\n",
    );
    let (code, out) = d.omnibus(&["test", "other"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL other: cannot be tested"), "{out}");
    assert!(
        out.contains("no schema for type \"shop.other.v1\""),
        "{out}"
    );
}

#[test]
fn a_sample_without_a_connector_for_its_mapping_fails() {
    let d = Deployment::new();
    std::fs::remove_file(d.path("connectors/shop.toml")).unwrap();
    let (code, out) = d.omnibus(&["test"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("sales.csv: no connector uses mapping \"sales\""),
        "{out}"
    );
}

#[test]
fn scaffold_prints_a_mapping_that_loads_and_never_overwrites() {
    let d = Deployment::new();
    let sample = d.path("spool/stock.csv");
    std::fs::write(&sample, "sku;qty;as_of\nA1;3;2024-03-01\nA2;5;2024-03-02\n").unwrap();
    let sample = sample.to_string_lossy().into_owned();
    let (code, out) = d.omnibus(&["scaffold", "--sample", &sample, "--delimiter", ";"]);
    assert_eq!(code, Some(0), "{out}");
    let mapping =
        Mapping::from_text(Path::new("stock.toml"), &out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert!(mapping.run_examples(None).is_empty());
    let reads: Vec<String> = mapping.source_reads().into_iter().map(|r| r.name).collect();
    assert_eq!(reads, ["sku", "qty", "as_of"]);

    let output = d.path("mappings/stock.toml");
    let target = output.to_string_lossy().into_owned();
    let args = [
        "scaffold",
        "--sample",
        &sample,
        "--delimiter",
        ";",
        "--output",
        &target,
    ];
    assert_eq!(d.omnibus(&args).0, Some(0));
    assert!(d.read("mappings/stock.toml").contains("[fields]"));
    std::fs::write(&output, "mine").unwrap();
    let (code, out) = d.omnibus(&args);
    assert_eq!(code, Some(1));
    assert!(out.contains("never overwritten"), "{out}");
    assert_eq!(d.read("mappings/stock.toml"), "mine");
}
