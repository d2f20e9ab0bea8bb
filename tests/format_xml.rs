//! The XML decoder through the real binary: `omnibus map` on a UBL inventory report (namespaces,
//! context carried into each line) and on a GBK IDoc-like file with a bad record and a refused
//! DOCTYPE.

mod common;

use common::offline::{events, omnibus, succeeded};

const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// A deployment with the connectors `vmi` (UBL) and `erp` (IDoc-like, GBK).
fn deployment() -> tempfile::TempDir {
    let dir = common::offline::deployment();
    let write = |path: &str, text: &str| {
        std::fs::write(dir.path().join(path), text).expect("write");
    };
    write(
        "connectors/vmi.toml",
        &format!(
            "system = \"supplier\"\nmapping = \"ubl_stock\"\n[source]\ntype = \"file\"\n\
             path = \"../spool\"\n[format]\ntype = \"xml\"\n\
             record = \"/InventoryReport/cac:InventoryReportLine\"\n\
             context = [\"/InventoryReport/cbc:IssueDate\", \
             \"/InventoryReport/cac:RetailerCustomerParty\"]\n\
             [format.namespaces]\ncac = \"{CAC}\"\ncbc = \"{CBC}\"\n"
        ),
    );
    write(
        "mappings/ubl_stock.toml",
        "type = \"retail.inventory.level.v1\"\nkey = [\"store\", \"sku\", \"as_of\"]\n[fields]\n\
         store = { from = \"cac:RetailerCustomerParty.cac:Party.cac:PartyIdentification.cbc:ID\", required = true }\n\
         sku = { from = \"cac:Item.cac:SellersItemIdentification.cbc:ID\", required = true }\n\
         description = { from = \"cac:Item.cbc:Description\" }\n\
         on_hand = { from = \"cbc:Quantity.#text\", type = \"decimal\", required = true }\n\
         unit = { from = \"cbc:Quantity.@unitCode\" }\n\
         as_of = { from = \"cbc:IssueDate\", type = \"date\", required = true }\n",
    );
    write(
        "connectors/erp.toml",
        "system = \"erp\"\nmapping = \"idoc_stock\"\n[source]\ntype = \"file\"\n\
         path = \"../spool\"\n[format]\ntype = \"xml\"\nrecord = \"/STOCK/IDOC/E1MARD\"\n\
         context = [\"/STOCK/IDOC/EDI_DC40\"]\n",
    );
    write(
        "mappings/idoc_stock.toml",
        "type = \"retail.inventory.level.v1\"\nkey = [\"store\", \"sku\", \"as_of\"]\n[fields]\n\
         store = { from = \"@WERKS\", required = true }\n\
         sku = { from = \"MATNR\", required = true }\n\
         description = { from = \"MAKTX\" }\n\
         on_hand = { from = \"LABST\", type = \"decimal\", required = true }\n\
         as_of = { from = \"EDI_DC40.CREDAT\", type = \"date\", format = \"%Y%m%d\", required = true }\n",
    );
    dir
}

const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InventoryReport xmlns="urn:oasis:names:specification:ubl:schema:xsd:InventoryReport-2"
    xmlns:c="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <b:ID>IR-7</b:ID>
  <b:IssueDate>2024-03-01</b:IssueDate>
  <c:RetailerCustomerParty><c:Party><c:PartyIdentification><b:ID>SH-001</b:ID></c:PartyIdentification></c:Party></c:RetailerCustomerParty>
  <c:InventoryReportLine>
    <b:ID>1</b:ID>
    <b:Quantity unitCode="EA">10</b:Quantity>
    <c:Item><b:Description>Shirt &amp; tie</b:Description><c:SellersItemIdentification><b:ID>SKU-1</b:ID></c:SellersItemIdentification></c:Item>
  </c:InventoryReportLine>
  <c:InventoryReportLine>
    <b:ID>2</b:ID>
    <b:Quantity unitCode="PK">4.5</b:Quantity>
    <c:Item><c:SellersItemIdentification><b:ID>SKU-2</b:ID></c:SellersItemIdentification></c:Item>
  </c:InventoryReportLine>
</InventoryReport>
"#;

#[test]
fn check_accepts_xml_connectors() {
    let dir = deployment();
    let out = omnibus(&["check"], &dir.path().join("config/omnibus.toml"));
    succeeded(&out);
}

#[test]
fn ubl_lines_become_events_with_the_header_carried_in() {
    let dir = deployment();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, REPORT).expect("write");
    let config = dir.path().join("config/omnibus.toml");
    let out = omnibus(
        &["map", "--connector", "vmi", file.to_str().expect("utf-8")],
        &config,
    );
    succeeded(&out);
    let events = events(&out);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "retail.inventory.level.v1");
    let data: Vec<_> = events.iter().map(|e| e["data"].clone()).collect();
    assert_eq!(
        data[0],
        serde_json::json!({"store": "SH-001", "sku": "SKU-1", "description": "Shirt & tie",
                           "on_hand": "10", "unit": "EA", "as_of": "2024-03-01"})
    );
    assert_eq!(data[1]["sku"], "SKU-2");
    assert_eq!(data[1]["on_hand"], "4.5");
    assert_eq!(data[1]["store"], "SH-001");
}

#[test]
fn a_gbk_idoc_with_a_bad_segment_names_its_line_and_element() {
    let dir = deployment();
    let text = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<STOCK>\n<IDOC BEGIN=\"1\">\n\
                <EDI_DC40 SEGMENT=\"1\"><CREDAT>20240301</CREDAT></EDI_DC40>\n\
                <E1MARD WERKS=\"SH-001\"><MATNR>000000000010023456</MATNR><MAKTX>康师傅红烧牛肉面</MAKTX><LABST>120.000</LABST></E1MARD>\n\
                <E1MARD WERKS=\"SH-002\"><MATNR>X</MATNR><MAKTX>BAD</MAKTX><LABST>1</LABST></E1MARD>\n\
                </IDOC>\n</STOCK>\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let mut bytes = gbk.into_owned();
    let bad = bytes.windows(3).position(|w| w == b"BAD").expect("marker");
    bytes[bad] = 0x81;
    bytes[bad + 1] = 0x7F;
    let file = dir.path().join("stock.xml");
    std::fs::write(&file, &bytes).expect("write");
    let config = dir.path().join("config/omnibus.toml");
    let out = omnibus(
        &["map", "--connector", "erp", file.to_str().expect("utf-8")],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["data"],
        serde_json::json!({"store": "SH-001", "sku": "000000000010023456",
                           "description": "康师傅红烧牛肉面", "on_hand": "120.000",
                           "as_of": "2024-03-01"})
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stock.xml:6 (/STOCK/IDOC[1]/E1MARD[2])")
            && err.contains("invalid GBK byte sequence 0x81"),
        "{err}"
    );
}

#[test]
fn a_doctype_with_entities_is_refused() {
    let dir = deployment();
    let file = dir.path().join("lol.xml");
    std::fs::write(
        &file,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE STOCK [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]>\n\
         <STOCK><IDOC><E1MARD>&b;</E1MARD></IDOC></STOCK>\n",
    )
    .expect("write");
    let config = dir.path().join("config/omnibus.toml");
    let out = omnibus(
        &["map", "--connector", "erp", file.to_str().expect("utf-8")],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(events(&out).is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lol.xml: line 2: the DOCTYPE declares entities"),
        "{err}"
    );
}
