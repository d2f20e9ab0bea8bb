//! `omnibus dlq`: list, show, purge and replay the dead letters of the local index.
//!
//! Replay rebuilds each open letter's record ([`crate::delivery::replay`]), maps it with its
//! connector's current mapping and publishes the event with publisher confirms; a letter is marked
//! `replayed` only once the broker confirmed its event. A record that fails again counts one more
//! attempt and keeps the new error; it is published nowhere. Letters that failed
//! `[delivery] replay_max_attempts` times are skipped unless forced. When the broker cannot be reached (or
//! confirms nothing for [`STALL`]), replay stops: unconfirmed letters stay as they were, and the
//! failure never counts as an attempt.
//!
//! The same replay runs inside a running hub ([`replay_with`], for the admin API), with the hub's
//! publisher and its connectors' running mappings.

use super::{OpsError, open_store, shorten, table, time};
use crate::canonical::schema::Schemas;
use crate::config::load::{self, HubFiles};
use crate::delivery::ack::{Batch, BatchOutcome};
use crate::delivery::replay::{Decoded, Failure, Replayer};
use crate::mapping::Mapping;
use crate::route::Publisher;
use crate::route::publisher::{BrokerState, PublisherSettings};
use crate::state::Store;
use crate::state::dead_letters::{self, Filter, Letter, StatusFilter};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::{self, Write};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Letters that failed this many times are skipped by replay unless `--force`.
pub const REPLAY_MAX_ATTEMPTS: u32 = 5;
/// How long replay waits without any confirm before it gives up on the broker.
pub const STALL: Duration = Duration::from_secs(30);
/// Letters read from the index at a time.
const PAGE: u64 = 256;
/// How often a waiting replay looks at the broker's state.
const TICK: Duration = Duration::from_millis(100);
/// A progress bar is shown for more letters than this.
const BAR_ABOVE: u64 = 100;
/// Characters of the error shown in a listing.
const ERROR_WIDTH: usize = 60;

/// Parses `--since`: an RFC 3339 time, or a duration (`2h`, `30min`) meaning that long ago.
pub fn parse_since(text: &str) -> Result<i64, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp());
    }
    let ago = humantime::parse_duration(text).map_err(|e| {
        format!("\"{text}\" is neither an RFC 3339 time nor a duration like 2h or 30min ({e})")
    })?;
    let ago = i64::try_from(ago.as_secs()).unwrap_or(i64::MAX);
    Ok(chrono::Utc::now().timestamp().saturating_sub(ago))
}

/// The letters `filter` selects, oldest first.
pub fn list(config: &Path, filter: &Filter) -> Result<Vec<Letter>, OpsError> {
    let store = open_store(config)?;
    Ok(store.read_blocking(|c| dead_letters::list(c, filter))?)
}

/// One letter, everything included.
pub fn show(config: &Path, id: i64) -> Result<Letter, OpsError> {
    let store = open_store(config)?;
    store
        .read_blocking(|c| dead_letters::get(c, id))?
        .ok_or(OpsError::NoLetter(id))
}

/// Deletes the letters `filter` selects (with `dry_run`, only counts them); returns how many.
pub fn purge(config: &Path, filter: &Filter, dry_run: bool) -> Result<u64, OpsError> {
    let store = open_store(config)?;
    if dry_run {
        return Ok(store.read_blocking(|c| dead_letters::count(c, filter))?);
    }
    let filter = filter.clone();
    let purged = store.write_blocking(move |c| dead_letters::purge(c, &filter))?;
    Ok(purged as u64)
}

/// The `dlq list` table.
pub fn render_list(letters: &[Letter]) -> String {
    if letters.is_empty() {
        return "no dead letters match\n".to_string();
    }
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.id.to_string(),
                time(l.last_at),
                l.connector.clone(),
                format!("{}:{}", l.file, l.line),
                l.stage.clone(),
                l.attempts.to_string(),
                shorten(&l.error, ERROR_WIDTH),
            ]
        })
        .collect();
    let headers = [
        "id",
        "time",
        "connector",
        "file:line",
        "stage",
        "attempts",
        "error",
    ];
    table(&headers, &rows)
}

