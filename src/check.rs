//! `omnibus check`: every problem of a deployment at once — the hub file, every connector file,
//! every mapping file in the mappings folder (compiled, its examples run) — so ops fix them in one
//! pass instead of one per run.

use crate::config::load;
use crate::mapping::Mapping;
use std::path::{Path, PathBuf};

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each problem, `file:line:col: message`.
    pub problems: Vec<String>,
    pub connectors: usize,
    pub mappings: usize,
}

/// Checks the deployment whose hub file is `hub_path`.
pub fn check(hub_path: &Path) -> Report {
    let mut report = Report::default();
    let hub = match load::load_hub(hub_path) {
        Ok(hub) => hub,
        Err(d) => {
            report.problems.extend(d.0.iter().map(ToString::to_string));
            return report;
        }
    };
    let (connectors, problems) = load::load_connectors(&hub.paths.connectors, &hub.paths.mappings);
    report.connectors = connectors.len();
    report
        .problems
        .extend(problems.0.iter().map(ToString::to_string));
    match mapping_files(&hub.paths.mappings) {
        Ok(files) => {
            for file in files {
                report.mappings += 1;
                check_mapping(&file, &mut report.problems);
            }
        }
        Err(e) => report.problems.push(format!(
            "{}: cannot list the mappings folder: {e}",
            hub.paths.mappings.display()
        )),
    }
    report
}

fn check_mapping(file: &Path, problems: &mut Vec<String>) {
    match Mapping::load(file) {
        Ok(mapping) => problems.extend(mapping.run_examples()),
        Err(d) => problems.extend(d.0.iter().map(ToString::to_string)),
    }
}

/// `*.toml` directly in the mappings folder, by name.
fn mapping_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
