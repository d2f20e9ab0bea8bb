//! Decoding tests for both formats, through [`super::decoder`], and `[format]` checks.

use super::*;
use crate::format::record::{Body, RecordError};
use encoding_rs::{GBK, UTF_8};
use serde_json::json;
use std::io;
use std::path::Path;

fn document(record: Option<&str>, context: &[&str]) -> JsonSpec {
    JsonSpec {
        kind: JsonKind::Document,
        encoding: UTF_8,
        charset: Charset::default(),
        record: record.map(|r| Pointer::parse(r).unwrap()),
        context: context.iter().map(|c| Pointer::parse(c).unwrap()).collect(),
        max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
    }
}

fn ndjson() -> JsonSpec {
    JsonSpec {
        kind: JsonKind::Lines,
        record: None,
        ..document(None, &[])
    }
}

fn decode(spec: &JsonSpec, bytes: &[u8]) -> Vec<Result<Record, DecodeError>> {
    decoder(spec, bytes, "shop".into(), "in.json".into()).collect()
}

fn ok(item: &Result<Record, DecodeError>) -> &Record {
    match item {
        Ok(record) => record,
        Err(e) => panic!("expected a record, got {e}"),
    }
}

fn tree(item: &Result<Record, DecodeError>) -> &serde_json::Value {
    match &ok(item).body {
        Body::Tree(tree) => tree,
        Body::Row { .. } => panic!("a JSON record is a tree"),
    }
}

fn record_error(item: &Result<Record, DecodeError>) -> &RecordError {
    match item {
        Err(DecodeError::Record(e)) => e,
        other => panic!("expected a record error, got {other:?}"),
    }
}

fn locator(item: &Result<Record, DecodeError>) -> Option<&str> {
    ok(item).origin.locator.as_deref()
}

fn offset_of(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap() as u64
}

/// Hands out its bytes one at a time, to cross every buffer boundary.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

const ORDERS: &[u8] = br#"{
  "meta": {"store": "SH-001", "exported": "2024-03-01"},
  "orders": [
    {"no": "A1", "total": 12.50, "lines": [{"sku": "S1", "qty": 2}]},
    {"no": "A2", "total": 12345678901234567890123, "paid": true, "note": null}
  ]
}"#;

#[test]
fn records_at_a_pointer_carry_their_line_offset_and_path() {
    let items = decode(&document(Some("/orders/*"), &["/meta"]), ORDERS);
    assert_eq!(items.len(), 2);
    assert_eq!(
        *tree(&items[0]),
        json!({"no": "A1", "total": "12.50", "lines": [{"sku": "S1", "qty": "2"}],
               "meta": {"store": "SH-001", "exported": "2024-03-01"}})
    );
    assert_eq!(tree(&items[1])["total"], "12345678901234567890123");
    assert_eq!(tree(&items[1])["paid"], true);
    assert_eq!(tree(&items[1])["note"], serde_json::Value::Null);
    let second = ok(&items[1]);
    assert_eq!(second.origin.line, 5);
    assert_eq!(second.origin.offset, offset_of(ORDERS, b"{\"no\": \"A2\""));
    assert_eq!(locator(&items[1]), Some("/orders/1"));
    assert_eq!(second.origin.to_string(), "in.json:5 (/orders/1)");
    assert_eq!(&*second.origin.connector, "shop");
}

#[test]
fn without_a_record_path_a_root_object_is_one_record_and_a_root_array_holds_them() {
    let items = decode(&document(None, &[]), b"\n {\"order\": {\"id\": 7}}");
    assert_eq!(items.len(), 1);
    assert_eq!(*tree(&items[0]), json!({"order": {"id": "7"}}));
    assert_eq!(
        (ok(&items[0]).origin.line, ok(&items[0]).origin.offset),
        (2, 2)
    );
    assert_eq!(locator(&items[0]), None);
    let items = decode(&document(None, &[]), b"[{\"id\": 1}, {\"id\": 2}]");
    assert_eq!(items.len(), 2);
    assert_eq!(tree(&items[1])["id"], "2");
    assert_eq!(locator(&items[1]), Some("/1"));
    assert_eq!(ok(&items[1]).origin.offset, 12);
    let items = decode(&document(None, &[]), b"\"just text\"");
    assert!(matches!(
        &items[..],
        [Err(DecodeError::Input { line: 1, reason })] if reason.contains("the document is a string")
    ));
}

