//! The command line without a broker: `check` reports every problem with its position, `map`
//! previews events, `--version` answers.

mod common;

use common::offline::{omnibus, succeeded};
use std::path::Path;
use std::process::Command;

/// A deployment with one POS connector and a copy of the repository's pos_sales mapping.
fn deployment() -> tempfile::TempDir {
    let dir = common::offline::deployment();
    std::fs::write(
        dir.path().join("connectors/pos.toml"),
        "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"file\"\npath = \"../spool\"\n[format]\ntype = \"csv\"\n",
    )
    .expect("connector");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/mappings/pos_sales.toml"),
        dir.path().join("mappings/pos_sales.toml"),
    )
    .expect("mapping");
    dir
}

#[test]
fn check_passes_on_a_good_deployment_and_the_reference_one() {
    let dir = deployment();
    let out = omnibus(&["check"], &dir.path().join("config/omnibus.toml"));
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok: 1 connector(s), 1 mapping(s)"
    );
    succeeded(&reference(&["check"]));
}

/// Runs `omnibus ARGS` on the repository's reference deployment, with the webhook secrets its
/// `http_push` connectors name (`check` refuses a connector whose secret is not set).
fn reference(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(args)
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/omnibus.toml"))
        .env("SMS_CALLBACK_SECRET", "reference-test-secret")
        .env("ONLINE_MALL_WEBHOOK_SECRET", "reference-test-secret")
        .env("MARKETING_WEBHOOK_SECRET", "reference-test-secret")
        .output()
        .expect("run omnibus")
}

#[test]
fn check_lists_the_reference_deployment_with_every_family_instance() {
    let out = reference(&["check", "--list"]);
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("ok: "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let count: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ok: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 63, "{stdout}");
    assert_eq!(rows.len(), count, "one row per connector:\n{stdout}");
    let row = |id: &str| rows.iter().find(|r| r[0] == id).cloned();
    let north = row("pos-sales-north").unwrap_or_default();
    assert_eq!(&north[..4], ["pos-sales-north", "pos", "file", "pos_sales"]);
    assert!(
        north[4].ends_with("/var/spool/pos/north/sales/*.csv"),
        "{north:?}"
    );
    assert!(!north[4].contains(".."), "{north:?}");
    let lbs = row("lbs-checkins-southwest").unwrap_or_default();
    assert_eq!(lbs[2..5], ["mqtt", "lbs_checkin", "topics"]);
    assert_eq!(lbs[5], "lbs/checkins/southwest/+");
}

#[test]
fn check_reports_every_problem_of_every_file_with_its_position() {
    let dir = deployment();
    std::fs::write(
        dir.path().join("connectors/erp.toml"),
        "system = \"erp\"\nmapping = \"erp_stock\"\n[source]\ntype = \"file\"\npath = \"../spool\"\n\
         [format]\ntype = \"csv\"\ndelimter = \"|\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("mappings/erp_stock.toml"),
        "type = \"retail.inventory.level.v1\"\n[fields]\nas_of = { from = \"BUDAT\", type = \"datetime\", tz = \"Asia/Shanghia\" }\n",
    )
    .expect("write");
    let out = omnibus(&["check"], &dir.path().join("config/omnibus.toml"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connectors/erp.toml:8:1: unknown key \"delimter\" in [format]; did you mean \"delimiter\"?"),
        "{err}"
    );
    assert!(err.contains("mappings/erp_stock.toml:3:"), "{err}");
    assert!(err.contains("Asia/Shanghia"), "{err}");
    assert!(err.contains("problem(s) found"), "{err}");
}

#[test]
fn map_prints_cloudevents_and_names_the_line_of_each_bad_record() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pos/sales_20240301.csv"
    );
    let out = omnibus(&["map", "--connector", "pos", sample], &config);
    succeeded(&out);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0]["specversion"], "1.0");
    assert_eq!(events[0]["type"], "retail.sale.recorded.v1");
    assert_eq!(events[0]["source"], "/omnibus/pos/pos");
    assert_eq!(events[0]["data"]["sold_at"], "2024-03-01T10:15:00+08:00");

    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(sample)
        .expect("sample")
        .replace(",2.00,4.00,", ",2.x0,4.00,");
    std::fs::write(&bad, text).expect("write");
    let out = omnibus(
        &[
            "map",
            "--connector",
            "pos",
            bad.to_str().expect("utf-8 path"),
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv:2: ") && err.contains("\"2.x0\""),
        "{err}"
    );
}

