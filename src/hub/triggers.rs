//! What asks the hub to reload besides `POST /api/reload`: SIGHUP, and with `--watch` a change
//! under the connectors, mappings or schemas folder, debounced so that saving several files
//! reloads once. The fleet logs each reload's outcome.

use super::RunOptions;
use super::control::{Command, Control};
use crate::config::hub::PathsConfig;
use notify::{RecursiveMode, Watcher};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the folders must stay quiet before `--watch` reloads.
const SETTLE: Duration = Duration::from_millis(500);

/// Starts the SIGHUP listener, and the folder watcher when `options.watch`.
pub(super) fn spawn(
    tracker: &TaskTracker,
    paths: &PathsConfig,
    options: RunOptions,
    control: Control,
    cancel: CancellationToken,
) {
    #[cfg(unix)]
    tracker.spawn(on_hangup(control.clone(), cancel.clone()));
    if options.watch {
        tracker.spawn(on_change(paths.clone(), control, cancel));
    }
}

#[cfg(unix)]
async fn on_hangup(control: Control, cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload through the admin API");
            return;
        }
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            Some(()) = hangups.recv() => {
                tracing::info!("SIGHUP: reloading connectors and mappings");
                let _ = control.send(Command::Reload).await;
            }
        }
    }
}

async fn on_change(paths: PathsConfig, control: Control, cancel: CancellationToken) {
    let (tx, mut changed) = mpsc::channel(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.try_send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::warn!(error = %e, "--watch: cannot watch the configuration folders; reload with SIGHUP or the admin API");
            return;
        }
    };
    for dir in [&paths.connectors, &paths.mappings, &paths.schemas] {
        if let Err(e) = watcher.watch(dir, RecursiveMode::Recursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "--watch: cannot watch this folder");
        }
    }
    tracing::info!("--watch: reloading when connectors, mappings or schemas change");
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            Some(()) = changed.recv() => {}
        }
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, changed.recv()).await {}
        tracing::info!("--watch: configuration changed; reloading");
        let _ = control.send(Command::Reload).await;
    }
}