#[test]
fn a_wildcard_matches_object_members_and_wildcards_nest() {
    let input = br#"{"stores": {"SH-001": {"orders": [{"n": 1}, {"n": 2}]},
                     "a/b": {"orders": [{"n": 3}], "other": [{"n": 9}]}}}"#;
    let items = decode(&document(Some("/stores/*/orders/*"), &[]), input);
    let found: Vec<_> = items.iter().map(|i| locator(i).unwrap()).collect();
    assert_eq!(
        found,
        [
            "/stores/SH-001/orders/0",
            "/stores/SH-001/orders/1",
            "/stores/a~1b/orders/0"
        ]
    );
    let items = decode(&document(Some("/stores/*"), &[]), input);
    assert_eq!(items.len(), 2);
    assert_eq!(locator(&items[0]), Some("/stores/SH-001"));
    let items = decode(&document(Some("/stores/a~1b/orders/0"), &[]), input);
    assert_eq!(items.len(), 1);
    assert_eq!(tree(&items[0])["n"], "3");
}

#[test]
fn an_item_that_is_not_an_object_is_a_record_error_and_the_walk_goes_on() {
    let input = br#"{"orders": [{"no": "A1"}, 42, [1], {"no": "A4"}], "order": [{"no": 1}]}"#;
    let items = decode(&document(Some("/orders/*"), &[]), input);
    assert_eq!(items.len(), 4);
    let number = record_error(&items[1]);
    assert_eq!(
        number.reason,
        "the record is a string or number, not a JSON object"
    );
    assert_eq!(number.raw, b"\"42\"");
    assert_eq!(number.origin.locator.as_deref(), Some("/orders/1"));
    assert!(!items[1].as_ref().unwrap_err().is_fatal());
    assert_eq!(tree(&items[3])["no"], "A4");
    let items = decode(&document(Some("/order"), &[]), input);
    assert_eq!(
        record_error(&items[0]).reason,
        "the record is an array, not a JSON object; to read its items as records, set record = \
         \"/order/*\""
    );
}

#[test]
fn context_reaches_only_the_records_after_it_and_never_replaces_a_member() {
    let input = br#"{"day1": {"orders": [{"no": "A1"}]}, "meta": {"store": "S"},
                     "day2": {"orders": [{"no": "A2"}]}}"#;
    let items = decode(&document(Some("/*/orders/*"), &["/meta/store"]), input);
    assert_eq!(items.len(), 2);
    assert_eq!(*tree(&items[0]), json!({"no": "A1"}));
    assert_eq!(*tree(&items[1]), json!({"no": "A2", "store": "S"}));
    let input = br#"{"store": "S", "orders": [{"no": "A1", "store": "X"}]}"#;
    let items = decode(&document(Some("/orders/*"), &["/store"]), input);
    assert!(
        record_error(&items[0])
            .reason
            .contains("has a member \"store\" of its own"),
        "{items:?}"
    );
}

#[test]
fn invalid_bytes_in_a_context_value_fail_the_records_that_would_carry_it() {
    let input = b"{\"meta\": \"S\xFF\", \"orders\": [{\"no\": 1}]}";
    let items = decode(&document(Some("/orders/*"), &["/meta"]), input);
    assert_eq!(
        record_error(&items[0]).reason,
        "context /meta: invalid UTF-8 byte sequence 0xFF at byte offset 11"
    );
}

#[test]
fn gbk_documents_decode_and_records_start_at_exact_offsets_on_their_lines() {
    let text = "{\"门店\": \"上海一店\",\n \"行\": [\n{\"品名\": \"和珅\", \"数量\": 1},\n{\"品名\": \"亅\"}]}";
    let (input, _, _) = GBK.encode(text);
    let spec = JsonSpec {
        encoding: GBK,
        ..document(Some("/行/*"), &["/门店"])
    };
    let items = decode(&spec, &input);
    assert_eq!(items.len(), 2);
    assert_eq!(
        *tree(&items[0]),
        json!({"品名": "和珅", "数量": "1", "门店": "上海一店"})
    );
    assert_eq!(ok(&items[1]).origin.line, 4);
    let (line_start, _, _) = GBK.encode("\n{\"品名\": \"亅\"}");
    assert_eq!(
        ok(&items[1]).origin.offset,
        offset_of(&input, &line_start) + 1
    );
    assert_eq!(locator(&items[1]), Some("/行/1"));
}