#[test]
fn version_and_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("--version")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("omnibus "));
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("frobnicate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_compares_mappings_with_their_schemas() {
    let dir = deployment();
    let mapping = dir.path().join("mappings/pos_sales.toml");
    let text = std::fs::read_to_string(&mapping)
        .expect("mapping")
        .replace("currency   = { value = \"CNY\" }\n", "")
        .replace("name       = {", "title      = {");
    std::fs::write(&mapping, text).expect("write");
    std::fs::write(
        dir.path().join("mappings/orphan.toml"),
        "type = \"retail.nothing.v1\"\n[fields]\na = { from = \"A\" }\n",
    )
    .expect("write");
    let out = omnibus(&["check"], &dir.path().join("config/omnibus.toml"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pos_sales.toml:13: output field \"title\" is not in"),
        "{err}"
    );
    assert!(
        err.contains("pos_sales.toml:2: ")
            && err.contains("requires \"currency\", which no field of the mapping sets"),
        "{err}"
    );
    assert!(
        err.contains("orphan.toml: no schema for type \"retail.nothing.v1\""),
        "{err}"
    );
}

#[test]
fn map_dead_letters_events_that_break_their_schema_naming_the_field() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pos/sales_20240301.csv"
    );
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(sample).expect("sample").replacen(
        ",6901234567892,",
        ",69012345X,",
        1,
    );
    std::fs::write(&bad, text).expect("write");
    let out = omnibus(
        &[
            "map",
            "--connector",
            "pos",
            bad.to_str().expect("utf-8 path"),
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:2: "), "{err}");
    assert!(err.contains("pos_sales.toml:12: field \"ean\""), "{err}");
    assert!(err.contains("at /ean"), "{err}");
}

#[test]
fn the_reference_deployment_passes_its_mapping_tests() {
    let out = reference(&["test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok   pos_receipts: 2 examples, 1 golden file"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok   distribution_order: 2 examples, 1 golden file"),
        "a sql connector's mapping, golden-tested on NDJSON rows: {stdout}"
    );
    assert!(stdout.contains("passed: 30 mappings"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("connector left out"), "{stderr}");
}

#[test]
fn check_names_columns_a_mapping_reads_that_the_connector_does_not_declare() {
    let dir = deployment();
    std::fs::write(
        dir.path().join("connectors/pos.toml"),
        "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"file\"\npath = \"../spool\"\n\
         [format]\ntype = \"csv\"\ncolumns = [\"store_id\", \"receipt_no\", \"line_no\", \"sold_at\", \
         \"sku\", \"item_name\", \"qty\", \"unit_price\", \"amount\", \"payment\", \"member_card\"]\n",
    )
    .expect("connector");
    let out = omnibus(&["check"], &dir.path().join("config/omnibus.toml"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pos_sales.toml:12: reads \"barcode\", which connector \"pos\""),
        "{err}"
    );
    assert_eq!(err.matches("which connector").count(), 1, "{err}");
}

#[test]
fn inspect_names_the_columns_of_a_file_without_a_header() {
    let dir = common::offline::deployment();
    let sample = dir.path().join("spool/stock.csv");
    std::fs::write(&sample, "1001;A1;12\n1002;B2;5\n").expect("sample");
    let config = dir.path().join("config/omnibus.toml");
    let sample = sample.display().to_string();
    let out = omnibus(
        &["inspect", &sample, "--delimiter", ";", "--no-header"],
        &config,
    );
    succeeded(&out);
    let lines = common::offline::events(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["record"],
        serde_json::json!({"col1": "1002", "col2": "B2", "col3": "5"})
    );
}
