//! Decoder tests over small inline fixtures: layouts, positions, charsets, documents, and
//! hostile input.

use std::collections::BTreeMap;
use std::path::Path;

use encoding_rs::GBK;
use serde_json::json;
use toml::Spanned;
use toml::de::DeValue;

use super::*;
use crate::config::connector::FormatSpec;
use crate::config::toml_de::Source;
use crate::format::record::Body;

/// The spec of a `[format]` table (without its `type` line), or the diagnostics as text.
fn try_spec(format: &str) -> Result<FixedWidthSpec, String> {
    let text = format!("[format]\ntype = \"fixed_width\"\n{format}");
    let src = Source {
        path: Path::new("c.toml"),
        text: &text,
    };
    let table = src.parse().map_err(|d| d.to_string())?.into_inner();
    let value = &table["format"];
    let DeValue::Table(inner) = value.get_ref() else {
        panic!("[format] is a table");
    };
    let mut inner = inner.clone();
    let kind = inner.remove("type").unwrap();
    let kind = Spanned::new(kind.span(), "fixed_width".to_string());
    parse_spec(
        &src,
        &kind,
        Spanned::new(value.span(), DeValue::Table(inner)),
    )
    .map_err(|d| d.to_string())
}

fn spec(format: &str) -> FixedWidthSpec {
    try_spec(format).unwrap()
}

fn decode(spec: &FixedWidthSpec, bytes: &[u8]) -> Vec<Result<Record, DecodeError>> {
    decoder(spec, bytes, "pos".into(), "in.txt".into()).collect()
}

fn gbk(text: &str) -> Vec<u8> {
    GBK.encode(text).0.into_owned()
}

/// A flat record as column → value.
fn row(item: &Result<Record, DecodeError>) -> BTreeMap<String, String> {
    let record = item.as_ref().unwrap();
    let Body::Row { columns, row } = &record.body else {
        panic!("a flat row");
    };
    columns
        .names()
        .iter()
        .cloned()
        .zip(row.iter().map(str::to_string))
        .collect()
}

fn tree(item: &Result<Record, DecodeError>) -> &Value {
    match &item.as_ref().unwrap().body {
        Body::Tree(tree) => tree,
        Body::Row { .. } => panic!("a tree"),
    }
}

fn record_error(item: &Result<Record, DecodeError>) -> &RecordError {
    match item {
        Err(DecodeError::Record(e)) => e,
        other => panic!("a record error, got {other:?}"),
    }
}

const STOCK: &str = r#"
[[format.records]]
fields = [
  { name = "store", start = 1, length = 4 },
  { name = "sku", start = 5, length = 8 },
  { name = "qty", start = 13, length = 6, decimals = 2 },
]
"#;

#[test]
fn one_layout_reads_fields_by_position_with_any_line_ending() {
    let spec = spec(STOCK);
    let input = b"S001000123  001250\r\nS002  0045  000007\nS003ABC     000100";
    let out = decode(&spec, input);
    assert_eq!(out.len(), 3);
    let first = row(&out[0]);
    assert_eq!(first["store"], "S001");
    assert_eq!(
        first["sku"], "000123",
        "leading zeros stay, trailing blanks go"
    );
    assert_eq!(first["qty"], "12.50");
    assert!(!first.contains_key(RECORD_TYPE));
    assert_eq!(row(&out[1])["sku"], "  0045");
    assert_eq!(row(&out[1])["qty"], "0.07");
    let origins: Vec<(u64, u64)> = out
        .iter()
        .map(|r| {
            (
                r.as_ref().unwrap().origin.line,
                r.as_ref().unwrap().origin.offset,
            )
        })
        .collect();
    assert_eq!(origins, [(1, 0), (2, 20), (3, 39)]);
    assert_eq!(out[2].as_ref().unwrap().origin.locator, None);
}

