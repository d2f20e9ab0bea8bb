//! What happens to a file once every record is settled: it moves to `done/` (or to `error/` when
//! no record succeeded) or is deleted, and a file with failed records gets a report beside it
//! listing each failed line and why.

use crate::config::connector::After;
use crate::connector::tally::Tally;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// Whether the file goes to `error/`: it was refused, or had failures and nothing else.
fn all_failed(tally: &Tally) -> bool {
    tally.refused.is_some()
        || (tally.failed > 0
            && tally.published == 0
            && tally.filtered == 0
            && tally.duplicates == 0)
}

/// The report written beside a file with failed records: each failed line and why.
fn report(tally: &Tally, file: &Path) -> String {
    let mut out = format!(
        "# {}: {} record(s) failed, {} published, {} filtered out\n# line\treason\n",
        file.display(),
        tally.failed,
        tally.published,
        tally.filtered
    );
    for (line, reason) in tally.failures() {
        let _ = writeln!(out, "{line}\t{}", reason.replace('\n', " "));
    }
    let unlisted = tally.failed.saturating_sub(tally.failures().len() as u64);
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "# … and {unlisted} more; every one is in the dead-letter queue"
        );
    }
    out
}

/// Where a settled file ended up.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    Moved(PathBuf),
    Deleted,
}

/// Moves or deletes a settled file (and its marker), writing the report first when needed.
pub fn finish(
    path: &Path,
    marker: Option<&Path>,
    after: After,
    tally: &Tally,
) -> io::Result<Finished> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let dest_dir = folder.join(if all_failed(tally) { "error" } else { "done" });
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    if tally.failed > 0 {
        std::fs::create_dir_all(&dest_dir)?;
        let mut report_name = name.clone().into_os_string();
        report_name.push(".report.txt");
        let report_path = unique(&dest_dir.join(report_name));
        std::fs::write(report_path, report(tally, path))?;
    }
    let finished = match after {
        After::Move => {
            std::fs::create_dir_all(&dest_dir)?;
            let dest = unique(&dest_dir.join(&name));
            std::fs::rename(path, &dest)?;
            Finished::Moved(dest)
        }
        After::Delete => {
            std::fs::remove_file(path)?;
            Finished::Deleted
        }
    };
    if let Some(marker) = marker {
        match std::fs::remove_file(marker) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(finished)
}

/// `path`, or `path` with `.1`, `.2`… appended when a file of that name already exists.
fn unique(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    (1..)
        .map(|n| {
            let mut name = path.as_os_str().to_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::Origin;

    fn origin(line: u64) -> Origin {
        Origin {
            connector: "c".into(),
            file: "f".into(),
            line,
            offset: 0,
            locator: None,
        }
    }

    #[test]
    fn partial_failure_moves_to_done_with_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "x").unwrap();
        let mut t = Tally::default();
        t.published = 2;
        t.failure(&origin(3), "bad decimal");
        let done = finish(&f, None, After::Move, &t).unwrap();
        assert_eq!(done, Finished::Moved(dir.path().join("done/a.csv")));
        let report = std::fs::read_to_string(dir.path().join("done/a.csv.report.txt")).unwrap();
        assert!(report.contains("3\tbad decimal"), "{report}");
    }

    #[test]
    fn all_failed_goes_to_error_and_names_do_not_clash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("error")).unwrap();
        std::fs::write(dir.path().join("error/a.csv"), "old").unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "x").unwrap();
        let mut t = Tally::default();
        t.failure(&origin(2), "bad");
        let done = finish(&f, None, After::Move, &t).unwrap();
        assert_eq!(done, Finished::Moved(dir.path().join("error/a.csv.1")));
        assert!(dir.path().join("error/a.csv.report.txt").exists());
    }

    #[test]
    fn delete_removes_file_and_marker() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        let m = dir.path().join("a.csv.done");
        std::fs::write(&f, "x").unwrap();
        std::fs::write(&m, "").unwrap();
        let mut t = Tally::default();
        t.published = 1;
        assert_eq!(
            finish(&f, Some(&m), After::Delete, &t).unwrap(),
            Finished::Deleted
        );
        assert!(!f.exists() && !m.exists());
    }
}
