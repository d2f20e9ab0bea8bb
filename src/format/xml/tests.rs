use super::*;
use crate::format::record::{Body, RecordError};
use encoding_rs::GBK;
use serde_json::{Value, json};
use std::path::Path;
use toml::de::DeTable;

const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// Parses the `[format]` table of `toml` (which has `type = "xml"`).
fn spec_of(toml: &str) -> Result<XmlSpec, String> {
    let src = Source {
        path: Path::new("connectors/x.toml"),
        text: toml,
    };
    let table = DeTable::parse(toml).unwrap();
    let span = table.span();
    let format = table.into_inner().remove("format").unwrap();
    let DeValue::Table(mut format) = format.into_inner() else {
        panic!("[format] is a table")
    };
    let kind = format.remove("type").unwrap();
    let kind = Spanned::new(kind.span(), kind.into_inner().as_str().unwrap().to_string());
    parse_spec(&src, &kind, Spanned::new(span, DeValue::Table(format))).map_err(|d| d.to_string())
}

fn spec(keys: &str) -> XmlSpec {
    spec_of(&format!("[format]\ntype = \"xml\"\n{keys}")).unwrap()
}

fn decode(spec: &XmlSpec, input: &[u8]) -> Vec<Result<Record, DecodeError>> {
    decoder(spec, input, "c".into(), "in.xml".into()).collect()
}

fn tree(item: &Result<Record, DecodeError>) -> &Value {
    match item {
        Ok(Record {
            body: Body::Tree(tree),
            ..
        }) => tree,
        other => panic!("not a tree record: {other:?}"),
    }
}

fn record_error(item: &Result<Record, DecodeError>) -> &RecordError {
    match item {
        Err(DecodeError::Record(e)) => e,
        other => panic!("not a record error: {other:?}"),
    }
}

const IDOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ORDERS05>
  <IDOC BEGIN="1">
    <EDI_DC40 SEGMENT="1"><DOCNUM>0001</DOCNUM></EDI_DC40>
    <E1EDP01 SEGMENT="1"><POSEX>10</POSEX><MATNR>A &amp; B</MATNR></E1EDP01>
    <E1EDP01 SEGMENT="1"><POSEX>20</POSEX><MATNR><![CDATA[<C>]]></MATNR></E1EDP01>
  </IDOC>
  <IDOC BEGIN="1">
    <EDI_DC40 SEGMENT="1"><DOCNUM>0002</DOCNUM></EDI_DC40>
    <E1EDP01 SEGMENT="1"><POSEX>10</POSEX><MATNR>D</MATNR></E1EDP01>
  </IDOC>
</ORDERS05>
"#;

#[test]
fn idocs_become_trees_with_attributes_arrays_and_positions() {
    let items = decode(&spec("record = \"/ORDERS05/IDOC\""), IDOC.as_bytes());
    assert_eq!(items.len(), 2);
    assert_eq!(
        tree(&items[0]),
        &json!({"@BEGIN": "1",
            "EDI_DC40": {"@SEGMENT": "1", "DOCNUM": "0001"},
            "E1EDP01": [
                {"@SEGMENT": "1", "POSEX": "10", "MATNR": "A & B"},
                {"@SEGMENT": "1", "POSEX": "20", "MATNR": "<C>"}]})
    );
    let Ok(second) = &items[1] else {
        panic!("a record")
    };
    assert_eq!(second.origin.line, 8);
    assert_eq!(
        second.origin.offset,
        IDOC.find("<IDOC BEGIN=\"1\">\n    <EDI_DC40 SEGMENT=\"1\"><DOCNUM>0002")
            .unwrap() as u64
    );
    assert_eq!(second.origin.locator.as_deref(), Some("/ORDERS05/IDOC[2]"));
    assert_eq!(second.origin.to_string(), "in.xml:8 (/ORDERS05/IDOC[2])");
    assert_eq!(tree(&items[1])["E1EDP01"]["MATNR"], "D");
}