#[test]
fn ordered_widths_with_filler_and_number_options() {
    let spec = spec(
        r#"
skip_lines = 1
[[format.records]]
widths = [["sku", 6], ["", 2], ["qty", 5, { sign = "trailing", decimals = 1 }],
          ["amount", 6, { sign = "overpunch", decimals = 2 }], ["note", 6, { trim = "both" }],
          ["raw", 4, { trim = "none" }], ["rate", 6, { decimal_separator = "," }]]
"#,
    );
    let input = b"SKU   --QTY--AMOUNT NOTE  RAW RATE\nA1    xx0120-00123J  hi  ab     1,5\n";
    let out = decode(&spec, input);
    assert_eq!(out.len(), 1, "the header line is skipped");
    let r = row(&out[0]);
    assert_eq!(r.len(), 6, "the filler is not a column");
    assert_eq!(r["qty"], "-12.0");
    assert_eq!(r["amount"], "-12.31");
    assert_eq!(r["note"], "hi");
    assert_eq!(r["raw"], "ab  ");
    assert_eq!(r["rate"], "1.5");
    assert_eq!(out[0].as_ref().unwrap().origin.line, 2);
}

const POS: &str = r#"
encoding = "gbk"
discriminator = { start = 1, length = 1 }
[[format.records]]
type = "H"
fields = [{ name = "store", start = 2, length = 7 }, { name = "date", start = 9, length = 8 }]
[[format.records]]
type = "L"
widths = [["", 1], ["sku", 8], ["name", 10], ["qty", 7, { decimals = 3, sign = "trailing" }]]
[[format.records]]
type = "T"
fields = [{ name = "count", start = 2, length = 3, type = "number" }]
"#;

/// A GBK POS export: header, two lines with Chinese names, trailer.
fn pos_file() -> Vec<u8> {
    gbk("H上海01 20240301\n\
         L10023456康师傅面  001500 \n\
         L10040001维达纸巾  000250-\n\
         T002\n")
}

#[test]
fn several_record_types_share_one_column_set_with_their_type() {
    let spec = spec(POS);
    let out = decode(&spec, &pos_file());
    assert_eq!(out.len(), 4);
    let header = row(&out[0]);
    assert_eq!(header[RECORD_TYPE], "H");
    assert_eq!(header["store"], "上海01");
    assert_eq!(header["sku"], "", "other layouts' columns are empty");
    let line = row(&out[1]);
    assert_eq!(line[RECORD_TYPE], "L");
    assert_eq!(line["name"], "康师傅面");
    assert_eq!(line["qty"], "1.500");
    assert_eq!(row(&out[2])["qty"], "-0.250");
    assert_eq!(row(&out[3])["count"], "2");
    let columns: Vec<&Arc<Columns>> = out
        .iter()
        .map(|r| r.as_ref().unwrap().columns().unwrap())
        .collect();
    assert!(columns.iter().all(|c| Arc::ptr_eq(c, columns[0])));
    let second = &out[2].as_ref().unwrap().origin;
    assert_eq!((second.line, second.offset), (3, 17 + 27));
    assert_eq!(second.to_string(), "in.txt:3 (record L)");
}

#[test]
fn a_field_boundary_inside_a_gbk_character_is_a_record_error_naming_the_field() {
    let spec = spec(
        r#"
encoding = "gbk"
[[format.records]]
length = 6
fields = [{ name = "code", start = 1, length = 2 }, { name = "name", start = 3, length = 3 }]
"#,
    );
    let out = decode(&spec, &gbk("01康师\n02AB  \n"));
    assert_eq!(out.len(), 2);
    let error = record_error(&out[0]);
    assert!(
        error
            .reason
            .contains("field \"name\" (bytes 3-5) cuts a GBK character in two"),
        "{}",
        error.reason
    );
    assert_eq!(error.raw, gbk("01康师"));
    assert_eq!(error.origin.line, 1);
    assert_eq!(row(&out[1])["name"], "AB");
}

#[test]
fn garbage_bytes_and_a_wrong_encoding_name_the_byte_offset() {
    let spec = spec(
        r#"
encoding = "gbk"
[[format.records]]
fields = [{ name = "a", start = 1, length = 2 }, { name = "b", start = 3, length = 2 }]
"#,
    );
    let out = decode(&spec, b"okok\nab\xFF\xFF\nfine\n");
    assert_eq!(out.len(), 3);
    let reason = &record_error(&out[1]).reason;
    assert!(
        reason.contains("field \"b\" (bytes 3-4): invalid GBK byte sequence 0xFF at byte offset 7"),
        "{reason}"
    );
    assert_eq!(row(&out[2])["b"], "ne");

    let utf8 = spec_utf8();
    let out = decode(&utf8, &gbk("甲乙\n"));
    let reason = &record_error(&out[0]).reason;
    assert!(reason.contains("invalid UTF-8 byte sequence"), "{reason}");
    assert!(reason.contains("at byte offset 0"), "{reason}");
}

