//! Tiny XLSX workbooks for tests, written with the `zip` crate: the parts Excel writes
//! (`[Content_Types].xml`, relationships, workbook, shared strings, styles, one XML file per
//! sheet), nothing else. Also compiled into the library's unit tests (`format::xlsx`).

use std::io::Write;

/// One cell of a fixture row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// A string, kept in the shared strings table.
    Text(&'a str),
    /// A number as Excel writes it in `<v>` (`12.5`, `3`, `1E-3`).
    Number(&'a str),
    Bool(bool),
    /// A serial number shown with the date format 14 (`m/d/yyyy`).
    Date(&'a str),
    /// A serial number shown with the date-time format 22 (`m/d/yy h:mm`).
    DateTime(&'a str),
    /// A serial number shown with the duration format 46 (`[h]:mm:ss`).
    Duration(&'a str),
    /// An error value such as `#DIV/0!`.
    Error(&'a str),
    /// A formatted cell without a value (Excel writes these for styled, empty cells).
    Blank,
    /// No cell element at all.
    Missing,
}

/// One worksheet: its name and its rows from row 1 (an empty row has no `<row>` element).
pub type Sheet<'a> = (&'a str, &'a [&'a [Cell<'a>]]);

/// An XLSX workbook holding `sheets`, in tab order.
pub fn workbook(sheets: &[Sheet<'_>]) -> Vec<u8> {
    let mut strings = Vec::new();
    let worksheets: Vec<String> = sheets
        .iter()
        .map(|(_, rows)| worksheet(rows, &mut strings))
        .collect();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut part = |name: &str, body: &str| {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    };
    part("[Content_Types].xml", &content_types(sheets.len()));
    part("_rels/.rels", ROOT_RELS);
    part("xl/workbook.xml", &workbook_xml(sheets));
    part("xl/_rels/workbook.xml.rels", &workbook_rels(sheets.len()));
    part("xl/styles.xml", STYLES);
    part("xl/sharedStrings.xml", &shared_strings(&strings));
    for (n, sheet) in worksheets.iter().enumerate() {
        part(&format!("xl/worksheets/sheet{}.xml", n + 1), sheet);
    }
    zip.finish().expect("zip finish").into_inner()
}

const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PACKAGE_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

/// Cell formats: 0 general, 1 date (14), 2 date-time (22), 3 duration (46).
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="46" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#;

fn content_types(sheets: usize) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>"#,
    );
    for n in 1..=sheets {
        out.push_str(&format!(
            r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
        ));
    }
    out.push_str("</Types>");
    out
}

fn workbook_xml(sheets: &[Sheet<'_>]) -> String {
    let mut out = format!(r#"<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>"#);
    for (n, (name, _)) in sheets.iter().enumerate() {
        let n = n + 1;
        let name = escape(name);
        out.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
        ));
    }
    out.push_str("</sheets></workbook>");
    out
}

fn workbook_rels(sheets: usize) -> String {
    let mut out = format!(r#"<Relationships xmlns="{PACKAGE_REL_NS}">"#);
    for n in 1..=sheets {
        out.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
    }
    let (styles, strings) = (sheets + 1, sheets + 2);
    out.push_str(&format!(
        r#"<Relationship Id="rId{styles}" Type="{REL_NS}/styles" Target="styles.xml"/><Relationship Id="rId{strings}" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
    ));
    out
}

fn shared_strings(strings: &[String]) -> String {
    let count = strings.len();
    let mut out = format!(r#"<sst xmlns="{MAIN_NS}" count="{count}" uniqueCount="{count}">"#);
    for s in strings {
        out.push_str(&format!(
            "<si><t xml:space=\"preserve\">{}</t></si>",
            escape(s)
        ));
    }
    out.push_str("</sst>");
    out
}

fn worksheet(rows: &[&[Cell<'_>]], strings: &mut Vec<String>) -> String {
    let mut out = format!(r#"<worksheet xmlns="{MAIN_NS}"><sheetData>"#);
    for (r, cells) in rows.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
        let r = r + 1;
        out.push_str(&format!(r#"<row r="{r}">"#));
        for (c, cell) in cells.iter().enumerate() {
            out.push_str(&cell_xml(*cell, &format!("{}{r}", column(c)), strings));
        }
        out.push_str("</row>");
    }
    out.push_str("</sheetData></worksheet>");
    out
}

fn cell_xml(cell: Cell<'_>, at: &str, strings: &mut Vec<String>) -> String {
    let value = |attrs: &str, v: &str| format!(r#"<c r="{at}"{attrs}><v>{}</v></c>"#, escape(v));
    match cell {
        Cell::Text(s) => {
            strings.push(s.to_string());
            value(r#" t="s""#, &(strings.len() - 1).to_string())
        }
        Cell::Number(v) => value("", v),
        Cell::Bool(b) => value(r#" t="b""#, if b { "1" } else { "0" }),
        Cell::Date(v) => value(r#" s="1""#, v),
        Cell::DateTime(v) => value(r#" s="2""#, v),
        Cell::Duration(v) => value(r#" s="3""#, v),
        Cell::Error(e) => value(r#" t="e""#, e),
        Cell::Blank => format!(r#"<c r="{at}" s="1"/>"#),
        Cell::Missing => String::new(),
    }
}

/// `A`, `B`, … `Z`, `AA`… for a 0-based column.
fn column(index: usize) -> String {
    let mut n = index + 1;
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII letters")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