/// Letters as a JSON array (without their raw bytes).
pub fn render_json(letters: &[Letter]) -> String {
    serde_json::to_string_pretty(letters).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Everything about one letter, for `dlq show`.
pub fn render_letter(l: &Letter) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{name:<16}{value}");
    };
    field("id", &l.id.to_string());
    field("message id", &l.message_id);
    field("status", l.status.as_str());
    field("connector", &l.connector);
    field(
        "origin",
        &format!("{}:{} (byte {})", l.file, l.line, l.offset),
    );
    if let Some(locator) = &l.locator {
        field("locator", locator);
    }
    field("stage", &l.stage);
    field("attempts", &l.attempts.to_string());
    field("first failed", &time(l.first_at));
    field("last failed", &time(l.last_at));
    field("mapping", l.mapping.as_deref().unwrap_or("-"));
    field(
        "mapping version",
        l.mapping_version.as_deref().unwrap_or("-"),
    );
    field("error", &l.error);
    let _ = write!(out, "\nraw ({} bytes):\n{}", l.raw.len(), raw_text(&l.raw));
    if let Some(decoded) = &l.decoded {
        let _ = write!(out, "\ndecoded:\n{}", decoded_text(decoded));
    }
    out
}

/// The stored decoded record, one `column = "value"` line each in stored order.
fn decoded_text(json: &str) -> String {
    match Decoded::parse(json) {
        Ok(Decoded::Record(fields)) => fields
            .iter()
            .map(|(column, value)| {
                format!("  {column} = {}\n", serde_json::Value::from(value.as_str()))
            })
            .collect(),
        Ok(Decoded::Header(names)) => {
            format!(
                "  (not decoded) the input's columns: {}\n",
                names.join(", ")
            )
        }
        Ok(Decoded::Tree(tree)) => format!(
            "  {}\n",
            serde_json::to_string_pretty(&tree).unwrap_or_else(|_| json.to_string())
        ),
        Err(_) => format!("  {json}\n"),
    }
}

/// Raw bytes as text when they are UTF-8, else as a hex dump.
fn raw_text(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(text) if text.ends_with('\n') => text.to_string(),
        Ok(text) => format!("{text}\n"),
        Err(_) => hex_dump(raw),
    }
}

/// `offset  hex bytes  |ascii|`, 16 bytes a line.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (n, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| match b {
                0x20..=0x7e => b as char,
                _ => '.',
            })
            .collect();
        let _ = writeln!(out, "{:08x}  {:<47}  |{ascii}|", n * 16, hex.join(" "));
    }
    out
}

/// What `dlq replay` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Which letters; only open ones are replayed, whatever its status says.
    pub filter: Filter,
    /// Map, but publish nothing and change nothing.
    pub dry_run: bool,
    /// Replay letters past the loop guard too.
    pub force: bool,
    /// The loop guard: letters with this many attempts are skipped.
    pub max_attempts: u32,
}

/// What replay did (or, dry, would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplaySummary {
    pub dry_run: bool,
    /// Published and confirmed: marked `replayed`.
    pub replayed: u64,
    /// Filtered out by the current mapping: nothing to publish, marked `replayed`.
    pub filtered: u64,
    /// Failed again: one more attempt each.
    pub failing: u64,
    /// Skipped by the loop guard.
    pub skipped: u64,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            f.write_str("dry run, nothing published or changed: ")?;
        }
        write!(
            f,
            "replayed {}, still failing {}, skipped {} (loop guard)",
            self.replayed, self.failing, self.skipped
        )?;
        if self.filtered > 0 {
            write!(f, ", filtered out by the mapping {}", self.filtered)?;
        }
        Ok(())
    }
}

/// One letter's fate, as replay goes.
#[derive(Debug)]
pub enum Outcome<'a> {
    Replayed,
    Filtered,
    Failing {
        letter: &'a Letter,
        failure: &'a Failure,
    },
    Skipped {
        letter: &'a Letter,
    },
}

/// Follows a replay: told the number of letters, then each letter's fate.
pub trait Observer {
    fn begin(&mut self, total: u64);
    fn outcome(&mut self, outcome: Outcome<'_>);
    fn end(&mut self);
}

/// Reports on stderr: each letter that still fails or is skipped, and a progress bar when stderr is
/// a terminal and there are many letters.
#[derive(Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Observer for Progress {
    fn begin(&mut self, total: u64) {
        if total > BAR_ABOVE && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} letters, {eta} left")
            {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
    }

