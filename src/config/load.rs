//! Loading a deployment from disk: the hub file (`config/omnibus.toml`) layered with `OMNIBUS__…`
//! environment overrides, and every connector file in its connectors directory. Problems in all
//! files are collected and reported together.

use super::connector::ConnectorSpec;
use super::connector_file::{ParsedConnector, parse_connectors};
use super::diagnostic::{Diagnostic, Diagnostics};
use super::hub::{HubConfig, PathsConfig};
use super::toml_de::Source;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeValue;

/// Prefix of environment overrides: `OMNIBUS__BROKER__URL` overrides `[broker] url`.
const ENV_PREFIX: &str = "OMNIBUS";
/// Nesting separator in environment override names.
const ENV_SEPARATOR: &str = "__";

/// A deployment's configuration: the hub settings and every connector.
#[derive(Debug, Clone)]
pub struct HubFiles {
    /// Hub settings after environment overrides, relative paths resolved.
    pub hub: HubConfig,
    /// The hub file, as given.
    pub hub_path: PathBuf,
    /// Every connector in the connectors directory, ordered by file name.
    pub connectors: Vec<ConnectorSpec>,
}

/// Loads the hub file (with overrides from the process environment) and every connector file;
/// fails with every problem found in any of them.
pub fn load(hub_path: &Path) -> Result<HubFiles, Diagnostics> {
    load_with_env(hub_path, process_env())
}

