//! The binary without a broker: a deployment folder (hub file with an unreachable broker and the
//! repository's schemas, empty connectors, mappings and spool folders) and running `omnibus` on it.

use std::path::Path;
use std::process::{Command, Output};

/// A deployment folder for commands that need no broker (`check`, `map`, `test`, `inspect`).
pub fn deployment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["config", "connectors", "mappings", "spool"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    std::fs::write(
        dir.path().join("config/omnibus.toml"),
        format!(
            "[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[paths]\nschemas = \"{}\"\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")
        ),
    )
    .expect("hub file");
    dir
}

/// Runs `omnibus ARGS --config CONFIG`.
pub fn omnibus(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run omnibus")
}

/// The JSON lines a command printed on stdout.
pub fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Panics with the command's stderr unless it exited 0.
#[track_caller]
pub fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