    fn outcome(&mut self, outcome: Outcome<'_>) {
        match outcome {
            Outcome::Failing { letter, failure } => self.say(format!(
                "#{} {}:{}: still failing ({failure})",
                letter.id, letter.file, letter.line
            )),
            Outcome::Skipped { letter } => self.say(format!(
                "#{} {}:{}: skipped after {} attempts (--force replays it)",
                letter.id, letter.file, letter.line, letter.attempts
            )),
            Outcome::Replayed | Outcome::Filtered => {}
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Where replay gets each connector's [`Replayer`]: the configuration files (`omnibus dlq
/// replay`) or the running hub's connectors.
pub trait Replayers {
    fn replayer(&self, connector: &str) -> Result<Replayer, OpsError>;
}

impl Replayers for HubFiles {
    fn replayer(&self, connector: &str) -> Result<Replayer, OpsError> {
        replayer_for(self, connector)
    }
}

/// The publisher replay sends its events through.
pub enum Via {
    /// One of its own, started only when there is something to replay, without the outbox.
    Own(PublisherSettings),
    /// The running hub's.
    Hub {
        publisher: Publisher,
        exchange: String,
    },
}

/// Replays the open letters `options` select (see the module doc).
pub fn replay(
    config: &Path,
    options: &ReplayOptions,
    observer: &mut (dyn Observer + Send),
) -> Result<ReplaySummary, OpsError> {
    let files = load::load(config).map_err(|d| OpsError::Config(d.to_string()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(OpsError::Runtime)?;
    runtime.block_on(async {
        let store = Store::open(&files.hub.state.dir)?;
        let via = Via::Own(crate::hub::publisher_settings(&files.hub, None));
        replay_with(&store, &files, via, options, observer).await
    })
}

/// Replays the open letters `options` select from `store`, with the replayers of `replayers`,
/// through `via`.
pub async fn replay_with(
    store: &Store,
    replayers: &(dyn Replayers + Sync),
    via: Via,
    options: &ReplayOptions,
    observer: &mut (dyn Observer + Send),
) -> Result<ReplaySummary, OpsError> {
    let store = store.clone();
    let filter = Filter {
        status: StatusFilter::Open,
        after: None,
        ..options.filter.clone()
    };
    let mut prepared = prepare(replayers, &store, &filter).await?;
    let total = read(&store, &filter, dead_letters::count).await?;
    if total == 0 {
        return Ok(ReplaySummary {
            dry_run: options.dry_run,
            ..ReplaySummary::default()
        });
    }
    observer.begin(total);
    let mut run = Run {
        store,
        options,
        publishing: (!options.dry_run).then(|| Publishing::start(via)),
        summary: ReplaySummary {
            dry_run: options.dry_run,
            ..ReplaySummary::default()
        },
    };
    let result = run
        .all(replayers, &filter, total, &mut prepared, observer)
        .await;
    if let Some(publishing) = run.publishing.take() {
        publishing.stop().await;
    }
    observer.end();
    result.map(|()| run.summary)
}

/// A replayer for every connector the selected letters name, so a configuration problem stops
/// replay before anything is published.
async fn prepare(
    replayers: &(dyn Replayers + Sync),
    store: &Store,
    filter: &Filter,
) -> Result<HashMap<String, Replayer>, OpsError> {
    let mut prepared = HashMap::new();
    for connector in read(store, filter, dead_letters::connectors).await? {
        let replayer = replayers.replayer(&connector)?;
        prepared.insert(connector, replayer);
    }
    Ok(prepared)
}

fn replayer_for(files: &HubFiles, connector: &str) -> Result<Replayer, OpsError> {
    let problem = |reason: String| OpsError::Connector {
        connector: connector.to_string(),
        reason,
    };
    let spec = files
        .connectors
        .iter()
        .find(|c| c.id == connector)
        .ok_or_else(|| {
            let dir = files.hub.paths.connectors.display();
            problem(format!("no such connector in {dir}"))
        })?;
    let paths = &files.hub.paths;
    let schemas = Schemas::load(&paths.schemas).map_err(|p| problem(p.join("\n")))?;
    let (mapping, schema) =
        Mapping::load_checked(&paths.mappings, &spec.mapping, &schemas).map_err(problem)?;
    Replayer::new(spec, Arc::new(mapping), Some(schema)).map_err(|e| problem(e.to_string()))
}

/// Runs a read of the index on a blocking thread.
async fn read<T: Send + 'static>(
    store: &Store,
    filter: &Filter,
    query: fn(&rusqlite::Connection, &Filter) -> rusqlite::Result<T>,
) -> Result<T, OpsError> {
    let filter = filter.clone();
    Ok(store.read(move |c| query(c, &filter)).await?)
}

/// One replay in progress.
struct Run<'o> {
    store: Store,
    options: &'o ReplayOptions,
    /// `None` on a dry run.
    publishing: Option<Publishing>,
    summary: ReplaySummary,
}

impl Run<'_> {
    /// Replays the first `total` letters `filter` selects (those there when replay started).
    async fn all(
        &mut self,
        replayers: &(dyn Replayers + Sync),
        filter: &Filter,
        total: u64,
        prepared: &mut HashMap<String, Replayer>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        let mut after = None;
        let mut remaining = total;
        while remaining > 0 {
            let page = Filter {
                after,
                limit: Some(remaining.min(PAGE)),
                ..filter.clone()
            };
            let letters = read(&self.store, &page, dead_letters::list).await?;
            let Some(last) = letters.last() else { break };
            after = Some(last.id);
            remaining = remaining.saturating_sub(letters.len() as u64);
            for letter in &letters {
                let replayer = match prepared.entry(letter.connector.clone()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(replayers.replayer(&letter.connector)?),
                };
                self.letter(letter, replayer, observer).await?;
            }
        }
        self.drain(observer).await
    }

    async fn letter(
        &mut self,
        letter: &Letter,
        replayer: &Replayer,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        if letter.attempts >= self.options.max_attempts && !self.options.force {
            self.summary.skipped += 1;
            observer.outcome(Outcome::Skipped { letter });
            return Ok(());
        }
        let events = match replayer.events(letter) {
            Ok(events) if events.is_empty() => return self.filtered(letter.id, observer).await,
            Ok(events) => events,
            Err(failure) => {
                return self
                    .failing(letter, &failure, replayer.mapping(), observer)
                    .await;
            }
        };
        let batch = Batch::new();
        let msgs: Result<Vec<_>, _> = events
            .into_iter()
            .map(|event| replayer.outgoing(event, batch.token()))
            .collect();
        match msgs {
            Ok(msgs) => self.publish(letter.id, msgs, batch, observer).await,
            Err(failure) => {
                self.failing(letter, &failure, replayer.mapping(), observer)
                    .await
            }
        }
    }

    async fn publish(
        &mut self,
        id: i64,
        msgs: Vec<crate::route::Outgoing>,
        batch: Batch,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        let Some(publishing) = self.publishing.as_mut() else {
            self.summary.replayed += 1;
            observer.outcome(Outcome::Replayed);
            return Ok(());
        };
        let settled = match publishing.send(id, msgs, batch).await {
            Ok(settled) => settled,
            Err(reason) => return Err(self.abort(reason)),
        };
        for (id, outcome) in settled {
            self.settled(id, outcome, observer).await?;
        }
        Ok(())
    }

    /// Waits for every published letter's confirm.
    async fn drain(&mut self, observer: &mut (dyn Observer + Send)) -> Result<(), OpsError> {
        loop {
            let Some(publishing) = self.publishing.as_mut() else {
                return Ok(());
            };
            match publishing.next().await {
                Ok(Some((id, outcome))) => self.settled(id, outcome, observer).await?,
                Ok(None) => return Ok(()),
                Err(reason) => return Err(self.abort(reason)),
            }
        }
    }

    async fn settled(
        &mut self,
        id: i64,
        outcome: BatchOutcome,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        if let BatchOutcome::Abandoned { .. } = outcome {
            return Err(self.abort("the publisher dropped a message unconfirmed".into()));
        }
        self.store
            .write(move |c| dead_letters::mark_replayed(c, id))
            .await?;
        self.summary.replayed += 1;
        observer.outcome(Outcome::Replayed);
        Ok(())
    }

    async fn filtered(
        &mut self,
        id: i64,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        if !self.options.dry_run {
            self.store
                .write(move |c| dead_letters::mark_replayed(c, id))
                .await?;
        }
        self.summary.filtered += 1;
        observer.outcome(Outcome::Filtered);
        Ok(())
    }

    async fn failing(
        &mut self,
        letter: &Letter,
        failure: &Failure,
        mapping: &Mapping,
        observer: &mut (dyn Observer + Send),
    ) -> Result<(), OpsError> {
        if !self.options.dry_run {
            let (id, stage, reason) =
                (letter.id, failure.stage.to_string(), failure.reason.clone());
            let (name, version) = (mapping.name().to_string(), mapping.version().to_string());
            self.store
                .write(move |c| {
                    dead_letters::failed_again(c, id, &stage, &reason, (&name, &version))
                })
                .await?;
        }
        self.summary.failing += 1;
        observer.outcome(Outcome::Failing { letter, failure });
        Ok(())
    }

    fn abort(&self, reason: String) -> OpsError {
        OpsError::Aborted {
            reason,
            replayed: self.summary.replayed,
        }
    }
}

/// The publisher of a replay and the letters whose events await their confirm.
struct Publishing {
    publisher: Publisher,
    /// A publisher of replay's own: its task and what stops it.
    own: Option<(JoinHandle<()>, CancellationToken)>,
    pending: FuturesUnordered<BoxFuture<'static, (i64, BatchOutcome)>>,
    last_progress: Instant,
    exchange: String,
}

impl Publishing {
    fn start(via: Via) -> Self {
        let (publisher, own, exchange) = match via {
            Via::Own(settings) => {
                let cancel = CancellationToken::new();
                let exchange = settings.topology.exchange.clone();
                let (publisher, task) = Publisher::spawn(settings, cancel.clone());
                (publisher, Some((task, cancel)), exchange)
            }
            Via::Hub {
                publisher,
                exchange,
            } => (publisher, None, exchange),
        };
        Self {
            publisher,
            own,
            pending: FuturesUnordered::new(),
            last_progress: Instant::now(),
            exchange,
        }
    }

    /// Hands letter `id`'s messages to the publisher; returns the letters settled meanwhile.
    async fn send(
        &mut self,
        id: i64,
        msgs: Vec<crate::route::Outgoing>,
        batch: Batch,
    ) -> Result<Vec<(i64, BatchOutcome)>, String> {
        let mut settled = Vec::new();
        for msg in msgs {
            self.hand_over(msg, &mut settled).await?;
        }
        self.last_progress = Instant::now();
        self.pending
            .push(async move { (id, batch.seal().await) }.boxed());
        Ok(settled)
    }

    /// Hands one message to the publisher, collecting the letters settled meanwhile.
    async fn hand_over(
        &mut self,
        msg: crate::route::Outgoing,
        settled: &mut Vec<(i64, BatchOutcome)>,
    ) -> Result<(), String> {
        let publisher = self.publisher.clone();
        let send = publisher.publish(msg);
        tokio::pin!(send);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                sent = &mut send => {
                    return sent.map_err(|_| "the publisher stopped".to_string());
                }
                Some(done) = self.pending.next(), if !self.pending.is_empty() => {
                    self.last_progress = Instant::now();
                    settled.push(done);
                }
                _ = tick.tick() => self.check()?,
            }
        }
    }