#[test]
fn context_is_carried_into_each_record_within_its_scope() {
    let spec = spec("record = \"/ORDERS05/IDOC/E1EDP01\"\ncontext = [\"/ORDERS05/IDOC/EDI_DC40\"]");
    let items = decode(&spec, IDOC.as_bytes());
    let docnums: Vec<_> = items
        .iter()
        .map(|i| tree(i)["EDI_DC40"]["DOCNUM"].clone())
        .collect();
    assert_eq!(docnums, ["0001", "0001", "0002"]);
    let locators: Vec<_> = items
        .iter()
        .map(|i| {
            i.as_ref()
                .unwrap()
                .origin
                .locator
                .as_deref()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        locators,
        [
            "/ORDERS05/IDOC[1]/E1EDP01[1]",
            "/ORDERS05/IDOC[1]/E1EDP01[2]",
            "/ORDERS05/IDOC[2]/E1EDP01[1]"
        ]
    );
    assert_eq!(items[1].as_ref().unwrap().origin.line, 6);
}

#[test]
fn a_context_value_is_not_carried_past_its_parent() {
    let spec = spec("record = \"/R/G/L\"\ncontext = [\"/R/G/H\"]");
    let input = b"<R><G><H>1</H><L>a</L></G><G><L>b</L></G></R>";
    let items = decode(&spec, input);
    assert_eq!(tree(&items[0]), &json!({"#text": "a", "H": "1"}));
    assert_eq!(tree(&items[1]), &json!({"#text": "b"}));
}

#[test]
fn repeated_context_elements_become_a_list_and_the_record_wins_a_name_clash() {
    let spec = spec("record = \"/R/L\"\ncontext = [\"/R/N\"]");
    let items = decode(
        &spec,
        b"<R><N>x</N><N>y</N><L><V>1</V></L><L><N>own</N></L></R>",
    );
    assert_eq!(tree(&items[0]), &json!({"V": "1", "N": ["x", "y"]}));
    assert_eq!(tree(&items[1]), &json!({"N": "own"}));
}

const UBL: &str = r#"<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"
    xmlns:a="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <b:ID>PO-1</b:ID>
  <a:OrderLine><a:LineItem><b:ID>1</b:ID><b:Quantity unitCode="EA">3</b:Quantity></a:LineItem></a:OrderLine>
  <a:OrderLine><a:LineItem><b:ID>2</b:ID></a:LineItem></a:OrderLine>
</Order>"#;

fn ubl_spec() -> XmlSpec {
    spec(&format!(
        "record = \"/Order/cac:OrderLine\"\ncontext = [\"/Order/cbc:ID\"]\n\
         [format.namespaces]\ncac = \"{CAC}\"\ncbc = \"{CBC}\"\n"
    ))
}

#[test]
fn namespaces_match_by_uri_and_names_use_the_configured_prefixes() {
    let items = decode(&ubl_spec(), UBL.as_bytes());
    assert_eq!(items.len(), 2);
    assert_eq!(
        tree(&items[0]),
        &json!({"cac:LineItem": {"cbc:ID": "1",
                    "cbc:Quantity": {"@unitCode": "EA", "#text": "3"}},
                "cbc:ID": "PO-1"})
    );
    assert_eq!(
        items[1].as_ref().unwrap().origin.locator.as_deref(),
        Some("/Order/cac:OrderLine[2]")
    );
    let other = UBL
        .replace("cbc:", "b:")
        .replace(":a=", ":b=")
        .replace("a:", "q:");
    assert!(decode(&ubl_spec(), other.as_bytes()).is_empty());
}

#[test]
fn gbk_from_the_declaration_or_the_encoding_key_with_exact_line_offsets() {
    let text = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<R>\n<L n=\"康师傅\">红烧牛肉面</L>\n<L>乙</L>\n</R>\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let items = decode(&spec("record = \"/R/L\""), &gbk);
    assert_eq!(
        tree(&items[0]),
        &json!({"@n": "康师傅", "#text": "红烧牛肉面"})
    );
    let second = items[1].as_ref().unwrap();
    assert_eq!((second.origin.line, second.origin.offset), (4, 70));
    let plain = text.replace(" encoding=\"GBK\"", "");
    let (gbk, _, _) = encoding_rs::GBK.encode(&plain);
    let items = decode(&spec("record = \"/R/L\"\nencoding = \"gbk\""), &gbk);
    assert_eq!(tree(&items[1]), &json!({"#text": "乙"}));
}

#[test]
fn a_bom_overrides_the_declaration() {
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><R><L>é</L></R>".as_bytes());
    let items = decode(&spec("record = \"/R/L\""), &input);
    assert_eq!(tree(&items[0]), &json!({"#text": "é"}));
    assert_eq!(items[0].as_ref().unwrap().origin.offset, 49);
}

