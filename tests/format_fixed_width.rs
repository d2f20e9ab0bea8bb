//! `omnibus map` over fixed-width GBK files: a flat export with several record types, and a POS
//! export whose header, line and trailer records make one receipt event each.

mod common;

use common::offline::{events, omnibus, succeeded};
use std::path::{Path, PathBuf};
use std::process::Output;

use encoding_rs::GBK;

/// A deployment with one fixed-width connector (`[format]` given) and one mapping.
fn deployment(format: &str, mapping: &str) -> tempfile::TempDir {
    let dir = common::offline::deployment();
    std::fs::write(
        dir.path().join("connectors/legacy.toml"),
        format!(
            "system = \"legacy\"\nmapping = \"legacy\"\n[source]\ntype = \"file\"\n\
             path = \"../spool\"\n[format]\ntype = \"fixed_width\"\nencoding = \"gbk\"\n{format}"
        ),
    )
    .expect("connector");
    std::fs::write(dir.path().join("mappings/legacy.toml"), mapping).expect("mapping");
    dir
}

/// Writes `text` as GBK into the deployment and runs `omnibus map` on it.
fn map(dir: &Path, text: &str) -> (Output, PathBuf) {
    let input = dir.join("in.txt");
    std::fs::write(&input, GBK.encode(text).0).expect("input");
    let file = input.to_str().expect("utf-8 path");
    let out = omnibus(
        &["map", "--connector", "legacy", file],
        &dir.join("config/omnibus.toml"),
    );
    (out, input)
}

const STOCK_FORMAT: &str = r#"
discriminator = { start = 1, length = 1 }
[[format.records]]
type = "D"
widths = [["", 1], ["store", 6], ["sku", 10], ["desc", 12], ["qty", 9, { decimals = 3 }], ["date", 8]]
[[format.records]]
type = "Z"
fields = [{ name = "count", start = 2, length = 5, type = "number" }]
"#;

const STOCK_MAPPING: &str = r#"
type = "retail.inventory.level.v1"
key = ["store", "sku"]
when = "record_type == 'D'"
[fields]
store       = { from = "store", required = true }
sku         = { from = "sku", required = true }
description = { from = "desc" }
on_hand     = { from = "qty", type = "decimal", required = true }
as_of       = { from = "date", type = "date", format = "%Y%m%d", required = true }
"#;

#[test]
fn a_flat_gbk_export_with_two_record_types_maps_its_detail_records() {
    let dir = deployment(STOCK_FORMAT, STOCK_MAPPING);
    let text = "DSH-0010001234567康师傅面    00012500020240301\r\n\
                DSH-0020000000042维达纸巾    -0000250020240301\r\n\
                Z00002\r\n";
    let (out, _) = map(dir.path(), text);
    succeeded(&out);
    let events = events(&out);
    assert_eq!(events.len(), 2, "the Z record is filtered out by `when`");
    assert_eq!(events[0]["type"], "retail.inventory.level.v1");
    assert_eq!(events[0]["data"]["store"], "SH-001");
    assert_eq!(events[0]["data"]["sku"], "0001234567");
    assert_eq!(events[0]["data"]["description"], "康师傅面");
    assert_eq!(events[0]["data"]["on_hand"], "125.000");
    assert_eq!(events[0]["data"]["as_of"], "2024-03-01");
    assert_eq!(events[1]["data"]["on_hand"], "-2.500");
}

