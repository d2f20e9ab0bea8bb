//! `omnibus inspect`: the records a file decodes into, as JSON lines with their origins — what a
//! mapping will receive — without a mapping or a broker.

use crate::config::connector::FormatSpec;
use crate::format::{self, DecodeError};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// What an inspection found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub records: usize,
    pub errors: usize,
}

/// Writes one JSON line per decoded record (`{"origin": …, "record": …}`) or bad record
/// (`{"origin": …, "error": …}`) of `path` to `out`, at most `limit` lines. A file-level problem
/// ends the listing with a line `{"error": …}` and counts as an error.
pub fn inspect(
    format: &FormatSpec,
    path: &Path,
    max_inflated: u64,
    limit: usize,
    out: &mut dyn Write,
) -> std::io::Result<Counts> {
    let name: Arc<str> = path.display().to_string().into();
    let file = std::fs::File::open(path)?;
    let mut counts = Counts::default();
    let mut written = 0usize;
    let mut failed = None;
    let connector: Arc<str> = "inspect".into();
    format::decode_file(
        format,
        file,
        &name,
        &connector,
        max_inflated,
        &mut |_, item| {
            let text = match item {
                Ok(record) => {
                    counts.records += 1;
                    let origin = record.origin.to_json();
                    format!("{{\"origin\":{origin},\"record\":{}}}", record.to_json())
                }
                Err(DecodeError::Record(e)) => {
                    counts.errors += 1;
                    json!({"origin": e.origin.to_json(), "error": e.reason}).to_string()
                }
                Err(e) => {
                    counts.errors += 1;
                    let _ = line(
                        out,
                        &json!({"error": e.to_string()}).to_string(),
                        &mut written,
                        limit,
                        &mut failed,
                    );
                    return false;
                }
            };
            line(out, &text, &mut written, limit, &mut failed)
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(counts)
}

/// Writes one line (JSON text); `false` once `limit` lines are written or writing failed.
fn line(
    out: &mut dyn Write,
    text: &str,
    written: &mut usize,
    limit: usize,
    failed: &mut Option<std::io::Error>,
) -> bool {
    if let Err(e) = writeln!(out, "{text}") {
        *failed = Some(e);
        return false;
    }
    *written += 1;
    *written < limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::connector::{CsvColumns, CsvSpec};

    fn csv() -> FormatSpec {
        FormatSpec::Csv(CsvSpec {
            encoding: encoding_rs::UTF_8,
            charset: crate::format::charset::Charset::default(),
            delimiter: b',',
            quote: b'"',
            columns: CsvColumns::Header,
            skip_lines: 0,
        })
    }

    #[test]
    fn records_and_bad_records_are_listed_with_their_origins_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "sku,qty\nA,1\nB\nC,3\n").unwrap();
        let mut out = Vec::new();
        let counts = inspect(&csv(), &path, 1 << 20, 10, &mut out).unwrap();
        assert_eq!(
            counts,
            Counts {
                records: 2,
                errors: 1
            }
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["record"], json!({"sku": "A", "qty": "1"}));
        assert_eq!(lines[0]["origin"]["line"], 2);
        assert_eq!(lines[1]["origin"]["line"], 3);
        assert!(
            lines[1]["error"]
                .as_str()
                .unwrap()
                .contains("expected 2 fields")
        );
        let mut out = Vec::new();
        inspect(&csv(), &path, 1 << 20, 1, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    }
}
