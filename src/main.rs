//! The `omnibus` command line: parses arguments and calls into the library.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use omnibus::config::load::{self, HubFiles};
use omnibus::mapping::Mapping;
use omnibus::preview::{Previewed, preview_file};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Omnibus: legacy systems in, canonical CloudEvents on RabbitMQ out.
///
/// Connectors (connectors/*.toml) read legacy inputs, mappings (mappings/*.toml) turn their records
/// into canonical events, and the hub publishes them to RabbitMQ with publisher confirms,
/// acknowledging a source only once every event derived from it is confirmed.
#[derive(Parser)]
#[command(name = "omnibus", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: start every connector and publish until stopped (Ctrl-C or SIGTERM).
    ///
    /// Connectors with configuration errors are reported and skipped; the others run.
    Run(ConfigArg),
    /// Load and compile every configuration file, run every mapping's examples, and print every
    /// problem with file:line:col. Exits 1 if there is any.
    Check(ConfigArg),
    /// Decode and map sample files with a connector's format and mapping, printing each canonical
    /// event as a CloudEvents JSON line on stdout and each failing record (with file and line) on
    /// stderr. Needs no broker. Exits 1 if any record failed.
    Map {
        #[command(flatten)]
        config: ConfigArg,
        /// The connector whose format and mapping to use.
        #[arg(long)]
        connector: String,
        /// Sample files to decode and map.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the canonical events arriving on the events exchange, one line each (type, subject,
    /// source, data), through a temporary queue. Needs only the broker.
    Tail {
        #[command(flatten)]
        config: ConfigArg,
        /// Event type pattern (AMQP topic syntax), e.g. `retail.sale.#`.
        #[arg(long = "type", default_value = "#")]
        pattern: String,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<usize>,
        /// Stop after this many seconds without an event.
        #[arg(long)]
        idle: Option<u64>,
    },
}

#[derive(clap::Args)]
struct ConfigArg {
    /// The hub configuration file.
    #[arg(long, default_value = "config/omnibus.toml", env = "OMNIBUS_CONFIG")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(c) => run(c.config),
        Command::Check(c) => check(c.config),
        Command::Map {
            config,
            connector,
            files,
        } => map(config.config, &connector, &files),
        Command::Tail {
            config,
            pattern,
            limit,
            idle,
        } => tail(config.config, pattern, limit, idle),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OMNIBUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(config: PathBuf) -> anyhow::Result<ExitCode> {
    let hub = load::load_hub(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let (connectors, problems) = load::load_connectors(&hub.paths.connectors, &hub.paths.mappings);
    if !problems.is_empty() {
        tracing::error!("some connectors are not started:\n{problems}");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn(stop_on_signal(cancel.clone()));
        omnibus::hub::run(&hub, connectors, cancel).await;
    });
    Ok(ExitCode::SUCCESS)
}

/// Cancels on the first SIGINT or SIGTERM.
async fn stop_on_signal(cancel: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still stops the hub");
                let _ = ctrl_c.await;
                cancel.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("stopping: finishing in-flight work");
    cancel.cancel();
}

fn check(config: PathBuf) -> anyhow::Result<ExitCode> {
    let report = omnibus::check::check(&config);
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    if !report.problems.is_empty() {
        eprintln!("{} problem(s) found", report.problems.len());
        return Ok(ExitCode::from(1));
    }
    println!(
        "ok: {} connector(s), {} mapping(s)",
        report.connectors, report.mappings
    );
    Ok(ExitCode::SUCCESS)
}

fn map(config: PathBuf, connector: &str, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let HubFiles {
        hub, connectors, ..
    } = load::load(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let Some(spec) = connectors.iter().find(|c| c.id == connector) else {
        let ids: Vec<_> = connectors.iter().map(|c| c.id.as_str()).collect();
        bail!("no connector \"{connector}\"; known: {}", ids.join(", "));
    };
    let mapping_path = hub.paths.mappings.join(format!("{}.toml", spec.mapping));
    let mapping = Mapping::load(&mapping_path).map_err(|d| anyhow::anyhow!("{d}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = 0usize;
    for file in files {
        let result = preview_file(spec, &mapping, file, |p| match p {
            Previewed::Event(json) => {
                let _ = out.write_all(&json);
                let _ = out.write_all(b"\n");
            }
            Previewed::Filtered => {}
            Previewed::Failed { origin, reason } => {
                failed += 1;
                eprintln!("{origin}: {reason}");
            }
        });
        if let Err(e) = result {
            failed += 1;
            eprintln!("{e}");
        }
    }
    out.flush().context("writing events to stdout")?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn tail(
    config: PathBuf,
    pattern: String,
    limit: Option<usize>,
    idle: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let hub = load::load_hub(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let opts = omnibus::route::tail::TailOptions {
        url: hub.broker.url.clone(),
        exchange: hub.broker.exchange.clone(),
        pattern,
        limit,
        idle: idle.map(std::time::Duration::from_secs),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let seen = runtime
        .block_on(omnibus::route::tail::tail(
            &opts,
            || eprintln!("tail: listening on {} for {}", opts.exchange, opts.pattern),
            |line| println!("{line}"),
        ))
        .with_context(|| format!("consuming from {}", opts.exchange))?;
    eprintln!("tail: {seen} event(s)");
    Ok(ExitCode::SUCCESS)
}
