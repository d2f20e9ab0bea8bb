//! The `omnibus` command line: parses arguments and calls into the library.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use omnibus::admin::{DEFAULT_TAP_LIMIT, MAX_TAP_LIMIT};
use omnibus::canonical::schema::{Schema, Schemas};
use omnibus::config::connector::FormatSpec;
use omnibus::config::connector_file::parse_format;
use omnibus::config::load::{self, HubFiles};
use omnibus::config::toml_de::Source;
use omnibus::connector::tap::Stage;
use omnibus::format::compressed::DEFAULT_MAX_INFLATED;
use omnibus::mapping::Mapping;
use omnibus::ops::{dlq, offsets};
use omnibus::preview::{Previewed, preview_file};
use omnibus::scaffold::{Request, csv_format};
use omnibus::state::dead_letters::{Filter, StatusFilter};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
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
    /// How log lines are written to stderr: `text` for people, `json` (one object per line, with
    /// the connector, file and event fields) for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "OMNIBUS_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: start every connector and publish until stopped (Ctrl-C or SIGTERM).
    ///
    /// Connectors with configuration errors are reported and skipped; the others run. SIGHUP (or
    /// `omnibus reload`) re-reads the connectors and mappings and restarts only the changed ones.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Also reload whenever a file under the connectors, mappings or schemas folder changes.
        #[arg(long)]
        watch: bool,
    },
    /// Load and compile every configuration file, run every mapping's examples, and print every
    /// problem with file:line:col. Exits 1 if there is any.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Also list every connector (a family's instances one by one): id, system, source type,
        /// mapping and where it reads.
        #[arg(long)]
        list: bool,
    },
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
    /// Test mappings: run every mapping's `[[examples]]` and golden sample files
    /// (`<mappings>/tests/<mapping>/<sample>` against `<sample>.expected.jsonl`, decoded with the
    /// format of a connector using the mapping), printing a diff for each difference. Exits 1 if
    /// anything fails.
    Test {
        #[command(flatten)]
        config: ConfigArg,
        /// Only these mappings (file stems); all of them by default.
        mappings: Vec<String>,
        /// Write the expected files of the golden samples from their actual outcomes.
        #[arg(long)]
        bless: bool,
        /// Also list, per mapping, the source columns it never reads and the schema fields it
        /// never sets.
        #[arg(long)]
        coverage: bool,
    },
    /// Write a starting mapping for a new source from a sample file: a field per column, typed
    /// from its values, with the first record as an example. Prints it, or writes --output.
    Scaffold(ScaffoldArgs),
    /// Decode a file and print its records as JSON lines with their origins (file, line, byte
    /// offset, element path…): what a mapping will receive. Needs no mapping and no broker.
    /// Exits 1 if any record could not be decoded.
    Inspect {
        #[command(flatten)]
        config: ConfigArg,
        /// The file to decode (compressed files and zip archives are read through).
        file: PathBuf,
        #[command(flatten)]
        format: FormatArgs,
        /// Stop after this many lines.
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
    /// Print the canonical events arriving on the events exchange, one line each (type, subject,
    /// the system and connector of its source, its first data fields), through a temporary
    /// queue, and when it stops, how many events came per type and per legacy system. Needs only
    /// the broker.
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
    /// Play the deployment's legacy systems into a running hub: for every connector, the samples
    /// the demo manifest lists for its family, delivered the way its system does (a file dropped
    /// in its folder, a signed webhook, a message on its queue or topic, rows in its database, the
    /// pages of its API, served until the hub has read them). Waits for the hub to be ready first.
    Demo {
        #[command(flatten)]
        config: ConfigArg,
        /// The demo manifest: sample files per connector family.
        #[arg(long, default_value = "examples/demo.toml")]
        samples: PathBuf,
        /// Print what each connector would get as JSON lines, and play nothing.
        #[arg(long)]
        plan: bool,
        /// Seconds to wait for the hub to be ready, and then for it to read the stand-in APIs.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Print a running hub's connectors (state, last success, last error) from its admin API.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// The admin API's base URL; by default from `[admin] listen` in the hub file. Sends the
        /// token in OMNIBUS_ADMIN_TOKEN when it is set.
        #[arg(long)]
        admin: Option<String>,
    },
    /// Print samples of what a running hub's connectors produce right now, one JSON line each, from
    /// its admin API (the broker is not touched): records as decoded (with file and line), events
    /// as mapped, or events as published (confirmed by the broker, or stored in the outbox).
    /// Exits 0 once --limit samples are printed.
    Tap {
        #[command(flatten)]
        admin: AdminArgs,
        /// Only this connector's samples; every connector's by default.
        #[arg(long)]
        connector: Option<String>,
        /// Where to sample: decoded, mapped or published.
        #[arg(long, default_value = "mapped", value_parser = parse_stage)]
        stage: Stage,
        /// Stop after this many samples.
        #[arg(long, default_value_t = DEFAULT_TAP_LIMIT,
              value_parser = clap::value_parser!(u64).range(1..=MAX_TAP_LIMIT))]
        limit: u64,
    },
    /// Pause, resume or poll a connector of the running hub now, through its admin API.
    Connectors {
        #[command(subcommand)]
        command: ConnectorsCommand,
    },
    /// Make the running hub re-read its connectors and mappings: only changed connectors restart,
    /// and a configuration that fails `check` is refused (the running one stays).
    Reload(AdminArgs),
    /// Dead letters kept in the state store: list, show, replay after a fix, purge.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// What connectors have taken (file ledger, positions, outbox): show, or reset one connector.
    Offsets {
        #[command(subcommand)]
        command: OffsetsCommand,
    },
}

