//! XLSX through the real binary: `omnibus inspect` shows a sheet's typed rows with their sheet and
//! row, and says what is wrong with a missing sheet or a file that is no workbook; `omnibus map`
//! makes sales events of an Excel export; and the hub, on the real RabbitMQ, publishes a dropped
//! workbook's rows, dead-letters the row with an error cell, and `omnibus dlq replay` reads that
//! row back from its CSV copy.

mod common;

use common::offline::{events, omnibus};
use common::xlsx::{Cell, workbook};
use common::{Broker, Deployment, eventually, with_broker};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const MAPPING: &str = r#"type = "retail.sale.recorded.v1"
subject = "{{ store }}/{{ receipt }}"
key = ["store", "receipt", "line"]
[fields]
store      = { from = "Store", required = true }
receipt    = { from = "Receipt", required = true }
line       = { from = "Line", type = "integer", required = true }
sold_at    = { from = "Sold at", type = "datetime", tz = "Asia/Shanghai", required = true }
sku        = { from = "SKU", required = true }
quantity   = { from = "Qty", type = "decimal", required = true }
unit_price = { from = "Unit price", type = "decimal", required = true }
amount     = { from = "Amount", type = "decimal", required = true }
currency   = { value = "CNY" }
"#;

const HEADER: &[Cell<'static>] = &[
    Cell::Text("Store"),
    Cell::Text("Receipt"),
    Cell::Text("Line"),
    Cell::Text("Sold at"),
    Cell::Text("SKU"),
    Cell::Text("Qty"),
    Cell::Text("Unit price"),
    Cell::Text("Amount"),
    Cell::Text("Note"),
];

