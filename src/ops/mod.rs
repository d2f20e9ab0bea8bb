//! Operations commands on a deployment's state: `omnibus dlq` ([`dlq`]: list, show, purge and
//! replay dead letters), `omnibus offsets` ([`offsets`]: show and reset what connectors have
//! taken) and `omnibus status` ([`status`]: a running hub's connectors, from its admin API) and `omnibus tap`
//! ([`tap`]: samples of what a running hub's connectors produce, from its admin API). Each returns data or an [`OpsError`]; the command line prints them, with the renderings
//! here.

pub mod dlq;
pub mod offsets;
pub mod status;
pub mod tap;

use crate::config::hub::HubConfig;
use crate::config::load;
use crate::state::{LockError, Store, StoreError};
use chrono::{DateTime, SecondsFormat};
use std::path::Path;

/// Why an operations command could not do what it was asked; nothing was changed unless it says so.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("the configuration has problems (run `omnibus check`):\n{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("no dead letter #{0}")]
    NoLetter(i64),
    #[error(
        "a hub is running on state dir {dir} (pid {pid}): stop it first, or change the offsets \
         through the running hub's admin API (POST /api/connectors/{connector}/offsets)"
    )]
    HubRunning {
        dir: String,
        pid: String,
        connector: String,
    },
    #[error("cannot replay the letters of connector \"{connector}\": {reason}")]
    Connector { connector: String, reason: String },
    #[error(
        "replay stopped: {reason}; {replayed} letter(s) were replayed before, the others are unchanged"
    )]
    Aborted { reason: String, replayed: u64 },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The hub settings of the deployment whose hub file is `config`.
pub fn hub_config(config: &Path) -> Result<HubConfig, OpsError> {
    load::load_hub(config).map_err(|d| OpsError::Config(d.to_string()))
}

/// The deployment's state store (`[state] dir`).
pub fn open_store(config: &Path) -> Result<Store, OpsError> {
    Ok(Store::open(&hub_config(config)?.state.dir)?)
}

/// A Unix time as RFC 3339 (UTC, seconds).
pub fn time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

/// A plain-text table: a header line and one line per row, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| line(&widths, row))
        .collect()
}

fn line(widths: &[usize], cells: &[String]) -> String {
    let mut out = String::new();
    for (i, (width, cell)) in widths.iter().zip(cells).enumerate() {
        if i + 1 == cells.len() {
            out.push_str(cell);
        } else {
            let pad = width.saturating_sub(cell.chars().count());
            out.push_str(cell);
            out.push_str(&" ".repeat(pad + 2));
        }
    }
    out.push('\n');
    out
}

/// `text` on one line and at most `max` characters long, cut with `…`.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let rows = vec![
            vec!["1".to_string(), "pos".to_string(), "bad".to_string()],
            vec!["22".to_string(), "erp-inv".to_string(), "worse".to_string()],
        ];
        assert_eq!(
            table(&["id", "connector", "error"], &rows),
            "id  connector  error\n1   pos        bad\n22  erp-inv    worse\n"
        );
    }

    #[test]
    fn shortened_text_is_one_line_and_cut() {
        assert_eq!(shorten("a\n  b", 10), "a b");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
        assert_eq!(time(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