fn spec_utf8() -> FixedWidthSpec {
    spec(
        r#"
[[format.records]]
fields = [{ name = "all", start = 1, length = 4 }]
"#,
    )
}

#[test]
fn unknown_record_types_are_errors_unless_skipped() {
    let spec_ = spec(POS);
    let out = decode(&spec_, b"X junk\nT001\n");
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains(
            "unknown record type \"X\" at bytes 1-1; the layouts are for \"H\", \"L\", \"T\""
        ),
        "{}",
        error.reason
    );
    assert_eq!(row(&out[1])["count"], "1");
    let skipping = spec(&format!("unknown_records = \"skip\"\n{POS}"));
    let out = decode(&skipping, b"X junk\nT001\n");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().unwrap().origin.line, 2);
}

#[test]
fn short_lines_are_errors_unless_padded_and_data_past_the_layout_is_an_error() {
    let strict = spec(STOCK);
    let out = decode(
        &strict,
        b"S001000123\nS001000123  001250    \nS001000123  001250XY\n",
    );
    assert_eq!(out.len(), 3);
    let reason = &record_error(&out[0]).reason;
    assert!(
        reason.contains("line is 10 bytes long, the layout needs 18"),
        "{reason}"
    );
    assert_eq!(
        row(&out[1])["qty"],
        "12.50",
        "trailing blanks past the layout are fine"
    );
    let reason = &record_error(&out[2]).reason;
    assert!(reason.contains("bytes 19-20 are not blank"), "{reason}");

    let padded = spec(&format!("short_lines = \"pad\"\n{STOCK}"));
    let out = decode(&padded, b"S001000123\n");
    let r = row(&out[0]);
    assert_eq!((r["sku"].as_str(), r["qty"].as_str()), ("000123", ""));
}

#[test]
fn fixed_length_records_without_separators_and_a_truncated_end() {
    let spec = spec(&format!("record_length = 20\n{STOCK}"));
    let out = decode(&spec, b"S001000123  001250  S002000456  000100  S003000");
    assert_eq!(out.len(), 3);
    assert_eq!(row(&out[1])["sku"], "000456");
    let second = &out[1].as_ref().unwrap().origin;
    assert_eq!((second.line, second.offset), (2, 20));
    let error = record_error(&out[2]);
    assert!(
        error
            .reason
            .contains("the file ends inside this record: it has 7 of its 20 bytes"),
        "{}",
        error.reason
    );
    assert_eq!(error.origin.offset, 40);
    assert_eq!(error.raw, b"S003000");
}

#[test]
fn a_utf8_bom_overrides_the_encoding_and_counts_in_offsets() {
    let spec = spec(
        r#"
encoding = "gbk"
[[format.records]]
fields = [{ name = "name", start = 1, length = 6 }]
"#,
    );
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice("康师\n".as_bytes());
    let out = decode(&spec, &input);
    assert_eq!(row(&out[0])["name"], "康师");
    assert_eq!(out[0].as_ref().unwrap().origin.offset, 3);

    let out = decode(&spec, b"\xFF\xFEa\x00b\x00");
    assert_eq!(out.len(), 1);
    match &out[0] {
        Err(DecodeError::Input { line: 1, reason }) => {
            assert!(reason.contains("UTF-16LE byte-order mark"), "{reason}")
        }
        other => panic!("a fatal input error, got {other:?}"),
    }
}

#[test]
fn an_overlong_line_is_reported_and_reading_goes_on() {
    let spec = spec(STOCK);
    let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
    input.extend_from_slice(b"\nS001000123  001250\n");
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 2);
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains("line is longer than"),
        "{}",
        error.reason
    );
    assert_eq!(error.raw.len(), MAX_LINE_BYTES, "the raw copy is bounded");
    assert_eq!(row(&out[1])["store"], "S001");
    assert_eq!(
        out[1].as_ref().unwrap().origin.offset,
        MAX_LINE_BYTES as u64 + 11
    );
}

#[test]
fn blank_lines_and_a_dos_end_mark_are_skipped() {
    let spec = spec(STOCK);
    let out = decode(&spec, b"\r\nS001000123  001250\n   \n\x1A");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().unwrap().origin.line, 2);
}

