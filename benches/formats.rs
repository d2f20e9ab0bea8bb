//! Throughput and memory of the XML and fixed-width decoders on ~1 GB inputs, through the public
//! API (`omnibus::format::decode` with a `[format]` table parsed by `parse_format`), records
//! discarded:
//!
//! - `xml`: a file of about 5 million compact IDocs per GB (control record and one item each,
//!   ~190 bytes), decoded with `record = "/ORDERS05/IDOC"`; then an ORDERS05-like IDoc file (UTF-8,
//!   Chinese text, 1 to 9 `E1EDP01` lines per IDoc), decoded with `record = "/ORDERS05/IDOC"`,
//!   then with `record = "/ORDERS05/IDOC/E1EDP01"` and the `EDI_DC40` control record as context;
//! - `fixed_width`: a GBK receipt file (header `H`, lines `L`, trailer `T`, discriminator at byte 1,
//!   CRLF), decoded flat (one row per line) and grouped (`[format.group]`, one document per
//!   receipt).
//!
//! Each pass prints input MB, records, seconds, records/s, MB/s and the peak RSS of the decode
//! alone: the pass runs in a child process (this binary again, with `OMNIBUS_BENCH_CHILD` naming
//! the pass), which reports its own `VmHWM`. Every pass must yield exactly the records generated.
//! Inputs are generated on disk in a temporary directory (not timed) and deleted afterwards.
//!
//! `cargo bench --bench formats` runs both parts; name them to run one: `cargo bench --bench
//! formats -- xml`. Size: `BENCH_FORMAT_MB` (each input, default 1024).

mod common;

use common::{env_usize, vm_hwm_kb};
use omnibus::config::connector::FormatSpec;
use omnibus::config::connector_file::parse_format;
use omnibus::config::toml_de::Source;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Names the pass a child process runs; its input file is in `INPUT_VAR`.
const CHILD_VAR: &str = "OMNIBUS_BENCH_CHILD";
const INPUT_VAR: &str = "OMNIBUS_BENCH_INPUT";

const XML_IDOC: &str = r#"type = "xml"
record = "/ORDERS05/IDOC"
"#;

const XML_LINE: &str = r#"type = "xml"
record = "/ORDERS05/IDOC/E1EDP01"
context = ["/ORDERS05/IDOC/EDI_DC40"]
"#;

const FIXED_FLAT: &str = r#"type = "fixed_width"
encoding = "gbk"
discriminator = { start = 1, length = 1 }
[[records]]
type = "H"
widths = [["", 1], ["store", 6], ["receipt", 10], ["sold_at", 14], ["payment", 6]]
[[records]]
type = "L"
widths = [["", 1], ["sku", 8], ["name", 12],
          ["qty", 7, { decimals = 3, sign = "trailing" }],
          ["amount", 9, { decimals = 2, sign = "trailing" }]]
[[records]]
type = "T"
widths = [["", 1], ["count", 3], ["total", 10, { decimals = 2, sign = "overpunch" }]]
"#;

const FIXED_GROUP: &str = r#"[group]
header = "H"
lines = ["L"]
trailer = "T"
trailer_count = "count"
"#;

/// One decode pass: its name (also the child's `OMNIBUS_BENCH_CHILD`), what it decodes and the
/// `[format]` table it decodes with.
struct Pass {
    name: &'static str,
    label: &'static str,
    format: fn() -> String,
}

const PASSES: [Pass; 5] = [
    Pass {
        name: "xml-compact",
        label: "XML, compact IDocs, record = /ORDERS05/IDOC",
        format: || XML_IDOC.into(),
    },
    Pass {
        name: "xml-idoc",
        label: "XML, record = /ORDERS05/IDOC",
        format: || XML_IDOC.into(),
    },
    Pass {
        name: "xml-line",
        label: "XML, record = /ORDERS05/IDOC/E1EDP01 + EDI_DC40 context",
        format: || XML_LINE.into(),
    },
    Pass {
        name: "fixed-flat",
        label: "fixed-width GBK, flat H/L/T rows",
        format: || FIXED_FLAT.into(),
    },
    Pass {
        name: "fixed-grouped",
        label: "fixed-width GBK, grouped H/L/T documents",
        format: || format!("{FIXED_FLAT}{FIXED_GROUP}"),
    },
];