/// How a sample file is decoded: a connector's `[format]`, or flags.
#[derive(clap::Args)]
struct FormatArgs {
    /// Decode the sample with this connector's format instead of the flags below.
    #[arg(long)]
    connector: Option<String>,
    /// The sample's format: `csv` (with the flags below), a format type that needs no settings
    /// (`ndjson`), or a `[format]` table's TOML, e.g. 'type = "xml"
    /// record = "/ORDERS05/IDOC"'.
    #[arg(long, default_value = "csv", conflicts_with = "connector")]
    format: String,
    /// CSV field delimiter: one ASCII character, or `\t` for a tab.
    #[arg(long, default_value = ",", conflicts_with = "connector")]
    delimiter: String,
    /// CSV charset (a WHATWG label: utf-8, gbk, gb18030, big5, shift_jis, …), or `detect` to
    /// guess it from the file's first 64 KiB.
    #[arg(long, default_value = "utf-8", conflicts_with = "connector")]
    encoding: String,
    /// CSV without a header line: columns are named col1 … colN.
    #[arg(long, conflicts_with = "connector")]
    no_header: bool,
}

#[derive(clap::Args)]
struct ScaffoldArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The sample file.
    #[arg(long)]
    sample: PathBuf,
    #[command(flatten)]
    format: FormatArgs,
    /// The event type the mapping produces; its schema, when the deployment has one, names and
    /// types the fields.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Write the mapping to this file (never overwritten) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters, oldest first: id, time of the last failure, connector, file:line, stage,
    /// attempts, error.
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        filter: LetterFilter,
        #[command(flatten)]
        status: StatusArg,
        /// Print the letters as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show everything about one dead letter: origin, error, mapping and version, raw bytes (text,
    /// or a hex dump when they are not UTF-8) and the decoded record.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The letter's id (from `dlq list`).
        id: i64,
    },
    /// Replay open dead letters with their connector's current mapping: each record is mapped
    /// again and published; a letter is marked replayed once the broker confirmed its event, and a
    /// record that fails again counts one more attempt. Exits 1 if any still fails.
    Replay {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        filter: LetterFilter,
        /// Map the letters, but publish nothing and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also replay letters that already failed the maximum number of times.
        #[arg(long)]
        force: bool,
    },
    /// Delete dead letters from the state store and print how many.
    Purge {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        filter: LetterFilter,
        #[command(flatten)]
        status: StatusArg,
        /// Only count the letters that would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which dead letters a command takes.
#[derive(clap::Args)]
struct LetterFilter {
    /// Only this connector's letters.
    #[arg(long)]
    connector: Option<String>,
    /// Only letters that failed last since then: an RFC 3339 time, or a duration (`2h`, `30min`)
    /// meaning that long ago.
    #[arg(long, value_parser = dlq::parse_since)]
    since: Option<i64>,
    /// Only letters whose error contains this text (ignoring ASCII case).
    #[arg(long)]
    error: Option<String>,
    /// Only letters that failed last at this stage: decode, map, validate or encode.
    #[arg(long)]
    stage: Option<String>,
    /// At most this many letters.
    #[arg(long)]
    limit: Option<u64>,
}

#[derive(clap::Args)]
struct StatusArg {
    /// Letters with this status: open, replayed or all.
    #[arg(long, default_value = "open")]
    status: StatusFilter,
}

impl LetterFilter {
    fn with(self, status: StatusFilter) -> Filter {
        Filter {
            connector: self.connector,
            since: self.since,
            error: self.error,
            stage: self.stage,
            ids: Vec::new(),
            status,
            limit: self.limit,
            after: None,
        }
    }
}

#[derive(Subcommand)]
enum OffsetsCommand {
    /// Show the file ledger (state, rows done, published/failed, short hash, path), the positions
    /// (cursors, watermarks) and the messages waiting in the outbox.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this connector's.
        #[arg(long)]
        connector: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reset a connector: without --to, forget its ledger and positions (files dropped again are
    /// taken as new); with --to, set one position. Refused while a hub runs on the state dir.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        /// The connector to reset.
        #[arg(long)]
        connector: String,
        /// The value to set the position to.
        #[arg(long)]
        to: Option<String>,
        /// The position to set.
        #[arg(long, requires = "to", default_value = offsets::DEFAULT_POSITION)]
        name: String,
    },
}

#[derive(Subcommand)]
enum ConnectorsCommand {
    /// Stop taking input (in-flight work is finished or kept first) until resumed or restarted.
    Pause {
        /// The connector's id.
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Start taking input again.
    Resume {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Rescan the folder or poll the API or table now (file, http_poll and sql connectors).
    PollNow {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Where the running hub's admin API is.
#[derive(clap::Args)]
struct AdminArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The admin API's base URL; by default from `[admin] listen` in the hub file. Sends the
    /// token in OMNIBUS_ADMIN_TOKEN when it is set.
    #[arg(long)]
    admin: Option<String>,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// The hub configuration file.
    #[arg(long, default_value = "config/omnibus.toml", env = "OMNIBUS_CONFIG")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Run { config, watch } => run(config.config, watch),
        Command::Check { config, list } => check(config.config, list),
        Command::Map {
            config,
            connector,
            files,
        } => map(config.config, &connector, &files),
        Command::Test {
            config,
            mappings,
            bless,
            coverage,
        } => test(
            config.config,
            &omnibus::mapping_test::Options {
                mappings,
                bless,
                coverage,
            },
        ),
        Command::Scaffold(args) => scaffold(args),
        Command::Inspect {
            config,
            file,
            format,
            limit,
        } => inspect(&config.config, &file, &format, limit),
        Command::Tail {
            config,
            pattern,
            limit,
            idle,
        } => tail(config.config, pattern, limit, idle),
        Command::Demo {
            config,
            samples,
            plan,
            wait,
        } => demo(&config.config, &samples, plan, wait),
        Command::Status { config, admin } => status(AdminArgs { config, admin }),
        Command::Tap {
            admin,
            connector,
            stage,
            limit,
        } => tap(admin, connector, stage, limit),
        Command::Connectors { command } => connectors_command(command),
        Command::Reload(admin) => reload(admin),
        Command::Dlq { command } => dlq_command(command),
        Command::Offsets { command } => offsets_command(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OMNIBUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

fn run(config: PathBuf, watch: bool) -> anyhow::Result<ExitCode> {
    let hub = load::load_hub(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let (connectors, problems) = load::load_connectors(&hub.paths.connectors, &hub.paths.mappings);
    if !problems.is_empty() {
        tracing::error!("some connectors are not started:\n{problems}");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let timeout = hub.delivery.shutdown_timeout;
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let files = load::HubFiles {
            hub,
            hub_path: config,
            connectors,
        };
        let options = omnibus::hub::RunOptions { watch };
        let hub_run = omnibus::hub::run(files, options, cancel.clone());
        tokio::pin!(hub_run);
        tokio::select! {
            result = &mut hub_run => return result.map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from),
            () = signal() => {}
        }
        tracing::info!(timeout = ?timeout, "stopping: intake stopped, finishing or storing in-flight work (a second signal exits at once)");
        cancel.cancel();
        tokio::select! {
            result = &mut hub_run => result.map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from),
            () = tokio::time::sleep(timeout) => {
                tracing::warn!("shutdown timeout reached; exiting. Inputs not yet acknowledged stay at their sources and are read again");
                Ok(ExitCode::SUCCESS)
            }
            () = signal() => {
                tracing::warn!("second signal: exiting at once. Inputs not yet acknowledged stay at their sources and are read again");
                Ok(ExitCode::from(130))
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Resolves on the next SIGINT or SIGTERM.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                tracing::warn!("cannot listen for SIGTERM; Ctrl-C still stops the hub");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn check(config: PathBuf, list: bool) -> anyhow::Result<ExitCode> {
    let report = omnibus::check::check(&config);
    if list {
        print_connectors(&report.connectors);
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    if !report.problems.is_empty() {
        eprintln!("{} problem(s) found", report.problems.len());
        return Ok(ExitCode::from(1));
    }
    println!(
        "ok: {} connector(s), {} mapping(s)",
        report.connectors.len(),
        report.mappings
    );
    Ok(ExitCode::SUCCESS)
}

/// `check --list`: one line per connector, columns aligned.
fn print_connectors(connectors: &[omnibus::config::connector::ConnectorSpec]) {
    let rows: Vec<Vec<String>> = connectors
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.system.clone(),
                c.source.kind().to_string(),
                c.mapping.clone(),
                c.source.reads(),
            ]
        })
        .collect();
    let headers = ["ID", "SYSTEM", "SOURCE", "MAPPING", "READS"];
    print!("{}", omnibus::ops::table(&headers, &rows));
}

fn map(config: PathBuf, connector: &str, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let HubFiles {
        hub, connectors, ..
    } = load::load(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let Some(spec) = connectors.iter().find(|c| c.id == connector) else {
        let ids: Vec<_> = connectors.iter().map(|c| c.id.as_str()).collect();
        bail!("no connector \"{connector}\"; known: {}", ids.join(", "));
    };
    let schemas = Schemas::load(&hub.paths.schemas).map_err(|p| anyhow::anyhow!(p.join("\n")))?;
    let (mapping, schema) = Mapping::load_checked(&hub.paths.mappings, &spec.mapping, &schemas)
        .map_err(|e| anyhow::anyhow!("connector \"{connector}\": {e}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = 0usize;
    for file in files {
        let result = preview_file(spec, &mapping, Some(&schema), file, |p| match p {
            Previewed::Event(json) => {
                let _ = out.write_all(&json);
                let _ = out.write_all(b"\n");
            }
            Previewed::Filtered { .. } => {}
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

fn test(config: PathBuf, options: &omnibus::mapping_test::Options) -> anyhow::Result<ExitCode> {
    let report = omnibus::mapping_test::run(&config, options)?;
    for problem in &report.connector_problems {
        eprintln!("warning: connector left out: {problem}");
    }
    put(&report.to_string())?;
    Ok(match report.passed() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

fn scaffold(args: ScaffoldArgs) -> anyhow::Result<ExitCode> {
    let format = sample_format(&args.config.config, &args.format)?;
    let mut request = Request::new(&args.sample, format);
    if let Some(event_type) = &args.event_type {
        request.schema = deployment_schema(&args.config.config, event_type)?;
    }
    request.event_type = args.event_type;
    let text = omnibus::scaffold::scaffold(&request)?;
    match &args.output {
        None => put(&text)?,
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| {
                    format!("{}: not written (it is never overwritten)", path.display())
                })?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The format of connector `id` of the deployment.
fn connector_format(config: &Path, id: &str) -> anyhow::Result<FormatSpec> {
    let HubFiles { connectors, .. } = load::load(config).map_err(|d| anyhow::anyhow!("{d}"))?;
    match connectors.into_iter().find(|c| c.id == id) {
        Some(spec) => spec.format.with_context(|| {
            format!("connector \"{id}\" reads rows from a database and has no [format]")
        }),
        None => bail!(
            "no connector \"{id}\" in the deployment of {}",
            config.display()
        ),
    }
}

fn inspect(
    config: &Path,
    file: &Path,
    args: &FormatArgs,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let format = sample_format(config, args)?;
    let format = omnibus::scaffold::with_placeholder_columns(file, &format)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let counts = omnibus::inspect::inspect(&format, file, DEFAULT_MAX_INFLATED, limit, &mut out)
        .with_context(|| format!("inspecting {}", file.display()))?;
    out.flush().context("writing records to stdout")?;
    eprintln!("{} record(s), {} error(s)", counts.records, counts.errors);
    Ok(if counts.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The format of a sample: its connector's, or the one the flags describe.
fn sample_format(config: &Path, args: &FormatArgs) -> anyhow::Result<FormatSpec> {
    match &args.connector {
        Some(id) => connector_format(config, id),
        None => flag_format(args),
    }
}

/// The format the flags describe: CSV with its flags, or a `[format]` table.
fn flag_format(args: &FormatArgs) -> anyhow::Result<FormatSpec> {
    if args.format != "csv" {
        let text = if args.format.contains('=') {
            args.format.clone()
        } else {
            format!("type = \"{}\"", args.format)
        };
        let src = Source {
            path: Path::new("--format"),
            text: &text,
        };
        return parse_format(&src).map_err(|d| anyhow::anyhow!("{d}"));
    }
    let delimiter = match args.delimiter.as_str() {
        "\\t" | "tab" => b'\t',
        d if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        d => bail!("delimiter \"{d}\": give one ASCII character, or \\t for a tab"),
    };
    Ok(csv_format(delimiter, &args.encoding, !args.no_header)?)
}

/// The schema of `event_type` in the deployment, if there is a deployment and it has one.
fn deployment_schema(config: &Path, event_type: &str) -> anyhow::Result<Option<Arc<Schema>>> {
    let Ok(hub) = load::load_hub(config) else {
        eprintln!(
            "note: no deployment at {}: fields are named without a schema",
            config.display()
        );
        return Ok(None);
    };
    let schemas = Schemas::load(&hub.paths.schemas).map_err(|p| anyhow::anyhow!(p.join("\n")))?;
    let schema = schemas.get(event_type).cloned();
    if schema.is_none() {
        eprintln!(
            "note: no schema for type \"{event_type}\" in {}: fields are named without one",
            hub.paths.schemas.display()
        );
    }
    Ok(schema)
}

fn demo(config: &Path, samples: &Path, plan: bool, wait: u64) -> anyhow::Result<ExitCode> {
    use omnibus::demo;
    let hub = load::load_hub(config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let (connectors, problems) = load::load_connectors(&hub.paths.connectors, &hub.paths.mappings);
    if !problems.is_empty() {
        eprintln!("warning: connectors left out of the demo:\n{problems}");
    }
    let manifest = demo::Manifest::load(samples)?;
    let (unknown, silent) = demo::gaps(&connectors, &manifest);
    for family in unknown {
        eprintln!(
            "warning: {}: no connector file {family}.toml",
            samples.display()
        );
    }
    if !silent.is_empty() {
        eprintln!("note: nothing to play into {}", silent.join(", "));
    }
    let parts = demo::plan(&connectors, &manifest);
    if plan {
        for part in &parts {
            put(&format!("{}\n", serde_json::to_string(part)?))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let wait = std::time::Duration::from_secs(wait);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let unread = runtime.block_on(async {
        let mut say = |line: String| println!("{line}");
        let playing = demo::play(&hub, &connectors, &parts, wait, &mut say).await?;
        anyhow::Ok(playing.finish(wait).await)
    })?;
    for address in &unread {
        eprintln!("warning: the hub did not read the stand-in API at {address} to its end");
    }
    println!("played {} connector(s)", parts.len());
    Ok(ExitCode::SUCCESS)
}

fn status(admin: AdminArgs) -> anyhow::Result<ExitCode> {
    use omnibus::ops::status;
    let base = admin_base(admin)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let connectors = runtime.block_on(status::fetch(&base))?;
    print!("{}", status::table(&connectors));
    Ok(ExitCode::SUCCESS)
}

fn connectors_command(command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    let (id, action, admin) = match command {
        ConnectorsCommand::Pause { id, admin } => (id, "pause", admin),
        ConnectorsCommand::Resume { id, admin } => (id, "resume", admin),
        ConnectorsCommand::PollNow { id, admin } => (id, "poll-now", admin),
    };
    let path = format!("/api/connectors/{id}/{action}");
    let answer = admin_post(admin, &path)?;
    println!("{id}: {}", answer["state"].as_str().unwrap_or("?"));
    Ok(ExitCode::SUCCESS)
}

fn reload(admin: AdminArgs) -> anyhow::Result<ExitCode> {
    let answer = admin_post(admin, "/api/reload")?;
    let ids = |key: &str| -> String {
        let ids: Vec<&str> = answer[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        if ids.is_empty() {
            "-".to_string()
        } else {
            ids.join(", ")
        }
    };
    println!("added: {}", ids("added"));
    println!("changed (restarted): {}", ids("changed"));
    println!("removed: {}", ids("removed"));
    println!("unchanged: {}", answer["unchanged"]);
    for warning in answer["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", warning.as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

/// POSTs to `path` of the running hub's admin API.
fn admin_post(admin: AdminArgs, path: &str) -> anyhow::Result<serde_json::Value> {
    let base = admin_base(admin)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    Ok(runtime.block_on(omnibus::ops::status::post(&base, path))?)
}

/// The running hub's admin API: --admin, or `[admin] listen` in the hub file.
fn admin_base(admin: AdminArgs) -> anyhow::Result<String> {
    Ok(match admin.admin {
        Some(url) => url,
        None => omnibus::ops::status::base_url(
            &omnibus::ops::hub_config(&admin.config.config)?.admin.listen,
        ),
    })
}

fn parse_stage(name: &str) -> Result<Stage, String> {
    Stage::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        format!("use one of {}", names.join(", "))
    })
}

/// Prints the tap's samples on stdout as they arrive (skipped counts on stderr).
fn tap(
    admin: AdminArgs,
    connector: Option<String>,
    stage: Stage,
    limit: u64,
) -> anyhow::Result<ExitCode> {
    use omnibus::ops::tap::{Line, TapRequest, follow};
    let base = admin_base(admin)?;
    let request = TapRequest {
        connector,
        stage,
        limit,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut stdout = std::io::stdout().lock();
    let mut written = Ok(());
    let samples = runtime.block_on(follow(&base, &request, |line| match line {
        Line::Started => eprintln!(
            "tapping {} at stage {} (at most {limit} sample(s))",
            request.connector.as_deref().unwrap_or("every connector"),
            stage.as_str()
        ),
        Line::Sample(text) => {
            if written.is_ok() {
                written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            }
        }
        Line::Skipped(n) => eprintln!("note: {n} sample(s) skipped: this reader fell behind"),
    }))?;
    written.context("writing to stdout")?;
    if samples < limit {
        bail!("the tap ended after {samples} of {limit} sample(s): the hub is stopping");
    }
    Ok(ExitCode::SUCCESS)
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
    let mut counts = omnibus::route::tail::Counts::default();
    let mut stdout = std::io::stdout().lock();
    let mut written = Ok(());
    let feed = omnibus::route::tail::tail(
        &opts,
        || eprintln!("tail: listening on {} for {}", opts.exchange, opts.pattern),
        |event| {
            counts.add(&event);
            if written.is_ok() {
                written = writeln!(stdout, "{}", event.line()).and_then(|()| stdout.flush());
            }
        },
    );
    // Ctrl-C or SIGTERM ends the feed like --limit and --idle do: the counts are printed.
    runtime
        .block_on(async {
            tokio::select! {
                seen = feed => seen.map(drop),
                () = signal() => Ok(()),
            }
        })
        .with_context(|| format!("consuming from {}", opts.exchange))?;
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing to stdout");
        }
        _ => {}
    }
    drop(stdout);
    put(&format!("\n{}", counts.render()))?;
    Ok(ExitCode::SUCCESS)
}

fn dlq_command(command: DlqCommand) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List {
            config,
            filter,
            status,
            json,
        } => {
            let letters = dlq::list(&config.config, &filter.with(status.status))?;
            put(&match json {
                true => format!("{}\n", dlq::render_json(&letters)),
                false => dlq::render_list(&letters),
            })?;
        }
        DlqCommand::Show { config, id } => {
            put(&dlq::render_letter(&dlq::show(&config.config, id)?))?;
        }
        DlqCommand::Replay {
            config,
            filter,
            dry_run,
            force,
        } => return replay(config.config, filter, dry_run, force),
        DlqCommand::Purge {
            config,
            filter,
            status,
            dry_run,
        } => {
            let n = dlq::purge(&config.config, &filter.with(status.status), dry_run)?;
            put(&match dry_run {
                true => format!("would purge {n} dead letter(s)\n"),
                false => format!("purged {n} dead letter(s)\n"),
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(
    config: PathBuf,
    filter: LetterFilter,
    dry_run: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let hub = load::load_hub(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
    let options = dlq::ReplayOptions {
        filter: filter.with(StatusFilter::Open),
        dry_run,
        force,
        max_attempts: hub.delivery.replay_max_attempts,
    };
    let summary = dlq::replay(&config, &options, &mut dlq::Progress::default())?;
    put(&format!("{summary}\n"))?;
    Ok(match summary.failing {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn offsets_command(command: OffsetsCommand) -> anyhow::Result<ExitCode> {
    match command {
        OffsetsCommand::Show {
            config,
            connector,
            json,
        } => {
            let shown = offsets::show(&config.config, connector.as_deref())?;
            put(&match json {
                true => format!("{}\n", serde_json::to_string_pretty(&shown)?),
                false => offsets::render(&shown),
            })?;
        }
        OffsetsCommand::Reset {
            config,
            connector,
            to,
            name,
        } => {
            let reset = match to {
                Some(value) => offsets::Reset::Set { name, value },
                None => offsets::Reset::Forget,
            };
            let done = offsets::reset(&config.config, &connector, reset)?;
            put(&format!("{}\n", offsets::render_reset(&connector, &done)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `text` on stdout; a reader that went away (`| head`) is not an error.
fn put(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
