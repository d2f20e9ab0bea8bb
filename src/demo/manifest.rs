//! The demo manifest (`examples/demo.toml`): which sample inputs `omnibus demo` plays into each
//! connector family (a connector file's stem), with paths relative to the manifest's folder. SQL
//! families are not listed: their systems' scripts, `<examples>/<system>/*.sql`, are loaded.

use super::DemoError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the manifest says for one connector family.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    /// Sample files, relative to the manifest's folder, played in this order.
    pub samples: Vec<PathBuf>,
    /// What the wildcards (`+`, `#`) of an MQTT connector's topic filter stand for, e.g. a store
    /// code.
    #[serde(default)]
    pub topic: Option<String>,
}

/// A read manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest's folder: sample paths and `<system>/*.sql` are found under it.
    pub dir: PathBuf,
    /// Samples per connector family.
    pub families: BTreeMap<String, Samples>,
}

impl Manifest {
    /// Reads the manifest at `path`; every sample it names must exist.
    pub fn load(path: &Path) -> Result<Self, DemoError> {
        let problem = |reason: String| DemoError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let families: BTreeMap<String, Samples> =
            toml::from_str(&text).map_err(|e| problem(e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let manifest = Self { dir, families };
        for (family, samples) in &manifest.families {
            for sample in &samples.samples {
                let file = manifest.dir.join(sample);
                if !file.is_file() {
                    return Err(problem(format!(
                        "[{family}] names {}, which is not a file",
                        file.display()
                    )));
                }
            }
        }
        Ok(manifest)
    }

    /// The sample files of `family`, resolved; empty when the manifest does not list it.
    pub fn samples(&self, family: &str) -> Vec<PathBuf> {
        self.families
            .get(family)
            .map(|s| s.samples.iter().map(|p| self.dir.join(p)).collect())
            .unwrap_or_default()
    }

    /// The SQL scripts of `system`: `<dir>/<system>/*.sql`, in name order.
    pub fn sql_scripts(&self, system: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.dir.join(system)) else {
            return Vec::new();
        };
        let mut scripts: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql") && p.is_file())
            .collect();
        scripts.sort();
        scripts
    }
}
