//! `omnibus test [MAPPING...]`: runs each mapping's `[[examples]]` and its golden sample files
//! (`<mappings>/tests/<mapping>/<sample>` against `<sample>.expected.jsonl`, see [`golden`]),
//! and reports per mapping, with a readable diff ([`diff`]) for each sample whose outcomes changed.
//! `--bless` writes the expected files from the actual outcomes; `--coverage` adds what each
//! mapping leaves unused ([`coverage`]).
//!
//! This module finds the mappings, their schemas and connectors, and puts the report together.

pub mod coverage;
mod diff;
pub mod golden;

use crate::canonical::schema::{Schema, Schemas};
use crate::config::Diagnostics;
use crate::config::connector::ConnectorSpec;
use crate::config::load;
use crate::mapping::Mapping;
use coverage::Coverage;
use golden::{Golden, GoldenStatus};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder, under the mappings folder, holding one golden folder per mapping.
pub const TESTS_DIR: &str = "tests";

/// What to test, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Mapping names (file stems); empty tests them all.
    pub mappings: Vec<String>,
    /// Write the expected files of the golden samples from their actual outcomes.
    pub bless: bool,
    /// Also list the source columns and schema fields each mapping leaves unused.
    pub coverage: bool,
}

/// Why nothing could be tested.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{}", .0.to_string().trim_end())]
    Config(Diagnostics),
    #[error("the schemas cannot be loaded:\n{}", .0.join("\n"))]
    Schemas(Vec<String>),
    #[error("{}: cannot list the mappings folder: {source}", .dir.display())]
    MappingsDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no mapping \"{name}\"; known: {known}")]
    UnknownMapping { name: String, known: String },
}

/// Everything one run found.
#[derive(Debug)]
pub struct Report {
    /// Problems of connector files; those connectors do not decode golden samples.
    pub connector_problems: Vec<String>,
    pub mappings: Vec<MappingReport>,
    /// Golden folders whose mapping does not exist (only when every mapping is tested).
    pub orphans: Vec<PathBuf>,
}

/// One mapping's results.
#[derive(Debug)]
pub struct MappingReport {
    pub name: String,
    /// Why the mapping could not be tested: it does not load, or its type has no schema.
    pub broken: Option<String>,
    pub examples: usize,
    /// One message per failing example, `file:line: example N: …`.
    pub example_failures: Vec<String>,
    pub golden: Vec<Golden>,
    /// With `--coverage`, for a mapping that loads.
    pub coverage: Option<Coverage>,
}

/// Tests the mappings of the deployment whose hub file is `hub_path`.
pub fn run(hub_path: &Path, options: &Options) -> Result<Report, TestError> {
    let hub = load::load_hub(hub_path).map_err(TestError::Config)?;
    let (mut connectors, problems) =
        load::load_connectors(&hub.paths.connectors, &hub.paths.mappings);
    connectors.sort_by(|a, b| a.id.cmp(&b.id));
    let deployment = Deployment {
        schemas: Schemas::load(&hub.paths.schemas).map_err(TestError::Schemas)?,
        tests: hub.paths.mappings.join(TESTS_DIR),
        connectors,
    };
    let files = mapping_files(&hub.paths.mappings)?;
    let chosen = choose(&files, &options.mappings)?;
    let mappings = chosen
        .iter()
        .map(|file| deployment.test(file, options))
        .collect();
    let orphans = match options.mappings.is_empty() {
        true => orphan_folders(&deployment.tests, &files),
        false => Vec::new(),
    };
    Ok(Report {
        connector_problems: problems.0.iter().map(ToString::to_string).collect(),
        mappings,
        orphans,
    })
}

/// What every mapping is tested with.
struct Deployment {
    schemas: Schemas,
    /// `<mappings>/tests`.
    tests: PathBuf,
    /// Every good connector, by id.
    connectors: Vec<ConnectorSpec>,
}

