//! The systems that drop files: each sample is written into the connector's folder under a dot
//! name (which the connector ignores) and renamed to its own name, which the connector's glob must
//! match; a connector that waits for a marker file gets one after the rename.

use crate::config::connector::FileSourceSpec;
use std::path::{Path, PathBuf};

/// Drops `sample` into the connector's folder atomically; the file it became.
pub fn drop_sample(spec: &FileSourceSpec, sample: &Path) -> Result<PathBuf, String> {
    let name = sample
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no file name", sample.display()))?;
    let glob = globset::Glob::new(&spec.glob)
        .map_err(|e| format!("glob \"{}\": {e}", spec.glob))?
        .compile_matcher();
    if !glob.is_match(name) {
        return Err(format!(
            "the sample {name} does not match the connector's glob \"{}\": rename it in the demo manifest",
            spec.glob
        ));
    }
    let mut input =
        std::fs::File::open(sample).map_err(|e| format!("{}: {e}", sample.display()))?;
    std::fs::create_dir_all(&spec.path)
        .map_err(|e| format!("creating {}: {e}", spec.path.display()))?;
    let target = spec.path.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".demo")
        .tempfile_in(&spec.path)
        .map_err(|e| format!("writing into {}: {e}", spec.path.display()))?;
    std::io::copy(&mut input, &mut temp)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| format!("writing into {}: {e}", spec.path.display()))?;
    temp.persist(&target)
        .map_err(|e| format!("renaming to {}: {}", target.display(), e.error))?;
    if let Some(marker) = &spec.marker {
        let mut marked = target.clone().into_os_string();
        marked.push(marker);
        std::fs::write(&marked, b"")
            .map_err(|e| format!("writing the marker {}: {e}", Path::new(&marked).display()))?;
    }
    Ok(target)
}
