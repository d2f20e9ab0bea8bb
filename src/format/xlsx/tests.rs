use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::DeValue;

use super::fixture::{Cell, workbook};
use super::*;
use crate::config::connector::FormatSpec;
use crate::config::toml_de::Source;
use crate::format::record::Columns;

type Item = Result<Record, DecodeError>;

fn decode(spec: &XlsxSpec, bytes: &[u8]) -> Vec<Item> {
    decoder(spec, bytes, "erp".into(), "in.xlsx".into()).collect()
}

fn first_sheet(rows: &[&[Cell<'_>]]) -> Vec<u8> {
    workbook(&[("Sheet1", rows)])
}

fn ok(item: &Item) -> &Record {
    match item {
        Ok(record) => record,
        Err(e) => panic!("expected a record, got {e}"),
    }
}

fn fields(record: &Record) -> Vec<&str> {
    match &record.body {
        crate::format::record::Body::Row { row, .. } => row.iter().collect(),
        other => panic!("expected a row, got {other:?}"),
    }
}

fn names(record: &Record) -> Vec<String> {
    record
        .columns()
        .map(|c| c.names().to_vec())
        .unwrap_or_default()
}

fn fatal(items: &[Item]) -> String {
    match items.last() {
        Some(Err(e)) if e.is_fatal() => e.to_string(),
        other => panic!("expected a fatal error last, got {other:?}"),
    }
}

fn record_error(item: &Item) -> &crate::format::record::RecordError {
    match item {
        Err(DecodeError::Record(e)) => e,
        other => panic!("expected a record error, got {other:?}"),
    }
}

const HEADER: &[Cell<'static>] = &[
    Cell::Text("order"),
    Cell::Text("qty"),
    Cell::Text("price"),
    Cell::Text("paid"),
    Cell::Text("due"),
    Cell::Text("at"),
    Cell::Text("took"),
    Cell::Text("note"),
];

#[test]
fn typed_cells_become_text_under_the_header_names() {
    let bytes = first_sheet(&[
        HEADER,
        &[
            Cell::Text("A-1"),
            Cell::Number("3"),
            Cell::Number("12.5"),
            Cell::Bool(true),
            Cell::Date("46350"),
            Cell::DateTime("46350.545138888889"),
            Cell::Duration("1.5034722222222223"),
            Cell::Text("café, \"quoted\""),
        ],
        &[
            Cell::Text("A-2"),
            Cell::Number("4.0"),
            Cell::Number("1E-3"),
            Cell::Bool(false),
            Cell::Blank,
            Cell::Missing,
            Cell::Missing,
            Cell::Blank,
        ],
    ]);
    let items = decode(&XlsxSpec::default(), &bytes);
    assert_eq!(items.len(), 2);
    let first = ok(&items[0]);
    assert_eq!(
        names(first),
        ["order", "qty", "price", "paid", "due", "at", "took", "note"]
    );
    assert_eq!(
        fields(first),
        [
            "A-1",
            "3",
            "12.5",
            "true",
            "2026-11-24",
            "2026-11-24T13:05:00",
            "PT36H5M",
            "café, \"quoted\""
        ]
    );
    assert_eq!(first.origin.line, 2);
    assert_eq!(first.origin.offset, 0);
    assert_eq!(first.origin.locator.as_deref(), Some("Sheet1 row 2"));
    assert_eq!(
        (&*first.origin.connector, &*first.origin.file),
        ("erp", "in.xlsx")
    );
    assert_eq!(
        fields(ok(&items[1])),
        ["A-2", "4", "0.001", "false", "", "", "", ""]
    );
    assert!(Arc::ptr_eq(
        first.columns().unwrap(),
        ok(&items[1]).columns().unwrap()
    ));
}

#[test]
fn empty_rows_are_skipped_anywhere_and_short_rows_are_padded() {
    let bytes = first_sheet(&[
        &[
            Cell::Text("id"),
            Cell::Text("name"),
            Cell::Blank,
            Cell::Blank,
        ],
        &[],
        &[Cell::Blank, Cell::Blank],
        &[Cell::Number("7")],
        &[],
        &[Cell::Missing, Cell::Text("x")],
        &[Cell::Blank],
        &[],
    ]);
    let items = decode(&XlsxSpec::default(), &bytes);
    assert_eq!(items.len(), 2);
    assert_eq!(names(ok(&items[0])), ["id", "name"]);
    assert_eq!(fields(ok(&items[0])), ["7", ""]);
    assert_eq!(ok(&items[0]).origin.line, 4);
    assert_eq!(fields(ok(&items[1])), ["", "x"]);
    assert_eq!(ok(&items[1]).origin.line, 6);
}

#[test]
fn an_error_cell_is_a_record_error_naming_the_cell() {
    let bytes = workbook(&[(
        "Q3 Orders",
        &[
            &[Cell::Text("id"), Cell::Text("ratio"), Cell::Text("more")],
            &[Cell::Text("a"), Cell::Number("0.5"), Cell::Text("x")],
            &[Cell::Text("b"), Cell::Error("#DIV/0!"), Cell::Error("#N/A")],
            &[Cell::Text("c"), Cell::Number("2"), Cell::Missing],
        ],
    )]);
    let items = decode(&XlsxSpec::default(), &bytes);
    assert_eq!(items.len(), 3);
    assert_eq!(fields(ok(&items[0])), ["a", "0.5", "x"]);
    let error = record_error(&items[1]);
    assert_eq!(
        error.reason,
        "'Q3 Orders'!B3: the cell holds the error #DIV/0! (and 1 more error cells in this row)"
    );
    assert_eq!(error.origin.line, 3);
    assert_eq!(error.origin.locator.as_deref(), Some("'Q3 Orders' row 3"));
    assert_eq!(error.raw, b"b,#DIV/0!,#N/A\n");
    assert_eq!(
        error.columns.as_deref().map(Columns::names),
        Some(&["id", "ratio", "more"].map(String::from)[..])
    );
    assert!(!items[1].as_ref().unwrap_err().is_fatal());
    assert_eq!(
        items[1].as_ref().unwrap_err().to_string(),
        "in.xlsx:3 ('Q3 Orders' row 3): 'Q3 Orders'!B3: the cell holds the error #DIV/0! (and 1 \
         more error cells in this row)"
    );
    assert_eq!(fields(ok(&items[2])), ["c", "2", ""]);
}

#[test]
fn a_value_past_the_last_column_is_a_record_error() {
    let bytes = first_sheet(&[
        &[Cell::Text("id"), Cell::Text("qty")],
        &[
            Cell::Text("a"),
            Cell::Number("1"),
            Cell::Blank,
            Cell::Text("stray"),
        ],
        &[Cell::Text("b"), Cell::Number("2"), Cell::Blank],
    ]);
    let items = decode(&XlsxSpec::default(), &bytes);
    let error = record_error(&items[0]);
    assert_eq!(
        error.reason,
        "Sheet1!D2: the cell holds a value past column B, the last one the header names"
    );
    assert_eq!(error.raw, b"a,1,,stray\n");
    assert_eq!(fields(ok(&items[1])), ["b", "2"]);
}

#[test]
fn sheets_are_picked_by_name_or_position_and_default_to_the_first() {
    let one: &[&[Cell<'_>]] = &[&[Cell::Text("k")], &[Cell::Text("first")]];
    let two: &[&[Cell<'_>]] = &[&[Cell::Text("k")], &[Cell::Text("second")]];
    let bytes = workbook(&[("Stores", one), ("Stock 2026", two)]);
    let value = |sheet| {
        let spec = XlsxSpec {
            sheet,
            ..XlsxSpec::default()
        };
        let items = decode(&spec, &bytes);
        fields(ok(&items[0]))[0].to_string()
    };
    assert_eq!(value(Sheet::First), "first");
    assert_eq!(value(Sheet::Number(2)), "second");
    assert_eq!(value(Sheet::Named("Stock 2026".into())), "second");
}

#[test]
fn a_missing_sheet_is_fatal_and_lists_the_sheets() {
    let rows: &[&[Cell<'_>]] = &[&[Cell::Text("k")]];
    let bytes = workbook(&[("Stores", rows), ("Stock", rows)]);
    let spec = |sheet| XlsxSpec {
        sheet,
        ..XlsxSpec::default()
    };
    let items = decode(&spec(Sheet::Named("stock".into())), &bytes);
    assert_eq!(items.len(), 1);
    assert_eq!(
        fatal(&items),
        "line 0: the workbook has no sheet \"stock\"; its sheets are \"Stores\", \"Stock\" (set \
         sheet to one of them, or to its position: sheet = 1)"
    );
    let items = decode(&spec(Sheet::Number(3)), &bytes);
    assert_eq!(
        fatal(&items),
        "line 0: sheet = 3, but the workbook has 2 sheet(s); its sheets are \"Stores\", \"Stock\""
    );
}

#[test]
fn header_row_skips_banner_rows_above_it() {
    let bytes = first_sheet(&[
        &[Cell::Text("Stock report")],
        &[Cell::Text("as of"), Cell::Date("46350")],
        &[Cell::Text(" sku "), Cell::Text("on hand")],
        &[Cell::Text("10023456"), Cell::Number("120")],
    ]);
    let spec = XlsxSpec {
        header_row: 3,
        ..XlsxSpec::default()
    };
    let items = decode(&spec, &bytes);
    assert_eq!(items.len(), 1);
    assert_eq!(names(ok(&items[0])), ["sku", "on hand"]);
    assert_eq!(fields(ok(&items[0])), ["10023456", "120"]);
    assert_eq!(ok(&items[0]).origin.line, 4);
}

#[test]
fn named_columns_read_every_row_after_header_row_as_data() {
    let bytes = first_sheet(&[
        &[Cell::Text("Artikel"), Cell::Text("Menge")],
        &[Cell::Text("x"), Cell::Number("1")],
    ]);
    let named = |header_row| XlsxSpec {
        header_row,
        columns: Some(vec!["sku".into(), "qty".into()]),
        ..XlsxSpec::default()
    };
    let items = decode(&named(0), &bytes);
    assert_eq!(items.len(), 2);
    assert_eq!(names(ok(&items[0])), ["sku", "qty"]);
    assert_eq!(fields(ok(&items[0])), ["Artikel", "Menge"]);
    let items = decode(&named(1), &bytes);
    assert_eq!(items.len(), 1);
    assert_eq!(fields(ok(&items[0])), ["x", "1"]);
    assert_eq!(ok(&items[0]).origin.line, 2);
}

#[test]
fn an_unusable_header_is_fatal() {
    let header_error = |rows: &[&[Cell<'_>]], header_row| {
        let spec = XlsxSpec {
            header_row,
            ..XlsxSpec::default()
        };
        let items = decode(&spec, &first_sheet(rows));
        assert!(matches!(
            items.last(),
            Some(Err(DecodeError::Header { .. }))
        ));
        fatal(&items)
    };
    let data: &[Cell<'_>] = &[Cell::Text("1"), Cell::Text("2"), Cell::Text("3")];
    assert_eq!(
        header_error(
            &[&[Cell::Text("id"), Cell::Blank, Cell::Text("name")], data],
            1
        ),
        "line 1: header cell Sheet1!B1 is empty; name the column in the sheet, or list the \
         columns under [format] with `columns = [...]`"
    );
    assert_eq!(
        header_error(
            &[
                &[Cell::Text("id"), Cell::Text("name"), Cell::Text("id ")],
                data
            ],
            1
        ),
        "line 1: header cell Sheet1!C1 repeats the name \"id\" of A1; column names must be unique"
    );
    assert_eq!(
        header_error(&[&[Cell::Text("id"), Cell::Error("#REF!")], data], 1),
        "line 1: header cell Sheet1!B1 holds the error #REF!; give the column a name"
    );
    assert_eq!(
        header_error(&[&[Cell::Text("title")], &[], data], 2),
        "line 2: row 2 of sheet Sheet1, the header row, is empty; the first row with values is \
         3: set header_row to the row that holds the column names"
    );
    assert_eq!(
        header_error(&[&[Cell::Text("title")]], 3),
        "line 3: sheet Sheet1 ends before its header row 3 (header_row)"
    );
}

#[test]
fn empty_inputs_and_sheets_yield_nothing() {
    assert!(decode(&XlsxSpec::default(), b"").is_empty());
    assert!(decode(&XlsxSpec::default(), &first_sheet(&[])).is_empty());
    assert!(decode(&XlsxSpec::default(), &first_sheet(&[HEADER])).is_empty());
}

#[test]
fn what_is_not_an_xlsx_workbook_says_so() {
    let csv = fatal(&decode(&XlsxSpec::default(), b"id,name\n1,x\n"));
    assert!(
        csv.starts_with("line 0: this is not an XLSX workbook") && csv.contains(".xls is not"),
        "{csv}"
    );
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(4096, 0);
    let xls = fatal(&decode(&XlsxSpec::default(), &ole));
    assert!(
        xls.contains("legacy Excel 97-2003 workbook (.xls)") && xls.contains("save it as"),
        "{xls}"
    );
    let other_zip = fatal(&decode(&XlsxSpec::default(), &zip_of(&[("a.csv", b"1\n")])));
    assert!(
        other_zip.contains("this zip archive is not a readable XLSX workbook"),
        "{other_zip}"
    );
}

#[test]
fn more_records_than_the_queue_holds_stream_through_and_stopping_early_is_fine() {
    let numbers: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
    let data: Vec<[Cell<'_>; 1]> = numbers.iter().map(|n| [Cell::Number(n)]).collect();
    let mut rows: Vec<&[Cell<'_>]> = vec![&[Cell::Text("n")]];
    rows.extend(data.iter().map(|r| &r[..]));
    let bytes = first_sheet(&rows);
    let items = decode(&XlsxSpec::default(), &bytes);
    assert_eq!(items.len(), 1000);
    assert_eq!(fields(ok(&items[999])), ["999"]);
    assert_eq!(ok(&items[999]).origin.line, 1001);
    let mut some = decoder(&XlsxSpec::default(), &bytes[..], "c".into(), "f".into());
    assert_eq!(fields(ok(&some.next().unwrap())), ["0"]);
    drop(some);
}

/// A zip archive of `entries`.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `decode_file` on `bytes` written as `name`: each item's input name and first field or error.
fn decode_file(spec: &XlsxSpec, dir: &Path, name: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut out = Vec::new();
    crate::format::decode_file(
        &FormatSpec::Xlsx(spec.clone()),
        std::fs::File::open(&path).unwrap(),
        &Arc::from(name),
        &Arc::from("erp"),
        1 << 20,
        &mut |input, item| {
            let text = match &item {
                Ok(record) => fields(record).join("|"),
                Err(e) => e.to_string(),
            };
            out.push((input.to_string(), text));
            true
        },
    );
    out
}

#[test]
fn a_workbook_file_is_one_input_and_gzip_or_zip_around_it_is_read_through() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = |value| -> Vec<u8> { first_sheet(&[&[Cell::Text("k")], &[Cell::Text(value)]]) };
    let spec = XlsxSpec::default();
    assert_eq!(
        decode_file(&spec, dir.path(), "a.xlsx", &sheet("plain")),
        [("a.xlsx".to_string(), "plain".to_string())]
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&sheet("gzipped")).unwrap();
    assert_eq!(
        decode_file(&spec, dir.path(), "b.xlsx.gz", &gz.finish().unwrap()),
        [("b.xlsx.gz".to_string(), "gzipped".to_string())]
    );
    let ods = zip_of(&[(
        "mimetype",
        b"application/vnd.oasis.opendocument.spreadsheet",
    )]);
    let refused = decode_file(&spec, dir.path(), "d.ods", &ods);
    assert_eq!(
        refused.len(),
        1,
        "one input, not one per entry: {refused:?}"
    );
    assert!(
        refused[0].1.contains(".ods are not supported"),
        "{refused:?}"
    );
    let (one, two) = (sheet("one"), sheet("two"));
    let archive = zip_of(&[("x/1.xlsx", &one), ("2.xlsx", &two)]);
    assert_eq!(
        decode_file(&spec, dir.path(), "c.zip", &archive),
        [
            ("c.zip!x/1.xlsx".to_string(), "one".to_string()),
            ("c.zip!2.xlsx".to_string(), "two".to_string())
        ]
    );
}

/// Parses `text` as the keys of `[format]` after `type`.
fn parse(text: &str) -> Result<XlsxSpec, String> {
    let src = Source {
        path: Path::new("connectors/xl.toml"),
        text,
    };
    let table = src.parse().map_err(|d| d.to_string())?;
    let span = table.span();
    let rest = Spanned::new(span, DeValue::Table(table.into_inner()));
    parse_spec(&src, rest).map_err(|d| d.to_string())
}

#[test]
fn keys_are_read_with_their_defaults() {
    assert_eq!(parse("").unwrap(), XlsxSpec::default());
    let spec = parse("sheet = \"Q3 Orders\"\nheader_row = 4\n").unwrap();
    assert_eq!(spec.sheet, Sheet::Named("Q3 Orders".into()));
    assert_eq!(spec.header_row, 4);
    let spec = parse("sheet = 2\ncolumns = [\"a\", \" b \"]\n").unwrap();
    assert_eq!(spec.sheet, Sheet::Number(2));
    assert_eq!(spec.columns, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(
        spec.header_row, 0,
        "with columns, no row is a header unless named"
    );
    let spec = parse("columns = [\"a\"]\nheader_row = 2\n").unwrap();
    assert_eq!(spec.header_row, 2);
}

#[test]
fn bad_keys_are_reported_at_their_line() {
    let err = parse("sheet = 0\nheader_row = 0\ncolumns = [\"a\", \"a\", \"\"]\n").unwrap_err();
    assert!(
        err.contains("xl.toml:1:") && err.contains("sheet must be"),
        "{err}"
    );
    assert!(
        err.contains("xl.toml:3:") && err.contains("repeats the name \"a\" of column 1"),
        "{err}"
    );
    assert!(err.contains("column 3 has no name"), "{err}");
    let err = parse("header_row = 0\n").unwrap_err();
    assert!(
        err.contains("xl.toml:1:") && err.contains("name the columns with `columns"),
        "{err}"
    );
    let err = parse("sheet = true\nheader_row = 2000000\n").unwrap_err();
    assert!(err.contains("sheet must be"), "{err}");
    assert!(
        err.contains("xl.toml:2:") && err.contains("between 1 and"),
        "{err}"
    );
    let err = parse("sheets = 1\n").unwrap_err();
    assert!(err.contains("unknown key \"sheets\""), "{err}");
    let err = parse("columns = []\n").unwrap_err();
    assert!(err.contains("columns is empty"), "{err}");
}

#[test]
fn a_dead_row_reads_back_as_csv_with_its_columns() {
    let bytes = first_sheet(&[
        &[Cell::Text("id"), Cell::Text("v")],
        &[Cell::Text("a,1"), Cell::Error("#VALUE!")],
    ]);
    let items = decode(&XlsxSpec::default(), &bytes);
    let error = record_error(&items[0]);
    let mut csv = XlsxSpec::default().raw_csv();
    csv.columns = crate::config::connector::CsvColumns::Named(
        error.columns.as_deref().unwrap().names().to_vec(),
    );
    let again: Vec<Item> = crate::format::decode(
        &FormatSpec::Csv(csv),
        &error.raw[..],
        "erp".into(),
        "in.xlsx".into(),
    )
    .collect();
    assert_eq!(fields(ok(&again[0])), ["a,1", "#VALUE!"]);
}
