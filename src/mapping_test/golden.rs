//! Golden sample files: `<mappings>/tests/<mapping>/<sample>` is decoded with the format of a
//! connector that uses the mapping and mapped exactly as the hub would ([`preview_file`]); each
//! outcome becomes one JSON line, compared with `<sample>.expected.jsonl` beside it:
//!
//! - `{"line":2,"id":"…","subject":"…","data":{…}}` for an event (several with `split`),
//! - `{"line":3,"error":"…"}` for a record that would be dead-lettered,
//! - `{"line":N,"filtered":true}` for a record `when` filters out,
//! - `{"error":"…"}` for a file refused as a whole.
//!
//! Volatile envelope fields (`time`, the origin path) are left out, and paths in error texts are cut
//! to file names, so the expected files do not depend on when or where the test runs. Lines compare
//! as JSON values (key order and spacing do not matter); `--bless` writes the actual lines.

use super::diff::{self, Op};
use crate::canonical::schema::Schema;
use crate::config::connector::ConnectorSpec;
use crate::mapping::{Mapping, Unlisted, differences};
use crate::preview::{Previewed, preview_file};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Ending of an expected file: `sales.csv` → `sales.csv.expected.jsonl`.
pub const EXPECTED_SUFFIX: &str = ".expected.jsonl";

/// Unchanged lines shown around each difference.
const CONTEXT: usize = 2;

/// Lines of diff and notes shown per sample; the rest are counted.
const MAX_SHOWN: usize = 200;

/// One golden sample and how it fared.
#[derive(Debug)]
pub struct Golden {
    /// The sample file (for a problem with the folder, the folder).
    pub sample: PathBuf,
    pub status: GoldenStatus,
}

#[derive(Debug, PartialEq, Eq)]
pub enum GoldenStatus {
    /// The outcomes are as expected.
    Passed,
    /// `--bless` wrote the expected file with this many lines.
    Blessed { lines: usize },
    /// The outcomes differ: a unified diff (expected `-`, actual `+`), then the values that
    /// differ, by sample line.
    Differs(String),
    /// The sample has no expected file yet.
    Missing,
    /// The sample could not be tested.
    Failed(String),
}

impl GoldenStatus {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed | Self::Blessed { .. })
    }
}

/// The files of one mapping's golden folder.
#[derive(Debug, Default)]
pub struct Folder {
    /// Sample files, by name.
    pub samples: Vec<PathBuf>,
    /// Golden entries for expected files whose sample is gone.
    pub orphans: Vec<Golden>,
}

/// What a mapping's samples are run with.
pub struct Run<'a> {
    pub mapping: &'a Mapping,
    pub schema: &'a Arc<Schema>,
    /// The connector whose format decodes the samples.
    pub connector: Option<&'a ConnectorSpec>,
    /// Write the expected files instead of comparing with them.
    pub bless: bool,
}

/// The expected file of `sample`.
pub fn expected_path(sample: &Path) -> PathBuf {
    let mut name = sample.file_name().unwrap_or_default().to_os_string();
    name.push(EXPECTED_SUFFIX);
    sample.with_file_name(name)
}