/// [`load`] with the environment given as name/value pairs.
pub fn load_with_env(
    hub_path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<HubFiles, Diagnostics> {
    let env: config::Map<String, String> = env.into_iter().collect();
    let text = read_hub(hub_path)?;
    let mut found = Diagnostics::default();
    let hub = hub_config(hub_path, &text, &env)
        .map_err(|d| found.extend(d))
        .ok();
    let paths = match &hub {
        Some(hub) => Some(hub.paths.clone()),
        None => paths_only(hub_path, &text, &env),
    };
    let mut connectors = Vec::new();
    if let Some(paths) = paths {
        let (good, problems) = load_connectors(&paths.connectors, &paths.mappings);
        connectors = good;
        found.extend(problems);
    }
    match hub {
        Some(hub) if found.is_empty() => Ok(HubFiles {
            hub,
            hub_path: hub_path.to_path_buf(),
            connectors,
        }),
        _ => Err(found),
    }
}

/// Loads only the hub file, with overrides from the process environment.
pub fn load_hub(hub_path: &Path) -> Result<HubConfig, Diagnostics> {
    load_hub_with_env(hub_path, process_env())
}

/// [`load_hub`] with the environment given as name/value pairs.
pub fn load_hub_with_env(
    hub_path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<HubConfig, Diagnostics> {
    let env: config::Map<String, String> = env.into_iter().collect();
    let text = read_hub(hub_path)?;
    hub_config(hub_path, &text, &env)
}

/// The process environment, skipping variables that are not valid Unicode.
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

fn read_hub(hub_path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(hub_path).map_err(|e| {
        let message = match e.kind() {
            ErrorKind::NotFound => {
                "hub config file not found; pass --config FILE to name another one".to_string()
            }
            _ => format!("cannot read the hub config file: {e}"),
        };
        Diagnostic::file(hub_path, message)
    })
}

/// Checks the file on its own (for positions), then layers the environment over it.
fn hub_config(
    hub_path: &Path,
    text: &str,
    env: &config::Map<String, String>,
) -> Result<HubConfig, Diagnostics> {
    let src = Source {
        path: hub_path,
        text,
    };
    let table = src.parse()?;
    let value = Spanned::new(table.span(), DeValue::Table(table.into_inner()));
    src.deserialize::<HubConfig>(value, "")?;
    let hub: HubConfig = layered(text, env)
        .and_then(config::Config::try_deserialize)
        .map_err(|e| Diagnostic::file(hub_path, override_problem(env, &e)))?;
    Ok(hub.resolve(base_dir(hub_path)))
}

/// The file itself was checked before, so a problem here comes from the overrides: name them.
fn override_problem(env: &config::Map<String, String>, e: &config::ConfigError) -> String {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let mut names: Vec<&str> = env
        .keys()
        .filter(|k| k.to_ascii_uppercase().starts_with(&prefix))
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    format!("in the environment overrides ({}): {e}", names.join(", "))
}

fn layered(
    text: &str,
    env: &config::Map<String, String>,
) -> Result<config::Config, config::ConfigError> {
    let environment = config::Environment::with_prefix(ENV_PREFIX)
        .separator(ENV_SEPARATOR)
        .try_parsing(true)
        .source(Some(env.clone()));
    config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(environment)
        .build()
}

/// Only `[paths]`, ignoring the rest of the hub file.
#[derive(Deserialize)]
struct PathsOnly {
    #[serde(default)]
    paths: PathsConfig,
}

/// The connector and mapping directories of a hub file that has problems elsewhere, so that the
/// connector files are checked too.
fn paths_only(
    hub_path: &Path,
    text: &str,
    env: &config::Map<String, String>,
) -> Option<PathsConfig> {
    let only: PathsOnly = layered(text, env).ok()?.try_deserialize().ok()?;
    let base = base_dir(hub_path);
    Some(PathsConfig {
        connectors: base.join(only.paths.connectors),
        mappings: base.join(only.paths.mappings),
        schemas: base.join(only.paths.schemas),
    })
}

fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}

/// Loads every `*.toml` file directly in `dir` (dot files excepted), in file-name order. Returns
/// the good connectors and the problems of the others, so the hub can run the good ones.
/// Connectors that share an id are all left out.
pub fn load_connectors(dir: &Path, mappings_dir: &Path) -> (Vec<ConnectorSpec>, Diagnostics) {
    let files = match connector_files(dir) {
        Ok(files) => files,
        Err(d) => return (Vec::new(), d.into()),
    };
    let mut found = Diagnostics::default();
    let mut parsed = Vec::new();
    for file in &files {
        let (good, problems) = parse_file(file, mappings_dir);
        parsed.extend(good);
        found.extend(problems);
    }
    let (good, duplicates) = without_duplicates(parsed);
    found.extend(duplicates);
    let (good, shared_paths) = crate::connector::http_push::without_shared_paths(good);
    found.extend(shared_paths);
    (good, found)
}

/// Loads a connector file that defines one connector (or the first of a family).
pub fn load_connector(path: &Path, mappings_dir: &Path) -> Result<ConnectorSpec, Diagnostics> {
    let (good, problems) = parse_file(path, mappings_dir);
    if !problems.is_empty() {
        return Err(problems);
    }
    good.into_iter()
        .next()
        .map(|p| p.spec)
        .ok_or_else(|| Diagnostic::file(path, "defines no connector").into())
}

/// For source parsers' unit tests: writes `<stem>.toml` — system `<stem>`, a mapping that exists,
/// `[source] type = "<kind>"` with the `keys` lines, then `tail` (e.g. a `[format]` table) — and
/// loads it; the error is the diagnostics' text, positions in `<stem>.toml`.
#[cfg(test)]
pub(crate) fn load_test_source(
    stem: &str,
    kind: &str,
    keys: &str,
    tail: &str,
) -> Result<super::connector::SourceSpec, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("m.toml"), "type = \"x.v1\"\n[fields]\n")
        .map_err(|e| e.to_string())?;
    let file = dir.path().join(format!("{stem}.toml"));
    let text = format!(
        "system = \"{stem}\"\nmapping = \"m\"\n[source]\ntype = \"{kind}\"\n{keys}\n{tail}"
    );
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    load_connector(&file, dir.path())
        .map(|c| c.source)
        .map_err(|d| d.to_string())
}

fn parse_file(path: &Path, mappings_dir: &Path) -> (Vec<ParsedConnector>, Diagnostics) {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_connectors(&Source { path, text: &text }, mappings_dir),
        Err(e) => (
            Vec::new(),
            Diagnostic::file(path, format!("cannot read the connector file: {e}")).into(),
        ),
    }
}