#[test]
fn a_bad_field_names_its_line_record_type_and_field() {
    let dir = deployment(STOCK_FORMAT, STOCK_MAPPING);
    let text = "DSH-0010001234567康师傅面    00012500020240301\n\
                DSH-0020000000042维达纸巾    00001x50020240301\n";
    let (out, input) = map(dir.path(), text);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(events(&out).len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    let place = format!("{}:2 (record D)", input.display());
    assert!(err.contains(&place), "{err}");
    assert!(
        err.contains("field \"qty\" (bytes 30-38): \"00001x500\" is not a number"),
        "{err}"
    );
}

const POS_FORMAT: &str = r#"
discriminator = { start = 1, length = 1 }
[[format.records]]
type = "H"
widths = [["", 1], ["store", 6], ["receipt", 10], ["sold_at", 14], ["payment", 6]]
[[format.records]]
type = "L"
widths = [["", 1], ["line", 3, { type = "number" }], ["sku", 8], ["name", 12],
          ["qty", 7, { decimals = 3, sign = "trailing" }], ["price", 8, { decimals = 2 }],
          ["amount", 9, { decimals = 2, sign = "trailing" }]]
[[format.records]]
type = "T"
widths = [["", 1], ["count", 3], ["total", 10, { decimals = 2, sign = "overpunch" }]]
[format.group]
header = "H"
lines = ["L"]
trailer = "T"
trailer_count = "count"
"#;

const POS_MAPPING: &str = r#"
type = "retail.receipt.completed.v1"
key = ["store", "receipt"]
[fields]
store        = { from = "store", required = true }
receipt      = { from = "receipt", required = true }
completed_at = { from = "sold_at", type = "datetime", format = "%Y%m%d%H%M%S", tz = "Asia/Shanghai", required = true }
currency     = { value = "CNY" }
total_amount = { from = "T.total", type = "decimal", required = true }
[fields.lines]
each = "L"
line       = { from = "line", type = "integer", required = true }
sku        = { from = "sku", required = true }
name       = { from = "name" }
quantity   = { from = "qty", type = "decimal", required = true }
unit_price = { from = "price", type = "decimal", required = true }
amount     = { from = "amount", type = "decimal", required = true }
[fields.payments]
each = "T"
method = { from = "$.payment", lookup = "methods", required = true }
amount = { from = "total", type = "decimal", required = true }
[lookups.methods]
CASH = "cash"
ALIPAY = "alipay"
"#;

#[test]
fn header_lines_and_trailer_make_one_receipt_event() {
    let dir = deployment(POS_FORMAT, POS_MAPPING);
    let text = "HSH-001R00000010720240301101500CASH  \n\
                L00110023456康师傅面    00020000000045000000900 \n\
                L00210040001维达纸巾    000500-0000129000000645-\n\
                T002000000025E\n\
                HSH-001R00000010820240301101730ALIPAY\n\
                L00110023456康师傅面    00010000000045000000450 \n\
                T001000000045{\n";
    let (out, _) = map(dir.path(), text);
    succeeded(&out);
    let events = events(&out);
    assert_eq!(events.len(), 2);
    let data = &events[0]["data"];
    assert_eq!(data["store"], "SH-001");
    assert_eq!(data["receipt"], "R000000107");
    assert_eq!(data["completed_at"], "2024-03-01T10:15:00+08:00");
    assert_eq!(data["total_amount"], "2.55");
    assert_eq!(data["payments"][0]["method"], "cash");
    let lines = data["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["name"], "康师傅面");
    assert_eq!(lines[0]["quantity"], "2.000");
    assert_eq!(lines[0]["amount"], "9.00");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["quantity"], "-0.500");
    assert_eq!(lines[1]["amount"], "-6.45");
    assert_eq!(events[1]["data"]["payments"][0]["method"], "alipay");
    assert_eq!(events[1]["data"]["total_amount"], "4.50");
}

#[test]
fn a_document_whose_trailer_miscounts_is_reported_whole() {
    let dir = deployment(POS_FORMAT, POS_MAPPING);
    let text = "HSH-001R00000010720240301101500CASH  \n\
                L00110023456康师傅面    00020000000045000000900 \n\
                T003000000090{\n";
    let (out, input) = map(dir.path(), text);
    assert_eq!(out.status.code(), Some(1));
    assert!(events(&out).is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let place = format!("{}:1 (document \"H\", lines 1-3)", input.display());
    assert!(err.contains(&place), "{err}");
    assert!(
        err.contains(
            "line 3: the trailer's field \"count\" counts 3 line records, the document has 1"
        ),
        "{err}"
    );
}