impl Deployment {
    fn test(&self, file: &Path, options: &Options) -> MappingReport {
        let mut report = MappingReport {
            name: stem(file),
            broken: None,
            examples: 0,
            example_failures: Vec::new(),
            golden: Vec::new(),
            coverage: None,
        };
        let (mapping, schema) = match self.load(file) {
            Ok(loaded) => loaded,
            Err(why) => {
                report.broken = Some(why);
                return report;
            }
        };
        report.examples = mapping.example_count();
        report.example_failures = mapping.run_examples(Some(&schema));
        let users: Vec<&ConnectorSpec> = self
            .connectors
            .iter()
            .filter(|c| c.mapping == report.name)
            .collect();
        let dir = self.tests.join(&report.name);
        let folder = match golden::folder(&dir) {
            Ok(folder) => folder,
            Err(e) => {
                report.golden.push(Golden {
                    sample: dir,
                    status: GoldenStatus::Failed(format!("cannot list the folder: {e}")),
                });
                return report;
            }
        };
        let run = golden::Run {
            mapping: &mapping,
            schema: &schema,
            connector: users.first().copied(),
            bless: options.bless,
        };
        report.golden = folder
            .samples
            .iter()
            .map(|sample| golden::check(sample, &run))
            .chain(folder.orphans)
            .collect();
        if options.coverage {
            let columns = known_columns(&users, &folder.samples);
            report.coverage = Some(coverage::coverage(&mapping, &schema, &columns));
        }
        report
    }

    fn load(&self, file: &Path) -> Result<(Mapping, Arc<Schema>), String> {
        let mapping = Mapping::load(file).map_err(|d| d.to_string().trim_end().to_string())?;
        let schema = mapping.schema_in(&self.schemas)?;
        Ok((mapping, schema))
    }
}

/// The columns named by the connectors using a mapping, then those of its samples (decoded with
/// the first connector's format).
fn known_columns(users: &[&ConnectorSpec], samples: &[PathBuf]) -> Vec<coverage::Columns> {
    let named = users.iter().filter_map(|c| coverage::connector_columns(c));
    let decoded = users.first().into_iter().flat_map(|spec| {
        samples
            .iter()
            .filter_map(|sample| coverage::sample_columns(spec, sample))
    });
    named.chain(decoded).collect()
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `*.toml` directly in the mappings folder, by name.
fn mapping_files(dir: &Path) -> Result<Vec<PathBuf>, TestError> {
    let unreadable = |source| TestError::MappingsDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The files of the mappings `names` (all of them when empty), in file order.
fn choose<'f>(files: &'f [PathBuf], names: &[String]) -> Result<Vec<&'f PathBuf>, TestError> {
    if let Some(name) = names.iter().find(|n| !files.iter().any(|f| stem(f) == **n)) {
        let known: Vec<String> = files.iter().map(|f| stem(f)).collect();
        return Err(TestError::UnknownMapping {
            name: name.clone(),
            known: known.join(", "),
        });
    }
    Ok(files
        .iter()
        .filter(|f| names.is_empty() || names.contains(&stem(f)))
        .collect())
}

/// Folders in `tests` not named after any mapping file.
fn orphan_folders(tests: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tests) else {
        return Vec::new();
    };
    let mut orphans: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !files.iter().any(|f| stem(f) == stem(p)))
        .collect();
    orphans.sort();
    orphans
}

impl MappingReport {
    pub fn passed(&self) -> bool {
        self.broken.is_none()
            && self.example_failures.is_empty()
            && self.golden.iter().all(|g| g.status.passed())
    }

    fn failed_golden(&self) -> usize {
        self.golden.iter().filter(|g| !g.status.passed()).count()
    }

    fn blessed(&self) -> usize {
        let blessed = |g: &&Golden| matches!(g.status, GoldenStatus::Blessed { .. });
        self.golden.iter().filter(blessed).count()
    }

    /// `2 examples, 1 golden file`, with the failures of each.
    fn counts(&self) -> String {
        let examples = counted(self.examples, "example", self.example_failures.len());
        let golden = counted(self.golden.len(), "golden file", self.failed_golden());
        match self.blessed() {
            0 => format!("{examples}, {golden}"),
            n => format!("{examples}, {golden} ({n} blessed)"),
        }
    }
}

/// `3 examples` or `3 examples (1 failed)`.
fn counted(n: usize, noun: &str, failed: usize) -> String {
    let counted = plural(n, noun);
    match failed {
        0 => counted,
        f => format!("{counted} ({f} failed)"),
    }
}