fn connector_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let unreadable = |e: std::io::Error| {
        let message = match e.kind() {
            ErrorKind::NotFound => "connectors directory not found".to_string(),
            _ => format!("cannot read the connectors directory: {e}"),
        };
        let hint = "set [paths] connectors in the hub config";
        Diagnostic::file(dir, format!("{message}; {hint}"))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if is_connector_file(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn is_connector_file(path: &Path) -> bool {
    let visible = path
        .file_name()
        .is_some_and(|n| !n.to_string_lossy().starts_with('.'));
    visible && path.extension().is_some_and(|e| e == "toml") && path.is_file()
}

/// Leaves out every connector whose id another connector uses too — in another file, or another
/// instance of the same family — with one diagnostic per file and id.
fn without_duplicates(parsed: Vec<ParsedConnector>) -> (Vec<ConnectorSpec>, Diagnostics) {
    let mut files_by_id: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for p in &parsed {
        files_by_id
            .entry(p.spec.id.clone())
            .or_default()
            .push(p.spec.file.clone());
    }
    let mut found = Diagnostics::default();
    let mut reported = HashSet::new();
    let mut good = Vec::new();
    for p in parsed {
        match files_by_id.get(&p.spec.id) {
            Some(files) if files.len() > 1 => {
                if reported.insert((p.spec.file.clone(), p.spec.id.clone())) {
                    found.push(duplicate(&p, files));
                }
            }
            _ => good.push(p.spec),
        }
    }
    (good, found)
}

fn duplicate(p: &ParsedConnector, files: &[PathBuf]) -> Diagnostic {
    let others: BTreeSet<String> = files
        .iter()
        .filter(|f| **f != p.spec.file)
        .map(|f| f.display().to_string())
        .collect();
    let id = &p.spec.id;
    let message = if others.is_empty() {
        format!(
            "{} instances get the id \"{id}\"; each needs its own: put a parameter in the id, \
             e.g. id = \"{id}-${{region}}\"",
            files.len()
        )
    } else {
        let origin = match p.id_position {
            Some(_) => "",
            None => " (from the file name)",
        };
        let others: Vec<String> = others.into_iter().collect();
        format!(
            "connector id \"{id}\"{origin} is also used by {}; connector ids must be unique",
            others.join(", ")
        )
    };
    Diagnostic {
        file: p.spec.file.clone(),
        position: p.id_position,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::connector::{After, CsvColumns, SourceSpec};
    use std::time::Duration;

    const HUB: &str = r##"[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "omnibus.events"          # durable topic exchange for canonical events
dead_letter_exchange = "omnibus.dead" # durable topic exchange; routing key = connector id
dead_letter_queue = "omnibus.dead"    # durable queue the hub declares and binds with "#"
[state]
dir = "../var/state"
[paths]
connectors = "../connectors"
mappings = "../mappings"
schemas = "../schemas"
[admin]
listen = "127.0.0.1:8089"
"##;

    const ERP: &str = r#"id = "erp-inventory"          # optional; defaults to the file stem
system = "erp"                # which legacy system; part of the CloudEvents source
mapping = "erp_inventory"     # mappings/erp_inventory.toml
routing_key = "{{ type }}"     # optional minijinja template; default is the event type
[source]
type = "file"                 # file | http_poll | http_push | amqp | sql | mqtt
path = "/var/spool/omnibus/erp"
glob = "*.csv"
settle = "2s"                 # a file is taken once its size is stable this long
after = "move"                # move (to done/ and error/ under path) | delete
[format]
type = "csv"                  # csv | xml | json | ndjson | fixed_width | edifact | xlsx
encoding = "gbk"              # any WHATWG label: utf-8, gbk, gb18030, big5, shift_jis, iso-8859-1...
delimiter = "|"
header = true                 # or columns = ["A", "B", ...]
"#;

    /// A deployment in a temporary directory: config/omnibus.toml, connectors/, mappings/.
    struct Deployment {
        dir: tempfile::TempDir,
    }

    impl Deployment {
        fn new() -> Self {
            let d = Self {
                dir: tempfile::tempdir().unwrap(),
            };
            d.write("config/omnibus.toml", HUB);
            d.write("mappings/erp_inventory.toml", "");
            d.write("mappings/pos_sales.toml", "");
            std::fs::create_dir_all(d.path("connectors")).unwrap();
            d
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn hub(&self) -> PathBuf {
            self.path("config/omnibus.toml")
        }

        fn load(&self) -> Result<HubFiles, Diagnostics> {
            load_with_env(&self.hub(), Vec::new())
        }

        fn connectors(&self) -> (Vec<ConnectorSpec>, Diagnostics) {
            load_connectors(&self.path("connectors"), &self.path("mappings"))
        }

        /// The diagnostics of the connectors directory, rendered.
        fn problems(&self) -> Vec<String> {
            self.connectors()
                .1
                .0
                .iter()
                .map(|d| d.to_string())
                .collect()
        }
    }

    fn pos(format: &str) -> String {
        format!(
            "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"file\"\npath = \"in\"\n{format}"
        )
    }

    #[test]
    fn design_example_loads() {
        let d = Deployment::new();
        d.write("connectors/erp-inventory.toml", ERP);
        let files = d.load().unwrap();
        assert_eq!(
            files.hub.broker.url,
            "amqp://guest:guest@127.0.0.1:5672/%2f"
        );
        assert_eq!(files.hub.broker.confirm_window, 1024);
        assert_eq!(files.connectors.len(), 1);
        let c = &files.connectors[0];
        assert_eq!((c.id.as_str(), c.system.as_str()), ("erp-inventory", "erp"));
        assert_eq!(c.mapping, "erp_inventory");
        assert_eq!(c.routing_key.as_deref(), Some("{{ type }}"));
        let SourceSpec::File(s) = &c.source else {
            panic!("a file source")
        };
        assert_eq!(s.path, Path::new("/var/spool/omnibus/erp"));
        assert_eq!(
            (s.glob.as_str(), s.after, s.marker.as_deref()),
            ("*.csv", After::Move, None)
        );
        assert_eq!(
            (s.settle, s.rescan),
            (Duration::from_secs(2), Duration::from_secs(5))
        );
        assert_eq!(s.ignore, [".*", "*.tmp", "*.part"]);
        let f = c
            .format
            .as_ref()
            .and_then(|f| f.csv())
            .expect("a CSV format");
        assert_eq!(f.encoding, encoding_rs::GBK);
        assert_eq!((f.delimiter, f.quote, f.skip_lines), (b'|', b'"', 0));
        assert_eq!(f.columns, CsvColumns::Header);
    }

    const FAMILY: &str = "id = \"pos-${region}\"\nsystem = \"pos\"\nmapping = \"pos_sales\"\n\
        [source]\ntype = \"file\"\npath = \"spool/${region}\"\n[format]\ntype = \"csv\"\n";

    #[test]
    fn a_family_file_makes_one_connector_per_instance() {
        let d = Deployment::new();
        let text = format!(
            "{FAMILY}[[instances]]\nregion = \"east\"\n[[instances]]\nregion = \"north\"\n"
        );
        d.write("connectors/pos.toml", &text);
        let (connectors, problems) = d.connectors();
        assert!(problems.is_empty(), "{problems}");
        let got: Vec<_> = connectors
            .iter()
            .map(|c| {
                let SourceSpec::File(f) = &c.source else {
                    panic!("file source expected");
                };
                (c.id.as_str(), f.path.clone(), c.instance.clone())
            })
            .collect();
        let spool = d.path("connectors/spool");
        assert_eq!(
            got,
            [
                (
                    "pos-east",
                    spool.join("east"),
                    Some("region = \"east\"".into())
                ),
                (
                    "pos-north",
                    spool.join("north"),
                    Some("region = \"north\"".into())
                ),
            ]
        );
    }

    #[test]
    fn a_bad_instance_is_named_and_its_siblings_still_load() {
        let d = Deployment::new();
        let text = format!(
            "{FAMILY}[[instances]]\nregion = \"east\"\n[[instances]]\nregion = \"no rth\"\n"
        );
        d.write("connectors/pos.toml", &text);
        let (connectors, _) = d.connectors();
        let ids: Vec<_> = connectors.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["pos-east"]);
        let file = d.path("connectors/pos.toml");
        assert_eq!(
            d.problems(),
            [format!(
                "{}:1:6: in the instance {{ region = \"no rth\" }}: connector id \"pos-no rth\" \
                 must be non-empty and use only ASCII letters, digits, \"-\", \"_\" and \".\"",
                file.display()
            )]
        );
    }

    #[test]
    fn a_template_problem_is_reported_once_and_ids_must_differ() {
        let d = Deployment::new();
        let text = FAMILY.replace("pos-${region}", "pos").replace("csv", "cvs")
            + "[[instances]]\nregion = \"east\"\n[[instances]]\nregion = \"north\"\n";
        d.write("connectors/pos.toml", &text);
        let problems = d.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("unknown format type \"cvs\"") || problems[0].contains("cvs"));
        d.write("connectors/pos.toml", &text.replace("cvs", "csv"));
        assert_eq!(
            d.problems(),
            [format!(
                "{}:1:6: 2 instances get the id \"pos\"; each needs its own: put a parameter in the \
                 id, e.g. id = \"pos-${{region}}\"",
                d.path("connectors/pos.toml").display()
            )]
        );
    }

    #[test]
    fn misspelt_key_is_reported_at_its_line_with_a_suggestion() {
        let d = Deployment::new();
        d.write(
            "connectors/pos.toml",
            &pos("[format]\ntype = \"csv\"\ndelimter = \"|\"\n"),
        );
        let file = d.path("connectors/pos.toml");
        let expected = format!(
            "{}:8:1: unknown key \"delimter\" in [format]; did you mean \"delimiter\"?",
            file.display()
        );
        assert_eq!(d.problems(), [expected]);
    }

    #[test]
    fn misspelt_key_matches_the_contract_shape_with_the_path_as_given() {
        let text = "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"file\"\npath = \"in\"\n[format]\ndelimter = \"|\"\ntype = \"csv\"\n";
        let d = Deployment::new();
        let src = Source {
            path: Path::new("connectors/pos.toml"),
            text,
        };
        let (_, problems) = parse_connectors(&src, &d.path("mappings"));
        assert_eq!(
            problems.to_string(),
            "connectors/pos.toml:7:1: unknown key \"delimter\" in [format]; did you mean \"delimiter\"?\n"
        );
    }

    #[test]
    fn every_broken_file_is_reported_and_good_ones_still_load() {
        let d = Deployment::new();
        d.write(
            "connectors/a.toml",
            &pos("[format]\ntype = \"csv\"\nquote = \"''\"\n"),
        );
        d.write(
            "connectors/b.toml",
            "system = \"pos\"\nmapping = \"nope\"\n[format]\ntype = \"csv\"\n",
        );
        d.write("connectors/c.toml", &pos("[format]\ntype = \"csv\"\n"));
        d.write("connectors/notes.txt", "not a connector");
        let (good, problems) = d.connectors();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].id, "c");
        let text = problems.to_string();
        assert!(
            text.contains("a.toml:8:9: quote must be one ASCII character"),
            "{text}"
        );
        assert!(text.contains("b.toml: missing [source] table"), "{text}");
        assert!(
            text.contains("b.toml:2:11: mapping \"nope\" not found"),
            "{text}"
        );
        assert_eq!(problems.0.len(), 3, "{text}");
        assert!(d.load().is_err());
    }

    #[test]
    fn environment_overrides_the_hub_file() {
        let d = Deployment::new();
        let env = [
            ("OMNIBUS__BROKER__URL", "amqp://rabbit:5672/prod"),
            ("OMNIBUS__BROKER__CONFIRM_WINDOW", "64"),
            ("OMNIBUS_UNRELATED", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let hub = load_with_env(&d.hub(), env).unwrap().hub;
        assert_eq!(hub.broker.url, "amqp://rabbit:5672/prod");
        assert_eq!(hub.broker.confirm_window, 64);
        assert_eq!(hub.broker.exchange, "omnibus.events");
    }

    #[test]
    fn bad_environment_override_is_a_diagnostic() {
        let d = Deployment::new();
        let env = [(
            "OMNIBUS__BROKER__CONFIRM_WINDOW".to_string(),
            "many".to_string(),
        )];
        let problems = load_with_env(&d.hub(), env).unwrap_err().to_string();
        let expected = "in the environment overrides (OMNIBUS__BROKER__CONFIRM_WINDOW): ";
        assert!(problems.contains(expected), "{problems}");
        assert!(problems.contains("\"many\""), "{problems}");
    }

    #[test]
    fn relative_paths_resolve_against_the_file_that_names_them() {
        let d = Deployment::new();
        d.write("connectors/pos.toml", &pos("[format]\ntype = \"csv\"\n"));
        let files = d.load().unwrap();
        let config = d.path("config");
        assert_eq!(files.hub.state.dir, config.join("../var/state"));
        assert_eq!(files.hub.paths.connectors, config.join("../connectors"));
        assert_eq!(files.hub.paths.schemas, config.join("../schemas"));
        let SourceSpec::File(s) = &files.connectors[0].source else {
            panic!("a file source")
        };
        assert_eq!(s.path, config.join("../connectors/in"));
    }

    #[test]
    fn unknown_encoding_lists_common_labels() {
        let d = Deployment::new();
        d.write(
            "connectors/pos.toml",
            &pos("[format]\ntype = \"csv\"\nencoding = \"gbk2\"\n"),
        );
        let problems = d.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("pos.toml:8:12: unknown encoding \"gbk2\""),
            "{problems:?}"
        );
        assert!(problems[0].contains("\"gb18030\""), "{problems:?}");
    }

    #[test]
    fn an_unknown_source_type_lists_the_supported_ones_at_its_value() {
        let d = Deployment::new();
        let text = "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"ftp\"\n[format]\ntype = \"csv\"\n";
        d.write("connectors/pos.toml", text);
        let file = d.path("connectors/pos.toml").display().to_string();
        assert_eq!(
            d.problems(),
            [format!(
                "{file}:4:8: unknown source type \"ftp\"; supported: file, amqp, mqtt, http_push, http_poll, sql"
            )]
        );
    }

    #[test]
    fn unknown_type_gets_a_suggestion() {
        let d = Deployment::new();
        let text = "system = \"pos\"\nmapping = \"pos_sales\"\n[source]\ntype = \"fiel\"\n[format]\ntype = \"csv\"\n";
        d.write("connectors/pos.toml", text);
        let problems = d.problems();
        assert!(
            problems[0].ends_with("4:8: unknown source type \"fiel\"; did you mean \"file\"?"),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_hub_file_names_the_path_and_the_flag() {
        let d = Deployment::new();
        let missing = d.path("config/nope.toml");
        let problems = load_with_env(&missing, Vec::new()).unwrap_err().to_string();
        assert!(
            problems.starts_with(&missing.display().to_string()),
            "{problems}"
        );
        assert!(
            problems.contains("not found") && problems.contains("--config"),
            "{problems}"
        );
    }

    #[test]
    fn unknown_hub_key_has_a_position_and_connectors_are_still_checked() {
        let d = Deployment::new();
        d.write("config/omnibus.toml", &HUB.replace("listen =", "lisen ="));
        d.write(
            "connectors/pos.toml",
            &pos("[format]\ntype = \"csv\"\nheader = 1\n"),
        );
        let problems: Vec<String> = d
            .load()
            .unwrap_err()
            .0
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].ends_with(
                "omnibus.toml:13:1: unknown key \"lisen\" in [admin]; did you mean \"listen\"?"
            ),
            "{problems:?}"
        );
        assert!(problems[1].contains("pos.toml:8:10:"), "{problems:?}");
    }

    #[test]
    fn duplicate_ids_name_both_files() {
        let d = Deployment::new();
        d.write("connectors/pos.toml", &pos("[format]\ntype = \"csv\"\n"));
        d.write(
            "connectors/pos2.toml",
            &format!("id = \"pos\"\n{}", pos("[format]\ntype = \"csv\"\n")),
        );
        let (good, problems) = d.connectors();
        assert!(good.is_empty());
        let (first, second) = (
            d.path("connectors/pos.toml"),
            d.path("connectors/pos2.toml"),
        );
        assert_eq!(
            problems.to_string(),
            format!(
                "{}: connector id \"pos\" (from the file name) is also used by {}; connector ids must be unique\n\
                 {}:1:6: connector id \"pos\" is also used by {}; connector ids must be unique\n",
                first.display(),
                second.display(),
                second.display(),
                first.display()
            )
        );
    }

    #[test]
    fn csv_columns_delimiter_and_durations() {
        let d = Deployment::new();
        let source = "[source]\ntype = \"file\"\npath = \"in\"\nsettle = \"500ms\"\nrescan = \"1m\"\nafter = \"delete\"\nmarker = \".done\"\nignore = [\"*.tmp\"]\n";
        let format = "[format]\ntype = \"csv\"\ndelimiter = \"\\t\"\nquote = \"'\"\ncolumns = [\"A\", \"B\"]\nskip_lines = 2\n";
        let text = format!(
            "system = \"pos\"\nmapping = \"pos_sales\"\ncontent_mode = \"structured\"\n{source}{format}"
        );
        d.write("connectors/pos.toml", &text);
        let (good, problems) = d.connectors();
        assert!(problems.is_empty(), "{problems}");
        let SourceSpec::File(s) = &good[0].source else {
            panic!("a file source")
        };
        assert_eq!(
            (s.settle, s.rescan),
            (Duration::from_millis(500), Duration::from_secs(60))
        );
        assert_eq!(
            (s.after, s.marker.as_deref(), s.ignore.as_slice()),
            (After::Delete, Some(".done"), &["*.tmp".to_string()][..])
        );
        let f = good[0]
            .format
            .as_ref()
            .and_then(|f| f.csv())
            .expect("a CSV format");
        assert_eq!((f.delimiter, f.quote, f.skip_lines), (b'\t', b'\'', 2));
        assert_eq!(f.columns, CsvColumns::Named(vec!["A".into(), "B".into()]));
        assert_eq!(
            good[0].content_mode,
            crate::config::connector::ContentMode::Structured
        );
    }

    #[test]
    fn csv_rules_are_checked() {
        let d = Deployment::new();
        let cases = [
            ("header = false\n", "8:10: header = false needs columns"),
            (
                "quote = \",\"\n",
                "8:9: delimiter and quote must be different characters",
            ),
            (
                "columns = []\n",
                "8:11: columns must name at least one column",
            ),
            (
                "columns = [\"A\", \"A\"]\n",
                "8:11: column \"A\" is named twice",
            ),
            (
                "delimiter = \"\\n\"\n",
                "8:13: delimiter must be one ASCII character",
            ),
        ];
        for (line, expected) in cases {
            d.write(
                "connectors/pos.toml",
                &pos(&format!("[format]\ntype = \"csv\"\n{line}")),
            );
            let problems = d.problems();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains(expected), "{problems:?}");
        }
    }

    #[test]
    fn semantic_problems_are_all_reported_in_file_order() {
        let d = Deployment::new();
        let text = "system = \"p o s\"\nmapping = \"pos_sales\"\nrouting_key = \"{{ type \"\n[source]\ntype = \"file\"\npath = \"in\"\nglob = \"[a\"\nsettle = \"2 parsecs\"\n[format]\ntype = \"csv\"\nheader = true\ncolumns = [\"A\"]\n";
        d.write("connectors/pos.toml", text);
        let problems = d.problems();
        let positions: Vec<&str> = problems
            .iter()
            .map(|p| {
                p.split(": ")
                    .next()
                    .unwrap()
                    .rsplit_once(".toml:")
                    .unwrap()
                    .1
            })
            .collect();
        assert_eq!(
            positions,
            ["1:10", "3:15", "7:8", "8:10", "11:10"],
            "{problems:?}"
        );
        assert!(problems[4].contains("exclude each other"), "{problems:?}");
    }

    #[test]
    fn freshness_expectations_are_read_and_checked_at_their_key() {
        let d = Deployment::new();
        let with = |line: &str| format!("{line}\n{}", pos("[format]\ntype = \"csv\"\n"));
        d.write(
            "connectors/pos.toml",
            &with("expect = \"daily by 02:00 Asia/Shanghai\""),
        );
        let files = load(&d.hub()).expect("loads");
        let expect = files.connectors[0].expect.as_ref().map(|e| e.describe());
        assert_eq!(expect.as_deref(), Some("daily by 02:00 Asia/Shanghai"));
        let cases = [
            (
                "expect = \"nightly\"",
                "pos.toml:1:10: expect = \"nightly\" is not an expectation",
            ),
            (
                "expect_every = \"0s\"",
                "pos.toml:1:16: expect_every must be longer than zero",
            ),
            (
                "expect_every = \"1h\"\nexpect = \"daily by 02:00\"",
                "pos.toml:2:10: give expect_every or expect, not both",
            ),
        ];
        for (line, expected) in cases {
            d.write("connectors/pos.toml", &with(line));
            let problems = d.problems();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains(expected), "{problems:?}");
        }
    }
}
