//! EDIFACT through the real binary: `omnibus map` decodes an EANCOM ORDERS interchange (GBK text,
//! two interchanges on one line) into purchase-order events, and names the message a wrong UNT
//! count fails.

mod common;

use common::offline::{events, omnibus, succeeded};
use std::path::Path;

const CONNECTOR: &str = r#"system = "edi"
mapping = "edi_orders"
[source]
type = "file"
path = "../spool"
[format]
type = "edifact"
encoding = "gbk"
"#;

const MAPPING: &str = r#"type = "retail.purchase_order.placed.v1"
key = ["purchase_order"]
[fields]
purchase_order = { from = '["BGM+220"].e2.c1', required = true }
supplier       = { from = '["NAD+SU"].e2.c1', required = true }
buyer          = { from = '["NAD+BY"].e2.c1' }
ship_to        = { from = '["NAD+DP"].e2.c1', required = true }
ordered_at     = { from = '["DTM+137"].e1.c2', type = "datetime", format = "%Y%m%d%H%M", tz = "Asia/Shanghai" }
delivery_date  = { from = '["DTM+2"].e1.c2', type = "date", format = "%Y%m%d" }
currency       = { from = '["CUX+2"].e1.c2', required = true }
total_amount   = { from = '["MOA+79"].e1.c2', type = "decimal", required = true }
[fields.lines]
each         = "LIN"
line         = { from = "e1.c1", type = "integer" }
sku          = { from = "e3.c1", required = true }
ean          = { from = "e3.c1" }
supplier_sku = { from = '["PIA+1"].e2.c1' }
name         = { from = '["IMD+F"].e3.c4' }
quantity     = { from = '["QTY+21"].e1.c2', type = "decimal" }
unit         = { expr = "QTY[0].e1.c3 | default('PCE')" }
unit_price   = { from = '["PRI+AAA"].e1.c2', type = "decimal" }
amount       = { from = '["MOA+203"].e1.c2', type = "decimal" }
"#;

/// One EANCOM ORDERS interchange with two lines; `{po}` and `{count}` vary.
fn interchange(reference: &str, po: &str, count: u32) -> String {
    format!(
        "UNA:+.? 'UNB+UNOC:3+4012345000009:14+6901234000004:14+240311:0930+{reference}'\
         UNH+1+ORDERS:D:96A:UN:EAN008'BGM+220+{po}+9'DTM+137:202403110930:203'\
         DTM+2:20240315:102'NAD+BY+4012345000009::9'NAD+SU+6901234000004::9'\
         NAD+DP+4012345000108::9'CUX+2:CNY:9'\
         LIN+1++6920152400777:EN'PIA+1+KSF-HSNR-5P:SA'IMD+F++:::康师傅红烧牛肉面?+五连包'\
         QTY+21:480:PAK'PRI+AAA:11.20'MOA+203:5376.00'\
         LIN+2++6912345000185:EN'QTY+21:240'PRI+AAA:4.80'MOA+203:1152.00'\
         UNS+S'MOA+79:6528.00'UNT+{count}+1'UNZ+1+{reference}'"
    )
}

/// A deployment with the EDIFACT connector and its mapping.
fn deployment() -> tempfile::TempDir {
    let dir = common::offline::deployment();
    std::fs::write(dir.path().join("connectors/edi.toml"), CONNECTOR).expect("connector");
    std::fs::write(dir.path().join("mappings/edi_orders.toml"), MAPPING).expect("mapping");
    dir
}

/// Writes `text` GBK-encoded as `name` in the deployment.
fn gbk_file(dir: &Path, name: &str, text: &str) -> String {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn map_turns_each_orders_message_into_a_purchase_order() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let check = omnibus(&["check"], &config);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let text = format!(
        "{} {}",
        interchange("A1", "PO-4711", 21),
        interchange("A2", "PO-4712", 21)
    );
    let file = gbk_file(dir.path(), "orders.edi", &text);
    let out = omnibus(&["map", "--connector", "edi", &file], &config);
    succeeded(&out);
    let events = events(&out);
    assert_eq!(events.len(), 2);
    let data = &events[0]["data"];
    assert_eq!(events[0]["type"], "retail.purchase_order.placed.v1");
    assert_eq!(data["purchase_order"], "PO-4711");
    assert_eq!(data["supplier"], "6901234000004");
    assert_eq!(data["buyer"], "4012345000009");
    assert_eq!(data["ship_to"], "4012345000108");
    assert_eq!(data["ordered_at"], "2024-03-11T09:30:00+08:00");
    assert_eq!(data["delivery_date"], "2024-03-15");
    assert_eq!(data["currency"], "CNY");
    assert_eq!(data["total_amount"], "6528.00");
    let lines = data["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["ean"], "6920152400777");
    assert_eq!(lines[0]["supplier_sku"], "KSF-HSNR-5P");
    assert_eq!(lines[0]["name"], "康师傅红烧牛肉面+五连包");
    assert_eq!(lines[0]["quantity"], "480");
    assert_eq!(lines[0]["unit"], "PAK");
    assert_eq!(lines[0]["unit_price"], "11.20");
    assert_eq!(lines[1]["unit"], "PCE");
    assert!(lines[1].get("supplier_sku").is_none());
    assert_eq!(events[1]["data"]["purchase_order"], "PO-4712");
}

#[test]
fn map_names_the_message_a_wrong_unt_count_fails() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let text = format!(
        "{}\n{}\n",
        interchange("A1", "PO-4711", 20),
        interchange("A2", "PO-4712", 21)
    );
    let file = gbk_file(dir.path(), "orders.edi", &text);
    let out = omnibus(&["map", "--connector", "edi", &file], &config);
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["purchase_order"], "PO-4712");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("orders.edi:1 (UNB A1 / UNH 1, segment 21)")
            && err.contains("says the message has \"20\" segments; it has 21"),
        "{err}"
    );
}