fn grouped(extra: &str) -> FixedWidthSpec {
    spec(&format!(
        "{POS}\n[format.group]\nheader = \"H\"\nlines = [\"L\"]\ntrailer = \"T\"\n{extra}"
    ))
}

#[test]
fn a_header_its_lines_and_trailer_make_one_document() {
    let spec = grouped("trailer_count = \"count\"");
    let mut input = pos_file();
    input.extend(gbk("H北京02 20240302\nT000\n"));
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 2);
    assert_eq!(
        tree(&out[0]),
        &json!({
            "record_type": "H", "store": "上海01", "date": "20240301",
            "L": [
                { "record_type": "L", "sku": "10023456", "name": "康师傅面", "qty": "1.500" },
                { "record_type": "L", "sku": "10040001", "name": "维达纸巾", "qty": "-0.250" },
            ],
            "T": { "record_type": "T", "count": "2" },
        })
    );
    let origin = &out[0].as_ref().unwrap().origin;
    assert_eq!(origin.to_string(), "in.txt:1 (document \"H\", lines 1-4)");
    assert_eq!(tree(&out[1])["L"], json!([]));
    assert_eq!(
        out[1].as_ref().unwrap().origin.offset,
        pos_file().len() as u64
    );
}

#[test]
fn a_wrong_trailer_count_fails_the_document_with_all_its_lines() {
    let spec = grouped("trailer_count = \"count\"");
    let input = gbk("H上海01 20240301\nL10023456康师傅面  001500 \nT005\n");
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 1);
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains(
            "line 3: the trailer's field \"count\" counts 5 line records, the document has 1"
        ),
        "{}",
        error.reason
    );
    assert_eq!(
        error.raw,
        gbk("H上海01 20240301\nL10023456康师傅面  001500 \nT005")
    );
    assert_eq!(error.origin.line, 1);
}

#[test]
fn a_bad_line_fails_its_document_and_the_next_one_still_decodes() {
    let spec = grouped("");
    let input = gbk("H上海01 20240301\nL10023456康师傅面  0015x0 \nT001\nH北京02 20240302\nT000\n");
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 2);
    let reason = &record_error(&out[0]).reason;
    assert!(
        reason.starts_with("line 2: field \"qty\" (bytes 20-26): \"0015x0\" is not a number"),
        "{reason}"
    );
    assert_eq!(tree(&out[1])["store"], "北京02");
}

#[test]
fn lines_without_a_header_and_documents_without_a_trailer_are_errors() {
    let spec = grouped("");
    let input = gbk(
        "L10023456康师傅面  001500 \nH上海01 20240301\nH北京02 20240302\nL10023456康师傅面  001500 \n",
    );
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 3);
    let orphan = record_error(&out[0]);
    assert!(
        orphan
            .reason
            .contains("\"L\" record outside a document: no \"H\" header"),
        "{}",
        orphan.reason
    );
    assert_eq!(orphan.origin.to_string(), "in.txt:1 (record L)");
    let reason = &record_error(&out[1]).reason;
    assert!(
        reason.contains("no \"T\" trailer record: the next \"H\" record starts at line 3"),
        "{reason}"
    );
    let truncated = record_error(&out[2]);
    assert!(
        truncated
            .reason
            .contains("no \"T\" trailer record: the file ends after line 4"),
        "{}",
        truncated.reason
    );
    assert_eq!(truncated.origin.line, 3);
}

#[test]
fn record_types_outside_the_group_stand_alone_and_close_a_document() {
    let spec = spec(&format!(
        "{POS}\n[format.group]\nheader = \"H\"\nlines = [\"L\"]\n"
    ));
    let out = decode(
        &spec,
        &gbk("H上海01 20240301\nL10023456康师傅面  001500 \nT001\n"),
    );
    assert_eq!(out.len(), 2);
    assert_eq!(tree(&out[0])["L"].as_array().unwrap().len(), 1);
    assert_eq!(tree(&out[1]), &json!({ "record_type": "T", "count": "1" }));
    assert_eq!(out[1].as_ref().unwrap().origin.line, 3);
}

