//! Finding files that are ready: matched by the connector's glob, not ignored, complete (size and
//! modification time unchanged for `settle`, and the done-marker present when one is configured),
//! and not known to have failed in their current state.

use crate::config::connector::FileSourceSpec;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// What a file looked like when last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    shape: Shape,
    stable_since: Instant,
}

/// Remembers files across scans to decide when each is complete.
#[derive(Debug)]
pub struct Scanner {
    dir: PathBuf,
    glob: GlobSet,
    ignore: GlobSet,
    marker: Option<String>,
    settle: Duration,
    seen: HashMap<PathBuf, Seen>,
    /// Files whose last attempt failed for a reason the file itself must fix; retried once changed.
    failed: HashMap<PathBuf, Shape>,
    last_error: Option<String>,
}

/// The result of one scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// Complete files, oldest first.
    pub ready: Vec<PathBuf>,
    /// When the next not-yet-settled file will have settled.
    pub next_settle: Option<Instant>,
}

impl Scanner {
    pub fn new(spec: &FileSourceSpec) -> Result<Self, globset::Error> {
        let mut ignore = GlobSetBuilder::new();
        for pattern in &spec.ignore {
            ignore.add(Glob::new(pattern)?);
        }
        Ok(Self {
            dir: spec.path.clone(),
            glob: GlobSetBuilder::new().add(Glob::new(&spec.glob)?).build()?,
            ignore: ignore.build()?,
            marker: spec.marker.clone(),
            settle: spec.settle,
            seen: HashMap::new(),
            failed: HashMap::new(),
            last_error: None,
        })
    }

    /// Lists the folder and returns the files ready to take. An unreadable folder is logged once
    /// per distinct error and yields nothing; the next scan tries again.
    pub fn scan(&mut self, connector: &str) -> Scan {
        let now = Instant::now();
        let entries = match self.list() {
            Ok(entries) => {
                if self.last_error.take().is_some() {
                    tracing::info!(connector, dir = %self.dir.display(), "folder readable again");
                }
                entries
            }
            Err(e) => {
                let msg = e.to_string();
                if self.last_error.as_ref() != Some(&msg) {
                    tracing::error!(connector, dir = %self.dir.display(), error = %msg, "cannot read the drop folder; retrying at the next scan");
                    self.last_error = Some(msg);
                }
                return Scan::default();
            }
        };
        let present: HashSet<&PathBuf> = entries.iter().map(|(p, _)| p).collect();
        self.seen.retain(|path, _| present.contains(path));
        self.failed.retain(|path, _| present.contains(path));
        let mut scan = Scan::default();
        let mut ready = Vec::new();
        for (path, shape) in entries {
            if self.failed.get(&path) == Some(&shape) || !self.has_marker(&path) {
                continue;
            }
            let seen = self.seen.entry(path.clone()).or_insert(Seen {
                shape,
                stable_since: now,
            });
            if seen.shape != shape {
                *seen = Seen {
                    shape,
                    stable_since: now,
                };
            }
            let settled_at = seen.stable_since + self.settle;
            if settled_at <= now {
                ready.push((shape.modified, path));
            } else {
                scan.next_settle = Some(scan.next_settle.map_or(settled_at, |n| n.min(settled_at)));
            }
        }
        ready.sort();
        scan.ready = ready.into_iter().map(|(_, p)| p).collect();
        scan
    }

    /// Remembers that `path` failed as it is now; it is skipped until its size or time changes.
    pub fn mark_failed(&mut self, path: &Path) {
        if let Ok(meta) = std::fs::metadata(path) {
            self.failed.insert(path.to_path_buf(), shape_of(&meta));
        }
    }

    /// Forgets a file that was taken (moved or deleted).
    pub fn taken(&mut self, path: &Path) {
        self.seen.remove(path);
        self.failed.remove(path);
    }

    /// The done-marker of `path`, when markers are configured.
    pub fn marker_of(&self, path: &Path) -> Option<PathBuf> {
        let marker = self.marker.as_ref()?;
        let mut name = path.file_name()?.to_os_string();
        name.push(marker);
        Some(path.with_file_name(name))
    }

    fn has_marker(&self, path: &Path) -> bool {
        self.marker_of(path).is_none_or(|m| m.is_file())
    }

    fn list(&self) -> std::io::Result<Vec<(PathBuf, Shape)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !self.glob.is_match(name) || self.ignore.is_match(name) || self.is_marker(name) {
                continue;
            }
            match entry.metadata() {
                Ok(meta) if meta.is_file() => out.push((entry.path(), shape_of(&meta))),
                _ => continue,
            }
        }
        Ok(out)
    }

    fn is_marker(&self, name: &str) -> bool {
        self.marker
            .as_ref()
            .is_some_and(|m| name.ends_with(m.as_str()))
    }
}

fn shape_of(meta: &std::fs::Metadata) -> Shape {
    Shape {
        len: meta.len(),
        modified: meta.modified().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::connector::{After, OnDuplicate};

    fn spec(dir: &Path, settle: Duration, marker: Option<&str>) -> FileSourceSpec {
        FileSourceSpec {
            path: dir.to_path_buf(),
            glob: "*.csv".into(),
            settle,
            rescan: Duration::from_secs(1),
            after: After::Move,
            marker: marker.map(str::to_string),
            ignore: vec![".*".into(), "*.tmp".into()],
            on_duplicate: OnDuplicate::Skip,
            max_inflated_bytes: 1 << 20,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_is_ready_once_it_has_not_changed_for_settle() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scanner::new(&spec(dir.path(), Duration::from_secs(2), None)).unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "x\n").unwrap();
        std::fs::write(dir.path().join("b.csv.tmp"), "x\n").unwrap();
        std::fs::write(dir.path().join(".c.csv"), "x\n").unwrap();
        let first = s.scan("t");
        assert!(first.ready.is_empty());
        assert!(first.next_settle.is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        std::fs::write(&f, "x\ny\n").unwrap();
        assert!(
            s.scan("t").ready.is_empty(),
            "a growing file restarts its settle time"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(s.scan("t").ready, vec![f]);
    }

    #[tokio::test(start_paused = true)]
    async fn marker_is_required_when_configured_and_failed_files_wait_for_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scanner::new(&spec(dir.path(), Duration::ZERO, Some(".done"))).unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "x\n").unwrap();
        assert!(s.scan("t").ready.is_empty());
        std::fs::write(dir.path().join("a.csv.done"), "").unwrap();
        assert_eq!(s.scan("t").ready, vec![f.clone()]);
        s.mark_failed(&f);
        assert!(s.scan("t").ready.is_empty());
        std::fs::write(&f, "x\ny\n").unwrap();
        assert_eq!(s.scan("t").ready, vec![f]);
    }

    #[test]
    fn a_missing_folder_yields_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scanner::new(&spec(&dir.path().join("nope"), Duration::ZERO, None)).unwrap();
        assert!(s.scan("t").ready.is_empty());
    }
}