fn plural(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

impl fmt::Display for MappingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "ok  " } else { "FAIL" };
        match &self.broken {
            Some(why) => {
                writeln!(f, "{verdict} {}: cannot be tested", self.name)?;
                indented(f, why)?;
            }
            None => writeln!(f, "{verdict} {}: {}", self.name, self.counts())?,
        }
        for failure in &self.example_failures {
            indented(f, failure)?;
        }
        for golden in &self.golden {
            indented(f, &golden.to_string())?;
        }
        if let Some(coverage) = &self.coverage {
            indented(f, &coverage.to_string())?;
        }
        Ok(())
    }
}

impl fmt::Display for Golden {
    /// Nothing for a sample that passed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sample = self.sample.display();
        match &self.status {
            GoldenStatus::Passed => Ok(()),
            GoldenStatus::Blessed { lines } => write!(
                f,
                "wrote {} ({})",
                golden::expected_path(&self.sample).display(),
                plural(*lines, "line")
            ),
            GoldenStatus::Differs(diff) => write!(f, "{sample}: outcomes differ\n{diff}"),
            GoldenStatus::Missing => write!(
                f,
                "{sample}: no expected file {}: run `omnibus test --bless` to create it",
                golden::expected_path(&self.sample).display()
            ),
            GoldenStatus::Failed(why) => write!(f, "{sample}: {why}"),
        }
    }
}

/// Writes each line of `text` indented by four spaces.
fn indented(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for line in text.lines() {
        writeln!(f, "    {line}")?;
    }
    Ok(())
}

impl Report {
    /// Every mapping passed and no golden folder is orphaned.
    pub fn passed(&self) -> bool {
        self.orphans.is_empty() && self.mappings.iter().all(MappingReport::passed)
    }

    /// The last line: how many mappings passed or failed.
    fn summary(&self) -> String {
        let failed = self.mappings.iter().filter(|m| !m.passed()).count();
        let examples: usize = self.mappings.iter().map(|m| m.examples).sum();
        let golden: usize = self.mappings.iter().map(|m| m.golden.len()).sum();
        let tested = format!(
            "{}, {}",
            plural(examples, "example"),
            plural(golden, "golden file")
        );
        let mut summary = match failed {
            0 => format!(
                "passed: {} ({tested})",
                plural(self.mappings.len(), "mapping")
            ),
            n => format!(
                "FAILED: {n} of {} ({tested})",
                plural(self.mappings.len(), "mapping")
            ),
        };
        if !self.orphans.is_empty() {
            summary.push_str(&format!(
                "; {} without a mapping",
                plural(self.orphans.len(), "golden folder")
            ));
        }
        summary
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for mapping in &self.mappings {
            write!(f, "{mapping}")?;
        }
        for orphan in &self.orphans {
            writeln!(
                f,
                "FAIL {}: golden files of mapping \"{}\", which does not exist",
                orphan.display(),
                stem(orphan)
            )?;
        }
        writeln!(f, "\n{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_failures_and_blessings() {
        let report = MappingReport {
            name: "m".into(),
            broken: None,
            examples: 2,
            example_failures: vec!["m.toml:9: example 2: failed".into()],
            golden: vec![Golden {
                sample: "s.csv".into(),
                status: GoldenStatus::Blessed { lines: 1 },
            }],
            coverage: None,
        };
        assert!(!report.passed());
        assert_eq!(
            report.to_string(),
            "FAIL m: 2 examples (1 failed), 1 golden file (1 blessed)\n    m.toml:9: example 2: \
             failed\n    wrote s.csv.expected.jsonl (1 line)\n"
        );
    }

    #[test]
    fn unknown_mapping_names_list_the_known_ones() {
        let files = vec![PathBuf::from("m/a.toml"), PathBuf::from("m/b.toml")];
        assert_eq!(choose(&files, &[]).unwrap().len(), 2);
        assert_eq!(choose(&files, &["b".into()]).unwrap(), vec![&files[1]]);
        let err = choose(&files, &["c".into()]).unwrap_err();
        assert_eq!(err.to_string(), "no mapping \"c\"; known: a, b");
    }
}