#[test]
fn invalid_bytes_fail_only_their_record() {
    let input = b"<R>\n<L>ok</L>\n<L>bad \xFF</L>\n<L>fine</L>\n</R>";
    let items = decode(&spec("record = \"/R/L\""), input);
    assert_eq!(items.len(), 3);
    let error = record_error(&items[1]);
    assert_eq!(
        error.reason,
        "invalid UTF-8 byte sequence 0xFF at byte offset 21"
    );
    assert_eq!(error.origin.line, 3);
    assert_eq!(error.raw, "<L>bad \u{FFFD}</L>".as_bytes());
    assert_eq!(tree(&items[2]), &json!({"#text": "fine"}));
}

#[test]
fn wrong_encoding_is_a_record_error_per_line() {
    let (gbk, _, _) = encoding_rs::GBK.encode("<R><L>红烧牛肉面</L></R>");
    let items = decode(&spec("record = \"/R/L\""), &gbk);
    assert!(
        record_error(&items[0])
            .reason
            .starts_with("invalid UTF-8 byte sequence")
    );
}

#[test]
fn an_oversized_record_is_skipped_to_its_end_tag() {
    let big = "x".repeat(3000);
    let input = format!("<R><L><T>{big}</T><T>{big}</T></L><L>next</L></R>");
    let items = decode(
        &spec("record = \"/R/L\"\nmax_record_bytes = 4096"),
        input.as_bytes(),
    );
    assert_eq!(items.len(), 2);
    let error = record_error(&items[0]);
    assert!(
        error
            .reason
            .contains("larger than max_record_bytes (4096 bytes)"),
        "{}",
        error.reason
    );
    assert_eq!(tree(&items[1]), &json!({"#text": "next"}));
}

#[test]
fn one_endless_token_stops_the_file() {
    let input = format!("<R><L>a</L><!-- {}", "y".repeat(10_000));
    let items = decode(
        &spec("record = \"/R/L\"\nmax_record_bytes = 4096"),
        input.as_bytes(),
    );
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(
        matches!(&items[1], Err(DecodeError::Oversized { line: 1, reason }) if reason.contains("left open")),
        "{:?}",
        items[1]
    );
}

