//! `omnibus check`: every problem of a deployment at once — the hub file, every connector file,
//! the schemas folder, every mapping file in the mappings folder (compiled, checked against its
//! event type's schema and the columns its connectors declare, its examples run) — so ops fix them
//! in one pass instead of one per run.

use crate::canonical::schema::{Schema, Schemas};
use crate::config::connector::{ConnectorSpec, CsvColumns, FormatSpec};
use crate::config::load;
use crate::mapping::Mapping;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each problem, `file:line:col: message` (or `file:line: message`).
    pub problems: Vec<String>,
    /// The connectors that loaded, in file order (a family's instances in the order written).
    pub connectors: Vec<ConnectorSpec>,
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
    report
        .problems
        .extend(problems.0.iter().map(ToString::to_string));
    let schemas = match Schemas::load(&hub.paths.schemas) {
        Ok(schemas) => Some(schemas),
        Err(problems) => {
            report.problems.extend(problems);
            None
        }
    };
    report.connectors = connectors;
    match mapping_files(&hub.paths.mappings) {
        Ok(files) => {
            for file in files {
                report.mappings += 1;
                check_mapping(
                    &file,
                    schemas.as_ref(),
                    &report.connectors,
                    &mut report.problems,
                );
            }
        }
        Err(e) => report.problems.push(format!(
            "{}: cannot list the mappings folder: {e}",
            hub.paths.mappings.display()
        )),
    }
    report
}

fn check_mapping(
    file: &Path,
    schemas: Option<&Schemas>,
    connectors: &[ConnectorSpec],
    problems: &mut Vec<String>,
) {
    let mapping = match Mapping::load(file) {
        Ok(mapping) => mapping,
        Err(d) => return problems.extend(d.0.iter().map(ToString::to_string)),
    };
    let schema = match schemas.map(|s| mapping.schema_in(s)) {
        Some(Ok(schema)) => Some(schema),
        Some(Err(problem)) => {
            problems.push(problem);
            None
        }
        None => None,
    };
    if let Some(schema) = &schema {
        problems.extend(against_schema(&mapping, schema));
    }
    let users = connectors.iter().filter(|c| c.mapping == mapping.name());
    for connector in users {
        problems.extend(against_columns(&mapping, connector));
    }
    problems.extend(mapping.run_examples(schema.as_ref()));
}

/// Output fields the schema does not allow, and required schema fields no field can set.
fn against_schema(mapping: &Mapping, schema: &Arc<Schema>) -> Vec<String> {
    let file = mapping.file();
    let schema_file = schema.file().display();
    let outputs = mapping.output_paths();
    let mut problems: Vec<String> = outputs
        .iter()
        .filter(|o| !schema.allows(&o.path))
        .map(|o| {
            format!(
                "{file}:{}: output field \"{}\" is not in {schema_file}",
                o.line, o.path
            )
        })
        .collect();
    let sets = |path: &str| {
        outputs.iter().any(|o| {
            o.path == path
                || o.path.starts_with(&format!("{path}."))
                || o.path.starts_with(&format!("{path}[]"))
        })
    };
    for field in schema.fields().iter().filter(|f| f.required) {
        let top_level = !field.path.contains('.');
        if !sets(&field.path) && (top_level || parent_set(&field.path, &sets)) {
            problems.push(format!(
                "{file}:{}: {schema_file} requires \"{}\", which no field of the mapping sets",
                mapping.type_line(),
                field.path
            ));
        }
    }
    problems
}

/// Whether the object holding a nested required field is written at all (a required field inside
/// an optional object the mapping leaves out is not a problem).
fn parent_set(path: &str, sets: &impl Fn(&str) -> bool) -> bool {
    let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
    let parent = parent.strip_suffix("[]").unwrap_or(parent);
    sets(parent)
}

/// Columns a mapping reads that a connector's declared columns (`columns = [...]`) lack.
fn against_columns(mapping: &Mapping, connector: &ConnectorSpec) -> Vec<String> {
    let csv = connector.format.as_ref().and_then(FormatSpec::csv);
    let Some(CsvColumns::Named(columns)) = csv.map(|csv| &csv.columns) else {
        return Vec::new();
    };
    let rows = mapping.group().map(|g| g.into.as_str());
    mapping
        .source_reads()
        .into_iter()
        .filter(|r| !r.in_item && r.name != "record" && Some(r.name.as_str()) != rows)
        .filter(|r| !columns.contains(&r.name))
        .map(|r| {
            let how = if r.by_expression {
                "an expression reads"
            } else {
                "reads"
            };
            format!(
                "{}:{}: {how} \"{}\", which connector \"{}\" ({}) does not have; its columns \
                     are: {}",
                mapping.file(),
                r.line,
                r.name,
                connector.id,
                connector.file.display(),
                columns.join(", ")
            )
        })
        .collect()
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