#[test]
fn a_utf16_bom_overrides_the_declared_encoding() {
    let text = "[\n{\"sku\": \"茶\"}]";
    let input: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let spec = JsonSpec {
        encoding: GBK,
        ..document(None, &[])
    };
    let items = decode(&spec, &input);
    assert_eq!(*tree(&items[0]), json!({"sku": "茶"}));
    assert_eq!(ok(&items[0]).origin.offset, 2 + 2 * 2);
}

#[test]
fn invalid_bytes_fail_their_record_only_and_later_offsets_stay_exact() {
    let input = b"[{\"a\": \"x\xFF\xFEy\"}, {\"a\": \"ok\"}]";
    let items = decode(&document(None, &[]), input);
    assert_eq!(items.len(), 2);
    let bad = record_error(&items[0]);
    assert_eq!(
        bad.reason,
        "invalid UTF-8 byte sequence 0xFF at byte offset 9 (and 1 more in this record)"
    );
    assert_eq!(bad.raw, "{\"a\":\"x\u{FFFD}\u{FFFD}y\"}".as_bytes());
    assert_eq!(
        ok(&items[1]).origin.offset,
        offset_of(input, b"{\"a\": \"ok")
    );
}

#[test]
fn a_truncated_document_ends_the_input_after_the_records_before_it() {
    let whole = b"{\"orders\": [{\"no\": 1},\n {\"no\": 2}, {\"paid\": true}]}";
    for end in [&b"\"pai"[..], b"\"paid\": t", b"true"] {
        let cut = offset_of(whole, end) as usize + end.len();
        let items = decode(&document(Some("/orders/*"), &[]), &whole[..cut]);
        assert_eq!(items.len(), 3, "{cut}");
        assert_eq!(tree(&items[1])["no"], "2");
        let error = items[2].as_ref().unwrap_err();
        assert!(error.is_fatal());
        let text = error.to_string();
        let expected = "line 2: the file ends in the middle of the document: is it truncated?";
        assert!(
            text.starts_with(expected) && text.contains(", in /orders"),
            "{text}"
        );
    }
}

#[test]
fn garbage_and_broken_syntax_say_what_and_where() {
    let items = decode(&document(None, &[]), b"\x00\x01PK\x03\x04binary");
    assert!(
        matches!(
            &items[..],
            [Err(DecodeError::Input { line: 1, reason })] if reason.starts_with("this is not JSON (column 1, byte offset 0")
        ),
        "{items:?}"
    );
    let items = decode(
        &document(Some("/orders/*"), &[]),
        b"{\"orders\": [{\"a\": 1 \"b\": 2}]}",
    );
    let error = items[0].as_ref().unwrap_err().to_string();
    assert_eq!(
        error,
        "line 1: a comma is missing (column 21, byte offset 20, in /orders/0)"
    );
}

#[test]
fn data_after_the_document_is_an_error_pointing_at_ndjson() {
    let items = decode(&document(None, &[]), b"{\"a\": 1}\n{\"a\": 2}\n");
    assert_eq!(items.len(), 2);
    assert_eq!(tree(&items[0])["a"], "1");
    assert!(matches!(
        &items[1],
        Err(DecodeError::Input { line: 2, reason }) if reason.contains("type = \"ndjson\"")
    ));
}

#[test]
fn a_record_path_that_matches_nothing_is_reported() {
    let items = decode(&document(Some("/orders/*"), &[]), b"{\"order\": [{}]}");
    assert!(matches!(
        &items[..],
        [Err(DecodeError::Input { reason, .. })] if reason.contains("record path \"/orders/*\"")
    ));
    let items = decode(&document(Some("/orders/*"), &[]), b"{\"orders\": []}");
    assert!(items.is_empty());
}

#[test]
fn empty_inputs_have_no_records() {
    for input in [&b""[..], b" \n\t", b"\xEF\xBB\xBF"] {
        assert!(
            decode(&document(Some("/a/*"), &[]), input).is_empty(),
            "{input:?}"
        );
        assert!(decode(&ndjson(), input).is_empty(), "{input:?}");
    }
}