/// A sales export: a banner row, the header in row 2, three sale rows (the third has `#N/A` in
/// its unmapped Note column), trailing empty rows; and a second sheet.
fn sales_workbook() -> Vec<u8> {
    let rows: &[&[Cell<'_>]] = &[
        &[Cell::Text("Daily sales"), Cell::Date("45352")],
        HEADER,
        &[
            Cell::Text("SH-001"),
            Cell::Text("R1"),
            Cell::Number("1"),
            Cell::DateTime("45352.427083333336"),
            Cell::Number("10023456"),
            Cell::Number("2"),
            Cell::Number("2"),
            Cell::Number("4"),
        ],
        &[
            Cell::Text("SH-001"),
            Cell::Text("R1"),
            Cell::Number("2"),
            Cell::DateTime("45352.427083333336"),
            Cell::Text("000123"),
            Cell::Number("0.5"),
            Cell::Number("12.5"),
            Cell::Number("6.25"),
            Cell::Bool(true),
        ],
        &[
            Cell::Text("SH-001"),
            Cell::Text("R2"),
            Cell::Number("1"),
            Cell::DateTime("45352.5"),
            Cell::Number("10023456"),
            Cell::Number("1"),
            Cell::Number("2"),
            Cell::Number("2"),
            Cell::Error("#N/A"),
        ],
        &[],
        &[Cell::Blank, Cell::Blank],
    ];
    let other: &[&[Cell<'_>]] = &[&[Cell::Text("x")]];
    workbook(&[("Sales", rows), ("Totals", other)])
}

const CONNECTOR: &str = "system = \"pos\"\nmapping = \"xlsx_sales\"\n[source]\ntype = \"file\"\n\
                         path = \"../spool\"\n[format]\ntype = \"xlsx\"\nsheet = \"Sales\"\n\
                         header_row = 2\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_str().expect("utf-8 path").to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn inspect_shows_typed_rows_with_their_sheet_and_row() {
    let dir = common::offline::deployment();
    let config = dir.path().join("config/omnibus.toml");
    let file = write(dir.path(), "sales.xlsx", &sales_workbook());
    let format = "type = \"xlsx\"\nsheet = \"Sales\"\nheader_row = 2";
    let out = omnibus(&["inspect", &file, "--format", format], &config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 record(s), 1 error(s)"),
        "{}",
        stderr(&out)
    );
    let lines = events(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["origin"]["line"], 3);
    assert_eq!(lines[0]["origin"]["locator"], "Sales row 3");
    let second = &lines[1]["record"];
    assert_eq!(second["Sold at"], "2024-03-01T10:15:00");
    assert_eq!(second["SKU"], "000123");
    assert_eq!(second["Qty"], "0.5");
    assert_eq!(second["Line"], "2");
    assert_eq!(second["Note"], "true");
    assert_eq!(lines[0]["record"]["Note"], "");
    assert_eq!(lines[2]["origin"]["locator"], "Sales row 5");
    assert_eq!(lines[2]["error"], "Sales!I5: the cell holds the error #N/A");
}

#[test]
fn inspect_says_which_sheets_there_are_and_what_is_no_workbook() {
    let dir = common::offline::deployment();
    let config = dir.path().join("config/omnibus.toml");
    let file = write(dir.path(), "sales.xlsx", &sales_workbook());
    let out = omnibus(
        &[
            "inspect",
            &file,
            "--format",
            "type = \"xlsx\"\nsheet = \"Sheet1\"",
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = events(&out);
    assert_eq!(
        lines[0]["error"],
        "line 0: the workbook has no sheet \"Sheet1\"; its sheets are \"Sales\", \"Totals\" (set \
         sheet to one of them, or to its position: sheet = 1)"
    );
    let csv = write(dir.path(), "sales.csv", b"Store,Receipt\nSH-001,R1\n");
    let out = omnibus(&["inspect", &csv, "--format", "xlsx"], &config);
    let lines = events(&out);
    let error = lines[0]["error"].as_str().expect("an error line");
    assert!(
        error.contains("not an XLSX workbook") && error.contains("save the file as Excel Workbook"),
        "{error}"
    );
}

#[test]
fn map_turns_an_excel_export_into_sale_events() {
    let dir = common::offline::deployment();
    let config = dir.path().join("config/omnibus.toml");
    std::fs::write(dir.path().join("connectors/xl.toml"), CONNECTOR).expect("connector");
    std::fs::write(dir.path().join("mappings/xlsx_sales.toml"), MAPPING).expect("mapping");
    let check = omnibus(&["check"], &config);
    assert!(check.status.success(), "{}", stderr(&check));
    let file = write(dir.path(), "sales.xlsx", &sales_workbook());
    let out = omnibus(&["map", "--connector", "xl", &file], &config);
    assert_eq!(out.status.code(), Some(1), "the #N/A row fails");
    let events = events(&out);
    assert_eq!(events.len(), 2);
    let data = &events[1]["data"];
    assert_eq!(data["sold_at"], "2024-03-01T10:15:00+08:00");
    assert_eq!(data["line"], 2);
    assert_eq!(data["sku"], "000123");
    assert_eq!(data["quantity"], "0.5");
    assert_eq!(data["unit_price"], "12.5");
    assert_eq!(data["amount"], "6.25");
    assert_eq!(events[0]["data"]["sku"], "10023456");
    assert!(
        stderr(&out)
            .contains("sales.xlsx:5 (Sales row 5): Sales!I5: the cell holds the error #N/A"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_reports_bad_xlsx_keys_at_their_line() {
    let dir = common::offline::deployment();
    let config = dir.path().join("config/omnibus.toml");
    let connector = CONNECTOR.replace("header_row = 2", "header_row = 0\nsheets = 1");
    std::fs::write(dir.path().join("connectors/xl.toml"), connector).expect("connector");
    std::fs::write(dir.path().join("mappings/xlsx_sales.toml"), MAPPING).expect("mapping");
    let check = omnibus(&["check"], &config);
    assert!(!check.status.success());
    let err = stderr(&check);
    assert!(
        err.contains("xl.toml:10:") && err.contains("unknown key \"sheets\""),
        "{err}"
    );
}

/// Runs `omnibus ARGS --config` of `d` off the async runtime.
async fn run(d: &Deployment, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnibus"));
    cmd.args(args).arg("--config").arg(d.config());
    tokio::task::spawn_blocking(move || cmd.output().expect("run omnibus"))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_workbook_is_published_and_its_error_row_replays_from_its_csv_copy() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("xlsx");
        broker.owns(&d);
        d.mapping("xlsx_sales", MAPPING);
        d.file_connector(
            "xl",
            "xlsx_sales",
            "type = \"xlsx\"\nsheet = \"Sales\"\nheader_row = 2",
        );
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(None);
        d.drop_file("xl", "sales.xlsx", &sales_workbook());
        let got = broker.take(&queue, 2, WAIT).await;
        assert_eq!(got.len(), 2, "hub log:\n{}", hub.log_text());
        let data: Vec<Value> = got.iter().map(|m| m.json()).collect();
        assert_eq!(
            (data[0]["receipt"].as_str(), data[0]["line"].as_i64()),
            (Some("R1"), Some(1))
        );
        assert_eq!(data[1]["amount"], "6.25");
        let origin = got[0].header("cloudEvents_omnibusorigin").expect("origin");
        assert!(origin.ends_with("sales.xlsx:3 (Sales row 3)"), "{origin}");

        let dead = broker.take(&d.dead_queue, 1, WAIT).await;
        assert_eq!(dead.len(), 1, "hub log:\n{}", hub.log_text());
        assert_eq!(dead[0].header("x-omnibus-line").as_deref(), Some("5"));
        assert_eq!(
            String::from_utf8_lossy(&dead[0].body),
            "SH-001,R2,1,2024-03-01T12:00:00,10023456,1,2,2,#N/A\n"
        );
        let done = d.spool("xl").join("done");
        assert!(eventually(WAIT, || done.join("sales.xlsx").exists()).await);
        let report = std::fs::read_to_string(done.join("sales.xlsx.report.txt")).expect("report");
        assert!(
            report.contains("\n5\t") && report.contains("#N/A"),
            "{report}"
        );
        assert!(hub.stop().success());

        let replay = run(&d, &["dlq", "replay"]).await;
        assert!(replay.status.success(), "{}", stderr(&replay));
        assert!(
            String::from_utf8_lossy(&replay.stdout).contains("replayed 1, still failing 0"),
            "{}\n{}",
            String::from_utf8_lossy(&replay.stdout),
            stderr(&replay)
        );
        let replayed = broker.take(&queue, 1, WAIT).await;
        assert_eq!(replayed.len(), 1);
        let data = replayed[0].json();
        assert_eq!(data["receipt"], "R2");
        assert_eq!(data["sold_at"], "2024-03-01T12:00:00+08:00");
    })
    .await;
}