/// Lists `dir` (a missing folder has no samples): every file but dot files and expected files is
/// a sample.
pub fn folder(dir: &Path) -> io::Result<Folder> {
    let mut found = Folder::default();
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        entries => entries?,
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_file() && !name.starts_with('.') {
            files.push(path);
        }
    }
    files.sort();
    for file in files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        match name.strip_suffix(EXPECTED_SUFFIX) {
            None => found.samples.push(file),
            Some(sample) if !file.with_file_name(sample).is_file() => {
                found.orphans.push(orphan(&file, sample));
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

fn orphan(expected: &Path, sample: &str) -> Golden {
    Golden {
        sample: expected.with_file_name(sample),
        status: GoldenStatus::Failed(format!(
            "no such sample, but {} expects outcomes for it: add the sample or remove that file",
            expected.display()
        )),
    }
}

/// Maps `sample` and compares its outcomes with its expected file, or writes them there when
/// blessing.
pub fn check(sample: &Path, run: &Run) -> Golden {
    let status = match run.connector {
        None => GoldenStatus::Failed(format!(
            "no connector uses mapping \"{0}\", so the sample's format is unknown: add a \
             connector with mapping = \"{0}\"",
            run.mapping.name()
        )),
        Some(spec) => {
            let actual = outcomes(spec, run, sample);
            match run.bless {
                true => bless(&expected_path(sample), &actual),
                false => compare(sample, &actual),
            }
        }
    };
    Golden {
        sample: sample.to_path_buf(),
        status,
    }
}

/// One line of an expected or actual outcome file.
#[derive(Debug)]
struct Line {
    text: String,
    /// The line as JSON, when it is.
    value: Option<Value>,
}

impl Line {
    fn new(text: String) -> Self {
        let value = serde_json::from_str(&text).ok();
        Self { text, value }
    }

    /// An object of `members`, each value already JSON text, in the order given.
    fn object(members: &[(&str, String)]) -> Self {
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        Self::new(format!("{{{}}}", body.join(",")))
    }

    fn line_number(&self) -> Option<&Value> {
        self.value.as_ref().and_then(|v| v.get("line"))
    }
}

impl PartialEq for Line {
    fn eq(&self, other: &Self) -> bool {
        match (&self.value, &other.value) {
            (Some(a), Some(b)) => a == b,
            _ => self.text == other.text,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What the mapping makes of each record of `sample`, in order.
fn outcomes(spec: &ConnectorSpec, run: &Run, sample: &Path) -> Vec<Line> {
    let names = Names::new(sample, run.mapping);
    let mut lines = Vec::new();
    let result = preview_file(spec, run.mapping, Some(run.schema), sample, |p| {
        lines.push(outcome(p, &names));
    });
    if let Err(e) = result {
        lines.push(Line::object(&[("error", json_text(&names.cut(&e)))]));
    }
    lines
}

fn outcome(previewed: Previewed, names: &Names) -> Line {
    match previewed {
        Previewed::Event(json) => event(&json),
        Previewed::Filtered { origin } => Line::object(&[
            ("line", origin.line.to_string()),
            ("filtered", "true".into()),
        ]),
        Previewed::Failed { origin, reason } => Line::object(&[
            ("line", origin.line.to_string()),
            ("error", json_text(&names.cut(&reason))),
        ]),
    }
}

/// The parts of a structured CloudEvent a golden line keeps.
#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    subject: Option<String>,
    omnibusorigin: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn event(json: &[u8]) -> Line {
    let envelope: Envelope = match serde_json::from_slice(json) {
        Ok(envelope) => envelope,
        Err(e) => return Line::object(&[("error", json_text(&format!("unreadable event: {e}")))]),
    };
    let line = origin_line(&envelope.omnibusorigin).unwrap_or("null");
    let mut members = vec![("line", line.to_string()), ("id", json_text(&envelope.id))];
    if let Some(subject) = &envelope.subject {
        members.push(("subject", json_text(subject)));
    }
    members.push(("data", envelope.data.get().to_string()));
    Line::object(&members)
}

/// The line number of an origin `file:line` or `file:line (locator)`; the file name and the
/// locator may hold colons themselves (`/Order/cac:OrderLine[2]`).
fn origin_line(origin: &str) -> Option<&str> {
    origin.rmatch_indices(':').find_map(|(at, _)| {
        let rest = &origin[at + 1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (line, tail) = rest.split_at(digits);
        let tail_is_locator = tail.is_empty() || (tail.starts_with(" (") && tail.ends_with(')'));
        (!line.is_empty() && tail_is_locator).then_some(line)
    })
}

fn json_text(s: &str) -> String {
    Value::from(s).to_string()
}

/// Paths that appear in error texts, and the file names they are cut to.
struct Names(Vec<(String, String)>);

impl Names {
    fn new(sample: &Path, mapping: &Mapping) -> Self {
        let mapping_file = Path::new(mapping.file());
        Self(
            [sample, mapping_file]
                .iter()
                .map(|path| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    (path.display().to_string(), name.into_owned())
                })
                .collect(),
        )
    }

    fn cut(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |text, (path, name)| {
            text.replace(path, name)
        })
    }
}

fn bless(expected: &Path, actual: &[Line]) -> GoldenStatus {
    let text: String = actual.iter().map(|l| format!("{}\n", l.text)).collect();
    if std::fs::read_to_string(expected).is_ok_and(|old| old == text) {
        return GoldenStatus::Passed;
    }
    match std::fs::write(expected, text) {
        Ok(()) => GoldenStatus::Blessed {
            lines: actual.len(),
        },
        Err(e) => GoldenStatus::Failed(format!("{}: cannot write: {e}", expected.display())),
    }
}

fn compare(sample: &Path, actual: &[Line]) -> GoldenStatus {
    let expected_file = expected_path(sample);
    let text = match std::fs::read_to_string(&expected_file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return GoldenStatus::Missing,
        Err(e) => {
            return GoldenStatus::Failed(format!("{}: cannot read: {e}", expected_file.display()));
        }
        Ok(text) => text,
    };
    let expected: Vec<Line> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(|l| Line::new(l.to_string()))
        .collect();
    let ops = diff::ops(&expected, actual);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return GoldenStatus::Passed;
    }
    let mut out = format!(
        "--- {} (expected)\n+++ {} (actual)\n",
        expected_file.display(),
        sample.display()
    );
    out.push_str(&diff::unified(&expected, actual, &ops, CONTEXT));
    let name = sample.file_name().unwrap_or_default().to_string_lossy();
    for note in notes(&name, &expected, actual, &ops) {
        out.push_str(&note);
        out.push('\n');
    }
    GoldenStatus::Differs(shortened(&out))
}

/// `text` cut to [`MAX_SHOWN`] lines, saying how many more there are.
fn shortened(text: &str) -> String {
    let total = text.lines().count();
    let mut out: String = text
        .lines()
        .take(MAX_SHOWN)
        .map(|l| format!("{l}\n"))
        .collect();
    if total > MAX_SHOWN {
        out.push_str(&format!(
            "… {} more lines: `omnibus test --bless`, then `git diff`, shows them all\n",
            total - MAX_SHOWN
        ));
    }
    out
}

/// For each dropped expected line and the added actual line of the same sample line (in order),
/// every value that differs: `sales.csv:3: data.total: expected "1.00", got "1.0"`.
fn notes(sample: &str, expected: &[Line], actual: &[Line], ops: &[Op]) -> Vec<String> {
    let mut inserted: Vec<Option<&Line>> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Insert(j) => Some(Some(&actual[*j])),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for op in ops {
        let Op::Delete(i) = op else { continue };
        let want = &expected[*i];
        let Some(number) = want.line_number() else {
            continue;
        };
        let partner = inserted
            .iter_mut()
            .find(|slot| slot.is_some_and(|got| got.line_number() == Some(number)));
        if let (Some(slot), Some(want)) = (partner, &want.value) {
            let got = slot.take().and_then(|l| l.value.as_ref());
            let differences = differences(want, got.unwrap_or(&Value::Null), Unlisted::Reported);
            out.extend(
                differences
                    .iter()
                    .map(|d| format!("{sample}:{number}: {d}")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[&str]) -> Vec<Line> {
        texts.iter().map(|t| Line::new(t.to_string())).collect()
    }

    #[test]
    fn lines_compare_as_json_values() {
        assert_eq!(
            Line::new(r#"{"a":1,"b":"x"}"#.into()),
            Line::new(r#"{ "b": "x", "a": 1 }"#.into())
        );
        assert_ne!(Line::new("not json".into()), Line::new("not  json".into()));
    }

    #[test]
    fn changed_values_are_named_by_sample_line_and_path() {
        let expected = lines(&[
            r#"{"line":2,"data":{"a":"1"}}"#,
            r#"{"line":3,"data":{"a":"2","b":true}}"#,
        ]);
        let actual = lines(&[
            r#"{"line":2,"data":{"a":"1"}}"#,
            r#"{"line":3,"data":{"a":"2.0","c":[1]}}"#,
        ]);
        let ops = diff::ops(&expected, &actual);
        assert_eq!(
            notes("s.csv", &expected, &actual, &ops),
            vec![
                r#"s.csv:3: data.a: expected "2", got "2.0""#,
                "s.csv:3: data.b: missing, expected true",
                "s.csv:3: data.c: not expected, got [1]",
            ]
        );
    }

    #[test]
    fn a_long_diff_is_cut_and_the_rest_counted() {
        let long: String = (0..MAX_SHOWN + 5).map(|n| format!("+{n}\n")).collect();
        let cut = shortened(&long);
        assert_eq!(cut.lines().count(), MAX_SHOWN + 1);
        assert!(cut.ends_with(
            "… 5 more lines: `omnibus test --bless`, then `git diff`, shows them all\n"
        ));
        assert_eq!(shortened("+a\n-b\n"), "+a\n-b\n");
    }

    #[test]
    fn the_line_of_an_origin_leaves_out_its_locator() {
        assert_eq!(origin_line("s.csv:2"), Some("2"));
        assert_eq!(origin_line("po.xml:3 (/ORDERS05/IDOC[1])"), Some("3"));
        assert_eq!(
            origin_line("o.xml:14 (/Order/cac:OrderLine[2])"),
            Some("14")
        );
        assert_eq!(origin_line("d.edi:2 (UNB 1 / UNH 1)"), Some("2"));
        assert_eq!(origin_line("http:/webhooks/x/blake3-00ff"), None);
    }

    #[test]
    fn the_expected_file_sits_beside_the_sample() {
        assert_eq!(
            expected_path(Path::new("m/tests/pos/sales.csv")),
            Path::new("m/tests/pos/sales.csv.expected.jsonl")
        );
    }

    #[test]
    fn a_folder_lists_samples_and_expected_files_without_sample() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.csv",
            "a.csv",
            "a.csv.expected.jsonl",
            "gone.csv.expected.jsonl",
            ".x",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = folder(dir.path()).unwrap();
        assert_eq!(
            found.samples,
            vec![dir.path().join("a.csv"), dir.path().join("b.csv")]
        );
        assert_eq!(found.orphans.len(), 1);
        assert_eq!(found.orphans[0].sample, dir.path().join("gone.csv"));
        assert!(folder(&dir.path().join("none")).unwrap().samples.is_empty());
    }
}