#[test]
fn a_record_past_the_size_limit_ends_the_input_without_being_held() {
    let spec = JsonSpec {
        max_record_bytes: 100,
        ..document(Some("/orders/*"), &[])
    };
    let huge = format!(
        "{{\"orders\": [{{\"a\": 1}}, {{\"b\": \"{}\"}}, {{}}]}}",
        "x".repeat(1 << 20)
    );
    let items = decode(&spec, huge.as_bytes());
    assert_eq!(items.len(), 2);
    assert!(
        matches!(
            &items[1],
            Err(DecodeError::Oversized { line: 1, reason })
                if reason == "the value at /orders/1, which starts here (byte offset 22), is longer \
                              than max_record_bytes (100 bytes)"
        ),
        "{items:?}"
    );
    let slightly = format!("{{\"orders\": [{{\"b\": \"{}\"}}]}}", "x".repeat(150));
    let items = decode(&spec, slightly.as_bytes());
    assert!(
        matches!(&items[..], [Err(DecodeError::Oversized { .. })]),
        "{items:?}"
    );
}

#[test]
fn skipped_values_may_be_larger_than_the_record_limit() {
    let spec = JsonSpec {
        max_record_bytes: 100,
        ..document(Some("/orders/*"), &[])
    };
    let input = format!(
        "{{\"blob\": \"{}\", \"orders\": [{{\"a\": 1}}]}}",
        "x".repeat(1 << 20)
    );
    let items = decode(&spec, input.as_bytes());
    assert_eq!(items.len(), 1);
    assert_eq!(tree(&items[0])["a"], "1");
}

#[test]
fn documents_stream_through_one_byte_reads() {
    let items: Vec<_> = decoder(
        &document(Some("/orders/*"), &["/meta"]),
        Trickle(ORDERS),
        "c".into(),
        "f".into(),
    )
    .collect();
    assert_eq!(items.len(), 2);
    assert_eq!(tree(&items[1])["meta"]["store"], "SH-001");
    assert_eq!(
        ok(&items[1]).origin.offset,
        offset_of(ORDERS, b"{\"no\": \"A2\"")
    );
}

#[test]
fn a_read_error_ends_the_input() {
    for spec in [document(None, &[]), ndjson()] {
        let failing = crate::format::failing::FailingAfter::new(b"[{\"a\": 1}, ");
        let items: Vec<_> = decoder(&spec, failing, "c".into(), "f".into()).collect();
        let last = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.to_string(), "cannot read the file: disk on fire");
    }
}

#[test]
fn ndjson_lines_are_records_with_their_line_and_offset() {
    let input = b"{\"sku\": \"S1\", \"qty\": 2.50}\r\n\n   \n{\"sku\": \"S2\", \"ok\": false}\n{\"sku\": \"S3\"}";
    let items = decode(&ndjson(), input);
    assert_eq!(items.len(), 3);
    assert_eq!(*tree(&items[0]), json!({"sku": "S1", "qty": "2.50"}));
    assert_eq!(*tree(&items[1]), json!({"sku": "S2", "ok": false}));
    assert_eq!(
        (ok(&items[1]).origin.line, ok(&items[1]).origin.offset),
        (4, 33)
    );
    assert_eq!(ok(&items[2]).origin.line, 5);
    assert_eq!(locator(&items[2]), None);
}

#[test]
fn ndjson_bad_lines_are_record_errors_and_the_next_lines_decode() {
    let input = b"{\"a\": 1}\n{\"a\": }\n[1, 2]\n{\"a\": 1} {\"a\": 2}\n{\n{\"a\": 5}\n";
    let items = decode(&ndjson(), input);
    assert_eq!(items.len(), 6);
    let broken = record_error(&items[1]);
    assert_eq!((broken.origin.line, broken.origin.offset), (2, 9));
    assert_eq!(broken.raw, b"{\"a\": }");
    assert!(
        broken.reason.starts_with("invalid JSON at column 7"),
        "{}",
        broken.reason
    );
    assert_eq!(
        record_error(&items[2]).reason,
        "the line holds an array, not a JSON object: each line must be one record object"
    );
    assert_eq!(
        record_error(&items[3]).reason,
        "the line holds more than one JSON value"
    );
    assert!(
        record_error(&items[4])
            .reason
            .contains("use type = \"json\"")
    );
    assert_eq!(tree(&items[5])["a"], "5");
    let items = decode(&ndjson(), b"{\"a\": 1}\n{\"a\": [1, 2");
    assert!(
        record_error(&items[1])
            .reason
            .contains("is the file truncated?")
    );
}