#[test]
fn spec_problems_are_reported_at_their_position() {
    let cases = [
        (
            "encoding = \"utf-16le\"\n",
            "c.toml:3:12: fixed-width files need an ASCII-compatible",
        ),
        (
            "[[format.records]]\nfields = [{ name = \"a\", start = 0, length = 1 }]\n",
            "c.toml:4:",
        ),
        (
            "[[format.records]]\nfields = [{ name = \"a\", start = 1, lenght = 1 }]\n",
            "unknown key \"lenght\"",
        ),
        ("", "needs at least one layout"),
        (
            "[[format.records]]\nwidths = [[\"a\", 1]]\n[[format.records]]\nwidths = [[\"b\", 1]]\n",
            "c.toml:5:1: several layouts need discriminator",
        ),
        (
            "discriminator = { start = 1, length = 1 }\n[[format.records]]\nwidths = [[\"a\", 1]]\n",
            "every layout needs type",
        ),
        (
            "[[format.records]]\nwidths = [[\"a\", 1, { type = \"text\", decimals = 2 }]]\n",
            "apply to number fields",
        ),
        (
            "[[format.records]]\nwidths = [[\"a\"]]\n",
            "[\"name\", width]",
        ),
        (
            "[[format.records]]\nwidths = [[\"a\", 1], [\"a\", 2]]\n",
            "field \"a\" is named twice",
        ),
        (
            "discriminator = { start = 1, length = 1 }\n[[format.records]]\ntype = \"H\"\n\
             widths = [[\"record_type\", 1]]\n",
            "\"record_type\" is reserved",
        ),
        (
            "record_length = 4\n[[format.records]]\nwidths = [[\"a\", 5]]\n",
            "over record_length = 4",
        ),
    ];
    for (format, expected) in cases {
        let error = try_spec(format).unwrap_err();
        assert!(error.contains(expected), "{format}\n→ {error}");
    }
    let group = try_spec(&format!(
        "{POS}\n[format.group]\nheader = \"H\"\nlines = [\"X\"]\ntrailer_count = \"count\"\n"
    ))
    .unwrap_err();
    assert!(group.contains("no layout has type \"X\""), "{group}");
    let group = try_spec(&format!(
        "{POS}\n[format.group]\nheader = \"H\"\nlines = [\"H\"]\n"
    ))
    .unwrap_err();
    assert!(group.contains("has two roles"), "{group}");
}

#[test]
fn a_document_past_the_size_limit_is_reported_not_held() {
    let spec = grouped("");
    let line = gbk("L10023456康师傅面  001500 \n");
    let mut input = gbk("H上海01 20240301\n");
    for _ in 0..(16 << 20) / line.len() + 10 {
        input.extend_from_slice(&line);
    }
    input.extend(gbk("T001\nH北京02 20240302\nT000\n"));
    let out = decode(&spec, &input);
    assert_eq!(out.len(), 2);
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains("the document is larger than 16 MiB"),
        "{}",
        error.reason
    );
    assert!(error.raw.len() <= 16 << 20);
    assert_eq!(tree(&out[1])["store"], "北京02");
}

#[test]
fn invalid_bytes_replace_keeps_the_record_and_detect_guesses_gbk() {
    let layout = r#"short_lines = "pad"
[[format.records]]
fields = [{ name = "store", start = 1, length = 4 }, { name = "name", start = 5, length = 24 }]
"#;
    let strict = decode(&spec(layout), b"0101caf\xE9\n");
    assert!(
        matches!(&strict[0], Err(DecodeError::Record(_))),
        "{strict:?}"
    );
    let replacing = spec(&format!("invalid_bytes = \"replace\"\n{layout}"));
    let out = decode(&replacing, b"0101caf\xE9\n");
    assert_eq!(row(&out[0])["name"], "caf\u{FFFD}");
    let detecting = FormatSpec::FixedWidth(spec(&format!("encoding = \"detect\"\n{layout}")));
    let text = "0101上海浦东世纪大道店\n0102北京朝阳区望京店\n0103广州天河体育西路店\n\
                0104深圳南山科技园店\n0105杭州西湖区文三路店\n";
    let decoded: Vec<_> =
        crate::format::decode(&detecting, &gbk(text)[..], "pos".into(), "a.txt".into()).collect();
    assert_eq!(row(&decoded[0])["name"], "上海浦东世纪大道店");
    assert_eq!(row(&decoded[4])["name"], "杭州西湖区文三路店");
}