    /// The next letter whose event is settled; `None` when none awaits its confirm.
    async fn next(&mut self) -> Result<Option<(i64, BatchOutcome)>, String> {
        let mut tick = tokio::time::interval(TICK);
        while !self.pending.is_empty() {
            tokio::select! {
                Some(done) = self.pending.next() => {
                    self.last_progress = Instant::now();
                    return Ok(Some(done));
                }
                _ = tick.tick() => self.check()?,
            }
        }
        Ok(None)
    }

    /// Fails when the broker is unreachable or has confirmed nothing for too long.
    fn check(&self) -> Result<(), String> {
        if let BrokerState::Unreachable(reason) = self.publisher.state() {
            return Err(format!("the broker is unreachable ({reason})"));
        }
        if self.last_progress.elapsed() >= STALL {
            return Err(format!(
                "the broker confirmed nothing for {} s (is a queue bound to exchange \"{}\" for \
                 these events?)",
                STALL.as_secs(),
                self.exchange
            ));
        }
        Ok(())
    }

    /// Stops replay's own publisher (the hub's keeps running); letters still awaiting their
    /// confirm stay as they are. A publisher ends once cancelled and its last handle is gone.
    async fn stop(self) {
        drop(self.publisher);
        drop(self.pending);
        if let Some((task, cancel)) = self.own {
            cancel.cancel();
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        assert_eq!(parse_since("2024-03-01T00:00:00+08:00"), Ok(1_709_222_400));
        let now = chrono::Utc::now().timestamp();
        let two_hours_ago = parse_since("2h").unwrap();
        assert!((now - 7200 - 2..=now - 7200 + 2).contains(&two_hours_ago));
        assert!(parse_since("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn raw_bytes_show_as_text_or_as_a_hex_dump() {
        assert_eq!(raw_text(b"a,b\n"), "a,b\n");
        assert_eq!(
            raw_text(b"\xff\xfeA"),
            format!("00000000  ff fe 41{}  |..A|\n", " ".repeat(39))
        );
        let full = hex_dump(&[b'a'; 17]);
        assert_eq!(full.lines().count(), 2);
        assert!(full.starts_with(&format!(
            "00000000  {}  |{}|",
            ["61"; 16].join(" "),
            "a".repeat(16)
        )));
        assert!(
            full.ends_with(&format!("00000010  61{}  |a|\n", " ".repeat(45))),
            "{full}"
        );
    }

    #[test]
    fn the_summary_names_every_count() {
        let summary = ReplaySummary {
            dry_run: false,
            replayed: 3,
            filtered: 0,
            failing: 1,
            skipped: 2,
        };
        assert_eq!(
            summary.to_string(),
            "replayed 3, still failing 1, skipped 2 (loop guard)"
        );
    }
}