#[test]
fn ndjson_in_gbk_with_invalid_bytes() {
    let (head, _, _) = GBK.encode("{\"名\": \"和珅\"}\n{\"名\": \"");
    let mut input = head.into_owned();
    let bad_at = input.len() as u64;
    input.extend_from_slice(b"\x81\x7F\"}\n");
    let third_at = input.len() as u64;
    input.extend_from_slice(&GBK.encode("{\"名\": \"乙\"}\n").0);
    let spec = JsonSpec {
        encoding: GBK,
        ..ndjson()
    };
    let items = decode(&spec, &input);
    assert_eq!(items.len(), 3);
    assert_eq!(*tree(&items[0]), json!({"名": "和珅"}));
    let error = record_error(&items[1]);
    assert_eq!(
        error.reason,
        format!("invalid GBK byte sequence 0x81 at byte offset {bad_at}")
    );
    assert_eq!(error.origin.line, 2);
    assert_eq!(tree(&items[2])["名"], "乙");
    assert_eq!(ok(&items[2]).origin.offset, third_at);
}

#[test]
fn ndjson_lines_past_the_limit_are_skipped_as_record_errors() {
    let spec = JsonSpec {
        max_record_bytes: 64,
        ..ndjson()
    };
    let input = format!("{{\"a\": \"{}\"}}\n{{\"a\": 2}}\n", "x".repeat(1 << 20));
    let items = decode(&spec, input.as_bytes());
    assert_eq!(items.len(), 2);
    let error = record_error(&items[0]);
    assert!(
        error
            .reason
            .starts_with("the line is longer than max_record_bytes (64 bytes)")
    );
    assert_eq!(error.raw.len(), 64);
    assert_eq!(tree(&items[1])["a"], "2");
    assert_eq!(ok(&items[1]).origin.line, 2);
}

fn spec_from(text: &str) -> Result<JsonSpec, String> {
    let src = Source {
        path: Path::new("connectors/shop.toml"),
        text,
    };
    let table = src.parse().map_err(|d| d.to_string())?.into_inner();
    let Some(format) = table.get("format") else {
        return Err("no [format]".into());
    };
    let DeValue::Table(format) = format.get_ref() else {
        return Err("[format] is not a table".into());
    };
    let mut rest = format.clone();
    let kind = rest.remove("type").unwrap();
    let kind = Spanned::new(kind.span(), kind.get_ref().as_str().unwrap().to_string());
    parse_spec(&src, &kind, Spanned::new(0..0, DeValue::Table(rest))).map_err(|d| d.to_string())
}

#[test]
fn format_keys_have_defaults_and_are_read() {
    let spec = spec_from("[format]\ntype = \"json\"\n").unwrap();
    assert_eq!(spec, document(None, &[]));
    let spec = spec_from("[format]\ntype = \"ndjson\"\nencoding = \"gbk\"\n").unwrap();
    assert_eq!((spec.kind, spec.encoding), (JsonKind::Lines, GBK));
    let spec = spec_from(
        "[format]\ntype = \"json\"\nrecord = \"/orders/*\"\ncontext = [\"/meta\", \"/head/store\"]\nmax_record_bytes = 1024\n",
    )
    .unwrap();
    assert_eq!(spec.record, Some(Pointer::parse("/orders/*").unwrap()));
    assert_eq!(spec.context.len(), 2);
    assert_eq!(spec.max_record_bytes, 1024);
}

#[test]
fn format_problems_are_reported_at_their_value() {
    let cases = [
        (
            "record = \"orders\"",
            "4:10: \"orders\" is not a JSON Pointer",
        ),
        ("context = [\"/meta\"]", "4:12: context needs `record`"),
        (
            "record = \"/o/*\"\ncontext = [\"/o\"]",
            "5:12: context \"/o\" and record = \"/o/*\" overlap",
        ),
        (
            "record = \"/o/*\"\ncontext = [\"/m/*\"]",
            "must name one value",
        ),
        (
            "record = \"/o/*\"\ncontext = [\"/a/id\", \"/b/id\"]",
            "would both add a member \"id\"",
        ),
        (
            "max_record_bytes = 0",
            "max_record_bytes must be between 1 and",
        ),
        ("encoding = \"klingon\"", "unknown encoding \"klingon\""),
        (
            "recrod = \"/o\"",
            "unknown key \"recrod\" in [format]; did you mean \"record\"?",
        ),
    ];
    for (keys, expected) in cases {
        let text = format!("[format]\ntype = \"json\"\n\n{keys}\n");
        let error = spec_from(&text).unwrap_err();
        assert!(error.contains(expected), "{keys}: {error}");
    }
    let error = spec_from("[format]\ntype = \"ndjson\"\nrecord = \"/o/*\"\n").unwrap_err();
    assert!(
        error.contains("3:10: record is for type = \"json\""),
        "{error}"
    );
}
