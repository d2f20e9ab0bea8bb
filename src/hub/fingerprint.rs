//! What a running connector was built from, reduced to one digest, so a reload restarts exactly
//! the connectors whose inputs changed: its connector file, its mapping file, the mapping's lookup
//! files and the schemas folder (a schema file may be shared by every event type).

use crate::config::connector::ConnectorSpec;
use crate::mapping::Mapping;
use std::path::Path;

/// The digest of the files a connector was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(blake3::Hash);

impl Fingerprint {
    /// The digest of `spec`'s files, `mapping`'s files and the schemas folder. A file that cannot
    /// be read counts as empty: the reload that follows reports it.
    pub fn of(spec: &ConnectorSpec, mapping: &Mapping, schemas: &Path) -> Self {
        let mut hasher = blake3::Hasher::new();
        // The id and mapping name too: one connector file may define several connectors.
        for text in [spec.id.as_str(), spec.mapping.as_str()] {
            add(&mut hasher, text.as_bytes());
        }
        add_file(&mut hasher, &spec.file);
        add_file(&mut hasher, Path::new(mapping.file()));
        for file in mapping.lookup_files() {
            add_file(&mut hasher, file);
        }
        for file in folder(schemas) {
            add_file(&mut hasher, &file);
        }
        Self(hasher.finalize())
    }
}

/// Adds `bytes` with its length, so that two inputs cannot run together.
fn add(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn add_file(hasher: &mut blake3::Hasher, path: &Path) {
    add(hasher, path.as_os_str().as_encoded_bytes());
    add(hasher, &std::fs::read(path).unwrap_or_default());
}

/// The files of a folder, in name order (none when it cannot be read).
fn folder(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::load_connector;

    const MAPPING: &str = "type = \"t.v1\"\n[fields]\nsku = { from = \"sku\" }\n";

    fn fingerprint(dir: &Path) -> Fingerprint {
        let file = dir.join("c.toml");
        let text = "system = \"s\"\nmapping = \"m\"\n[source]\ntype = \"file\"\npath = \"in\"\n\
                    [format]\ntype = \"csv\"\n";
        std::fs::write(&file, text).expect("connector");
        let spec = load_connector(&file, dir).expect("connector");
        let mapping = Mapping::load(&dir.join("m.toml")).expect("mapping");
        Fingerprint::of(&spec, &mapping, &dir.join("schemas"))
    }

    #[test]
    fn it_changes_with_the_mapping_or_a_schema_and_only_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("schemas")).expect("schemas");
        std::fs::write(dir.path().join("m.toml"), MAPPING).expect("mapping");
        let first = fingerprint(dir.path());
        assert_eq!(fingerprint(dir.path()), first, "same files, same digest");
        std::fs::write(
            dir.path().join("m.toml"),
            MAPPING.replace("sku\" }", "SKU\" }"),
        )
        .expect("mapping");
        let changed = fingerprint(dir.path());
        assert_ne!(changed, first, "a mapping change shows");
        std::fs::write(dir.path().join("schemas/t.v1.json"), "{}").expect("schema");
        assert_ne!(fingerprint(dir.path()), changed, "a schema change shows");
    }
}