fn main() {
    if let Ok(name) = std::env::var(CHILD_VAR) {
        child(&name);
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let parts: Vec<&str> = if args.is_empty() {
        vec!["xml", "fixed_width"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mb = env_usize("BENCH_FORMAT_MB", 1024);
    let dir = tempfile::tempdir().expect("tempdir");
    for part in parts {
        match part {
            "xml" => bench_xml(dir.path(), mb),
            "fixed_width" => bench_fixed_width(dir.path(), mb),
            other => eprintln!("unknown part {other}; use xml or fixed_width"),
        }
    }
}

fn pass(name: &str) -> &'static Pass {
    PASSES
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no bench pass named {name}"))
}

fn bench_xml(dir: &Path, mb: usize) {
    let path = dir.join("compact.xml");
    let made = generate_xml(&path, mb as u64 * 1_000_000, xml_compact_idoc);
    run_pass(pass("xml-compact"), &path, made.bytes, made.idocs, "IDocs");
    std::fs::remove_file(&path).expect("remove the generated XML");
    let path = dir.join("orders05.xml");
    let made = generate_xml(&path, mb as u64 * 1_000_000, xml_idoc);
    run_pass(pass("xml-idoc"), &path, made.bytes, made.idocs, "IDocs");
    run_pass(
        pass("xml-line"),
        &path,
        made.bytes,
        made.lines,
        "E1EDP01 lines",
    );
    std::fs::remove_file(&path).expect("remove the generated XML");
}

fn bench_fixed_width(dir: &Path, mb: usize) {
    let path = dir.join("receipts.txt");
    let made = generate_fixed(&path, mb as u64 * 1_000_000);
    let rows = made.documents * 2 + made.lines;
    run_pass(pass("fixed-flat"), &path, made.bytes, rows, "rows");
    let unit = format!("documents of {} lines", made.lines);
    run_pass(
        pass("fixed-grouped"),
        &path,
        made.bytes,
        made.documents,
        &unit,
    );
    std::fs::remove_file(&path).expect("remove the generated fixed-width file");
}

/// Runs `pass` over `path` in a child process, checks it yielded `expected` records and prints
/// its figures.
fn run_pass(pass: &Pass, path: &Path, bytes: u64, expected: u64, unit: &str) {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let out = Command::new(exe)
        .env(CHILD_VAR, pass.name)
        .env(INPUT_VAR, path)
        .output()
        .expect("start the child pass");
    assert!(
        out.status.success(),
        "pass {} failed ({}):\n{}",
        pass.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<f64> = report
        .split_whitespace()
        .map(|v| v.parse().expect("the child prints numbers"))
        .collect();
    let [records, secs, hwm_kb] = figures[..] else {
        panic!("pass {}: unexpected child report {report:?}", pass.name);
    };
    assert_eq!(
        records as u64, expected,
        "pass {}: the decoder yielded {records} records, {expected} were generated",
        pass.name
    );
    let mb = bytes as f64 / 1e6;
    println!(
        "{}: {mb:.1} MB, {expected} records ({unit}) in {secs:.2} s = {:.0} records/s, {:.1} MB/s; peak RSS {:.1} MB (target < 100 MB)",
        pass.label,
        records / secs,
        mb / secs,
        hwm_kb / 1024.0
    );
}

/// The child side: decodes the input with the pass's format, counting records (any error ends
/// the bench), and prints `records seconds VmHWM-in-kB`.
fn child(name: &str) {
    let pass = pass(name);
    let text = (pass.format)();
    let spec: FormatSpec = parse_format(&Source {
        path: Path::new("benches/formats.rs"),
        text: &text,
    })
    .unwrap_or_else(|d| panic!("pass {name}: the bench's [format] is refused:\n{d}"));
    let input = std::env::var(INPUT_VAR).expect("the input path in OMNIBUS_BENCH_INPUT");
    let file = std::fs::File::open(&input).expect("open the generated input");
    let start = Instant::now();
    let mut records = 0u64;
    for item in omnibus::format::decode(&spec, file, "bench".into(), input.as_str().into()) {
        match item {
            Ok(record) => {
                std::hint::black_box(record);
                records += 1;
            }
            Err(e) => panic!("pass {name}: generated input refused after {records} records: {e}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let hwm = vm_hwm_kb(Path::new("/proc/self/status"));
    println!("{records} {secs} {hwm}");
}

/// What `generate_xml` wrote.
struct XmlMade {
    bytes: u64,
    idocs: u64,
    lines: u64,
}

const STORES: [&str; 4] = [
    "上海南京东路店",
    "北京王府井店",
    "Lotus &amp; Co. 广州天河",
    "深圳福田店",
];
const ITEMS: [&str; 5] = [
    "农夫山泉 饮用天然水 550ml",
    "康师傅 红烧牛肉面",
    "维达 抽纸 3层 100抽",
    "Coca-Cola 330ml &lt;罐装&gt;",
    "蒙牛 纯牛奶 250ml×12",
];

/// Writes an ORDERS05 file of at least `target` bytes, one IDoc (written by `idoc`) at a time.
fn generate_xml(path: &Path, target: u64, idoc_of: fn(&mut String, u64) -> u64) -> XmlMade {
    let file = std::fs::File::create(path).expect("create the XML input");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ORDERS05>\n";
    w.write_all(head.as_bytes()).expect("write");
    let mut made = XmlMade {
        bytes: head.len() as u64,
        idocs: 0,
        lines: 0,
    };
    let mut idoc = String::with_capacity(8 << 10);
    while made.bytes < target {
        idoc.clear();
        let lines = idoc_of(&mut idoc, made.idocs);
        w.write_all(idoc.as_bytes()).expect("write");
        made.bytes += idoc.len() as u64;
        made.idocs += 1;
        made.lines += lines;
    }
    let tail = "</ORDERS05>\n";
    w.write_all(tail.as_bytes()).expect("write");
    w.flush().expect("flush");
    made.bytes += tail.len() as u64;
    made
}

/// Appends compact IDoc number `i` to `out` (a control record and one item, no indentation);
/// returns its number of `E1EDP01` lines: 1.
fn xml_compact_idoc(out: &mut String, i: u64) -> u64 {
    use std::fmt::Write as _;
    let price = (i * 7) % 900 + 100;
    writeln!(
        out,
        "<IDOC BEGIN=\"1\"><EDI_DC40><DOCNUM>{:016}</DOCNUM><MESTYP>ORDERS</MESTYP></EDI_DC40>\
         <E1EDP01><MATNR>{:08}</MATNR><MENGE>{}</MENGE><VPREI>{}.{:02}</VPREI></E1EDP01></IDOC>",
        235_556_469 + i,
        i % 100_000_000,
        i % 48 + 1,
        price / 100,
        price % 100,
    )
    .expect("format an IDoc");
    1
}

/// Appends IDoc number `i` to `out`; returns its number of `E1EDP01` lines.
fn xml_idoc(out: &mut String, i: u64) -> u64 {
    use std::fmt::Write as _;
    let lines = 1 + i % 9;
    let store = STORES[(i % 4) as usize];
    write!(
        out,
        "  <IDOC BEGIN=\"1\">\n    <EDI_DC40 SEGMENT=\"1\">\n      <TABNAM>EDI_DC40</TABNAM>\n      \
         <MANDT>800</MANDT>\n      <DOCNUM>{:016}</DOCNUM>\n      <DOCREL>740</DOCREL>\n      \
         <STATUS>30</STATUS>\n      <DIRECT>1</DIRECT>\n      <OUTMOD>2</OUTMOD>\n      \
         <IDOCTYP>ORDERS05</IDOCTYP>\n      <MESTYP>ORDERS</MESTYP>\n      <SNDPOR>SAPECC</SNDPOR>\n      \
         <SNDPRT>LS</SNDPRT>\n      <SNDPRN>ECCCLNT800</SNDPRN>\n      <RCVPOR>OMNIBUS</RCVPOR>\n      \
         <RCVPRT>LS</RCVPRT>\n      <RCVPRN>OMNIBUS</RCVPRN>\n      <CREDAT>202403{:02}</CREDAT>\n      \
         <CRETIM>{:02}{:02}00</CRETIM>\n    </EDI_DC40>\n    <E1EDK01 SEGMENT=\"1\">\n      \
         <CURCY>CNY</CURCY>\n      <BSART>NB</BSART>\n      <BELNR>45{:08}</BELNR>\n      \
         <RECIPNT_NO>{:04}</RECIPNT_NO>\n    </E1EDK01>\n    <E1EDKA1 SEGMENT=\"1\">\n      \
         <PARVW>AG</PARVW>\n      <PARTN>{:010}</PARTN>\n      <NAME1>{store}</NAME1>\n    </E1EDKA1>\n",
        235_556_469 + i,
        i % 28 + 1,
        i % 24,
        i % 60,
        i % 100_000_000,
        1001 + i % 4,
        1001 + i % 4,
    )
    .expect("format an IDoc");
    for n in 1..=lines {
        let item = ITEMS[((i + n) % 5) as usize];
        let qty = (i + n) % 48 + 1;
        let price = (i * 7 + n) % 900 + 100;
        write!(
            out,
            "    <E1EDP01 SEGMENT=\"1\">\n      <POSEX>{:06}</POSEX>\n      <MENGE>{qty}.000</MENGE>\n      \
             <MENEE>EA</MENEE>\n      <VPREI>{}.{:02}</VPREI>\n      <NETWR>{}.{:02}</NETWR>\n      \
             <MATNR>{:018}</MATNR>\n      <E1EDP19 SEGMENT=\"1\">\n        <QUALF>002</QUALF>\n        \
             <IDTNR>MAT-{}</IDTNR>\n        <KTEXT>{item}</KTEXT>\n      </E1EDP19>\n    </E1EDP01>\n",
            n * 10,
            price / 100,
            price % 100,
            price * qty / 100,
            price * qty % 100,
            (i + n) % 1_000_000,
            (i + n) % 1_000_000,
        )
        .expect("format a line");
    }
    out.push_str("  </IDOC>\n");
    lines
}

/// What `generate_fixed` wrote.
struct FixedMade {
    bytes: u64,
    documents: u64,
    lines: u64,
}

/// Line item names, GBK, each padded with blanks to the 12 bytes of the `name` field.
fn gbk_names() -> Vec<Vec<u8>> {
    [
        "康师傅面",
        "维达纸巾",
        "农夫山泉",
        "Cola 330ml",
        "蒙牛牛奶12",
        "乐事薯片",
    ]
    .iter()
    .map(|name| {
        let (bytes, _, bad) = encoding_rs::GBK.encode(name);
        assert!(!bad, "{name} is GBK");
        let mut field = bytes.into_owned();
        assert!(field.len() <= 12, "{name} fits 12 bytes");
        field.resize(12, b' ');
        field
    })
    .collect()
}

/// Writes a GBK receipt file of at least `target` bytes: per receipt an `H` header, 1 to 8 `L`
/// lines (some returns, with negative quantities) and a `T` trailer with the count and total,
/// CRLF.
fn generate_fixed(path: &Path, target: u64) -> FixedMade {
    let file = std::fs::File::create(path).expect("create the fixed-width input");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let names = gbk_names();
    let mut made = FixedMade {
        bytes: 0,
        documents: 0,
        lines: 0,
    };
    let mut doc = Vec::with_capacity(1 << 10);
    while made.bytes < target {
        doc.clear();
        let lines = receipt(&mut doc, made.documents, &names);
        w.write_all(&doc).expect("write");
        made.bytes += doc.len() as u64;
        made.documents += 1;
        made.lines += lines;
    }
    w.flush().expect("flush");
    made
}

/// Appends receipt number `i` (header, lines, trailer) to `out`; returns its number of lines.
fn receipt(out: &mut Vec<u8>, i: u64, names: &[Vec<u8>]) -> u64 {
    let lines = 1 + i % 8;
    let payment = ["CASH", "CARD", "WECHAT", "ALIPAY"][(i % 4) as usize];
    write!(
        out,
        "HSH-{:03}R{:09}202403{:02}{:02}{:02}{:02}{payment:<6}\r\n",
        i % 1000,
        i % 1_000_000_000,
        i % 28 + 1,
        i % 24,
        i % 60,
        (i / 60) % 60
    )
    .expect("format a header");
    let mut total: i64 = 0;
    for n in 0..lines {
        let k = i + n;
        let sign = if k.is_multiple_of(13) { -1 } else { 1 };
        let qty_milli = sign * (((k % 20) as i64 + 1) * 500);
        let amount_cents = qty_milli * ((k % 900) as i64 + 100) / 1000;
        total += amount_cents;
        write!(out, "L{:08}", 10_000_000 + k % 90_000_000).expect("format a line");
        out.extend_from_slice(&names[(k % names.len() as u64) as usize]);
        write!(
            out,
            "{}{}\r\n",
            trailing_sign(qty_milli, 7),
            trailing_sign(amount_cents, 9)
        )
        .expect("format a line");
    }
    write!(out, "T{lines:03}{}\r\n", overpunch(total, 10)).expect("format a trailer");
    lines
}

/// `value` as `width - 1` digits and a trailing sign (`-`, or a blank when positive).
fn trailing_sign(value: i64, width: usize) -> String {
    let sign = if value < 0 { '-' } else { ' ' };
    format!("{:0digits$}{sign}", value.abs(), digits = width - 1)
}

/// `value` as `width` digits whose last one carries the sign (`{`, `A`-`I` positive; `}`,
/// `J`-`R` negative).
fn overpunch(value: i64, width: usize) -> String {
    let digits = format!("{:0width$}", value.abs());
    let (head, last) = digits.split_at(width - 1);
    let d = last.as_bytes()[0] - b'0';
    let punch = match (value < 0, d) {
        (false, 0) => '{',
        (true, 0) => '}',
        (false, d) => char::from(b'A' + d - 1),
        (true, d) => char::from(b'J' + d - 1),
    };
    format!("{head}{punch}")
}
