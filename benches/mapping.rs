//! Mapping speed on one core, without I/O: a 12-field mapping with two lookups, one datetime
//! conversion and one decimal field (the declarative part), then the same with one expression
//! added, and each event checked against a schema. Records are decoded once up front, so only
//! evaluation is timed. Run with `cargo bench --bench mapping`; `BENCH_RECORDS` sets the count.

use omnibus::canonical::schema::Schemas;
use omnibus::format::record::{Columns, Origin, Record};
use omnibus::mapping::{Mapper, Mapping, Outcome};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const DECLARATIVE: &str = r#"type = "bench.sale.v1"
key = ["store", "receipt", "line"]
[fields]
store      = { from = "PLANT", lookup = "stores", required = true }
receipt    = { from = "RECEIPT", required = true }
line       = { from = "LINE", type = "integer" }
sold_at    = { from = "SOLD_AT", type = "datetime", format = "%Y-%m-%d %H:%M:%S", tz = "Asia/Shanghai" }
sku        = { from = "SKU", trim = true }
ean        = { from = "EAN" }
name       = { from = "NAME", trim = true }
unit       = { from = "UNIT", lookup = "units", default = "EA" }
quantity   = { from = "QTY", type = "decimal" }
unit_price = { from = "PRICE", type = "decimal" }
member     = { from = "MEMBER" }
channel    = { value = "pos" }
[lookups.stores]
"1001" = "SH-001"
"1002" = "SH-002"
[lookups.units]
"ST" = "EA"
"KAR" = "CS"
"#;

const COLUMNS: [&str; 11] = [
    "PLANT", "RECEIPT", "LINE", "SOLD_AT", "SKU", "EAN", "NAME", "UNIT", "QTY", "PRICE", "MEMBER",
];

/// The expressions whose cost is measured, one at a time, as a 13th field.
const EXPRESSIONS: [(&str, &str); 4] = [
    (
        "concatenation",
        "amount_text = { expr = \"RECEIPT ~ '-' ~ LINE\" }",
    ),
    (
        "decimal product",
        "amount = { expr = \"PRICE | dec_mul(QTY) | dec_round(2)\", type = \"decimal\" }",
    ),
    (
        "business day",
        "business_day = { expr = \"SOLD_AT | parse_datetime('%Y-%m-%d %H:%M:%S', 'Asia/Shanghai') | business_day('04:00')\" }",
    ),
    (
        "lookup()",
        "region = { expr = \"lookup('stores', PLANT, 'none')\" }",
    ),
];

fn main() {
    let count: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let records = records(count);
    let base = rate(&load(DECLARATIVE), &records, false);
    println!(
        "declarative, 12 fields (2 lookups, 1 datetime, 2 decimals): {base:.0} records/s (target >= 1000000)"
    );
    for (name, field) in EXPRESSIONS {
        let text = DECLARATIVE.replace("[lookups.stores]", &format!("{field}\n[lookups.stores]"));
        let with = rate(&load(&text), &records, false);
        let cost = 1e6 / with - 1e6 / base;
        println!(
            "+ expression ({name}): {with:.0} records/s, {cost:.2} µs per record more ({:.2}x the declarative time)",
            base / with
        );
    }
    let validated = rate(&load(DECLARATIVE), &records, true);
    let cost = 1e6 / validated - 1e6 / base;
    println!(
        "declarative + schema validation: {validated:.0} records/s, {cost:.2} µs per event for validation ({:.2}x)",
        base / validated
    );
}

fn load(text: &str) -> Mapping {
    Mapping::from_text(Path::new("bench.toml"), text).unwrap_or_else(|d| panic!("{d}"))
}

fn records(count: usize) -> Vec<Record> {
    let columns = Arc::new(Columns::new(COLUMNS.map(String::from).to_vec(), b','));
    (0..count)
        .map(|n| {
            let line = (n % 20 + 1).to_string();
            let receipt = format!("R{:08}", n / 20);
            let plant = if n % 2 == 0 { "1001" } else { "1002" };
            let values = vec![
                plant.to_string(),
                receipt,
                line,
                format!("2024-03-01 {:02}:15:00", n % 24),
                format!(" {:08} ", 10_000_000 + n % 5000),
                "6901234567892".to_string(),
                "农夫山泉 550ml".to_string(),
                if n % 3 == 0 { "KAR" } else { "ST" }.to_string(),
                format!("{}", n % 7 + 1),
                "2.50".to_string(),
                String::new(),
            ];
            let origin = Origin {
                connector: "bench".into(),
                file: "bench.csv".into(),
                line: n as u64 + 2,
                offset: 0,
                locator: None,
            };
            Record::row(
                origin,
                Arc::clone(&columns),
                csv::StringRecord::from(values),
            )
        })
        .collect()
}

/// Records per second of mapping `records` (cloned in, as a decoder hands them over).
fn rate(mapping: &Mapping, records: &[Record], validate: bool) -> f64 {
    let schema = validate.then(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bench.sale.v1.json"), SCHEMA).expect("schema");
        let schemas = Schemas::load(dir.path()).expect("schema loads");
        Arc::clone(schemas.get("bench.sale.v1").expect("bench schema"))
    });
    let mut mapper = Mapper::new(mapping, schema);
    let mut units = Vec::with_capacity(1);
    let start = Instant::now();
    for record in records {
        mapper.push(Ok(record.clone()), &mut units).expect("binds");
        for unit in units.drain(..) {
            match unit.outcome {
                Outcome::Events(events) => {
                    std::hint::black_box(events);
                }
                Outcome::Failed(f) => panic!("{}", f.reason),
            }
        }
    }
    records.len() as f64 / start.elapsed().as_secs_f64()
}

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:omnibus:schema:bench.sale.v1",
  "type": "object",
  "additionalProperties": false,
  "required": ["store", "receipt", "line", "sold_at", "sku", "quantity", "unit_price"],
  "properties": {
    "store": { "type": "string" },
    "receipt": { "type": "string" },
    "line": { "type": "integer", "minimum": 1 },
    "sold_at": { "type": "string", "format": "date-time" },
    "sku": { "type": "string", "minLength": 1 },
    "ean": { "type": "string", "pattern": "^[0-9]{8,14}$" },
    "name": { "type": "string" },
    "unit": { "type": "string" },
    "quantity": { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$" },
    "unit_price": { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$" },
    "member": { "type": "string" },
    "channel": { "type": "string" }
  }
}"#;