#[test]
fn a_truncated_file_keeps_the_records_before_it() {
    let cut = &IDOC[..IDOC.find("<DOCNUM>0002").unwrap()];
    let items = decode(&spec("record = \"/ORDERS05/IDOC\""), cut.as_bytes());
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    match &items[1] {
        Err(DecodeError::Input { line: 8, reason }) => {
            assert!(reason.contains("record /ORDERS05/IDOC[2]") && reason.contains("truncated"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn garbage_is_malformed_xml_with_its_position() {
    let input = b"<R>\n<L>1</L>\n<L>2</X>\n<L>3</L></R>";
    let items = decode(&spec("record = \"/R/L\""), input);
    assert_eq!(items.len(), 2);
    match &items[1] {
        Err(DecodeError::Input { line: 3, reason }) => {
            assert!(
                reason.starts_with("malformed XML at byte offset"),
                "{reason}"
            );
            assert!(reason.contains("/R/L[2]"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let items = decode(&spec("record = \"/R/L\""), b"\x00\x01garbage<<<>>>");
    assert!(
        matches!(items.last(), Some(Err(DecodeError::Input { .. }))),
        "{items:?}"
    );
}

#[test]
fn doctype_entities_are_refused() {
    let input =
        b"<?xml version=\"1.0\"?>\n<!DOCTYPE R [<!ENTITY lol \"lol\">]>\n<R><L>&lol;</L></R>";
    let items = decode(&spec("record = \"/R/L\""), input);
    match items.as_slice() {
        [Err(DecodeError::Input { line: 2, reason })] => {
            assert!(reason.contains("DOCTYPE declares entities"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let items = decode(&spec("record = \"/R/L\""), b"<R><L>&nbsp;x</L><L>y</L></R>");
    assert!(
        record_error(&items[0])
            .reason
            .contains("undefined entity &nbsp;")
    );
    assert!(items[1].is_ok());
}

#[test]
fn a_root_off_the_record_path_is_an_error_and_an_empty_file_has_no_records() {
    let items = decode(&spec("record = \"/ORDERS05/IDOC\""), b"<INVOIC02/>");
    match items.as_slice() {
        [Err(DecodeError::Input { line: 1, reason })] => {
            assert!(reason.contains("root element is <INVOIC02>"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(decode(&spec("record = \"/R/L\""), b"").is_empty());
    assert!(decode(&spec("record = \"/R/L\""), b"<R/>").is_empty());
}

#[test]
fn spec_errors_point_at_the_key() {
    let err = spec_of("[format]\ntype = \"xml\"\n").unwrap_err();
    assert!(err.contains(":2:8: missing key \"record\""), "{err}");
    let err = spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/cac:L\"\n").unwrap_err();
    assert!(err.contains(":3:10: prefix \"cac\""), "{err}");
    let err = spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/L\"\ncontext = [\"/O/L/H\"]\n")
        .unwrap_err();
    assert!(err.contains("must lie outside the record element"), "{err}");
    let err =
        spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/L\"\ncontext = [\"/P/H\"]\n").unwrap_err();
    assert!(
        err.contains(":4:12: context \"/P/H\" must start at the root"),
        "{err}"
    );
    let err = spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/L\"\nmax_record_bytes = 10\n")
        .unwrap_err();
    assert!(
        err.contains(":4:20: max_record_bytes must be between"),
        "{err}"
    );
    let err =
        spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/L\"\nencoding = \"gbx\"\n").unwrap_err();
    assert!(err.contains("unknown encoding \"gbx\""), "{err}");
    let err = spec_of("[format]\ntype = \"xml\"\nrecord = \"/O/L\"\nrecords = 1\n").unwrap_err();
    assert!(err.contains("unknown key \"records\""), "{err}");
}

#[test]
fn nesting_deeper_than_the_limit_stops_the_file() {
    let input = format!("<R>{}", "<a>".repeat(300));
    let items = decode(&spec("record = \"/R/L\""), input.as_bytes());
    match items.as_slice() {
        [Err(DecodeError::Input { reason, .. })] => {
            assert!(reason.contains("nested more than 256 deep"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mixed_content_keeps_its_text_without_the_indentation() {
    let items = decode(
        &spec("record = \"/R/L\""),
        b"<R><L>\n   left <b>x</b> right\n</L></R>",
    );
    assert_eq!(tree(&items[0]), &json!({"b": "x", "#text": "left  right"}));
}

#[test]
fn detect_guesses_without_a_declaration_and_a_declaration_wins() {
    let text = "<门店列表><门店 编号=\"0101\">上海浦东世纪大道店</门店><门店 编号=\"0102\">\
                北京朝阳区望京店</门店><门店 编号=\"0103\">广州天河区体育西路店</门店></门店列表>";
    let detecting = spec("record = \"/门店列表/门店\"\nencoding = \"detect\"");
    assert!(detecting.charset.detect && detecting.encoding.is_none());
    let gbk = GBK.encode(text).0.into_owned();
    let items = decode(&detecting, &gbk);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(tree(&items[0])["#text"], "上海浦东世纪大道店");
    let mut declared = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>".to_vec();
    declared.extend_from_slice(&gbk);
    let items = decode(&detecting, &declared);
    assert!(
        matches!(&items[0], Err(DecodeError::Input { reason, .. }) if reason.contains("the root element is")),
        "read as the declared windows-1252: {items:?}"
    );
}

#[test]
fn invalid_bytes_replace_keeps_the_record() {
    let input = b"<R><L>caf\xE9</L><L>ok</L></R>";
    let strict = decode(&spec("record = \"/R/L\""), input);
    assert!(
        record_error(&strict[0]).reason.contains("byte offset 9"),
        "{strict:?}"
    );
    let replacing = spec("record = \"/R/L\"\ninvalid_bytes = \"replace\"");
    let items = decode(&replacing, input);
    assert_eq!(tree(&items[0])["#text"], "caf\u{FFFD}");
    assert_eq!(tree(&items[1])["#text"], "ok");
    let err =
        spec_of("[format]\ntype = \"xml\"\nrecord = \"/R\"\ninvalid_bytes = \"drop\"").unwrap_err();
    assert!(
        err.contains("invalid_bytes must be \"error\"") && err.contains(":4:"),
        "{err}"
    );
}
